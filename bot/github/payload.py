"""Reading GitHub's event payloads (webhook deliveries, the workflow's event file)."""

from __future__ import annotations

from typing import Any

__all__ = ["REVIEW_ACTIONS", "dig"]

# The pull_request actions that ask for a review, in the App and in the Action alike.
REVIEW_ACTIONS = frozenset({"opened", "reopened", "synchronize", "ready_for_review"})


def dig(payload: object, *keys: str) -> Any:
    """payload[k1][k2]... or None as soon as a level is missing or not an object:
    payloads are untrusted input, so a wrong shape is an absence, never an error."""
    for key in keys:
        if not isinstance(payload, dict):
            return None
        payload = payload.get(key)
    return payload
