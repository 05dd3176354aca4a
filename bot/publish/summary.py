"""The one summary comment per pull request, edited in place on every run.

It says what was reviewed (the head SHA), the counts by factor and severity,
what did not become an inline comment and why, what was not reviewed at all
and why, what the LLM cost (or that the review ran on rules alone), and how
many earlier findings a later push resolved. A hidden marker carries the state
the next run needs. File names come from the pull request: each is shown in a
code span that holds whatever it contains.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from bot.engine import SkippedFile
from bot.factors import factor
from bot.findings import Finding, Severity
from bot.llm.report import LLMReport
from bot.output.text import llm_line
from bot.publish.comments import SEVERITY_LABEL, safe_message
from bot.publish.markers import SummaryState, summary_marker
from bot.publish.plan import ReviewPlan
from bot.publish.safe import code_span

__all__ = ["SummaryInput", "render_summary"]

TITLE = "## twelve-review"
_SKIP_REASONS = {
    "deleted": "deleted",
    "binary": "binary",
    "excluded": "excluded by the config",
    "test": "test code",
    "docs": "documentation",
    "example": "example or template",
    "unrecognised": "no rule reads this file type",
    "too-large": "too large for GitHub to show a diff",
    "unparsable": "its diff could not be read (an unusual file name or patch)",
    "over-limit": "past the size limit of one review (files or added lines)",
}
# A later push sends the model only the files it changes: say how to get the rest.
HOURLY_BUDGET_NOTE = (
    "This installation's LLM token budget for the past hour is spent: the files marked"
    " `hourly-budget` had no model review. Once the hour allows, `/twelve-review full`"
    " reviews them all."
)


@dataclass
class SummaryInput:
    head_sha: str
    open_findings: Sequence[Finding]  # every finding still open on the PR after this run
    plan: ReviewPlan
    skipped: Sequence[SkippedFile] = ()
    llm: LLMReport = field(default_factory=lambda: LLMReport(status="off"))
    resolved: int = 0  # findings later pushes fixed, over the PR's life
    max_listed: int = 50
    # open before, in files this run did not read: kept open in the state
    still_open: frozenset[str] = frozenset()


# GitHub refuses a comment body over 65,536 characters; leave room to spare.
MAX_SUMMARY_CHARS = 60_000


def render_summary(data: SummaryInput) -> str:
    """The summary comment; its lists are shortened until it fits GitHub's limit
    (long quoted values, or thousands of skipped files, would overflow it)."""
    body = _render(data)
    while len(body) > MAX_SUMMARY_CHARS and data.max_listed > 0:
        data = replace(data, max_listed=data.max_listed // 2)
        body = _render(data)
    return body


def _render(data: SummaryInput) -> str:
    findings = data.open_findings
    # The files the LLM left out are listed below, each in its code span, not in this line.
    lines = [TITLE, "", _headline(data), "", llm_line(replace(data.llm, not_reviewed=[]))]
    if findings:
        lines += ["", *_factor_table(findings)]
    left = [*data.plan.unanchored, *data.plan.overflow, *data.plan.not_postable]
    if left:
        lines += ["", "### Not posted inline", ""]
        why = {id(f): "not on a line of the diff" for f in data.plan.unanchored}
        why |= {id(f): "the token may not comment" for f in data.plan.not_postable}
        ordered = sorted(left, key=lambda f: (-f.severity.rank, f.path, f.line))
        for finding in ordered[: data.max_listed]:
            reason = why.get(id(finding), "over the inline comment limit")
            where = code_span(f"{finding.path}:{finding.line}")
            lines.append(
                f"- **{SEVERITY_LABEL[finding.severity]}** {where} {finding.rule}"
                f" ({factor(finding.factor).roman}): {safe_message(finding)} _({reason})_"
            )
        if len(ordered) > data.max_listed:
            lines.append(f"- ... and {len(ordered) - data.max_listed} more")
    not_reviewed = [s for s in data.skipped if s.reason not in ("deleted",)]
    if not_reviewed or data.llm.not_reviewed:
        lines += ["", "### Not reviewed", ""]
        for skipped in not_reviewed[: data.max_listed]:
            reason = _SKIP_REASONS.get(skipped.reason, skipped.reason)
            lines.append(f"- {code_span(skipped.path)}: {reason}")
        for left_out in data.llm.not_reviewed[: data.max_listed]:
            lines.append(
                f"- {code_span(left_out.path)}: not reviewed by the LLM ({left_out.reason})"
            )
        if any(n.reason == "hourly-budget" for n in data.llm.not_reviewed):
            lines += ["", HOURLY_BUDGET_NOTE]
    if data.resolved:
        plural = "finding was" if data.resolved == 1 else "findings were"
        lines += ["", f"{data.resolved} earlier {plural} resolved by later commits."]
    state = SummaryState(
        data.head_sha,
        frozenset(f.fingerprint for f in findings) | data.still_open,
        tuple(f for f in findings if f.source == "llm"),
        data.resolved,
    )
    lines += ["", summary_marker(state)]
    return "\n".join(lines) + "\n"


def _headline(data: SummaryInput) -> str:
    counts = Counter(f.severity for f in data.open_findings)
    parts = [
        f"{counts[s]} {SEVERITY_LABEL[s].lower()}{'' if counts[s] == 1 else 's'}"
        for s in Severity
        if counts[s]
    ]
    total = len(data.open_findings)
    found = "No findings" if not total else f"{total} finding{'' if total == 1 else 's'}"
    detail = f" ({', '.join(parts)})" if parts else ""
    return f"Reviewed `{data.head_sha[:12]}`: {found}{detail}."


def _factor_table(findings: Sequence[Finding]) -> list[str]:
    counts = Counter((f.factor, f.severity) for f in findings)
    rows = ["| Factor | Errors | Warnings | Notices |", "|---|---:|---:|---:|"]
    for number in sorted({f.factor for f in findings}):
        fac = factor(number)
        cells = " | ".join(str(counts[(number, s)]) for s in Severity)
        rows.append(f"| [{fac.title}]({fac.url}) | {cells} |")
    return rows
