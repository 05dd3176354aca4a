"""The App's settings and runner pointed at the fake GitHub, as every App test needs them."""

from __future__ import annotations

from typing import Any

from bot.app.jobs import ReviewRunner
from bot.app.settings import AppSettings, load_settings
from tests.fake_github import FakeGitHub

# PyGithub without retries or pauses between requests: the fake answers at once.
CLIENT_OPTIONS: dict[str, Any] = {
    "retry": None,
    "seconds_between_requests": None,
    "seconds_between_writes": None,
}


def app_settings(fake: FakeGitHub, secret: str) -> AppSettings:
    return load_settings(
        github_app_id=fake.app_id,
        github_app_private_key=fake.private_key_pem,
        github_webhook_secret=secret,
        github_api_url=fake.base_url,
    )


def review_runner(settings: AppSettings, **options: Any) -> ReviewRunner:
    """A ReviewRunner for the fake; `options` are ReviewRunner's own (clock, llm_settings)."""
    return ReviewRunner(settings, client_options=CLIENT_OPTIONS, **options)
