"""The App's logs: one JSON object per line on stdout, with no secret in them.

Every line passes a redactor before it is written: the configured secrets (the
webhook secret, the model's key) by value, and anything shaped like a GitHub
token, a JSON Web Token or a private key by pattern. Libraries log more than
we do at DEBUG (PyGithub logs each response body, installation tokens
included), so redacting the written line, not our own messages, is the one
place that covers them all.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, TextIO

__all__ = ["LOG_FIELDS", "JsonFormatter", "Redactor", "configure_logging", "job_context"]

# Extras a log call may attach; they become top-level keys of the JSON line.
LOG_FIELDS = (
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

REDACTED = "[redacted]"
_SHAPES = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----"  # PEM, even escaped
    r"|\bgh[pousr]_[A-Za-z0-9]{36,}\b|\bgithub_pat_[A-Za-z0-9_]{22,}"  # GitHub tokens
    r"|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",  # JSON Web Tokens
    re.DOTALL,
)
# Every match of _SHAPES contains one of these: a line without any skips the regex,
# which would otherwise cost most of formatting a line.
_SHAPE_HINTS = ("PRIVATE KEY-----", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "eyJ")
_MIN_SECRET = 8  # shorter values would redact ordinary words


class Redactor:
    """Replaces secrets in text: given values (also as they look JSON-escaped),
    and the shapes of tokens and keys."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = {s for s in secrets if len(s) >= _MIN_SECRET}
        values |= {json.dumps(s)[1:-1] for s in values}
        # Longest first, so a value containing another is replaced whole.
        self._literals = sorted(values, key=len, reverse=True)
        self._values = re.compile("|".join(map(re.escape, self._literals))) if values else None

    def __call__(self, text: str) -> str:
        # `in` scans a line far faster than the regexes; they run only on a hit
        if self._values is not None and any(value in text for value in self._literals):
            text = self._values.sub(REDACTED, text)
        if any(hint in text for hint in _SHAPE_HINTS):
            text = _SHAPES.sub(REDACTED, text)
        return text


# The fields of the job a worker thread is running (delivery id, repo, PR...): every
# line logged meanwhile carries them, the libraries' lines and the model's included.
_JOB_FIELDS: contextvars.ContextVar[Mapping[str, object]] = contextvars.ContextVar(
    "twelve_review_job_fields", default=MappingProxyType({})
)


@contextlib.contextmanager
def job_context(fields: Mapping[str, object]) -> Iterator[None]:
    token = _JOB_FIELDS.set(fields)
    try:
        yield
    finally:
        _JOB_FIELDS.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message and known extras."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        self._redact = redactor or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        job = _JOB_FIELDS.get()
        for name in LOG_FIELDS:
            value = record.__dict__.get(name, job.get(name))
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return self._redact(json.dumps(entry, default=str))


def configure_logging(
    level: int | str = logging.INFO, secrets: Iterable[str] = (), stream: TextIO | None = None
) -> None:
    """Route every logger (uvicorn's too) to stdout as redacted JSON lines."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter(Redactor(secrets)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
