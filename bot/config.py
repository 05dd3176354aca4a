"""The repository config file, `.github/twelve-review.yml`.

Every key is optional. Unknown keys and bad values are refused with an error
that names the key, so a typo never silently turns a check off.

    fail-on: error              # error | warning | notice | never
    factors:
      disable: [8]              # factor numbers 1..12
    rules:
      disable: [TF0702]         # rule ids
      severity:                 # per-rule severity override
        TF0401: notice
    paths:
      include: ["src/**"]       # gitignore-style globs; empty = every path
      exclude: ["vendor/**"]
    notes: docs/twelve-factor   # a folder of the team's own factor notes (LLM review)
    request-changes: false      # App/Action: REQUEST_CHANGES while an error finding is open
"""

from __future__ import annotations

import re
from collections.abc import Collection
from enum import StrEnum
from pathlib import Path
from typing import Any

import pathspec
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.findings import Severity

__all__ = [
    "CONFIG_PATH",
    "ConfigError",
    "FailOn",
    "RepoConfig",
    "load_config",
    "parse_config",
]

CONFIG_PATH = ".github/twelve-review.yml"
_RULE_ID = re.compile(r"^TF(0[1-9]|1[0-2])\d{2}$")


class ConfigError(ValueError):
    """The config file is not valid; the message names the offending key."""


class FailOn(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    NOTICE = "notice"
    NEVER = "never"

    def fails(self, severity: Severity) -> bool:
        if self is FailOn.NEVER:
            return False
        return severity.at_least(Severity(self.value))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_rule_id(value: str) -> str:
    code = value.strip().upper()
    if not _RULE_ID.match(code):
        raise ValueError(f"{value!r} is not a rule id (TF + factor + number, e.g. TF0301)")
    return code


class FactorsConfig(_Strict):
    disable: frozenset[int] = frozenset()

    @field_validator("disable")
    @classmethod
    def _factor_numbers(cls, value: frozenset[int]) -> frozenset[int]:
        bad = sorted(n for n in value if not 1 <= n <= 12)
        if bad:
            raise ValueError(f"factor numbers are 1..12, got {bad}")
        return value


class RulesConfig(_Strict):
    disable: frozenset[str] = frozenset()
    severity: dict[str, Severity] = Field(default_factory=dict)

    @field_validator("disable")
    @classmethod
    def _disable_ids(cls, value: frozenset[str]) -> frozenset[str]:
        return frozenset(_check_rule_id(v) for v in value)

    @field_validator("severity")
    @classmethod
    def _severity_ids(cls, value: dict[str, Severity]) -> dict[str, Severity]:
        return {_check_rule_id(k): v for k, v in value.items()}


class PathsConfig(_Strict):
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


class RepoConfig(_Strict):
    """What a repository can set about its own review."""

    fail_on: FailOn = Field(default=FailOn.ERROR, alias="fail-on")
    factors: FactorsConfig = FactorsConfig()
    rules: RulesConfig = RulesConfig()
    paths: PathsConfig = PathsConfig()
    notes: str | None = None
    request_changes: bool = Field(default=False, alias="request-changes")

    @field_validator("notes")
    @classmethod
    def _notes_inside_repo(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = value.replace("\\", "/").split("/")
        if value.startswith("/") or ".." in parts or not value.strip():
            raise ValueError(f"{value!r} must be a folder path inside the repository")
        return value.strip("/")

    def rule_enabled(self, code: str, factor: int) -> bool:
        return factor not in self.factors.disable and code not in self.rules.disable

    def severity_for(self, code: str, default: Severity) -> Severity:
        return self.rules.severity.get(code, default)

    def path_selected(self, path: str) -> bool:
        """Whether a path is reviewed at all, by the include/exclude globs."""
        if self.paths.include and not _spec(self.paths.include).match_file(path):
            return False
        return not (self.paths.exclude and _spec(self.paths.exclude).match_file(path))


_SPECS: dict[tuple[str, ...], pathspec.GitIgnoreSpec] = {}


def _spec(patterns: tuple[str, ...]) -> pathspec.GitIgnoreSpec:
    spec = _SPECS.get(patterns)
    if spec is None:
        spec = _SPECS[patterns] = pathspec.GitIgnoreSpec.from_lines(patterns)
    return spec


def parse_config(
    text: str, known_rules: Collection[str] = (), source: str = CONFIG_PATH
) -> RepoConfig:
    """Parse config text. With `known_rules`, rule ids must also exist."""
    try:
        data: Any = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    try:
        config = RepoConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_describe(exc)}") from None
    if known_rules:
        named = [("rules.disable", c) for c in sorted(config.rules.disable)]
        named += [("rules.severity", c) for c in sorted(config.rules.severity)]
        for key, code in named:
            if code not in known_rules:
                raise ConfigError(f"{source}: {key}: unknown rule {code!r}")
    return config


def _describe(exc: ValidationError) -> str:
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"]) or "(top level)"
    if err["type"] == "extra_forbidden":
        return f"{key}: unknown key"
    msg = str(err["msg"]).removeprefix("Value error, ")
    return f"{key}: {msg}"


def load_config(path: str | Path, known_rules: Collection[str] = ()) -> RepoConfig:
    """Read and parse a config file from disk."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not UTF-8 text") from None
    return parse_config(text, known_rules, source=str(p))
