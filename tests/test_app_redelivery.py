"""Redeliveries and re-runs through the whole App: webhook in, nothing posted twice."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from bot.app.server import create_app
from tests.app_helpers import app_settings, pull_request_payload, review_runner
from tests.app_helpers import deliver as deliver_signed
from tests.fake_github import FakeGitHub

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
        payload = pull_request_payload(npm_data, fake_github, pull, action, head_sha)
        return deliver_signed(client, "pull_request", payload, SECRET, delivery)

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
