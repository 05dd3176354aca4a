"""The webhook server: verify, triage, hand review work to the queue, answer at once.

`create_app(settings, runner)` builds the FastAPI app (no app object exists at
import time). The webhook endpoint reads the raw body, checks its size and its
signature before anything parses it, and answers within milliseconds: 202 when
a review is queued, 200 with a reason when the delivery is ignored, 4xx for
anything bad. It never answers 500.

Logs are JSON, one object per line on stdout (`bot.app.logs`); `GET /metrics`
serves Prometheus' text format (`bot.app.metrics`).
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from bot.app.metrics import CONTENT_TYPE, AppMetrics
from bot.app.queue import Job, JobQueue, ReviewQueue, Runner, Submitted
from bot.app.settings import AppSettings
from bot.app.signature import verify_signature
from bot.github.commands import Command, parse_command
from bot.github.payload import REVIEW_ACTIONS, dig

__all__ = [
    "MAX_BODY_BYTES",
    "REVIEW_ACTIONS",
    "create_app",
]

log = logging.getLogger("twelve_review.server")

MAX_BODY_BYTES = 25 * 1024 * 1024  # GitHub sends no payload larger than 25 MB
INSTALLATION_EVENTS = frozenset({"installation", "installation_repositories"})

# The webhook's HTTP contract, for the OpenAPI document (`app.openapi()`): what
# GitHub sends, and every answer the endpoint gives. Documentation only.
_SIGNATURE_PATTERN = "^sha256=[0-9a-f]{64}$"


def _webhook_request() -> dict[str, Any]:
    """The request GitHub sends: three headers and a JSON object (a fresh copy per app)."""
    headers = [
        {
            "name": "X-GitHub-Event",
            "in": "header",
            "required": True,
            "description": "The event: pull_request, issue_comment, ping, installation, ...",
            "schema": {"type": "string", "minLength": 1},
        },
        {
            "name": "X-GitHub-Delivery",
            "in": "header",
            "required": True,
            "description": "The delivery's unique id (a redelivery keeps it; it is queued once).",
            "schema": {"type": "string", "minLength": 1},
        },
        {
            "name": "X-Hub-Signature-256",
            "in": "header",
            "required": True,
            "description": (
                "HMAC-SHA256 of the raw body with the webhook secret, hex. Checked before the"
                " body is parsed: a missing or wrong signature is 401."
            ),
            "schema": {"type": "string", "pattern": _SIGNATURE_PATTERN},
        },
    ]
    body: dict[str, Any] = {
        "required": True,
        "description": "The event's payload as GitHub sends it: a JSON object.",
        "content": {
            "application/json": {"schema": {"type": "object", "additionalProperties": True}},
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "payload": {
                            "type": "string",
                            "contentMediaType": "application/json",
                            "description": "The payload, a JSON object, as one form field.",
                        }
                    },
                    "required": ["payload"],
                    "additionalProperties": True,
                }
            },
        },
    }
    return {"parameters": headers, "requestBody": body}


def _json_answer(description: str, statuses: list[str], reason: bool | None) -> dict[str, Any]:
    """A documented answer: `{"status": ..., "reason": ...}`; `reason` is required
    (True), optional (None) or never sent (False)."""
    properties: dict[str, Any] = {"status": {"type": "string", "enum": statuses}}
    if reason is not False:
        properties["reason"] = {"type": "string"}
    schema = {
        "type": "object",
        "properties": properties,
        "required": ["status", "reason"] if reason else ["status"],
        "additionalProperties": False,
    }
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _webhook_responses(max_body_bytes: int) -> dict[int | str, dict[str, Any]]:
    return {
        200: _json_answer(
            "Received, nothing to do: a ping (pong), an installation event (ok), or an"
            " event, action, sender or comment that is not reviewed (ignored).",
            ["pong", "ok", "ignored"],
            None,
        ),
        202: _json_answer(
            "A review (or a command's reply) is queued; a redelivery is accepted but not"
            " queued again.",
            ["accepted"],
            None,
        ),
        400: _json_answer(
            "Signed, but unusable: no event or delivery header, a malformed"
            " Content-Length, a body that is not a JSON object, or a payload without the"
            " fields a review needs.",
            ["error"],
            True,
        ),
        401: _json_answer("A missing or wrong X-Hub-Signature-256.", ["error"], True),
        413: _json_answer(f"A body larger than {max_body_bytes} bytes.", ["error"], True),
        503: _json_answer(
            "Not accepting work: shutting down, or the queue is full.", ["unavailable"], True
        ),
    }


class _Reject(Exception):  # noqa: N818 - an answer, not an error
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _answer(status: int, body: dict[str, Any], fields: dict[str, Any]) -> JSONResponse:
    level = logging.WARNING if status >= 400 else logging.INFO
    log.log(
        level,
        "webhook %s",
        body.get("status", "error"),
        extra={**fields, "status": status, "reason": body.get("reason")},
    )
    return JSONResponse(body, status_code=status)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise _Reject(400, "malformed Content-Length")
        if int(declared) > limit:
            raise _Reject(413, f"payload larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _Reject(413, f"payload larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _loads(data: bytes | str) -> Any:
    """orjson, twice as fast; json for what it refuses but json takes (a lone
    surrogate escape, NaN), so what is accepted does not change."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data.decode("utf-8") if isinstance(data, bytes) else data)


