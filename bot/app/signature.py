"""GitHub webhook signatures: HMAC-SHA256 of the raw body, checked before parsing."""

from __future__ import annotations

import hmac

__all__ = ["sign", "verify_signature"]

_PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value GitHub sends for this body."""
    # hmac.digest: the one-shot C path, without an HMAC object per delivery
    return _PREFIX + hmac.digest(secret.encode("utf-8"), body, "sha256").hex()


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """Whether `header` is the right signature of the exact bytes received.

    Compared in constant time over the whole value; a missing header, another
    algorithm or an empty secret never verifies.
    """
    if not secret or not header or not header.startswith(_PREFIX):
        return False
    return hmac.compare_digest(sign(secret, body).encode(), header.strip().encode())
