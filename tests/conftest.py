"""Shared fixtures: real git repositories in temp dirs, npm-published test data."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fake_github import fake_github_fixture  # noqa: F401 - fixture `fake_github`
from tests.fake_openai import fake_openai  # noqa: F401 - a fixture for every test module
from tests.redis_server import redis_url_for_tests

NPM_DIR = Path(__file__).parent / "npm"


@pytest.fixture(autouse=True)
def _no_real_llm(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never reach a real model, whatever the developer's shell exports."""
    for name in list(os.environ):
        if name.startswith(("OPENAI_", "TWELVE_REVIEW_")):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def npm_data() -> Path:
    """node_modules of tests/npm, installed from the lock file on first use."""
    modules = NPM_DIR / "node_modules"
    wanted = json.loads((NPM_DIR / "package.json").read_text())["devDependencies"]
    if not all((modules / name / "package.json").exists() for name in wanted):
        npm = shutil.which("npm")
        assert npm, "npm is needed to install the published schemas the tests validate against"
        subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
            cwd=NPM_DIR,
            check=True,
            capture_output=True,
        )
    return modules


class GitRepo:
    """A real git repository in a temp dir, with a helper to write and commit."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")
        self.git("config", "user.email", "dev@example.com")
        self.git("config", "user.name", "Dev")
        self.git("config", "commit.gpgsign", "false")

    def git(self, *args: str) -> str:
        env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(self.root)}
        done = subprocess.run(
            ["git", *args], cwd=self.root, env=env, capture_output=True, text=True, check=True
        )
        return done.stdout

    def write(self, path: str, text: str | bytes) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            target.write_bytes(text)
        else:
            target.write_text(text, encoding="utf-8")

    def commit(self, message: str = "change") -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD").strip()


@pytest.fixture
def git_repo(tmp_path: Path) -> GitRepo:
    return GitRepo(tmp_path / "repo")


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[[str], GitRepo]:
    def make(name: str) -> GitRepo:
        return GitRepo(tmp_path / name)

    return make


@pytest.fixture(scope="session")
def pem() -> str:
    """A fresh RSA private key (PEM), as an App's private key looks."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis server's URL (see tests/redis_server.py)."""
    yield from redis_url_for_tests(tmp_path_factory.mktemp("redis"))
