"""Carry the model's earlier findings forward to a run that did not ask it again.

An incremental review sends the model only the files changed since the last
reviewed commit. Its earlier findings elsewhere are still open, and one in a
changed file stays open while the line it flagged is still in the diff: the
model not repeating itself is not evidence of a fix (it is not deterministic),
while the flagged line changing or leaving the diff is. A carried finding
moves with its line when edits above it shift the numbers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from bot.diff import ChangedFile
from bot.findings import Finding, fingerprint_for, normalise_line
from bot.llm.validate import LLM_RULE

__all__ = ["carry_forward"]


def _locate(finding: Finding, changed: ChangedFile) -> int | None:
    """The line (in the current diff) whose text gives the finding's fingerprint."""
    rule = LLM_RULE + str(finding.factor)
    seen: defaultdict[str, int] = defaultdict(int)
    for number in sorted(changed.commentable_lines):
        text = changed.line_text(number) or ""
        key = normalise_line(text)
        occurrence = seen[key]
        seen[key] += 1
        if fingerprint_for(rule, finding.path, text, occurrence) == finding.fingerprint:
            return number
    return None


def _moved(finding: Finding, line: int, changed: ChangedFile) -> Finding:
    end = None
    if finding.end_line is not None:
        end = finding.end_line + (line - finding.line)
        if not all(changed.is_commentable(n) for n in range(line, end + 1)):
            end = None
    return finding.model_copy(update={"line": line, "end_line": end})


def carry_forward(
    earlier: Iterable[Finding],
    files: Mapping[str, ChangedFile],
    found_now: Sequence[Finding],
) -> list[Finding]:
    """The earlier model findings still open: their line is still in the diff and
    this run did not report them again itself."""
    have = {f.fingerprint for f in found_now}
    carried: list[Finding] = []
    for finding in earlier:
        changed = files.get(finding.path)
        if finding.source != "llm" or finding.fingerprint in have or changed is None:
            continue
        line = _locate(finding, changed)
        if line is not None:
            carried.append(_moved(finding, line, changed))
            have.add(finding.fingerprint)
    return carried
