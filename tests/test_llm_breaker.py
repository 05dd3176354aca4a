"""The circuit breaker in front of the model: its state machine on a fake clock,
the reviewer's use of it, and a run of reviews (and of App jobs) against the
fake OpenAI server over real HTTP while the endpoint is down, then back."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from dataclasses import dataclass

import pytest
from pydantic import ValidationError

from bot.app.queue import Job
from bot.diff import ChangedFile, parse_diff
from bot.engine import ReviewResult, review
from bot.llm.breaker import CircuitBreaker, State, Verdict
from bot.llm.client import OpenAIChatClient
from bot.llm.protocol import ChatClient, Completion, LLMRequestRejected, LLMUnavailable
from bot.llm.review import LLMReviewer
from bot.llm.settings import LLMSettings
from bot.llm.tokens import EstimatedCounter
from bot.notes import load_notes
from bot.output.text import llm_line
from tests.app_helpers import app_settings, review_runner
from tests.fake_github import FakeGitHub, FakePull
from tests.fake_openai import FakeOpenAI, answer, drop, error, timeout
from tests.helpers import added_file_diff

MODEL = "small-test-model"
SKIP_NOTICE = re.compile(r"skipped: (\d+) consecutive failures?, next try after \d\d:\d\d:\d\d UTC")


class FakeClock:
    """Monotonic seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class ScriptedClient:
    """A ChatClient answering from a list (text, or an exception to raise)."""

    answers: list[str | Exception]
    sent: int = 0

    def complete(self, system: str, user: str) -> Completion:
        self.sent += 1
        reply = self.answers.pop(0) if self.answers else '{"findings": []}'
        if isinstance(reply, Exception):
            raise reply
        return Completion(text=reply, prompt_tokens=10, completion_tokens=5, mode="json_schema")


def _breaker(clock: FakeClock, failures: int = 2, cooldown: float = 60.0) -> CircuitBreaker:
    return CircuitBreaker(failures, cooldown, clock=clock)


def _source(n: int) -> str:
    """A file the rules flag (TF0402 on line 3), different for each n (no cache hits)."""
    return f'import redis\n\ncache = redis.Redis(host="cache.internal", port=6379)  # {n}\n'


def _files(n: int) -> list[ChangedFile]:
    return parse_diff(added_file_diff(f"svc/app_{n}.py", _source(n)))


def _reviewer(
    client: ChatClient, breaker: CircuitBreaker, settings: LLMSettings | None = None
) -> LLMReviewer:
    settings = settings or LLMSettings(base_url="http://127.0.0.1:9/v1", model=MODEL)
    return LLMReviewer.create(client, settings, load_notes(), EstimatedCounter(), breaker=breaker)


def _state(breaker: CircuitBreaker) -> State:
    """Read afresh each time (mypy would keep an asserted `breaker.state` narrowed)."""
    return breaker.state


def _reasons(result: ReviewResult) -> list[str]:
    return [n.reason for n in result.llm.not_reviewed]


# -- the state machine ---------------------------------------------------------


def test_opens_after_n_consecutive_failures_and_refuses_until_the_cooldown() -> None:
    clock = FakeClock()
    breaker = _breaker(clock, failures=3, cooldown=60)
    breaker.record_failure("one")
    breaker.record_failure("two")
    assert breaker.allow().allowed
    assert _state(breaker) == "closed"
    breaker.record_failure("HTTP 503")
    assert _state(breaker) == "open"
    clock.advance(20)
    verdict = breaker.allow()
    assert verdict == Verdict(allowed=False, failures=3, retry_in=40.0, last_error="HTTP 503")
    clock.advance(39.9)
    assert not breaker.allow().allowed
    clock.advance(0.1)
    assert breaker.allow().allowed
    assert _state(breaker) == "half-open"


def test_a_success_resets_the_count() -> None:
    breaker = _breaker(FakeClock(), failures=2)
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert _state(breaker) == "closed"
    breaker.record_failure()
    assert _state(breaker) == "open"


