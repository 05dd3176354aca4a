"""The webhook server: verify, triage, hand review work to the queue, answer at once.

`create_app(settings, runner)` builds the FastAPI app (no app object exists at
import time). The webhook endpoint reads the raw body, checks its size and its
signature before anything parses it, and answers within milliseconds: 202 when
a review is queued, 200 with a reason when the delivery is ignored, 4xx for
anything bad. It never answers 500.

Logs are JSON, one object per line on stdout (`configure_logging`).
"""

from __future__ import annotations

import json
import logging
import sys
import urllib.parse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from bot.app.queue import Job, JobQueue, Runner, Submitted
from bot.app.settings import AppSettings
from bot.app.signature import verify_signature
from bot.github.commands import Command, parse_command
from bot.github.payload import dig

__all__ = [
    "MAX_BODY_BYTES",
    "REVIEW_ACTIONS",
    "JsonFormatter",
    "configure_logging",
    "create_app",
]

log = logging.getLogger("twelve_review.server")

MAX_BODY_BYTES = 25 * 1024 * 1024  # GitHub sends no payload larger than 25 MB
REVIEW_ACTIONS = frozenset({"opened", "reopened", "synchronize", "ready_for_review"})
INSTALLATION_EVENTS = frozenset({"installation", "installation_repositories"})
_LOG_FIELDS = (
    "delivery",
    "event",
    "action",
    "repo",
    "pr",
    "head_sha",
    "installation",
    "status",
    "reason",
    "replaced_delivery",
    "duration_ms",
    "findings",
    "inline",
    "resolved",
    "tokens",
    "incremental",
)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message and known extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _LOG_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: int | str = logging.INFO) -> None:
    """Route every logger (uvicorn's too) to stdout as JSON lines."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


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


def _parse(body: bytes, content_type: str) -> dict[str, Any]:
    """The payload: a JSON body, or form-encoded `payload=<json>`."""
    try:
        media_type = content_type.split(";", maxsplit=1)[0].strip().lower()
        if media_type == "application/x-www-form-urlencoded":
            form = urllib.parse.parse_qs(body.decode("utf-8"), strict_parsing=True)
            if len(form.get("payload", [])) != 1:
                raise _Reject(400, "form body without one payload field")
            text = form["payload"][0]
        else:
            text = body.decode("utf-8")
        payload = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise _Reject(400, "malformed JSON payload") from None
    if not isinstance(payload, dict):
        raise _Reject(400, "payload is not a JSON object")
    return payload


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


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


def create_app(
    settings: AppSettings,
    runner: Runner,
    *,
    queue: JobQueue | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    shutdown_grace_seconds: float = 20.0,
) -> FastAPI:
    """The App's HTTP server; review work goes to `queue` (by default a new
    JobQueue of `settings.workers` threads running `runner`), started now and
    stopped when the app shuts down."""
    jobs = queue or JobQueue(runner, settings.workers)
    jobs.start()
    secret = settings.webhook_secret

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        jobs.start()
        yield
        jobs.stop(shutdown_grace_seconds)

    app = FastAPI(title="twelve-review", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.queue = jobs
    app.state.settings = settings

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        if jobs.accepting:
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "not ready"}, status_code=503)

    async def webhook(request: Request) -> JSONResponse:
        fields: dict[str, Any] = {
            "delivery": request.headers.get("x-github-delivery"),
            "event": request.headers.get("x-github-event"),
        }
        try:
            return await _handle(request, fields)
        except _Reject as exc:
            return _answer(exc.status, {"status": "error", "reason": exc.reason}, fields)
        except Exception:  # never a 500: whatever broke, the delivery was unusable
            log.exception("webhook handling failed", extra=fields)
            return _answer(400, {"status": "error", "reason": "bad request"}, fields)

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
            return _comment(payload, delivery, action, fields)
        if event != "pull_request":
            return _answer(
                200, {"status": "ignored", "reason": f"event {event!r} is not handled"}, fields
            )
        if action not in REVIEW_ACTIONS:
            return _answer(
                200,
                {"status": "ignored", "reason": f"pull_request action {action!r} is not reviewed"},
                fields,
            )
        if dig(payload, "pull_request", "draft") is True and not settings.review_drafts:
            return _answer(200, {"status": "ignored", "reason": "draft pull request"}, fields)
        if dig(payload, "pull_request", "state") == "closed":
            return _answer(200, {"status": "ignored", "reason": "closed pull request"}, fields)
        return _queue(_pull_request_job(payload, delivery, action), fields)

    def _comment(
        payload: dict[str, Any], delivery: str, action: str | None, fields: dict[str, Any]
    ) -> JSONResponse:
        if action != "created":
            return _answer(200, {"status": "ignored", "reason": "comment not created"}, fields)
        if not isinstance(dig(payload, "issue", "pull_request"), dict):
            return _answer(200, {"status": "ignored", "reason": "not a pull request"}, fields)
        command = parse_command(str(dig(payload, "comment", "body") or ""))
        if command is None:
            return _answer(200, {"status": "ignored", "reason": "not a command"}, fields)
        return _queue(_command_job(payload, delivery, command), fields)

    def _queue(job: Job, fields: dict[str, Any]) -> JSONResponse:
        fields.update(job.log_fields())
        submitted = jobs.submit(job)
        if submitted is Submitted.REJECTED:
            return _answer(503, {"status": "unavailable", "reason": "not accepting work"}, fields)
        if submitted is Submitted.DUPLICATE:
            return _answer(
                202, {"status": "accepted", "reason": "duplicate delivery, not queued"}, fields
            )
        return _answer(202, {"status": "accepted"}, fields)

    app.add_api_route(settings.webhook_path, webhook, methods=["POST"])
    return app
