"""Writes paced per installation: the pacer's arithmetic on a fake clock, then real jobs
on real threads against the fake GitHub, whose request timestamps show the pacing."""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

import pytest
import requests

from bot.app.jobs import Outcome, ReviewRunner
from bot.app.queue import Job
from bot.github.pacing import WritePacer
from tests.app_helpers import CLIENT_OPTIONS, app_settings
from tests.fake_github import FakeGitHub, FakePull, RecordedRequest

BASE = {"app/log.py": "import logging\n"}
HEAD = {"app/log.py": 'import logging\nhandler = logging.FileHandler("a.log")\n'}
HOUR = 3600.0


class FakeClock:
    """A monotonic clock that only moves when slept on (or moved by the test)."""

    def __init__(self, wakes_after: float | None = None) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []
        self._wakes_after = wakes_after  # a sleep that may end early

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds if self._wakes_after is None else min(seconds, self._wakes_after)


def _pacer(interval: float, clock: FakeClock) -> WritePacer:
    return WritePacer(interval, clock=clock, sleep=clock.sleep)


def test_a_write_waits_the_interval_after_the_end_of_the_one_before() -> None:
    clock = FakeClock()
    pacer = _pacer(1.0, clock)
    with pacer.turn(7):
        clock.now += 0.3  # the request takes 0.3 s
    clock.now += 0.2
    with pacer.turn(7):
        pass
    assert clock.sleeps == [pytest.approx(0.8)]
    clock.now += 5.0
    with pacer.turn(7):
        pass
    assert clock.sleeps == [pytest.approx(0.8)]  # long after: no wait


def test_installations_do_not_wait_for_each_other() -> None:
    clock = FakeClock()
    pacer = _pacer(1.0, clock)
    for key in (7, 8, 9):
        with pacer.turn(key):
            pass
    assert clock.sleeps == []


def test_a_failed_write_counts_as_a_write() -> None:
    clock = FakeClock()
    pacer = _pacer(1.0, clock)
    with pytest.raises(ConnectionError), pacer.turn(7):
        raise ConnectionError("reset")
    with pacer.turn(7):
        pass
    assert clock.sleeps == [1.0]


def test_a_sleep_that_ends_early_is_slept_out() -> None:
    clock = FakeClock(wakes_after=0.6)
    pacer = _pacer(1.0, clock)
    with pacer.turn(7):
        pass
    with pacer.turn(7):
        pass
    assert clock.sleeps == [1.0, pytest.approx(0.4)]


def test_without_an_interval_writes_only_take_turns() -> None:
    clock = FakeClock()
    pacer = _pacer(0.0, clock)
    for _ in range(3):
        with pacer.turn(7):
            pass
    assert clock.sleeps == []


def test_only_writes_sent_with_a_tracked_token_are_paced(fake_github: FakeGitHub) -> None:
    repo = fake_github.add_repo("acme/shop", BASE)
    pull = fake_github.add_pull(repo, BASE, HEAD)
    clock = FakeClock()
    pacer = _pacer(5.0, clock)
    first, second, stranger, expired = (fake_github.add_token() for _ in range(4))
    pacer.track(expired, 7, time.time() - 1)
    pacer.track(first, 7, time.time() + HOUR)
    pacer.track(second, 7, time.time() + HOUR)  # a second token of the same installation
    session = requests.Session()
    url = f"{fake_github.base_url}/repos/acme/shop/issues/{pull.number}/comments"

    def send(method: str, token: str) -> None:
        body: dict[str, Any] | None = {"body": "hello"} if method == "POST" else None
        answer = session.request(
            method, url, json=body, headers={"Authorization": f"token {token}"}
        )
        assert answer.ok

    send("POST", first)
    send("POST", second)
    assert clock.sleeps == [5.0]  # the second token shares the first one's turns
    send("GET", first)
    send("POST", stranger)
    send("POST", expired)  # forgotten once expired
    assert clock.sleeps == [5.0]
    send("POST", first)
    assert clock.sleeps == [5.0, 5.0]
    assert fake_github.violations == []


