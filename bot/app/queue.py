"""An in-process job queue: a pool of worker threads running reviews.

Reviews are blocking I/O (PyGithub), so threads. The queue

- dedupes by delivery id: a redelivery (same `X-GitHub-Delivery`) is accepted
  but not queued again (the last `remember` ids are kept);
- coalesces by pull request: a newer job for the same (repo, PR) replaces the
  one still waiting, and marks a running one for another head SHA cancelled
  (the runner checks `job.cancelled` before it posts);
- never runs two jobs for the same PR at once;
- never dies with a job: a runner's exception is logged and the worker goes on.

The queue holds work only in memory: jobs still waiting when the process stops
are logged (delivery ids) and can be redelivered from GitHub. `twelve-review
serve` uses the durable queue (`bot.app.durable`) instead; this one serves
`create_app`'s default, the tests and embedding, and defines what both share:
`Job`, `Submitted`, `ReviewQueue`.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from bot.github.commands import Command

__all__ = ["Job", "JobQueue", "ReviewQueue", "Runner", "Submitted", "retry_delay"]

log = logging.getLogger("twelve_review.queue")


@dataclass
class Job:
    """One review to do: a PR at a head SHA, from one webhook delivery."""

    delivery_id: str
    event: str
    action: str
    repo_full_name: str
    number: int
    head_sha: str  # empty for a command: the runner reviews the current head
    installation_id: int
    command: Command | None = None  # a /twelve-review comment, when it asked for this job
    comment_id: int | None = None
    commenter: str | None = None
    association: str | None = None  # the commenter's author_association
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)
    # Set by a shared queue: True once another process queued a newer job for the PR.
    superseded: Callable[[], bool] | None = field(default=None, repr=False, compare=False)

    @property
    def key_text(self) -> str:
        """`key` as one string, for a store shared between processes."""
        repo, number, comment = self.key
        return f"{repo}#{number}#{comment}"

    @property
    def key(self) -> tuple[str, int, int]:
        """Jobs with one key coalesce: reviews of one PR share a key; a help or
        explain reply is its own job and never replaces or cancels a review."""
        if self.command is not None and self.command.kind != "review":
            return (self.repo_full_name.lower(), self.number, self.comment_id or 0)
        return (self.repo_full_name.lower(), self.number, 0)

    @property
    def cancelled(self) -> bool:
        """True once a newer job for the same PR (or shutdown) made this one moot."""
        if self._cancel.is_set():
            return True
        return self.superseded is not None and self.superseded()

    def cancel(self) -> None:
        self._cancel.set()

    def log_fields(self) -> dict[str, object]:
        return {
            "delivery": self.delivery_id,
            "event": self.event,
            "action": self.action,
            "repo": self.repo_full_name,
            "pr": self.number,
            "head_sha": self.head_sha,
            "installation": self.installation_id,
        }


Runner = Callable[[Job], object]
"""Reviews a job. What it returns may carry `retry_in` (seconds): the job ran into
a limit (GitHub's rate limit) and should run again that much later."""


def retry_delay(outcome: object) -> float | None:
    """Seconds after which a runner's outcome asks to run the job again, or None."""
    seconds = getattr(outcome, "retry_in", None)
    return float(seconds) if isinstance(seconds, int | float) and seconds >= 0 else None


class ReviewQueue(Protocol):
    """What the webhook server needs of a queue: the in-memory one or the durable one."""

    @property
    def accepting(self) -> bool: ...
    @property
    def pending(self) -> int: ...
    @property
    def running(self) -> int: ...
    def start(self) -> ReviewQueue: ...
    def submit(self, job: Job) -> Submitted: ...
    async def enqueue(self, job: Job) -> Submitted: ...  # submit, from the event loop
    def join(self, timeout: float | None = None) -> bool: ...
    def stop(self, grace_seconds: float = 10.0) -> bool: ...


class Submitted(enum.Enum):
    QUEUED = "queued"
    DUPLICATE = "duplicate"  # same delivery id seen before: not queued again
    REJECTED = "rejected"  # stopping, or the queue is full


class JobQueue:
    """Worker threads over a coalescing, deduplicating queue of review jobs."""

    def __init__(
        self,
        runner: Runner,
        workers: int = 2,
        *,
        max_pending: int = 1000,
        remember: int = 10_000,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self._runner = runner
        self._workers = workers
        self._max_pending = max_pending
        self._remember = remember
        self._cond = threading.Condition()
        self._pending: OrderedDict[tuple[str, int, int], Job] = OrderedDict()
        self._running: dict[tuple[str, int, int], Job] = {}
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._threads: list[threading.Thread] = []
        self._started = False
        self._stopping = False

    # -- state

    @property
    def accepting(self) -> bool:
        """Whether `submit` takes work now (started, not stopping, room left)."""
        with self._cond:
            return self._accepting_locked()

    def _accepting_locked(self) -> bool:
        alive = any(t.is_alive() for t in self._threads)
        return (
            self._started
            and not self._stopping
            and alive
            and len(self._pending) < self._max_pending
        )

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._pending)

    @property
    def running(self) -> int:
        with self._cond:
            return len(self._running)

    # -- lifecycle

    def start(self) -> JobQueue:
        """Start the workers (once; later calls do nothing)."""
        with self._cond:
            if self._started:
                return self
            self._started = True
            for n in range(self._workers):
                thread = threading.Thread(
                    target=self._work, name=f"twelve-review-worker-{n}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
        return self

    def submit(self, job: Job) -> Submitted:
        with self._cond:
            if job.delivery_id in self._seen:
                self._seen.move_to_end(job.delivery_id)
                log.info("duplicate delivery, not queued again", extra=job.log_fields())
                return Submitted.DUPLICATE
            if not self._accepting_locked():
                log.warning("queue not accepting work", extra=job.log_fields())
                return Submitted.REJECTED
            self._seen[job.delivery_id] = None
            while len(self._seen) > self._remember:
                self._seen.popitem(last=False)
            older = self._pending.pop(job.key, None)
            if older is not None:
                older.cancel()
                log.info(
                    "replaced a waiting job for the same PR",
                    extra={**job.log_fields(), "replaced_delivery": older.delivery_id},
                )
            running = self._running.get(job.key)
            if running is not None and job.head_sha and running.head_sha != job.head_sha:
                running.cancel()
                log.info(
                    "cancelled a running job for an older head",
                    extra={**job.log_fields(), "replaced_delivery": running.delivery_id},
                )
            self._pending[job.key] = job
            self._cond.notify_all()
            log.info("queued", extra=job.log_fields())
            return Submitted.QUEUED

    async def enqueue(self, job: Job) -> Submitted:
        return self.submit(job)  # memory only: nothing that would block the loop

    def join(self, timeout: float | None = None) -> bool:
        """Wait until nothing is waiting or running; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._pending or self._running:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def stop(self, grace_seconds: float = 10.0) -> bool:
        """Take no more work, let jobs finish for up to `grace_seconds`, then
        cancel what is left and end the workers. True when everything finished."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        drained = self.join(grace_seconds)
        with self._cond:
            dropped = list(self._pending.values())
            self._pending.clear()
            for job in [*dropped, *self._running.values()]:
                job.cancel()
            self._cond.notify_all()
        for job in dropped:
            log.warning("dropped at shutdown (redeliver to retry)", extra=job.log_fields())
        for thread in self._threads:
            thread.join(timeout=1.0)
        return drained

    # -- workers

    def _next_job(self) -> Job | None:
        """The oldest waiting job whose PR is not being reviewed; None to exit."""
        with self._cond:
            while True:
                for key, job in self._pending.items():
                    if key not in self._running:
                        del self._pending[key]
                        self._running[key] = job
                        return job
                if self._stopping and not self._pending:
                    return None
                self._cond.wait()

    def _work(self) -> None:
        while True:
            job = self._next_job()
            if job is None:
                return
            try:
                if job.cancelled:
                    log.info("skipped: cancelled before it started", extra=job.log_fields())
                else:
                    self._runner(job)
            except Exception:
                log.exception("review job failed", extra=job.log_fields())
            finally:
                with self._cond:
                    if self._running.get(job.key) is job:
                        del self._running[job.key]
                    self._cond.notify_all()
