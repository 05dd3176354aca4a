"""SARIF 2.1.0 for GitHub code scanning (`github/codeql-action/upload-sarif`).

Each rule carries its documentation as help text and its factor as a tag;
each result carries the finding's fingerprint in `partialFingerprints`, so
code scanning tracks an alert across commits the same way the bot does.
"""

from __future__ import annotations

import json
from typing import Any

from bot import __version__
from bot.engine import ReviewResult
from bot.factors import factor
from bot.findings import Severity
from bot.rules.base import Rule
from bot.rules.registry import ALL_RULES

__all__ = ["SARIF_SCHEMA", "render", "sarif_log"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTICE: "note"}


def _rule_descriptor(rule: Rule) -> dict[str, Any]:
    doc = rule.doc()
    f = factor(rule.factor)
    markdown = "\n\n".join(f"## {name}\n{body}" for name, body in doc.sections.items())
    markdown += f"\n\nFactor: [{f.title}]({f.url})\n\nFactor note: {f.note_id}"
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": doc.title},
        "fullDescription": {"text": doc.paragraph("What it does")},
        "help": {"text": rule.rationale(), "markdown": markdown},
        "helpUri": f.url,
        "defaultConfiguration": {"level": _LEVEL[rule.severity]},
        "properties": {
            "tags": ["twelve-factor", f"factor-{rule.factor:02d}", f.slug],
            "precision": "high" if rule.status == "stable" else "medium",
        },
    }


def sarif_log(result: ReviewResult) -> dict[str, Any]:
    index = {rule.code: i for i, rule in enumerate(ALL_RULES)}
    results: list[dict[str, Any]] = []
    for finding in result.findings:
        region: dict[str, int] = {"startLine": finding.line}
        if finding.end_line is not None:
            region["endLine"] = finding.end_line
        entry: dict[str, Any] = {
            "ruleId": finding.rule,
            "level": _LEVEL[finding.severity],
            "message": {"text": f"{finding.message} {finding.rationale}".strip()},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": finding.path, "uriBaseId": "%SRCROOT%"},
                        "region": region,
                    }
                }
            ],
            "partialFingerprints": {"twelveReview/v1": finding.fingerprint},
            "properties": {"factor": finding.factor, "source": finding.source},
        }
        if finding.rule in index:
            entry["ruleIndex"] = index[finding.rule]
        results.append(entry)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "twelve-review",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "rules": [_rule_descriptor(r) for r in ALL_RULES],
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "repository root"}}},
                "results": results,
            }
        ],
    }


def render(result: ReviewResult, color: bool = False) -> str:
    return json.dumps(sarif_log(result), indent=2, ensure_ascii=False) + "\n"
