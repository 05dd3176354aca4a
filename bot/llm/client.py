"""The one place that talks to the model: any OpenAI-compatible chat endpoint.

`ChatClient` is the edge the engine depends on; `OpenAIChatClient` implements it
with the openai SDK. The SDK's own retries are switched off (`max_retries=0`) so
that the policy below is the only one, and its waits go through an injectable
`sleep` so tests can run fast and see them.

Retry policy, per HTTP attempt (tenacity):

* retried: HTTP 408, 429 (except `insufficient_quota`), 500, 502, 503, 504,
  request timeouts and connection errors;
* the wait is exponential with jitter (1, 2, 4, ... seconds plus up to 1 second,
  at most `max_wait`), raised to the server's `Retry-After` / `retry-after-ms`
  when that asks for longer;
* the client gives up, raising `LLMUnavailable`, after `max_attempts` attempts
  (per response format), or when the next wait would end past
  `settings.retry_seconds` since `complete()` began (one budget for the call,
  fallbacks included; an attempt already under way may still run for up to
  `settings.timeout`), or when the server asks to wait more than `max_wait`;
* never retried: every other status. 401, 403, 404 and a 429 for exhausted
  quota raise `LLMUnavailable` at once; 400 and 422 drive the fallbacks below
  and are otherwise raised, like the remaining 4xx, as `LLMRequestRejected`
  (a subclass of `LLMUnavailable`); other 5xx raise `LLMUnavailable`.

Fallback policy: structured output (`json_schema`, strict) first, then
`json_object`, then no `response_format` (plain text). The client moves to the
next mode only on a 400 or 422 whose `param` starts with `response_format`, or
whose message or code names the format (`response_format`, `json_schema`,
`json_object`, "structured output", "guided"...). Other 400s, such as a prompt
that is too long, say nothing about the server's abilities and are raised. A
mode the server rejected is never tried again by the same client.

Two request parameters adapt the same way, once each, when a 400/422 names them
(by `param`, or quoted in a message saying "unsupported" or the like):
`temperature` (0) is dropped, since reasoning models accept only the default;
`max_tokens` and `max_completion_tokens` switch to the other. The client starts
with `max_completion_tokens` on OpenAI itself (no base URL) and `max_tokens`
on other servers.

Nothing logged or raised carries the API key or the prompt; server messages in
exceptions are cut to 200 characters with the key blanked out.
"""

from __future__ import annotations

import datetime
import email.utils
import logging
import math
import time
from collections.abc import Callable
from typing import Any, Final, Literal

import openai
from openai import Omit, omit
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam
from openai.types.chat.completion_create_params import ResponseFormat
from pydantic import BaseModel
from tenacity import RetryCallState, Retrying, retry_if_exception, wait_exponential_jitter

from bot.llm.protocol import ChatClient, Completion, LLMRequestRejected, LLMUnavailable
from bot.llm.schema import LLMReview
from bot.llm.settings import LLMSettings

__all__ = [
    "MODES",
    "ChatClient",
    "Completion",
    "LLMRequestRejected",
    "LLMUnavailable",
    "Mode",
    "OpenAIChatClient",
    "strict_json_schema",
]

log = logging.getLogger("twelve_review.llm")

Mode = Literal["json_schema", "json_object", "text"]
MODES: Final[tuple[Mode, ...]] = ("json_schema", "json_object", "text")

SCHEMA_NAME: Final = "twelve_review"
RETRY_STATUSES: Final = frozenset({408, 429, 500, 502, 503, 504})
UNAVAILABLE_STATUSES: Final = {
    401: "rejected the credentials",
    403: "denied access",
    404: "does not know the model or the path",
}
# Words by which servers name the response format when they reject it.
FORMAT_WORDS: Final = (
    "response_format",
    "response format",
    "json_schema",
    "json schema",
    "json_object",
    "structured output",
    "guided",
)
UNSUPPORTED_WORDS: Final = (
    "unsupported",
    "not supported",
    "does not support",
    "unknown",
    "unrecognized",
    "unexpected",
    "not permitted",
    "extra_forbidden",
)
DUMMY_API_KEY: Final = "unused"
MESSAGE_LIMIT: Final = 200


