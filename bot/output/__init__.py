"""Output formats for a review, registered by name in one table."""

from __future__ import annotations

from collections.abc import Callable

from bot.engine import ReviewResult
from bot.output import github, json_report, sarif, text

__all__ = ["FORMATS", "Formatter"]

# A formatter turns a review into the text printed on stdout; `color` asks for ANSI colour.
Formatter = Callable[[ReviewResult, bool], str]

FORMATS: dict[str, Formatter] = {
    "text": text.render,
    "json": json_report.render,
    "sarif": sarif.render,
    "github": github.render,
}
