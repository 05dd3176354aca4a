"""Publishing over real HTTP: PyGithub against the fake GitHub (tests/fake_github.py),
which checks every request against GitHub's OpenAPI description."""

from __future__ import annotations

from github import Auth, Github

from bot.engine import review
from bot.github.publisher import Publisher
from bot.publish.markers import finding_markers_in, summary_state_in
from tests.fake_github import BOT_LOGIN, FakeGitHub

REPO = "acme/shop"
BASE = {
    "app/log.py": "import logging\n\nlogger = logging.getLogger(__name__)\n",
    "app/settings.py": "import os\n\nDEBUG = False\n",
}
HEAD = {
    "app/log.py": (
        "import logging\n\nlogger = logging.getLogger(__name__)\n"
        'handler = logging.FileHandler("/var/log/shop.log")\n'
    ),
    "app/settings.py": (
        "import os\n\nDEBUG = False\nSTRIPE_KEY = 'sk_live_51HxQvR2eZvKYlo2C8Nf3pLmQrStUvWx'\n"
    ),
}


def _publisher(fake: FakeGitHub, max_comments: int = 25) -> Publisher:
    github = Github(base_url=fake.base_url, auth=Auth.Token(fake.token))
    return Publisher(github, BOT_LOGIN, max_comments=max_comments)


def _run(fake: FakeGitHub, number: int, max_comments: int = 25):  # type: ignore[no-untyped-def]
    publisher = _publisher(fake, max_comments)
    loaded = publisher.load(REPO, number)
    result = review(loaded.files, loaded.config)
    return publisher.publish(loaded, result), result


def _clean(fake: FakeGitHub) -> None:
    assert fake.violations == []
    assert fake.crashes == []


def test_first_review_posts_inline_comments_and_a_summary(fake_github: FakeGitHub) -> None:
    fake_github.add_repo(REPO, BASE)
    pull = fake_github.add_pull(REPO, BASE, HEAD)
    outcome, result = _run(fake_github, pull.number)
    assert outcome.review_posted and outcome.summary_created
    (posted_review,) = fake_github.reviews(pull)
    assert posted_review["commit_id"] == pull.head_sha
    comments = fake_github.review_comments(pull)
    assert sorted((c["path"], c["line"]) for c in comments) == [
        ("app/log.py", 4),
        ("app/settings.py", 4),
    ]
    assert {fp for c in comments for fp in finding_markers_in(c["body"])} == {
        f.fingerprint for f in result.findings
    }
    (summary,) = fake_github.issue_comments(pull)
    state = summary_state_in(summary["body"])
    assert state is not None and state.head_sha == pull.head_sha
    _clean(fake_github)


def test_rerun_on_the_same_head_posts_nothing_new(fake_github: FakeGitHub) -> None:
    fake_github.add_repo(REPO, BASE)
    pull = fake_github.add_pull(REPO, BASE, HEAD)
    _run(fake_github, pull.number)
    requests_before = len(fake_github.requests)
    outcome, _ = _run(fake_github, pull.number)
    assert not outcome.review_posted and not outcome.summary_created
    assert outcome.already_posted == 2
    assert len(fake_github.reviews(pull)) == 1
    assert len(fake_github.issue_comments(pull)) == 1
    new_calls = fake_github.requests[requests_before:]
    assert all(r.method == "GET" for r in new_calls)  # not even an edit of the summary
    _clean(fake_github)


def test_config_is_read_from_the_base_branch_only(fake_github: FakeGitHub) -> None:
    base = BASE | {".github/twelve-review.yml": "factors:\n  disable: [3]\n"}
    sneaky = HEAD | {".github/twelve-review.yml": "factors:\n  disable: [3, 11]\n"}
    fake_github.add_repo(REPO, base)
    pull = fake_github.add_pull(REPO, base, sneaky)
    _, result = _run(fake_github, pull.number)
    assert [f.rule for f in result.findings] == ["TF1101"]  # 3 off by the base, 11 still on
    _clean(fake_github)


def test_refused_anchor_is_retried_and_moved_not_lost(fake_github: FakeGitHub) -> None:
    fake_github.add_repo(REPO, BASE)
    pull = fake_github.add_pull(REPO, BASE, HEAD)
    fake_github.fail_next("POST", r"/pulls/\d+/reviews", 422, times=2)
    outcome, _ = _run(fake_github, pull.number)
    assert outcome.attempts == 2
    assert not outcome.review_posted
    assert outcome.moved_to_summary == 2
    (summary,) = fake_github.issue_comments(pull)
    assert summary["body"].count("_(not on a line of the diff)_") == 2
    _clean(fake_github)


def test_one_refusal_then_success(fake_github: FakeGitHub) -> None:
    fake_github.add_repo(REPO, BASE)
    pull = fake_github.add_pull(REPO, BASE, HEAD)
    fake_github.fail_next("POST", r"/pulls/\d+/reviews", 422, times=1)
    outcome, _ = _run(fake_github, pull.number)
    assert (outcome.attempts, outcome.review_posted, outcome.moved_to_summary) == (2, True, 0)
    assert len(fake_github.review_comments(pull)) == 2
    _clean(fake_github)


def test_inline_cap_sends_the_rest_to_the_summary(fake_github: FakeGitHub) -> None:
    fake_github.add_repo(REPO, BASE)
    pull = fake_github.add_pull(REPO, BASE, HEAD)
    _run(fake_github, pull.number, max_comments=1)
    (comment,) = fake_github.review_comments(pull)
    assert comment["path"] == "app/settings.py"  # the error goes inline first
    (summary,) = fake_github.issue_comments(pull)
    assert "_(over the inline comment limit)_" in summary["body"]
    _clean(fake_github)


def test_a_fix_pushed_later_is_counted_as_resolved(fake_github: FakeGitHub) -> None:
    fake_github.add_repo(REPO, BASE)
    pull = fake_github.add_pull(REPO, BASE, HEAD)
    _run(fake_github, pull.number)
    fixed = HEAD | {"app/settings.py": BASE["app/settings.py"]}
    fake_github.push(pull, fixed, message="read the key from the environment")
    outcome, result = _run(fake_github, pull.number)
    assert [f.rule for f in result.findings] == ["TF1101"]
    assert not outcome.review_posted  # the remaining finding was already posted
    (summary,) = fake_github.issue_comments(pull)
    assert "1 earlier finding was resolved by later commits." in summary["body"]
    state = summary_state_in(summary["body"])
    assert state is not None and state.head_sha == pull.head_sha
    _clean(fake_github)