def strict_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema, in the subset OpenAI's strict structured output accepts.

    Every object closes (`additionalProperties: false`) and lists all its
    properties as required; defaults are dropped; a `$ref` with siblings is
    inlined, since strict mode allows a `$ref` only on its own.
    """
    schema = model.model_json_schema()
    defs: dict[str, Any] = schema.get("$defs", {})
    strict: dict[str, Any] = _strict(schema, defs)
    return strict


def _strict(node: Any, defs: dict[str, Any]) -> Any:
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and len(node) > 1:
        target = defs.get(ref.removeprefix("#/$defs/"))
        if isinstance(target, dict):
            merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
            return _strict(merged, defs)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "default":
            continue
        if key in ("properties", "$defs", "definitions") and isinstance(value, dict):
            out[key] = {name: _strict(sub, defs) for name, sub in value.items()}
        elif key in ("anyOf", "allOf", "oneOf", "prefixItems") and isinstance(value, list):
            out[key] = [_strict(sub, defs) for sub in value]
        elif key in ("items", "additionalProperties", "not"):
            out[key] = _strict(value, defs)
        else:
            out[key] = value
    if out.get("type") == "object" or "properties" in out:
        out["additionalProperties"] = False
        out["required"] = list(out.get("properties", {}))
    return out


class _TransientError(Exception):
    """An error worth retrying; wraps the SDK's with what the retry loop needs."""

    def __init__(self, cause: openai.APIError, reason: str, retry_after: float | None) -> None:
        super().__init__(reason)
        self.cause = cause
        self.reason = reason
        self.retry_after = retry_after
        self.status_code = getattr(cause, "status_code", None)


