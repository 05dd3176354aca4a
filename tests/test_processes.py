"""The App's process types as real processes, stopped by real signals.

`twelve-review serve` and `twelve-review worker` run as subprocesses against the
fake GitHub and the fake OpenAI server (the model answers slowly, which is what
keeps a review running while the test signals or kills the process), with the
queue in a SQLite file or a real Redis.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.app_helpers import pull_request_payload
from tests.fake_github import FakeGitHub, FakePull
from tests.fake_openai import FakeOpenAI, answer, timeout
from tests.loopback import free_port
from tests.webhooks import signed

SECRET = "process-test-webhook-secret"
BASE = {"app/settings.py": "DEBUG = False\n"}
HEAD = {"app/settings.py": "DEBUG = False\nDATABASE_URL = 'postgres://db.internal/prod'\n"}


def _get(url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _wait(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.05)


@dataclass
class AppProcess:
    process: subprocess.Popen[str]
    base: str

    def deliver(self, payload: dict[str, Any], delivery: str) -> int:
        body, headers = signed("pull_request", payload, SECRET, delivery)
        return _get(f"{self.base}/webhook", body, headers)

    def readyz(self) -> int:
        try:
            return _get(f"{self.base}/readyz")
        except (urllib.error.URLError, ConnectionError):
            return 0  # not listening (any more)

    def stop(
        self, sig: int = signal.SIGTERM, within: float = 30
    ) -> tuple[int, list[dict[str, Any]]]:
        self.process.send_signal(sig)
        out, _ = self.process.communicate(timeout=within)
        lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        return int(self.process.returncode), lines


@pytest.fixture
def env(fake_github: FakeGitHub, fake_openai: FakeOpenAI, tmp_path: Path) -> dict[str, str]:
    """What every process of one App shares: GitHub App settings, the model, the queue."""
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "LANG": "C.UTF-8",
        "GITHUB_APP_ID": str(fake_github.app_id),
        "GITHUB_APP_PRIVATE_KEY": fake_github.private_key_pem,
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "GITHUB_API_URL": fake_github.base_url,
        "HOST": "127.0.0.1",
        "OPENAI_BASE_URL": fake_openai.base_url,
        "OPENAI_API_KEY": "sk-process-test",
        "TWELVE_REVIEW_MODEL": "small-test-model",
        "TWELVE_REVIEW_QUEUE_PATH": str(tmp_path / "queue.db"),
    }


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate()


def start(
    kind: str, env: dict[str, str], processes: list[subprocess.Popen[str]], **extra: str
) -> AppProcess:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", kind],
        env={**env, "PORT": str(port), **extra},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    processes.append(process)
    app = AppProcess(process, f"http://127.0.0.1:{port}")
    if kind == "serve":
        _wait(lambda: process.poll() is not None or app.readyz() == 200, 30, "readiness")
        assert process.poll() is None, process.communicate()[1]
    return app


def _scrape(app: AppProcess) -> str:
    with urllib.request.urlopen(f"{app.base}/metrics", timeout=5) as answer:
        return str(answer.read().decode())


def a_pull(fake: FakeGitHub, npm_data: Path) -> tuple[FakePull, dict[str, Any]]:
    name = uuid.uuid4().hex[:6]
    repo = fake.add_repo(f"octo/r{name}", BASE)
    # a diff of its own: the model's answer cache would otherwise answer a twin for free
    pull = fake.add_pull(repo, BASE, {path: f"{text}# {name}\n" for path, text in HEAD.items()})
    return pull, pull_request_payload(npm_data, fake, pull, "opened", pull.head_sha)


def slow_model(fake_openai: FakeOpenAI, seconds: float, times: int = 1) -> None:
    fake_openai.script(*[timeout(seconds, then=answer({"findings": []}))] * times)


def reviews_posted(fake: FakeGitHub, pull: FakePull) -> int:
    return len(fake.reviews(pull))


def test_sigterm_lets_the_running_review_finish_and_exits_0(
    fake_github: FakeGitHub,
    fake_openai: FakeOpenAI,
    npm_data: Path,
    env: dict[str, str],
    processes: list[subprocess.Popen[str]],
) -> None:
    pull, payload = a_pull(fake_github, npm_data)
    slow_model(fake_openai, 2.0)
    app = start("serve", env, processes, TWELVE_REVIEW_SHUTDOWN_GRACE="20")
    assert app.deliver(payload, "d-finish") == 202
    _wait(lambda: len(fake_openai.requests) >= 1, 20, "the review to reach the model")
    app.process.send_signal(signal.SIGTERM)
    _wait(lambda: app.readyz() == 503, 5, "/readyz to turn 503")  # while still reviewing
    code, lines = app.stop(within=30)
    assert code == 0
    assert reviews_posted(fake_github, pull) == 1
    assert len(fake_github.issue_comments(pull)) == 1  # the summary
    messages = [line["message"] for line in lines]
    assert any("draining" in m for m in messages)
    assert not any("released to the queue" in m for m in messages)


def test_a_review_past_the_grace_goes_back_to_the_queue_for_a_worker(
    fake_github: FakeGitHub,
    fake_openai: FakeOpenAI,
    npm_data: Path,
    env: dict[str, str],
    processes: list[subprocess.Popen[str]],
) -> None:
    pull, payload = a_pull(fake_github, npm_data)
    slow_model(fake_openai, 4.0, times=2)
    app = start("serve", env, processes, TWELVE_REVIEW_SHUTDOWN_GRACE="0.5")
    assert app.deliver(payload, "d-release") == 202
    _wait(lambda: len(fake_openai.requests) >= 1, 20, "the review to reach the model")
    started = time.monotonic()
    code, lines = app.stop(within=20)
    assert code == 0 and time.monotonic() - started < 4  # did not wait for the model
    assert any("released to the queue" in line["message"] for line in lines)
    assert reviews_posted(fake_github, pull) == 0
    worker = start("worker", env, processes)
    _wait(lambda: reviews_posted(fake_github, pull) == 1, 30, "the worker's review")
    # a worker serves its own metrics on PORT
    published = 'twelve_review_reviews_total{outcome="published"} 1.0'
    _wait(lambda: published in _scrape(worker), 10, "the worker's metrics")
    code, _ = worker.stop()
    assert code == 0
    assert reviews_posted(fake_github, pull) == 1
    assert len(fake_github.issue_comments(pull)) == 1


def test_kill_9_mid_review_loses_nothing_and_posts_once(
    fake_github: FakeGitHub,
    fake_openai: FakeOpenAI,
    npm_data: Path,
    env: dict[str, str],
    processes: list[subprocess.Popen[str]],
) -> None:
    pull, payload = a_pull(fake_github, npm_data)
    slow_model(fake_openai, 3.0, times=2)
    lease = {"TWELVE_REVIEW_JOB_LEASE": "1"}
    app = start("serve", env, processes, **lease)
    assert app.deliver(payload, "d-crash") == 202
    _wait(lambda: len(fake_openai.requests) >= 1, 20, "the review to reach the model")
    app.process.kill()  # SIGKILL: no handler, no grace, no goodbye
    app.process.communicate()
    assert reviews_posted(fake_github, pull) == 0
    again = start("serve", env, processes, **lease)  # the same disk, a new process
    _wait(lambda: reviews_posted(fake_github, pull) == 1, 30, "the recovered review")
    time.sleep(1.5)  # a lease more: nothing else is coming
    # the server's /metrics counts what its own workers did, not only deliveries
    scraped = _scrape(again)
    assert 'twelve_review_reviews_total{outcome="published"} 1.0' in scraped
    assert 'twelve_review_github_api_calls_total{method="POST",status="2xx"}' in scraped
    code, lines = again.stop()
    assert code == 0
    assert reviews_posted(fake_github, pull) == 1
    assert len(fake_github.issue_comments(pull)) == 1
    assert any("of a process that stopped" in line["message"] for line in lines)


def test_redis_mode_web_replicas_and_a_worker_review_each_delivery_once(
    fake_github: FakeGitHub,
    fake_openai: FakeOpenAI,
    npm_data: Path,
    env: dict[str, str],
    processes: list[subprocess.Popen[str]],
    redis_url: str,
) -> None:
    shared = {**env, "REDIS_URL": redis_url}
    shared.pop("TWELVE_REVIEW_QUEUE_PATH")
    web = {"TWELVE_REVIEW_SERVE_WORKERS": "false"}
    first, second = (
        start("serve", shared, processes, **web),
        start("serve", shared, processes, **web),
    )
    fake_openai.script(*[answer({"findings": []})] * 3)
    pulls = [a_pull(fake_github, npm_data) for _ in range(3)]
    for n, (_, payload) in enumerate(pulls):
        delivery = f"d-redis-{uuid.uuid4().hex}-{n}"
        assert first.deliver(payload, delivery) == 202
        assert second.deliver(payload, delivery) == 202  # GitHub's redelivery, elsewhere
    time.sleep(0.5)
    assert not any(reviews_posted(fake_github, p) for p, _ in pulls)  # web processes only accept
    worker = start("worker", shared, processes)
    _wait(lambda: all(reviews_posted(fake_github, p) == 1 for p, _ in pulls), 60, "3 reviews")
    for process in (worker, first, second):
        code, _ = process.stop()
        assert code == 0
    assert [reviews_posted(fake_github, p) for p, _ in pulls] == [1, 1, 1]
    assert len(fake_openai.requests) == 3
