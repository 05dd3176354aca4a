"""The durable queue: review jobs in a `JobStore` (SQLite file or Redis), run by
worker threads in this process, or only accepted here and run by `twelve-review
worker` processes elsewhere.

It keeps the in-memory queue's promises across processes and crashes:

- a delivery id is queued once, whichever replica it reaches (`seen` keys);
- newest wins per pull request: each job carries a token, the store keeps the
  newest token per PR, and a job whose token is no longer the newest is skipped
  before it starts and not posted after it ran (`Job.superseded`);
- one review per PR at a time, across processes (a leased per-PR lock: a job
  that finds it taken goes back on the schedule for a moment);
- a job is acked only after it ran: one whose process died is taken again once
  its lease runs out, and the publisher's fingerprints make that second run post
  nothing the first one already posted;
- `stop(grace)`: no new jobs are taken, running ones get `grace` seconds, and
  whatever is still running then is released to the queue for another worker.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.app.groupcommit import GroupCommit
from bot.app.queue import Job, Runner, Submitted, retry_delay
from bot.app.settings import AppSettings
from bot.app.store import Claim, JobStore, NewJob, RedisJobStore, SqliteJobStore, Stored
from bot.github.commands import Command

__all__ = [
    "REPLACED",
    "SUPERSEDED",
    "DurableQueue",
    "decode_job",
    "durable_queue",
    "encode_job",
    "open_store",
]

log = logging.getLogger("twelve_review.queue")

# A claim drops at most this many superseded jobs on its way (one store step).
_SKIP_PER_CLAIM = 100
SUPERSEDED = "skipped: a newer job for this pull request is queued"
REPLACED = "replaced a waiting job for the same PR"  # the in-memory queue's words too
# A job whose PR another worker is reviewing waits this long before trying again.
_BUSY_DELAY = 1.0
# A job its runner asked to run again (GitHub down, a long rate limit) backs off.
_BACKOFF_START = 60.0
_BACKOFF_MAX = 3600.0


def encode_job(job: Job, token: str) -> bytes:
    """A job as JSON: what crosses processes is data, never pickled code."""
    command = job.command
    return json.dumps(
        {
            "token": token,
            "delivery": job.delivery_id,
            "event": job.event,
            "action": job.action,
            "repo": job.repo_full_name,
            "number": job.number,
            "head_sha": job.head_sha,
            "installation": job.installation_id,
            "comment_id": job.comment_id,
            "commenter": job.commenter,
            "association": job.association,
            "command": None
            if command is None
            else {
                "kind": command.kind,
                "full": command.full,
                "factors": sorted(command.factors),
                "target": command.target,
                "not_understood": list(command.not_understood),
            },
        },
        separators=(",", ":"),
    ).encode()


def decode_job(data: bytes) -> tuple[Job, str]:
    """The job and its token, from `encode_job`'s bytes."""
    raw: dict[str, Any] = json.loads(data)
    spec = raw["command"]
    command = (
        None
        if spec is None
        else Command(
            spec["kind"],
            full=bool(spec["full"]),
            factors=frozenset(int(f) for f in spec["factors"]),
            target=spec["target"],
            not_understood=tuple(spec["not_understood"]),
        )
    )
    job = Job(
        delivery_id=raw["delivery"],
        event=raw["event"],
        action=raw["action"],
        repo_full_name=raw["repo"],
        number=int(raw["number"]),
        head_sha=raw["head_sha"],
        installation_id=int(raw["installation"]),
        command=command,
        comment_id=raw["comment_id"],
        commenter=raw["commenter"],
        association=raw["association"],
    )
    return job, str(raw["token"])


def _readable(data: bytes) -> tuple[Job, str] | None:
    """`decode_job`, or None for bytes that are not a job (never an exception)."""
    try:
        return decode_job(data)
    except (ValueError, KeyError, TypeError):
        return None


def _log_superseded(data: bytes) -> None:
    """The line a job dropped by its claim ends with (its delivery's last word)."""
    decoded = _readable(data)
    if decoded is None:
        log.error("dropped an unreadable superseded job")
        return
    log.info(SUPERSEDED, extra=decoded[0].log_fields())


def _log_replaced(job: Job, replaced: bytes) -> None:
    older = _readable(replaced)
    log.info(
        REPLACED,
        extra={**job.log_fields(), "replaced_delivery": older and older[0].delivery_id},
    )


@dataclass
class _Running:
    job: Job
    claim: Claim
    key: str
    owner: str  # of the PR lock: one per claim, so two threads here never share it
    token: str


