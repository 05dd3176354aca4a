"""Keys held for a while: the `/twelve-review` interval per pull request, and the
one polite refusal per person and pull request.

`MemoryThrottle` holds them in this process (one replica, and the tests' fake
clock); the job stores (`bot.app.store`) hold them in SQLite or Redis, so every
replica sees the same interval and nobody is refused twice.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Protocol

__all__ = ["MemoryThrottle", "Throttle"]


class Throttle(Protocol):
    def hold(self, key: str, seconds: float) -> float:
        """0 when `key` was free (it is now held for `seconds`); else the seconds
        until it is free again."""
        ...

    def free(self, key: str) -> None:
        """Free `key` now."""
        ...


class MemoryThrottle:
    """A `Throttle` in this process's memory, on an injectable clock."""

    def __init__(self, clock: Callable[[], dt.datetime]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._until: dict[str, dt.datetime] = {}

    def hold(self, key: str, seconds: float) -> float:
        now = self._clock()
        with self._lock:
            until = self._until.get(key)
            if until is not None and now < until:
                return (until - now).total_seconds()
            self._until[key] = now + dt.timedelta(seconds=seconds)
            return 0.0

    def free(self, key: str) -> None:
        with self._lock:
            self._until.pop(key, None)
