"""The `twelve-review` command: review a diff locally, list and explain rules.

Exit codes: 0 clean (below --fail-on), 1 findings at or above --fail-on,
2 bad input (one line on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from pydantic import ValidationError

from bot import __version__
from bot.config import CONFIG_PATH, ConfigError, FailOn, RepoConfig, load_config, parse_config
from bot.diff import ChangedFile, DiffError, parse_diff
from bot.engine import review, review_files
from bot.gitsource import GitError, diff_from_git, diff_from_index, read_staged, repo_root
from bot.llm.prompt import plan_prompts
from bot.llm.review import LLMReviewer
from bot.llm.settings import LLMSettings
from bot.llm.tokens import counter_for
from bot.notes import NotesError, NoteSet, load_notes
from bot.output import FORMATS
from bot.ruledocs import explain_factor, explain_rule, rules_json, rules_markdown, rules_text
from bot.rules.registry import BY_CODE

__all__ = ["main"]


class UsageError(Exception):
    """Bad input from the user: reported in one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="twelve-review",
        description="Review changes against the Twelve-Factor App methodology.",
    )
    parser.add_argument("--version", action="version", version=f"twelve-review {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    review = sub.add_parser("review", help="review a diff or a git range")
    source = review.add_mutually_exclusive_group()
    source.add_argument("--diff", metavar="FILE", help="unified diff to review ('-' for stdin)")
    source.add_argument(
        "--base",
        metavar="REF",
        help="review the working tree (or --head) against the merge base with REF "
        "(default: HEAD, i.e. uncommitted changes)",
    )
    source.add_argument(
        "--staged",
        action="store_true",
        help="review what the next commit would record (git diff --cached), "
        "file text and config from the index: for a pre-commit hook",
    )
    review.add_argument(
        "--head", metavar="REF", help="with --base: the revision to review instead of the work tree"
    )
    review.add_argument("--format", choices=sorted(FORMATS), default="text")
    review.add_argument(
        "--no-llm",
        action="store_true",
        help="rules only, even when OPENAI_API_KEY or OPENAI_BASE_URL is set",
    )
    review.add_argument(
        "--llm-budget",
        type=_positive_int,
        metavar="TOKENS",
        help="cap on LLM tokens (input + output) for this review "
        "(default: TWELVE_REVIEW_MAX_TOTAL_TOKENS, else 100000)",
    )
    review.add_argument(
        "--dry-run-prompt",
        action="store_true",
        help="print the exact prompts (secrets masked) and their token counts; call no model",
    )
    review.add_argument(
        "--fail-on",
        choices=[f.value for f in FailOn],
        default=None,
        help="exit 1 when a finding at or above this severity exists (default: config, else error)",
    )
    review.add_argument(
        "--config", metavar="FILE", help=f"config file (default: {CONFIG_PATH} in the repository)"
    )
    review.add_argument("--repo", metavar="DIR", default=".", help="git repository (default: .)")
    review.add_argument(
        "--jobs",
        type=_positive_int,
        default=_cpu_count(),
        metavar="N",
        help="worker processes for large diffs (default: the CPUs available, %(default)s)",
    )

    rules = sub.add_parser("rules", help="list every rule")
    rules.add_argument("--format", choices=["text", "json", "markdown"], default="text")

    explain = sub.add_parser("explain", help="show a rule's documentation, or a factor's rules")
    explain.add_argument("target", help="a rule id (TF0301) or a factor number (3)")

    sub.add_parser("serve", help="run the GitHub App's webhook server (settings from the env)")
    sub.add_parser("worker", help="run only the App's review workers (settings from the env)")
    sub.add_parser("action", help="review the workflow's pull request (inside GitHub Actions)")
    return parser


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _positive_int(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command == "review":
            return _review(args, sys.stdout)
        if args.command in ("serve", "worker"):
            return _serve(args.command)
        if args.command == "action":
            from bot.action.main import run_action  # noqa: PLC0415 - PyGithub loads when used

            return run_action(os.environ)
        if args.command == "rules":
            sys.stdout.write(_RULE_LISTINGS[args.format]())
            return 0
        sys.stdout.write(_explain(args.target))
        return 0
    except (UsageError, DiffError, GitError, ConfigError) as exc:
        print(f"twelve-review: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `twelve-review review | head` is fine
        sys.stderr.close()
        return 0


_RULE_LISTINGS = {"text": rules_text, "json": rules_json, "markdown": rules_markdown}


def _serve(process: str) -> int:
    """The App's process types: settings from the environment, JSON logs."""
    from bot.app.logs import configure_logging  # noqa: PLC0415 - the App loads only here
    from bot.app.process import run_server, run_worker  # noqa: PLC0415
    from bot.app.settings import SettingsError, load_settings  # noqa: PLC0415

    try:
        settings = load_settings()
    except SettingsError as exc:
        raise UsageError(str(exc)) from None
    llm_key = _llm_settings().api_key
    secrets = [*settings.secret_values, *([llm_key.get_secret_value()] if llm_key else [])]
    configure_logging(settings.logging_level, secrets)
    return run_server(settings) if process == "serve" else run_worker(settings)


def _explain(target: str) -> str:
    key = target.strip().upper()
    if key in BY_CODE:
        return explain_rule(BY_CODE[key])
    if key.isascii() and key.isdigit() and 1 <= int(key) <= 12:
        return explain_factor(int(key))
    raise UsageError(f"no rule or factor {target!r} (try `twelve-review rules`)")


def _review(args: argparse.Namespace, out: TextIO) -> int:
    if args.staged and args.head:  # argparse's own wording for the other exclusive options
        raise UsageError("argument --head: not allowed with argument --staged")
    if args.head and not args.base:
        raise UsageError("--head needs --base")
    repo = Path(args.repo)
    files, repo_files = _changes(args, repo)
    nothing_staged = args.staged and not files
    if nothing_staged:
        # Not an error: a pre-commit hook must let an empty commit (or a CI run) through.
        print("twelve-review: nothing staged to review", file=sys.stderr)
    config = _load_config(args.config, repo, staged=args.staged)
    if args.dry_run_prompt:
        return _dry_run(files, config, repo, repo_files, args, out)
    no_llm = args.no_llm or nothing_staged
    reviewer = None if no_llm else _llm_reviewer(config, repo, args.llm_budget)
    result = review(files, config, repo_files=repo_files, jobs=args.jobs, llm=reviewer)
    color = args.format == "text" and out.isatty() and "NO_COLOR" not in os.environ
    out.write(FORMATS[args.format](result, color))
    fail_on = FailOn(args.fail_on) if args.fail_on else config.fail_on
    return 1 if any(fail_on.fails(f.severity) for f in result.findings) else 0


def _changes(
    args: argparse.Namespace, repo: Path
) -> tuple[list[ChangedFile], frozenset[str] | None]:
    """The changed files from the source the options name, and the file list when known."""
    if args.diff is not None:
        return _read_diff(args.diff), None
    if args.staged:
        git = diff_from_index(repo)
    else:
        # No source given: review uncommitted changes against HEAD.
        git = diff_from_git(repo, args.base or "HEAD", args.head)
    return git.files, git.repo_files


def _llm_settings() -> LLMSettings:
    try:
        return LLMSettings()
    except ValidationError as exc:
        err = exc.errors()[0]
        name = "TWELVE_REVIEW_" + str(err["loc"][0]).upper() if err["loc"] else "LLM settings"
        raise UsageError(f"{name}: {err['msg']}") from None


def _team_notes(config: RepoConfig, repo: Path) -> NoteSet:
    try:
        return load_notes(_read_team_notes(repo, config.notes) if config.notes else None)
    except NotesError as exc:
        raise UsageError(str(exc)) from None


def _read_team_notes(repo: Path, folder: str) -> dict[str, str]:
    """The team's notes (`notes:` in the config) from this checkout's working tree."""
    try:
        root = repo_root(repo)
    except GitError:
        root = repo
    where = root / folder
    if not where.is_dir():
        raise UsageError(f"notes: {folder!r} is not a folder in the repository")
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(where.glob("*.md"))}


def _llm_reviewer(config: RepoConfig, repo: Path, budget: int | None) -> LLMReviewer | None:
    settings = _llm_settings()
    if not settings.enabled:
        return None
    from bot.llm.client import OpenAIChatClient  # noqa: PLC0415 - openai loads only when used

    reviewer = LLMReviewer.create(
        OpenAIChatClient(settings),
        settings,
        _team_notes(config, repo),
        counter_for(settings.model),
    )
    reviewer.total_budget = budget
    return reviewer


def _dry_run(
    files: list[ChangedFile],
    config: RepoConfig,
    repo: Path,
    repo_files: frozenset[str] | None,
    args: argparse.Namespace,
    out: TextIO,
) -> int:
    settings = _llm_settings()
    result = review_files(files, config, repo_files=repo_files, jobs=args.jobs)
    counter = counter_for(settings.model)
    reviewed = set(result.reviewed)
    plan = plan_prompts(
        [f for f in files if f.path in reviewed],
        result.findings,
        _team_notes(config, repo),
        counter,
        settings.request_budget,
        settings.model,
    )
    total = sum(r.tokens for r in plan.requests)
    out.write(
        f"{len(plan.requests)} request(s), {total} input tokens ({counter.name}), "
        f"model {settings.model}, budget {settings.request_budget} per request\n"
    )
    for number, request in enumerate(plan.requests, start=1):
        out.write(
            f"\n===== request {number}: {request.tokens} tokens; files: "
            f"{', '.join(request.paths)}; notes: {', '.join(request.notes) or '(none)'}\n"
            f"----- system -----\n{request.system}\n----- user -----\n{request.user}\n"
        )
    for left in plan.not_reviewed:
        out.write(f"\nnot reviewed by the LLM: {left.path} ({left.reason})\n")
    return 0


def _read_diff(name: str) -> list[ChangedFile]:
    if name == "-":
        return parse_diff(sys.stdin.buffer.read())
    try:
        return parse_diff(Path(name).read_bytes())
    except OSError as exc:
        raise UsageError(f"cannot read {name}: {exc.strerror}") from None


def _load_config(explicit: str | None, repo: Path, *, staged: bool = False) -> RepoConfig:
    known = BY_CODE.keys()
    if explicit:
        return load_config(explicit, known)
    if staged:
        # The config the commit would carry, like the files: unstaged edits do not count.
        text = read_staged(repo, CONFIG_PATH)
        source = f"{CONFIG_PATH} (staged)"
        return RepoConfig() if text is None else parse_config(text, known, source=source)
    try:
        root = repo_root(repo)
    except GitError:
        root = repo
    default = root / CONFIG_PATH
    return load_config(default, known) if default.is_file() else RepoConfig()


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
