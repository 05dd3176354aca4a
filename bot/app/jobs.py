"""The runner: one review of one pull request, as the GitHub App.

Authenticates as the App (JWT), exchanges that for an installation token
(cached until a minute before it expires), reads the PR with `Publisher`,
reviews it, and posts unless a newer push cancelled the job meanwhile.
Failures are logged, never raised: a worker must outlive any one review.

When GitHub fails: PyGithub retries 5xx answers, lost connections and rate
limits (`bot.github.ratelimit.GitHubRetry`, up to a minute's wait); writes are
paced per installation across all jobs (`bot.github.pacing`); a 401 fetches a
new token once; a 404 drops the job; a POST that failed in a way that leaves
unknown whether GitHub carried it out (5xx, connection lost) runs the review
once more, which finds what was posted by its fingerprints and posts only the
rest; a longer rate limit ends the job `rate-limited`, with the time to run it
again.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests
from github import Auth, Github, GithubException, GithubIntegration
from urllib3 import Retry

from bot.app.logs import job_context
from bot.app.metrics import AppMetrics, count_github_calls
from bot.app.queue import Job
from bot.app.settings import AppSettings
from bot.app.throttle import MemoryThrottle, Throttle
from bot.github.access import has_write_access
from bot.github.appauth import app_auth
from bot.github.commands import Command
from bot.github.pacing import WritePacer
from bot.github.publisher import LoadedPullRequest, Publisher
from bot.github.ratelimit import GitHubRetry, RateLimitedError
from bot.github.replies import (
    FAILED,
    RATE_LIMITED,
    REFUSAL,
    explain_reply,
    help_reply,
)
from bot.github.run import SizeLimits, review_pull_request, team_note_set
from bot.llm.breaker import CircuitBreaker
from bot.llm.budget import HourlyTokenBudget
from bot.llm.cache import MemoryCache
from bot.llm.protocol import ChatClient
from bot.llm.review import LLMReviewer
from bot.llm.settings import LLMSettings
from bot.llm.tokens import counter_for

__all__ = ["Outcome", "ReviewRunner"]

log = logging.getLogger("twelve_review.jobs")

_TOKEN_MARGIN = dt.timedelta(minutes=1)
_REFUSAL_MEMORY = 90 * 24 * 3600.0  # seconds: one polite refusal per person and PR
_UNAVAILABLE_RETRY = 60.0  # seconds before a job GitHub failed runs again
_WRITE_INTERVAL = 1.0  # seconds between one installation's writes, as GitHub asks
# Lost on the way: the request may or may not have been carried out.
_UNREACHABLE = (requests.ConnectionError, requests.Timeout, requests.exceptions.RetryError)


def _default_retry() -> GitHubRetry:
    # 5 retries, 1 s doubling (+ jitter) from the second: 15 s of a failing GitHub, then give up.
    return GitHubRetry(total=5, backoff_factor=0.5, backoff_jitter=0.5, max_wait=60.0)


def _posts_retried(retry: object) -> object:
    """The retry for the App's own calls: its POSTs (installation tokens) are retried
    like reads, as a token made twice is harmless."""
    if isinstance(retry, Retry) and retry.allowed_methods:
        return retry.new(allowed_methods=frozenset(retry.allowed_methods) | {"POST"})
    return retry


def _unavailable(exc: Exception) -> bool:
    """GitHub failed on its side or could not be reached (after the transport's retries)."""
    if isinstance(exc, GithubException):
        return exc.status >= 500
    return isinstance(exc, _UNREACHABLE)


class Outcome(str):
    """What became of a job: "published", "unchanged", "superseded", "moved-on",
    "replied", "refused", "throttled" (a command too soon after the last),
    "gone" (404), "unavailable" (GitHub failing or unreachable), "rate-limited",
    or "failed". A plain string for logs and metrics; a "rate-limited" or
    "unavailable" one also says when to run the job again: `retry_at` (UTC) and
    `retry_in` (seconds).
    """

    retry_at: dt.datetime | None
    retry_in: float | None

    def __new__(
        cls, value: str, retry_at: dt.datetime | None = None, retry_in: float | None = None
    ) -> Outcome:
        outcome = super().__new__(cls, value)
        outcome.retry_at = retry_at
        outcome.retry_in = retry_in
        return outcome


def _pull_key(job: Job) -> str:
    return f"{job.repo_full_name.lower()}#{job.number}"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ReviewRunner:
    """Callable on a `Job`, returning its `Outcome`; thread-safe, shared by every worker.

    `client_options` go to PyGithub's `GithubIntegration` and `Github` (e.g.
    `retry=None` in tests; by default a `GitHubRetry`). `seconds_between_writes`
    (default 1.0, None for none) is not PyGithub's per-client pause here: the
    runner spaces the writes of each installation by it across all its jobs.
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
        throttle: Throttle | None = None,
    ) -> None:
        self._settings = settings
        # the command interval and one refusal per person: shared by replicas when the
        # throttle is the queue's store, else this process's memory
        self._throttle = throttle if throttle is not None else MemoryThrottle(clock)
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
        # Shared as well: each installation's model tokens over a sliding hour.
        self._llm_budget = HourlyTokenBudget.from_settings(self._llm_settings)
        self._options = dict(client_options or {})
        self._options.setdefault("retry", _default_retry())
        interval = self._options.pop("seconds_between_writes", _WRITE_INTERVAL)
        self._pacer = WritePacer(interval or 0.0)
        self._options["seconds_between_writes"] = None  # the pacer's job, per installation
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[int, tuple[str, dt.datetime]] = {}
        # One token request per installation at a time: reviews starting together
        # (a restart, a burst) would each sign a JWT (~40 ms of CPU) and ask GitHub.
        self._fetching: dict[int, threading.Lock] = {}
        self._bot_login: str | None = None
        self._looking_up_login = threading.Lock()
        self._integration = GithubIntegration(
            auth=app_auth(settings.github_app_id, settings.private_key),
            base_url=settings.github_api_url,
            **(self._options | {"retry": _posts_retried(self._options["retry"])}),
        )

    def __call__(self, job: Job) -> Outcome:
        """Run the job and say what became of it; never raises. A "rate-limited"
        outcome carries `retry_at`/`retry_in`: the queue may run the job again then."""
        fields = job.log_fields()
        started = time.monotonic()
        outcome = Outcome("failed")
        try:
            with job_context(fields):
                outcome = Outcome(self._run_refreshing_once(job, fields))
        except RateLimitedError as exc:
            outcome = Outcome("rate-limited", exc.reset_at, exc.wait)
            log.warning(
                "rate-limited: GitHub answered %s until %s; given up, to run again then",
                exc.status,
                exc.reset_at.isoformat(timespec="seconds"),
                extra=fields,
            )
        except GithubException as exc:
            if exc.status == 404:  # the PR or the repository is gone: nothing left to review
                outcome = Outcome("gone")
                log.info(
                    "dropped: GitHub answered 404 (pull request or repository gone)", extra=fields
                )
            else:
                outcome = self._unavailable() if _unavailable(exc) else Outcome("failed")
                log.error(
                    "review failed: GitHub answered %s", exc.status, exc_info=True, extra=fields
                )
        except _UNREACHABLE:
            outcome = self._unavailable()
            log.error("review failed: GitHub could not be reached", exc_info=True, extra=fields)
        except Exception:
            log.exception("review failed", extra=fields)
        seconds = time.monotonic() - started
        log.info("job done", extra=fields | {"duration_ms": round(seconds * 1000)})
        if self._metrics is not None:
            self._metrics.reviews.labels(outcome).inc()
            self._metrics.review_seconds.observe(seconds)
        return outcome

    def _unavailable(self) -> Outcome:
        """GitHub failing or unreachable past the retries: try the job again later
        (the queue backs off further on each try, and gives up after a few)."""
        later = dt.timedelta(seconds=_UNAVAILABLE_RETRY)
        return Outcome("unavailable", self._clock() + later, _UNAVAILABLE_RETRY)

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
            return "throttled"
        try:
            outcome = self._review(
                github, job, fields, only_factors=command.factors, full=command.full
            )
        except RateLimitedError:
            # No "failed" reply (it would meet the same limit), and no throttling
            # of the run that comes back for this command once the limit lifts.
            self._forget_command(job)
            raise
        except Exception:
            pull.create_issue_comment(FAILED)
            raise
        comment.create_reaction("rocket")
        return outcome

    def _first_refusal(self, job: Job) -> bool:
        key = f"refused:{_pull_key(job)}#{(job.commenter or '').lower()}"
        return self._throttle.hold(key, _REFUSAL_MEMORY) == 0

    def _rate_limited(self, job: Job) -> int:
        """Seconds until this PR may run another command review (0: now)."""
        left = self._throttle.hold(f"command:{_pull_key(job)}", self._settings.command_interval)
        return max(1, math.ceil(left)) if left > 0 else 0

    def _forget_command(self, job: Job) -> None:
        self._throttle.free(f"command:{_pull_key(job)}")

    def _review(
        self,
        github: Github,
        job: Job,
        fields: dict[str, object],
        only_factors: frozenset[int] = frozenset(),
        full: bool = False,
    ) -> str:
        """Review and publish; once more if GitHub failed on the way (see the module
        docstring): a POST is never resent blindly, the second run reads first."""
        try:
            return self._review_once(github, job, fields, only_factors, full)
        except Exception as exc:
            if not _unavailable(exc):
                raise
            log.warning(
                "GitHub failed mid-review (%s): reviewing once more, posting only what is missing",
                exc.status if isinstance(exc, GithubException) else type(exc).__name__,
                extra=fields,
            )
            return self._review_once(github, job, fields, only_factors, full)

    def _review_once(
        self,
        github: Github,
        job: Job,
        fields: dict[str, object],
        only_factors: frozenset[int],
        full: bool,
    ) -> str:
        publisher = Publisher(github, self.bot_login(), self._settings.max_comments)
        run = review_pull_request(
            publisher,
            job.repo_full_name,
            job.number,
            llm=lambda loaded: self._llm_reviewer(publisher, loaded, job.installation_id),
            expected_head=job.head_sha,
            full=full,
            only_factors=only_factors,
            limits=SizeLimits(self._settings.max_files, self._settings.max_lines),
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

    def _llm_reviewer(
        self, publisher: Publisher, loaded: LoadedPullRequest, installation_id: int
    ) -> LLMReviewer | None:
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
            budget=self._llm_budget,
            budget_key=installation_id,
        )

    def installation_token(self, installation_id: int) -> str:
        """A token for the installation, reused until a minute before it expires;
        threads that need it at once wait for one request instead of each sending one."""
        with self._lock:
            fetching = self._fetching.setdefault(installation_id, threading.Lock())
        with fetching:
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
        self._pacer.track(grant.token, installation_id, expires.timestamp())
        return grant.token

    def bot_login(self) -> str:
        """`<app slug>[bot]`, the login the App's comments are written by (asked
        once: threads that need it meanwhile wait for that one request)."""
        with self._looking_up_login:
            if self._bot_login is None:
                self._bot_login = f"{self._integration.get_app().slug}[bot]"
            return self._bot_login
