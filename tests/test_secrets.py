"""Secrets never leave: the webhook secret, the App's private key, installation
tokens and the model's key appear in no log line, comment, summary, error or
prompt. The App runs at DEBUG (libraries log the most there) against the fake
GitHub and fake OpenAI, through good and bad deliveries and failures, and every
captured byte is searched for the real values."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.app.logs import REDACTED, Redactor, configure_logging
from bot.app.server import create_app
from bot.llm.settings import LLMSettings
from tests.app_helpers import app_settings, deliver, pull_request_payload, review_runner
from tests.fake_github import FakeGitHub
from tests.fake_openai import FakeOpenAI, answer
from tests.webhooks import signed

REPO = "acme/shop"
WEBHOOK_SECRET = "whsec-7Qm2Lx8vTz1Rw7Yb3Nc6"
LLM_KEY = "sk-live-test-9fJ4kQm2Lx8vTz1Rw7Yb3Nc6Hd0Sg5Pa"
# A real-looking cloud key in the pull request: flagged, but never sent to the model.
AWS_KEY = "AKIAQ4NSRT7PLM2XK5WD"
BASE = {"app/settings.py": "import os\n"}
HEAD = {"app/settings.py": f"import os\nAWS_ACCESS_KEY_ID = '{AWS_KEY}'\nDEBUG = True\n"}


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """Logs captured at their most verbose: PyGithub keeps its own logger at INFO,
    but an operator debugging may lower it, and then it logs every response body,
    installation tokens included."""
    stream = io.StringIO()
    root, pygithub = logging.getLogger(), logging.getLogger("github")
    saved = (root.handlers[:], root.level, pygithub.level)
    pygithub.setLevel(logging.DEBUG)
    yield stream
    root.handlers[:], root.level = saved[0], saved[1]
    pygithub.setLevel(saved[2])


def test_no_secret_reaches_logs_comments_or_prompts(
    fake_github: FakeGitHub, fake_openai: FakeOpenAI, npm_data: Path, log_stream: io.StringIO
) -> None:
    repo = fake_github.add_repo(REPO, BASE)
    pull = fake_github.add_pull(repo, BASE, HEAD)
    settings = app_settings(fake_github, WEBHOOK_SECRET)
    llm = LLMSettings(
        api_key=LLM_KEY, base_url=fake_openai.base_url, model="small-test-model", retry_seconds=2
    )
    configure_logging("DEBUG", [*settings.secret_values, LLM_KEY], stream=log_stream)
    app = create_app(settings, review_runner(settings, llm_settings=llm))
    fake_openai.script(answer({"findings": []}))
    with TestClient(app) as client:
        payload = pull_request_payload(npm_data, fake_github, pull, "opened", pull.head_sha)
        assert deliver(client, "pull_request", payload, WEBHOOK_SECRET, "good") == 202
        forged = signed("pull_request", payload, "not-the-secret", "forged")
        assert client.post("/webhook", content=forged[0], headers=forged[1]).status_code == 401
        # GitHub fails mid-review: the error and its traceback are logged.
        fake_github.push(pull, HEAD | {"app/extra.py": "x = 1\n"})
        fake_github.fail_next("GET", r"/pulls/\d+/files", 500, times=5)
        payload = pull_request_payload(npm_data, fake_github, pull, "synchronize", pull.head_sha)
        assert deliver(client, "pull_request", payload, WEBHOOK_SECRET, "fails") == 202

    logs = log_stream.getvalue()
    assert "review failed" in logs and "Traceback" in logs  # the failure is there, in full
    assert "access_tokens" in logs and REDACTED in logs  # the token's answer was logged, redacted
    tokens = [t for t, grant in fake_github._tokens.items() if grant.installation_id is not None]
    assert tokens, "the App exchanged its JWT for an installation token"
    posted = [c["body"] for c in fake_github.issue_comments(pull)]
    posted += [c["body"] for c in fake_github.review_comments(pull)]
    posted += [r["body"] for r in fake_github.reviews(pull)]
    prompts = [str(request.body) for request in fake_openai.requests]
    assert prompts and posted
    secrets = [WEBHOOK_SECRET, settings.private_key, LLM_KEY, *tokens]
    pem_body = settings.private_key.splitlines()[1]  # a line of the key alone
    for where, texts in (("logs", [logs]), ("GitHub", posted), ("prompts", prompts)):
        for text in texts:
            for secret in [*secrets, pem_body]:
                assert secret not in text, f"a secret reached the {where}"
    # The credential in the diff: reported to the PR, masked before the model.
    assert any("TF03" in body for body in posted)
    assert all(AWS_KEY not in prompt for prompt in prompts)
    assert any("app/settings.py" in prompt for prompt in prompts)


def test_the_redactor_covers_values_escaped_values_and_token_shapes() -> None:
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK\n-----END RSA PRIVATE KEY-----"
    redact = Redactor(["hunter2-secret-value", 'quote"d-secret', "short"])
    line = (
        '{"message": "hunter2-secret-value quote\\"d-secret short '
        "ghs_0123456789abcdef0123456789abcdef0123 "
        'Bearer eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiI0MjQyIn0.c2lnbmF0dXJlLXZhbHVl", "key": '
        + repr(pem).replace("'", '"')
        + "}"
    )
    cleaned = redact(line)
    assert "hunter2-secret-value" not in cleaned and 'quote\\"d-secret' not in cleaned
    assert "ghs_" not in cleaned and "eyJ" not in cleaned and "MIIEow" not in cleaned
    assert "short" in cleaned  # too short to be a secret: ordinary words stay
    assert cleaned.count(REDACTED) == 5
    assert re.sub(r"\[redacted\]", "", cleaned).count("-----") == 0


@pytest.mark.parametrize(
    "credential",
    [
        "ghp_" + "a1" * 18,
        "gho_" + "b2" * 18,
        "ghu_" + "c3" * 18,
        "ghs_" + "d4" * 18,
        "ghr_" + "e5" * 18,
        "github_pat_" + "F6_" * 8,
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlLXZhbHVl",
        "-----BEGIN PRIVATE KEY-----\\nMIIEvQ\\n-----END PRIVATE KEY-----",
        "-----BEGIN EC PRIVATE KEY-----\nMHcCAQ\n-----END EC PRIVATE KEY-----",
    ],
)
def test_each_token_shape_is_redacted_on_its_own(credential: str) -> None:
    # Each shape alone on a line: the cheap prefilter must let every one reach the regex.
    cleaned = Redactor()(f'{{"message": "calling with {credential} now"}}')
    assert cleaned == f'{{"message": "calling with {REDACTED} now"}}'


def test_a_line_without_secrets_or_shapes_is_left_as_it_is() -> None:
    line = '{"message": "github token refreshed for eyes only", "pr": 7}'
    assert Redactor(["hunter2-secret-value"])(line) == line
