"""The `/twelve-review` comment command: its grammar and its help text.

A command is the first line of a pull-request comment, starting with
`/twelve-review` (any case). Arguments come from an allowlist and are parsed,
never passed on: `full`, `factors=3,4,11`, `help`, `explain TF0301` (or a
factor number). Anything else turns the command into a help reply naming what
was not understood.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from bot.rules.registry import BY_CODE

__all__ = ["USAGE", "Command", "parse_command"]

USAGE = """\
`/twelve-review` reviews this pull request's current head. Options:

- `/twelve-review full`: review the whole pull request, not just the new commits
- `/twelve-review factors=3,4,11`: only these factors (numbers 1 to 12)
- `/twelve-review explain TF0301`: show a rule's documentation (or `explain 3` for a factor)
- `/twelve-review help`: this text

Only people with write access to the repository can start a review."""

_NAME = "/twelve-review"
_FACTORS = re.compile(r"factors=((?:[1-9]|1[0-2])(?:,(?:[1-9]|1[0-2]))*)")
_MAX_ARGS = 8


@dataclass(frozen=True, slots=True)
class Command:
    kind: Literal["review", "help", "explain"]
    full: bool = False
    factors: frozenset[int] = frozenset()
    target: str | None = None  # for explain: a rule id or a factor number
    not_understood: tuple[str, ...] = ()


def parse_command(body: str) -> Command | None:
    """The command in a comment, or None when the comment is not one."""
    first = body.lstrip().split("\n", 1)[0].strip()
    words = first.split()
    if not words or words[0].lower() != _NAME:
        return None
    args = [w.lower() for w in words[1:]]
    if len(args) > _MAX_ARGS:
        return Command("help", not_understood=("too many arguments",))
    if not args:
        return Command("review")
    if args[0] == "help":
        return Command("help", not_understood=tuple(words[2:]))
    if args[0] == "explain":
        return _explain(words[2:])
    full = False
    factors: set[int] = set()
    unknown: list[str] = []
    for arg, original in zip(args, words[1:], strict=True):
        factor_list = _FACTORS.fullmatch(arg)
        if arg == "full" and not full:
            full = True
        elif factor_list is not None and not factors:
            factors = {int(n) for n in factor_list.group(1).split(",")}
        else:
            unknown.append(original)
    if unknown:
        return Command("help", not_understood=tuple(unknown))
    return Command("review", full=full, factors=frozenset(factors))


def _explain(rest: list[str]) -> Command:
    if len(rest) != 1:
        return Command("help", not_understood=tuple(rest) or ("explain needs one rule id",))
    target = rest[0].upper()
    if target in BY_CODE or (target.isascii() and target.isdigit() and 1 <= int(target) <= 12):
        return Command("explain", target=target)
    return Command("help", not_understood=(rest[0],))
