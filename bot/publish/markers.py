"""Hidden markers in the bot's own comments: how a re-run knows what it posted.

Every inline comment ends with a finding marker carrying the finding's
fingerprint; the summary comment carries a state marker: the head SHA reviewed,
the fingerprints still open, and the model's open findings in full, since a
later incremental run does not ask the model about files that did not change
and must still count (and list) what it found there. Markers are HTML
comments, invisible on GitHub. Only text the bot wrote is trusted to hold them:
callers must check the author, and the state is validated again on reading.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from pydantic import ValidationError

from bot.findings import Finding

__all__ = [
    "SummaryState",
    "finding_marker",
    "finding_markers_in",
    "resolved_marker",
    "resolved_markers_in",
    "summary_marker",
    "summary_state_in",
]

_FINDING = re.compile(r"<!-- twelve-review:finding ([0-9a-f]{8,64}) -->")
_RESOLVED = re.compile(r"<!-- twelve-review:resolved ([0-9a-f]{8,64}) -->")
_SUMMARY = re.compile(r"<!-- twelve-review:summary (\{.*?\}) -->")
_STATE_VERSION = 2
_READABLE_VERSIONS = (1, 2)
# A comment body holds at most 65,536 characters: the state must leave room for the text.
MAX_STATE_FINGERPRINTS = 1000
MAX_STATE_MODEL_FINDINGS = 30
_MAX_STORED_TEXT = 300
# Inside an HTML comment, "-->" would end it early: JSON escapes keep <, > and & out.
_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def _check_fingerprint(fingerprint: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{8,64}", fingerprint):
        raise ValueError(f"not a fingerprint: {fingerprint!r}")
    return fingerprint


def finding_marker(fingerprint: str) -> str:
    return f"<!-- twelve-review:finding {_check_fingerprint(fingerprint)} -->"


def finding_markers_in(body: str) -> set[str]:
    """Fingerprints named by finding markers in a comment body."""
    return set(_FINDING.findall(body))


def resolved_marker(fingerprint: str) -> str:
    """Ends the bot's one reply to the thread of a finding a later push fixed."""
    return f"<!-- twelve-review:resolved {_check_fingerprint(fingerprint)} -->"


def resolved_markers_in(body: str) -> set[str]:
    return set(_RESOLVED.findall(body))


@dataclass(frozen=True, slots=True)
class SummaryState:
    head_sha: str
    open_fingerprints: frozenset[str]
    # The model's findings still open, so an incremental run can carry them forward.
    model_findings: tuple[Finding, ...] = field(default=())
    resolved: int = 0  # findings later pushes fixed, over the PR's life


def _stored(finding: Finding) -> dict[str, object]:
    data = finding.model_dump(mode="json", exclude={"suggestion", "source"}, exclude_none=True)
    for key in ("message", "rationale"):
        text = str(data[key])
        data[key] = text if len(text) <= _MAX_STORED_TEXT else text[: _MAX_STORED_TEXT - 3] + "..."
    return data


def summary_marker(state: SummaryState) -> str:
    """The state as a hidden marker, within the size a comment can carry: the most
    severe findings are kept when there are too many (a run then claims no
    resolution for the ones left out, which is the safe side)."""
    model = sorted(state.model_findings, key=lambda f: (-f.severity.rank, f.path, f.line))
    data = {
        "v": _STATE_VERSION,
        "head": state.head_sha,
        "open": sorted(state.open_fingerprints)[:MAX_STATE_FINGERPRINTS],
        "model": [_stored(f) for f in model[:MAX_STATE_MODEL_FINDINGS]],
        "resolved": state.resolved,
    }
    text = json.dumps(data, separators=(",", ":")).translate(_ESCAPES)
    return f"<!-- twelve-review:summary {text} -->"


def summary_state_in(body: str) -> SummaryState | None:
    """The state in a summary comment, or None when absent or unreadable."""
    match = _SUMMARY.search(body)
    if match is None:
        return None
    try:
        data = json.loads(match.group(1))
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict) or data.get("v") not in _READABLE_VERSIONS:
        return None
    head, fingerprints = data.get("head"), data.get("open")
    if not isinstance(head, str) or not re.fullmatch(r"[0-9a-f]{7,64}", head):
        return None
    if not isinstance(fingerprints, list) or not all(isinstance(f, str) for f in fingerprints):
        return None
    stored, resolved = data.get("model", []), data.get("resolved", 0)
    if not isinstance(stored, list) or not isinstance(resolved, int) or resolved < 0:
        return None
    try:
        model = tuple(Finding.model_validate({**item, "source": "llm"}) for item in stored)
    except (ValidationError, TypeError):
        return None
    return SummaryState(head, frozenset(fingerprints), model, resolved)
