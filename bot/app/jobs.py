"""The runner: one review of one pull request, as the GitHub App.

Authenticates as the App (JWT), exchanges that for an installation token
(cached until a minute before it expires), reads the PR with `Publisher`,
reviews it, and posts unless a newer push cancelled the job meanwhile.
Failures are logged, never raised: a worker must outlive any one review.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from github import Auth, Github, GithubException, GithubIntegration

from bot.app.logs import job_context
from bot.app.metrics import AppMetrics, count_github_calls
from bot.app.queue import Job
from bot.app.settings import AppSettings
from bot.github.access import has_write_access
from bot.github.commands import Command
from bot.github.publisher import LoadedPullRequest, Publisher
from bot.github.replies import (
    FAILED,
    RATE_LIMITED,
    REFUSAL,
    explain_reply,
    help_reply,
)
from bot.github.run import review_pull_request, team_note_set
from bot.llm.breaker import CircuitBreaker
from bot.llm.cache import MemoryCache
from bot.llm.protocol import ChatClient
from bot.llm.review import LLMReviewer
from bot.llm.settings import LLMSettings
from bot.llm.tokens import counter_for

__all__ = ["ReviewRunner"]

log = logging.getLogger("twelve_review.jobs")

_TOKEN_MARGIN = dt.timedelta(minutes=1)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ReviewRunner:
    """Callable on a `Job`; thread-safe, shared by every worker.

    `client_options` go to PyGithub's `GithubIntegration` and `Github` (e.g.
    `retry=None`, `seconds_between_writes=None` in tests).
    """

    def __init__(
        self,
        settings: AppSettings,
        *,
        client_options: Mapping[str, Any] | None = None,
        clock: Callable[[], dt.datetime] = _utcnow,
        llm_settings: LLMSettings | None = None,
        chat_client: ChatClient | None = None,
        metrics: AppMetrics | None = None,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        if metrics is not None:
            count_github_calls(settings.github_api_url, metrics.github_calls)
        # The LLM is an attached resource: configured by environment, optional.
        self._llm_settings = llm_settings if llm_settings is not None else LLMSettings()
        self._chat_client = chat_client
        self._llm_cache = MemoryCache()  # shared by every job: unchanged prompts cost nothing
        # Shared too: once the endpoint is down, later jobs skip it instead of each waiting.
        self._llm_breaker = CircuitBreaker(
            self._llm_settings.breaker_failures, self._llm_settings.breaker_cooldown
        )
        self._options = dict(client_options or {})
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[int, tuple[str, dt.datetime]] = {}
        self._refused: set[tuple[str, int, str]] = set()  # one polite refusal per person and PR
        self._last_command: dict[tuple[str, int], dt.datetime] = {}
        self._bot_login: str | None = None
        self._integration = GithubIntegration(
            auth=Auth.AppAuth(settings.github_app_id, settings.private_key),
            base_url=settings.github_api_url,
            **self._options,
        )

    def __call__(self, job: Job) -> None:
        fields = job.log_fields()
        started = time.monotonic()
        outcome = "failed"
        try:
            with job_context(fields):
                outcome = self._run_refreshing_once(job, fields)
        except GithubException as exc:
            if exc.status == 404:  # the PR or the repository is gone: nothing left to review
                outcome = "gone"
                log.info(
                    "dropped: GitHub answered 404 (pull request or repository gone)", extra=fields
                )
            else:
                log.error(
                    "review failed: GitHub answered %s", exc.status, exc_info=True, extra=fields
                )
        except Exception:
            log.exception("review failed", extra=fields)
        seconds = time.monotonic() - started
        log.info("job done", extra=fields | {"duration_ms": round(seconds * 1000)})
        if self._metrics is not None:
            self._metrics.reviews.labels(outcome).inc()
            self._metrics.review_seconds.observe(seconds)

    def _run_refreshing_once(self, job: Job, fields: dict[str, object]) -> str:
        """Run the job; on 401 (a revoked or expired installation token) fetch a new
        token and run it once more. A second run posts nothing twice: what the first
        posted carries its fingerprints, and the summary is found and edited."""
        try:
            return self._run(job, fields)
        except GithubException as exc:
            if exc.status != 401:
                raise
            with self._lock:
                self._tokens.pop(job.installation_id, None)
            log.warning("GitHub answered 401: retrying once with a new token", extra=fields)
            return self._run(job, fields)

    def _run(self, job: Job, fields: dict[str, object]) -> str:
        """What became of the job: published, unchanged, superseded, replied..."""
        if job.cancelled:
            log.info("skipped: superseded", extra=fields)
            return "superseded"
        github = Github(
            base_url=self._settings.github_api_url,
            auth=Auth.Token(self.installation_token(job.installation_id)),
            per_page=100,  # GitHub's maximum: a 100-file PR is one request, not four
            lazy=True,  # no GET for objects only used to build URLs (the repo, the head commit)
            **self._options,
        )
        if job.command is not None:
            return self._command(github, job, job.command, fields)
        return self._review(github, job, fields)

    def _command(
        self, github: Github, job: Job, command: Command, fields: dict[str, object]
    ) -> str:
        """Answer a /twelve-review comment: 👀 at once, then a reply or a review and 🚀."""
        repo = github.get_repo(job.repo_full_name)
        pull = repo.get_pull(job.number)
        comment = pull.get_issue_comment(job.comment_id or 0)
        comment.create_reaction("eyes")
        if command.kind == "help":
            pull.create_issue_comment(help_reply(command))
            return "replied"
        if command.kind == "explain":
            pull.create_issue_comment(explain_reply(command.target or ""))
            return "replied"
        if not has_write_access(repo, job.commenter, job.association):
            log.info("command refused: no write access", extra=fields)
            if self._first_refusal(job):
                pull.create_issue_comment(REFUSAL.format(user=job.commenter))
            return "refused"
        wait = self._rate_limited(job)
        if wait:
            pull.create_issue_comment(RATE_LIMITED.format(seconds=wait))
            return "rate-limited"
        try:
            outcome = self._review(
                github, job, fields, only_factors=command.factors, full=command.full
            )
        except Exception:
            pull.create_issue_comment(FAILED)
            raise
        comment.create_reaction("rocket")
        return outcome

    def _first_refusal(self, job: Job) -> bool:
        key = (job.repo_full_name.lower(), job.number, (job.commenter or "").lower())
        with self._lock:
            if key in self._refused:
                return False
            self._refused.add(key)
            return True

    def _rate_limited(self, job: Job) -> int:
        """Seconds until this PR may run another command review (0: now)."""
        key = (job.repo_full_name.lower(), job.number)
        now = self._clock()
        with self._lock:
            last = self._last_command.get(key)
            interval = dt.timedelta(seconds=self._settings.command_interval)
            if last is not None and now - last < interval:
                return max(1, int((interval - (now - last)).total_seconds()))
            self._last_command[key] = now
            return 0

    def _review(
        self,
        github: Github,
        job: Job,
        fields: dict[str, object],
        only_factors: frozenset[int] = frozenset(),
        full: bool = False,
    ) -> str:
        publisher = Publisher(github, self.bot_login(), self._settings.max_comments)
        run = review_pull_request(
            publisher,
            job.repo_full_name,
            job.number,
            llm=lambda loaded: self._llm_reviewer(publisher, loaded),
            expected_head=job.head_sha,
            full=full,
            only_factors=only_factors,
        )
        if run.status == "moved-on":
            log.info("skipped: the PR head moved on since this delivery", extra=fields)
            return "moved-on"
        if job.cancelled:
            log.info("not posted: superseded by a newer push", extra=fields)
            return "superseded"
        if run.status == "unchanged" or run.result is None:
            log.info("unchanged since the last review: nothing to post", extra=fields)
            return "unchanged"
        if self._metrics is not None:
            self._metrics.review_done(run.result)
        outcome = publisher.publish(run.loaded, run.result)
        log.info(
            "review published",
            extra=fields
            | {
                "findings": len(run.result.findings),
                "inline": len(outcome.inline),
                "resolved": outcome.resolved,
                "tokens": run.result.llm.total_tokens,
                "incremental": run.incremental,
            },
        )
        return "published"

    def _llm_reviewer(self, publisher: Publisher, loaded: LoadedPullRequest) -> LLMReviewer | None:
        settings = self._llm_settings
        if not settings.enabled:
            return None
        if self._chat_client is None:
            from bot.llm.client import OpenAIChatClient  # noqa: PLC0415 - openai loads when used

            self._chat_client = OpenAIChatClient(settings)
        notes = team_note_set(publisher, loaded)
        return LLMReviewer.create(
            self._chat_client,
            settings,
            notes,
            counter_for(settings.model),
            self._llm_cache,
            breaker=self._llm_breaker,
        )

    def installation_token(self, installation_id: int) -> str:
        """A token for the installation, reused until a minute before it expires."""
        with self._lock:
            cached = self._tokens.get(installation_id)
            if cached is not None and self._clock() < cached[1] - _TOKEN_MARGIN:
                return cached[0]
        grant = self._integration.get_access_token(installation_id)
        expires = grant.expires_at
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=dt.UTC)
        with self._lock:
            self._tokens[installation_id] = (grant.token, expires)
        return grant.token

    def bot_login(self) -> str:
        """`<app slug>[bot]`, the login the App's comments are written by."""
        with self._lock:
            if self._bot_login is not None:
                return self._bot_login
        login = f"{self._integration.get_app().slug}[bot]"
        with self._lock:
            self._bot_login = login
        return login
