"""What the runner gives the Action: its environment, its inputs, and the event.

Only what a GitHub-hosted runner provides is read: `GITHUB_EVENT_NAME`,
`GITHUB_EVENT_PATH`, `GITHUB_REPOSITORY`, `GITHUB_API_URL`, `GITHUB_SHA`,
`GITHUB_STEP_SUMMARY`, `GITHUB_OUTPUT`, `RUNNER_TEMP`, and the inputs, which
`action.yml` passes as `INPUT_*` variables (underscores for hyphens). The event
decides which pull request to review, or why there is nothing to do.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.config import CONFIG_PATH, FailOn
from bot.github.commands import Command, parse_command
from bot.github.payload import REVIEW_ACTIONS, dig

__all__ = ["ActionError", "ActionInputs", "RunnerContext", "Skip", "Target", "target_of"]

DEFAULT_API_URL = "https://api.github.com"


class ActionError(ValueError):
    """A setting or an event the Action cannot work with (exit 2, one line)."""


class ActionInputs(BaseModel):
    """The inputs of action.yml, validated; names as in action.yml."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    github_token: str = Field(alias="github-token", min_length=1)
    llm: Literal["auto", "on", "off"] = "auto"
    fail_on: FailOn | None = Field(default=None, alias="fail-on")
    config: str = CONFIG_PATH
    max_comments: int = Field(default=25, alias="max-comments", ge=0, le=100)
    sarif_file: str = Field(default="", alias="sarif-file")
    pull_request: int | None = Field(default=None, alias="pull-request", ge=1)

    @field_validator("fail_on", "pull_request", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("config")
    @classmethod
    def _config_in_repo(cls, value: str) -> str:
        parts = value.split("/")
        if not value or value.startswith("/") or ".." in parts:
            raise ValueError(f"{value!r} must be a path inside the repository")
        return value


_INPUTS = (
    "github-token",
    "llm",
    "fail-on",
    "config",
    "max-comments",
    "sarif-file",
    "pull-request",
)


def _input_variable(name: str) -> str:
    return "INPUT_" + name.upper().replace("-", "_")


@dataclass(frozen=True)
class RunnerContext:
    event_name: str
    event: dict[str, Any]
    repository: str
    api_url: str
    sha: str
    step_summary: Path | None
    output: Path | None
    runner_temp: Path | None
    inputs: ActionInputs

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RunnerContext:
        raw = {
            name: env[_input_variable(name)] for name in _INPUTS if env.get(_input_variable(name))
        }
        if "github-token" not in raw:
            raise ActionError("github-token: no token (set the input or INPUT_GITHUB_TOKEN)")
        try:
            inputs = ActionInputs.model_validate(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            name = str(err["loc"][0]) if err["loc"] else "inputs"
            raise ActionError(f"{name}: {err['msg']}") from None
        for variable in ("GITHUB_EVENT_NAME", "GITHUB_REPOSITORY"):
            if not env.get(variable):
                raise ActionError(f"{variable} is not set: run this inside a GitHub workflow")
        event_path = env.get("GITHUB_EVENT_PATH", "")
        try:
            event = json.loads(Path(event_path).read_text(encoding="utf-8")) if event_path else {}
        except (OSError, ValueError) as exc:
            raise ActionError(f"GITHUB_EVENT_PATH: cannot read the event ({exc})") from None
        return cls(
            event_name=env["GITHUB_EVENT_NAME"],
            event=event if isinstance(event, dict) else {},
            repository=env["GITHUB_REPOSITORY"],
            api_url=env.get("GITHUB_API_URL") or DEFAULT_API_URL,
            sha=env.get("GITHUB_SHA", ""),
            step_summary=_path(env, "GITHUB_STEP_SUMMARY"),
            output=_path(env, "GITHUB_OUTPUT"),
            runner_temp=_path(env, "RUNNER_TEMP"),
            inputs=inputs,
        )


def _path(env: Mapping[str, str], name: str) -> Path | None:
    value = env.get(name)
    return Path(value) if value else None


@dataclass(frozen=True)
class Target:
    """The pull request to review, and how the run was asked for."""

    number: int
    expected_head: str = ""  # a push: review this head or nothing (a newer run will)
    command: Command | None = None
    comment_id: int | None = None
    commenter: str | None = None
    association: str | None = None


@dataclass(frozen=True)
class Skip:
    reason: str


def target_of(context: RunnerContext) -> Target | Skip:
    """The pull request this event asks to review, or why it asks for nothing."""
    event, name = context.event, context.event_name
    if dig(event, "sender", "type") == "Bot":
        return Skip("the event was sent by a bot")
    if name in ("pull_request", "pull_request_target"):
        return _pull_request(event, name)
    if name == "issue_comment":
        return _comment(event)
    if name == "workflow_dispatch":
        return _dispatch(event, context.inputs)
    return Skip(f"the {name!r} event is not one twelve-review reviews")


def _pull_request(event: dict[str, Any], name: str) -> Target | Skip:
    action = event.get("action")
    if action not in REVIEW_ACTIONS:
        return Skip(f"{name} action {action!r} is not reviewed")
    if dig(event, "pull_request", "draft") is True:
        return Skip("draft pull request")
    number, head = dig(event, "pull_request", "number"), dig(event, "pull_request", "head", "sha")
    if not isinstance(number, int) or not isinstance(head, str):
        raise ActionError(f"the {name} event has no pull_request number and head sha")
    return Target(number, expected_head=head)


def _comment(event: dict[str, Any]) -> Target | Skip:
    if event.get("action") != "created":
        return Skip("the comment was not just created")
    if not isinstance(dig(event, "issue", "pull_request"), dict):
        return Skip("the comment is not on a pull request")
    command = parse_command(str(dig(event, "comment", "body") or ""))
    if command is None:
        return Skip("the comment is not a /twelve-review command")
    number, comment_id = dig(event, "issue", "number"), dig(event, "comment", "id")
    if not isinstance(number, int) or not isinstance(comment_id, int):
        raise ActionError("the issue_comment event has no issue number and comment id")
    return Target(
        number,
        command=command,
        comment_id=comment_id,
        commenter=dig(event, "comment", "user", "login"),
        association=dig(event, "comment", "author_association"),
    )


_DISPATCH_INPUTS = ("pull-request", "pull_request", "pr", "number")


def _dispatch(event: dict[str, Any], inputs: ActionInputs) -> Target | Skip:
    number = inputs.pull_request
    if number is None:
        given = dig(event, "inputs")
        given = given if isinstance(given, dict) else {}
        value = next((given[k] for k in _DISPATCH_INPUTS if given.get(k) not in (None, "")), None)
        if value is None:
            return Skip("workflow_dispatch needs a pull request number (input pull-request)")
        if not (str(value).isascii() and str(value).isdigit()) or int(value) < 1:
            raise ActionError(f"pull-request: {value!r} is not a pull request number")
        number = int(value)
    return Target(number)
