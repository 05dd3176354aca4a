"""The hourly token budget per installation: a sliding hour on a fake clock, many
threads at once, and the reviewer that sends only what fits and names the rest."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import pytest

from bot.diff import ChangedFile, parse_diff
from bot.engine import review
from bot.github.commands import parse_command
from bot.llm.budget import HOUR, HourlyTokenBudget
from bot.llm.protocol import Completion, LLMUnavailable
from bot.llm.review import LLMReviewer
from bot.llm.settings import LLMSettings
from bot.llm.tokens import EstimatedCounter
from bot.notes import load_notes
from bot.publish.plan import plan_review
from bot.publish.summary import HOURLY_BUDGET_NOTE, SummaryInput, render_summary
from tests.helpers import added_file_diff

INSTALLATION = 777
OUTPUT = 500  # max_output_tokens: what a request may add on top of its prompt


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class MeteredClient:
    """Answers `{"findings": []}` and reports no usage, so each request is charged
    exactly our own count of its prompt; `pause` keeps requests in flight together."""

    pause: float = 0.0
    fail: bool = False
    sent: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def complete(self, system: str, user: str) -> Completion:
        with self.lock:
            self.sent.append(user)
        time.sleep(self.pause)
        if self.fail:
            raise LLMUnavailable("connection refused")
        return Completion('{"findings": []}', prompt_tokens=0, completion_tokens=0, mode="text")


def _settings(**values: object) -> LLMSettings:
    return LLMSettings.model_validate(
        {"base_url": "http://127.0.0.1:9/v1", "max_output_tokens": OUTPUT, **values}
    )


def _reviewer(
    client: MeteredClient, budget: HourlyTokenBudget | None, key: int = INSTALLATION
) -> LLMReviewer:
    return LLMReviewer.create(
        client,
        _settings(request_budget=6000),
        load_notes(),
        EstimatedCounter(),
        budget=budget,
        budget_key=key if budget is not None else None,
    )


def _modules(count: int, lines: int, prefix: str = "pkg/module") -> list[ChangedFile]:
    body = "\n".join(f"value_{i} = compute_something({i}, 'argument')" for i in range(lines))
    return parse_diff("".join(added_file_diff(f"{prefix}_{n}.py", body) for n in range(count)))


def _sent_paths(client: MeteredClient, files: list[ChangedFile]) -> set[str]:
    return {f.path for f in files for user in client.sent if f"### {f.path} " in user}


def test_the_window_slides_and_each_key_has_its_own() -> None:
    clock = FakeClock()
    budget = HourlyTokenBudget(1000, clock=clock)
    budget.record("a", 600)
    clock.now += 1800
    budget.record("a", 300)
    assert budget.remaining("a") == 100
    assert budget.remaining("b") == 1000  # another installation is untouched
    assert budget.reserve("a", 101) is None
    clock.now += 1800  # the 600 spent an hour ago leave the window
    assert budget.remaining("a") == 700
    clock.now += 1799
    assert budget.remaining("a") == 700
    clock.now += 1
    assert budget.remaining("a") == 1000
    budget.record("a", 1500)  # spending is recorded even past the limit
    assert budget.remaining("a") == -500
    assert budget.reserve("a", 1) is None


def test_a_reservation_holds_its_tokens_until_settled() -> None:
    clock = FakeClock()
    budget = HourlyTokenBudget(1000, clock=clock)
    held = budget.reserve(INSTALLATION, 800)
    assert held is not None and held.tokens == 800
    assert budget.remaining(INSTALLATION) == 200
    assert budget.reserve(INSTALLATION, 201) is None
    held.settle(150)  # what the request really cost
    assert budget.remaining(INSTALLATION) == 850
    released = budget.reserve(INSTALLATION, 850)
    assert released is not None and budget.remaining(INSTALLATION) == 0
    released.settle(0)  # the request never went out
    assert budget.remaining(INSTALLATION) == 850
    clock.now += HOUR  # a settled spend keeps the time it was made
    assert budget.remaining(INSTALLATION) == 1000


def test_threads_never_spend_more_than_the_limit() -> None:
    budget = HourlyTokenBudget(5000)
    start = threading.Barrier(16)
    granted: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        start.wait()
        mine = 0
        for _ in range(100):
            if budget.reserve(INSTALLATION, 7) is not None:
                mine += 1
            budget.record("other", 1)
        with lock:
            granted.append(mine)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(granted) == 5000 // 7
    assert budget.remaining(INSTALLATION) == 5000 % 7
    assert budget.remaining("other") == 5000 - 1600  # no record lost


def test_limits_are_checked_and_settings_choose_the_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ValueError, match="limit"):
        HourlyTokenBudget(0)
    with pytest.raises(ValueError, match="window"):
        HourlyTokenBudget(10, window=0)
    default = HourlyTokenBudget.from_settings(_settings())
    assert default is not None and default.limit == 1_000_000
    assert HourlyTokenBudget.from_settings(_settings(installation_tokens_per_hour=0)) is None
    monkeypatch.setenv("TWELVE_REVIEW_INSTALLATION_TOKENS_PER_HOUR", "25000")
    from_env = HourlyTokenBudget.from_settings(LLMSettings())
    assert from_env is not None and from_env.limit == 25_000
    with pytest.raises(ValueError, match="installation id"):
        LLMReviewer.create(
            MeteredClient(),
            _settings(),
            load_notes(),
            EstimatedCounter(),
            budget=HourlyTokenBudget(10),
        )


def test_requests_over_the_hours_budget_are_not_sent_and_named() -> None:
    files = _modules(6, 40)
    plan = _reviewer(MeteredClient(), None).plan(files, [])
    assert len(plan) > 2
    first = plan[0]
    clock = FakeClock()
    # Room for the first request's worst case only: once charged what it really
    # cost (its prompt), OUTPUT tokens are left, which no request fits in.
    budget = HourlyTokenBudget(first.tokens + OUTPUT, clock=clock)
    client = MeteredClient()
    result = review(files, llm=_reviewer(client, budget))

    assert len(client.sent) == 1 and _sent_paths(client, files) == set(first.paths)
    left = {n.path for n in result.llm.not_reviewed if n.reason == "hourly-budget"}
    assert left == {f.path for f in files} - set(first.paths)
    assert result.llm.status == "partial"
    assert result.llm.total_tokens == first.tokens
    assert budget.remaining(INSTALLATION) == OUTPUT  # the real cost, not the reservation

    # Another review of the same installation within the hour sends nothing new...
    other = MeteredClient()
    again = review(_modules(2, 40, "svc/other"), llm=_reviewer(other, budget))
    assert other.sent == []
    assert {n.reason for n in again.llm.not_reviewed} == {"hourly-budget"}
    # ...while another installation has its own hour,
    third = MeteredClient()
    review(_modules(2, 40, "svc/other"), llm=_reviewer(third, budget, key=888))
    assert len(third.sent) == 1
    # and an hour later the first one may spend again.
    clock.now += HOUR
    later = MeteredClient()
    review(_modules(2, 40, "svc/other"), llm=_reviewer(later, budget))
    assert len(later.sent) == 1


def test_a_smaller_request_after_a_refused_one_still_goes() -> None:
    files = [*_modules(1, 60, "pkg/a_large"), *_modules(1, 30, "pkg/b_small")]
    plan = _reviewer(MeteredClient(), None).plan(files, [])
    assert [r.paths for r in plan] == [("pkg/a_large_0.py",), ("pkg/b_small_0.py",)]
    assert plan[0].tokens > plan[1].tokens
    budget = HourlyTokenBudget(plan[1].tokens + OUTPUT)
    client = MeteredClient()
    result = review(files, llm=_reviewer(client, budget))
    assert _sent_paths(client, files) == {"pkg/b_small_0.py"}
    assert [(n.path, n.reason) for n in result.llm.not_reviewed] == [
        ("pkg/a_large_0.py", "hourly-budget")
    ]


def test_a_request_that_fails_costs_nothing_and_cached_answers_are_free() -> None:
    files = _modules(1, 40)
    budget = HourlyTokenBudget(100_000)
    down = MeteredClient(fail=True)
    result = review(files, llm=_reviewer(down, budget))
    assert result.llm.status == "unavailable" and len(down.sent) == 1
    assert budget.remaining(INSTALLATION) == 100_000  # the reservation was released

    client = MeteredClient()
    reviewer = _reviewer(client, budget)
    review(files, llm=reviewer)
    spent = 100_000 - budget.remaining(INSTALLATION)
    assert len(client.sent) == 1 and spent > 0
    budget.record(INSTALLATION, budget.remaining(INSTALLATION))  # the hour is now spent
    cached = review(files, llm=reviewer)
    assert len(client.sent) == 1
    assert (cached.llm.cached, cached.llm.not_reviewed) == (1, [])


def test_concurrent_reviews_of_one_installation_share_its_hour() -> None:
    files = _modules(1, 40)
    (request,) = _reviewer(MeteredClient(), None).plan(files, [])
    worst = request.tokens + OUTPUT
    # Three worst cases fit. Checking what is left and recording the cost after the
    # answer would let all eight through: they are all in flight at once.
    budget = HourlyTokenBudget(3 * worst)
    client = MeteredClient(pause=0.2)
    start = threading.Barrier(8)
    results = []
    lock = threading.Lock()

    def one_review() -> None:
        reviewer = _reviewer(client, budget)  # its own cache: every review must ask
        start.wait()
        outcome = review(files, llm=reviewer)
        with lock:
            results.append(outcome.llm)

    threads = [threading.Thread(target=one_review) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(client.sent) == 3
    assert sorted(r.requests for r in results) == [0] * 5 + [1] * 3
    assert all(r.not_reviewed[0].reason == "hourly-budget" for r in results if not r.requests)
    assert budget.remaining(INSTALLATION) == 3 * worst - 3 * request.tokens


def test_the_summary_names_files_left_for_the_hourly_budget() -> None:
    files = _modules(3, 40)
    plan = _reviewer(MeteredClient(), None).plan(files, [])
    budget = HourlyTokenBudget(plan[0].tokens + OUTPUT)
    result = review(files, llm=_reviewer(MeteredClient(), budget))
    left = sorted(n.path for n in result.llm.not_reviewed)
    assert left
    body = render_summary(
        SummaryInput(
            head_sha="0123456789abcdef0123456789abcdef01234567",
            open_findings=result.findings,
            plan=plan_review(result.findings, files, set(), 25),
            llm=result.llm,
        )
    )
    assert "### Not reviewed" in body
    for path in left:
        assert f"- `{path}`: not reviewed by the LLM (hourly-budget)" in body
    assert HOURLY_BUDGET_NOTE in body
    assert parse_command(body) is None  # the note names the command; it never is one
    assert "LLM gpt-4o-mini: 1 request (0 cached)" in body
    quiet = render_summary(
        SummaryInput(
            head_sha="0123456789abcdef0123456789abcdef01234567",
            open_findings=[],
            plan=plan_review([], [], set(), 25),
        )
    )
    assert HOURLY_BUDGET_NOTE not in quiet
