"""The App's settings, from the environment only (factor III).

`load_settings()` is the one entry point: it reads the variables, resolves the
private key (inline PEM or a file) and raises `SettingsError` with a one-line
message naming the variable that is missing or malformed. Secrets are
`SecretStr`, so they never show up in a repr or a log line.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["AppSettings", "SettingsError", "load_settings"]

_LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")


class SettingsError(Exception):
    """A missing or malformed environment variable; the message is one line."""


class AppSettings(BaseSettings):
    """Everything the App needs to run; each field is one environment variable."""

    model_config = SettingsConfigDict(
        extra="ignore", env_ignore_empty=True, validate_by_name=True, validate_by_alias=True
    )

    github_app_id: int = Field(validation_alias="GITHUB_APP_ID", gt=0)
    github_app_private_key: SecretStr | None = Field(
        default=None, validation_alias="GITHUB_APP_PRIVATE_KEY"
    )
    github_app_private_key_path: Path | None = Field(
        default=None, validation_alias="GITHUB_APP_PRIVATE_KEY_PATH"
    )
    github_webhook_secret: SecretStr = Field(validation_alias="GITHUB_WEBHOOK_SECRET", min_length=1)
    github_api_url: str = Field(
        default="https://api.github.com", validation_alias="GITHUB_API_URL", min_length=1
    )
    port: int = Field(default=8000, validation_alias="PORT", ge=1, le=65535)
    host: str = Field(default="0.0.0.0", validation_alias="HOST", min_length=1)
    webhook_path: str = Field(default="/webhook", validation_alias="TWELVE_REVIEW_WEBHOOK_PATH")
    workers: int = Field(default=2, validation_alias="TWELVE_REVIEW_WORKERS", ge=1, le=64)
    max_comments: int = Field(default=25, validation_alias="TWELVE_REVIEW_MAX_COMMENTS", ge=0)
    # How much of one PR a review reads; the rest is listed in the summary as not reviewed.
    max_files: int = Field(default=1000, validation_alias="TWELVE_REVIEW_MAX_FILES", ge=1)
    max_lines: int = Field(default=50_000, validation_alias="TWELVE_REVIEW_MAX_LINES", ge=1)
    command_interval: int = Field(
        default=60, validation_alias="TWELVE_REVIEW_COMMAND_INTERVAL", ge=0
    )  # seconds between /twelve-review runs on one PR
    review_drafts: bool = Field(default=False, validation_alias="TWELVE_REVIEW_DRAFTS")
    # The queue: a SQLite file on local disk, unless REDIS_URL names a shared Redis.
    redis_url: SecretStr | None = Field(default=None, validation_alias="REDIS_URL")
    queue_path: Path = Field(
        default=Path("twelve-review-queue.db"), validation_alias="TWELVE_REVIEW_QUEUE_PATH"
    )
    serve_workers: bool = Field(default=True, validation_alias="TWELVE_REVIEW_SERVE_WORKERS")
    max_pending: int = Field(default=1000, validation_alias="TWELVE_REVIEW_MAX_PENDING", ge=1)
    job_lease: float = Field(
        default=60.0, validation_alias="TWELVE_REVIEW_JOB_LEASE", gt=0
    )  # seconds a dead process keeps its jobs before another takes them
    max_attempts: int = Field(
        default=3, validation_alias="TWELVE_REVIEW_MAX_ATTEMPTS", ge=1
    )  # times a job's process may die while running it before the job is dropped
    shutdown_grace: float = Field(
        default=25.0, validation_alias="TWELVE_REVIEW_SHUTDOWN_GRACE", ge=0
    )  # seconds a running review gets on SIGTERM before it goes back to the queue
    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL")

    @field_validator("github_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(
            ("redis://", "rediss://", "unix://")
        ):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value

    @field_validator("webhook_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or any(c.isspace() for c in value):
            raise ValueError("must be a URL path starting with /")
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in _LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(_LOG_LEVELS)}")
        return level

    @property
    def private_key(self) -> str:
        """The App's private key (PEM); set by `load_settings`."""
        if self.github_app_private_key is None:
            raise SettingsError("GITHUB_APP_PRIVATE_KEY is required")
        return self.github_app_private_key.get_secret_value()

    @property
    def webhook_secret(self) -> str:
        return self.github_webhook_secret.get_secret_value()

    @property
    def secret_values(self) -> tuple[str, ...]:
        """What must never be written anywhere (the log redactor's list)."""
        redis = self.redis_url.get_secret_value() if self.redis_url is not None else None
        return (self.webhook_secret, self.private_key, *([redis] if redis else []))

    @property
    def logging_level(self) -> int:
        return int(logging.getLevelName(self.log_level))


def _variable(field: str) -> str:
    info = AppSettings.model_fields.get(field)
    alias = info.validation_alias if info is not None else None
    return alias if isinstance(alias, str) else field.upper()


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = str(err["loc"][0]) if err["loc"] else "settings"
    name = loc if loc.isupper() else _variable(loc)
    if err["type"] == "missing":
        return f"{name} is required"
    message = str(err["msg"]).removeprefix("Value error, ")
    return f"{name} is invalid: {message}"


def _is_private_key(pem: str) -> bool:
    try:
        load_pem_private_key(pem.encode("utf-8"), password=None)
    except (ValueError, TypeError):
        return False
    return True


def load_settings(**overrides: Any) -> AppSettings:
    """The settings from the environment (`overrides` by field name, for tests).

    Raises SettingsError naming the first variable that is missing or malformed.
    """
    try:
        settings = AppSettings(**overrides)
    except ValidationError as exc:
        raise SettingsError(_first_error(exc)) from None
    if settings.github_app_private_key is not None:
        variable = "GITHUB_APP_PRIVATE_KEY"
        # A PEM in one env line often arrives with literal "\n" escapes.
        pem = settings.github_app_private_key.get_secret_value().replace("\\n", "\n").strip()
    elif settings.github_app_private_key_path is not None:
        variable = "GITHUB_APP_PRIVATE_KEY_PATH"
        path = settings.github_app_private_key_path
        try:
            pem = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "unreadable"
            raise SettingsError(f"{variable} cannot be read: {path}: {reason}") from None
    else:
        raise SettingsError("GITHUB_APP_PRIVATE_KEY or GITHUB_APP_PRIVATE_KEY_PATH is required")
    if not _is_private_key(pem + "\n"):
        raise SettingsError(f"{variable} is not a PEM private key")
    return settings.model_copy(update={"github_app_private_key": SecretStr(pem + "\n")})
