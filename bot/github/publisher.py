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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import cast

from github import Github, GithubException
from github.IssueComment import IssueComment
from github.PullRequest import PullRequest, ReviewComment
from github.PullRequestComment import PullRequestComment
from github.PullRequestReview import PullRequestReview
from github.Repository import Repository

from bot.config import CONFIG_PATH, RepoConfig, parse_config
from bot.diff import ChangedFile, DiffError, parse_diff
from bot.engine import ReviewResult, SkippedFile
from bot.findings import Severity
from bot.publish.markers import (
    SummaryState,
    finding_markers_in,
    resolved_marker,
    resolved_markers_in,
    summary_state_in,
)
from bot.publish.plan import InlineComment, ReviewPlan, plan_review
from bot.publish.summary import TITLE, SummaryInput, render_summary
from bot.rules.registry import BY_CODE

__all__ = ["LoadedPullRequest", "PublishOutcome", "Publisher"]

log = logging.getLogger("twelve_review.github")

_NO_PATCH_STATUSES = frozenset({"removed", "unchanged"})
_COMPARE_FILE_LIMIT = 300  # GitHub lists at most this many files in a comparison


@dataclass
class LoadedPullRequest:
    repo: Repository
    pr: PullRequest
    head_sha: str
    base_sha: str
    files: list[ChangedFile]
    not_patchable: list[SkippedFile]
    config: RepoConfig
    summary: IssueComment | None = None  # the bot's summary comment, once there is one
    state: SummaryState | None = None  # what the last run recorded in it


@dataclass
class PublishOutcome:
    review_posted: bool
    inline: list[InlineComment] = field(default_factory=list)
    moved_to_summary: int = 0  # inline comments GitHub refused, listed in the summary
    summary_created: bool = False
    already_posted: int = 0
    attempts: int = 0
    event: str = "COMMENT"
    resolved: int = 0
    replied: int = 0  # threads of resolved findings answered this run
    dismissed: int = 0  # the bot's own REQUEST_CHANGES reviews withdrawn
    summary_body: str = ""


def _diff_text(filename: str, previous: str | None, status: str, patch: str) -> str:
    old = previous or filename
    source = "/dev/null" if status == "added" else f"a/{old}"
    target = "/dev/null" if status == "removed" else f"b/{filename}"
    return f"diff --git a/{old} b/{filename}\n--- {source}\n+++ {target}\n{patch.rstrip()}\n"


