"""Human-readable report, grouped by file; colour only when asked (on a TTY)."""

from __future__ import annotations

from collections import Counter
from itertools import groupby

from bot.engine import ReviewResult
from bot.factors import factor
from bot.findings import Severity

__all__ = ["render"]

_COLORS = {Severity.ERROR: "31", Severity.WARNING: "33", Severity.NOTICE: "36"}


def _paint(text: str, code: str, color: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color else text


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def render(result: ReviewResult, color: bool = False) -> str:
    out: list[str] = []
    for path, group in groupby(result.findings, key=lambda f: f.path):
        out.append(_paint(path, "1", color))
        for f in group:
            where = f"{f.line}" if f.end_line is None else f"{f.line}-{f.end_line}"
            level = _paint(f"{f.severity.value:<7}", _COLORS[f.severity], color)
            title = factor(f.factor).title
            out.append(f"  {where:>5}  {level}  {f.rule}  {f.message}  [{title}]")
        out.append("")
    out.append(_summary_line(result))
    return "\n".join(out) + "\n"


def _summary_line(result: ReviewResult) -> str:
    counts = result.counts_by_severity()
    parts = [_plural(counts[s.value], s.value) for s in Severity if counts[s.value]]
    found = _plural(len(result.findings), "finding")
    line = f"{found}" + (f" ({', '.join(parts)})" if parts else "")
    line += f" in {_plural(len(result.reviewed), 'file')} reviewed"
    if result.skipped:
        reasons = Counter(s.reason for s in result.skipped)
        detail = ", ".join(f"{n} {reason}" for reason, n in sorted(reasons.items()))
        line += f"; {len(result.skipped)} skipped ({detail})"
    if result.suppressed:
        line += f"; {len(result.suppressed)} suppressed inline"
    if result.folded:
        line += f"; {len(result.folded)} folded into another finding on the same line"
    return line + "."
