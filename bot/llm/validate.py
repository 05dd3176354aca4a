"""Check every finding the model proposes before it becomes a Finding.

Nothing the model says is trusted: the path must be in the request, the lines
must be ones GitHub accepts a comment on, the factor and note must exist, and
the text must be plain (no mentions, HTML, foreign links, open code fences,
secrets). A finding that fails is dropped and counted by reason.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence

from bot.diff import ChangedFile
from bot.findings import Finding, Severity, fingerprint_for
from bot.llm.masking import Masker
from bot.llm.schema import LLMFinding
from bot.notes import NoteSet

__all__ = ["LIMITS", "LLM_RULE", "to_findings"]

LLM_RULE = "LLM"
LIMITS = {"message": 300, "rationale": 600, "suggestion": 2000}

_MENTION = re.compile(r"(?<![\w.@])@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:/[\w.-]+)?")
_HTML = re.compile(r"<\s*/?\s*[A-Za-z!][^>]*>")
_URL = re.compile(r"\b(?:https?|ftp)://([^/\s)>\]]+)|\bwww\.[\w.-]+", re.IGNORECASE)
_ALLOWED_HOSTS = frozenset({"12factor.net", "www.12factor.net"})
_FENCE = "```"


def to_findings(
    proposed: Sequence[LLMFinding],
    files: Mapping[str, ChangedFile],
    notes: NoteSet,
    masker: Masker,
    dropped: Counter[str],
) -> list[Finding]:
    """The proposed findings that pass every check, as Findings (source "llm")."""
    kept: list[Finding] = []
    seen: Counter[tuple[str, str]] = Counter()
    for item in proposed:
        reason = _rejection(item, files, notes, masker)
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
    item: LLMFinding, files: Mapping[str, ChangedFile], notes: NoteSet, masker: Masker
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
        if _MENTION.search(text):
            return "mention"
        if _HTML.search(text):
            return "html"
        if any(host.lower() not in _ALLOWED_HOSTS for host in _hosts(text)):
            return "link"
        if masker.leaks(text):
            return "secret"
    if item.suggestion and _FENCE in item.suggestion:
        return "code-fence"
    if (item.message + item.rationale).count(_FENCE) % 2:
        return "code-fence"
    return None


def _hosts(text: str) -> list[str]:
    hosts = []
    for match in _URL.finditer(text):
        hosts.append(match.group(1) or match.group(0))
    return hosts
