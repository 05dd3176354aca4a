"""Redeliveries and re-runs through the whole App: webhook in, nothing posted twice."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from bot.app.queue import JobQueue
from bot.app.server import create_app
from tests.app_helpers import app_settings, review_runner
from tests.fake_github import FakeGitHub
from tests.webhooks import example, signed

REPO = "acme/shop"
SECRET = "redelivery-secret"
BASE = {"app/log.py": "import logging\n", "app/util.py": "x = 1\n"}
HEAD = {
    "app/log.py": 'import logging\nhandler = logging.FileHandler("a.log")\n',
    "app/util.py": "x = 1\n",
}


def test_redelivery_and_rerun_post_nothing_new(fake_github: FakeGitHub, npm_data: Path) -> None:
    repo = fake_github.add_repo(REPO, BASE)
    pull = fake_github.add_pull(repo, BASE, HEAD)
    settings = app_settings(fake_github, SECRET)
    app = create_app(settings, review_runner(settings))

    def deliver(client: TestClient, action: str, delivery: str, head_sha: str) -> int:
        # GitHub's example delivery, pointed at the fake's repository and PR.
        payload = example(npm_data, "pull_request", action)
        payload["number"] = payload["pull_request"]["number"] = pull.number
        payload["pull_request"]["head"]["sha"] = head_sha
        payload["pull_request"]["draft"] = False
        payload["pull_request"]["state"] = "open"
        payload["repository"]["full_name"] = REPO
        payload["installation"]["id"] = fake_github.installation_id
        payload["sender"]["type"] = "User"
        body, headers = signed("pull_request", payload, SECRET, delivery)
        status = client.post("/webhook", content=body, headers=headers).status_code
        queue = client.app.state.queue  # type: ignore[attr-defined]
        assert isinstance(queue, JobQueue) and queue.join(30)
        return status

    with TestClient(app) as client:
        assert deliver(client, "opened", "d-1", pull.head_sha) == 202
        assert deliver(client, "opened", "d-1", pull.head_sha) == 202  # GitHub redelivers
        assert deliver(client, "reopened", "d-2", pull.head_sha) == 202  # a new delivery
        # A push that changes nothing the rules care about: a new head, nothing new to say.
        new_head = fake_github.push(pull, HEAD | {"app/util.py": "x = 2\n"})
        assert deliver(client, "synchronize", "d-3", new_head) == 202

    assert len(fake_github.reviews(pull)) == 1
    assert len(fake_github.review_comments(pull)) == 1
    (summary,) = fake_github.issue_comments(pull)
    assert new_head[:12] in summary["body"]  # the summary follows the head reviewed
    assert len(fake_github.calls("pulls/create-review")) == 1
    assert len(fake_github.calls("pulls/list-files")) == 3  # d-1 ran once, then d-2 and d-3
    assert fake_github.violations == [] and fake_github.crashes == []
