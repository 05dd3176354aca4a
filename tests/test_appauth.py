"""The App's JWTs: signed with its key parsed once, accepted by (the fake) GitHub."""

from __future__ import annotations

import threading
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from github import Auth, GithubIntegration

from bot.github.appauth import app_auth
from tests.app_helpers import app_settings, review_runner
from tests.fake_github import FakeGitHub


def test_the_jwt_is_githubs_app_jwt_signed_with_the_apps_key(fake_github: FakeGitHub) -> None:
    fake_github.add_repo("acme/shop", {"README.md": "shop\n"})
    auth = app_auth(fake_github.app_id, fake_github.private_key_pem)
    public = serialization.load_pem_private_key(
        fake_github.private_key_pem.encode(), password=None
    ).public_key()
    claims = jwt.decode(auth.token, public, algorithms=["RS256"])  # type: ignore[arg-type]
    assert claims["iss"] == str(fake_github.app_id)
    assert claims["iat"] <= time.time() < claims["exp"] <= time.time() + 600
    # and GitHub (the fake checks signature, issuer and lifetime) takes it
    integration = GithubIntegration(auth=auth, base_url=fake_github.base_url, retry=None)
    assert integration.get_access_token(fake_github.installation_id).token.startswith("ghs_")


def test_the_key_is_parsed_once_not_for_every_jwt(
    fake_github: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = app_auth(fake_github.app_id, fake_github.private_key_pem)

    def parse_again(*_: Any, **__: Any) -> Any:
        raise AssertionError("PyJWT parsed the PEM again")

    monkeypatch.setattr(jwt.algorithms, "load_pem_private_key", parse_again)
    assert all(auth.token.count(".") == 2 for _ in range(3))  # signed, nothing parsed
    with pytest.raises(AssertionError, match="parsed the PEM again"):  # PyGithub's own would
        _ = Auth.AppAuth(fake_github.app_id, fake_github.private_key_pem).token


def test_a_key_that_is_not_rsa_is_refused() -> None:
    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    with pytest.raises(ValueError, match="RSA"):
        app_auth(1, pem)


def test_threads_needing_the_bot_login_at_once_share_one_lookup(fake_github: FakeGitHub) -> None:
    runner = review_runner(app_settings(fake_github, "s"))
    start = threading.Barrier(8)
    logins: list[str] = []

    def look_up() -> None:
        start.wait(5)
        logins.append(runner.bot_login())

    threads = [threading.Thread(target=look_up) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(logins) == 8 and len(set(logins)) == 1 and logins[0].endswith("[bot]")
    assert len(fake_github.calls("apps/get-authenticated")) == 1
