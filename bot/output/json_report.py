"""The JSON report: a documented, stable object (see README, "JSON output").

    {"version": 1,
     "tool": {"name": "twelve-review", "version": "..."},
     "findings": [Finding, ...],
     "summary": {...}}

`version` changes only when a field is removed or changes meaning; new fields
may be added within a version.
"""

from __future__ import annotations

import json
from typing import Any

from bot import __version__
from bot.engine import ReviewResult
from bot.llm.report import LLMReport

__all__ = ["REPORT_VERSION", "render", "report"]

REPORT_VERSION = 1


def summary(result: ReviewResult) -> dict[str, Any]:
    return {
        "files_reviewed": len(result.reviewed),
        "files_skipped": [{"path": s.path, "reason": s.reason} for s in result.skipped],
        "findings": len(result.findings),
        "by_severity": result.counts_by_severity(),
        "by_factor": {str(k): v for k, v in result.counts_by_factor().items()},
        "suppressed": [
            {
                "rule": s.finding.rule,
                "path": s.finding.path,
                "line": s.finding.line,
                "reason": s.reason,
            }
            for s in result.suppressed
        ],
        "folded": [
            {"rule": x.finding.rule, "path": x.finding.path, "line": x.finding.line, "into": x.into}
            for x in result.folded
        ],
        "llm": _llm(result.llm),
    }


def _llm(report: LLMReport) -> dict[str, Any]:
    return {
        "status": report.status,
        "model": report.model,
        "requests": report.requests,
        "cached": report.cached,
        "tokens": {
            "prompt": report.prompt_tokens,
            "completion": report.completion_tokens,
            "total": report.total_tokens,
        },
        "not_reviewed": [{"path": n.path, "reason": n.reason} for n in report.not_reviewed],
        "dropped": dict(sorted(report.dropped.items())),
        "detail": report.detail,
    }


def report(result: ReviewResult) -> dict[str, Any]:
    return {
        "version": REPORT_VERSION,
        "tool": {"name": "twelve-review", "version": __version__},
        "findings": [f.model_dump(mode="json") for f in result.findings],
        "summary": summary(result),
    }


def render(result: ReviewResult, color: bool = False) -> str:
    return json.dumps(report(result), indent=2, ensure_ascii=False) + "\n"
