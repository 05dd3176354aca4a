"""Incremental reviews through the whole App: webhook in, the fake GitHub and the
fake OpenAI server over real HTTP.

The model is asked only about files changed since the last reviewed head; its
earlier findings elsewhere stay open; a fixed finding is counted resolved and
its thread answered once; a force-push or `/twelve-review full` sends the whole
PR again; a 422 on an anchor still lands the review.
"""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from bot.app.server import create_app
from bot.llm.settings import LLMSettings
from bot.publish.markers import summary_state_in
from tests.app_helpers import (
    app_settings,
    command_payload,
    deliver,
    pull_request_payload,
    review_runner,
)
from tests.fake_github import BOT_LOGIN, FakeGitHub, FakePull
from tests.fake_openai import FakeOpenAI, RecordedRequest, answer

REPO = "acme/shop"
SECRET = "incremental-secret"
CACHE = "import os\nimport redis\n\nclient = redis.Redis.from_url(os.environ['X'])\n"
BASE = {"app/cache.py": "import os\n", "app/log.py": "import logging\n"}
HEAD = {
    "app/cache.py": CACHE,
    "app/log.py": 'import logging\nhandler = logging.FileHandler("shop.log")\n',
}
FIXED_LOG = "import logging\nhandler = logging.StreamHandler()\n"
MODEL_FINDING = {
    "path": "app/cache.py",
    "line": 4,
    "end_line": None,
    "factor": 4,
    "note": "tech.practice.12-factor-app.backing-services",
    "severity": "warning",
    "message": "The cache URL comes from a variable named X, which says nothing.",
    "rationale": "Attached resources are swapped by config; an opaque name hides which.",
    "suggestion": None,
}


def _paths_sent(request: RecordedRequest) -> set[str]:
    sent = json.dumps(request.body)
    return {path for path in HEAD if path in sent}


def _summary(fake: FakeGitHub, pull: FakePull) -> str:
    (summary,) = [c for c in fake.issue_comments(pull) if c["user"]["login"] == BOT_LOGIN]
    return str(summary["body"])


