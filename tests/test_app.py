"""The GitHub App: settings, the webhook HTTP contract, the job queue, and one
end-to-end review over real HTTP against the fake GitHub (tests/fake_github.py)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.app.logs import JsonFormatter
from bot.app.queue import Job, JobQueue, Submitted
from bot.app.server import create_app
from bot.app.settings import AppSettings, SettingsError, load_settings
from bot.cli import main
from tests.app_helpers import app_settings, review_runner
from tests.fake_github import FakeGitHub
from tests.webhooks import delivery_headers, example, signed

SECRET = "webhook-secret"
DOCS_SECRET = "It's a Secret to Everybody"  # GitHub docs' test vector
DOCS_BODY = b"Hello, World!"
DOCS_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
APP_ENV = (
    "GITHUB_APP_ID",
    "GITHUB_APP_PRIVATE_KEY",
    "GITHUB_APP_PRIVATE_KEY_PATH",
    "GITHUB_WEBHOOK_SECRET",
    "GITHUB_API_URL",
    "PORT",
    "HOST",
    "TWELVE_REVIEW_WEBHOOK_PATH",
    "TWELVE_REVIEW_WORKERS",
    "TWELVE_REVIEW_MAX_COMMENTS",
    "LOG_LEVEL",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in APP_ENV:
        monkeypatch.delenv(name, raising=False)


def _settings(pem: str, **overrides: Any) -> AppSettings:
    values: dict[str, Any] = {
        "github_app_id": 1,
        "github_app_private_key": pem,
        "github_webhook_secret": SECRET,
        **overrides,
    }
    return load_settings(**values)


class Recorder:
    """A runner double: records each job (and whether it was cancelled by the time it
    finished); with `block`, each run waits for `release`."""

    def __init__(self, block: bool = False) -> None:
        self.block = block
        self.started = threading.Event()
        self.release = threading.Event()
        self.done: list[tuple[str, str, bool]] = []  # (delivery, head sha, cancelled)

    def __call__(self, job: Job) -> None:
        self.started.set()
        if self.block:
            assert self.release.wait(10)
        self.done.append((job.delivery_id, job.head_sha, job.cancelled))


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def client(pem: str, recorder: Recorder) -> Iterator[TestClient]:
    app = create_app(_settings(pem), recorder)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _queue(client: TestClient) -> JobQueue:
    queue = client.app.state.queue  # type: ignore[attr-defined]
    assert isinstance(queue, JobQueue)
    return queue


def _pr_payload(npm_data: Path, action: str = "opened", sha: str = "a" * 40) -> dict[str, Any]:
    payload = example(npm_data, "pull_request", action)
    payload["pull_request"]["head"]["sha"] = sha
    return payload


def _post(
    client: TestClient,
    event: str,
    payload: Any,
    delivery: str | None = None,
    secret: str = SECRET,
) -> Any:
    body, headers = signed(event, payload, secret, delivery)
    return client.post("/webhook", content=body, headers=headers)


# -- settings ------------------------------------------------------------------------------


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch, pem: str) -> None:
    monkeypatch.setenv("GITHUB_APP_ID", "42")
    monkeypatch.setenv("GITHUB_APP_PRIVATE_KEY", pem.replace("\n", "\\n"))  # one-line form
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRET", "s3cret")
    monkeypatch.setenv("PORT", "9000")
    settings = load_settings()
    assert (settings.github_app_id, settings.port, settings.host) == (42, 9000, "0.0.0.0")
    assert settings.github_api_url == "https://api.github.com"
    assert (settings.webhook_path, settings.workers, settings.max_comments) == ("/webhook", 2, 25)
    assert settings.private_key.startswith("-----BEGIN PRIVATE KEY-----\n")
    assert "s3cret" not in repr(settings) and "PRIVATE" not in repr(settings)


def test_private_key_from_a_file(monkeypatch: pytest.MonkeyPatch, pem: str, tmp_path: Path) -> None:
    key = tmp_path / "app.pem"
    key.write_text(pem)
    monkeypatch.setenv("GITHUB_APP_ID", "42")
    monkeypatch.setenv("GITHUB_APP_PRIVATE_KEY_PATH", str(key))
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRET", "s3cret")
    assert load_settings().private_key == pem


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GITHUB_APP_ID": None}, "GITHUB_APP_ID is required"),
        ({"GITHUB_APP_ID": "abc"}, "GITHUB_APP_ID is invalid"),
        ({"GITHUB_WEBHOOK_SECRET": None}, "GITHUB_WEBHOOK_SECRET is required"),
        ({"GITHUB_WEBHOOK_SECRET": ""}, "GITHUB_WEBHOOK_SECRET is required"),
        ({"GITHUB_APP_PRIVATE_KEY": "nope"}, "GITHUB_APP_PRIVATE_KEY is not a PEM private key"),
        (
            {"GITHUB_APP_PRIVATE_KEY": None},
            "GITHUB_APP_PRIVATE_KEY or GITHUB_APP_PRIVATE_KEY_PATH is required",
        ),
        (
            {"GITHUB_APP_PRIVATE_KEY": None, "GITHUB_APP_PRIVATE_KEY_PATH": "/nonexistent/k.pem"},
            "GITHUB_APP_PRIVATE_KEY_PATH cannot be read",
        ),
        ({"PORT": "http"}, "PORT is invalid"),
        ({"GITHUB_API_URL": "api.github.com"}, "GITHUB_API_URL is invalid"),
        ({"TWELVE_REVIEW_WORKERS": "0"}, "TWELVE_REVIEW_WORKERS is invalid"),
        ({"TWELVE_REVIEW_WEBHOOK_PATH": "hook"}, "TWELVE_REVIEW_WEBHOOK_PATH is invalid"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL is invalid"),
    ],
)
def test_settings_errors_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, pem: str, env: dict[str, str | None], message: str
) -> None:
    base: dict[str, str | None] = {
        "GITHUB_APP_ID": "42",
        "GITHUB_APP_PRIVATE_KEY": pem,
        "GITHUB_WEBHOOK_SECRET": "s3cret",
    }
    for name, value in {**base, **env}.items():
        if value is not None:
            monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    text = str(caught.value)
    assert text.startswith(message)
    assert "\n" not in text and "s3cret" not in text and "BEGIN" not in text


def test_serve_without_settings_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve"]) == 2
    assert capsys.readouterr().err == "twelve-review: error: GITHUB_APP_ID is required\n"


# -- the HTTP contract ---------------------------------------------------------------------


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    _queue(client).stop(1)
    assert client.get("/readyz").status_code == 503


def test_docs_signature_vector(pem: str, recorder: Recorder) -> None:
    app = create_app(_settings(pem, github_webhook_secret=DOCS_SECRET), recorder)
    with TestClient(app) as test_client:
        headers = delivery_headers("pull_request", DOCS_BODY, None)

        def post(signature: str | None) -> Any:
            extra = {} if signature is None else {"X-Hub-Signature-256": signature}
            return test_client.post("/webhook", content=DOCS_BODY, headers={**headers, **extra})

        # the right signature gets past the check: the body is then not JSON -> 400
        assert post(DOCS_SIGNATURE).status_code == 400
        assert post(DOCS_SIGNATURE.upper()).status_code == 401
        assert post(DOCS_SIGNATURE[:-1] + "0").status_code == 401
        assert post("sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59").status_code == 401
        assert post(None).status_code == 401
        assert _queue(test_client).pending == 0 and recorder.done == []


def test_bad_signature_queues_nothing(
    client: TestClient, recorder: Recorder, npm_data: Path
) -> None:
    body, headers = signed("pull_request", _pr_payload(npm_data), "another secret")
    answer = client.post("/webhook", content=body, headers=headers)
    assert answer.status_code == 401
    del headers["X-Hub-Signature-256"]
    assert client.post("/webhook", content=body, headers=headers).status_code == 401
    assert _queue(client).join(5)
    assert recorder.done == []


@pytest.mark.parametrize(
    "body", [b"{not json", b"\xff\xfe", b"[1, 2]", b'"text"', b"", b"{}", b'{"action": 3}']
)
def test_malformed_payloads_are_400(client: TestClient, body: bytes) -> None:
    headers = delivery_headers("pull_request", body, SECRET)
    answer = client.post("/webhook", content=body, headers=headers)
    assert answer.status_code in (200, 400)  # {} and a non-string action: not reviewable
    if body not in (b"{}", b'{"action": 3}'):
        assert answer.status_code == 400
        assert answer.json()["status"] == "error"


def test_pull_request_without_required_fields_is_400(client: TestClient, npm_data: Path) -> None:
    payload = _pr_payload(npm_data)
    del payload["pull_request"]["head"]["sha"]
    answer = _post(client, "pull_request", payload)
    assert answer.status_code == 400
    assert "pull_request.head.sha" in answer.json()["reason"]


def test_missing_delivery_headers_are_400(client: TestClient, npm_data: Path) -> None:
    body, headers = signed("pull_request", _pr_payload(npm_data), SECRET)
    for name in ("X-GitHub-Event", "X-GitHub-Delivery"):
        partial = {k: v for k, v in headers.items() if k != name}
        assert client.post("/webhook", content=body, headers=partial).status_code == 400


def test_oversized_payload_is_413(client: TestClient) -> None:
    body = b" " * (25 * 1024 * 1024 + 1)
    headers = delivery_headers("pull_request", body, SECRET)
    assert client.post("/webhook", content=body, headers=headers).status_code == 413


def test_oversized_streamed_payload_is_413(pem: str, recorder: Recorder) -> None:
    app = create_app(_settings(pem), recorder, max_body_bytes=100)
    with TestClient(app) as test_client:
        chunks = [b"x" * 60, b"y" * 60]  # no Content-Length: the size is counted as read
        answer = test_client.post(
            "/webhook", content=iter(chunks), headers=delivery_headers("ping", b"", SECRET)
        )
        assert answer.status_code == 413


def test_ping_is_pong(client: TestClient, npm_data: Path) -> None:
    payload = example(npm_data, "ping", installation=False)
    answer = _post(client, "ping", payload)
    assert (answer.status_code, answer.json()) == (200, {"status": "pong"})


def test_form_encoded_delivery(client: TestClient, npm_data: Path) -> None:
    payload = example(npm_data, "ping", installation=False)
    body = b"payload=" + json.dumps(payload).encode().replace(b"%", b"%25").replace(b"&", b"%26")
    headers = delivery_headers("ping", body, SECRET)
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    assert client.post("/webhook", content=body, headers=headers).status_code == 200


def test_installation_events_are_logged(client: TestClient, npm_data: Path) -> None:
    for event in ("installation", "installation_repositories"):
        answer = _post(client, event, example(npm_data, event, installation=False))
        assert answer.status_code == 200
        assert answer.json()["status"] == "ok"


@pytest.mark.parametrize("action", ["closed", "labeled", "assigned", "edited"])
def test_other_actions_are_ignored(
    client: TestClient, recorder: Recorder, npm_data: Path, action: str
) -> None:
    payload = example(npm_data, "pull_request", None)
    payload["action"] = action
    answer = _post(client, "pull_request", payload)
    assert answer.status_code == 200
    assert answer.json() == {
        "status": "ignored",
        "reason": f"pull_request action {action!r} is not reviewed",
    }
    assert _queue(client).join(5) and recorder.done == []


def test_other_events_and_drafts_are_ignored(
    client: TestClient, recorder: Recorder, npm_data: Path
) -> None:
    answer = _post(client, "issues", example(npm_data, "issues", "opened", installation=False))
    assert (answer.status_code, answer.json()["status"]) == (200, "ignored")
    draft = _pr_payload(npm_data)
    draft["pull_request"]["draft"] = True
    answer = _post(client, "pull_request", draft)
    assert answer.json() == {"status": "ignored", "reason": "draft pull request"}
    assert _queue(client).join(5) and recorder.done == []


def test_bot_senders_are_ignored(client: TestClient, recorder: Recorder, npm_data: Path) -> None:
    payload = _pr_payload(npm_data, "synchronize")
    payload["sender"]["type"] = "Bot"
    payload["sender"]["login"] = "twelve-review[bot]"
    answer = _post(client, "pull_request", payload)
    assert answer.json() == {"status": "ignored", "reason": "sender is a bot"}
    assert _queue(client).join(5) and recorder.done == []


@pytest.mark.parametrize("action", ["opened", "reopened", "synchronize", "ready_for_review"])
def test_review_actions_are_accepted(
    client: TestClient, recorder: Recorder, npm_data: Path, action: str
) -> None:
    answer = _post(client, "pull_request", _pr_payload(npm_data, action), delivery="d-1")
    assert (answer.status_code, answer.json()) == (202, {"status": "accepted"})
    assert _queue(client).join(5)
    assert recorder.done == [("d-1", "a" * 40, False)]


def test_redelivery_runs_once(client: TestClient, recorder: Recorder, npm_data: Path) -> None:
    payload = _pr_payload(npm_data)
    first = _post(client, "pull_request", payload, delivery="same-id")
    assert _queue(client).join(5)
    again = _post(client, "pull_request", payload, delivery="same-id")
    assert (first.status_code, again.status_code) == (202, 202)
    assert "duplicate" in again.json()["reason"]
    assert _queue(client).join(5)
    assert recorder.done == [("same-id", "a" * 40, False)]


def test_newest_head_wins(pem: str, npm_data: Path) -> None:
    recorder = Recorder(block=True)
    app = create_app(_settings(pem, workers=2), recorder)
    with TestClient(app) as test_client:
        queue = _queue(test_client)
        assert _post(test_client, "pull_request", _pr_payload(npm_data), "d-a").status_code == 202
        assert recorder.started.wait(5)  # head A is being reviewed
        for delivery, sha in (("d-b", "b" * 40), ("d-c", "c" * 40)):
            payload = _pr_payload(npm_data, "synchronize", sha)
            assert _post(test_client, "pull_request", payload, delivery).status_code == 202
        # B waited and was replaced by C; C waits for A (one review per PR at a time)
        assert (queue.pending, queue.running) == (1, 1)
        recorder.release.set()
        assert queue.join(5)
    # A finished cancelled (the real runner would not post); B never ran
    assert recorder.done == [("d-a", "a" * 40, True), ("d-c", "c" * 40, False)]


def test_queue_survives_a_failing_runner() -> None:
    ran: list[int] = []

    def runner(job: Job) -> None:
        ran.append(job.number)
        if job.number == 1:
            raise RuntimeError("boom")

    queue = JobQueue(runner, workers=1).start()
    for number in (1, 2):
        job = Job(f"d{number}", "pull_request", "opened", "o/r", number, "a" * 40, 1)
        assert queue.submit(job) is Submitted.QUEUED
    assert queue.join(5)
    assert ran == [1, 2]
    assert queue.stop(1)
    late = Job("d3", "pull_request", "opened", "o/r", 3, "a" * 40, 1)
    assert queue.submit(late) is Submitted.REJECTED


def test_delivery_ids_are_remembered_boundedly() -> None:
    queue = JobQueue(lambda job: None, workers=1, remember=2).start()
    for delivery in ("x", "y", "z"):
        queue.submit(Job(delivery, "pull_request", "opened", "o/r", 1, "a" * 40, 1))
        queue.join(5)
    again = Job("x", "pull_request", "opened", "o/r", 1, "a" * 40, 1)
    assert queue.submit(again) is Submitted.QUEUED  # forgotten: the oldest of three
    assert queue.submit(again) is Submitted.DUPLICATE
    queue.stop(1)


def test_logs_are_json_lines(npm_data: Path) -> None:
    record = logging.LogRecord("twelve_review.server", logging.INFO, __file__, 1, "hi", (), None)
    record.__dict__.update(delivery="d-1", event="pull_request", repo="o/r", pr=2, head_sha="ab")
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "hi"
    assert {k: entry[k] for k in ("delivery", "event", "repo", "pr", "head_sha")} == {
        "delivery": "d-1",
        "event": "pull_request",
        "repo": "o/r",
        "pr": 2,
        "head_sha": "ab",
    }


# -- end to end: signed webhook -> queue -> real runner -> fake GitHub -------------------------

REPO = "acme/shop"
BASE = {"app/settings.py": "import os\n\nDEBUG = False\n"}
HEAD = {
    "app/settings.py": (
        "import os\n\nDEBUG = False\nSTRIPE_KEY = 'sk_live_51HxQvR2eZvKYlo2C8Nf3pLmQrStUvWx'\n"
    ),
}


def test_end_to_end_review(fake_github: FakeGitHub, npm_data: Path) -> None:
    repo = fake_github.add_repo(REPO, BASE)
    pull = fake_github.add_pull(repo, BASE, HEAD)
    settings = app_settings(fake_github, SECRET)
    app = create_app(settings, review_runner(settings))

    # A real `pull_request` `opened` delivery from @octokit/webhooks-examples, pointed at
    # the fake's repository, PR number, head SHA and installation id.
    payload = example(npm_data, "pull_request", "opened")
    payload["number"] = pull.number
    payload["pull_request"]["number"] = pull.number
    payload["pull_request"]["head"]["sha"] = pull.head_sha
    payload["pull_request"]["base"]["sha"] = pull.base_sha
    payload["repository"]["full_name"] = REPO
    payload["repository"]["name"] = repo.name
    payload["repository"]["owner"]["login"] = repo.owner
    payload["installation"]["id"] = fake_github.installation_id

    with TestClient(app) as client:
        answer = _post(client, "pull_request", payload)
        assert (answer.status_code, answer.json()) == (202, {"status": "accepted"})
        assert _queue(client).join(30)

    (posted,) = fake_github.reviews(pull)
    assert posted["commit_id"] == pull.head_sha
    assert posted["user"]["login"] == "twelve-review[bot]"
    assert fake_github.review_comments(pull)
    (summary,) = fake_github.issue_comments(pull)
    assert summary["user"]["login"] == "twelve-review[bot]"
    assert fake_github.calls("apps/create-installation-access-token")
    assert fake_github.violations == []
    assert fake_github.crashes == []


def test_drafts_are_reviewed_when_the_app_is_configured_to(
    pem: str, recorder: Recorder, npm_data: Path
) -> None:
    app = create_app(_settings(pem, review_drafts=True), recorder)
    with TestClient(app, raise_server_exceptions=False) as drafts_client:
        draft = _pr_payload(npm_data)
        draft["pull_request"]["draft"] = True
        answer = _post(drafts_client, "pull_request", draft, delivery="draft-1")
        assert answer.status_code == 202
        assert _queue(drafts_client).join(5)
    assert [(delivery, sha) for delivery, sha, _ in recorder.done] == [("draft-1", "a" * 40)]
