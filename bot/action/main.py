"""`twelve-review action`: one review of one pull request inside a workflow.

The same review as the App (rules, the model when configured, one review with
inline comments and one summary comment), driven by the event the workflow
received. When the token may not write (a fork's pull request, a read-only
`permissions:` block), the findings become workflow annotations and the job
summary instead; that alone never fails the job. The exit code follows
`fail-on` (the input, else the repository config's).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from github import Auth, Github, GithubException
from github.PullRequest import PullRequest

from bot.action.context import ActionError, RunnerContext, Skip, Target, target_of
from bot.action.outputs import annotation_lines, append_summary, write_outputs
from bot.config import ConfigError
from bot.engine import ReviewResult
from bot.findings import Severity
from bot.github.access import has_write_access
from bot.github.publisher import LoadedPullRequest, Publisher
from bot.github.replies import FAILED, REFUSAL, explain_reply, help_reply
from bot.github.run import PullRequestRun, review_pull_request, team_note_set
from bot.llm.cache import MemoryCache
from bot.llm.review import LLMReviewer
from bot.llm.settings import LLMSettings
from bot.llm.tokens import counter_for
from bot.output import sarif

__all__ = ["run_action"]

log = logging.getLogger("twelve_review.action")

# The login the workflow token writes as; a personal token is asked for its own.
ACTIONS_BOT = "github-actions[bot]"


def run_action(env: Mapping[str, str], out: TextIO = sys.stdout) -> int:
    """Exit code: 0 (nothing at or above fail-on), 1 (findings that fail), 2 (cannot run)."""
    try:
        context = RunnerContext.from_env(env)
        target = target_of(context)
        if isinstance(target, Skip):
            out.write(f"::notice::twelve-review: nothing to review: {target.reason}.\n")
            write_outputs(context.output, _counts(None) | {"summary": "", "sarif-file": ""})
            return 0
        llm = _llm_settings(context)
        return _Run(context, target, llm, out).run()
    except (ActionError, ConfigError) as exc:
        out.write(f"::error::twelve-review: {_one_line(str(exc))}\n")
        return 2
    except GithubException as exc:  # a bad token, a PR that is gone: one line, no traceback
        message = exc.data.get("message") if isinstance(exc.data, dict) else None
        out.write(f"::error::twelve-review: GitHub answered {exc.status}: {message or 'error'}\n")
        return 2


def _one_line(text: str) -> str:
    return text.replace("\r", " ").replace("\n", " ")


def _llm_settings(context: RunnerContext) -> LLMSettings | None:
    """The model's settings from the environment (action.yml passes the inputs as
    OPENAI_API_KEY, OPENAI_BASE_URL and TWELVE_REVIEW_MODEL; empty means unset)."""
    mode = context.inputs.llm
    if mode == "off":
        return None
    try:
        settings = LLMSettings()
    except ValueError as exc:
        raise ActionError(f"LLM settings: {exc}") from None
    if not settings.enabled:
        if mode == "on":
            raise ActionError("llm: on, but neither openai-api-key nor openai-base-url is set")
        return None
    return settings


def _counts(result: ReviewResult | None) -> dict[str, str]:
    findings = result.findings if result is not None else []
    errors = sum(1 for f in findings if f.severity is Severity.ERROR)
    return {"findings": str(len(findings)), "errors": str(errors)}


class _Run:
    def __init__(
        self, context: RunnerContext, target: Target, llm: LLMSettings | None, out: TextIO
    ) -> None:
        self.context = context
        self.target = target
        self.llm = llm
        self.out = out
        self.github = Github(
            base_url=context.api_url,
            auth=Auth.Token(context.inputs.github_token),
            per_page=100,
            lazy=True,
        )

    def run(self) -> int:
        command = self.target.command
        if command is not None and not self._command_may_review():
            return 0
        publisher = Publisher(
            self.github,
            self._bot_login(),
            self.context.inputs.max_comments,
            self.context.inputs.config,
        )
        try:
            run = review_pull_request(
                publisher,
                self.context.repository,
                self.target.number,
                llm=lambda loaded: self._reviewer(publisher, loaded),
                expected_head=self.target.expected_head,
                full=command.full if command is not None else False,
                only_factors=command.factors if command is not None else frozenset(),
            )
        except Exception:
            self._tell_commenter(FAILED)
            raise
        if run.status == "moved-on" or run.result is None:
            self.out.write("::notice::twelve-review: the pull request has a newer head; skipped.\n")
            return 0
        summary = self._publish(publisher, run, run.result)
        if command is not None:
            self._react("rocket")
        return self._finish(run, run.result, summary)

    # -- commands

    def _command_may_review(self) -> bool:
        """Acknowledge the command; answer help and explain; check write access."""
        command, target = self.target.command, self.target
        assert command is not None
        self._react("eyes")
        if command.kind == "help":
            self._pull().create_issue_comment(help_reply(command))
            return False
        if command.kind == "explain":
            self._pull().create_issue_comment(explain_reply(command.target or ""))
            return False
        repo = self.github.get_repo(self.context.repository)
        if not has_write_access(repo, target.commenter, target.association):
            self.out.write("::notice::twelve-review: the commenter has no write access.\n")
            refusal = REFUSAL.format(user=target.commenter)
            # One polite reply per person and pull request; the Action keeps no state,
            # so the conversation itself is the record.
            if not any(c.body == refusal for c in self._pull().get_issue_comments()):
                self._pull().create_issue_comment(refusal)
            return False
        return True

    def _pull(self) -> PullRequest:
        return self.github.get_repo(self.context.repository).get_pull(self.target.number)

    def _react(self, reaction: str) -> None:
        if self.target.comment_id is None:
            return
        try:
            self._pull().get_issue_comment(self.target.comment_id).create_reaction(reaction)
        except GithubException as exc:  # a read-only token: the review matters more
            log.warning("could not react %s: GitHub answered %s", reaction, exc.status)

    def _tell_commenter(self, text: str) -> None:
        if self.target.command is None:
            return
        try:
            self._pull().create_issue_comment(text)
        except GithubException:
            log.warning("could not reply to the command", exc_info=True)

    # -- the review

    def _bot_login(self) -> str:
        """Whose comments are the bot's own: the workflow token's bot, or the user a
        personal token belongs to (GET /user answers 403 for installation tokens)."""
        try:
            return str(self.github.get_user().login)
        except GithubException:
            return ACTIONS_BOT

    def _reviewer(self, publisher: Publisher, loaded: LoadedPullRequest) -> LLMReviewer | None:
        settings = self.llm
        if settings is None:
            return None
        from bot.llm.client import OpenAIChatClient  # noqa: PLC0415 - openai loads when used

        return LLMReviewer.create(
            OpenAIChatClient(settings),
            settings,
            team_note_set(publisher, loaded),
            counter_for(settings.model),
            MemoryCache(),
        )

    def _publish(self, publisher: Publisher, run: PullRequestRun, result: ReviewResult) -> str:
        """Post the review and summary; on 403, annotations instead. The summary text."""
        if run.status == "unchanged":
            self.out.write("::notice::twelve-review: unchanged since the last review.\n")
            previous = run.loaded.summary
            body = previous.body if previous is not None else None
            return body or publisher.summary_without_posting(run.loaded, result)
        try:
            return publisher.publish(run.loaded, result).summary_body
        except GithubException as exc:
            if exc.status != 403:
                raise
        self.out.write(
            "::warning::twelve-review: this token may not comment on the pull request "
            "(a fork, or read-only permissions); the findings are annotations instead.\n"
        )
        for line in annotation_lines(result.findings):
            self.out.write(line + "\n")
        return publisher.summary_without_posting(run.loaded, result)

    def _finish(self, run: PullRequestRun, result: ReviewResult, summary: str) -> int:
        context = self.context
        append_summary(context.step_summary, summary)
        sarif_path = self._write_sarif(result)
        write_outputs(
            context.output,
            _counts(result) | {"summary": summary, "sarif-file": str(sarif_path or "")},
        )
        fail_on = context.inputs.fail_on or run.loaded.config.fail_on
        return 1 if any(fail_on.fails(f.severity) for f in result.findings) else 0

    def _write_sarif(self, result: ReviewResult) -> Path | None:
        name = self.context.inputs.sarif_file
        if not name:
            return None
        path = Path(name)
        if not path.is_absolute():
            path = Path.cwd() / path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sarif.render(result), encoding="utf-8")
        return path
