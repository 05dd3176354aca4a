"""The runner when GitHub fails: a revoked token is replaced once, a pull request
that is gone drops the job, and a retried run posts nothing twice (the fake GitHub
injects the faults over real HTTP)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.app.logs import configure_logging
from bot.app.metrics import AppMetrics
from bot.app.queue import Job
from tests.app_helpers import app_settings, pull_request_job, review_runner
from tests.fake_github import FakeGitHub, FakePull

REPO = "acme/shop"
BASE = {"app/log.py": "import logging\n"}
HEAD = {"app/log.py": 'import logging\nhandler = logging.FileHandler("a.log")\n'}


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure_logging("INFO", stream=stream)
    yield stream
    root.handlers[:], root.level = saved[0], saved[1]


def _job(fake: FakeGitHub, pull: FakePull, delivery: str) -> Job:
    return pull_request_job(fake, pull, delivery)


def _messages(stream: io.StringIO) -> list[str]:
    return [json.loads(line)["message"] for line in stream.getvalue().splitlines()]


def test_a_revoked_token_is_replaced_once_and_the_review_lands_once(
    fake_github: FakeGitHub, logs: io.StringIO
) -> None:
    repo = fake_github.add_repo(REPO, BASE)
    pull = fake_github.add_pull(repo, BASE, HEAD)
    metrics = AppMetrics()
    runner = review_runner(app_settings(fake_github, "s"), metrics=metrics)
    runner(_job(fake_github, pull, "d-1"))  # token cached, review posted
    fake_github.expire_tokens()  # GitHub revokes it: the cached one now answers 401
    fake_github.push(pull, HEAD | {"app/run.py": "app.run(port=5000)\n"})
    runner(_job(fake_github, pull, "d-2"))
    assert len(fake_github.calls("apps/create-installation-access-token")) == 2
    assert "GitHub answered 401: retrying once with a new token" in _messages(logs)
    assert sorted(c["path"] for c in fake_github.review_comments(pull)) == [
        "app/log.py",
        "app/run.py",
    ]
    assert len(fake_github.issue_comments(pull)) == 1
    assert (
        metrics.registry.get_sample_value("twelve_review_reviews_total", {"outcome": "published"})
        == 2
    )
    assert fake_github.violations == [] and fake_github.crashes == []


def test_a_401_after_the_review_was_posted_posts_nothing_twice(
    fake_github: FakeGitHub, logs: io.StringIO
) -> None:
    repo = fake_github.add_repo(REPO, BASE)
    pull = fake_github.add_pull(repo, BASE, HEAD)
    runner = review_runner(app_settings(fake_github, "s"))
    # The review goes out, then creating the summary meets a 401 (a token revoked mid-run).
    fake_github.fail_next("POST", r"/issues/\d+/comments$", 401)
    runner(_job(fake_github, pull, "d-1"))
    assert len(fake_github.reviews(pull)) == 1 and len(fake_github.review_comments(pull)) == 1
    assert len(fake_github.issue_comments(pull)) == 1  # the second run wrote the summary
    assert len(fake_github.calls("pulls/create-review")) == 1  # and posted no review again


def test_a_pull_request_that_is_gone_drops_the_job(
    fake_github: FakeGitHub, logs: io.StringIO
) -> None:
    repo = fake_github.add_repo(REPO, BASE)
    pull = fake_github.add_pull(repo, BASE, HEAD)
    metrics = AppMetrics()
    runner = review_runner(app_settings(fake_github, "s"), metrics=metrics)
    fake_github.fail_next("GET", r"/pulls/\d+$", 404)
    runner(_job(fake_github, pull, "d-gone"))
    lines = [json.loads(line) for line in logs.getvalue().splitlines()]
    (dropped,) = [line for line in lines if line["message"].startswith("dropped:")]
    assert dropped["level"] == "INFO" and dropped["delivery"] == "d-gone"
    assert not any(line["level"] == "ERROR" for line in lines)
    assert fake_github.reviews(pull) == [] and fake_github.issue_comments(pull) == []
    assert (
        metrics.registry.get_sample_value("twelve_review_reviews_total", {"outcome": "gone"}) == 1
    )
