"""A real HTTP server on 127.0.0.1 that speaks OpenAI's chat completions API.

It answers `POST /v1/chat/completions` (and `/chat/completions`) from a script,
records every request, and can misbehave on cue: error statuses with headers,
answers slower than the client's timeout, dropped connections, and refusing
structured output the way Ollama- or vLLM-style servers do.

    fake_openai.script(answer({"findings": []}), error(429, headers={"Retry-After": "2"}))
    client = OpenAIChatClient(LLMSettings(base_url=fake_openai.base_url, ...))

When the script runs out, `fake_openai.default` answers (`{"findings": []}`).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.loopback import LoopbackServer

__all__ = [
    "FakeOpenAI",
    "RecordedRequest",
    "Reply",
    "answer",
    "drop",
    "error",
    "fake_openai",
    "raw",
    "timeout",
]

CHAT_PATHS = frozenset({"/v1/chat/completions", "/chat/completions"})
STRUCTURED_REJECTION = "response_format json_schema is not supported"


@dataclass(frozen=True)
class Reply:
    """One scripted response. Build them with answer(), raw(), error(), timeout(), drop()."""

    status: int = 200
    content: str | None = '{"findings": []}'
    body: Any = None  # a JSON body sent instead of a completion (errors)
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering
    drop: bool = False  # close the connection without answering
    usage: tuple[int, int] | None = (11, 7)  # prompt, completion tokens; None omits usage
    finish_reason: str = "stop"


def answer(
    content: object = None,
    *,
    prompt_tokens: int = 11,
    completion_tokens: int = 7,
    usage: bool = True,
    finish_reason: str = "stop",
) -> Reply:
    """A 200 whose message content is `content` as JSON (default `{"findings": []}`)."""
    text = json.dumps({"findings": []} if content is None else content)
    return Reply(
        content=text,
        usage=(prompt_tokens, completion_tokens) if usage else None,
        finish_reason=finish_reason,
    )


def raw(content: str, **kwargs: Any) -> Reply:
    """A 200 whose message content is exactly `content` (malformed JSON, fences, prose)."""
    reply = answer(**kwargs)
    return Reply(content=content, usage=reply.usage, finish_reason=reply.finish_reason)


def error(
    status: int,
    message: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    type: str = "server_error",
    code: str | None = None,
    param: str | None = None,
) -> Reply:
    """An HTTP error with an OpenAI-style body `{"error": {message, type, param, code}}`."""
    body = {
        "error": {
            "message": message or f"fake error {status}",
            "type": type,
            "param": param,
            "code": code,
        }
    }
    return Reply(status=status, content=None, body=body, headers=dict(headers or {}))


def timeout(seconds: float = 5.0, then: Reply | None = None) -> Reply:
    """Answer only after `seconds` (longer than the client's timeout), with `then`'s data."""
    base = then or answer()
    return Reply(
        status=base.status,
        content=base.content,
        body=base.body,
        headers=base.headers,
        delay=seconds,
        usage=base.usage,
        finish_reason=base.finish_reason,
    )


def drop() -> Reply:
    """Read the request, then close the connection without a response."""
    return Reply(drop=True)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: Any  # parsed JSON, or the raw text when it is not JSON

    @property
    def response_format(self) -> str | None:
        """The requested response_format type, or None when none was sent."""
        if isinstance(self.body, dict) and isinstance(self.body.get("response_format"), dict):
            kind = self.body["response_format"].get("type")
            return str(kind) if kind is not None else None
        return None


class FakeOpenAI(LoopbackServer):
    """The server, its script and what it received. Use as a context manager."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.default: Reply = answer()
        self.rejected_formats: set[str] = set()
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._counter = 0
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._serve(server)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *replies: Reply) -> FakeOpenAI:
        """Queue replies, answered in order, one per request."""
        with self._lock:
            self._queue.extend(replies)
        return self

    def reject_structured_output(self, *, json_object: bool = False) -> FakeOpenAI:
        """Answer 400 to every request asking for json_schema (and json_object if asked),
        without using up the script."""
        self.rejected_formats.add("json_schema")
        if json_object:
            self.rejected_formats.add("json_object")
        return self

    @property
    def pending(self) -> int:
        """Scripted replies not yet used."""
        with self._lock:
            return len(self._queue)

    def stop(self) -> None:
        self._stopping.set()  # delayed answers give up instead of holding shutdown
        super().stop()

    # -- used by the handler ------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _next(self, request: RecordedRequest) -> Reply:
        kind = request.response_format
        if kind is not None and kind in self.rejected_formats:
            return error(
                400,
                STRUCTURED_REJECTION
                if kind == "json_schema"
                else f"response_format {kind} is not supported",
                type="invalid_request_error",
                param="response_format",
            )
        with self._lock:
            return self._queue.popleft() if self._queue else self.default

    def _completion(self, reply: Reply, model: object) -> dict[str, Any]:
        with self._lock:
            self._counter += 1
            number = self._counter
        body: dict[str, Any] = {
            "id": f"chatcmpl-fake-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model if isinstance(model, str) else "fake-model",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply.content},
                    "logprobs": None,
                    "finish_reason": reply.finish_reason,
                }
            ],
        }
        if reply.usage is not None:
            prompt, completion = reply.usage
            body["usage"] = {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            }
        return body


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeOpenAI

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that time out or vanish are part of the tests; stay quiet."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length)
        try:
            body: Any = json.loads(data)
        except ValueError:
            body = data.decode("utf-8", errors="replace")
        request = RecordedRequest(
            method="POST",
            path=self.path,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
        )
        fake._record(request)
        if self.path.split("?")[0] not in CHAT_PATHS:
            self._send(404, error(404, f"no route {self.path}", type="invalid_request_error").body)
            return
        reply = fake._next(request)
        if reply.delay and fake._stopping.wait(reply.delay):
            return
        if reply.drop:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        payload = reply.body if reply.status != 200 or reply.body is not None else None
        if payload is None:
            model = body.get("model") if isinstance(body, dict) else None
            payload = fake._completion(reply, model)
        with contextlib.suppress(OSError):  # the client gave up waiting
            self._send(reply.status, payload, reply.headers)

    def do_GET(self) -> None:
        self._send(404, error(404, f"no route {self.path}", type="invalid_request_error").body)

    def _send(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request log lines."""


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A running FakeOpenAI, stopped after the test."""
    with FakeOpenAI() as fake:
        yield fake