class Publisher:
    """One pull request's reading and publishing, through a PyGithub client."""

    def __init__(
        self,
        github: Github,
        bot_login: str,
        max_comments: int = 25,
        config_path: str = CONFIG_PATH,
    ) -> None:
        self._github = github
        self._bot = bot_login
        self._max_comments = max_comments
        self._config_path = config_path

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
            try:
                files += parse_diff(text)
            except DiffError:  # e.g. a line break in a file name: say so, review the rest
                log.warning("a file's patch could not be parsed", extra={"path": item.filename})
                not_patchable.append(SkippedFile(item.filename, "unparsable"))
        summary, state = self._summary(pr)
        return LoadedPullRequest(
            repo=repo,
            pr=pr,
            head_sha=pr.head.sha,
            base_sha=pr.base.sha,
            files=files,
            not_patchable=not_patchable,
            config=self._base_config(repo, pr.base.sha),
            summary=summary,
            state=state,
        )

    def changed_since_review(self, loaded: LoadedPullRequest) -> frozenset[str] | None:
        """Paths changed between the last reviewed head and this one, or None when
        the whole PR must be reviewed: no earlier review, a force-push or rebase
        (the old head is no longer an ancestor), or too many files to list."""
        state = loaded.state
        if state is None:
            return None
        if state.head_sha == loaded.head_sha:
            return frozenset()
        try:
            comparison = loaded.repo.compare(state.head_sha, loaded.head_sha)
        except GithubException as exc:
            if exc.status in (404, 422):  # the old head is gone (force-pushed and collected)
                return None
            raise
        if comparison.status != "ahead":
            return None
        files = comparison.files
        if len(files) >= _COMPARE_FILE_LIMIT:
            return None
        paths = {f.filename for f in files}
        return frozenset(paths | {f.previous_filename for f in files if f.previous_filename})

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
            content = repo.get_contents(self._config_path, ref=base_sha)
        except GithubException as exc:
            if exc.status == 404:
                return RepoConfig()
            raise
        if isinstance(content, list):  # a folder where the file should be
            return RepoConfig()
        text = content.decoded_content.decode("utf-8", "replace")
        return parse_config(text, BY_CODE.keys(), source=f"{self._config_path}@{base_sha[:12]}")

    def publish(self, loaded: LoadedPullRequest, result: ReviewResult) -> PublishOutcome:
        pr = loaded.pr
        threads = _Threads(self._bot, pr.get_review_comments())
        summary_comment, state = loaded.summary, loaded.state
        plan = plan_review(result.findings, loaded.files, threads.posted, self._max_comments)
        outcome = PublishOutcome(review_posted=False, already_posted=len(plan.already_posted))
        blocking = self._blocking_reviews(loaded)
        wants_block = loaded.config.request_changes and any(
            f.severity is Severity.ERROR for f in result.findings
        )
        if wants_block and not blocking:
            outcome.event = "REQUEST_CHANGES"
        if plan.inline or outcome.event == "REQUEST_CHANGES":
            self._post_review(loaded, plan, outcome)
        if blocking and not wants_block:
            self._dismiss(loaded, blocking, outcome)
        fixed, resolved_total = _resolved(state, result)
        outcome.resolved = len(fixed)
        self._reply_resolved(loaded, threads, fixed, outcome)
        body = self._summary_body(loaded, result, plan, resolved_total)
        outcome.summary_body = body
        if summary_comment is None:
            loaded.summary = pr.create_issue_comment(body)
            outcome.summary_created = True
        elif summary_comment.body != body:
            summary_comment.edit(body)
        return outcome

    def summary_without_posting(self, loaded: LoadedPullRequest, result: ReviewResult) -> str:
        """The summary a run would post, for when it may not post anything (a
        read-only token): every finding listed, none claimed as an inline comment."""
        plan = plan_review(result.findings, loaded.files, set(), self._max_comments)
        _, resolved_total = _resolved(loaded.state, result)
        return self._summary_body(loaded, result, plan.without_posting(), resolved_total)

    @staticmethod
    def _summary_body(
        loaded: LoadedPullRequest, result: ReviewResult, plan: ReviewPlan, resolved: int
    ) -> str:
        return render_summary(
            SummaryInput(
                head_sha=loaded.head_sha,
                open_findings=result.findings,
                plan=plan,
                skipped=[*result.skipped, *loaded.not_patchable],
                llm=result.llm,
                resolved=resolved,
                still_open=_unchecked(loaded.state, result),
            )
        )

    def _blocking_reviews(self, loaded: LoadedPullRequest) -> list[PullRequestReview]:
        """The bot's reviews that still request changes (read only when the config
        lets the bot request changes at all)."""
        if not loaded.config.request_changes:
            return []
        return [
            r
            for r in loaded.pr.get_reviews()
            if r.user is not None and r.user.login == self._bot and r.state == "CHANGES_REQUESTED"
        ]

    def _dismiss(
        self, loaded: LoadedPullRequest, blocking: list[PullRequestReview], outcome: PublishOutcome
    ) -> None:
        message = f"twelve-review: no error finding is open at {loaded.head_sha[:12]}."
        for review in blocking:
            try:
                review.dismiss(message)
            except GithubException as exc:  # protected branches may reserve dismissal to admins
                log.warning("review %s not dismissed: GitHub answered %s", review.id, exc.status)
                continue
            outcome.dismissed += 1

    def _reply_resolved(
        self,
        loaded: LoadedPullRequest,
        threads: _Threads,
        fixed: frozenset[str],
        outcome: PublishOutcome,
    ) -> None:
        """Answer, once, each thread of a finding a later push fixed; a thread a
        human has replied to is theirs now, and is left alone."""
        for fingerprint in sorted(fixed):
            if outcome.replied >= self._max_comments:
                break
            root = threads.roots.get(fingerprint)
            if root is None or fingerprint in threads.answered or root.id in threads.human_replied:
                continue
            body = (
                f"Resolved: this finding no longer appears at `{loaded.head_sha[:12]}`.\n\n"
                f"{resolved_marker(fingerprint)}"
            )
            loaded.pr.create_review_comment_reply(root.id, body)
            outcome.replied += 1

    def _summary(self, pr: PullRequest) -> tuple[IssueComment | None, SummaryState | None]:
        """The bot's summary comment and the state its last run recorded there."""
        for comment in pr.get_issue_comments():
            if comment.user is None or comment.user.login != self._bot:
                continue
            body = comment.body or ""
            if body.startswith(TITLE):
                return comment, summary_state_in(body)
        return None, None

    def _post_review(
        self, loaded: LoadedPullRequest, plan: ReviewPlan, outcome: PublishOutcome
    ) -> None:
        """Post the inline comments as one review; on 422 drop what GitHub refuses.

        GitHub does not say which comment it refused, so the second attempt keeps
        only comments whose anchors still hold on a fresh read of the PR's files
        (the head may have moved); if that is refused too, every comment goes to
        the summary (a review requesting changes is then posted without them).
        Refused comments are listed in the summary, never lost.
        """
        commit = loaded.repo.get_commit(loaded.head_sha)
        attempts: list[Sequence[InlineComment]] = [plan.inline]
        while attempts:
            comments = attempts.pop(0)
            outcome.attempts += 1
            if not comments and outcome.event == "COMMENT":
                break
            try:
                loaded.pr.create_review(
                    commit=commit,
                    body=_review_body(len(comments), outcome.event),
                    event=outcome.event,
                    comments=[cast(ReviewComment, c.as_api()) for c in comments],
                )
            except GithubException as exc:
                if exc.status != 422:
                    raise
                log.warning("review refused (422), attempt %d", outcome.attempts)
                if outcome.attempts == 1:
                    attempts.append(self._still_anchored(loaded, comments))
                elif comments and outcome.event == "REQUEST_CHANGES":
                    attempts.append([])
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


