"""The job stores' contract, the same for SQLite (a file) and Redis (a real server)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app.store import Claim, JobStore, NewJob, RedisJobStore, SqliteJobStore


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JobStore]:
    if request.param == "sqlite":
        made: JobStore = SqliteJobStore(str(tmp_path / "queue.db"))
    else:
        # a fresh name per test: the server is shared by the session
        made = RedisJobStore(request.getfixturevalue("redis_url"), name=uuid.uuid4().hex)
    yield made
    made.close()


def submit(
    store: JobStore,
    delivery: str,
    key: str = "o/r#1#0",
    limit: int = 100,
    *,
    token: str | None = None,
    data: bytes | None = None,
) -> str:
    """One job, submitted alone: its answer."""
    job = NewJob(delivery, key, token or "token-" + delivery, data or f"job {delivery}".encode())
    return store.submit_many([job], limit)[0][0]


def claim_one(store: JobStore, lease: float) -> Claim | None:
    """The oldest job claimed as it is (no superseded job dropped on the way)."""
    return store.claim_current(lease, skip=0)[0]


def test_a_job_is_claimed_once_and_gone_after_its_ack(store: JobStore) -> None:
    assert submit(store, "d1") == "queued"
    assert store.pending() == 1
    claim = claim_one(store, lease=30)
    assert claim is not None and claim.data == b"job d1"
    assert store.pending() == 0 and store.claimed() == 1
    assert claim_one(store, lease=30) is None
    store.ack(claim.id)
    assert store.claimed() == 0 and store.pending() == 0


def test_jobs_come_out_in_the_order_they_went_in(store: JobStore) -> None:
    for n in range(5):
        submit(store, f"d{n}", key=f"o/r#{n}#0")
    taken = [claim_one(store, 30) for _ in range(5)]
    assert [c.data for c in taken if c] == [f"job d{n}".encode() for n in range(5)]


def test_a_delivery_id_is_queued_once(store: JobStore) -> None:
    assert submit(store, "same") == "queued"
    assert submit(store, "same") == "duplicate"
    claim = claim_one(store, 30)
    assert claim is not None
    store.ack(claim.id)
    assert submit(store, "same") == "duplicate"  # remembered after it ran, too
    assert store.pending() == 0


def test_a_full_queue_refuses_and_forgets_the_delivery(store: JobStore) -> None:
    assert submit(store, "a", key="o/r#1#0", limit=2) == "queued"
    assert submit(store, "b", key="o/r#2#0", limit=2) == "queued"
    assert submit(store, "c", key="o/r#3#0", limit=2) == "full"
    claim = claim_one(store, 30)
    assert claim is not None
    store.ack(claim.id)
    assert submit(store, "c", key="o/r#3#0", limit=2) == "queued"  # a redelivery, later


def test_a_push_replaces_its_pull_requests_job_still_waiting(store: JobStore) -> None:
    assert store.submit_many([NewJob("a1", "o/r#1#0", "t1", b"job a1")], 10) == [("queued", None)]
    assert store.submit_many([NewJob("a2", "o/r#1#0", "t2", b"job a2")], 10) == [
        ("queued", b"job a1")  # its bytes: the queue logs which delivery ended here
    ]
    assert store.pending() == 1 and store.newest("o/r#1#0") == "t2"
    claim = claim_one(store, 30)
    assert claim is not None and claim.data == b"job a2"
    # a running job is not replaced: the new one waits beside it
    assert store.submit_many([NewJob("a3", "o/r#1#0", "t3", b"job a3")], 10) == [("queued", None)]
    assert store.pending() == 1 and store.claimed() == 1


def test_the_limit_counts_pull_requests_waiting_not_pushes(store: JobStore) -> None:
    pushes = [NewJob(f"a{n}", "o/r#1#0", f"t{n}", f"job a{n}".encode()) for n in range(5)]
    other = NewJob("b1", "o/r#2#0", "tb", b"job b1")
    answers = store.submit_many([*pushes, other], limit=2)
    assert [answer for answer, _ in answers] == ["queued"] * 6
    assert [replaced for _, replaced in answers] == [
        None, b"job a0", b"job a1", b"job a2", b"job a3", None
    ]  # fmt: skip
    assert store.pending() == 2
    third = NewJob("c1", "o/r#3#0", "tc", b"job c1")
    assert store.submit_many([third], limit=2) == [("full", None)]


def test_a_batch_is_submitted_in_order_as_one_by_one_would_be(store: JobStore) -> None:
    """Dedupe inside the batch and against what is stored, a later push replacing an
    earlier one still waiting, the limit counted as the batch fills the queue."""
    submit(store, "stored", key="o/r#9#0")
    batch = [
        NewJob("a", "o/r#1#0", "t-a", b"job a"),
        NewJob("stored", "o/r#1#0", "t-stored", b"again"),  # a redelivery: duplicate
        NewJob("b", "o/r#1#0", "t-b", b"job b"),  # a push to a's PR: replaces a
        NewJob("a", "o/r#1#0", "t-a2", b"job a again"),  # the same delivery twice in one batch
        NewJob("c", "o/r#2#0", "t-c", b"job c"),
        NewJob("d", "o/r#3#0", "t-d", b"job d"),  # the 4th PR waiting, a limit of 3: full
    ]
    answers = store.submit_many(batch, limit=3)
    assert answers == [
        ("queued", None),
        ("duplicate", None),
        ("queued", b"job a"),
        ("duplicate", None),
        ("queued", None),
        ("full", None),
    ]
    assert store.newest("o/r#1#0") == "t-b" and store.newest("o/r#3#0") is None
    taken = [claim_one(store, 30) for _ in range(4)]
    assert [c.data for c in taken if c] == [b"job stored", b"job b", b"job c"]
    # the refused delivery was not remembered: its redelivery is taken once there is room
    assert store.submit_many([NewJob("d", "o/r#3#0", "t-d", b"job d")], limit=3) == [
        ("queued", None)
    ]


def test_an_empty_batch_changes_nothing(store: JobStore) -> None:
    assert store.submit_many([], limit=3) == []
    assert store.pending() == 0


def test_the_newest_token_per_pull_request_is_kept(store: JobStore) -> None:
    assert store.newest("o/r#1#0") is None
    submit(store, "d1", "o/r#1#0", token="first", data=b"1")
    submit(store, "d2", "o/r#1#0", token="second", data=b"2")
    submit(store, "d3", "o/r#2#0", token="other", data=b"3")
    assert store.newest("o/r#1#0") == "second"
    assert store.newest("o/r#2#0") == "other"


def test_an_expired_claim_goes_back_to_the_front(store: JobStore) -> None:
    submit(store, "crashed")
    submit(store, "later", key="o/r#2#0")
    claim = claim_one(store, lease=0.2)  # a process takes it, then dies without an ack
    assert claim is not None and claim.data == b"job crashed"
    assert store.recover() == 0  # not yet: the lease still runs
    time.sleep(0.35)
    assert store.recover() == 1
    again = claim_one(store, 30)
    assert again is not None and again.data == b"job crashed"  # before "later"
    store.ack(claim.id)  # the dead process's ack, had it come, no longer matters
    assert store.claimed() == 1


def test_a_renewed_claim_is_not_recovered(store: JobStore) -> None:
    submit(store, "long review")
    claim = claim_one(store, lease=0.3)
    assert claim is not None
    for _ in range(4):
        time.sleep(0.15)
        store.renew([claim.id], [], lease=0.3)
    assert store.recover() == 0
    assert store.claimed() == 1


def test_a_released_job_runs_again_after_its_delay(store: JobStore) -> None:
    submit(store, "rate limited")
    claim = claim_one(store, 30)
    assert claim is not None
    store.release(claim.id, delay=0.3)
    assert store.claimed() == 0 and store.pending() == 1  # waiting on the schedule
    assert store.promote() == 0
    assert claim_one(store, 30) is None
    time.sleep(0.4)
    assert store.promote() == 1
    again = claim_one(store, 30)
    assert again is not None and again.data == b"job rate limited"


def test_a_pull_request_lock_has_one_owner_until_it_expires(store: JobStore) -> None:
    assert store.lock_pull("o/r#1#0", "replica-a", lease=0.3)
    assert store.lock_pull("o/r#1#0", "replica-a", lease=0.3)  # its owner may take it again
    assert not store.lock_pull("o/r#1#0", "replica-b", lease=0.3)
    assert store.lock_pull("o/r#2#0", "replica-b", lease=0.3)  # another PR is free
    store.unlock_pull("o/r#1#0", "replica-b")  # not the owner: nothing happens
    assert not store.lock_pull("o/r#1#0", "replica-b", lease=0.3)
    time.sleep(0.4)  # replica-a died holding it
    assert store.lock_pull("o/r#1#0", "replica-b", lease=0.3)
    store.unlock_pull("o/r#1#0", "replica-b")
    assert store.lock_pull("o/r#1#0", "replica-a", lease=0.3)


def test_a_renewed_lock_stays_with_its_owner(store: JobStore) -> None:
    assert store.lock_pull("o/r#1#0", "a", lease=0.3)
    for _ in range(4):
        time.sleep(0.15)
        store.renew([], [("o/r#1#0", "a")], lease=0.3)
    assert not store.lock_pull("o/r#1#0", "b", lease=0.3)


def test_concurrent_claims_never_take_one_job_twice(store: JobStore) -> None:
    for n in range(60):
        submit(store, f"d{n}", key=f"o/r#{n}#0")
    taken: list[bytes] = []
    lock = threading.Lock()

    def drain() -> None:
        while (claim := claim_one(store, 30)) is not None:
            with lock:
                taken.append(claim.data)

    threads = [threading.Thread(target=drain) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken) == sorted(f"job d{n}".encode() for n in range(60))


def test_the_sqlite_queue_survives_the_process(tmp_path: Path) -> None:
    path = str(tmp_path / "queue.db")
    first = SqliteJobStore(path)
    submit(first, "d1", "o/r#1#0", token="t", data=b"kept")
    taken = claim_one(first, lease=0.1)
    first.close()
    del first  # the process is gone, with its job claimed and never acked
    second = SqliteJobStore(path)
    submit(second, "d2", "o/r#2#0", token="t2", data=b"also kept")
    assert submit(second, "d1", "o/r#1#0", token="t", data=b"kept") == "duplicate"
    assert taken is not None
    time.sleep(0.15)
    assert second.recover() == 1
    first_out = claim_one(second, 30)
    assert first_out is not None and first_out.data == b"kept"


def test_a_claim_counts_the_processes_that_died_holding_it(store: JobStore) -> None:
    submit(store, "poison")
    for died in range(3):
        claim = claim_one(store, lease=0.05)
        assert claim is not None and claim.attempts == died
        time.sleep(0.1)  # its process died: no ack, no renewal
        assert store.recover() == 1
    claim = claim_one(store, 30)
    assert claim is not None and claim.attempts == 3
    store.ack(claim.id)
    submit(store, "fresh", key="o/r#2#0")  # an acked job's count does not linger
    fresh = claim_one(store, 30)
    assert fresh is not None and fresh.attempts == 0


def test_a_held_key_is_free_again_after_its_time_or_when_freed(store: JobStore) -> None:
    assert store.hold("command:o/r#1", 0.3) == 0
    left = store.hold("command:o/r#1", 0.3)  # held: how long until free
    assert 0 < left <= 0.3
    assert store.hold("command:o/r#2", 0.3) == 0  # another key is its own
    time.sleep(0.35)
    assert store.hold("command:o/r#1", 0.3) == 0
    store.free("command:o/r#1")
    assert store.hold("command:o/r#1", 0.3) == 0


def test_a_redis_that_forgot_its_scripts_still_takes_a_batch(redis_url: str) -> None:
    """Batches send the submit script by its SHA alone; a restarted Redis (script cache
    empty) answers NOSCRIPT to all of them, and the batch is sent again, once."""
    store = RedisJobStore(redis_url, name=uuid.uuid4().hex)
    try:
        assert submit(store, "before") == "queued"
        store.conn.script_flush()
        batch = [NewJob("after", "o/r#2#0", "t1", b"1"), NewJob("before", "o/r#2#0", "t2", b"2")]
        assert store.submit_many(batch, limit=10) == [("queued", None), ("duplicate", None)]
        assert store.pending() == 2
    finally:
        store.close()


def _superseded_behind(store: JobStore) -> None:
    """The queue: b1, then a1 (superseded), then a2 (current). Pushes replace waiting
    jobs, so a superseded job is back in the queue only when its claim was released:
    a1 and a2 were both running (a1's worker slow) and went back at a shutdown."""
    submit(store, "a1", "o/r#1#0", token="t1", data=b"job a1")
    first = claim_one(store, 30)
    submit(store, "a2", "o/r#1#0", token="t2", data=b"job a2")
    second = claim_one(store, 30)
    submit(store, "b1", "o/r#2#0", token="tb", data=b"job b1")
    assert first is not None and second is not None
    store.release(first.id, 0.0)
    store.release(second.id, 0.0)
    assert store.promote() == 2


def test_a_claim_drops_superseded_jobs_on_its_way(store: JobStore) -> None:
    _superseded_behind(store)
    claim, skipped = store.claim_current(30, skip=100)
    assert claim is not None and claim.data == b"job b1" and skipped == []
    claim, skipped = store.claim_current(30, skip=100)
    assert skipped == [b"job a1"]  # the job's own bytes, for the log
    assert claim is not None and claim.data == b"job a2"
    assert store.claim_current(30, skip=100) == (None, [])
    assert store.pending() == 0 and store.claimed() == 2


def test_a_claim_drops_no_more_than_its_limit(store: JobStore) -> None:
    _superseded_behind(store)
    claim_one(store, 30)  # b1
    claim, skipped = store.claim_current(30, skip=0)
    assert claim is not None and claim.data == b"job a1" and skipped == []  # as it is


def test_a_claim_of_only_superseded_jobs_returns_them_and_no_claim(store: JobStore) -> None:
    submit(store, "a1", "o/r#1#0", token="old", data=b"job a1")
    first = claim_one(store, 30)
    submit(store, "a2", "o/r#1#0", token="new", data=b"job a2")
    second = claim_one(store, 30)
    assert first is not None and second is not None and second.data == b"job a2"
    store.release(first.id, 0.0)  # the older job comes back (its worker stopped)
    store.promote()
    assert store.claim_current(30, skip=100) == (None, [b"job a1"])
    assert store.pending() == 0


def test_a_released_job_keeps_its_bytes_and_its_place_as_newest(store: JobStore) -> None:
    submit(store, "a1", "o/r#1#0", token="t1", data=b"job a1")
    claim = claim_one(store, 30)
    assert claim is not None
    store.release(claim.id, 0.0)
    store.promote()
    again, skipped = store.claim_current(30, skip=100)
    assert again is not None and again.data == b"job a1" and skipped == []


def test_a_job_stored_without_the_envelope_is_served_as_it_is(store: JobStore) -> None:
    """Bytes a version before the envelope stored: never skipped, never cut."""
    store.enqueue(b"an older version's job")  # huey's own enqueue: the bytes alone
    claim, skipped = store.claim_current(30, skip=100)
    assert claim is not None and claim.data == b"an older version's job" and skipped == []
