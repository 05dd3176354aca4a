"""The App's two process types (factor VIII): `serve` (web: webhooks in, and by
default worker threads too) and `worker` (workers only). Both take their settings
from the environment, log JSON to stdout and stop gracefully on SIGTERM:

1. `/readyz` answers 503 at once, so the load balancer stops sending work
   (deliveries that still arrive are stored: they are durable, and another
   process, or this one after its restart, reviews them);
2. no new job is taken; a running review gets `TWELVE_REVIEW_SHUTDOWN_GRACE`
   seconds (25) to finish, then goes back to the queue;
3. the process exits 0 (a finished shutdown is not a crash).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from types import FrameType

import uvicorn
from prometheus_client import start_http_server

from bot.app.durable import DurableQueue, durable_queue, open_store
from bot.app.jobs import ReviewRunner
from bot.app.metrics import AppMetrics
from bot.app.server import create_app
from bot.app.settings import AppSettings

__all__ = ["run_server", "run_worker"]

log = logging.getLogger("twelve_review.process")

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class _GracefulServer(uvicorn.Server):
    """uvicorn, with the queue drained before it stops serving.

    On the first SIGTERM or SIGINT the queue stops (readiness turns 503, running
    reviews get the grace period) while uvicorn goes on answering; then uvicorn
    shuts down. A second signal stops at once, as uvicorn's own does."""

    def __init__(self, config: uvicorn.Config, queue: DurableQueue, grace: float) -> None:
        super().__init__(config)
        self._queue = queue
        self._grace = grace
        self._draining = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._draining or sig not in _STOP_SIGNALS:
            super().handle_exit(sig, frame)
            return
        self._draining = True
        log.info("stopping: draining the queue (grace %.0f s)", self._grace)
        threading.Thread(target=self._drain, name="twelve-review-drain", daemon=True).start()

    def _drain(self) -> None:
        self._queue.stop(self._grace)
        self.should_exit = True

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn raises a captured SIGTERM again once it has shut down, so the
        # process would end "killed by SIGTERM" (143): platforms count that as a crash.
        with super().capture_signals():
            yield
            self._captured_signals[:] = [  # private to uvicorn: see above
                s for s in self._captured_signals if s != signal.SIGTERM
            ]


def _queue(
    settings: AppSettings, workers: int, metrics: AppMetrics | None = None
) -> tuple[ReviewRunner, DurableQueue]:
    """The runner and the queue of one process, sharing the queue's store (and so
    the command interval and refusals with every other process of the App)."""
    store = open_store(settings)
    runner = ReviewRunner(settings, throttle=store, metrics=metrics)
    return runner, durable_queue(settings, runner, workers, store)


def run_server(settings: AppSettings) -> int:
    """`twelve-review serve`: the webhook server on HOST:PORT, until SIGTERM."""
    metrics = AppMetrics()  # the server's /metrics counts its own reviews too
    workers = settings.workers if settings.serve_workers else 0
    runner, queue = _queue(settings, workers, metrics)
    app = create_app(
        settings,
        runner,
        queue=queue,
        shutdown_grace_seconds=settings.shutdown_grace,
        metrics=metrics,
    )
    # No access log: the App writes one line per delivery itself, with its outcome.
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_config=None, access_log=False
    )
    _GracefulServer(config, queue, settings.shutdown_grace).run()
    return 0


def run_worker(settings: AppSettings) -> int:
    """`twelve-review worker`: review jobs from the shared queue, until SIGTERM.
    Its metrics are served on HOST:PORT (any path, Prometheus' text format)."""
    metrics = AppMetrics()
    _, queue = _queue(settings, settings.workers, metrics)
    metrics.watch_queue(lambda: queue.pending, lambda: queue.running)
    server, _ = start_http_server(settings.port, addr=settings.host, registry=metrics.registry)
    queue.start()
    stop = threading.Event()

    def on_signal(signum: int, _: FrameType | None) -> None:
        if stop.is_set():
            raise SystemExit(1)  # a second signal: stop now
        stop.set()

    for sig in _STOP_SIGNALS:
        signal.signal(sig, on_signal)
    log.info("worker started", extra={"workers": settings.workers})
    while not stop.wait(0.5):  # a timed wait: the signal handler runs between waits
        pass
    log.info("stopping: draining the queue (grace %.0f s)", settings.shutdown_grace)
    queue.stop(settings.shutdown_grace)
    server.shutdown()
    log.info("worker stopped")
    return 0
