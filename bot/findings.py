"""The one finding model used by rules, the LLM reviewer, and every output."""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Finding", "Severity", "fingerprint_for", "normalise_line"]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    NOTICE = "notice"

    @property
    def rank(self) -> int:
        """Higher is more severe; used for sorting and fail-on thresholds."""
        return _RANK[self]

    def at_least(self, threshold: Severity) -> bool:
        return self.rank >= threshold.rank


_RANK = {Severity.ERROR: 3, Severity.WARNING: 2, Severity.NOTICE: 1}

_WHITESPACE = re.compile(r"\s+")


def normalise_line(text: str) -> str:
    """Line content as it goes into a fingerprint: whitespace runs collapsed."""
    return _WHITESPACE.sub(" ", text).strip()


def fingerprint_for(rule: str, path: str, line_text: str, occurrence: int = 0) -> str:
    """A stable id for a finding that survives edits elsewhere in the file.

    Built from the rule, the path and the normalised text of the flagged line,
    never the line number. `occurrence` tells apart identical lines in one file.
    """
    key = "\x00".join((rule, path, normalise_line(line_text), str(occurrence)))
    return hashlib.sha256(key.encode("utf-8", errors="replace")).hexdigest()[:20]


class Finding(BaseModel):
    """One problem at one place, tied to one factor."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: str = Field(description="Rule id, e.g. TF0301 (or LLM for model findings).")
    factor: int = Field(ge=1, le=12, description="Factor number, 1..12.")
    severity: Severity
    path: str = Field(min_length=1, description="File path in the new revision.")
    line: int = Field(ge=1, description="First new-file line of the finding.")
    end_line: int | None = Field(default=None, ge=1, description="Last line, for a range.")
    message: str = Field(min_length=1, description="One sentence: what is wrong.")
    rationale: str = Field(description="Why it matters, in terms of the factor.")
    suggestion: str | None = Field(
        default=None,
        description="Replacement text for exactly lines line..end_line, when mechanical and safe.",
    )
    source: Literal["rule", "llm"] = "rule"
    fingerprint: str = Field(min_length=8)

    @model_validator(mode="after")
    def _range_is_ordered(self) -> Finding:
        if self.end_line is not None and self.end_line < self.line:
            raise ValueError("end_line must not be before line")
        return self

    @property
    def last_line(self) -> int:
        return self.end_line if self.end_line is not None else self.line

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.line, -self.severity.rank, self.rule)
