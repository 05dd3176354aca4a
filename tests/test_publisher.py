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
    # The fixed finding's thread is answered once; the open one's is not touched.
    (reply,) = [c for c in fake_github.review_comments(pull) if c.get("in_reply_to_id")]
    assert reply["path"] == "app/settings.py" and reply["user"]["login"] == BOT_LOGIN
    assert reply["body"].startswith(
        f"Resolved: this finding no longer appears at `{pull.head_sha[:12]}`"
    )
    assert (outcome.resolved, outcome.replied) == (1, 1)
    edits = len(fake_github.calls("issues/update-comment"))
    again, _ = _run(fake_github, pull.number)
    assert (again.resolved, again.replied) == (0, 0)
    assert len(fake_github.calls("pulls/create-reply-for-review-comment")) == 1
    # The count is kept over the PR's life: a re-run changes nothing, so edits nothing.
    assert len(fake_github.calls("issues/update-comment")) == edits
    (summary,) = fake_github.issue_comments(pull)
    assert "1 earlier finding was resolved by later commits." in summary["body"]
    _clean(fake_github)


def test_a_thread_a_human_answered_is_left_alone(fake_github: FakeGitHub) -> None:
    fake_github.add_repo(REPO, BASE)
    pull = fake_github.add_pull(REPO, BASE, HEAD)
    _run(fake_github, pull.number)
    (thread,) = [c for c in fake_github.review_comments(pull) if c["path"] == "app/settings.py"]
    fake_github.reply_to_review_comment(pull, thread["id"], "Rotating this key now, thanks.")
    fake_github.push(pull, HEAD | {"app/settings.py": BASE["app/settings.py"]})
    outcome, _ = _run(fake_github, pull.number)
    assert (outcome.resolved, outcome.replied) == (1, 0)
    assert fake_github.calls("pulls/create-reply-for-review-comment") == []
    (summary,) = fake_github.issue_comments(pull)
    assert "1 earlier finding was resolved by later commits." in summary["body"]
    _clean(fake_github)


def test_changed_since_review_follows_history(fake_github: FakeGitHub) -> None:
    fake_github.add_repo(REPO, BASE)
    pull = fake_github.add_pull(REPO, BASE, HEAD)
    publisher = _publisher(fake_github)
    first = publisher.load(REPO, pull.number)
    assert first.state is None and publisher.changed_since_review(first) is None  # never reviewed
    publisher.publish(first, review(first.files, first.config))
    same = publisher.load(REPO, pull.number)
    assert publisher.changed_since_review(same) == frozenset()  # nothing new since
    fake_github.push(pull, HEAD | {"app/log.py": HEAD["app/log.py"] + "x = 1\n"})
    pushed = publisher.load(REPO, pull.number)
    assert publisher.changed_since_review(pushed) == {"app/log.py"}
    fake_github.force_push(pull, HEAD | {"app/new.py": "y = 2\n"})
    rewritten = publisher.load(REPO, pull.number)
    assert rewritten.state is not None and rewritten.state.head_sha == first.head_sha
    assert publisher.changed_since_review(rewritten) is None  # old head not an ancestor: all
    fake_github.fail_next("GET", r"/compare/", 404)  # the old head was garbage-collected
    assert publisher.changed_since_review(rewritten) is None
    compares = fake_github.calls("repos/compare-commits")
    assert [r.path.split("/compare/")[1].split("?")[0] for r in compares] == [
        f"{first.head_sha}...{pushed.head_sha}",
        f"{first.head_sha}...{rewritten.head_sha}",
        f"{first.head_sha}...{rewritten.head_sha}",
    ]
    _clean(fake_github)


def test_request_changes_only_when_asked_and_dismissed_once_fixed(
    fake_github: FakeGitHub,
) -> None:
    config = {".github/twelve-review.yml": "request-changes: true\n"}
    fake_github.add_repo(REPO, BASE | config)
    pull = fake_github.add_pull(REPO, BASE | config, HEAD | config)
    outcome, result = _run(fake_github, pull.number)
    assert any(f.severity.value == "error" for f in result.findings)
    (blocking,) = fake_github.reviews(pull)
    assert (outcome.event, blocking["state"]) == ("REQUEST_CHANGES", "CHANGES_REQUESTED")
    # A later push adds a warning but keeps the error: no second blocking review.
    more = HEAD | config | {"app/run.py": "app.run(port=5000)\n"}
    fake_github.push(pull, more)
    outcome, _ = _run(fake_github, pull.number)
    assert outcome.event == "COMMENT"
    assert [r["state"] for r in fake_github.reviews(pull)] == ["CHANGES_REQUESTED", "COMMENTED"]
    # The error is fixed: the bot withdraws its own request, once.
    fake_github.push(pull, more | {"app/settings.py": BASE["app/settings.py"]})
    outcome, _ = _run(fake_github, pull.number)
    assert outcome.dismissed == 1
    assert [r["state"] for r in fake_github.reviews(pull)][:2] == ["DISMISSED", "COMMENTED"]
    (dismissal,) = fake_github.calls("pulls/dismiss-review")
    assert "no error finding is open" in dismissal.body["message"]
    _run(fake_github, pull.number)
    assert len(fake_github.calls("pulls/dismiss-review")) == 1
    _clean(fake_github)


def test_without_the_setting_an_error_only_comments(fake_github: FakeGitHub) -> None:
    fake_github.add_repo(REPO, BASE)
    pull = fake_github.add_pull(REPO, BASE, HEAD)
    outcome, _ = _run(fake_github, pull.number)
    assert outcome.event == "COMMENT"
    assert [r["state"] for r in fake_github.reviews(pull)] == ["COMMENTED"]
    assert fake_github.calls("pulls/list-reviews") == []  # not even read
    _clean(fake_github)


def test_a_file_whose_diff_cannot_be_parsed_is_listed_and_the_rest_reviewed(
    fake_github: FakeGitHub,
) -> None:
    """A line break in a file name (git allows it) breaks the diff's header: that one
    file is named as not reviewed, and the key leaked beside it is still reported."""
    fake_github.add_repo(REPO, BASE)
    odd = "app/odd\nname.py"
    pull = fake_github.add_pull(REPO, BASE, {**HEAD, odd: "print('hi')\n"})
    outcome, _ = _run(fake_github, pull.number)
    assert outcome.review_posted
    assert {c["path"] for c in fake_github.review_comments(pull)} == {
        "app/log.py",
        "app/settings.py",
    }
    (summary,) = fake_github.issue_comments(pull)
    assert "its diff could not be read" in summary["body"]
    assert "app/odd\nname.py" not in summary["body"]  # kept on one line, in one code span
    _clean(fake_github)
