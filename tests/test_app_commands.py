"""/twelve-review through the server and the runner, against the fake GitHub.

No upstream example of an `issue_comment` on a pull request exists: the
delivery is derived from @octokit/webhooks-examples `issue_comment/created`,
with the `issue.pull_request` object the official webhook schema describes
added, and pointed at the fake's repository, PR and comment.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from bot.app.queue import JobQueue
from bot.app.server import create_app
from bot.app.settings import AppSettings
from bot.app.store import SqliteJobStore
from bot.github.replies import RATE_LIMITED, REFUSAL
from tests.app_helpers import app_settings, command_payload, review_runner
from tests.fake_github import FakeGitHub, FakePull
from tests.webhooks import signed

REPO = "acme/shop"
SECRET = "command-secret"
BASE = {"app/log.py": "import logging\n"}
HEAD = {"app/log.py": 'import logging\nhandler = logging.FileHandler("shop.log")\n'}


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


def _settings(fake: FakeGitHub) -> AppSettings:
    return app_settings(fake, SECRET)


def _delivery(npm_data: Path, fake: FakeGitHub, pull: FakePull, body: str, user: str) -> Any:
    return command_payload(npm_data, fake, pull, body, user)


def _send(client: TestClient, payload: Any, delivery: str) -> Any:
    body, headers = signed("issue_comment", payload, SECRET, delivery)
    answer = client.post("/webhook", content=body, headers=headers)
    queue = client.app.state.queue  # type: ignore[attr-defined]
    assert isinstance(queue, JobQueue)
    assert queue.join(30)
    return answer


def _bodies(fake: FakeGitHub, pull: FakePull) -> list[str]:
    return [c["body"] for c in fake.issue_comments(pull)]


def test_a_writer_starts_a_review_with_reactions(fake_github: FakeGitHub, npm_data: Path) -> None:
    repo = fake_github.add_repo(REPO, BASE, permissions={"alice": "write"})
    pull = fake_github.add_pull(repo, BASE, HEAD)
    settings = _settings(fake_github)
    app = create_app(settings, review_runner(settings))
    payload = _delivery(npm_data, fake_github, pull, "/twelve-review factors=11", "alice")
    with TestClient(app) as client:
        answer = _send(client, payload, "c-1")
    assert answer.status_code == 202
    (review,) = fake_github.reviews(pull)
    assert review["commit_id"] == pull.head_sha
    reactions = [
        r.body["content"]
        for r in fake_github.requests
        if r.method == "POST" and r.path.endswith("/reactions")
    ]
    assert reactions == ["eyes", "rocket"]
    assert fake_github.violations == [] and fake_github.crashes == []


def test_someone_without_write_access_gets_one_polite_reply(
    fake_github: FakeGitHub, npm_data: Path
) -> None:
    repo = fake_github.add_repo(REPO, BASE, permissions={"mallory": "read"})
    pull = fake_github.add_pull(repo, BASE, HEAD)
    settings = _settings(fake_github)
    app = create_app(settings, review_runner(settings))
    with TestClient(app) as client:
        for n in range(2):
            payload = _delivery(npm_data, fake_github, pull, "/twelve-review", "mallory")
            _send(client, payload, f"m-{n}")
    assert fake_github.reviews(pull) == []
    refusals = [b for b in _bodies(fake_github, pull) if b == REFUSAL.format(user="mallory")]
    assert len(refusals) == 1
    assert fake_github.violations == []


def test_help_and_explain_reply_without_a_review(fake_github: FakeGitHub, npm_data: Path) -> None:
    repo = fake_github.add_repo(REPO, BASE)
    pull = fake_github.add_pull(repo, BASE, HEAD)
    settings = _settings(fake_github)
    app = create_app(settings, review_runner(settings))
    with TestClient(app) as client:
        _send(client, _delivery(npm_data, fake_github, pull, "/twelve-review approve", "bob"), "h")
        _send(
            client,
            _delivery(npm_data, fake_github, pull, "/twelve-review explain TF1101", "bob"),
            "e",
        )
    bodies = _bodies(fake_github, pull)
    assert any(b.startswith("Not understood: `approve`.") for b in bodies)
    assert any("TF1101 python-log-file" in b and b.startswith("````text") for b in bodies)
    assert fake_github.reviews(pull) == []
    assert fake_github.violations == []


def test_commands_are_rate_limited_per_pull_request(
    fake_github: FakeGitHub, npm_data: Path
) -> None:
    repo = fake_github.add_repo(REPO, BASE, permissions={"alice": "write"})
    pull = fake_github.add_pull(repo, BASE, HEAD)
    settings = _settings(fake_github)
    clock = Clock()
    app = create_app(settings, review_runner(settings, clock=clock))
    with TestClient(app) as client:
        _send(client, _delivery(npm_data, fake_github, pull, "/twelve-review", "alice"), "r-1")
        clock.now += dt.timedelta(seconds=20)
        _send(client, _delivery(npm_data, fake_github, pull, "/twelve-review", "alice"), "r-2")
        clock.now += dt.timedelta(seconds=60)
        _send(client, _delivery(npm_data, fake_github, pull, "/twelve-review", "alice"), "r-3")
    assert RATE_LIMITED.format(seconds=40) in _bodies(fake_github, pull)
    assert len(fake_github.calls("pulls/get")) >= 3
    assert fake_github.violations == []


def test_comments_that_are_not_commands_are_ignored(
    fake_github: FakeGitHub, npm_data: Path
) -> None:
    repo = fake_github.add_repo(REPO, BASE)
    pull = fake_github.add_pull(repo, BASE, HEAD)
    settings = _settings(fake_github)
    app = create_app(settings, review_runner(settings))
    with TestClient(app) as client:
        answer = _send(client, _delivery(npm_data, fake_github, pull, "LGTM!", "bob"), "x")
    assert (answer.status_code, answer.json()["reason"]) == (200, "not a command")


def test_the_command_interval_and_refusals_hold_across_replicas(
    fake_github: FakeGitHub, npm_data: Path, tmp_path: Path
) -> None:
    """Two App processes sharing one queue store (as replicas share Redis) share the
    interval and the one refusal: the second replica does not run a second review."""
    repo = fake_github.add_repo(REPO, BASE, permissions={"alice": "write"})
    pull = fake_github.add_pull(repo, BASE, HEAD)
    settings = _settings(fake_github)
    path = str(tmp_path / "queue.db")
    replicas = [
        create_app(settings, review_runner(settings, throttle=SqliteJobStore(path)))
        for _ in range(2)
    ]
    with TestClient(replicas[0]) as first, TestClient(replicas[1]) as second:
        _send(first, _delivery(npm_data, fake_github, pull, "/twelve-review", "alice"), "r-1")
        _send(second, _delivery(npm_data, fake_github, pull, "/twelve-review", "alice"), "r-2")
        _send(first, _delivery(npm_data, fake_github, pull, "/twelve-review", "mallory"), "m-1")
        _send(second, _delivery(npm_data, fake_github, pull, "/twelve-review", "mallory"), "m-2")
    bodies = _bodies(fake_github, pull)
    assert len(fake_github.reviews(pull)) == 1
    assert sum(b.startswith(RATE_LIMITED.split("{", 1)[0]) for b in bodies) == 1
    assert bodies.count(REFUSAL.format(user="mallory")) == 1  # once, not once per replica
    assert fake_github.violations == []