# -- real jobs ---------------------------------------------------------------------------


def _runner(fake: FakeGitHub, interval: float) -> ReviewRunner:
    # A long timeout: a held write stays in flight until the test releases it.
    options = CLIENT_OPTIONS | {"seconds_between_writes": interval, "timeout": 60}
    return ReviewRunner(app_settings(fake, "s"), client_options=options)


def _job(pull: FakePull, installation_id: int) -> Job:
    return Job(
        delivery_id=f"d-{pull.repo.full_name}-{pull.number}",
        event="pull_request",
        action="synchronize",
        repo_full_name=pull.repo.full_name,
        number=pull.number,
        head_sha=pull.head_sha,
        installation_id=installation_id,
    )


def _writes(fake: FakeGitHub, installation_id: int) -> list[RecordedRequest]:
    """The installation's content-creating requests (not the App's token requests)."""
    return sorted(
        (
            r
            for r in list(fake.requests)
            if r.method != "GET" and fake.installation_of(r) == installation_id
        ),
        key=lambda r: r.started,
    )


def _run_all(runner: ReviewRunner, jobs: list[Job]) -> list[Outcome]:
    outcomes: list[Outcome] = []
    threads = [threading.Thread(target=lambda j=j: outcomes.append(runner(j))) for j in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


def test_one_installations_jobs_write_one_at_a_time_and_spaced_out(
    fake_github: FakeGitHub,
) -> None:
    interval = 0.05
    repo = fake_github.add_repo("acme/shop", BASE)
    pulls = [fake_github.add_pull(repo, BASE, HEAD) for _ in range(4)]
    # Writes take a while, so unpaced ones would overlap.
    fake_github.slow_next("POST", r"^/repos/", seconds=0.02, times=100)
    runner = _runner(fake_github, interval)
    outcomes = _run_all(runner, [_job(p, fake_github.installation_id) for p in pulls])
    assert outcomes == ["published"] * 4
    writes = _writes(fake_github, fake_github.installation_id)
    assert len(writes) == 8  # a review and a summary per pull request
    for before, after in itertools.pairwise(writes):
        # The next write arrived after the one before was answered, and the interval later.
        assert after.started - before.answered >= interval
    for pull in pulls:
        assert len(fake_github.reviews(pull)) == 1 and len(fake_github.issue_comments(pull)) == 1
    assert fake_github.violations == [] and fake_github.crashes == []


def test_two_installations_do_not_wait_for_each_other(fake_github: FakeGitHub) -> None:
    shop = fake_github.add_pull(fake_github.add_repo("acme/shop", BASE), BASE, HEAD)
    other_id = fake_github.add_installation("globex")
    other = fake_github.add_pull(fake_github.add_repo("globex/api", BASE), BASE, HEAD)
    runner = _runner(fake_github, 0.05)
    release = threading.Event()
    held = fake_github.slow_next("POST", r"^/repos/acme/shop/pulls/\d+/reviews$", until=release)
    waiting = threading.Thread(target=runner, args=(_job(shop, fake_github.installation_id),))
    waiting.start()
    try:
        assert held.wait(30)  # acme's review is in flight, and stays so
        assert runner(_job(other, other_id)) == "published"  # globex writes meanwhile
        acme_review = _writes(fake_github, fake_github.installation_id)[0]
        assert acme_review.answered == 0.0 and waiting.is_alive()  # still in flight
        assert [w.status for w in _writes(fake_github, other_id)] == [200, 201]
    finally:
        release.set()
        waiting.join(30)
    assert len(fake_github.reviews(shop)) == 1 and len(fake_github.issue_comments(shop)) == 1
    assert len(fake_github.reviews(other)) == 1 and len(fake_github.issue_comments(other)) == 1
    assert fake_github.violations == [] and fake_github.crashes == []
