"""Hidden markers in the bot's own comments: how a re-run knows what it posted.

Every inline comment ends with a finding marker carrying the finding's
fingerprint; the summary comment carries a state marker (the head SHA reviewed
and the fingerprints still open). Markers are HTML comments, invisible on GitHub.
Only text the bot wrote is trusted to hold them: callers must check the author.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

__all__ = [
    "SummaryState",
    "finding_marker",
    "finding_markers_in",
    "summary_marker",
    "summary_state_in",
]

_FINDING = re.compile(r"<!-- twelve-review:finding ([0-9a-f]{8,64}) -->")
_SUMMARY = re.compile(r"<!-- twelve-review:summary (\{.*?\}) -->")
_STATE_VERSION = 1


def finding_marker(fingerprint: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{8,64}", fingerprint):
        raise ValueError(f"not a fingerprint: {fingerprint!r}")
    return f"<!-- twelve-review:finding {fingerprint} -->"


def finding_markers_in(body: str) -> set[str]:
    """Fingerprints named by finding markers in a comment body."""
    return set(_FINDING.findall(body))


@dataclass(frozen=True, slots=True)
class SummaryState:
    head_sha: str
    open_fingerprints: frozenset[str]


def summary_marker(state: SummaryState) -> str:
    data = {
        "v": _STATE_VERSION,
        "head": state.head_sha,
        "open": sorted(state.open_fingerprints),
    }
    return f"<!-- twelve-review:summary {json.dumps(data, separators=(',', ':'))} -->"


def summary_state_in(body: str) -> SummaryState | None:
    """The state in a summary comment, or None when absent or unreadable."""
    match = _SUMMARY.search(body)
    if match is None:
        return None
    try:
        data = json.loads(match.group(1))
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict) or data.get("v") != _STATE_VERSION:
        return None
    head, fingerprints = data.get("head"), data.get("open")
    if not isinstance(head, str) or not re.fullmatch(r"[0-9a-f]{7,64}", head):
        return None
    if not isinstance(fingerprints, list) or not all(isinstance(f, str) for f in fingerprints):
        return None
    return SummaryState(head, frozenset(fingerprints))
