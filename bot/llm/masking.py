"""Mask credentials before any text leaves the process.

Three sources: credentials in known formats (anywhere), passwords inside URLs
(anywhere), and the literal values on lines the factor III rules flagged. The
masked values are kept, so the model's answer can be checked for them too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.credentials import known_secrets

__all__ = ["MASK", "Masker"]

MASK = "«masked»"

_URL_PASSWORD = re.compile(
    r"(?P<head>[a-z][a-z0-9+.-]*://[^\s:/@'\"]*:)(?P<pw>[^\s@'\"/]+)(?=@)", re.I
)
_QUOTED = re.compile(r"""(?P<q>["'`])(?P<value>[^"'`\n]{4,})(?P=q)""")
_ASSIGNED = re.compile(r"""(?P<head>[=:]\s*)(?P<value>[^\s"'`#;,]{6,})\s*$""")


@dataclass
class Masker:
    """Masks text and remembers what it masked. `flagged` holds (path, line) pairs."""

    flagged: set[tuple[str, int]] = field(default_factory=set)
    masked_values: set[str] = field(default_factory=set)

    def mask_line(self, path: str, number: int | None, text: str) -> str:
        for value in self.masked_values:  # a secret seen on one line, wherever it recurs
            if value in text:
                text = text.replace(value, MASK)
        for match in known_secrets(text):
            text = self._replace(text, match.group())
        for match in list(_URL_PASSWORD.finditer(text)):
            text = self._replace(text, match.group("pw"))
        if number is not None and (path, number) in self.flagged:
            for match in list(_QUOTED.finditer(text)):
                text = self._replace(text, match.group("value"))
            assigned = _ASSIGNED.search(text)
            if assigned is not None and MASK not in assigned.group("value"):
                text = self._replace(text, assigned.group("value"))
        return text

    def _replace(self, text: str, value: str) -> str:
        if value and value != MASK:
            self.masked_values.add(value)
            text = text.replace(value, MASK)
        return text

    def leaks(self, text: str) -> bool:
        """Whether text (the model's answer) contains a value that was masked."""
        return any(value in text for value in self.masked_values)
