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

from bot.engine import ReviewResult, review
from bot.github.publisher import LoadedPullRequest, Publisher
from bot.llm.review import LLMReviewer
from bot.notes import NotesError, NoteSet, load_notes

__all__ = ["LLMFactory", "PullRequestRun", "review_pull_request", "team_note_set"]

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


def review_pull_request(
    publisher: Publisher,
    full_name: str,
    number: int,
    *,
    llm: LLMFactory = _no_llm,
    expected_head: str = "",
    full: bool = False,
    only_factors: frozenset[int] = frozenset(),
) -> PullRequestRun:
    loaded = publisher.load(full_name, number)
    if expected_head and loaded.head_sha != expected_head:
        return PullRequestRun("moved-on", loaded)
    # Rules are cheap and re-read the whole PR every run, so what they report as
    # resolved is exact; the model is asked only about files changed since the
    # last review, unless `full` was asked for or the history was rewritten.
    changed = None if full else publisher.changed_since_review(loaded)
    state = loaded.state
    result = review(
        loaded.files,
        loaded.config,
        llm=llm(loaded),
        llm_paths=changed,
        earlier_llm=state.model_findings if state is not None else (),
    )
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
