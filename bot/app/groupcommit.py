"""Group commit: writes from an event loop, done in batches by one thread.

Storing an accepted delivery costs a round trip to Redis or an fsync of the
SQLite file. Done inline, each one blocks the event loop that answers GitHub;
done one by one in threads, they queue for the same lock anyway. Here the loop
hands its items over and awaits them: while one batch is being written, the
next gathers, so under load one round trip (one fsync) serves every delivery
that arrived meanwhile, and a lone delivery waits for nothing but its own write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

__all__ = ["GroupCommit"]

Item = TypeVar("Item")
Answer = TypeVar("Answer")


class GroupCommit(Generic[Item, Answer]):
    """`await write(item)`: `write_many` (run in one writer thread, one batch at a
    time) answers each item of a batch, in order."""

    def __init__(self, write_many: Callable[[Sequence[Item]], Sequence[Answer]]) -> None:
        self._write_many = write_many
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="twelve-review-store")
        # Per event loop (keyed by id: a loop's futures belong to it): items waiting
        # for the next batch, and the task writing batches while any wait.
        self._waiting: dict[int, list[tuple[Item, asyncio.Future[Answer]]]] = {}
        self._drains: dict[int, asyncio.Task[None]] = {}

    async def write(self, item: Item) -> Answer:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Answer] = loop.create_future()
        self._waiting.setdefault(id(loop), []).append((item, answer))
        if id(loop) not in self._drains:
            self._drains[id(loop)] = loop.create_task(self._drain(id(loop)))
        return await answer

    async def _drain(self, key: int) -> None:
        loop = asyncio.get_running_loop()
        try:
            while batch := self._waiting.pop(key, None):
                items = [item for item, _ in batch]
                try:
                    answers = await loop.run_in_executor(self._writer, self._write_many, items)
                    if len(answers) != len(batch):
                        raise RuntimeError(f"{len(answers)} answers for {len(batch)} items")
                except Exception as exc:  # the batch failed as one: so does each write
                    for _, waiter in batch:
                        if not waiter.done():
                            waiter.set_exception(exc)
                    continue
                for (_, waiter), result in zip(batch, answers, strict=True):
                    if not waiter.done():  # its request may have gone (cancelled)
                        waiter.set_result(result)
        finally:
            del self._drains[key]
