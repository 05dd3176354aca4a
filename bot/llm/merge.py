"""Merge the model's findings with the rules' findings."""

from __future__ import annotations

from collections.abc import Sequence

from bot.findings import Finding

__all__ = ["merge_findings"]


def merge_findings(
    rule_findings: Sequence[Finding], llm_findings: Sequence[Finding]
) -> list[Finding]:
    """One finding per (path, line, factor): the rule's anchor and id win; the model's
    explanation is added to the rule's rationale. Model-only findings stay `source: llm`."""
    merged = {(f.path, f.line, f.factor): f for f in rule_findings}
    for finding in llm_findings:
        key = (finding.path, finding.line, finding.factor)
        existing = merged.get(key)
        if existing is None:
            merged[key] = finding
        elif existing.source == "rule" and finding.rationale not in existing.rationale:
            merged[key] = existing.model_copy(
                update={"rationale": f"{existing.rationale} Reviewer: {finding.rationale}"}
            )
    return list(merged.values())