class DurableQueue:
    """A `ReviewQueue` over a shared `JobStore`; `workers=0` only accepts."""

    def __init__(
        self,
        store: JobStore,
        runner: Runner,
        workers: int = 2,
        *,
        lease_seconds: float = 60.0,
        max_pending: int = 1000,
        poll_seconds: float = 0.2,
        max_attempts: int = 3,
        max_retries: int = 8,
        backoff_seconds: float = _BACKOFF_START,
    ) -> None:
        if workers < 0:
            raise ValueError("workers must be 0 or more")
        self._store = store
        self._runner = runner
        self._workers = workers
        self._lease = lease_seconds
        self._max_pending = max_pending
        self._poll = poll_seconds
        self._max_attempts = max_attempts
        self._max_retries = max_retries
        self._backoff = backoff_seconds
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._cond = threading.Condition()
        self._running: dict[int, _Running] = {}  # by worker thread id
        self._threads: list[threading.Thread] = []
        self._started = False
        self._stopping = False
        self._stopped = threading.Event()
        self._group = GroupCommit[NewJob, Stored](self._submit_many)

    # -- state

    @property
    def accepting(self) -> bool:
        """Ready for work (the readiness probe): started, not stopping, workers
        alive, the store reachable."""
        with self._cond:
            if not self._started or self._stopping:
                return False
            if self._workers and not any(t.is_alive() for t in self._threads):
                return False
        try:
            self._store.pending()
        except Exception:
            return False
        return True

    @property
    def pending(self) -> int:
        return self._store.pending()

    @property
    def running(self) -> int:
        with self._cond:
            return len(self._running)

    # -- lifecycle

    def start(self) -> DurableQueue:
        with self._cond:
            if self._started:
                return self
            self._started = True
            targets = [self._keep_leases] if self._workers else []
            targets += [self._work] * self._workers
            for n, target in enumerate(targets):
                thread = threading.Thread(
                    target=target, name=f"twelve-review-queue-{n}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
        return self

    def submit(self, job: Job) -> Submitted:
        """Store the job. Also while stopping: the store is durable, and another
        process (or this one, restarted) takes it."""
        if not self._started:
            return Submitted.REJECTED
        try:
            (answer,) = self._submit_many([self._new_job(job)])
        except Exception:
            log.exception("could not store the job", extra=job.log_fields())
            return Submitted.REJECTED
        return self._submitted(job, answer)

    async def enqueue(self, job: Job) -> Submitted:
        """`submit` for the event loop: the store write is grouped with others'
        (`GroupCommit`), so the loop goes on answering meanwhile."""
        if not self._started:
            return Submitted.REJECTED
        try:
            answer = await self._group.write(self._new_job(job))
        except Exception:
            log.exception("could not store the job", extra=job.log_fields())
            return Submitted.REJECTED
        return self._submitted(job, answer)

    def _submit_many(self, jobs: Sequence[NewJob]) -> list[Stored]:
        return self._store.submit_many(jobs, self._max_pending)

    @staticmethod
    def _new_job(job: Job) -> NewJob:
        token = uuid.uuid4().hex
        return NewJob(job.delivery_id, job.key_text, token, encode_job(job, token))

    def _submitted(self, job: Job, stored: Stored) -> Submitted:
        # "queued" and "duplicate" are logged by the caller (the server's one line
        # per delivery says which): a second line here would double the log's cost.
        answer, replaced = stored
        if replaced is not None:  # the replaced job's delivery ends here: say so
            _log_replaced(job, replaced)
        if answer == "duplicate":
            return Submitted.DUPLICATE
        if answer == "full":
            log.warning("queue full", extra=job.log_fields())
            return Submitted.REJECTED
        with self._cond:
            self._cond.notify()  # wake a local worker now rather than at its next poll
        return Submitted.QUEUED

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the store holds nothing waiting or claimed; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._store.pending() or self._store.claimed():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def stop(self, grace_seconds: float = 25.0) -> bool:
        """Take no new jobs; give running ones `grace_seconds`; release what is left
        to the queue (another worker takes it at once). True when all finished."""
        with self._cond:
            first = not self._stopping
            self._stopping = True
            self._cond.notify_all()
        if not first:
            self._stopped.wait()
            return not self._running
        deadline = time.monotonic() + grace_seconds
        with self._cond:
            while self._running and time.monotonic() < deadline:
                self._cond.wait(min(0.05, max(0.0, deadline - time.monotonic())))
            left = list(self._running.values())
            self._running.clear()
        for running in left:
            running.job.cancel()  # the runner checks this before it posts
            self._store.release(running.claim.id, 0.0)
            self._store.unlock_pull(running.key, running.owner)
            log.warning(
                "shutdown: still running after the grace period, released to the queue",
                extra=running.job.log_fields(),
            )
        self._stopped.set()
        # Idle workers end within one poll; one still inside a released review is
        # left to finish on its own (it is cancelled: it posts nothing).
        until = time.monotonic() + 1.0
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, until - time.monotonic()))
        return not left

    # -- workers

    def _keep_leases(self) -> None:
        """Renew this process's leases; put back claims of processes that died and
        scheduled jobs that are due."""
        period = max(0.05, min(self._lease / 3, 0.5))  # also how late a due retry may start
        while not self._stopped.wait(period):
            try:
                with self._cond:
                    held = list(self._running.values())
                self._store.renew(
                    [r.claim.id for r in held], [(r.key, r.owner) for r in held], self._lease
                )
                recovered = self._store.recover()
                if recovered:
                    log.warning("re-queued %d job(s) of a process that stopped", recovered)
                if self._store.promote():
                    with self._cond:
                        self._cond.notify_all()
            except Exception:  # the store is away for a moment: try again next period
                log.exception("queue upkeep failed")

    def _next(self) -> Claim | None:
        """A claimed job, or None when stopping."""
        while True:
            with self._cond:
                if self._stopping:
                    return None
            try:
                claim, skipped = self._store.claim_current(self._lease, _SKIP_PER_CLAIM)
            except Exception:
                log.exception("could not read the queue")
                claim, skipped = None, []
            for data in skipped:
                _log_superseded(data)
            if claim is not None:
                return claim
            if skipped:
                continue  # more may wait behind them: no pause
            with self._cond:
                if self._stopping:
                    return None
                self._cond.wait(self._poll)

    def _work(self) -> None:
        me = threading.get_ident()
        while True:
            claim = self._next()
            if claim is None:
                return
            decoded = _readable(claim.data)
            if decoded is None:
                log.error("dropped an unreadable job", extra={"claim": claim.id})
                self._store.ack(claim.id)
                continue
            job, token = decoded
            key = job.key_text
            if claim.attempts >= self._max_attempts:
                # Its process died every time it ran (out of memory, say): one more
                # try would take the next process down too.
                log.error(
                    "dropped: the process running this job stopped %d times",
                    claim.attempts,
                    extra=job.log_fields(),
                )
                self._store.ack(claim.id)
                continue
            if self._store.newest(key) != token:  # since its claim, or past the skip limit
                log.info(SUPERSEDED, extra=job.log_fields())
                self._store.ack(claim.id)
                continue
            owner = f"{self._owner}/{claim.id}"
            if not self._store.lock_pull(key, owner, self._lease):
                self._store.release(claim.id, _BUSY_DELAY)  # another worker reviews this PR
                continue
            job.superseded = lambda key=key, token=token: self._store.newest(key) != token
            running = _Running(job, claim, key, owner, token)
            with self._cond:
                if self._stopping:  # stop() began while this job was being claimed
                    self._store.release(claim.id, 0.0)
                    self._store.unlock_pull(key, owner)
                    return
                self._running[me] = running
            self._run(running)

    def _run(self, running: _Running) -> None:
        job, claim = running.job, running.claim
        me = threading.get_ident()
        outcome: object = None
        try:
            outcome = self._runner(job)
        except Exception:
            log.exception("review job failed", extra=job.log_fields())
        with self._cond:
            mine = self._running.pop(me, None) is not None
            self._cond.notify_all()
        if not mine:
            return  # stop() released it already: another worker owns it now
        self._store.unlock_pull(running.key, running.owner)  # before the ack: join() waits on acks
        delay = retry_delay(outcome)
        retries = f"retries:{running.token}"
        if delay is None:
            self._store.ack(claim.id)
            self._store.delete_counter(retries)
            return
        tries = int(self._store.incr(retries))
        if tries > self._max_retries:
            log.error("dropped: asked to run again %d times", tries - 1, extra=job.log_fields())
            self._store.ack(claim.id)
            self._store.delete_counter(retries)
            return
        # Each try waits at least twice the last (a minute, two, four...; an hour at
        # most), and never less than the runner asked (a rate limit's reset).
        delay = max(delay, min(self._backoff * 2 ** (tries - 1), _BACKOFF_MAX))
        log.info("will run again in %.0f s (try %d)", delay, tries, extra=job.log_fields())
        self._store.release(claim.id, delay)


def open_store(settings: AppSettings) -> JobStore:
    """Redis when REDIS_URL is set (replicas share it), else the SQLite file."""
    if settings.redis_url is not None:
        return RedisJobStore(settings.redis_url.get_secret_value())
    settings.queue_path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteJobStore(str(settings.queue_path))


def durable_queue(
    settings: AppSettings, runner: Runner, workers: int, store: JobStore
) -> DurableQueue:
    """The App's queue on `store` (`open_store`), as its settings describe it, with
    `workers` threads here."""
    return DurableQueue(
        store,
        runner,
        workers,
        lease_seconds=settings.job_lease,
        max_pending=settings.max_pending,
        max_attempts=settings.max_attempts,
    )
