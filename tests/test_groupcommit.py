"""Group commit: concurrent writes from an event loop share one batch write."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from bot.app.groupcommit import GroupCommit


class SlowWriter:
    """Answers each item doubled; each batch write blocks until `gate` opens, so
    the test decides when the first batch ends and what gathers meanwhile."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.threads: set[str] = set()
        self.gate = threading.Event()
        self.fail_next = False

    def __call__(self, items: Sequence[int]) -> list[int]:
        self.threads.add(threading.current_thread().name)
        self.gate.wait(5)
        self.batches.append(list(items))
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("the store went away")
        return [2 * item for item in items]


async def _until(condition: object, what: str) -> None:
    for _ in range(500):
        if callable(condition) and condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def test_writes_that_arrive_during_a_write_share_the_next_batch() -> None:
    writer = SlowWriter()
    group = GroupCommit[int, int](writer)

    async def scenario() -> list[int]:
        first = asyncio.ensure_future(group.write(1))
        await _until(lambda: writer.threads, "the first write to start")
        rest = [asyncio.ensure_future(group.write(n)) for n in range(2, 12)]
        await asyncio.sleep(0.05)  # the ten gather while the first write blocks
        writer.gate.set()
        return await asyncio.gather(first, *rest)

    answers = asyncio.run(scenario())
    assert answers == [2 * n for n in range(1, 12)]  # each its own answer, in order
    assert writer.batches == [[1], list(range(2, 12))]  # two writes for eleven items
    assert len(writer.threads) == 1 and threading.current_thread().name not in writer.threads


def test_a_failed_batch_fails_each_of_its_writes_and_the_next_batch_still_runs() -> None:
    writer = SlowWriter()
    writer.gate.set()
    group = GroupCommit[int, int](writer)

    async def scenario() -> tuple[list[object], int]:
        writer.fail_next = True
        failed = await asyncio.gather(group.write(1), group.write(2), return_exceptions=True)
        return failed, await group.write(3)

    failed, later = asyncio.run(scenario())
    assert all(isinstance(outcome, ConnectionError) for outcome in failed)
    assert later == 6
    assert writer.batches == [[1, 2], [3]]


def test_a_writer_answering_the_wrong_number_of_items_fails_the_batch() -> None:
    group = GroupCommit[int, int](lambda items: [0])

    async def scenario() -> list[object]:
        return await asyncio.gather(group.write(1), group.write(2), return_exceptions=True)

    outcomes = asyncio.run(scenario())
    assert [type(o) for o in outcomes] == [RuntimeError, RuntimeError]


def test_a_cancelled_write_leaves_the_others_of_its_batch_answered() -> None:
    writer = SlowWriter()
    group = GroupCommit[int, int](writer)

    async def scenario() -> tuple[int, int]:
        gone = asyncio.ensure_future(group.write(1))
        kept = asyncio.ensure_future(group.write(2))
        await _until(lambda: writer.threads, "the write to start")
        gone.cancel()  # the client hung up while its delivery was being stored
        writer.gate.set()
        with pytest.raises(asyncio.CancelledError):
            await gone
        return await kept, await group.write(5)

    assert asyncio.run(scenario()) == (4, 10)
    assert writer.batches == [[1, 2], [5]]  # the cancelled one was still written


def test_two_event_loops_in_two_threads_each_get_their_own_answers() -> None:
    writer = SlowWriter()
    writer.gate.set()
    group = GroupCommit[int, int](writer)
    results: dict[int, list[int]] = {}

    def run(base: int) -> None:
        async def scenario() -> list[int]:
            return list(await asyncio.gather(*(group.write(base + n) for n in range(20))))

        results[base] = asyncio.run(scenario())

    threads = [threading.Thread(target=run, args=(base,)) for base in (100, 200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == {base: [2 * (base + n) for n in range(20)] for base in (100, 200)}
