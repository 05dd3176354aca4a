"""A real Redis for the queue's Redis mode.

`.ci/run` installs Debian's redis-server and starts it on 127.0.0.1, exporting
TEST_REDIS_URL; elsewhere a private redis-server is started on a
free port when the binary is there. In CI a missing Redis fails the tests; on a
laptop without one they are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.loopback import free_port

__all__ = ["redis_url_for_tests"]


def _wait_ready(url: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            redis.Redis.from_url(url).ping()
            return
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def redis_url_for_tests(workdir: Path) -> Iterator[str]:
    """A URL of an empty Redis database, for one test session."""
    given = os.environ.get("TEST_REDIS_URL")
    if given:
        _wait_ready(given)
        redis.Redis.from_url(given).flushdb()
        yield given
        return
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("CI must provide Redis: .ci/run installs and starts redis-server")
        pytest.skip("no redis-server here (`apt-get install redis-server`); CI runs these")
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        _wait_ready(url)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
