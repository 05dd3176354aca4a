"""GitHub Actions workflow commands: one annotation per finding.

Escaping follows the runner's rules: in the message `%`, CR and LF are
percent-encoded; in property values `:` and `,` are too.
"""

from __future__ import annotations

from bot.engine import ReviewResult
from bot.factors import factor
from bot.findings import Finding

__all__ = ["annotation", "render"]

_LEVEL = {"error": "error", "warning": "warning", "notice": "notice"}


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def annotation(finding: Finding) -> str:
    props = [f"file={_escape_property(finding.path)}", f"line={finding.line}"]
    if finding.end_line is not None:
        props.append(f"endLine={finding.end_line}")
    title = f"{finding.rule} · {factor(finding.factor).title}"
    props.append(f"title={_escape_property(title)}")
    body = f"{finding.message}\n{finding.rationale}"
    return f"::{_LEVEL[finding.severity.value]} {','.join(props)}::{_escape_data(body)}"


def render(result: ReviewResult, color: bool = False) -> str:
    return "".join(annotation(f) + "\n" for f in result.findings)
