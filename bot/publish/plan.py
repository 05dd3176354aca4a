"""Which findings become inline comments, and which go to the summary.

A finding is posted inline only when GitHub will accept its anchor (every line
of it on the RIGHT side of one hunk) and it was not posted before; at most
`max_comments` go inline, most severe first, and the rest are listed in the
summary. Nothing is lost: every finding ends up inline, in the summary, or
recognised as already posted.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.diff import ChangedFile
from bot.findings import Finding
from bot.publish.comments import render_comment

__all__ = ["InlineComment", "ReviewPlan", "plan_review"]


@dataclass(frozen=True, slots=True)
class InlineComment:
    finding: Finding
    body: str

    def as_api(self) -> dict[str, Any]:
        """The entry of `comments[]` in POST /repos/{o}/{r}/pulls/{n}/reviews."""
        entry: dict[str, Any] = {
            "path": self.finding.path,
            "body": self.body,
            "line": self.finding.last_line,
            "side": "RIGHT",
        }
        if self.finding.end_line is not None:
            entry["start_line"] = self.finding.line
            entry["start_side"] = "RIGHT"
        return entry


@dataclass
class ReviewPlan:
    inline: list[InlineComment] = field(default_factory=list)
    # Findings for the summary: no anchor GitHub accepts, or over the inline cap.
    unanchored: list[Finding] = field(default_factory=list)
    overflow: list[Finding] = field(default_factory=list)
    already_posted: list[Finding] = field(default_factory=list)
    # Findings that could not be posted at all (a read-only token): listed, never lost.
    not_postable: list[Finding] = field(default_factory=list)

    def without_posting(self) -> ReviewPlan:
        """The same plan when nothing can be posted: every new inline comment moves
        to the summary's list."""
        return ReviewPlan(
            unanchored=self.unanchored,
            overflow=self.overflow,
            already_posted=self.already_posted,
            not_postable=[c.finding for c in self.inline],
        )


def _anchored(finding: Finding, files: Mapping[str, ChangedFile]) -> bool:
    changed = files.get(finding.path)
    if changed is None:
        return False
    lines = range(finding.line, finding.last_line + 1)
    if not all(changed.is_commentable(n) for n in lines):
        return False
    # A range must stay within one hunk, or GitHub refuses the comment.
    return any(
        h.new_start <= finding.line and finding.last_line < h.new_start + h.new_length
        for h in changed.hunks
    )


def plan_review(
    findings: Sequence[Finding],
    files: Sequence[ChangedFile],
    posted: Collection[str],
    max_comments: int,
) -> ReviewPlan:
    """Split findings into inline comments and summary entries."""
    by_path = {f.path: f for f in files}
    plan = ReviewPlan()
    fresh: list[Finding] = []
    for finding in findings:
        if finding.fingerprint in posted:
            plan.already_posted.append(finding)
        elif _anchored(finding, by_path):
            fresh.append(finding)
        else:
            plan.unanchored.append(finding)
    fresh.sort(key=lambda f: (-f.severity.rank, f.path, f.line))
    for finding in fresh[:max_comments]:
        plan.inline.append(InlineComment(finding, render_comment(finding)))
    plan.overflow = fresh[max_comments:]
    return plan
