"""One review of one pull request on GitHub, up to the point of posting it.

Shared by the App and the Action: read the PR (config and notes from the base
branch), decide what the model is asked about (the files changed since the
last reviewed head, or everything), run rules and model, and say whether
there is anything to post. Posting stays with the caller, which knows whether
the job was superseded meanwhile (App) or how to fall back when the token may
not write (Action).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from bot.diff import ChangedFile
from bot.engine import ReviewResult, SkippedFile, review
from bot.github.publisher import LoadedPullRequest, Publisher
from bot.llm.review import LLMReviewer
from bot.notes import NotesError, NoteSet, load_notes

__all__ = ["LLMFactory", "PullRequestRun", "SizeLimits", "review_pull_request", "team_note_set"]

log = logging.getLogger("twelve_review.github")

# Builds the model reviewer for a loaded PR (its team notes come from the base branch),
# or None for a review on rules alone.
LLMFactory = Callable[[LoadedPullRequest], LLMReviewer | None]


@dataclass
class PullRequestRun:
    """`ready`: post `result`. `unchanged`: same head and same findings as the last
    review, nothing to write. `moved-on`: the PR's head is not the one asked for."""

    status: Literal["ready", "unchanged", "moved-on"]
    loaded: LoadedPullRequest
    result: ReviewResult | None = None
    incremental: bool = False


def _no_llm(_: LoadedPullRequest) -> LLMReviewer | None:
    return None


@dataclass(frozen=True)
class SizeLimits:
    """How much of one pull request a review reads: changed files, and lines added
    over all of them. Files past either limit are listed as not reviewed."""

    files: int
    lines: int


def _within(
    files: list[ChangedFile], limits: SizeLimits | None
) -> tuple[list[ChangedFile], list[ChangedFile]]:
    """The files a review reads, in GitHub's order, and those past the limits."""
    if limits is None:
        return files, []
    kept: list[ChangedFile] = []
    over: list[ChangedFile] = []
    lines = 0
    for changed in files:
        added = sum(1 for _ in changed.added_lines)
        if len(kept) < limits.files and lines + added <= limits.lines:
            kept.append(changed)
            lines += added
        else:
            over.append(changed)
    return kept, over


def review_pull_request(
    publisher: Publisher,
    full_name: str,
    number: int,
    *,
    llm: LLMFactory = _no_llm,
    expected_head: str = "",
    full: bool = False,
    only_factors: frozenset[int] = frozenset(),
    limits: SizeLimits | None = None,
) -> PullRequestRun:
    loaded = publisher.load(full_name, number)
    if expected_head and loaded.head_sha != expected_head:
        return PullRequestRun("moved-on", loaded)
    # Rules are cheap and re-read the whole PR every run, so what they report as
    # resolved is exact; the model is asked only about files changed since the
    # last review, unless `full` was asked for or the history was rewritten.
    changed = None if full else publisher.changed_since_review(loaded)
    state = loaded.state
    files, over = _within(loaded.files, limits)
    result = review(
        files,
        loaded.config,
        llm=llm(loaded),
        llm_paths=changed,
        earlier_llm=state.model_findings if state is not None else (),
    )
    if over:
        log.warning("size limit: %d changed file(s) not reviewed", len(over))
        result.skipped += [SkippedFile(f.path, "over-limit") for f in over]
        result.partial = True
    if only_factors:
        # `factors=...`: say nothing new outside them, and keep what was open there
        # before (this run does not claim it resolved).
        before = state.open_fingerprints if state is not None else frozenset()
        result.findings = [
            f for f in result.findings if f.factor in only_factors or f.fingerprint in before
        ]
    run = PullRequestRun("ready", loaded, result, incremental=changed is not None)
    found = {f.fingerprint for f in result.findings}
    if changed == frozenset() and state is not None and found == state.open_fingerprints:
        run.status = "unchanged"  # the summary already says it all
    return run


def team_note_set(publisher: Publisher, loaded: LoadedPullRequest) -> NoteSet:
    """The factor notes with the team's own (from the base branch) laid over them;
    a broken team note is logged and ignored, never a reason to stop the review."""
    try:
        return load_notes(publisher.team_notes(loaded) or None)
    except NotesError as exc:
        log.warning("team notes ignored: %s", exc)
        return load_notes()
