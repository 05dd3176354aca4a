"""GET /metrics: Prometheus' text format, parsed back with prometheus-client's own
parser, after real deliveries and a real review against the fake GitHub."""

from __future__ import annotations

import math
import uuid
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from bot.app.durable import DurableQueue
from bot.app.metrics import AppMetrics
from bot.app.server import create_app
from bot.app.store import RedisJobStore
from tests.app_helpers import app_settings, deliver, pull_request_payload, review_runner
from tests.fake_github import FakeGitHub
from tests.loopback import free_port
from tests.webhooks import example, signed

REPO = "acme/shop"
SECRET = "metrics-secret"
BASE = {"app/log.py": "import logging\n"}
HEAD = {
    "app/log.py": 'import logging\nhandler = logging.FileHandler("a.log")\n',
    "app/run.py": "app.run(port=5000)\n",
}


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_count_deliveries_reviews_findings_and_github_calls(
    fake_github: FakeGitHub, npm_data: Path
) -> None:
    repo = fake_github.add_repo(REPO, BASE)
    pull = fake_github.add_pull(repo, BASE, HEAD)
    settings = app_settings(fake_github, SECRET)
    metrics = AppMetrics()
    app = create_app(settings, review_runner(settings, metrics=metrics), metrics=metrics)
    with TestClient(app) as client:
        payload = pull_request_payload(npm_data, fake_github, pull, "opened", pull.head_sha)
        assert deliver(client, "pull_request", payload, SECRET, "m-1") == 202
        ping = example(npm_data, "ping", None, installation=False)
        body, headers = signed("ping", ping, SECRET, "m-2")
        assert client.post("/webhook", content=body, headers=headers).status_code == 200
        body, headers = signed("pull_request", payload, "wrong", "m-3")
        assert client.post("/webhook", content=body, headers=headers).status_code == 401
        answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=")
    got = _samples(answer.text)

    def value(name: str, **labels: str) -> float:
        return got.get((name, tuple(sorted(labels.items()))), 0.0)

    assert value("twelve_review_deliveries_total", event="pull_request", outcome="accepted") == 1
    assert value("twelve_review_deliveries_total", event="ping", outcome="ignored") == 1
    assert (
        value("twelve_review_deliveries_total", event="pull_request", outcome="bad-signature") == 1
    )
    assert value("twelve_review_reviews_total", outcome="published") == 1
    assert value("twelve_review_review_duration_seconds_count") == 1
    assert value("twelve_review_findings_total", factor="11", source="rule") == 1
    assert value("twelve_review_findings_total", factor="7", source="rule") == 1
    assert value("twelve_review_queue_depth", state="pending") == 0
    assert value("twelve_review_queue_depth", state="running") == 0
    # Every request the review made to the fake, counted by method and status class.
    gets = len([r for r in fake_github.requests if r.method == "GET"])
    posts = len([r for r in fake_github.requests if r.method == "POST"])
    assert (
        value("twelve_review_github_api_calls_total", method="GET", status="2xx")
        + value("twelve_review_github_api_calls_total", method="GET", status="4xx")
        == gets
    )
    assert value("twelve_review_github_api_calls_total", method="POST", status="2xx") == posts


def test_metrics_answer_while_the_queues_redis_is_away(fake_github: FakeGitHub) -> None:
    """The queue depth is read from the store; with Redis unreachable the scrape still
    answers (the depth is NaN, "unknown") and readiness says not ready."""
    port = free_port()  # nothing listens there
    settings = app_settings(fake_github, "s3cret")
    store = RedisJobStore(f"redis://127.0.0.1:{port}/0", name=uuid.uuid4().hex)
    queue = DurableQueue(store, review_runner(settings), 0)
    app = create_app(settings, review_runner(settings), queue=queue)
    with TestClient(app) as client:
        answer = client.get("/metrics")
        ready = client.get("/readyz")
    assert answer.status_code == 200 and ready.status_code == 503
    depth = {
        s.labels["state"]: s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
        if s.name == "twelve_review_queue_depth"
    }
    assert math.isnan(depth["pending"]) and depth["running"] == 0
