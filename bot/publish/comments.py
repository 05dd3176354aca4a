"""The text of one inline review comment.

Factor (linked to its page on 12factor.net), rule id, the one-sentence message,
why it matters, how to fix it, and a ```suggestion block only when the finding
carries a safe replacement for exactly the commented lines.
"""

from __future__ import annotations

from bot.factors import factor
from bot.findings import Finding, Severity
from bot.publish.markers import finding_marker
from bot.rules.registry import BY_CODE

__all__ = ["SEVERITY_LABEL", "render_comment"]

SEVERITY_LABEL = {Severity.ERROR: "Error", Severity.WARNING: "Warning", Severity.NOTICE: "Notice"}


def render_comment(finding: Finding) -> str:
    f = factor(finding.factor)
    source = finding.rule if finding.source == "rule" else "LLM review"
    lines = [
        f"**{SEVERITY_LABEL[finding.severity]}** · [{f.title}]({f.url}) · `{source}`",
        "",
        finding.message,
        "",
        f"**Why it matters:** {finding.rationale}",
    ]
    fix = _how_to_fix(finding)
    if fix:
        lines += ["", "<details><summary>How to fix</summary>", "", fix, "", "</details>"]
    if finding.suggestion is not None:
        lines += ["", "```suggestion", finding.suggestion.rstrip("\n"), "```"]
    lines += ["", finding_marker(finding.fingerprint)]
    return "\n".join(lines)


def _how_to_fix(finding: Finding) -> str:
    rule = BY_CODE.get(finding.rule)
    if rule is None:
        return ""
    return rule.doc().sections.get("Use instead", "").strip()
