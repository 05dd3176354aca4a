"""Webhook payloads from npm @octokit/webhooks-examples, and signed deliveries.

The examples are real payloads GitHub sent (api.github.com/index.json: a list of
{"name": event, "actions": [...], "examples": [payload, ...]}).
"""

from __future__ import annotations

import copy
import json
import uuid
from functools import cache
from pathlib import Path
from typing import Any

from bot.app.signature import sign

__all__ = ["delivery_headers", "example", "examples", "signed"]

_INDEX = Path("@octokit") / "webhooks-examples" / "api.github.com" / "index.json"


@cache
def _index(modules: Path) -> dict[str, list[dict[str, Any]]]:
    entries = json.loads((modules / _INDEX).read_text(encoding="utf-8"))
    return {entry["name"]: entry["examples"] for entry in entries}


def examples(modules: Path, event: str) -> list[dict[str, Any]]:
    """Every example payload of `event` (deep copies: change them freely)."""
    return copy.deepcopy(_index(modules)[event])


def example(
    modules: Path, event: str, action: str | None = None, *, installation: bool = True
) -> dict[str, Any]:
    """The first example of `event` with `action` (and, by default, an installation,
    as App deliveries have)."""
    for payload in examples(modules, event):
        if action is not None and payload.get("action") != action:
            continue
        if installation and "installation" not in payload:
            continue
        return payload
    raise LookupError(f"no {event}/{action} example in @octokit/webhooks-examples")


def delivery_headers(
    event: str, body: bytes, secret: str | None, delivery: str | None = None
) -> dict[str, str]:
    """The headers GitHub sends with a delivery (signed when `secret` is given)."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/test",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "1",
    }
    if secret is not None:
        headers["X-Hub-Signature-256"] = sign(secret, body)
    return headers


def signed(
    event: str, payload: Any, secret: str, delivery: str | None = None
) -> tuple[bytes, dict[str, str]]:
    """A JSON body and its signed delivery headers."""
    body = json.dumps(payload).encode("utf-8")
    return body, delivery_headers(event, body, secret, delivery)
