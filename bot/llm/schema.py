"""What the model must answer: one JSON object, described by these models.

The JSON schema sent as structured output is generated from `LLMReview`, so the
prompt, the schema and the parser cannot drift apart.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["LLMFinding", "LLMReview"]


class LLMFinding(BaseModel):
    """One problem the model reports. Validated again before it becomes a Finding."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="File path exactly as in the diff header.")
    line: int = Field(description="New-file line number, as printed before the line.")
    end_line: int | None = Field(description="Last line of a range, or null.")
    factor: int = Field(description="Factor number, 1..12.")
    note: str = Field(description="Id of the factor note the finding rests on.")
    severity: Literal["error", "warning", "notice"]
    message: str = Field(description="One sentence: what is wrong.")
    rationale: str = Field(description="Why it matters for this factor, one or two sentences.")
    suggestion: str | None = Field(
        description="Replacement text for exactly line..end_line, or null."
    )


class LLMReview(BaseModel):
    model_config = ConfigDict(extra="forbid")

    findings: list[LLMFinding]
