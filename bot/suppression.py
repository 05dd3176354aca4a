"""Inline suppressions: `twelve-review: ignore[TF0301] reason` on a line or the one above.

A suppression names rule ids or factor numbers; a bare `ignore` with no list
is not accepted, so every silenced finding says what it silences. The reason
text is kept and reported with the suppressed finding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Suppression", "find_suppression"]

_MARKER = re.compile(r"twelve-review:\s*ignore\[([^\]]*)\]\s*(.*)", re.IGNORECASE)
_TRAILING_COMMENT_CLOSE = re.compile(r"\s*(\*/|-->|%>|#})\s*$")


@dataclass(frozen=True, slots=True)
class Suppression:
    codes: frozenset[str]
    factors: frozenset[int]
    reason: str

    def covers(self, rule: str, factor: int) -> bool:
        return rule.upper() in self.codes or factor in self.factors


def parse_suppression(text: str) -> Suppression | None:
    """The suppression written in this line of text, if any."""
    match = _MARKER.search(text)
    if match is None:
        return None
    codes: set[str] = set()
    factors: set[int] = set()
    for item in re.split(r"[,\s]+", match.group(1)):
        if not item:
            continue
        if item.isdigit() and 1 <= int(item) <= 12:
            factors.add(int(item))
        else:
            codes.add(item.upper())
    if not codes and not factors:
        return None
    reason = _TRAILING_COMMENT_CLOSE.sub("", match.group(2)).strip(" :-—")
    return Suppression(frozenset(codes), frozenset(factors), reason)


def find_suppression(
    line_text: str | None, line_above: str | None, rule: str, factor: int
) -> Suppression | None:
    """The suppression that silences `rule` on a line, looking at it and the line above."""
    for text in (line_text, line_above):
        if text and "twelve-review" in text.lower():
            found = parse_suppression(text)
            if found is not None and found.covers(rule, factor):
                return found
    return None
