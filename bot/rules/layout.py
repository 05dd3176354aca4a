"""Where a line sits in the structure of its file, read from how the lines are laid out.

YAML, JSON, dict/hash/object literals laid out one key a line, and the blocks
of Python or Ruby code nest by indentation; INI and TOML files by `[section]`
headers; calls and statements by brackets left open and lines left unfinished
above. These helpers read that structure from the known lines around a line and
stop at the first unknown one (a partial diff), so they never guess.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from bot.diff import Line
from bot.rules.base import FileUnderReview

__all__ = [
    "ancestor_keys",
    "enclosing_lines",
    "indent_of",
    "indent_width",
    "opened_call",
    "section_name",
    "sibling_keys",
    "statement_matches",
]


def indent_of(text: str) -> int:
    """Leading spaces and tabs, each counting one (the key structure of YAML and literals)."""
    return len(text) - len(text.lstrip(" \t"))


def indent_width(text: str, tabsize: int) -> int:
    """Columns of leading whitespace, tabs expanded to stops every `tabsize` columns.

    With `tabsize` 1 a tab counts one column, like any other blank.
    """
    expanded = text.expandtabs(tabsize)
    return len(expanded) - len(expanded.lstrip())


def enclosing_lines(
    f: FileUnderReview,
    number: int,
    indent: int,
    measure: Callable[[str], int],
    *,
    limit: int | None = None,
    comments: tuple[str, ...] = (),
) -> Iterator[tuple[int, str]]:
    """The lines above `number` that open the blocks around it, nearest first.

    Walking up from a line indented `indent` (by `measure`), each line indented less
    than the last one found is yielded. Blank lines, and lines starting with one of
    `comments`, are passed over. The walk ends at a line in column 0, at an unknown
    line, or after `limit` lines.
    """
    if indent == 0:
        return
    stop = 0 if limit is None else max(0, number - limit)
    for k in range(number - 1, stop, -1):
        text = f.line_text(k)
        if text is None:
            return
        stripped = text.strip()
        if not stripped or (comments and stripped.startswith(comments)):
            continue
        width = measure(text)
        if width < indent:
            yield k, text
            if width == 0:
                return
            indent = width


def _level(text: str) -> int:
    """Indentation, counting a YAML list dash as one more level than its key."""
    level = indent_of(text)
    return level + 1 if text[level : level + 2] == "- " else level


_BLOCK_KEY = re.compile(
    r"""^\s*(?:-\s+)?(?:(?:export\s+)?(?:const|let|var)\s+)?(?:[\w.]*\.)?
        ['"]?([\w-]+)['"]?\s*(?:=>|[:=])""",
    re.VERBOSE,
)


def ancestor_keys(f: FileUnderReview, number: int, limit: int = 80) -> list[str]:
    """Keys of the blocks enclosing a line, nearest first, found by indentation.

    Works for YAML and for dict/hash/object literals laid out one key a line.
    Stops at the first unknown line (a partial diff), so it never guesses.
    """
    text = f.line_text(number)
    if text is None:
        return []
    current = _level(text)
    keys: list[str] = []
    for k in range(number - 1, max(0, number - limit), -1):
        above = f.line_text(k)
        if above is None:
            break
        stripped = above.strip()
        if not stripped or stripped.startswith(("#", "//", "*", "/*")):
            continue
        level = _level(above)
        if level < current:
            m = _BLOCK_KEY.match(above)
            if m:
                keys.append(m.group(1).lower())
            current = level
            if level == 0:
                break
    return keys


def sibling_keys(f: FileUnderReview, number: int, limit: int = 40) -> set[str]:
    """Keys at the same indentation in the block around a line (YAML, JSON, literals)."""
    text = f.line_text(number)
    if text is None:
        return set()
    level = indent_of(text)
    keys: set[str] = set()
    for step in (-1, 1):
        k = number + step
        while k > 0 and abs(k - number) <= limit:
            other = f.line_text(k)
            if other is None or (other.strip() and indent_of(other) < level):
                break
            if indent_of(other) == level:
                m = _BLOCK_KEY.match(other)
                if m:
                    keys.add(m.group(1).lower())
            k += step
    return keys


_SECTION = re.compile(r"^\s*\[+\s*([^\]]+?)\s*\]+")


def section_name(f: FileUnderReview, number: int, limit: int = 80) -> str | None:
    """The `[section]` an INI/TOML line sits in, lower-cased, when it can be seen."""
    for k in range(number - 1, max(0, number - limit), -1):
        above = f.line_text(k)
        if above is None:
            return None
        m = _SECTION.match(above)
        if m:
            return m.group(1).lower()
    return None


_OPENERS = {")": "(", "}": "{", "]": "["}


def opened_call(f: FileUnderReview, number: int, opener: re.Pattern[str], lookback: int) -> bool:
    """Line `number` sits inside a call/literal left open by a line above matching `opener`.

    Brackets are matched walking backwards, so a call that closed before the line
    does not count (string contents are not parsed; good enough for layout checks).
    """
    pending = 0
    for k in range(number - 1, max(0, number - 1 - lookback), -1):
        text = f.line_text(k)
        if text is None:
            return False
        unmatched = False
        for char in reversed(text):
            if char in _OPENERS:
                pending += 1
            elif char in "({[":
                if pending:
                    pending -= 1
                else:
                    unmatched = True
        if unmatched and opener.search(text):
            return True
    return False


def statement_matches(
    f: FileUnderReview, line: Line, pattern: re.Pattern[str], lookback: int, ends: tuple[str, ...]
) -> bool:
    """`pattern` matches the line, or one of the `lookback` lines above it in its statement.

    A line above that ends with one of `ends` completes an earlier statement: the walk stops.
    """
    for number in range(line.number, max(line.number - 1 - lookback, 0), -1):
        text = line.text if number == line.number else f.line_text(number)
        if text is None:
            return False
        if number != line.number and text.rstrip().endswith(ends):
            return False  # the statement above is complete
        if pattern.search(text):
            return True
    return False
