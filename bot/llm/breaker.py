"""A circuit breaker in front of the model, so a down endpoint does not slow every review.

Each request to a failing endpoint costs its whole retry budget (90 seconds by
default) before the review falls back to rules. Once `failures` requests in a
row have ended unavailable (the client's own retries exhausted: connection
errors, timeouts, 5xx, a 429 that never cleared, access refused), the breaker
opens and reviews skip the model for `cooldown` seconds, saying so in their
summary. Then it is half-open: exactly one trial request goes out while every
other review keeps skipping; its success closes the breaker, its failure opens
it for another cool-down.

Only the endpoint's health counts. A request the model answered but we could
not use (a rejected 4xx, malformed output) proves the endpoint is up: it is a
success and resets the count. Answers from the cache count neither way.

Thread-safe: the App's workers share one breaker, as they share the cache.
The clock is injectable (monotonic seconds) so tests can move time on.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = ["CircuitBreaker", "State", "Verdict"]

State = Literal["closed", "open", "half-open"]


@dataclass(frozen=True)
class Verdict:
    """The breaker's answer to "may this request go out?", and why not when it may not."""

    allowed: bool
    failures: int = 0  # consecutive failed requests behind a refusal
    retry_in: float = 0.0  # seconds until a trial request may go out
    trial_in_flight: bool = False  # refused because another review is making the trial
    last_error: str | None = None

    def describe(self, now: dt.datetime) -> str:
        """Why the model was skipped, for the review's summary (`now` in UTC)."""
        if self.trial_in_flight:
            when = "another review is trying it now"
        else:
            at = now + dt.timedelta(seconds=math.ceil(self.retry_in))
            when = f"next try after {at:%H:%M:%S} UTC"
        noun = "failure" if self.failures == 1 else "failures"
        text = f"skipped: {self.failures} consecutive {noun}, {when}"
        return text + (f"; last: {self.last_error}" if self.last_error else "")


class CircuitBreaker:
    """closed -> open after `failures` consecutive failures -> half-open after `cooldown`."""

    def __init__(
        self,
        failures: int = 3,
        cooldown: float = 300.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failures < 1:
            raise ValueError("failures must be at least 1")
        if not cooldown > 0:
            raise ValueError("cooldown must be more than 0 seconds")
        self.threshold = failures
        self.cooldown = cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self._state: State = "closed"
        self._failures = 0
        self._opened_at = 0.0
        self._trial_at = 0.0  # when the half-open trial went out
        self._last_error: str | None = None

    @property
    def state(self) -> State:
        with self._lock:
            return self._state

    def allow(self) -> Verdict:
        """Whether one request may go out now; when half-open, only the first caller's may."""
        with self._lock:
            now = self._clock()
            if self._state == "closed":
                return Verdict(allowed=True)
            if self._state == "open" and now - self._opened_at >= self.cooldown:
                return self._start_trial(now)
            # A trial whose outcome never came (its review crashed) must not hold the
            # breaker half-open for ever: after a cool-down another one may go.
            if self._state == "half-open" and now - self._trial_at >= self.cooldown:
                return self._start_trial(now)
            return self._refusal(now)

    def record_success(self) -> None:
        """The endpoint answered (usable or not): close, and forget earlier failures."""
        with self._lock:
            self._state = "closed"
            self._failures = 0
            self._last_error = None

    def record_failure(self, reason: str | None = None) -> None:
        """A request ended unavailable; `reason` is kept for the skip notice."""
        with self._lock:
            self._failures += 1
            self._last_error = reason
            # Already open: a late failure from a request sent earlier does not
            # push the next trial further away.
            if self._state == "half-open" or (
                self._state == "closed" and self._failures >= self.threshold
            ):
                self._state = "open"
                self._opened_at = self._clock()

    def _start_trial(self, now: float) -> Verdict:
        self._state = "half-open"
        self._trial_at = now
        return Verdict(allowed=True)

    def _refusal(self, now: float) -> Verdict:
        trial = self._state == "half-open"
        return Verdict(
            allowed=False,
            failures=self._failures,
            retry_in=0.0 if trial else max(self.cooldown - (now - self._opened_at), 0.0),
            trial_in_flight=trial,
            last_error=self._last_error,
        )