def _parse(body: bytes, content_type: str) -> dict[str, Any]:
    """The payload: a JSON body, or form-encoded `payload=<json>`."""
    try:
        media_type = content_type.split(";", maxsplit=1)[0].strip().lower()
        if media_type == "application/x-www-form-urlencoded":
            form = urllib.parse.parse_qs(body.decode("utf-8"), strict_parsing=True)
            if len(form.get("payload", [])) != 1:
                raise _Reject(400, "form body without one payload field")
            payload = _loads(form["payload"][0])
        else:
            payload = _loads(body)  # bytes: orjson checks the UTF-8 itself
    except (ValueError, UnicodeDecodeError):
        raise _Reject(400, "malformed JSON payload") from None
    if not isinstance(payload, dict):
        raise _Reject(400, "payload is not a JSON object")
    return payload


def _int(value: Any) -> int | None:
    """A positive integer id (PR number, installation, comment), or None."""
    is_int = isinstance(value, int) and not isinstance(value, bool)
    return value if is_int and value > 0 else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _pull_request_job(payload: dict[str, Any], delivery: str, action: str) -> Job:
    repo = _str(dig(payload, "repository", "full_name"))
    number = _int(payload.get("number")) or _int(dig(payload, "pull_request", "number"))
    head_sha = _str(dig(payload, "pull_request", "head", "sha"))
    installation = _int(dig(payload, "installation", "id"))
    for name, value in (
        ("repository.full_name", repo),
        ("number", number),
        ("pull_request.head.sha", head_sha),
        ("installation.id", installation),
    ):
        if value is None:
            raise _Reject(400, f"pull_request payload without {name}")
    assert repo and number and head_sha and installation  # for the type checker
    return Job(
        delivery_id=delivery,
        event="pull_request",
        action=action,
        repo_full_name=repo,
        number=number,
        head_sha=head_sha,
        installation_id=installation,
    )


def _command_job(payload: dict[str, Any], delivery: str, command: Command) -> Job:
    repo = _str(dig(payload, "repository", "full_name"))
    number = _int(dig(payload, "issue", "number"))
    comment_id = _int(dig(payload, "comment", "id"))
    commenter = _str(dig(payload, "comment", "user", "login"))
    installation = _int(dig(payload, "installation", "id"))
    if not (repo and number and comment_id and commenter and installation):
        raise _Reject(
            400, "issue_comment payload without repository, issue, comment or installation"
        )
    return Job(
        delivery_id=delivery,
        event="issue_comment",
        action="created",
        repo_full_name=repo,
        number=number,
        head_sha="",
        installation_id=installation,
        command=command,
        comment_id=comment_id,
        commenter=commenter,
        association=_str(dig(payload, "comment", "author_association")),
    )


def _why_not_reviewed(
    event: str, action: str | None, payload: dict[str, Any], review_drafts: bool
) -> str | None:
    """Why this delivery asks for no review (None: it asks for one)."""
    if event != "pull_request":
        return f"event {event!r} is not handled"
    if action not in REVIEW_ACTIONS:
        return f"pull_request action {action!r} is not reviewed"
    if dig(payload, "pull_request", "draft") is True and not review_drafts:
        return "draft pull request"
    if dig(payload, "pull_request", "state") == "closed":
        return "closed pull request"
    return None


def _command_in(payload: dict[str, Any], action: str | None) -> Command | str:
    """The /twelve-review command an issue_comment delivery carries, or why none."""
    if action != "created":
        return "comment not created"
    if not isinstance(dig(payload, "issue", "pull_request"), dict):
        return "not a pull request"
    command = parse_command(str(dig(payload, "comment", "body") or ""))
    return "not a command" if command is None else command


def _add_probes(app: FastAPI, jobs: ReviewQueue, counts: AppMetrics) -> None:
    """GET /healthz, /readyz and /metrics: what the platform asks the process."""

    @app.get(
        "/healthz",
        summary="Liveness: the process answers",
        responses={200: _json_answer("Alive.", ["ok"], False)},
    )
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        summary="Readiness: the queue takes work",
        response_class=JSONResponse,
        responses={
            200: _json_answer("Ready.", ["ready"], False),
            503: _json_answer(
                "Not ready: shutting down, the queue is full or its workers are gone.",
                ["not ready"],
                False,
            ),
        },
    )
    def readyz() -> JSONResponse:
        if jobs.accepting:
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "not ready"}, status_code=503)

    @app.get(
        "/metrics",
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"description": "Prometheus' text format.", "content": {CONTENT_TYPE: {}}}},
    )
    def metrics_text() -> Response:
        return Response(counts.render(), media_type=CONTENT_TYPE)