def test_half_open_lets_exactly_one_of_many_threads_through() -> None:
    clock = FakeClock()
    breaker = _breaker(clock, failures=1, cooldown=10)
    breaker.record_failure("down")
    clock.advance(10)
    start = threading.Barrier(16)
    verdicts: list[Verdict] = []

    def ask() -> None:
        start.wait()
        verdicts.append(breaker.allow())

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(v.allowed for v in verdicts) == 1
    refused = [v for v in verdicts if not v.allowed]
    assert len(refused) == 15
    assert all(v.trial_in_flight for v in refused)
    clock.advance(5)
    assert not breaker.allow().allowed  # the trial is still out: everyone else keeps skipping


def test_trial_success_closes_and_trial_failure_reopens_for_another_cooldown() -> None:
    clock = FakeClock()
    breaker = _breaker(clock, failures=2, cooldown=30)
    breaker.record_failure()
    breaker.record_failure()
    clock.advance(30)
    assert breaker.allow().allowed
    breaker.record_failure("still down")
    assert _state(breaker) == "open"
    verdict = breaker.allow()
    assert (verdict.allowed, verdict.failures, verdict.retry_in) == (False, 3, 30.0)
    clock.advance(30)
    assert breaker.allow().allowed
    breaker.record_success()
    assert _state(breaker) == "closed"
    assert all(breaker.allow().allowed for _ in range(5))
    breaker.record_failure()  # the count starts again from zero
    assert _state(breaker) == "closed"


def test_a_trial_whose_outcome_never_comes_is_given_up_after_a_cooldown() -> None:
    clock = FakeClock()
    breaker = _breaker(clock, failures=1, cooldown=30)
    breaker.record_failure()
    clock.advance(30)
    assert breaker.allow().allowed  # this trial's review crashes: no outcome recorded
    clock.advance(29)
    assert not breaker.allow().allowed
    clock.advance(1)
    assert breaker.allow().allowed


def test_late_failure_while_open_does_not_push_the_trial_back() -> None:
    clock = FakeClock()
    breaker = _breaker(clock, failures=1, cooldown=30)
    breaker.record_failure()
    clock.advance(20)
    breaker.record_failure()  # a request sent before the breaker opened
    assert breaker.allow().retry_in == 10.0


def test_verdict_describes_the_skip_in_utc() -> None:
    now = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
    waiting = Verdict(allowed=False, failures=3, retry_in=59.2, last_error="HTTP 503")
    assert waiting.describe(now) == (
        "skipped: 3 consecutive failures, next try after 12:01:00 UTC; last: HTTP 503"
    )
    trial = Verdict(allowed=False, failures=1, trial_in_flight=True)
    assert trial.describe(now) == "skipped: 1 consecutive failure, another review is trying it now"


def test_breaker_refuses_nonsense_limits() -> None:
    with pytest.raises(ValueError, match="failures"):
        CircuitBreaker(0, 10)
    with pytest.raises(ValueError, match="cooldown"):
        CircuitBreaker(3, 0)


def test_breaker_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (LLMSettings().breaker_failures, LLMSettings().breaker_cooldown) == (3, 300.0)
    monkeypatch.setenv("TWELVE_REVIEW_BREAKER_FAILURES", "5")
    monkeypatch.setenv("TWELVE_REVIEW_BREAKER_COOLDOWN", "12.5")
    assert (LLMSettings().breaker_failures, LLMSettings().breaker_cooldown) == (5, 12.5)
    monkeypatch.setenv("TWELVE_REVIEW_BREAKER_FAILURES", "0")
    with pytest.raises(ValidationError):
        LLMSettings()
    monkeypatch.setenv("TWELVE_REVIEW_BREAKER_FAILURES", "1")
    monkeypatch.setenv("TWELVE_REVIEW_BREAKER_COOLDOWN", "0")
    with pytest.raises(ValidationError):
        LLMSettings()


# -- the reviewer and the breaker ----------------------------------------------


