"""Tokens each installation may spend on the model in any one hour.

The per-review caps (`max_total_tokens`, `max_requests`) bound one review; an
installation that pushes all day, or a loop of `synchronize` events, could still
spend without end. This budget bounds the sum over a sliding hour, per key (the
App's installation id), shared by every worker of the process.

A request is sent only if its worst case (prompt plus `max_output_tokens`) fits
what is left: the reviewer reserves that much before sending, so two workers of
the same installation cannot both spend the last tokens, and settles the
reservation to what the server reports once the answer is in.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from bot.llm.settings import LLMSettings

__all__ = ["HOUR", "HourlyTokenBudget", "Reservation"]

HOUR = 3600.0


@dataclass
class _Spend:
    at: float
    tokens: int


class Reservation:
    """Tokens held for one request until `settle` says what it really cost."""

    def __init__(self, budget: HourlyTokenBudget, spend: _Spend) -> None:
        self._budget = budget
        self._spend = spend

    @property
    def tokens(self) -> int:
        return self._spend.tokens

    def settle(self, tokens: int) -> None:
        """The request's real cost (0 when nothing was spent: it was never answered)."""
        self._budget._settle(self._spend, tokens)


class HourlyTokenBudget:
    """`limit` tokens per key in any window of `window` seconds; thread-safe.

    The clock is monotonic seconds, injectable so tests can move time on.
    """

    def __init__(
        self,
        limit: int,
        *,
        window: float = HOUR,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1 token")
        if not window > 0:
            raise ValueError("window must be more than 0 seconds")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._spent: dict[Hashable, deque[_Spend]] = {}

    @classmethod
    def from_settings(cls, settings: LLMSettings) -> HourlyTokenBudget | None:
        """The budget `settings` ask for, or None when they set no limit (0)."""
        limit = settings.installation_tokens_per_hour
        return cls(limit) if limit else None

    def remaining(self, key: Hashable) -> int:
        """Tokens `key` may still spend now (reservations count as spent)."""
        with self._lock:
            return self.limit - self._used(key)

    def record(self, key: Hashable, tokens: int) -> None:
        """Count `tokens` spent by `key` now, whether or not they fitted."""
        with self._lock:
            self._add(key, tokens)

    def reserve(self, key: Hashable, tokens: int) -> Reservation | None:
        """Hold `tokens` for `key` if they fit in what is left, else None."""
        with self._lock:
            if self._used(key) + tokens > self.limit:
                return None
            return Reservation(self, self._add(key, tokens))

    def _add(self, key: Hashable, tokens: int) -> _Spend:
        spend = _Spend(self._clock(), max(tokens, 0))
        self._spent.setdefault(key, deque()).append(spend)
        return spend

    def _settle(self, spend: _Spend, tokens: int) -> None:
        with self._lock:
            spend.tokens = max(tokens, 0)

    def _used(self, key: Hashable) -> int:
        """What `key` spent inside the window; older entries are forgotten (lock held)."""
        spends = self._spent.get(key)
        if spends is None:
            return 0
        start = self._clock() - self.window
        while spends and spends[0].at <= start:
            spends.popleft()
        if not spends:
            del self._spent[key]  # an empty hour is not kept
            return 0
        return sum(s.tokens for s in spends)