def test_synchronize_sends_only_changed_files_and_keeps_earlier_model_findings(
    fake_github: FakeGitHub, fake_openai: FakeOpenAI, npm_data: Path
) -> None:
    repo = fake_github.add_repo(REPO, BASE, permissions={"alice": "write"})
    pull = fake_github.add_pull(repo, BASE, HEAD)
    settings = app_settings(fake_github, SECRET)
    llm = LLMSettings(base_url=fake_openai.base_url, model="small-test-model", retry_seconds=3)
    app = create_app(settings, review_runner(settings, llm_settings=llm))

    def push_event(client: TestClient, action: str, delivery: str) -> int:
        payload = pull_request_payload(npm_data, fake_github, pull, action, pull.head_sha)
        return deliver(client, "pull_request", payload, SECRET, delivery)

    fake_openai.script(answer({"findings": [MODEL_FINDING]}))
    with TestClient(app) as client:
        # Opened: the whole PR goes to the model; a rule and the model each find one thing.
        assert push_event(client, "opened", "d-1") == 202
        assert [_paths_sent(r) for r in fake_openai.requests] == [set(HEAD)]
        assert sorted(c["path"] for c in fake_github.review_comments(pull)) == [
            "app/cache.py",
            "app/log.py",
        ]

        # The log handler is fixed: only app/log.py is sent; the model's finding in
        # app/cache.py is still open (counted), the rule's is resolved and answered.
        fake_github.push(pull, HEAD | {"app/log.py": FIXED_LOG})
        assert push_event(client, "synchronize", "d-2") == 202
        assert [_paths_sent(r) for r in fake_openai.requests[1:]] == [{"app/log.py"}]
        body = _summary(fake_github, pull)
        assert f"Reviewed `{pull.head_sha[:12]}`: 1 finding (1 warning)." in body
        assert "1 file changed since the last review sent, 1 earlier model finding(s)" in body
        assert "1 earlier finding was resolved by later commits." in body
        state = summary_state_in(body)
        assert state is not None and [f.path for f in state.model_findings] == ["app/cache.py"]
        (reply,) = [c for c in fake_github.review_comments(pull) if c.get("in_reply_to_id")]
        assert reply["path"] == "app/log.py" and reply["body"].startswith("Resolved:")

        # The same head again (a re-run): no model call, nothing written.
        writes = [r for r in fake_github.requests if r.method != "GET"]
        assert push_event(client, "synchronize", "d-3") == 202
        assert len(fake_openai.requests) == 2
        assert [r for r in fake_github.requests if r.method != "GET"] == writes

        # History rewritten: the old head is no ancestor, so the whole PR is sent again.
        fake_openai.script(answer({"findings": [MODEL_FINDING]}))
        fake_github.force_push(pull, HEAD | {"app/log.py": FIXED_LOG})
        assert push_event(client, "synchronize", "d-4") == 202
        assert _paths_sent(fake_openai.requests[2]) == set(HEAD)

        # `/twelve-review full` by a writer: the whole PR again, though nothing changed.
        payload = command_payload(npm_data, fake_github, pull, "/twelve-review full", "alice")
        assert deliver(client, "issue_comment", payload, SECRET, "d-5") == 202
        # The prompt is the one the force-push run sent: the answer cache pays for it.
        assert len(fake_openai.requests) == 3
        body = _summary(fake_github, pull)
        assert "LLM small-test-model: 0 requests (1 cached)" in body and "incremental" not in body

    # Five deliveries, one review: the model repeating itself is never posted twice.
    assert len([r for r in fake_github.reviews(pull) if r["body"]]) == 1
    assert len([c for c in fake_github.review_comments(pull) if not c.get("in_reply_to_id")]) == 2
    assert "1 finding (1 warning)" in _summary(fake_github, pull)
    assert fake_github.violations == [] and fake_github.crashes == []


def test_a_refused_anchor_still_lands_the_review(fake_github: FakeGitHub, npm_data: Path) -> None:
    repo = fake_github.add_repo(REPO, BASE)
    pull = fake_github.add_pull(repo, BASE, HEAD)
    settings = app_settings(fake_github, SECRET)
    app = create_app(settings, review_runner(settings))
    # GitHub refuses the first attempt (as it does for a stale anchor) and then the second.
    fake_github.fail_next("POST", r"/pulls/\d+/reviews$", 422, times=2)
    with TestClient(app) as client:
        payload = pull_request_payload(npm_data, fake_github, pull, "opened", pull.head_sha)
        assert deliver(client, "pull_request", payload, SECRET, "d-422") == 202
    assert len(fake_github.calls("pulls/create-review")) == 2
    assert fake_github.reviews(pull) == []
    body = _summary(fake_github, pull)
    # Nothing is lost: the refused comment is listed in the summary with its place.
    assert "`app/log.py:2` TF1101" in body and "_(not on a line of the diff)_" in body


def test_one_refusal_then_the_review_lands_inline(fake_github: FakeGitHub, npm_data: Path) -> None:
    repo = fake_github.add_repo(REPO, BASE)
    pull = fake_github.add_pull(repo, BASE, HEAD)
    settings = app_settings(fake_github, SECRET)
    app = create_app(settings, review_runner(settings))
    fake_github.fail_next("POST", r"/pulls/\d+/reviews$", 422, times=1)
    with TestClient(app) as client:
        payload = pull_request_payload(npm_data, fake_github, pull, "opened", pull.head_sha)
        assert deliver(client, "pull_request", payload, SECRET, "d-422b") == 202
    (comment,) = fake_github.review_comments(pull)
    assert (comment["path"], comment["line"]) == ("app/log.py", 2)
    assert "Not posted inline" not in _summary(fake_github, pull)
    assert fake_github.violations == [] and fake_github.crashes == []