class _WebhookFirst(FastAPI):
    """FastAPI, with webhook deliveries answered before its middleware and router.

    The endpoint catches every error itself, reads its own body with its own limit
    and needs nothing the stack adds; going through the stack's ten layers (error,
    telemetry, body-limit and exception middleware, the router, the request handler)
    cost a quarter of the CPU of a delivery (one `serve`, 100 in flight: 637 against
    478 µs). The route stays registered as well: it is the OpenAPI description, and
    serves the same function.
    """

    webhook: tuple[str, Callable[[Request], Awaitable[Response]]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.webhook is not None and scope["type"] == "http":
            path, endpoint = self.webhook
            if scope["path"] == path and scope["method"] == "POST":
                answer = await endpoint(Request(scope, receive))
                await answer(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def _add_webhook(
    app: _WebhookFirst,
    path: str,
    endpoint: Callable[[Request], Awaitable[Response]],
    max_body_bytes: int,
) -> None:
    """POST `path`: answered by `_WebhookFirst`, described by a route."""
    app.webhook = (path, endpoint)
    app.add_api_route(
        path,
        endpoint,
        methods=["POST"],
        response_class=JSONResponse,
        summary="A GitHub webhook delivery",
        description=(
            "Verifies the signature of the raw body before parsing it, queues a review"
            " for pull_request opened, reopened, synchronize and ready_for_review and for"
            " a `/twelve-review` comment, and answers at once. Never 500."
        ),
        operation_id="webhook",
        responses=_webhook_responses(max_body_bytes),
        openapi_extra=_webhook_request(),
    )


def create_app(
    settings: AppSettings,
    runner: Runner,
    *,
    queue: ReviewQueue | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    shutdown_grace_seconds: float = 20.0,
    metrics: AppMetrics | None = None,
) -> FastAPI:
    """The App's HTTP server; review work goes to `queue` (by default a new
    JobQueue of `settings.workers` threads running `runner`), started now and
    stopped when the app shuts down."""
    jobs = queue or JobQueue(runner, settings.workers)
    jobs.start()
    secret = settings.webhook_secret
    counts = metrics or AppMetrics()
    counts.watch_queue(lambda: jobs.pending, lambda: jobs.running)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        jobs.start()
        yield
        jobs.stop(shutdown_grace_seconds)

    app = _WebhookFirst(title="twelve-review", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.queue = jobs
    app.state.settings = settings

    _add_probes(app, jobs, counts)

    async def webhook(request: Request) -> JSONResponse:
        fields: dict[str, Any] = {
            "delivery": request.headers.get("x-github-delivery"),
            "event": request.headers.get("x-github-event"),
        }
        try:
            answer = await _handle(request, fields)
        except _Reject as exc:
            answer = _answer(exc.status, {"status": "error", "reason": exc.reason}, fields)
        except Exception:  # never a 500: whatever broke, the delivery was unusable
            log.exception("webhook handling failed", extra=fields)
            answer = _answer(400, {"status": "error", "reason": "bad request"}, fields)
        counts.delivery(str(fields.get("event") or ""), answer.status_code)
        return answer

    async def _handle(request: Request, fields: dict[str, Any]) -> JSONResponse:
        body = await _read_body(request, max_body_bytes)
        if not verify_signature(secret, body, request.headers.get("x-hub-signature-256")):
            raise _Reject(401, "missing or bad X-Hub-Signature-256")
        event, delivery = fields["event"], fields["delivery"]
        if not event or not delivery:
            raise _Reject(400, "missing X-GitHub-Event or X-GitHub-Delivery")
        payload = _parse(body, request.headers.get("content-type", "application/json"))
        action = payload.get("action") if isinstance(payload.get("action"), str) else None
        fields.update(action=action, repo=dig(payload, "repository", "full_name"))
        if event == "ping":
            return _answer(200, {"status": "pong"}, fields)
        if dig(payload, "sender", "type") == "Bot":
            return _answer(200, {"status": "ignored", "reason": "sender is a bot"}, fields)
        if event in INSTALLATION_EVENTS:
            return _answer(200, {"status": "ok", "reason": f"{event} event logged"}, fields)
        if event == "issue_comment":
            found = _command_in(payload, action)
            if isinstance(found, str):
                return _answer(200, {"status": "ignored", "reason": found}, fields)
            return await _queue(_command_job(payload, delivery, found), fields)
        ignored = _why_not_reviewed(event, action, payload, settings.review_drafts)
        if ignored is not None:
            return _answer(200, {"status": "ignored", "reason": ignored}, fields)
        assert action is not None  # a reviewed action, for the type checker
        return await _queue(_pull_request_job(payload, delivery, action), fields)

    async def _queue(job: Job, fields: dict[str, Any]) -> JSONResponse:
        fields.update(job.log_fields())
        submitted = await jobs.enqueue(job)
        if submitted is Submitted.REJECTED:
            return _answer(503, {"status": "unavailable", "reason": "not accepting work"}, fields)
        if submitted is Submitted.DUPLICATE:
            return _answer(
                202, {"status": "accepted", "reason": "duplicate delivery, not queued"}, fields
            )
        return _answer(202, {"status": "accepted"}, fields)

    _add_webhook(app, settings.webhook_path, webhook, max_body_bytes)
    return app