class OpenAIChatClient:
    """`ChatClient` over the openai SDK, for OpenAI and compatible servers (Ollama, vLLM...).

    One instance may serve several threads: what it learns about the server only
    moves forward, so concurrent calls at worst each discover the same refusal.
    `sleep` and `clock` are injectable for tests (the retry budget is measured on
    `clock`).
    """

    def __init__(
        self,
        settings: LLMSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        max_attempts: int = 6,
        max_wait: float = 30.0,
    ) -> None:
        if not settings.enabled:
            raise LLMUnavailable("no LLM configured: set OPENAI_API_KEY or OPENAI_BASE_URL")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        key = settings.api_key.get_secret_value() if settings.api_key is not None else ""
        self._key = key
        self._settings = settings
        self._sleep = sleep
        self._clock = clock
        self.max_attempts = max_attempts
        self.max_wait = max_wait
        self._sdk = openai.OpenAI(
            api_key=key or DUMMY_API_KEY,
            base_url=settings.base_url or None,
            timeout=settings.timeout,
            max_retries=0,
        )
        self._mode_index = 0
        self._send_temperature = True
        # OpenAI's own API wants max_completion_tokens (reasoning models refuse
        # max_tokens); compatible servers mostly know only max_tokens.
        self._tokens_param: Literal["max_tokens", "max_completion_tokens"] = (
            "max_tokens" if settings.base_url else "max_completion_tokens"
        )
        self._tokens_param_switched = False
        self._schema = strict_json_schema(LLMReview)

    @property
    def mode(self) -> Mode:
        """The response format the next call starts with."""
        return MODES[self._mode_index]

    def complete(self, system: str, user: str) -> Completion:
        messages: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ]
        start = self._clock()
        while True:
            mode = self.mode
            try:
                response = self._send_with_retries(mode, messages, start)
            except openai.APIStatusError as err:
                if self._fall_back(err, mode) or self._adapt(err):
                    continue
                raise self._rejection(err) from None  # the SDK error may quote the key
            except openai.OpenAIError as err:  # e.g. a 200 whose body is not a completion
                raise LLMUnavailable(
                    f"LLM endpoint answered unexpectedly: {type(err).__name__}"
                ) from err
            return self._completion(response, mode)

    # -- one mode, with retries -------------------------------------------------

    def _send_with_retries(
        self, mode: Mode, messages: list[ChatCompletionMessageParam], start: float
    ) -> ChatCompletion:
        def stop(state: RetryCallState) -> bool:
            wait = state.upcoming_sleep
            return (
                state.attempt_number >= self.max_attempts
                or wait > self.max_wait
                or self._clock() - start + wait > self._settings.retry_seconds
            )

        def give_up(state: RetryCallState) -> ChatCompletion:
            error = state.outcome.exception() if state.outcome else None
            assert isinstance(error, _TransientError)
            elapsed = self._clock() - start
            why = ""
            if state.upcoming_sleep > self.max_wait:
                why = f"; the server asks to wait {state.upcoming_sleep:.0f}s"
            elif state.attempt_number < self.max_attempts:
                why = f"; retry budget of {self._settings.retry_seconds:g}s spent"
            failure = LLMUnavailable(
                f"LLM endpoint still failing after {state.attempt_number} attempt(s) "
                f"in {elapsed:.1f}s (last: {error.reason}{why})",
                status_code=error.status_code,
            )
            # Chain timeouts and connection errors; a status error carries server text.
            raise failure from (None if error.status_code else error.cause)

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            reason = error.reason if isinstance(error, _TransientError) else "error"
            log.warning(
                "LLM request failed (%s); retry %d of %d in %.1fs",
                reason,
                state.attempt_number,
                self.max_attempts - 1,
                state.upcoming_sleep,
            )

        retrying = Retrying(
            retry=retry_if_exception(lambda e: isinstance(e, _TransientError)),
            stop=stop,
            wait=_Wait(self.max_wait),
            sleep=self._sleep,
            before_sleep=before_sleep,
            retry_error_callback=give_up,
        )
        result: ChatCompletion = retrying(self._send_once, mode, messages)
        return result

    def _send_once(self, mode: Mode, messages: list[ChatCompletionMessageParam]) -> ChatCompletion:
        tokens = self._settings.max_output_tokens
        temperature: float | Omit = 0 if self._send_temperature else omit
        try:
            return self._sdk.chat.completions.create(
                model=self._settings.model,
                messages=messages,
                response_format=self._response_format(mode),
                temperature=temperature,
                max_tokens=tokens if self._tokens_param == "max_tokens" else omit,
                max_completion_tokens=(
                    tokens if self._tokens_param == "max_completion_tokens" else omit
                ),
            )
        except openai.APITimeoutError as err:
            raise _TransientError(err, "timeout", None) from err
        except openai.APIConnectionError as err:
            raise _TransientError(err, "connection error", None) from err
        except openai.APIStatusError as err:
            if err.status_code in RETRY_STATUSES and not _quota_exhausted(err):
                raise _TransientError(
                    err, f"HTTP {err.status_code}", _retry_after(err.response.headers)
                ) from err
            raise

    def _response_format(self, mode: Mode) -> ResponseFormat | Omit:
        if mode == "json_schema":
            return {
                "type": "json_schema",
                "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": self._schema},
            }
        if mode == "json_object":
            return {"type": "json_object"}
        return omit

    # -- errors that are not worth retrying -----------------------------------

    def _fall_back(self, err: openai.APIStatusError, mode: Mode) -> bool:
        """Move to the next response format if the server refused this one."""
        if err.status_code not in (400, 422) or mode == "text" or not _names_response_format(err):
            return False
        following = MODES[MODES.index(mode) + 1]
        log.warning(
            "LLM endpoint rejected response_format %s (HTTP %d); falling back to %s",
            mode,
            err.status_code,
            following,
        )
        self._mode_index = max(self._mode_index, MODES.index(following))
        return True

    def _adapt(self, err: openai.APIStatusError) -> bool:
        """Drop or rename a request parameter the server refuses; True if anything changed."""
        if err.status_code not in (400, 422):
            return False
        if self._send_temperature and _refuses(err, "temperature"):
            self._send_temperature = False
            log.warning("LLM endpoint refuses `temperature`; sending requests without it")
            return True
        sent = self._tokens_param
        if not self._tokens_param_switched and _refuses(err, sent):
            other: Literal["max_tokens", "max_completion_tokens"] = (
                "max_completion_tokens" if sent == "max_tokens" else "max_tokens"
            )
            self._tokens_param = other
            self._tokens_param_switched = True
            log.warning("LLM endpoint refuses `%s`; sending `%s` instead", sent, other)
            return True
        return False

    def _rejection(self, err: openai.APIStatusError) -> LLMUnavailable:
        """The exception for a status that is neither retried nor adapted to."""
        status = err.status_code
        detail = self._server_message(err)
        if status in UNAVAILABLE_STATUSES:
            return LLMUnavailable(
                f"LLM endpoint {UNAVAILABLE_STATUSES[status]} (HTTP {status}, "
                f"model {self._settings.model!r}): {detail}",
                status_code=status,
            )
        if _quota_exhausted(err):
            return LLMUnavailable(
                f"LLM quota exhausted (HTTP {status}): {detail}", status_code=status
            )
        kind = LLMRequestRejected if 400 <= status < 500 else LLMUnavailable
        return kind(
            f"LLM endpoint rejected the request (HTTP {status}): {detail}", status_code=status
        )

    def _server_message(self, err: openai.APIStatusError) -> str:
        """The server's own error message, short, with the API key blanked out."""
        body = err.body
        message: object = body.get("message") if isinstance(body, dict) else body
        text = " ".join(str(message or err.message).split())
        if self._key:
            text = text.replace(self._key, "***")
        if len(text) > MESSAGE_LIMIT:
            text = text[: MESSAGE_LIMIT - 3] + "..."
        return text

    # -- success ----------------------------------------------------------------

    def _completion(self, response: ChatCompletion, mode: Mode) -> Completion:
        if not isinstance(response, ChatCompletion) or not getattr(response, "choices", None):
            raise LLMUnavailable("LLM endpoint answered without any choice")
        choice = response.choices[0]
        if choice.finish_reason == "length":
            log.warning("LLM answer cut at max_output_tokens=%d", self._settings.max_output_tokens)
        usage = response.usage
        return Completion(
            text=choice.message.content or "",
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            mode=mode,
        )


