"""OpenAIChatClient against a real HTTP server on 127.0.0.1, and parse_review."""

from __future__ import annotations

import email.utils
import json
import logging
import socket
import time
from typing import Any

import jsonschema
import pytest

from bot.llm.client import (
    ChatClient,
    Completion,
    LLMRequestRejected,
    LLMUnavailable,
    OpenAIChatClient,
    strict_json_schema,
)
from bot.llm.parse import ModelOutputError, parse_review
from bot.llm.schema import LLMReview
from bot.llm.settings import LLMSettings
from tests.fake_openai import (
    FakeOpenAI,
    Reply,
    answer,
    drop,
    error,
    fake_openai,
    raw,
    timeout,
)

__all__ = ["fake_openai"]  # the fixture, imported for these tests

KEY = "sk-test-SECRET-0123456789abcdef"
SYSTEM = "You review diffs against the Twelve-Factor App. Answer in JSON."
USER = "PROMPT-TEXT-MARKER: diff --git a/app.py b/app.py"

FINDING: dict[str, Any] = {
    "path": "app.py",
    "line": 3,
    "end_line": None,
    "factor": 3,
    "note": "config-in-env",
    "severity": "warning",
    "message": "The database password is hard-coded.",
    "rationale": "Config that varies between deploys belongs in the environment.",
    "suggestion": 'DB_PASSWORD = os.environ["DB_PASSWORD"]',
}
REVIEW: dict[str, Any] = {"findings": [FINDING]}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No OPENAI_* or TWELVE_REVIEW_* from the developer's shell."""
    for name in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "OPENAI_ORG_ID",
        "OPENAI_PROJECT_ID",
        "OPENAI_ADMIN_KEY",
        "TWELVE_REVIEW_API_KEY",
        "TWELVE_REVIEW_BASE_URL",
        "TWELVE_REVIEW_TIMEOUT",
        "TWELVE_REVIEW_RETRY_SECONDS",
        "TWELVE_REVIEW_MODEL",
    ):
        monkeypatch.delenv(name, raising=False)


