"""Content-creating GitHub requests, one at a time per installation, spaced out.

GitHub asks integrations to send content-creating requests (POST, PATCH, PUT,
DELETE) serially, about a second apart, or meet its secondary rate limits.
PyGithub's `seconds_between_writes` spaces the writes of one client only, and
without a lock; the App builds a client per job and runs jobs on several
threads, so two reviews for one installation would still write at once.

The hook is requests' `Session.send`, where every request PyGithub makes
meets: PyGithub has no request hook and copies its requester into every
object it returns (`bot.app.metrics.count_github_calls` counts there for the
same reason). Not a class-level PyGithub hook (`Requester.injectConnectionClasses`
is as global, and meant for its test replays), nor a `Requester` shared per
installation (its pacing is unlocked, and one `requests.Session` across
threads is not safe). A write is paced when the installation token it carries
was given to a pacer (`WritePacer.track`): the App's own JWT calls and any
other host pass untouched, and so does every GET.

The request is sent while the installation's turn is held, so its retries,
and its waits for a secondary rate limit, hold back that installation's other
writes too: it is the installation that GitHub limits.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import requests

__all__ = ["WritePacer"]

WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})


@dataclass
class _Turn:
    # Reentrant: a send nested in a send (a redirect followed) must not deadlock.
    lock: threading.RLock = field(default_factory=threading.RLock)
    next_at: float = float("-inf")  # the clock value the next write may start at


class WritePacer:
    """One write at a time per key (an installation id), `interval` seconds from
    the end of one to the start of the next. Shared by every job and thread."""

    def __init__(
        self,
        interval: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._guard = threading.Lock()
        self._turns: dict[int, _Turn] = {}

    @contextlib.contextmanager
    def turn(self, key: int) -> Iterator[None]:
        """Hold `key`'s turn: wait for the writes before, and the interval after them."""
        with self._guard:
            turn = self._turns.setdefault(key, _Turn())
        with turn.lock:
            while (wait := turn.next_at - self._clock()) > 0:  # a loop: sleep may wake early
                self._sleep(wait)
            try:
                yield
            finally:
                turn.next_at = self._clock() + self.interval

    def track(self, token: str, key: int, expires_at: float) -> None:
        """Pace the writes sent with `token` (valid until `expires_at`, epoch seconds)
        under `key`. A key may have several tokens at once (jobs that fetched one
        concurrently): each is paced until it expires, then forgotten."""
        _install()
        now = time.time()
        with _REGISTRY_LOCK:
            for digest in [d for d, entry in _REGISTRY.items() if entry[2] < now]:
                del _REGISTRY[digest]
            _REGISTRY[_digest(token)] = (self, key, expires_at)


# Digest of a token (not the token: no second copy of a secret) -> its pacer, key, expiry.
_REGISTRY: dict[str, tuple[WritePacer, int, float]] = {}
_REGISTRY_LOCK = threading.Lock()
_installed = False


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _owner(request: requests.PreparedRequest) -> tuple[WritePacer, int] | None:
    """The pacer and key of a write sent with a tracked token; None for anything else."""
    if str(request.method).upper() not in WRITE_METHODS:
        return None
    header = request.headers.get("Authorization")
    if not isinstance(header, str):
        return None
    _, _, credential = header.partition(" ")  # "token ghs_..." as PyGithub sends it
    if not credential:
        return None
    with _REGISTRY_LOCK:
        entry = _REGISTRY.get(_digest(credential.strip()))
    return None if entry is None else (entry[0], entry[1])


def _install() -> None:
    """Wrap `Session.send` once per process."""
    global _installed  # noqa: PLW0603 - the patch is process-wide by nature
    with _REGISTRY_LOCK:
        if _installed:
            return
        original = requests.Session.send

        # `wraps` also carries the metrics wrapper's marker over, if it was installed first.
        @functools.wraps(original)
        def send(self: requests.Session, request: Any, **kwargs: Any) -> requests.Response:
            owner = _owner(request)
            if owner is None:
                return original(self, request, **kwargs)
            pacer, key = owner
            with pacer.turn(key):
                return original(self, request, **kwargs)

        requests.Session.send = send  # type: ignore[method-assign]
        _installed = True
