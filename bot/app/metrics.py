"""The App's metrics, in Prometheus' text format at `GET /metrics`.

One registry per App (not prometheus-client's global one), so several Apps in
one process (tests, benchmarks) never mix their counts. What is counted:
deliveries by event and outcome, jobs waiting and running, how long a review
takes, findings by factor and source, the model's tokens and failures, and
GitHub API calls by method and status class.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any

import requests
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from bot.engine import ReviewResult

__all__ = ["CONTENT_TYPE", "AppMetrics", "count_github_calls"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
# Deliveries are answered with these statuses; the label says what each means.
OUTCOMES = {
    200: "ignored",
    202: "accepted",
    400: "bad-request",
    401: "bad-signature",
    413: "too-large",
    503: "unavailable",
}
_REVIEW_SECONDS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)


class AppMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.deliveries = Counter(
            "twelve_review_deliveries",
            "Webhook deliveries answered.",
            ["event", "outcome"],
            registry=r,
        )
        self.queue_depth = Gauge(
            "twelve_review_queue_depth", "Review jobs waiting or running.", ["state"], registry=r
        )
        self.review_seconds = Histogram(
            "twelve_review_review_duration_seconds",
            "Time from a job's start to its end (posted, skipped or failed).",
            buckets=_REVIEW_SECONDS,
            registry=r,
        )
        self.reviews = Counter(
            "twelve_review_reviews", "Review jobs finished, by outcome.", ["outcome"], registry=r
        )
        self.findings = Counter(
            "twelve_review_findings", "Open findings per review.", ["factor", "source"], registry=r
        )
        self.llm_tokens = Counter(
            "twelve_review_llm_tokens", "Model tokens spent.", ["kind"], registry=r
        )
        self.llm_errors = Counter(
            "twelve_review_llm_errors",
            "Model trouble: requests given up, or answers dropped.",
            ["reason"],
            registry=r,
        )
        self.github_calls = Counter(
            "twelve_review_github_api_calls",
            "GitHub API requests, by method and status class (2xx, 4xx, ...).",
            ["method", "status"],
            registry=r,
        )

    def delivery(self, event: str, status: int) -> None:
        self.deliveries.labels(event or "unknown", OUTCOMES.get(status, str(status))).inc()

    def watch_queue(self, pending: Callable[[], int], running: Callable[[], int]) -> None:
        self.queue_depth.labels("pending").set_function(_or_nan(pending))
        self.queue_depth.labels("running").set_function(_or_nan(running))

    def review_done(self, result: ReviewResult) -> None:
        for finding in result.findings:
            self.findings.labels(str(finding.factor), finding.source).inc()
        report = result.llm
        self.llm_tokens.labels("prompt").inc(report.prompt_tokens)
        self.llm_tokens.labels("completion").inc(report.completion_tokens)
        if report.status == "unavailable":
            self.llm_errors.labels("unavailable").inc()
        for reason, count in report.dropped.items():
            self.llm_errors.labels(f"dropped:{reason}").inc(count)

    def render(self) -> bytes:
        return generate_latest(self.registry)


_PATCH_LOCK = threading.Lock()
_COUNTERS: dict[str, Counter] = {}  # GitHub API base URL -> its calls counter


def count_github_calls(api_url: str, counter: Counter) -> None:
    """Count every request PyGithub sends to `api_url` (through `requests`).

    PyGithub has no request hook, and its requester is copied into every object
    it returns, so the count is taken where all of them meet: requests' Session.
    Installed once per process; other hosts (the model's) are not counted.
    """
    prefix = api_url.rstrip("/") + "/"
    with _PATCH_LOCK:
        _COUNTERS[prefix] = counter
        if getattr(requests.Session.send, "_twelve_review", False):
            return
        original = requests.Session.send

        def send(self: requests.Session, request: Any, **kwargs: Any) -> requests.Response:
            response = original(self, request, **kwargs)
            url = str(request.url or "")
            for base, calls in _COUNTERS.items():
                if url.startswith(base) or url == base.rstrip("/"):
                    calls.labels(str(request.method), f"{response.status_code // 100}xx").inc()
                    break
            return response

        send._twelve_review = True  # type: ignore[attr-defined]
        requests.Session.send = send  # type: ignore[method-assign]


def _or_nan(read: Callable[[], int]) -> Callable[[], float]:
    """`read`, or NaN ("unknown") while it fails: the queue's store (Redis) away for a
    moment must not fail the whole scrape."""

    def value() -> float:
        try:
            return float(read())
        except Exception:
            return math.nan

    return value