def test_rejected_and_malformed_answers_are_not_endpoint_failures() -> None:
    breaker = _breaker(FakeClock(), failures=2)
    down = LLMUnavailable("LLM endpoint still failing (last: HTTP 503)", status_code=503)
    client = ScriptedClient(
        [
            down,
            LLMRequestRejected("LLM endpoint rejected the request (HTTP 413)", status_code=413),
            down,
            "this is not JSON",
            down,
        ]
    )
    reviewer = _reviewer(client, breaker)
    results = [review(_files(n), llm=reviewer) for n in range(5)]
    assert client.sent == 5
    assert [_reasons(r) for r in results] == [
        ["llm-unavailable"],
        ["rejected-request"],
        ["llm-unavailable"],
        ["malformed-output"],
        ["llm-unavailable"],
    ]
    assert _state(breaker) == "closed"
    client.answers.append(down)
    review(_files(5), llm=reviewer)
    assert _state(breaker) == "open"  # two in a row now
    skipped = review(_files(6), llm=reviewer)
    assert client.sent == 6
    assert _reasons(skipped) == ["circuit-open"]


def test_cached_answers_count_neither_way_and_are_served_while_open() -> None:
    breaker = _breaker(FakeClock(), failures=2)
    down = LLMUnavailable("unreachable")
    client = ScriptedClient(['{"findings": []}', down, down])
    reviewer = _reviewer(client, breaker)
    assert review(_files(1), llm=reviewer).llm.status == "ok"
    review(_files(2), llm=reviewer)  # one failure
    cached = review(_files(1), llm=reviewer)
    assert (cached.llm.cached, client.sent) == (1, 2)
    review(_files(3), llm=reviewer)  # a second failure in a row: the cache hit did not reset
    assert _state(breaker) == "open"
    again = review(_files(1), llm=reviewer)
    assert (again.llm.status, again.llm.cached, client.sent) == ("ok", 1, 3)
    assert _state(breaker) == "open"


def test_without_a_breaker_every_review_tries_the_model() -> None:
    client = ScriptedClient([LLMUnavailable("down")] * 5)
    reviewer = LLMReviewer.create(
        client, LLMSettings(base_url="http://127.0.0.1:9/v1"), load_notes(), EstimatedCounter()
    )
    results = [review(_files(n), llm=reviewer) for n in range(5)]
    assert client.sent == 5
    assert all(_reasons(r) == ["llm-unavailable"] for r in results)


# -- over real HTTP ------------------------------------------------------------


def _http_settings(fake_openai: FakeOpenAI, **values: float) -> LLMSettings:
    # A retry budget shorter than the first backoff: one attempt per request.
    options = {"retry_seconds": 0.2, "timeout": 0.5, **values}
    return LLMSettings.model_validate({"base_url": fake_openai.base_url, "model": MODEL, **options})


def _http_reviewer(fake_openai: FakeOpenAI, breaker: CircuitBreaker) -> LLMReviewer:
    settings = _http_settings(fake_openai)
    return _reviewer(OpenAIChatClient(settings), breaker, settings)


def test_after_n_failed_reviews_the_next_sends_nothing_and_says_why(
    fake_openai: FakeOpenAI,
) -> None:
    breaker = _breaker(FakeClock(), failures=2, cooldown=60)
    reviewer = _http_reviewer(fake_openai, breaker)
    fake_openai.script(drop(), timeout(5.0))
    failed = [review(_files(n), llm=reviewer) for n in (1, 2)]
    assert len(fake_openai.requests) == 2
    assert [r.llm.status for r in failed] == ["unavailable", "unavailable"]
    assert not SKIP_NOTICE.search(llm_line(failed[1].llm))

    started = time.monotonic()
    skipped = review(_files(3), llm=reviewer)
    elapsed = time.monotonic() - started

    assert len(fake_openai.requests) == 2  # nothing went out
    assert elapsed < 0.5  # less than the one request timeout the failures each cost
    assert [(f.rule, f.line) for f in skipped.findings] == [("TF0402", 3)]  # rules still ran
    assert skipped.llm.status == "unavailable"
    assert skipped.llm.requests == 0
    assert _reasons(skipped) == ["circuit-open"]
    line = llm_line(skipped.llm)
    notice = SKIP_NOTICE.search(line)
    assert notice is not None and notice.group(1) == "2"
    assert line.startswith("LLM unavailable (skipped: 2 consecutive failures")
    assert "last: LLM endpoint still failing after 1 attempt(s)" in line
    assert "timeout" in line  # the last failure's reason


