"""The LLM half of a review: plan the prompts, call the model, keep what survives.

Collaborators come in as arguments (a ChatClient, a cache, a token counter), so
the engine never knows which endpoint it talks to, and tests swap the edge.
Whatever goes wrong with the model, this returns: the review then completes on
rules alone and the report says why. With a circuit breaker (the App's, shared
by its jobs), requests stop while the endpoint is known to be down; with an
hourly budget (also the App's), a request goes out only if its worst case fits
what its installation has left of the hour.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Literal

from bot.diff import ChangedFile
from bot.findings import Finding
from bot.llm.breaker import CircuitBreaker
from bot.llm.budget import HourlyTokenBudget, Reservation
from bot.llm.cache import AnswerCache, MemoryCache
from bot.llm.parse import ModelOutputError, parse_review
from bot.llm.prompt import PromptRequest, plan_prompts
from bot.llm.protocol import ChatClient, Completion, LLMRequestRejected, LLMUnavailable
from bot.llm.report import LLMReport, NotReviewed
from bot.llm.settings import LLMSettings
from bot.llm.tokens import TokenCounter
from bot.llm.validate import to_findings
from bot.notes import NoteSet

__all__ = ["LLMReviewer"]


@dataclass
class LLMReviewer:
    """Everything the LLM half needs, built once per process by an entry point."""

    client: ChatClient
    settings: LLMSettings
    notes: NoteSet
    counter: TokenCounter
    cache: AnswerCache
    total_budget: int | None = None  # overrides settings.max_total_tokens (--llm-budget)
    breaker: CircuitBreaker | None = None  # None: every review tries the model
    budget: HourlyTokenBudget | None = None  # None: no hourly limit
    budget_key: Hashable = None  # whose hour the budget charges (the installation id)

    @classmethod
    def create(
        cls,
        client: ChatClient,
        settings: LLMSettings,
        notes: NoteSet,
        counter: TokenCounter,
        cache: AnswerCache | None = None,
        *,
        breaker: CircuitBreaker | None = None,
        budget: HourlyTokenBudget | None = None,
        budget_key: Hashable = None,
    ) -> LLMReviewer:
        if budget is not None and budget_key is None:
            raise ValueError("an hourly budget needs the key it charges (the installation id)")
        return cls(
            client,
            settings,
            notes,
            counter,
            cache or MemoryCache(),
            breaker=breaker,
            budget=budget,
            budget_key=budget_key,
        )

    def plan(
        self, files: Sequence[ChangedFile], rule_findings: Sequence[Finding]
    ) -> list[PromptRequest]:
        """The prompts a review would send (masked), for --dry-run-prompt."""
        return plan_prompts(
            files,
            rule_findings,
            self.notes,
            self.counter,
            self.settings.request_budget,
            self.settings.model,
        ).requests

    def review(
        self, files: Sequence[ChangedFile], rule_findings: Sequence[Finding]
    ) -> tuple[list[Finding], LLMReport]:
        settings = self.settings
        report = LLMReport(status="ok", model=settings.model)
        plan = plan_prompts(
            files, rule_findings, self.notes, self.counter, settings.request_budget, settings.model
        )
        report.not_reviewed += plan.not_reviewed
        by_path = {f.path: f for f in files}
        cap = self.total_budget or settings.max_total_tokens
        spent = 0
        found: list[Finding] = []
        for index, request in enumerate(plan.requests):
            answer = self.cache.get(request.cache_key)
            if answer is not None:
                report.cached += 1
            else:
                left_out = _over_limit(report, request, spent, cap, settings)
                if left_out is not None:
                    _leave_out(report, plan.requests[index:], left_out)
                    break
                sent = self._ask(report, plan.requests[index:])
                if sent == "stop":
                    break
                if sent == "skip":
                    continue
                spent = report.total_tokens
                answer = sent.text
            try:
                parsed = parse_review(answer)
            except ModelOutputError:
                report.dropped["malformed-output"] += 1
                _leave_out(report, [request], "malformed-output")
                continue
            self.cache.set(request.cache_key, answer)
            in_request = {p: by_path[p] for p in request.paths}
            found += to_findings(
                parsed.findings, in_request, self.notes, plan.masker, report.dropped, request.system
            )
        if report.status == "ok" and report.not_reviewed:
            report.status = "partial"
        return found, report

    def _ask(
        self, report: LLMReport, remaining: Sequence[PromptRequest]
    ) -> Completion | Literal["skip", "stop"]:
        """Send `remaining[0]` if the hourly budget and the breaker let it go, and
        count what it cost. "skip": it was left out alone; "stop": with the rest."""
        request = remaining[0]
        held: Reservation | None = None
        if self.budget is not None:
            # Reserve the worst case, so workers of one installation cannot overspend.
            worst = request.tokens + self.settings.max_output_tokens
            held = self.budget.reserve(self.budget_key, worst)
            if held is None:
                # This request only: a smaller or cached one after it may still fit.
                _leave_out(report, [request], "hourly-budget")
                return "skip"
        cost = 0  # what the hour is charged: nothing unless the model answered
        try:
            if self._circuit_open(report, remaining):
                return "stop"
            try:
                completion = self._complete(request)
            except LLMRequestRejected as exc:  # this request only (too long, refused)
                report.dropped["rejected-request"] += 1
                report.detail = str(exc)
                _leave_out(report, [request], "rejected-request")
                return "skip"
            except LLMUnavailable as exc:
                report.status = "unavailable"
                report.detail = str(exc)
                _leave_out(report, remaining, "llm-unavailable")
                return "stop"
            report.requests += 1
            # Servers that omit usage are charged our own count of the prompt.
            prompt = completion.prompt_tokens or request.tokens
            report.prompt_tokens += prompt
            report.completion_tokens += completion.completion_tokens
            cost = prompt + completion.completion_tokens
            return completion
        finally:
            if held is not None:
                held.settle(cost)

    def _circuit_open(self, report: LLMReport, remaining: Sequence[PromptRequest]) -> bool:
        """Whether the breaker stops the next request; if so, the report says why.

        Asked only right before sending: when half-open, a yes is the one trial.
        """
        if self.breaker is None:
            return False
        verdict = self.breaker.allow()
        if verdict.allowed:
            return False
        report.status = "unavailable"
        report.detail = verdict.describe(dt.datetime.now(dt.UTC))
        _leave_out(report, remaining, "circuit-open")
        return True

    def _complete(self, request: PromptRequest) -> Completion:
        """Send one request; tell the breaker whether the endpoint answered."""
        breaker = self.breaker
        try:
            completion = self.client.complete(request.system, request.user)
        except LLMRequestRejected:
            if breaker is not None:  # refused this request, but the endpoint is up
                breaker.record_success()
            raise
        except LLMUnavailable as exc:
            if breaker is not None:
                breaker.record_failure(str(exc))
            raise
        if breaker is not None:  # even if the answer turns out malformed: it came
            breaker.record_success()
        return completion


def _over_limit(
    report: LLMReport, request: PromptRequest, spent: int, cap: int, settings: LLMSettings
) -> str | None:
    if report.requests >= settings.max_requests:
        return "request-cap"
    if spent + request.tokens + settings.max_output_tokens > cap:
        return "token-cap"
    return None


def _leave_out(report: LLMReport, requests: Sequence[PromptRequest], reason: str) -> None:
    named = {n.path for n in report.not_reviewed}
    for request in requests:
        for path in request.paths:
            if path not in named:
                report.not_reviewed.append(NotReviewed(path, reason))
                named.add(path)
