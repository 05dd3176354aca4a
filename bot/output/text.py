"""Human-readable report, grouped by file; colour only when asked (on a TTY)."""

from __future__ import annotations

from collections import Counter
from itertools import groupby

from bot.engine import ReviewResult
from bot.factors import factor
from bot.findings import Severity
from bot.llm.report import LLMReport

__all__ = ["llm_line", "render"]

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
    out.append(llm_line(result.llm))
    return "\n".join(out) + "\n"


def llm_line(report: LLMReport) -> str:
    """One line on what the LLM did, so a rules-only review is never mistaken for a full one."""
    if report.status == "off":
        return "Rules only: no LLM configured (set OPENAI_API_KEY or OPENAI_BASE_URL), or --no-llm."
    if report.status == "unavailable":
        line = f"LLM unavailable ({report.detail}); rules only"
        if report.requests:
            line += f" after {_plural(report.requests, 'request')}"
        return line + "."
    line = (
        f"LLM {report.model}: {_plural(report.requests, 'request')}"
        f" ({report.cached} cached), {report.total_tokens:,} tokens"
    )
    if report.incremental:
        line += (
            f"; incremental: {_plural(report.files_sent, 'file')} changed since the last review"
            f" sent, {report.carried} earlier model finding(s) carried forward"
        )
    dropped = sum(report.dropped.values())
    if dropped:
        reasons = ", ".join(f"{n} {r}" for r, n in sorted(report.dropped.items()))
        line += f"; {dropped} answer(s) dropped ({reasons})"
    if report.not_reviewed:
        left = ", ".join(f"{n.path} ({n.reason})" for n in report.not_reviewed)
        line += f"; not reviewed by the LLM: {left}"
    return line + "."


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