def test_after_the_cooldown_one_trial_goes_out_and_its_success_resumes_the_model(
    fake_openai: FakeOpenAI,
) -> None:
    clock = FakeClock()
    breaker = _breaker(clock, failures=1, cooldown=60)
    reviewer = _http_reviewer(fake_openai, breaker)
    fake_openai.script(error(503), error(503), answer())
    review(_files(1), llm=reviewer)
    assert _reasons(review(_files(2), llm=reviewer)) == ["circuit-open"]
    assert len(fake_openai.requests) == 1

    clock.advance(60)
    trial = review(_files(3), llm=reviewer)  # the trial: still 503
    assert len(fake_openai.requests) == 2
    assert _reasons(trial) == ["llm-unavailable"]
    assert _reasons(review(_files(4), llm=reviewer)) == ["circuit-open"]  # re-opened
    assert len(fake_openai.requests) == 2

    clock.advance(60)
    back = review(_files(5), llm=reviewer)
    assert (back.llm.status, back.llm.requests, len(fake_openai.requests)) == ("ok", 1, 3)
    later = [review(_files(n), llm=reviewer) for n in (6, 7)]
    assert [r.llm.status for r in later] == ["ok", "ok"]
    assert len(fake_openai.requests) == 5


def test_concurrent_reviews_while_half_open_send_one_trial(fake_openai: FakeOpenAI) -> None:
    clock = FakeClock()
    breaker = _breaker(clock, failures=1, cooldown=60)
    breaker.record_failure("down")
    clock.advance(60)
    settings = _http_settings(fake_openai, timeout=3.0)
    reviewer = _reviewer(OpenAIChatClient(settings), breaker, settings)
    # Slow but fine: the other reviews ask the breaker while the trial is in flight.
    fake_openai.default = timeout(1.0, then=answer())
    start = threading.Barrier(4)
    results: dict[int, ReviewResult] = {}

    def run(n: int) -> None:
        start.wait()
        results[n] = review(_files(n), llm=reviewer)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(fake_openai.requests) == 1
    statuses = sorted(r.llm.status for r in results.values())
    assert statuses == ["ok", "unavailable", "unavailable", "unavailable"]
    skipped = [r for r in results.values() if r.llm.status == "unavailable"]
    assert all("another review is trying it now" in llm_line(r.llm) for r in skipped)
    assert _state(breaker) == "closed"


# -- the App: one breaker for every job ----------------------------------------


def test_app_jobs_share_one_breaker_and_the_summary_says_the_llm_was_skipped(
    fake_github: FakeGitHub, fake_openai: FakeOpenAI
) -> None:
    repo = fake_github.add_repo("acme/shop", {"README.md": "shop\n"})
    pulls = [
        fake_github.add_pull(repo, None, {"README.md": "shop\n", f"svc/app_{n}.py": _source(n)})
        for n in (1, 2, 3)
    ]
    fake_openai.default = error(503)
    llm = _http_settings(fake_openai, breaker_failures=2)
    runner = review_runner(app_settings(fake_github, "s3cret"), llm_settings=llm)

    sent: list[int] = []
    for pull in pulls:
        runner(_job(fake_github, pull.number, pull.head_sha))
        sent.append(len(fake_openai.requests))

    assert sent == [1, 2, 2]  # the third PR sent nothing
    bodies = [_summary(fake_github, pull) for pull in pulls]
    assert all("LLM unavailable" in body for body in bodies)
    assert [bool(SKIP_NOTICE.search(body)) for body in bodies] == [False, False, True]
    assert "`svc/app_3.py`: not reviewed by the LLM (circuit-open)" in bodies[2]
    assert fake_github.crashes == []


def _job(fake_github: FakeGitHub, number: int, head_sha: str) -> Job:
    return Job(
        delivery_id=f"d-{number}",
        event="pull_request",
        action="opened",
        repo_full_name="acme/shop",
        number=number,
        head_sha=head_sha,
        installation_id=fake_github.installation_id,
    )


def _summary(fake_github: FakeGitHub, pull: FakePull) -> str:
    (comment,) = fake_github.issue_comments(pull)
    return str(comment["body"])
