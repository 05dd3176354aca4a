"""The durable queue, on SQLite and on a real Redis: what the in-memory queue
promised (dedupe, newest head wins, one review per PR at a time), now across
processes ("replicas" here are queues sharing one store, each with its own
owner id, exactly as two processes would), plus leases, retries and shutdown."""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.app.durable import REPLACED, DurableQueue, decode_job, encode_job
from bot.app.queue import Job, Submitted
from bot.app.store import JobStore, NewJob, RedisJobStore, SqliteJobStore, Submit
from bot.github.commands import Command

StoreFactory = Callable[[], JobStore]


@pytest.fixture(params=["sqlite", "redis"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Opens connections to one store: one per simulated process."""
    opened: list[JobStore] = []
    if request.param == "sqlite":
        path = str(tmp_path / "queue.db")

        def factory() -> JobStore:
            opened.append(SqliteJobStore(path))
            return opened[-1]
    else:
        url, name = request.getfixturevalue("redis_url"), uuid.uuid4().hex

        def factory() -> JobStore:
            opened.append(RedisJobStore(url, name=name))
            return opened[-1]

    yield factory
    for store in opened:
        store.close()


def job(delivery: str, number: int = 1, head: str = "a" * 40, **extra: object) -> Job:
    return Job(
        delivery_id=delivery,
        event="pull_request",
        action="synchronize",
        repo_full_name="octo/repo",
        number=number,
        head_sha=head,
        installation_id=7,
        **extra,  # type: ignore[arg-type]
    )


@dataclass
class Recorder:
    """A runner that records what ran, when, and whether it was superseded by the end."""

    hold: threading.Event | None = None
    seconds: float = 0.0
    ran: list[str] | None = None
    superseded_at_end: list[str] | None = None
    overlap: int = 0
    _active: int = 0

    def __post_init__(self) -> None:
        self.ran, self.superseded_at_end = [], []
        self._lock = threading.Lock()
        self.started = threading.Event()

    def __call__(self, job: Job) -> None:
        with self._lock:
            self._active += 1
            self.overlap = max(self.overlap, self._active)
        self.started.set()
        if self.hold is not None:
            self.hold.wait(10)
        time.sleep(self.seconds)
        with self._lock:
            self._active -= 1
            assert self.ran is not None and self.superseded_at_end is not None
            self.ran.append(job.delivery_id)
            if job.cancelled:
                self.superseded_at_end.append(job.delivery_id)


@dataclass
class RetryOutcome:
    """What a runner returns to ask for another run `retry_in` seconds later."""

    retry_in: float | None


def queue(store: JobStore, runner: Recorder, workers: int = 2, **options: float) -> DurableQueue:
    return DurableQueue(store, runner, workers, poll_seconds=0.02, **options).start()  # type: ignore[arg-type]


def test_a_job_survives_encoding_with_its_command() -> None:
    command = Command("review", full=True, factors=frozenset({3, 11}))
    original = job("d1", comment_id=5, commenter="octocat", association="MEMBER", command=command)
    decoded, token = decode_job(encode_job(original, "tok"))
    assert token == "tok"
    assert decoded == original
    assert decoded.command == command


def test_every_job_runs_once(stores: StoreFactory) -> None:
    runner = Recorder()
    jobs = queue(stores(), runner)
    for n in range(20):
        assert jobs.submit(job(f"d{n}", number=n)) is Submitted.QUEUED
    assert jobs.join(10)
    jobs.stop(1)
    assert sorted(runner.ran or []) == sorted(f"d{n}" for n in range(20))


def test_a_delivery_reaching_two_replicas_is_reviewed_once(stores: StoreFactory) -> None:
    runner = Recorder()
    a, b = queue(stores(), runner), queue(stores(), runner)
    assert a.submit(job("same")) is Submitted.QUEUED
    assert b.submit(job("same")) is Submitted.DUPLICATE
    assert a.join(10) and b.join(10)
    a.stop(1), b.stop(1)
    assert runner.ran == ["same"]


def test_newest_head_wins_across_replicas(stores: StoreFactory) -> None:
    hold = threading.Event()
    runner = Recorder(hold=hold)
    a, b = queue(stores(), runner, workers=1), queue(stores(), runner, workers=1)
    a.submit(job("first", head="1" * 40))
    assert runner.started.wait(5)  # "first" is running, held
    b.submit(job("second", head="2" * 40))
    a.submit(job("third", head="3" * 40))
    b.submit(job("fourth", head="4" * 40))
    hold.set()
    assert a.join(10) and b.join(10)
    a.stop(1), b.stop(1)
    # the running one finished but saw itself superseded (the runner then posts nothing);
    # the two that waited were skipped; the newest ran
    assert runner.ran == ["first", "fourth"]
    assert runner.superseded_at_end == ["first"]


def test_a_burst_of_pushes_keeps_one_job_and_logs_every_replaced_delivery(
    stores: StoreFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Thirty pushes to one PR while no worker runs: each replaces the one waiting,
    so one job waits (one of the limit's slots), and each replaced delivery ends with
    a line naming it; the worker then runs the newest alone."""
    web = queue(stores(), Recorder(), workers=0, max_pending=2)
    with caplog.at_level(logging.INFO, logger="twelve_review.queue"):
        for n in range(30):
            assert web.submit(job(f"push-{n}", head=f"{n:040d}")) is Submitted.QUEUED
    assert web.pending == 1
    replaced = [
        (r.delivery, r.replaced_delivery)  # type: ignore[attr-defined]
        for r in caplog.records
        if r.getMessage() == REPLACED
    ]
    assert replaced == [(f"push-{n + 1}", f"push-{n}") for n in range(29)]
    runner = Recorder()
    worker = queue(stores(), runner, workers=2)
    assert worker.join(10)
    web.stop(1), worker.stop(1)
    assert runner.ran == ["push-29"]


def test_one_review_per_pull_request_at_a_time_across_replicas(stores: StoreFactory) -> None:
    runner = Recorder(seconds=0.05)
    a, b = queue(stores(), runner, workers=3), queue(stores(), runner, workers=3)
    # a command's reply has its own key: it may run beside the PR's review
    help_command = Command("help")
    a.submit(job("review", head="1" * 40))
    b.submit(job("help", head="", command=help_command, comment_id=9))
    assert a.join(10) and b.join(10)
    assert sorted(runner.ran or []) == ["help", "review"]
    a.stop(1), b.stop(1)

    active: dict[int, int] = {}
    worst: dict[int, int] = {}
    ran: list[str] = []
    guard = threading.Lock()

    def per_pr(job: Job) -> None:
        with guard:
            active[job.number] = active.get(job.number, 0) + 1
            worst[job.number] = max(worst.get(job.number, 0), active[job.number])
        time.sleep(0.05)
        with guard:
            active[job.number] -= 1
            ran.append(job.delivery_id)

    c = DurableQueue(stores(), per_pr, 3, poll_seconds=0.01).start()
    d = DurableQueue(stores(), per_pr, 3, poll_seconds=0.01).start()
    for n in range(6):  # six PRs, each asked for twice, through both replicas, at once
        c.submit(job(f"c{n}", number=100 + n))
        d.submit(job(f"d{n}", number=100 + n))
    assert c.join(10) and d.join(10)
    c.stop(1), d.stop(1)
    assert set(worst) == {100 + n for n in range(6)}
    assert max(worst.values()) == 1
    assert {f"d{n}" for n in range(6)} <= set(ran)  # the newest of each PR always ran


def test_the_pull_request_lock_keeps_two_reviews_of_one_pr_apart(stores: StoreFactory) -> None:
    """Two jobs for one PR claimed at once by two replicas: the second waits for the lock."""
    store = stores()
    hold = threading.Event()
    runner = Recorder(hold=hold)
    a = queue(store, runner, workers=1)
    a.submit(job("running", head="1" * 40))
    assert runner.started.wait(5)
    # a replica that claims a job for the same PR while "running" holds its lock
    other = stores()
    assert not other.lock_pull("octo/repo#1#0", "replica-b", 30)
    hold.set()
    assert a.join(10)
    a.stop(1)
    assert other.lock_pull("octo/repo#1#0", "replica-b", 30)  # released after the run
    assert runner.overlap == 1


def test_a_job_of_a_dead_process_runs_once_its_lease_ends(stores: StoreFactory) -> None:
    dead = stores()
    dead.submit_many(
        [NewJob("orphan", "octo/repo#1#0", "tok", encode_job(job("orphan"), "tok"))], 100
    )
    # taken by a process that is then killed
    assert dead.claim_current(lease=0.3, skip=0)[0] is not None
    runner = Recorder()
    alive = queue(stores(), runner, lease_seconds=0.3)
    assert alive.join(10)
    alive.stop(1)
    assert runner.ran == ["orphan"]


def test_a_long_review_keeps_its_claim(stores: StoreFactory) -> None:
    runner = Recorder(seconds=1.0)  # lasts three leases; each replica renews every 0.1 s
    a = queue(stores(), runner, workers=1, lease_seconds=0.3)
    b = queue(stores(), runner, workers=1, lease_seconds=0.3)
    a.submit(job("long"))
    assert a.join(10) and b.join(10)
    a.stop(1), b.stop(1)
    assert runner.ran == ["long"]  # the replica not running it never took it over


def test_a_runner_asking_to_retry_runs_again_later(stores: StoreFactory) -> None:
    outcomes = iter([0.3, None])
    ran: list[float] = []

    def runner(job: Job) -> RetryOutcome:
        ran.append(time.monotonic())
        return RetryOutcome(next(outcomes))

    jobs = DurableQueue(stores(), runner, 1, poll_seconds=0.02, backoff_seconds=0.1).start()
    jobs.submit(job("limited"))
    deadline = time.monotonic() + 10
    while len(ran) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert jobs.join(10)
    jobs.stop(1)
    assert len(ran) == 2 and ran[1] - ran[0] >= 0.3  # what the runner asked, not less


def test_retries_back_off_and_end(stores: StoreFactory) -> None:
    """A job that keeps asking to run again (GitHub down for hours) waits twice as
    long each time, and is dropped after `max_retries` more runs."""
    ran: list[float] = []

    def runner(job: Job) -> RetryOutcome:
        ran.append(time.monotonic())
        return RetryOutcome(0.0)

    store = stores()
    jobs = DurableQueue(
        store, runner, 1, poll_seconds=0.02, backoff_seconds=0.2, max_retries=3
    ).start()
    jobs.submit(job("down"))
    deadline = time.monotonic() + 15
    while len(ran) < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert jobs.join(10)
    jobs.stop(1)
    assert len(ran) == 4  # the first run and three retries, then dropped
    waits = [b - a for a, b in itertools.pairwise(ran)]
    assert waits[0] >= 0.2 and waits[1] >= 0.4 and waits[2] >= 0.8
    assert store.pending() == 0 and store.claimed() == 0


def test_stop_lets_a_short_review_finish(stores: StoreFactory) -> None:
    runner = Recorder(seconds=0.3)
    jobs = queue(stores(), runner, workers=1)
    jobs.submit(job("short"))
    assert runner.started.wait(5)
    assert jobs.stop(grace_seconds=5) is True
    assert runner.ran == ["short"]
    assert not jobs.accepting


def test_stop_releases_a_review_past_its_grace_to_another_replica(stores: StoreFactory) -> None:
    hold = threading.Event()
    slow = Recorder(hold=hold)
    leaving = queue(stores(), slow, workers=1)
    leaving.submit(job("long"))
    assert slow.started.wait(5)
    started = time.monotonic()
    assert leaving.stop(grace_seconds=0.3) is False
    assert time.monotonic() - started < 5  # not the 10 s the review is held
    hold.set()  # the old thread ends; the job was cancelled, so it posts nothing
    staying_runner = Recorder()
    staying = queue(stores(), staying_runner)
    assert staying.join(10)
    staying.stop(1)
    assert staying_runner.ran == ["long"]
    assert slow.superseded_at_end == ["long"]


def test_deliveries_are_stored_while_stopping(stores: StoreFactory) -> None:
    """Readiness turns 503 at once, but a delivery already on its way is not lost:
    it is stored for the next process."""
    hold = threading.Event()
    runner = Recorder(hold=hold)
    jobs = queue(stores(), runner, workers=1)
    jobs.submit(job("running"))
    assert runner.started.wait(5)
    stopping = threading.Thread(target=jobs.stop, args=(5,))
    stopping.start()
    deadline = time.monotonic() + 5
    while jobs.accepting and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not jobs.accepting
    assert jobs.submit(job("late", number=2)) is Submitted.QUEUED
    hold.set()
    stopping.join(5)
    assert runner.ran == ["running"]
    next_runner = Recorder()
    restarted = queue(stores(), next_runner)
    assert restarted.join(10)
    restarted.stop(1)
    assert next_runner.ran == ["late"]


def test_web_only_process_stores_and_never_runs(stores: StoreFactory) -> None:
    runner = Recorder()
    web = queue(stores(), runner, workers=0)
    assert web.accepting
    web.submit(job("for a worker"))
    time.sleep(0.2)
    assert runner.ran == [] and web.pending == 1
    worker = queue(stores(), runner)
    assert worker.join(10)
    web.stop(1), worker.stop(1)
    assert runner.ran == ["for a worker"]


def test_a_full_store_is_refused(stores: StoreFactory) -> None:
    web = queue(stores(), Recorder(), workers=0, max_pending=2)
    assert web.submit(job("a", number=1)) is Submitted.QUEUED
    assert web.submit(job("b", number=2)) is Submitted.QUEUED
    assert web.submit(job("c", number=3)) is Submitted.REJECTED
    web.stop(0)


def test_a_job_whose_process_keeps_dying_is_dropped_after_max_attempts(
    stores: StoreFactory,
) -> None:
    store = stores()
    poison = NewJob("poison", "octo/repo#1#0", "tok", encode_job(job("poison"), "tok"))
    store.submit_many([poison], 100)
    for _ in range(2):  # two processes die running it
        assert store.claim_current(lease=0.05, skip=0)[0] is not None
        time.sleep(0.1)
        assert store.recover() == 1
    runner = Recorder()
    alive = queue(stores(), runner, max_attempts=2)
    assert alive.join(10)
    alive.stop(1)
    assert runner.ran == []  # a third process is not taken down with it
    assert store.pending() == 0 and store.claimed() == 0


class CountingStore:
    """A store whose batch writes are counted (and can be made to fail)."""

    def __init__(self, store: JobStore) -> None:
        self._store = store
        self.batches: list[int] = []
        self.broken = False

    def submit_many(self, jobs: Sequence[NewJob], limit: int) -> list[Submit]:
        if self.broken:
            raise ConnectionError("the store went away")
        self.batches.append(len(jobs))
        time.sleep(0.01)  # a round trip or an fsync: deliveries gather meanwhile
        return self._store.submit_many(jobs, limit)

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)


def test_deliveries_from_the_event_loop_are_stored_in_shared_writes(stores: StoreFactory) -> None:
    """`enqueue`, as the server calls it: 60 deliveries in flight at once (10 of them
    a second replica's redeliveries), each answered right, far fewer store writes."""
    runner = Recorder()
    store = CountingStore(stores())
    web = DurableQueue(store, runner, workers=0, poll_seconds=0.02).start()  # type: ignore[arg-type]
    other = queue(stores(), runner, workers=0)

    async def deliver() -> list[Submitted]:
        fresh = [web.enqueue(job(f"d{n}", number=n)) for n in range(50)]
        again = [other.enqueue(job(f"d{n}", number=n)) for n in range(0, 50, 5)]
        return list(await asyncio.gather(*fresh, *again))

    answers = asyncio.run(deliver())
    fresh, again = answers[:50], dict(zip(range(0, 50, 5), answers[50:], strict=True))
    # a delivery reaching both replicas is queued by whichever wrote first, once
    for n, answer in enumerate(fresh):
        pair = {answer, again.get(n, Submitted.DUPLICATE)}
        assert pair == {Submitted.QUEUED, Submitted.DUPLICATE}, n
    assert sum(store.batches) == 50 and len(store.batches) < 10  # 50 stored, few writes
    worker = queue(stores(), runner)
    assert worker.join(10)
    web.stop(1), other.stop(1), worker.stop(1)
    assert sorted(runner.ran or []) == sorted(f"d{n}" for n in range(50))


def test_a_store_that_fails_a_write_refuses_each_delivery_of_it(stores: StoreFactory) -> None:
    store = CountingStore(stores())
    web = DurableQueue(store, Recorder(), workers=0).start()  # type: ignore[arg-type]
    store.broken = True

    async def deliver() -> list[Submitted]:
        return list(await asyncio.gather(*(web.enqueue(job(f"x{n}", n)) for n in range(5))))

    assert asyncio.run(deliver()) == [Submitted.REJECTED] * 5  # 503: GitHub shows it failed
    store.broken = False
    assert asyncio.run(web.enqueue(job("x1", 1))) is Submitted.QUEUED  # not remembered
    web.stop(0)


def test_a_queue_not_started_refuses_from_the_event_loop_too(stores: StoreFactory) -> None:
    web = DurableQueue(stores(), Recorder(), workers=0)
    assert asyncio.run(web.enqueue(job("early"))) is Submitted.REJECTED
    assert web.pending == 0
