"""What the LLM half of a review did: requests, tokens, and what it left out."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

__all__ = ["LLMReport", "NotReviewed"]


@dataclass(frozen=True, slots=True)
class NotReviewed:
    path: str
    # too-large | request-cap | token-cap | llm-unavailable | malformed-output | rejected-request
    # | circuit-open (skipped: the breaker is open after earlier reviews failed)
    # | hourly-budget (skipped: the installation spent its tokens for the hour)
    reason: str


@dataclass
class LLMReport:
    """`status`: off (not configured or --no-llm), ok, partial (some files left out or
    answers unusable), unavailable (the model could not be reached, or the circuit
    breaker skipped it after earlier failures, `detail` says which: rules only),
    dry-run (prompts printed, nothing sent)."""

    status: str
    model: str | None = None
    requests: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    not_reviewed: list[NotReviewed] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)
    detail: str | None = None
    # An incremental run: the model saw only the files changed since the last review
    # (`files_sent` of them) and earlier findings elsewhere were carried forward.
    incremental: bool = False
    files_sent: int = 0
    carried: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens
