"""Where model answers are kept, so an unchanged request costs nothing the second time."""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol

__all__ = ["AnswerCache", "MemoryCache"]


class AnswerCache(Protocol):
    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str) -> None: ...


class MemoryCache:
    """In-process, least-recently-used; the default. Lost on restart by design."""

    def __init__(self, max_entries: int = 1024) -> None:
        self._entries: OrderedDict[str, str] = OrderedDict()
        self._max = max_entries

    def get(self, key: str) -> str | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def set(self, key: str, value: str) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
