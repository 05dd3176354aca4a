"""Rule documentation for people: listings, `explain`, and the README table."""

from __future__ import annotations

import json

from bot.factors import FACTORS, factor
from bot.rules.base import Rule
from bot.rules.registry import ALL_RULES, rules_for_factor

__all__ = ["explain_factor", "explain_rule", "rules_json", "rules_markdown", "rules_text"]


def rules_text() -> str:
    lines = []
    for rule in ALL_RULES:
        f = factor(rule.factor)
        severity = rule.severity.value
        lines.append(f"{rule.code}  {f.roman:<4} {severity:<7}  {rule.name:<34} {rule.doc().title}")
    return "\n".join(lines) + "\n"


def rules_json() -> str:
    data = [
        {
            "code": r.code,
            "name": r.name,
            "factor": r.factor,
            "factor_name": factor(r.factor).name,
            "severity": r.severity.value,
            "status": r.status,
            "files": sorted(k.value for k in r.kinds),
            "title": r.doc().title,
            "message": r.message,
            "rationale": r.rationale(),
        }
        for r in ALL_RULES
    ]
    return json.dumps(data, indent=2) + "\n"


def rules_markdown() -> str:
    """The README rules table; `tests/test_readme.py` keeps the README in step."""
    rows = ["| Code | Factor | Severity | Name | What it flags |", "|---|---|---|---|---|"]
    for r in ALL_RULES:
        f = factor(r.factor)
        title = r.doc().title.replace("|", "\\|")
        rows.append(
            f"| {r.code} | [{f.title}]({f.url}) | {r.severity.value} | `{r.name}` | {title} |"
        )
    return "\n".join(rows) + "\n"


def explain_rule(rule: Rule) -> str:
    doc = rule.doc()
    f = factor(rule.factor)
    head = [
        f"{rule.code} {rule.name}: {doc.title}",
        f"Factor {f.title} ({f.summary}) - {f.url}",
        f"Note: prompts/notes/{f.note_id}.md",
        f"Severity: {rule.severity.value}   Files: {', '.join(sorted(rule.kinds))}",
        "",
    ]
    body = [f"## {name}\n{text}\n" for name, text in doc.sections.items()]
    return "\n".join(head) + "\n".join(body)


def explain_factor(number: int) -> str:
    f = FACTORS[number]
    lines = [f"Factor {f.title}: {f.summary}", f.url, f"Note: prompts/notes/{f.note_id}.md", ""]
    lines += [
        f"  {r.code}  {r.severity.value:<7}  {r.doc().title}" for r in rules_for_factor(number)
    ]
    return "\n".join(lines) + "\n"