class _Wait:
    """Exponential backoff with jitter, raised to the server's Retry-After."""

    def __init__(self, max_wait: float) -> None:
        self._backoff = wait_exponential_jitter(multiplier=1, max=max_wait, jitter=1)

    def __call__(self, state: RetryCallState) -> float:
        wait = float(self._backoff(state))
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, _TransientError) and error.retry_after is not None:
            wait = max(wait, error.retry_after)
        return wait


def _retry_after(headers: Any) -> float | None:
    """Seconds the server asks us to wait: retry-after-ms, or Retry-After in seconds or a date."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            value = float(millis) / 1000
        except ValueError:
            pass
        else:
            if math.isfinite(value):
                return max(value, 0.0)
    header = headers.get("retry-after")
    if header is None:
        return None
    try:
        value = float(header)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:  # "-0000": HTTP dates are in GMT
            when = when.replace(tzinfo=datetime.UTC)
        return max(when.timestamp() - time.time(), 0.0)
    return max(value, 0.0) if math.isfinite(value) else None


def _error_text(err: openai.APIStatusError) -> str:
    """The server's message and error code, lower case (not the whole body)."""
    return f"{err.message} {err.code or ''}".lower()


def _names_response_format(err: openai.APIStatusError) -> bool:
    param = str(err.param or "")
    text = _error_text(err)
    return param.startswith("response_format") or any(word in text for word in FORMAT_WORDS)


def _refuses(err: openai.APIStatusError, name: str) -> bool:
    """Whether the error says the server does not accept request parameter `name`.

    The error's `param` decides when the server sets one; otherwise the message
    must quote the name and say it is not supported.
    """
    if err.param:
        return err.param == name
    text = _error_text(err)
    quoted = any(f"{q}{name}{q}" in text for q in ("'", '"', "`"))
    return quoted and any(word in text for word in UNSUPPORTED_WORDS)


def _quota_exhausted(err: openai.APIStatusError) -> bool:
    return err.status_code == 429 and "insufficient_quota" in (
        f"{err.code} {getattr(err, 'type', '')}".lower()
    )