class Clock:
    """The injected sleep and clock: sleeping records the wait and moves time on."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def make_settings(base_url: str | None, *, key: str | None = KEY, **values: Any) -> LLMSettings:
    # The settings read aliases (the SDK's own variable names), not field names.
    aliases: dict[str, Any] = {"timeout": 2.0, "retry_seconds": 60.0, **values}
    if base_url is not None:
        aliases["OPENAI_BASE_URL"] = base_url
    if key is not None:
        aliases["OPENAI_API_KEY"] = key
    return LLMSettings(**aliases)


def make_client(
    fake: FakeOpenAI,
    clock: Clock,
    *,
    max_attempts: int = 6,
    max_wait: float = 30.0,
    base_url: str | None = None,
    **values: Any,
) -> OpenAIChatClient:
    return OpenAIChatClient(
        make_settings(base_url or fake.base_url, **values),
        sleep=clock.sleep,
        clock=clock,
        max_attempts=max_attempts,
        max_wait=max_wait,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- success and the request sent ----------------------------------------------


def test_structured_output_success(fake_openai: FakeOpenAI, clock: Clock) -> None:
    fake_openai.script(answer(REVIEW, prompt_tokens=120, completion_tokens=30))
    client = make_client(fake_openai, clock, max_output_tokens=777, model="review-model")

    done = client.complete(SYSTEM, USER)

    assert done == Completion(
        text=json.dumps(REVIEW), prompt_tokens=120, completion_tokens=30, mode="json_schema"
    )
    assert parse_review(done.text) == LLMReview.model_validate(REVIEW)
    [request] = fake_openai.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["x-stainless-retry-count"] == "0"
    body = request.body
    assert body["model"] == "review-model"
    assert body["messages"] == [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": USER},
    ]
    assert body["temperature"] == 0
    assert body["max_tokens"] == 777
    assert "max_completion_tokens" not in body
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {
            "name": "twelve_review",
            "strict": True,
            "schema": strict_json_schema(LLMReview),
        },
    }
    assert clock.waits == []


def test_client_satisfies_the_protocol(fake_openai: FakeOpenAI, clock: Clock) -> None:
    client: ChatClient = make_client(fake_openai, clock)
    assert client.complete(SYSTEM, USER).text == '{"findings": []}'


def test_usage_tokens_default_to_zero_when_omitted(fake_openai: FakeOpenAI, clock: Clock) -> None:
    fake_openai.script(answer(REVIEW, usage=False))
    done = make_client(fake_openai, clock).complete(SYSTEM, USER)
    assert (done.prompt_tokens, done.completion_tokens) == (0, 0)


def test_base_url_without_v1_and_no_key_uses_a_dummy_key(
    fake_openai: FakeOpenAI, clock: Clock
) -> None:
    settings = make_settings(fake_openai.base_url.removesuffix("/v1"), key=None)
    client = OpenAIChatClient(settings, sleep=clock.sleep, clock=clock)
    client.complete(SYSTEM, USER)
    [request] = fake_openai.requests
    assert request.path == "/chat/completions"
    assert request.headers["authorization"] == "Bearer unused"


def test_unconfigured_settings_are_unavailable() -> None:
    with pytest.raises(LLMUnavailable, match="no LLM configured"):
        OpenAIChatClient(LLMSettings())


def test_schema_is_strict_compatible() -> None:
    schema = strict_json_schema(LLMReview)

    def objects(node: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        if isinstance(node, dict):
            if node.get("type") == "object":
                found.append(node)
            for key, value in node.items():
                if key == "properties":
                    for sub in value.values():
                        found += objects(sub)
                elif key != "required":
                    found += objects(value)
        elif isinstance(node, list):
            for sub in node:
                found += objects(sub)
        return found

    assert len(objects(schema)) == 2  # the review and the finding
    for node in objects(schema):
        assert node["additionalProperties"] is False
        assert set(node["required"]) == set(node["properties"])
    assert '"default"' not in json.dumps(schema)
    jsonschema.validate(REVIEW, schema)
    jsonschema.validate({"findings": []}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"findings": [{**FINDING, "extra": 1}]}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {"findings": [{k: v for k, v in FINDING.items() if k != "note"}]}, schema
        )


# -- fallback: json_schema -> json_object -> text -------------------------------


def test_fallback_chain_to_text_is_remembered(
    fake_openai: FakeOpenAI, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="twelve_review.llm")
    fake_openai.reject_structured_output(json_object=True)
    fenced = f"Here is my review:\n```json\n{json.dumps(REVIEW, indent=2)}\n```\n"
    fake_openai.script(raw(fenced), answer({"findings": []}))
    client = make_client(fake_openai, clock)

    first = client.complete(SYSTEM, USER)

    assert first.mode == "text"
    assert parse_review(first.text) == LLMReview.model_validate(REVIEW)
    assert [r.response_format for r in fake_openai.requests] == ["json_schema", "json_object", None]
    assert "response_format" not in fake_openai.requests[-1].body
    assert clock.waits == []  # a rejected format is not retried

    second = client.complete(SYSTEM, USER)

    assert second.mode == "text"
    assert len(fake_openai.requests) == 4
    assert fake_openai.requests[-1].response_format is None
    fallbacks = [r.getMessage() for r in caplog.records if "falling back" in r.getMessage()]
    assert len(fallbacks) == 2
    for record in caplog.records:
        assert KEY not in record.getMessage()
        assert "PROMPT-TEXT-MARKER" not in record.getMessage()


def test_fallback_stops_at_json_object(fake_openai: FakeOpenAI, clock: Clock) -> None:
    fake_openai.reject_structured_output()
    client = make_client(fake_openai, clock)

    assert client.complete(SYSTEM, USER).mode == "json_object"
    assert client.complete(SYSTEM, USER).mode == "json_object"
    assert [r.response_format for r in fake_openai.requests] == [
        "json_schema",
        "json_object",
        "json_object",
    ]


@pytest.mark.parametrize("status", [400, 422])
def test_any_rejection_naming_the_response_format_falls_back(
    fake_openai: FakeOpenAI, clock: Clock, status: int
) -> None:
    fake_openai.script(
        error(
            status,
            "Invalid schema for response_format 'twelve_review'",
            type="invalid_request_error",
        ),
        answer(REVIEW),
    )
    done = make_client(fake_openai, clock).complete(SYSTEM, USER)
    assert done.mode == "json_object"
    assert len(fake_openai.requests) == 2


def test_unrelated_400_is_raised_not_a_fallback(fake_openai: FakeOpenAI, clock: Clock) -> None:
    fake_openai.script(
        error(
            400,
            "This model's maximum context length is 8192 tokens.",
            type="invalid_request_error",
            code="context_length_exceeded",
            param="messages",
        )
    )
    client = make_client(fake_openai, clock)

    with pytest.raises(LLMRequestRejected, match="maximum context length") as caught:
        client.complete(SYSTEM, USER)

    assert caught.value.status_code == 400
    assert isinstance(caught.value, LLMUnavailable)
    assert len(fake_openai.requests) == 1
    assert client.mode == "json_schema"


def test_rejection_message_is_short_and_keyless(fake_openai: FakeOpenAI, clock: Clock) -> None:
    fake_openai.script(error(413, f"too large {KEY} " + "x" * 1000, type="invalid_request_error"))
    with pytest.raises(LLMRequestRejected, match="HTTP 413") as caught:
        make_client(fake_openai, clock).complete(SYSTEM, USER)
    assert KEY not in str(caught.value)
    assert len(str(caught.value)) < 300


def test_unretried_5xx_is_unavailable(fake_openai: FakeOpenAI, clock: Clock) -> None:
    fake_openai.script(error(501, "not implemented"))
    with pytest.raises(LLMUnavailable, match="HTTP 501") as caught:
        make_client(fake_openai, clock).complete(SYSTEM, USER)
    assert not isinstance(caught.value, LLMRequestRejected)
    assert len(fake_openai.requests) == 1


def test_fallback_shares_the_retry_budget(fake_openai: FakeOpenAI, clock: Clock) -> None:
    fake_openai.reject_structured_output()
    fake_openai.default = error(503)
    with pytest.raises(LLMUnavailable, match="HTTP 503"):
        make_client(fake_openai, clock, retry_seconds=4).complete(SYSTEM, USER)
    assert [r.response_format for r in fake_openai.requests][:2] == ["json_schema", "json_object"]
    assert sum(clock.waits) <= 4


def test_temperature_is_dropped_when_refused(fake_openai: FakeOpenAI, clock: Clock) -> None:
    fake_openai.script(
        error(
            400,
            "Unsupported value: 'temperature' does not support 0 with this model. "
            "Only the default (1) value is supported.",
            type="invalid_request_error",
            param="temperature",
            code="unsupported_value",
        ),
        answer(),
        answer(),
    )
    client = make_client(fake_openai, clock)
    client.complete(SYSTEM, USER)
    client.complete(SYSTEM, USER)

    assert [("temperature" in r.body) for r in fake_openai.requests] == [True, False, False]
    assert all(r.response_format == "json_schema" for r in fake_openai.requests)


def test_max_tokens_switches_to_max_completion_tokens(
    fake_openai: FakeOpenAI, clock: Clock
) -> None:
    fake_openai.script(
        error(
            400,
            "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead.",
            type="invalid_request_error",
            param="max_tokens",
            code="unsupported_parameter",
        ),
    )
    client = make_client(fake_openai, clock, max_output_tokens=500)
    client.complete(SYSTEM, USER)
    client.complete(SYSTEM, USER)

    first, second, third = (r.body for r in fake_openai.requests)
    assert first["max_tokens"] == 500
    assert "max_tokens" not in second
    assert second["max_completion_tokens"] == 500
    assert third["max_completion_tokens"] == 500


# -- retries ----------------------------------------------------------------------


def test_429_honours_retry_after(fake_openai: FakeOpenAI, clock: Clock) -> None:
    fake_openai.script(
        error(429, "Rate limit reached", type="requests", headers={"Retry-After": "2"}),
        answer(REVIEW),
    )
    done = make_client(fake_openai, clock).complete(SYSTEM, USER)

    assert done.mode == "json_schema"
    assert len(fake_openai.requests) == 2
    assert len(clock.waits) == 1
    assert clock.waits[0] >= 2


def test_retry_after_ms_and_http_date(fake_openai: FakeOpenAI, clock: Clock) -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    fake_openai.script(
        error(503, headers={"retry-after-ms": "2500"}),
        error(429, headers={"Retry-After": when}),
        answer(),
    )
    make_client(fake_openai, clock, max_wait=60).complete(SYSTEM, USER)

    assert len(fake_openai.requests) == 3
    assert clock.waits[0] >= 2.5
    assert 28 <= clock.waits[1] <= 31


def test_retry_after_beyond_max_wait_gives_up(fake_openai: FakeOpenAI, clock: Clock) -> None:
    fake_openai.script(error(429, headers={"Retry-After": "600"}))
    with pytest.raises(LLMUnavailable, match="HTTP 429; the server asks to wait 600s") as caught:
        make_client(fake_openai, clock, max_wait=30).complete(SYSTEM, USER)
    assert caught.value.status_code == 429
    assert len(fake_openai.requests) == 1
    assert clock.waits == []


def test_500_then_success(fake_openai: FakeOpenAI, clock: Clock) -> None:
    fake_openai.script(error(500), answer(REVIEW, prompt_tokens=5, completion_tokens=9))
    done = make_client(fake_openai, clock).complete(SYSTEM, USER)

    assert (done.prompt_tokens, done.completion_tokens) == (5, 9)
    assert len(fake_openai.requests) == 2  # the SDK retried nothing itself
    assert [r.headers["x-stainless-retry-count"] for r in fake_openai.requests] == ["0", "0"]
    assert len(clock.waits) == 1
    assert 1 <= clock.waits[0] <= 2  # first backoff: 1 s plus up to 1 s of jitter


def test_persistent_503_gives_up_after_max_attempts(
    fake_openai: FakeOpenAI, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="twelve_review.llm")
    fake_openai.default = error(503, "overloaded")
    with pytest.raises(LLMUnavailable, match=r"4 attempt\(s\).*HTTP 503") as caught:
        make_client(fake_openai, clock, max_attempts=4).complete(SYSTEM, USER)

    assert caught.value.status_code == 503
    assert len(fake_openai.requests) == 4  # exactly: no SDK retries multiply ours
    assert len(clock.waits) == 3
    for number, wait in enumerate(clock.waits):
        assert 2**number <= wait <= 2**number + 1  # exponential, with jitter
    retries = [r for r in caplog.records if "retry" in r.getMessage()]
    assert len(retries) == 3


def test_retry_budget_bounds_total_time(fake_openai: FakeOpenAI, clock: Clock) -> None:
    fake_openai.default = error(502)
    with pytest.raises(LLMUnavailable, match="retry budget of 5s spent"):
        make_client(fake_openai, clock, max_attempts=20, retry_seconds=5).complete(SYSTEM, USER)

    assert sum(clock.waits) <= 5
    assert len(fake_openai.requests) == len(clock.waits) + 1
    assert 2 <= len(fake_openai.requests) <= 3  # waits of ~1 and ~2 fit, ~4 more does not


def test_timeout_is_retried(fake_openai: FakeOpenAI, clock: Clock) -> None:
    fake_openai.script(timeout(5), answer(REVIEW))
    started = time.monotonic()
    done = make_client(fake_openai, clock, timeout=0.3).complete(SYSTEM, USER)

    assert done.mode == "json_schema"
    assert len(fake_openai.requests) == 2
    assert len(clock.waits) == 1
    assert time.monotonic() - started < 3


def test_dropped_connection_is_retried(fake_openai: FakeOpenAI, clock: Clock) -> None:
    fake_openai.script(drop(), answer(REVIEW))
    done = make_client(fake_openai, clock).complete(SYSTEM, USER)
    assert parse_review(done.text) == LLMReview.model_validate(REVIEW)
    assert len(fake_openai.requests) == 2
    assert len(clock.waits) == 1


def test_unreachable_server_is_unavailable(fake_openai: FakeOpenAI, clock: Clock) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    with pytest.raises(LLMUnavailable, match="connection error") as caught:
        make_client(fake_openai, clock, base_url=url, max_attempts=3).complete(SYSTEM, USER)
    assert caught.value.status_code is None
    assert len(clock.waits) == 2


# -- no retry ----------------------------------------------------------------------


def test_401_is_unavailable_at_once_without_the_key(
    fake_openai: FakeOpenAI, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_openai.script(
        error(
            401,
            f"Incorrect API key provided: {KEY}. You can find your API key at ...",
            type="invalid_request_error",
            code="invalid_api_key",
        )
    )
    with pytest.raises(LLMUnavailable) as caught:
        make_client(fake_openai, clock).complete(SYSTEM, USER)

    message = str(caught.value)
    assert "401" in message
    assert "credentials" in message
    assert KEY not in message
    assert not isinstance(caught.value, LLMRequestRejected)
    assert caught.value.status_code == 401
    assert caught.value.__cause__ is None  # the SDK error (which holds the key) is not chained
    assert len(fake_openai.requests) == 1
    assert clock.waits == []
    assert all(KEY not in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize(("status", "words"), [(403, "denied"), (404, "model")])
def test_403_and_404_are_unavailable_at_once(
    fake_openai: FakeOpenAI, clock: Clock, status: int, words: str
) -> None:
    fake_openai.script(error(status, "nope", type="invalid_request_error"))
    with pytest.raises(LLMUnavailable, match=f"{words}.*HTTP {status}"):
        make_client(fake_openai, clock).complete(SYSTEM, USER)
    assert len(fake_openai.requests) == 1
    assert clock.waits == []


def test_wrong_path_is_a_404(fake_openai: FakeOpenAI, clock: Clock) -> None:
    url = fake_openai.base_url.replace("/v1", "/nowhere")
    with pytest.raises(LLMUnavailable, match="HTTP 404"):
        make_client(fake_openai, clock, base_url=url).complete(SYSTEM, USER)
    assert len(fake_openai.requests) == 1


def test_exhausted_quota_is_not_retried(fake_openai: FakeOpenAI, clock: Clock) -> None:
    fake_openai.script(
        error(
            429,
            "You exceeded your current quota",
            type="insufficient_quota",
            code="insufficient_quota",
        )
    )
    with pytest.raises(LLMUnavailable, match="quota"):
        make_client(fake_openai, clock).complete(SYSTEM, USER)
    assert len(fake_openai.requests) == 1
    assert clock.waits == []


def test_answer_without_choices_is_unavailable(fake_openai: FakeOpenAI, clock: Clock) -> None:
    empty = {"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": []}
    fake_openai.script(Reply(body=empty))
    with pytest.raises(LLMUnavailable, match="without any choice"):
        make_client(fake_openai, clock).complete(SYSTEM, USER)


# -- parse_review -------------------------------------------------------------------

BARE = json.dumps(REVIEW)
PRETTY = json.dumps(REVIEW, indent=2)


@pytest.mark.parametrize(
    "text",
    [
        BARE,
        f"  \n{PRETTY}\n",
        f"```json\n{PRETTY}\n```",
        f"```JSON\n{PRETTY}\n```",
        f"```\n{PRETTY}\n```",
        f"Here is the review:\n\n```json\n{PRETTY}\n```\n\nLet me know if you need more.",
        f"Here is the review:\n{PRETTY}\nThat is all.",
        f"\ufeff{BARE}",
    ],
    ids=["bare", "padded", "fenced", "fenced-upper", "fenced-plain", "prose-fence", "prose", "bom"],
)
def test_parse_review_accepts(text: str) -> None:
    assert parse_review(text) == LLMReview.model_validate(REVIEW)


def test_parse_review_accepts_empty_findings() -> None:
    assert parse_review('{"findings": []}') == LLMReview(findings=[])
    assert parse_review('```json\n{"findings": []}\n```') == LLMReview(findings=[])


def test_parse_review_keeps_fences_inside_strings() -> None:
    finding = {**FINDING, "suggestion": "```python\nDB = os.environ['DB']\n```"}
    text = f"```json\n{json.dumps({'findings': [finding]}, indent=2)}\n```"
    assert parse_review(text).findings[0].suggestion == finding["suggestion"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty answer"),
        ("   \n", "empty answer"),
        ("I found no problems with this diff.", "no JSON object"),
        ('{"findings": [', "invalid JSON"),
        ("{'findings': []}", "invalid JSON"),
        ('{"findings": [],}', "invalid JSON"),
        ('{"findings": [], "summary": "ok"}', "summary"),
        (json.dumps({"findings": [{**FINDING, "confidence": 0.9}]}), "confidence"),
        (json.dumps({"findings": [{**FINDING, "severity": "fatal"}]}), "severity"),
        (json.dumps({"findings": [{k: v for k, v in FINDING.items() if k != "line"}]}), "line"),
        ('{"review": {"findings": []}}', "schema"),
        ('[{"findings": []}]', "top-level"),
        ('{"findings": [{"line": NaN}]}', "invalid JSON"),
        ('```json\n{"findings": []}\n```\n```json\n{"findings": []}\n```', "4 fence lines"),
        ('```json\n{"findings": []}\n', "unclosed"),
        ('```python\n{"findings": []}\n```', "'python'"),
        ('```json\nnote: {"findings": []}\n```', "top-level"),
        ('```json\n{"findings": []}\nextra\n```', "after the JSON"),
    ],
)
def test_parse_review_rejects(text: str, reason: str) -> None:
    with pytest.raises(ModelOutputError, match=reason):
        parse_review(text)


def test_model_output_error_is_a_value_error() -> None:
    assert issubclass(ModelOutputError, ValueError)
