"""GitHub failing in every way the bot must survive, over real HTTP to the fake GitHub,
with the runner's real retries on (a `GitHubRetry` whose sleeps are recorded, not slept).

Each fault ends in one of two ways: the review is posted exactly once (one review,
its inline comments once each, one summary comment), or the job says
"rate-limited" with the time to run again and has posted nothing twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from bot.app.jobs import ReviewRunner
from bot.app.queue import Job
from bot.github.commands import parse_command
from bot.github.ratelimit import GitHubRetry
from bot.github.replies import FAILED, RATE_LIMITED
from tests.app_helpers import app_settings, pull_request_job
from tests.fake_github import FakeGitHub, FakePull

REPO = "acme/shop"
BASE = {"app/log.py": "import logging\n"}
HEAD = {
    "app/log.py": 'import logging\nhandler = logging.FileHandler("a.log")\n',
    "app/run.py": "app.run(port=5000)\n",
}
PULL = r"/pulls/\d+$"
FILES = r"/pulls/\d+/files"
REVIEWS = r"/pulls/\d+/reviews$"
SUMMARY = r"/issues/\d+/comments$"
TOKENS = r"/app/installations/\d+/access_tokens$"


def _runner(fake: FakeGitHub, sleeps: list[float], **options: Any) -> ReviewRunner:
    retry = GitHubRetry(
        total=5,
        backoff_factor=0.5,
        max_wait=60.0,
        secondary_rate_wait=3.0,
        sleep=sleeps.append,
    )
    client_options = {
        "retry": retry,
        "seconds_between_requests": None,
        "seconds_between_writes": None,
    }
    return ReviewRunner(app_settings(fake, "s"), client_options=client_options | options)


def _setup(fake: FakeGitHub) -> FakePull:
    repo = fake.add_repo(REPO, BASE, permissions={"maintainer": "write"})
    return fake.add_pull(repo, BASE, HEAD)


def _job(fake: FakeGitHub, pull: FakePull, delivery: str = "d-1") -> Job:
    return pull_request_job(fake, pull, delivery)


def _statuses(fake: FakeGitHub, operation: str) -> list[int]:
    return [r.status for r in fake.calls(operation)]


def _assert_posted_once(fake: FakeGitHub, pull: FakePull) -> None:
    assert len(fake.reviews(pull)) == 1
    inline = [(c["path"], c["line"]) for c in fake.review_comments(pull)]
    assert sorted(inline) == [("app/log.py", 2), ("app/run.py", 1)]
    assert len(fake.issue_comments(pull)) == 1
    assert fake.faults_left() == 0  # and the fault did strike
    _assert_clean(fake)


def _assert_clean(fake: FakeGitHub) -> None:
    assert fake.violations == [] and fake.response_violations == []
    assert fake.crashes == [] and fake.unimplemented == []


def test_without_faults_the_review_is_posted_once_and_nothing_waits(
    fake_github: FakeGitHub,
) -> None:
    pull = _setup(fake_github)
    sleeps: list[float] = []
    outcome = _runner(fake_github, sleeps)(_job(fake_github, pull))
    assert outcome == "published" and outcome.retry_in is None
    _assert_posted_once(fake_github, pull)
    assert sleeps == []


def test_reviews_starting_together_share_one_installation_token(
    fake_github: FakeGitHub,
) -> None:
    """Eight reviews at once on a fresh runner (a restart, a burst): one token request,
    not eight (each would sign a JWT, ~40 ms of CPU, and ask GitHub)."""
    repo = fake_github.add_repo(REPO, BASE, permissions={"maintainer": "write"})
    pulls = [fake_github.add_pull(repo, BASE, HEAD) for _ in range(8)]
    runner = _runner(fake_github, [])
    start = threading.Barrier(len(pulls))
    outcomes: list[object] = []

    def review(pull: FakePull) -> None:
        start.wait(5)
        outcomes.append(runner(_job(fake_github, pull, f"d-{pull.number}")))

    threads = [threading.Thread(target=review, args=(pull,)) for pull in pulls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert outcomes == ["published"] * len(pulls)
    assert len(fake_github.calls("apps/create-installation-access-token")) == 1
    _assert_clean(fake_github)


# -- 5xx and lost connections on reads: the transport retries them ------------------------


def test_5xx_on_reads_are_retried_with_backoff(fake_github: FakeGitHub) -> None:
    pull = _setup(fake_github)
    fake_github.fail_next("GET", PULL, 502, times=2).fail_next("GET", FILES, 503)
    sleeps: list[float] = []
    assert _runner(fake_github, sleeps)(_job(fake_github, pull)) == "published"
    _assert_posted_once(fake_github, pull)
    assert _statuses(fake_github, "pulls/get")[:3] == [502, 502, 200]
    assert _statuses(fake_github, "pulls/list-files")[:2] == [503, 200]
    # urllib3: the first retry at once, then backoff_factor x 2^(n-1) for the n-th failure in a row.
    assert sleeps == [1.0]


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(lambda f: f.drop_next("GET", FILES, times=2), id="reset"),
        pytest.param(lambda f: f.drop_next("GET", FILES, after=True), id="reset-after-answering"),
        pytest.param(lambda f: f.slow_next("GET", FILES, seconds=0.3), id="slow"),
        pytest.param(lambda f: f.fail_next("POST", TOKENS, 502), id="token-502"),
        pytest.param(lambda f: f.drop_next("POST", TOKENS), id="token-reset"),
    ],
)
def test_lost_connections_and_slow_answers_on_reads_cost_nothing_twice(
    fake_github: FakeGitHub, fault: Callable[[FakeGitHub], object]
) -> None:
    pull = _setup(fake_github)
    fault(fake_github)
    assert _runner(fake_github, [])(_job(fake_github, pull)) == "published"
    _assert_posted_once(fake_github, pull)
    assert len(fake_github.calls("pulls/create-review")) == 1


def test_a_5xx_outlasting_the_retries_runs_the_review_once_more(
    fake_github: FakeGitHub, caplog: pytest.LogCaptureFixture
) -> None:
    pull = _setup(fake_github)
    fake_github.fail_next("GET", PULL, 502, times=6)  # the first try and its 5 retries
    with caplog.at_level(logging.WARNING, logger="twelve_review.jobs"):
        outcome = _runner(fake_github, [])(_job(fake_github, pull))
    assert outcome == "published"
    _assert_posted_once(fake_github, pull)
    assert _statuses(fake_github, "pulls/get")[:7] == [502] * 6 + [200]
    assert any("reviewing once more" in r.getMessage() for r in caplog.records)


def test_github_down_for_longer_is_unavailable_and_posts_nothing(
    fake_github: FakeGitHub,
) -> None:
    pull = _setup(fake_github)
    fake_github.fail_next("GET", PULL, 503, times=100)
    outcome = _runner(fake_github, [])(_job(fake_github, pull))
    assert outcome == "unavailable" and outcome.retry_in == 60  # the queue runs it later
    assert len(fake_github.calls("pulls/get")) == 12  # 6 tries, twice
    assert fake_github.reviews(pull) == [] and fake_github.issue_comments(pull) == []
    _assert_clean(fake_github)


# -- writes that may or may not have been carried out: never resent blindly ---------------


def _review_fails(f: FakeGitHub) -> object:
    return f.fail_next("POST", REVIEWS, 502)


def _review_done_fails(f: FakeGitHub) -> object:
    # GitHub created the review, then its gateway answered 502.
    return f.fail_next("POST", REVIEWS, 502, after=True)


def _review_reset(f: FakeGitHub) -> object:
    return f.drop_next("POST", REVIEWS)


def _review_done_reset(f: FakeGitHub) -> object:
    return f.drop_next("POST", REVIEWS, after=True)


def _summary_fails(f: FakeGitHub) -> object:
    return f.fail_next("POST", SUMMARY, 500)


def _summary_done_fails(f: FakeGitHub) -> object:
    return f.fail_next("POST", SUMMARY, 502, after=True)


def _summary_done_reset(f: FakeGitHub) -> object:
    return f.drop_next("POST", SUMMARY, after=True)


@pytest.mark.parametrize(
    ("fault", "review_posts", "expected"),
    [
        pytest.param(_review_fails, 2, "published", id="review-502"),
        pytest.param(_review_done_fails, 1, "published", id="review-done-502"),
        pytest.param(_review_reset, 2, "published", id="review-reset"),
        pytest.param(_review_done_reset, 1, "published", id="review-done-reset"),
        pytest.param(_summary_fails, 1, "published", id="summary-500"),
        # All of it landed the first time: the second run finds nothing left to post.
        pytest.param(_summary_done_fails, 1, "unchanged", id="summary-done-502"),
        pytest.param(_summary_done_reset, 1, "unchanged", id="summary-done-reset"),
    ],
)
def test_a_failed_write_is_not_resent_but_found_by_a_second_run(
    fake_github: FakeGitHub,
    fault: Callable[[FakeGitHub], object],
    review_posts: int,
    expected: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    pull = _setup(fake_github)
    fault(fake_github)
    sleeps: list[float] = []
    with caplog.at_level(logging.WARNING, logger="twelve_review.jobs"):
        outcome = _runner(fake_github, sleeps)(_job(fake_github, pull))
    assert outcome == expected
    _assert_posted_once(fake_github, pull)
    assert len(fake_github.calls("pulls/create-review")) == review_posts
    assert any("reviewing once more" in r.getMessage() for r in caplog.records)
    assert sleeps == []  # a POST is not retried by the transport: the second run reads first


def test_a_write_that_keeps_failing_ends_unavailable_with_nothing_posted_twice(
    fake_github: FakeGitHub,
) -> None:
    pull = _setup(fake_github)
    fake_github.fail_next("POST", SUMMARY, 502, times=2)
    outcome = _runner(fake_github, [])(_job(fake_github, pull))
    assert outcome == "unavailable" and outcome.retry_in == 60  # the queue runs it later
    assert len(fake_github.reviews(pull)) == 1 and len(fake_github.review_comments(pull)) == 2
    assert len(fake_github.calls("pulls/create-review")) == 1  # the second run found it
    assert _statuses(fake_github, "issues/create-comment") == [502, 502]
    assert fake_github.issue_comments(pull) == []
    _assert_clean(fake_github)


def test_an_answer_slower_than_the_timeout_is_not_posted_twice(fake_github: FakeGitHub) -> None:
    pull = _setup(fake_github)
    release = threading.Event()  # the review is created at once, its answer held back
    fake_github.slow_next("POST", REVIEWS, until=release)
    try:
        outcome = _runner(fake_github, [], timeout=1)(_job(fake_github, pull))
    finally:
        release.set()
    assert outcome == "published"
    _assert_posted_once(fake_github, pull)
    assert len(fake_github.calls("pulls/create-review")) == 1


# -- rate limits -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status", "operation"),
    [
        pytest.param("GET", PULL, 403, "pulls/get", id="403-read"),
        pytest.param("GET", FILES, 429, "pulls/list-files", id="429-read"),
        pytest.param("POST", REVIEWS, 403, "pulls/create-review", id="403-review"),
        pytest.param("POST", REVIEWS, 429, "pulls/create-review", id="429-review"),
    ],
)
def test_a_primary_rate_limit_waits_until_the_reset(
    fake_github: FakeGitHub, method: str, path: str, status: int, operation: str
) -> None:
    pull = _setup(fake_github)
    reset = int(time.time()) + 30
    fake_github.rate_limit_next(method, path, reset=reset, status=status)
    sleeps: list[float] = []
    before = time.time()
    outcome = _runner(fake_github, sleeps)(_job(fake_github, pull))
    after = time.time()
    assert outcome == "published"
    _assert_posted_once(fake_github, pull)
    assert _statuses(fake_github, operation)[:1] == [status]
    assert len(fake_github.calls(operation)) == 2  # refused once, sent again once
    # Until the reset, and a second more (the reset falls somewhere in that second).
    (wait,) = sleeps
    assert reset - after + 1 <= wait <= reset - before + 1


@pytest.mark.parametrize(
    ("method", "path", "status", "operation"),
    [
        pytest.param("POST", REVIEWS, 403, "pulls/create-review", id="403-review"),
        pytest.param("POST", SUMMARY, 429, "issues/create-comment", id="429-summary"),
        pytest.param("GET", FILES, 429, "pulls/list-files", id="429-read"),
    ],
)
def test_a_secondary_rate_limit_waits_at_least_retry_after(
    fake_github: FakeGitHub, method: str, path: str, status: int, operation: str
) -> None:
    pull = _setup(fake_github)
    fake_github.secondary_limit_next(method, path, retry_after=7, status=status)
    sleeps: list[float] = []
    assert _runner(fake_github, sleeps)(_job(fake_github, pull)) == "published"
    _assert_posted_once(fake_github, pull)
    assert _statuses(fake_github, operation)[:1] == [status]
    assert len(fake_github.calls(operation)) == 2
    assert sleeps == [7.0]


def test_a_secondary_rate_limit_without_retry_after_waits_secondary_rate_wait(
    fake_github: FakeGitHub,
) -> None:
    pull = _setup(fake_github)
    fake_github.secondary_limit_next("POST", REVIEWS, retry_after=None)
    sleeps: list[float] = []
    assert _runner(fake_github, sleeps)(_job(fake_github, pull)) == "published"
    _assert_posted_once(fake_github, pull)
    assert sleeps == [3.0]  # GithubRetry's own reading of the message, as configured


def test_an_ordinary_403_is_not_taken_for_a_rate_limit(fake_github: FakeGitHub) -> None:
    pull = _setup(fake_github)
    fake_github.fail_next("POST", REVIEWS, 403, times=5)
    sleeps: list[float] = []
    outcome = _runner(fake_github, sleeps)(_job(fake_github, pull))
    assert outcome == "failed"
    assert len(fake_github.calls("pulls/create-review")) == 1 and sleeps == []
    assert fake_github.reviews(pull) == [] and fake_github.issue_comments(pull) == []


def test_a_rate_limit_beyond_the_max_wait_ends_the_job_rate_limited(
    fake_github: FakeGitHub, caplog: pytest.LogCaptureFixture
) -> None:
    pull = _setup(fake_github)
    reset = int(time.time()) + 3600
    fake_github.rate_limit_next("GET", PULL, reset=reset)
    sleeps: list[float] = []
    with caplog.at_level(logging.WARNING, logger="twelve_review.jobs"):
        outcome = _runner(fake_github, sleeps)(_job(fake_github, pull))
    assert outcome == "rate-limited" and sleeps == []
    retry_at = dt.datetime.fromtimestamp(reset + 1, dt.UTC)
    assert outcome.retry_at is not None and abs(outcome.retry_at - retry_at).total_seconds() < 1
    assert outcome.retry_in is not None and 3590 < outcome.retry_in < 3602
    assert len(fake_github.calls("pulls/get")) == 1  # not asked again meanwhile
    assert fake_github.reviews(pull) == [] and fake_github.issue_comments(pull) == []
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("rate-limited")]
    assert retry_at.isoformat(timespec="seconds")[:16] in line  # the reset time, to the minute
    _assert_clean(fake_github)


def test_a_rate_limit_between_review_and_summary_posts_no_review_twice(
    fake_github: FakeGitHub,
) -> None:
    pull = _setup(fake_github)
    fake_github.secondary_limit_next("POST", SUMMARY, retry_after=600)
    runner = _runner(fake_github, [])
    outcome = runner(_job(fake_github, pull, "d-1"))
    assert outcome == "rate-limited"
    assert outcome.retry_in is not None and 590 < outcome.retry_in <= 600
    assert len(fake_github.reviews(pull)) == 1 and fake_github.issue_comments(pull) == []
    # The queue runs it again once the limit lifts: the summary now, the review not again.
    assert runner(_job(fake_github, pull, "d-1")) == "published"
    _assert_posted_once(fake_github, pull)
    assert len(fake_github.calls("pulls/create-review")) == 1


def test_a_command_under_a_rate_limit_says_nothing_and_runs_again_unthrottled(
    fake_github: FakeGitHub,
) -> None:
    pull = _setup(fake_github)
    comment = fake_github.add_issue_comment(pull, "/twelve-review", user="maintainer")
    command = parse_command("/twelve-review")

    def job() -> Job:
        return Job(
            delivery_id="d-command",
            event="issue_comment",
            action="created",
            repo_full_name=REPO,
            number=pull.number,
            head_sha="",
            installation_id=fake_github.installation_id,
            command=command,
            comment_id=comment["id"],
            commenter="maintainer",
            association=comment["author_association"],
        )

    fake_github.rate_limit_next("POST", REVIEWS, reset=int(time.time()) + 3600)
    runner = _runner(fake_github, [])
    assert runner(job()) == "rate-limited"
    bodies = [c["body"] for c in fake_github.issue_comments(pull)]
    assert bodies == ["/twelve-review"]  # no "failed" reply into the same limit
    assert runner(job()) == "published"  # not refused as a command run a moment ago
    bodies = [c["body"] for c in fake_github.issue_comments(pull)]
    assert FAILED not in bodies and not any(b.startswith(RATE_LIMITED[:30]) for b in bodies)
    assert len(fake_github.reviews(pull)) == 1 and len(fake_github.review_comments(pull)) == 2
    _assert_clean(fake_github)