def _resolved(state: SummaryState | None, result: ReviewResult) -> tuple[frozenset[str], int]:
    """The findings the last run left open and this one no longer finds, and the
    count resolved over the PR's life with them."""
    if state is None:
        return frozenset(), 0
    if result.partial:  # files went unread: their findings are not known to be fixed
        return frozenset(), state.resolved
    fixed = state.open_fingerprints - {f.fingerprint for f in result.findings}
    return fixed, state.resolved + len(fixed)


def _unchecked(state: SummaryState | None, result: ReviewResult) -> frozenset[str]:
    """What was open before and a partial run could not check: it stays open."""
    if state is None or not result.partial:
        return frozenset()
    return state.open_fingerprints - {f.fingerprint for f in result.findings}


def _review_body(comments: int, event: str) -> str:
    if event == "REQUEST_CHANGES":
        return (
            f"twelve-review: an error finding is open ({comments} new inline comment(s)); "
            "the summary lists every finding. This review is dismissed once none is left."
        )
    return f"twelve-review: {comments} comment(s); details in the summary."


def _in_reply_to(comment: PullRequestComment) -> int | None:
    """The thread root a reply answers, None for a root. Read from the listing's own
    data: GitHub omits the field on roots, and PyGithub would fetch each such
    comment again to look for it (one request per comment)."""
    value = comment._rawData.get("in_reply_to_id")  # private: see the docstring
    return value if isinstance(value, int) else None


class _Threads:
    """The bot's inline threads on the PR, read from one listing of review comments."""

    def __init__(self, bot: str, comments: Iterable[PullRequestComment]) -> None:
        self.posted: set[str] = set()  # fingerprints the bot has commented on
        self.roots: dict[str, PullRequestComment] = {}  # fingerprint -> the thread's first comment
        self.answered: set[str] = set()  # fingerprints whose thread got the "resolved" reply
        self.human_replied: set[int] = set()  # root comment ids somebody else answered
        for comment in comments:
            by_bot = comment.user is not None and comment.user.login == bot
            body = comment.body or ""
            reply_to = _in_reply_to(comment)
            if reply_to is not None:
                if by_bot:
                    self.answered |= resolved_markers_in(body)
                else:
                    self.human_replied.add(reply_to)
            elif by_bot:
                for fingerprint in finding_markers_in(body):
                    self.posted.add(fingerprint)
                    self.roots.setdefault(fingerprint, comment)
