"""The text of one inline review comment.

Factor (linked to its page on 12factor.net), rule id, the one-sentence message,
why it matters, how to fix it, and a ```suggestion block only when the finding
carries a safe replacement for exactly the commented lines.

Rule messages quote the diff inside code spans; a quoted value that closes its
span early (an image named `` x`<img src=...>` ``) would render as HTML, a link
or a mention in the bot's name, so such a message gives way to the rule's own.
"""

from __future__ import annotations

from bot.factors import factor
from bot.findings import Finding, Severity
from bot.publish.markers import finding_marker
from bot.publish.safe import prose_hazard
from bot.rules.registry import BY_CODE

__all__ = ["SEVERITY_LABEL", "render_comment", "safe_message", "safe_rationale"]

SEVERITY_LABEL = {Severity.ERROR: "Error", Severity.WARNING: "Warning", Severity.NOTICE: "Notice"}
WITHHELD = "(withheld: this text would not render as plain text)"
_FENCE = "```"


def render_comment(finding: Finding) -> str:
    f = factor(finding.factor)
    source = finding.rule if finding.source == "rule" else "LLM review"
    lines = [
        f"**{SEVERITY_LABEL[finding.severity]}** · [{f.title}]({f.url}) · `{source}`",
        "",
        safe_message(finding),
        "",
        f"**Why it matters:** {safe_rationale(finding)}",
    ]
    fix = _how_to_fix(finding)
    if fix:
        lines += ["", "<details><summary>How to fix</summary>", "", fix, "", "</details>"]
    # A fence inside the suggestion would close its block and let the rest render.
    if finding.suggestion is not None and _FENCE not in finding.suggestion:
        lines += ["", "```suggestion", finding.suggestion.rstrip("\n"), "```"]
    lines += ["", finding_marker(finding.fingerprint)]
    return "\n".join(lines)


def safe_message(finding: Finding) -> str:
    """The message, or the rule's own when what it quotes would render as more than text."""
    if prose_hazard(finding.message) is None:
        return finding.message
    rule = BY_CODE.get(finding.rule)
    return rule.message if rule is not None else WITHHELD


def safe_rationale(finding: Finding) -> str:
    if prose_hazard(finding.rationale) is None:
        return finding.rationale
    rule = BY_CODE.get(finding.rule)
    return rule.rationale() if rule is not None else WITHHELD


def _how_to_fix(finding: Finding) -> str:
    rule = BY_CODE.get(finding.rule)
    if rule is None:
        return ""
    return rule.doc().sections.get("Use instead", "").strip()
