"""What the Action leaves behind on the runner: step outputs, the job summary, and
workflow annotations when it may not comment on the pull request."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path

from bot.findings import Finding, Severity
from bot.output.github import annotation

__all__ = ["ANNOTATIONS_PER_LEVEL", "annotation_lines", "append_summary", "write_outputs"]

# GitHub shows at most 10 error and 10 warning annotations per step (and 10 notices);
# more are dropped silently, so the most severe go first and a notice counts the rest.
ANNOTATIONS_PER_LEVEL = 10


def annotation_lines(findings: Sequence[Finding]) -> list[str]:
    """Workflow commands for the findings, within GitHub's per-step limits."""
    ordered = sorted(findings, key=lambda f: (-f.severity.rank, f.path, f.line))
    lines: list[str] = []
    left = 0
    for severity in Severity:
        of_level = [f for f in ordered if f.severity is severity]
        room = ANNOTATIONS_PER_LEVEL - (1 if severity is Severity.NOTICE else 0)
        lines += [annotation(f) for f in of_level[:room]]
        left += max(0, len(of_level) - room)
    if left:
        lines.append(f"::notice::twelve-review: {left} more finding(s) are in the job summary.")
    return lines


def append_summary(path: Path | None, markdown: str) -> None:
    """Add to the job summary (GITHUB_STEP_SUMMARY), which the runner renders as markdown."""
    if path is None:
        return
    with path.open("a", encoding="utf-8") as handle:
        handle.write(markdown if markdown.endswith("\n") else markdown + "\n")


def write_outputs(path: Path | None, outputs: Mapping[str, str]) -> None:
    """Step outputs in GITHUB_OUTPUT's format; multi-line values use a random
    delimiter, so no value can end its own block early."""
    if path is None:
        return
    with path.open("a", encoding="utf-8") as handle:
        for name, value in outputs.items():
            if "\n" not in value:
                handle.write(f"{name}={value}\n")
                continue
            delimiter = f"twelve_review_{secrets.token_hex(8)}"
            handle.write(f"{name}<<{delimiter}\n{value.rstrip(chr(10))}\n{delimiter}\n")
