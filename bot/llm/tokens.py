"""Token counting: tiktoken for the configured model, an estimate without it.

tiktoken downloads its encodings on first use (or reads them from
`TIKTOKEN_CACHE_DIR`). With no network and no cache that fails; counting must
not, so the reviewer falls back to a deliberately high estimate and logs it once.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Protocol

__all__ = ["EstimatedCounter", "TokenCounter", "counter_for"]

log = logging.getLogger("twelve_review.llm")

# Code and config run at about 3 to 4 bytes per token in the GPT encodings;
# dividing by 2.5 over-counts, so a budget computed with it is never exceeded.
_BYTES_PER_TOKEN = 2.5
_FALLBACK_ENCODING = "o200k_base"


class TokenCounter(Protocol):
    name: str

    def count(self, text: str) -> int: ...


class EstimatedCounter:
    """Conservative estimate from the UTF-8 size."""

    name = "estimate"

    def count(self, text: str) -> int:
        return math.ceil(len(text.encode("utf-8", "replace")) / _BYTES_PER_TOKEN)


class _TiktokenCounter:
    def __init__(self, encode: Callable[[str], list[int]], name: str) -> None:
        self._encode = encode
        self.name = name

    def count(self, text: str) -> int:
        return len(self._encode(text))


_warned: set[str] = set()  # models whose fallback was already logged


def _load_tiktoken(model: str) -> TokenCounter:
    import tiktoken  # noqa: PLC0415 - imported only when an LLM review runs

    try:
        encoding = tiktoken.encoding_for_model(model)
    except KeyError:  # a model tiktoken does not know: assume the current encoding
        encoding = tiktoken.get_encoding(_FALLBACK_ENCODING)
    return _TiktokenCounter(encoding.encode_ordinary, encoding.name)


def counter_for(model: str, load: Callable[[str], TokenCounter] = _load_tiktoken) -> TokenCounter:
    """The exact counter for `model`, or the estimate when its encoding cannot load."""
    try:
        return load(model)
    except Exception as exc:  # any failure to load (network, cache) means estimate
        if model not in _warned:  # once per process and model, not per review
            _warned.add(model)
            log.warning(
                "tiktoken encoding for %s unavailable (%s); estimating tokens conservatively",
                model,
                type(exc).__name__,
            )
        return EstimatedCounter()
