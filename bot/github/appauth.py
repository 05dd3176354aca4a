"""The App's own authentication (a JWT), signed with its key parsed once.

PyGithub's `AppAuth` hands PyJWT the PEM text for every JWT, and PyJWT parses and
checks the RSA key each time: about 40 ms of CPU, the interpreter lock held, for
every installation token and every app lookup. In the App's process that stalls
the event loop answering GitHub (bench/soak.py saw a 330 ms stall when eight
reviews started together). Parsed once here, a JWT costs about a millisecond.
"""

from __future__ import annotations

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from github import Auth

__all__ = ["app_auth"]

_ALGORITHM = "RS256"  # what GitHub requires of an App's JWT


def app_auth(app_id: int, private_key_pem: str) -> Auth.AppAuth:
    """PyGithub's AppAuth for the App, signing with the key loaded now."""
    key = load_pem_private_key(private_key_pem.encode(), password=None)
    if not isinstance(key, RSAPrivateKey):
        raise ValueError("a GitHub App's private key is an RSA key")

    def sign(payload: dict[str, str | int]) -> str:
        return jwt.encode(payload, key, algorithm=_ALGORITHM)

    return Auth.AppAuth(app_id, sign_func=sign)
