"""How much of one pull request the App reads (TWELVE_REVIEW_MAX_FILES, _MAX_LINES):
files past a limit are named in the summary, never silently dropped, and a run that
left files unread claims nothing it could not check was resolved."""

from __future__ import annotations

from bot.app.settings import AppSettings
from bot.publish.markers import summary_state_in
from tests.app_helpers import app_settings, pull_request_job, review_runner
from tests.fake_github import FakeGitHub, FakePull

REPO = "acme/limits"
BASE = {"README.md": "limits\n"}
# Each file adds one line the rules flag (a hard-coded credential, factor III).
HEAD = {
    f"app/service_{n}.py": f"DATABASE_URL = 'postgres://admin:hunter{n}@db.internal/prod'\n"
    for n in range(3)
}


def run(fake: FakeGitHub, pull: FakePull, settings: AppSettings, delivery: str) -> str:
    return str(review_runner(settings)(pull_request_job(fake, pull, delivery)))


def summary_of(fake: FakeGitHub, pull: FakePull) -> str:
    (summary,) = fake.issue_comments(pull)
    return str(summary["body"])


def test_files_past_the_file_limit_are_named_not_reviewed(fake_github: FakeGitHub) -> None:
    fake_github.add_repo(REPO, BASE)
    pull = fake_github.add_pull(REPO, BASE, HEAD)
    settings = app_settings(fake_github, "s").model_copy(update={"max_files": 2})
    assert run(fake_github, pull, settings, "d1") == "published"
    assert {c["path"] for c in fake_github.review_comments(pull)} == {
        "app/service_0.py",
        "app/service_1.py",
    }
    body = summary_of(fake_github, pull)
    assert "`app/service_2.py`: past the size limit of one review" in body
    assert fake_github.violations == []


def test_the_line_limit_counts_added_lines_over_the_files(fake_github: FakeGitHub) -> None:
    fake_github.add_repo(REPO, BASE)
    head = {**HEAD, "app/big.py": "".join(f"X_{n} = {n}\n" for n in range(40))}
    pull = fake_github.add_pull(REPO, BASE, head)
    settings = app_settings(fake_github, "s").model_copy(update={"max_lines": 41})
    assert run(fake_github, pull, settings, "d1") == "published"
    body = summary_of(fake_github, pull)
    # GitHub lists files by path: app/big.py (40 lines) fits, then one more line fits
    assert "`app/big.py`" not in body
    assert {c["path"] for c in fake_github.review_comments(pull)} == {"app/service_0.py"}
    for n in (1, 2):
        assert f"`app/service_{n}.py`: past the size limit" in body


def test_a_run_past_a_limit_claims_nothing_resolved(fake_github: FakeGitHub) -> None:
    fake_github.add_repo(REPO, BASE)
    pull = fake_github.add_pull(REPO, BASE, HEAD)
    settings = app_settings(fake_github, "s")
    assert run(fake_github, pull, settings, "d1") == "published"
    first = summary_state_in(summary_of(fake_github, pull))
    assert first is not None and len(first.open_fingerprints) == 3

    fake_github.push(pull, {**HEAD, "README.md": "limits, again\n"})
    narrow = settings.model_copy(update={"max_files": 1})
    assert run(fake_github, pull, narrow, "d2") == "published"
    body = summary_of(fake_github, pull)
    state = summary_state_in(body)
    assert state is not None
    assert state.open_fingerprints == first.open_fingerprints  # unread files' findings stay open
    assert state.resolved == 0 and "resolved" not in body.lower().split("<!--")[0]
    replies = [c for c in fake_github.review_comments(pull) if c.get("in_reply_to_id")]
    assert replies == []  # no thread told its finding was fixed

    fake_github.push(pull, {**HEAD, "app/service_2.py": "import os\n"})  # really fixed now
    assert run(fake_github, pull, settings, "d3") == "published"
    state = summary_state_in(summary_of(fake_github, pull))
    assert state is not None and state.resolved == 1 and len(state.open_fingerprints) == 2
