"""Retries of GitHub requests: PyGithub's `GithubRetry`, with what it lacks for a bot.

What `GithubRetry` (a urllib3 `Retry`) already does, and is used for: retrying
5xx answers and connection errors with exponential backoff, telling a 403 rate
limit from any other 403 by its message, waiting for `x-ratelimit-reset` on a
primary limit, `secondary_rate_wait` on a secondary one without `Retry-After`,
and urllib3 honouring `Retry-After`.

What this subclass adds:

- A bound on every wait GitHub asks for: a rate limit (403 or 429) or a
  `Retry-After` further away than `max_wait` raises `RateLimitedError(reset_at)`
  instead of blocking a worker for up to an hour; the job can run again then.
  (`GithubRetry.max_rate_limit_wait` bounds the limits it parses itself, not
  `Retry-After`, which urllib3 sleeps uncapped.)
- 429s: GitHub answers a primary limit with 403 *or* 429 and
  `x-ratelimit-remaining: 0`; `GithubRetry` only reads 403s, so the wait until
  `x-ratelimit-reset` is read from the headers of either.
- No blind resend of a POST that may have been carried out: a 5xx answer or a
  connection lost after sending leaves unknown whether GitHub created the
  review or comment, so POSTs are retried only when GitHub refused them for a
  rate limit (nothing was done). The runner recovers the others by running the
  review again, which finds what was posted by its fingerprints. PATCH, PUT
  and DELETE are idempotent here (a comment edited to the same body, a review
  dismissed) and retried like GETs.
- An injectable `sleep`, so tests see the waits without waiting.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any, Self

from github.GithubRetry import GithubRetry
from urllib3 import BaseHTTPResponse, Retry

__all__ = ["GitHubRetry", "RateLimitedError"]

# GitHub's answers to a request it refused for a rate limit (primary or secondary).
_LIMIT_STATUSES = frozenset({403, 429})
_IDEMPOTENT = Retry.DEFAULT_ALLOWED_METHODS | {"PATCH"}


class RateLimitedError(Exception):
    """GitHub asked for a wait longer than the bot waits: try again at `reset_at`
    (UTC), `wait` seconds after GitHub answered `status`."""

    def __init__(self, reset_at: dt.datetime, wait: float, status: int) -> None:
        super().__init__(f"GitHub answered {status}: rate-limited until {reset_at.isoformat()}")
        self.reset_at = reset_at
        self.wait = wait
        self.status = status


class GitHubRetry(GithubRetry):
    """`GithubRetry` bounded by `max_wait` seconds; see the module docstring.

    The other arguments are urllib3's and `GithubRetry`'s (`total`,
    `backoff_factor`, `secondary_rate_wait`...).
    """

    def __init__(
        self,
        *,
        max_wait: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("allowed_methods", _IDEMPOTENT)
        kwargs.setdefault("status_forcelist", [*range(500, 600), 429])  # GithubRetry adds 403
        super().__init__(**kwargs)
        self.max_wait = max_wait
        self._sleep = sleep

    def new(self, **kw: Any) -> Self:
        kw.update(max_wait=self.max_wait, sleep=self._sleep)  # urllib3 copies on every retry
        return super().new(**kw)

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if method.upper() == "POST" and status_code in _LIMIT_STATUSES:
            # Refused, not carried out: sending it again cannot post twice. `increment`
            # (GithubRetry's) still gives up on a 403 that is not a rate limit.
            return True
        return super().is_retry(method, status_code, has_retry_after)

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        """Wait before the next try: the backoff, or what GitHub asked for if longer;
        raise `RateLimitedError` rather than wait for a limit longer than `max_wait`."""
        wait = self.get_backoff_time()  # GithubRetry sets it for the limits it parses itself
        if response is not None:
            asked = self._asked_wait(response)
            wait = max(wait, asked or 0.0)
            limited = asked is not None or response.status in _LIMIT_STATUSES
            if limited and wait > self.max_wait:
                reset_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=wait)
                raise RateLimitedError(reset_at, wait, response.status)
        if wait > 0:
            self._sleep(wait)

    def _asked_wait(self, response: BaseHTTPResponse) -> float | None:
        """Seconds GitHub asked for: `Retry-After`, or until `x-ratelimit-reset` once
        `x-ratelimit-remaining` is 0 (the longer of the two); None if neither."""
        waits: list[float] = []
        retry_after = self.get_retry_after(response) if self.respect_retry_after_header else None
        if retry_after is not None:
            waits.append(retry_after)
        reset = response.headers.get("X-RateLimit-Reset", "")
        if response.headers.get("X-RateLimit-Remaining") == "0" and reset.isdigit():
            # +1 s, as GithubRetry does: the reset falls somewhere in that second
            waits.append(max(int(reset) - time.time(), 0.0) + 1)
        return max(waits) if waits else None
