"""The strict parser for the model's answer text.

Accepted: one JSON object, bare or inside a single fenced code block (```json or
plain ```), with prose allowed around it. The object must validate against
`LLMReview` (unknown keys are errors). Nothing is repaired: the only work done is
taking the body of the fence and reading the JSON object that starts at the
first `{`; anything else raises `ModelOutputError` with a short reason.
"""

from __future__ import annotations

import json
from typing import Any, Final

from pydantic import ValidationError

from bot.llm.schema import LLMReview

__all__ = ["ModelOutputError", "parse_review"]

FENCE: Final = "```"
JSON_FENCE_TAGS: Final = frozenset({"", "json"})
SHOWN_ERRORS: Final = 3


class ModelOutputError(ValueError):
    """The model's answer is not the JSON object it was asked for."""


def parse_review(text: str) -> LLMReview:
    """The `LLMReview` in `text`, or `ModelOutputError` saying why there is none."""
    body, fenced = _unfence(text.lstrip("\ufeff"))
    start = body.find("{")
    if start < 0:
        raise ModelOutputError("no JSON object in the answer" if body.strip() else "empty answer")
    before = body[:start].rstrip()
    if before and (fenced or before[-1] in "[,"):
        raise ModelOutputError("the JSON object is not the top-level value")
    try:
        value, end = json.JSONDecoder(parse_constant=_reject_constant).raw_decode(body, start)
    except json.JSONDecodeError as err:
        raise ModelOutputError(f"invalid JSON: {err.msg} (line {err.lineno})") from None
    except ValueError as err:
        raise ModelOutputError(f"invalid JSON: {err}") from None
    after = body[end:].lstrip()
    if after and (fenced or after[0] in ",]}"):
        raise ModelOutputError("unexpected text after the JSON object")
    try:
        return LLMReview.model_validate(value)
    except ValidationError as err:
        raise ModelOutputError(f"answer does not match the schema: {_summary(err)}") from None


def _unfence(text: str) -> tuple[str, bool]:
    """The body of the single fenced block in `text`, or `text` itself if it has none.

    A fence is a line starting with ``` (JSON strings cannot span lines, so no such
    line can be inside the object); the block ends at the next line that is ```.
    """
    lines = text.splitlines()
    fences = [i for i, line in enumerate(lines) if line.lstrip().startswith(FENCE)]
    if not fences:
        return text, False
    if len(fences) != 2:
        raise ModelOutputError(
            "expected one fenced code block, found "
            + ("an unclosed fence" if len(fences) == 1 else f"{len(fences)} fence lines")
        )
    opening, closing = fences
    tag = lines[opening].strip()[len(FENCE) :].strip().lower()
    if tag not in JSON_FENCE_TAGS:
        raise ModelOutputError(f"fenced block is {tag!r}, not json")
    if lines[closing].strip() != FENCE:
        raise ModelOutputError("malformed closing fence")
    return "\n".join(lines[opening + 1 : closing]), True


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _summary(err: ValidationError) -> str:
    problems = [
        f"{'.'.join(str(part) for part in e['loc']) or '(root)'}: {e['msg']}"
        for e in err.errors()[:SHOWN_ERRORS]
    ]
    more = err.error_count() - len(problems)
    return "; ".join(problems) + (f" (and {more} more)" if more > 0 else "")
