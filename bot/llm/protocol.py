"""The engine's view of a model: one exchange, its answer, and how it can fail.

Kept apart from the openai-based client so that importing the engine does not
import the SDK; the client loads only when an LLM review actually runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["ChatClient", "Completion", "LLMRequestRejected", "LLMUnavailable"]


@dataclass(frozen=True)
class Completion:
    """The model's answer text, what it cost, and the response format that produced it."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    mode: str  # "json_schema" | "json_object" | "text"


class ChatClient(Protocol):
    """One system + user exchange with the model; the engine's only view of it."""

    def complete(self, system: str, user: str) -> Completion: ...


class LLMUnavailable(Exception):  # noqa: N818 - the name the engine uses
    """The model cannot be used: unreachable, failing after retries, or refusing access.

    `status_code` is the last HTTP status, or None when there was no response.
    """

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class LLMRequestRejected(LLMUnavailable):
    """The endpoint rejected this request (400, 413, 422...), not the service as a whole.

    A different request (a smaller prompt, say) may still succeed.
    """
