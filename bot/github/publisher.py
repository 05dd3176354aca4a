"""Read a pull request from GitHub and publish one review of it (PyGithub).

Shared by the App and the Action. Reading: the PR, its files (paginated; files
GitHub shows no patch for are listed as not reviewed) and the repo config from
the BASE branch, never the head, so a PR cannot change its own review.
Publishing: one review with the inline comments (capped), retried without the
comments GitHub refuses, and one summary comment created once and edited in
place. Markers in the bot's own comments make re-runs post only what is new.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

from github import Github, GithubException
from github.IssueComment import IssueComment
from github.PullRequest import PullRequest, ReviewComment
from github.Repository import Repository

from bot.config import CONFIG_PATH, RepoConfig, parse_config
from bot.diff import ChangedFile, parse_diff
from bot.engine import ReviewResult, SkippedFile
from bot.publish.markers import finding_markers_in, summary_state_in
from bot.publish.plan import InlineComment, ReviewPlan, plan_review
from bot.publish.summary import TITLE, SummaryInput, render_summary
from bot.rules.registry import BY_CODE

__all__ = ["LoadedPullRequest", "PublishOutcome", "Publisher"]

log = logging.getLogger("twelve_review.github")

_NO_PATCH_STATUSES = frozenset({"removed", "unchanged"})


@dataclass
class LoadedPullRequest:
    repo: Repository
    pr: PullRequest
    head_sha: str
    base_sha: str
    files: list[ChangedFile]
    not_patchable: list[SkippedFile]
    config: RepoConfig


@dataclass
class PublishOutcome:
    review_posted: bool
    inline: list[InlineComment] = field(default_factory=list)
    moved_to_summary: int = 0  # inline comments GitHub refused, listed in the summary
    summary_created: bool = False
    already_posted: int = 0
    attempts: int = 0


def _diff_text(filename: str, previous: str | None, status: str, patch: str) -> str:
    old = previous or filename
    source = "/dev/null" if status == "added" else f"a/{old}"
    target = "/dev/null" if status == "removed" else f"b/{filename}"
    return f"diff --git a/{old} b/{filename}\n--- {source}\n+++ {target}\n{patch.rstrip()}\n"


class Publisher:
    """One pull request's reading and publishing, through a PyGithub client."""

    def __init__(self, github: Github, bot_login: str, max_comments: int = 25) -> None:
        self._github = github
        self._bot = bot_login
        self._max_comments = max_comments

    def load(self, full_name: str, number: int) -> LoadedPullRequest:
        repo = self._github.get_repo(full_name)
        pr = repo.get_pull(number)
        files: list[ChangedFile] = []
        not_patchable: list[SkippedFile] = []
        for item in pr.get_files():
            if item.status in _NO_PATCH_STATUSES or (item.status == "renamed" and not item.changes):
                continue  # nothing added: a removal, or a rename without edits
            if not item.patch:
                not_patchable.append(SkippedFile(item.filename, "too-large"))
                continue
            text = _diff_text(item.filename, item.previous_filename, item.status, item.patch)
            files += parse_diff(text)
        return LoadedPullRequest(
            repo=repo,
            pr=pr,
            head_sha=pr.head.sha,
            base_sha=pr.base.sha,
            files=files,
            not_patchable=not_patchable,
            config=self._base_config(repo, pr.base.sha),
        )

    def team_notes(self, loaded: LoadedPullRequest) -> dict[str, str]:
        """The team's notes (`notes:` in the config), read at the BASE commit only."""
        folder = loaded.config.notes
        if not folder:
            return {}
        try:
            listing = loaded.repo.get_contents(folder, ref=loaded.base_sha)
        except GithubException as exc:
            if exc.status == 404:
                return {}
            raise
        entries = listing if isinstance(listing, list) else [listing]
        return {
            entry.name: entry.decoded_content.decode("utf-8", "replace")
            for entry in entries
            if entry.type == "file" and entry.name.endswith(".md")
        }

    def _base_config(self, repo: Repository, base_sha: str) -> RepoConfig:
        try:
            content = repo.get_contents(CONFIG_PATH, ref=base_sha)
        except GithubException as exc:
            if exc.status == 404:
                return RepoConfig()
            raise
        if isinstance(content, list):  # a folder where the file should be
            return RepoConfig()
        text = content.decoded_content.decode("utf-8", "replace")
        return parse_config(text, BY_CODE.keys(), source=f"{CONFIG_PATH}@{base_sha[:12]}")

    def publish(self, loaded: LoadedPullRequest, result: ReviewResult) -> PublishOutcome:
        pr = loaded.pr
        posted = self._posted_fingerprints(pr)
        summary_comment, previous = self._summary(pr)
        plan = plan_review(result.findings, loaded.files, posted, self._max_comments)
        outcome = PublishOutcome(review_posted=False, already_posted=len(plan.already_posted))
        if plan.inline:
            self._post_review(loaded, plan, outcome)
        current = {f.fingerprint for f in result.findings}
        resolved = len(previous - current) if previous is not None else 0
        body = render_summary(
            SummaryInput(
                head_sha=loaded.head_sha,
                open_findings=result.findings,
                plan=plan,
                skipped=[*result.skipped, *loaded.not_patchable],
                llm=result.llm,
                resolved=resolved,
            )
        )
        if summary_comment is None:
            pr.create_issue_comment(body)
            outcome.summary_created = True
        elif summary_comment.body != body:
            summary_comment.edit(body)
        return outcome

    def _posted_fingerprints(self, pr: PullRequest) -> set[str]:
        found: set[str] = set()
        for comment in pr.get_review_comments():
            if comment.user is not None and comment.user.login == self._bot:
                found |= finding_markers_in(comment.body or "")
        return found

    def _summary(self, pr: PullRequest) -> tuple[IssueComment | None, set[str] | None]:
        """The bot's summary comment and the fingerprints it listed as open."""
        for comment in pr.get_issue_comments():
            if comment.user is None or comment.user.login != self._bot:
                continue
            body = comment.body or ""
            if body.startswith(TITLE):
                state = summary_state_in(body)
                return comment, (set(state.open_fingerprints) if state else None)
        return None, None

    def _post_review(
        self, loaded: LoadedPullRequest, plan: ReviewPlan, outcome: PublishOutcome
    ) -> None:
        """Post the inline comments as one review; on 422 drop what GitHub refuses.

        GitHub does not say which comment it refused, so the second attempt keeps
        only comments whose anchors still hold on a fresh read of the PR's files
        (the head may have moved), and a third posts none. Refused comments are
        listed in the summary, never lost.
        """
        commit = loaded.repo.get_commit(loaded.head_sha)
        attempts: list[Sequence[InlineComment]] = [plan.inline]
        while attempts:
            comments = attempts.pop(0)
            outcome.attempts += 1
            if not comments:
                break
            try:
                loaded.pr.create_review(
                    commit=commit,
                    body=f"twelve-review: {len(comments)} comment(s); details in the summary.",
                    event="COMMENT",
                    comments=[cast(ReviewComment, c.as_api()) for c in comments],
                )
            except GithubException as exc:
                if exc.status != 422:
                    raise
                log.warning("review refused (422), attempt %d", outcome.attempts)
                if outcome.attempts == 1:
                    attempts.append(self._still_anchored(loaded, comments))
                continue
            outcome.review_posted = True
            outcome.inline = list(comments)
            break
        refused = [c.finding for c in plan.inline if c not in outcome.inline]
        plan.unanchored += refused
        plan.inline = outcome.inline
        outcome.moved_to_summary = len(refused)

    def _still_anchored(
        self, loaded: LoadedPullRequest, comments: Sequence[InlineComment]
    ) -> list[InlineComment]:
        fresh = self.load(loaded.repo.full_name, loaded.pr.number)
        replan = plan_review([c.finding for c in comments], fresh.files, set(), len(comments))
        keep = {c.finding.fingerprint for c in replan.inline}
        return [c for c in comments if c.finding.fingerprint in keep]
