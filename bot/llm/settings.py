"""LLM settings, from the environment only (the model is an attached resource)."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DEFAULT_MODEL", "LLMSettings"]

DEFAULT_MODEL = "gpt-4o-mini"


class LLMSettings(BaseSettings):
    """Where the model lives and how much a review may spend on it.

    `OPENAI_API_KEY` and `OPENAI_BASE_URL` are the openai SDK's own variables; the
    rest are prefixed `TWELVE_REVIEW_`. With neither a key nor a base URL, the LLM
    is off and reviews run on rules alone.
    """

    # validate_by_name: code and tests may pass base_url=... as well as OPENAI_BASE_URL.
    # env_ignore_empty: `OPENAI_API_KEY=` (as a workflow passes an unset input) means unset,
    # not an empty key that turns the LLM on and fails every request.
    model_config = SettingsConfigDict(
        env_prefix="TWELVE_REVIEW_",
        extra="ignore",
        env_ignore_empty=True,
        validate_by_name=True,
        validate_by_alias=True,
    )

    api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "TWELVE_REVIEW_API_KEY")
    )
    base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_BASE_URL", "TWELVE_REVIEW_BASE_URL")
    )
    model: str = DEFAULT_MODEL
    timeout: float = Field(default=60.0, gt=0, description="Seconds per request.")
    max_output_tokens: int = Field(default=2000, gt=0)
    request_budget: int = Field(
        default=12_000, ge=1_000, description="Input tokens per request (prompt size)."
    )
    max_total_tokens: int = Field(
        default=100_000, gt=0, description="Input + output tokens per review, all requests."
    )
    max_requests: int = Field(default=10, gt=0, description="Requests per review.")
    # Ten reviews at the default per-review cap: far more than one team pushes in an
    # hour, while a runaway installation (a bot pushing every minute) stops there.
    installation_tokens_per_hour: int = Field(
        default=1_000_000,
        ge=0,
        description="Input + output tokens per installation per sliding hour (App); 0: no limit.",
    )
    retry_seconds: float = Field(
        default=90.0, gt=0, description="Total time one request may spend retrying."
    )
    breaker_failures: int = Field(
        default=3, ge=1, description="Consecutive failed requests that open the circuit breaker."
    )
    breaker_cooldown: float = Field(
        default=300.0, gt=0, description="Seconds the LLM is skipped once the breaker opens."
    )

    @property
    def enabled(self) -> bool:
        return self.api_key is not None or bool(self.base_url)
