"""Check every finding the model proposes before it becomes a Finding.

Nothing the model says is trusted: the path must be in the request, the lines
must be ones GitHub accepts a comment on, the factor and note must exist, and
the text must be plain (no mentions, HTML, foreign links, open code fences,
secrets, lines of the system prompt). A finding that fails is dropped and
counted by reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from bot.credentials import known_secrets
from bot.diff import ChangedFile
from bot.findings import Finding, Severity, fingerprint_for
from bot.llm.masking import Masker
from bot.llm.schema import LLMFinding
from bot.notes import NoteSet
from bot.publish.safe import hazard

__all__ = ["LIMITS", "LLM_RULE", "to_findings"]

LLM_RULE = "LLM"
LIMITS = {"message": 300, "rationale": 600, "suggestion": 2000}

_FENCE = "```"
# A line of the instructions this long, repeated, is the prompt being echoed.
_ECHO_MIN = 40


def to_findings(
    proposed: Sequence[LLMFinding],
    files: Mapping[str, ChangedFile],
    notes: NoteSet,
    masker: Masker,
    dropped: Counter[str],
    system: str = "",
) -> list[Finding]:
    """The proposed findings that pass every check, as Findings (source "llm").
    `system` is the system prompt the model was given, which it must not repeat."""
    kept: list[Finding] = []
    seen: Counter[tuple[str, str]] = Counter()
    instructions = {ln.strip() for ln in system.splitlines() if len(ln.strip()) >= _ECHO_MIN}
    for item in proposed:
        reason = _rejection(item, files, notes, masker, instructions)
        if reason is not None:
            dropped[reason] += 1
            continue
        changed = files[item.path]
        text = changed.line_text(item.line) or ""
        occurrence = seen[(item.path, text)]
        seen[(item.path, text)] += 1
        end = item.end_line if item.end_line not in (None, item.line) else None
        kept.append(
            Finding(
                rule=LLM_RULE,
                factor=item.factor,
                # A model's judgement never fails a build on its own.
                severity=Severity.NOTICE if item.severity == "notice" else Severity.WARNING,
                path=item.path,
                line=item.line,
                end_line=end,
                message=item.message.strip(),
                rationale=f"{item.rationale.strip()} (note: {item.note})",
                suggestion=item.suggestion,
                source="llm",
                fingerprint=fingerprint_for(
                    LLM_RULE + str(item.factor), item.path, text, occurrence
                ),
            )
        )
    return kept


def _rejection(
    item: LLMFinding,
    files: Mapping[str, ChangedFile],
    notes: NoteSet,
    masker: Masker,
    instructions: set[str],
) -> str | None:
    changed = files.get(item.path)
    if changed is None:
        return "path-not-in-diff"
    last = item.end_line if item.end_line is not None else item.line
    if last < item.line or not all(changed.is_commentable(n) for n in range(item.line, last + 1)):
        return "line-not-in-diff"
    if not 1 <= item.factor <= 12:
        return "unknown-factor"
    note = notes.get(item.note)
    if note is None or (note.factor is not None and note.factor != item.factor):
        return "unknown-note"
    texts = {
        "message": item.message,
        "rationale": item.rationale,
        "suggestion": item.suggestion or "",
    }
    if not item.message.strip():
        return "empty-message"
    for name, text in texts.items():
        if len(text) > LIMITS[name]:
            return "too-long"
        rendered = hazard(text)
        if rendered is not None:
            return rendered
        if masker.leaks(text) or any(known_secrets(text)):
            return "secret"
        if any(line in text for line in instructions):
            return "prompt-echo"
    if item.suggestion and _FENCE in item.suggestion:
        return "code-fence"
    if (item.message + item.rationale).count(_FENCE) % 2:
        return "code-fence"
    return None
