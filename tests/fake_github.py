"""A real HTTP server on 127.0.0.1 that speaks the part of GitHub's REST API the bot uses.

Every request is matched against GitHub's published OpenAPI description (npm
@octokit/openapi): an unknown route, an undeclared or ill-typed query or path
parameter, or a JSON body that its operation's schema rejects is recorded in
`.violations` and answered 400. Known routes the fake does not implement are
recorded in `.unimplemented` and answered 501. The fake's own answers are checked
against the spec's response schemas too (`.response_violations`), and a bug in the
fake answers 500 and lands in `.crashes`.

    repo = fake_github.add_repo("octo/demo", {"README.md": "hello\\n"})
    pull = fake_github.add_pull(repo, base={"a.py": "x = 1\\n"}, head={"a.py": "x = 2\\n"})
    gh = Github(base_url=fake_github.base_url, auth=Auth.Token(fake_github.token),
                seconds_between_requests=None, seconds_between_writes=None, retry=None)
    gh.get_repo("octo/demo").get_pull(pull.number).create_review(...)
    assert fake_github.violations == []

App auth: `fake_github.app_id`, `fake_github.private_key_pem` and `fake_github.installation_id`
work with `Auth.AppAuth` / `GithubIntegration`; installation tokens expire after an hour
(`expire_tokens()` ends them early); `add_installation()` adds another.

Faults, each for the next `times` requests whose method and path match:
`fail_next("POST", r"/reviews$", 502)` (an error answer; `after=True` carries
the request out first, as a gateway timing out on a GitHub that did the work),
`rate_limit_next` (the primary rate limit: 403 or 429 with
`x-ratelimit-remaining: 0` until a reset time), `secondary_limit_next` (403 or
429 with `retry-after`), `drop_next` (the connection reset without an answer,
before or after the request was carried out) and `slow_next` (the answer held
back for some seconds or until an event). Every request records when it
arrived and when it was answered (`time.monotonic()`), for tests of pacing.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import dataclasses
import datetime as dt
import difflib
import hashlib
import itertools
import json
import re
import secrets
import socket
import struct
import threading
import time
import traceback
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.github_openapi import _spec
from tests.loopback import LoopbackServer

__all__ = [
    "BOT_LOGIN",
    "FakeGitHub",
    "FakePull",
    "FakeRepo",
    "PullFile",
    "RecordedRequest",
    "Violation",
    "diff_files",
    "fake_github_fixture",
    "make_patch",
    "patch_lines",
]

BOT_LOGIN = "twelve-review[bot]"
APP_SLUG = "twelve-review"
DOCS = "https://docs.github.com/rest"
REVIEW_DOCS = "https://docs.github.com/rest/pulls/reviews#create-a-review-for-a-pull-request"
RATE_LIMIT_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
HTML = "https://github.com"
MAX_PER_PAGE = 100
SPEC_URI = "urn:github-openapi"
CONTENT_INLINE_LIMIT = 1024 * 1024  # contents API: bigger files come back with encoding "none"
JWT_OPERATIONS = frozenset(
    {
        "apps/get-authenticated",
        "apps/list-installations",
        "apps/get-installation",
        "apps/create-installation-access-token",
        "apps/get-repo-installation",
        "apps/get-org-installation",
        "apps/get-user-installation",
    }
)
PUBLIC_OPERATIONS = frozenset({"meta/root", "rate-limit/get", "meta/get-zen"})


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def _bytes(content: str | bytes) -> bytes:
    return content if isinstance(content, bytes) else content.encode("utf-8")


def blob_sha(content: str | bytes) -> str:
    data = _bytes(content)
    return _sha1(b"blob %d\0" % len(data) + data)


def _text(content: str | bytes) -> str | None:
    """The content as text, or None when it is binary (a NUL byte or not UTF-8)."""
    if isinstance(content, str):
        return None if "\0" in content else content
    if b"\0" in content:
        return None
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return None


# -- diffs ------------------------------------------------------------------------------


def make_patch(old: str, new: str, context: int = 3) -> str | None:
    """GitHub's `patch` field for a text change: hunks only, starting at `@@`,
    no trailing newline; None when nothing changed."""
    lines = list(
        difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True), n=context
        )
    )[2:]
    if not lines:
        return None
    out: list[str] = []
    for line in lines:
        if line.endswith("\n"):
            out.append(line[:-1])
        else:
            out.append(line)
            out.append("\\ No newline at end of file")
    return "\n".join(out)


@dataclass(frozen=True)
class PatchLine:
    position: int  # 1 = the line below the first `@@`; later `@@` lines count too
    hunk: int  # index of the hunk, from 0
    kind: str  # " ", "+", "-", "@" (a hunk header) or "\\"
    old: int | None  # line number on the LEFT side
    new: int | None  # line number on the RIGHT side


_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def patch_lines(patch: str | None) -> list[PatchLine]:
    """Every line of a patch with its diff position and LEFT/RIGHT line numbers."""
    result: list[PatchLine] = []
    if not patch:
        return result
    old = new = 0
    hunk = -1
    position = 0
    for text in patch.split("\n"):
        match = _HUNK.match(text)
        if match:
            hunk += 1
            old, new = int(match.group(1)), int(match.group(3))
            if hunk > 0:
                position += 1
                result.append(PatchLine(position, hunk, "@", None, None))
            continue
        if hunk < 0:
            raise ValueError(f"a patch must start with a hunk header: {patch[:40]!r}")
        position += 1
        kind = text[:1] or " "
        if kind == "+":
            result.append(PatchLine(position, hunk, "+", None, new))
            new += 1
        elif kind == "-":
            result.append(PatchLine(position, hunk, "-", old, None))
            old += 1
        elif kind == "\\":
            result.append(PatchLine(position, hunk, "\\", None, None))
        else:
            result.append(PatchLine(position, hunk, " ", old, new))
            old += 1
            new += 1
    return result


@dataclass
class PullFile:
    """One entry of a PR's (or comparison's) file list.

    `patch` is GitHub's hunk text (starting at `@@`), or None for binary or too-large
    files. Counts default to the number of `+`/`-` lines in the patch."""

    filename: str
    status: str = "modified"  # added, removed, modified, renamed, copied, changed, unchanged
    patch: str | None = None
    previous_filename: str | None = None
    additions: int | None = None
    deletions: int | None = None
    sha: str | None = None

    def counts(self) -> tuple[int, int]:
        lines = patch_lines(self.patch)
        additions = sum(1 for line in lines if line.kind == "+")
        deletions = sum(1 for line in lines if line.kind == "-")
        return (
            additions if self.additions is None else self.additions,
            deletions if self.deletions is None else self.deletions,
        )


def diff_files(
    base: Mapping[str, str | bytes],
    head: Mapping[str, str | bytes],
    *,
    renames: Mapping[str, str] | None = None,
    omit_patch: Iterable[str] = (),
) -> list[PullFile]:
    """The file list GitHub shows for base -> head, sorted by name.

    `renames` maps old path -> new path (both must be in base / head respectively);
    `omit_patch` names files whose patch GitHub would drop as too large."""
    renames = dict(renames or {})
    renamed_to = {new: old for old, new in renames.items()}
    omit = set(omit_patch)
    files: list[PullFile] = []
    for path in sorted(set(base) | set(head)):
        if path in renames and path not in head:
            continue  # reported under its new name
        old_path = renamed_to.get(path, path)
        before = base.get(old_path) if (path in renamed_to or path in base) else None
        after = head.get(path)
        unchanged = before is not None and after is not None and _bytes(before) == _bytes(after)
        if unchanged and old_path == path:
            continue
        if after is None:
            status = "removed"
        elif before is None:
            status = "added"
        elif old_path != path:
            status = "renamed"
        else:
            status = "modified"
        old_text = "" if before is None else _text(before)
        new_text = "" if after is None else _text(after)
        patch = None
        if old_text is not None and new_text is not None and path not in omit:
            patch = make_patch(old_text, new_text)
        binary = old_text is None or new_text is None
        files.append(
            PullFile(
                filename=path,
                status=status,
                patch=patch,
                previous_filename=old_path if status == "renamed" else None,
                additions=0 if binary else None,
                deletions=0 if binary else None,
                sha=blob_sha(after) if after is not None else blob_sha(before or b""),
            )
        )
    return files


# -- the model ----------------------------------------------------------------------------


@dataclass
class FakeCommit:
    sha: str
    files: dict[str, str | bytes]
    parents: tuple[str, ...]
    message: str
    author: str
    date: str


@dataclass
class FakeRepo:
    owner: str
    name: str
    id: int
    default_branch: str = "main"
    private: bool = False
    commits: dict[str, FakeCommit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    pulls: dict[int, FakePull] = field(default_factory=dict)
    permissions: dict[str, str] = field(default_factory=dict)  # login -> admin/write/read/...
    issue_comments: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> JSON
    comment_issue: dict[int, int] = field(default_factory=dict)  # comment id -> issue number
    reactions: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # comment id -> list
    installed: bool = True
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def commit(
        self,
        files: Mapping[str, str | bytes],
        *,
        branch: str | None = None,
        parents: Iterable[str] | None = None,
        message: str = "change",
        author: str = "octocat",
    ) -> str:
        """Add a commit holding exactly `files`; by default on top of `branch`'s tip
        (the default branch), which then moves to it. Returns the SHA."""
        branch = branch or self.default_branch
        if parents is None:
            parents = [self.branches[branch]] if branch in self.branches else []
        parents = tuple(parents)
        for parent in parents:
            if parent not in self.commits:
                raise KeyError(f"unknown parent {parent}")
        seed = json.dumps(
            [self.full_name, next(self._counter), parents, message, sorted(files)]
        ).encode()
        sha = _sha1(seed + b"".join(_bytes(files[p]) for p in sorted(files)))
        self.commits[sha] = FakeCommit(sha, dict(files), parents, message, author, _now())
        self.branches[branch] = sha
        return sha

    def resolve(self, ref: str | None) -> FakeCommit | None:
        """A branch name, `refs/heads/x`, a full or abbreviated (7+) SHA; None -> default."""
        ref = ref or self.default_branch
        ref = ref.removeprefix("refs/heads/").removeprefix("heads/")
        if ref in self.branches:
            return self.commits[self.branches[ref]]
        if ref in self.commits:
            return self.commits[ref]
        if len(ref) >= 7 and re.fullmatch(r"[0-9a-f]+", ref):
            found = [c for sha, c in self.commits.items() if sha.startswith(ref)]
            if len(found) == 1:
                return found[0]
        return None

    def ancestors(self, sha: str) -> dict[str, int]:
        """Every commit reachable from sha (itself included), with its distance."""
        seen: dict[str, int] = {}
        frontier = [(sha, 0)]
        while frontier:
            current, depth = frontier.pop(0)
            if current in seen:
                continue
            seen[current] = depth
            frontier.extend((p, depth + 1) for p in self.commits[current].parents)
        return seen

    def merge_base(self, a: str, b: str) -> str | None:
        from_a = self.ancestors(a)
        from_b = self.ancestors(b)
        common = [sha for sha in from_a if sha in from_b]
        if not common:
            return None
        return min(common, key=lambda sha: (from_a[sha] + from_b[sha], from_a[sha]))


@dataclass
class FakePull:
    repo: FakeRepo
    number: int
    id: int
    title: str
    body: str | None
    user: str
    head_ref: str
    base_ref: str
    head_repo: FakeRepo
    state: str = "open"
    draft: bool = False
    files_override: list[PullFile] | None = None
    reviews: list[dict[str, Any]] = field(default_factory=list)
    review_comments: list[dict[str, Any]] = field(default_factory=list)
    created_at: str = field(default_factory=_now)

    @property
    def head_sha(self) -> str:
        return self.head_repo.branches[self.head_ref]

    @property
    def base_sha(self) -> str:
        return self.repo.branches[self.base_ref]

    def files_at(self, head_sha: str | None = None) -> list[PullFile]:
        """The PR's files (GitHub: merge base of base and head -> head)."""
        head_sha = head_sha or self.head_sha
        if self.files_override is not None and head_sha == self.head_sha:
            return self.files_override
        repo = self.repo
        base = repo.merge_base(self.base_sha, head_sha) if head_sha in repo.commits else None
        base_files = repo.commits[base].files if base else {}
        return diff_files(base_files, self.head_repo.commits[head_sha].files)

    @property
    def files(self) -> list[PullFile]:
        return self.files_at()


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # as sent, with the query string
    headers: dict[str, str]  # names in lower case
    body: Any  # parsed JSON, the raw text when it is not JSON, None when empty
    operation_id: str | None  # the OpenAPI operation it matched
    status: int = 0  # what the fake answered (filled in after the answer)
    started: float = 0.0  # time.monotonic() when it arrived
    answered: float = 0.0  # time.monotonic() just before the answer went out (0: none yet)
    dropped: bool = False  # the connection was reset instead of answered

    @property
    def route(self) -> str:
        return self.path.split("?")[0]

    @property
    def query(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))


@dataclass(frozen=True)
class Violation:
    method: str
    path: str
    operation_id: str | None
    message: str

    def __str__(self) -> str:
        return f"{self.method} {self.path} ({self.operation_id}): {self.message}"


@dataclass
class _Fault:
    method: str
    pattern: re.Pattern[str]
    status: int | None  # None: the request's own answer
    headers: dict[str, str]
    body: Any
    times: int
    after: bool = False  # carry the request out first, then fail it (GitHub did the work)
    drop: bool = False  # reset the connection instead of answering
    delay: float = 0.0  # seconds to hold the answer back
    until: threading.Event | None = None  # or hold it until this is set (at most 30 s)
    fired: threading.Event = field(default_factory=threading.Event)  # set once it has struck

    def answer(self) -> Answer:
        payload = self.body
        if payload is None:
            payload = {"message": f"fake fault {self.status}", "status": str(self.status)}
            payload["documentation_url"] = DOCS
        return self.status or 0, payload, dict(self.headers)


@dataclass
class _Token:
    login: str
    expires: float | None
    installation_id: int | None
    read_only: bool = False  # a fork PR's workflow token: every write is refused (403)


class _Error(Exception):
    def __init__(self, status: int, message: str, errors: list[Any] | None = None, **extra: Any):
        super().__init__(message)
        self.status = status
        self.payload: dict[str, Any] = {"message": message}
        if errors is not None:
            self.payload["errors"] = errors
        self.payload["documentation_url"] = extra.pop("documentation_url", DOCS)
        self.payload["status"] = str(status)
        self.payload.update(extra)


def _unprocessable(*errors: str) -> _Error:
    return _Error(422, "Unprocessable Entity", list(errors), documentation_url=REVIEW_DOCS)


# -- the OpenAPI description -------------------------------------------------------------


def _nullable_to_2020(node: Any) -> Any:
    """OpenAPI 3.0's `nullable: true` means nothing to JSON Schema 2020-12; spell it out."""
    if isinstance(node, list):
        return [_nullable_to_2020(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _nullable_to_2020(value) for key, value in node.items()}
    if isinstance(out.get("$ref"), str) and out["$ref"].startswith("#"):
        out["$ref"] = SPEC_URI + out["$ref"]  # absolute, so subschemas resolve on their own
    if out.pop("nullable", False) is True:
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


@cache
def _schema_spec() -> dict[str, Any]:
    converted: dict[str, Any] = _nullable_to_2020(copy.deepcopy(_spec()))
    return converted


@cache
def _registry() -> Registry[Any]:
    resource = Resource.from_contents(_schema_spec(), default_specification=DRAFT202012)
    return Registry().with_resource(SPEC_URI, resource)


def _validator(schema_json: str) -> Draft202012Validator:
    return _validator_cached(schema_json)


@cache
def _validator_cached(schema_json: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_json), registry=_registry())


def _deref(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = _schema_spec()
        for part in node["$ref"].removeprefix(SPEC_URI).removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


@dataclass(frozen=True)
class _Route:
    method: str
    template: str
    regex: re.Pattern[str]
    operation_id: str
    op: dict[str, Any]
    literal: int  # literal characters, more is more specific
    greedy: int


_GREEDY_PARAMS = frozenset({"path", "base", "head"})


@cache
def _routes() -> tuple[_Route, ...]:
    routes = []
    for template, item in _schema_spec()["paths"].items():
        pattern = ""
        greedy = 0
        for piece in re.split(r"(\{[^}]+\})", template):
            if piece.startswith("{"):
                name = piece[1:-1]
                if name in _GREEDY_PARAMS:
                    pattern += f"(?P<{name}>.+?)" if name == "base" else f"(?P<{name}>.+)"
                    greedy += 1
                else:
                    pattern += f"(?P<{name.replace('-', '_')}>[^/]+)"
            else:
                pattern += re.escape(piece)
        literal = len(re.sub(r"\{[^}]+\}", "", template))
        regex = re.compile(f"^{pattern}$")
        for method, op in item.items():
            if isinstance(op, dict) and "operationId" in op:
                routes.append(
                    _Route(method.upper(), template, regex, op["operationId"], op, literal, greedy)
                )
    return tuple(routes)


def match_route(method: str, path: str) -> tuple[_Route, dict[str, str]] | None:
    """The spec's operation for a request path (without query), and its path parameters."""
    best: tuple[_Route, dict[str, str]] | None = None
    for route in _routes():
        if route.method != method:
            continue
        found = route.regex.match(path)
        if not found:
            continue
        if best is None or (route.literal, -route.greedy) > (best[0].literal, -best[0].greedy):
            params = {k: urllib.parse.unquote(v) for k, v in found.groupdict().items()}
            best = (route, params)
    return best


def _coerce(value: str, schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if "integer" in kinds:
        with contextlib.suppress(ValueError):
            return int(value)
    if "number" in kinds:
        with contextlib.suppress(ValueError):
            return float(value)
    if "boolean" in kinds and value in ("true", "false"):
        return value == "true"
    return value


def check_request(
    route: _Route, path_params: Mapping[str, str], query: Mapping[str, str], body: Any
) -> list[str]:
    """What is wrong with a request to a matched operation, per the spec."""
    problems: list[str] = []
    declared: dict[tuple[str, str], dict[str, Any]] = {}
    for raw in route.op.get("parameters", []):
        param = _deref(raw)
        declared[(param["in"], param["name"])] = param
    for (where, name), param in declared.items():
        values = path_params if where == "path" else query if where == "query" else None
        if values is None:
            continue
        lookup = name.replace("-", "_") if where == "path" else name
        if lookup not in values:
            if param.get("required"):
                problems.append(f"missing required {where} parameter {name!r}")
            continue
        schema = param.get("schema", {})
        value = _coerce(values[lookup], schema)
        for error in _validator(json.dumps(schema, sort_keys=True)).iter_errors(value):
            problems.append(f"{where} parameter {name}={values[lookup]!r}: {error.message}")
    for name in query:
        if ("query", name) not in declared:
            problems.append(f"query parameter {name!r} is not declared for {route.operation_id}")
    request_body = route.op.get("requestBody")
    if request_body is None:
        if body is not None:
            problems.append(f"{route.operation_id} takes no request body")
        return problems
    content = request_body.get("content", {})
    if body is None:
        if request_body.get("required"):
            problems.append("the request body is required")
        return problems
    if "application/json" not in content:
        return problems
    schema = content["application/json"]["schema"]
    validator = _validator(json.dumps(schema, sort_keys=True))
    for error in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in error.absolute_path) or "(body)"
        problems.append(f"body {where}: {error.message}")
    return problems


def check_response(route: _Route, status: int, payload: Any) -> list[str]:
    """Where one of the fake's answers differs from the spec's schema for that status."""
    response = route.op.get("responses", {}).get(str(status))
    if response is None:
        if 200 <= status < 300:
            return [f"status {status} is not a documented answer of {route.operation_id}"]
        return []  # errors the spec does not list (e.g. 401) are GitHub-wide
    response = _deref(response)
    schema = response.get("content", {}).get("application/json", {}).get("schema")
    if schema is None:
        return []
    validator = _validator(json.dumps(schema, sort_keys=True))
    problems = []
    for error in sorted(validator.iter_errors(payload), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in error.absolute_path) or "(body)"
        problems.append(f"answer {status} {where}: {error.message[:300]}")
    return problems


# -- the key the fake app signs with ------------------------------------------------------


@cache
def _app_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


# -- the server ---------------------------------------------------------------------------


class FakeGitHub(LoopbackServer):
    """The server, its repositories and what it received. Use as a context manager."""

    def __init__(
        self, *, app_id: int = 4242, installation_id: int = 777, api_prefix: str = ""
    ) -> None:
        self.api_prefix = api_prefix.rstrip("/")  # "/api/v3" serves like GitHub Enterprise Server
        self.requests: list[RecordedRequest] = []
        self.violations: list[Violation] = []
        self.unimplemented: list[RecordedRequest] = []
        self.response_violations: list[Violation] = []  # the fake's own answers vs the spec
        self.crashes: list[str] = []  # tracebacks of bugs in the fake itself (answered 500)
        self.repos: dict[str, FakeRepo] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.app_id = app_id
        self.installation_id = installation_id
        self.installations: dict[int, str] = {}  # installation id -> account login
        self.rate_limit_remaining = 5000
        self.token_lifetime = 3600.0
        self._key = _app_key()
        self.private_key_pem: str = self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ).decode()
        self._tokens: dict[str, _Token] = {}
        self._faults: list[_Fault] = []
        self._lock = threading.RLock()
        self._ids = itertools.count(1001)
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._serve(server)
        self.token = self.add_token(BOT_LOGIN, expires=None)  # a ready-made token for the bot

    # -- lifecycle

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.api_prefix}"

    # -- set-up helpers for tests

    def next_id(self) -> int:
        with self._lock:
            return next(self._ids)

    def add_user(self, login: str, *, type: str | None = None) -> dict[str, Any]:
        """A GitHub user; logins ending in `[bot]` are Bots."""
        with self._lock:
            if login not in self.users:
                kind = type or ("Bot" if login.endswith("[bot]") else "User")
                user_id = self.next_id()
                self.users[login] = {
                    "login": login,
                    "id": user_id,
                    "node_id": f"U_{user_id}",
                    "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}?v=4",
                    "gravatar_id": "",
                    "url": f"{self.base_url}/users/{urllib.parse.quote(login)}",
                    "html_url": f"{HTML}/{'apps/' + APP_SLUG if kind == 'Bot' else login}",
                    "type": kind,
                    "user_view_type": "public",
                    "site_admin": False,
                }
                for name in (
                    "followers",
                    "subscriptions",
                    "organizations",
                    "repos",
                    "received_events",
                ):
                    self.users[login][f"{name}_url"] = f"{self.users[login]['url']}/{name}"
                for name, suffix in (
                    ("following_url", "/following{/other_user}"),
                    ("gists_url", "/gists{/gist_id}"),
                    ("starred_url", "/starred{/owner}{/repo}"),
                    ("events_url", "/events{/privacy}"),
                ):
                    self.users[login][name] = self.users[login]["url"] + suffix
            return self.users[login]

    def add_token(
        self, login: str = BOT_LOGIN, *, expires: float | None = None, read_only: bool = False
    ) -> str:
        """A token that authenticates as `login` (expires: seconds from now, None = never).
        A `read_only` token is refused every write with 403, as a fork PR's workflow token is."""
        self.add_user(login)
        token = ("ghs_" if login.endswith("[bot]") else "ghp_") + secrets.token_hex(18)
        with self._lock:
            self._tokens[token] = _Token(
                login, None if expires is None else time.time() + expires, None, read_only
            )
        return token

    def expire_tokens(self) -> None:
        """End every installation token now (the ready-made `token` keeps working)."""
        with self._lock:
            for token in self._tokens.values():
                if token.installation_id is not None:
                    token.expires = time.time() - 1

    def add_repo(
        self,
        full_name: str,
        files: Mapping[str, str | bytes] | None = None,
        *,
        default_branch: str = "main",
        private: bool = False,
        permissions: Mapping[str, str] | None = None,
    ) -> FakeRepo:
        """A repository; with `files`, a first commit on the default branch holds them."""
        owner, name = full_name.split("/")
        self.add_user(owner)
        repo = FakeRepo(owner, name, self.next_id(), default_branch, private)
        repo.permissions.update(permissions or {})
        if files is not None:
            repo.commit(files, message="initial commit")
        with self._lock:
            self.repos[full_name] = repo
            self.installations.setdefault(self.installation_id, owner)
        return repo

    def repo(self, full_name: str) -> FakeRepo:
        return self.repos[full_name]

    def add_pull(
        self,
        repo: FakeRepo | str,
        base: Mapping[str, str | bytes] | None = None,
        head: Mapping[str, str | bytes] | None = None,
        *,
        number: int | None = None,
        title: str = "A change",
        body: str | None = "Please review.",
        user: str = "octocat",
        head_ref: str | None = None,
        base_ref: str | None = None,
        draft: bool = False,
        state: str = "open",
        files: list[PullFile] | None = None,
    ) -> FakePull:
        """A PR whose base branch holds `base` and whose head branch (one commit on top)
        holds `head`; its files are the difflib diff of the two. Pass `files` to serve
        your own list (patches as GitHub gives them) instead. With `base` None the base
        branch is used as it is; with `head` None the head commit keeps the base files."""
        if isinstance(repo, str):
            repo = self.repos[repo]
        self.add_user(user)
        base_ref = base_ref or repo.default_branch
        number = number or self._next_number(repo)
        head_ref = head_ref or f"feature-{number}"
        if base is not None:
            tip = repo.resolve(base_ref)
            if tip is None or tip.files != dict(base):
                repo.commit(base, branch=base_ref, message="base", author=user)
        elif base_ref not in repo.branches:
            repo.commit({}, branch=base_ref, message="empty")
        base_sha = repo.branches[base_ref]
        head_files = dict(repo.commits[base_sha].files if head is None else head)
        repo.commit(head_files, branch=head_ref, parents=[base_sha], message=title, author=user)
        pull = FakePull(
            repo=repo,
            number=number,
            id=self.next_id(),
            title=title,
            body=body,
            user=user,
            head_ref=head_ref,
            base_ref=base_ref,
            head_repo=repo,
            state=state,
            draft=draft,
            files_override=files,
        )
        with self._lock:
            repo.pulls[number] = pull
        return pull

    def push(self, pull: FakePull, files: Mapping[str, str | bytes], message: str = "more") -> str:
        """A new commit on the PR's head branch (it now holds exactly `files`)."""
        pull.files_override = None
        return pull.head_repo.commit(files, branch=pull.head_ref, message=message, author=pull.user)

    def force_push(self, pull: FakePull, files: Mapping[str, str | bytes]) -> str:
        """Rewrite the PR's head branch: one new commit on the base, so the old head
        is no longer an ancestor of the new one (a rebase or amended history)."""
        pull.files_override = None
        return pull.head_repo.commit(
            files,
            branch=pull.head_ref,
            parents=[pull.base_sha],
            message="rewritten",
            author=pull.user,
        )

    def reply_to_review_comment(
        self, pull: FakePull, comment_id: int, body: str, *, user: str = "octocat"
    ) -> dict[str, Any]:
        """A reply in a review thread, as if `user` wrote it."""
        self.add_user(user)
        return _reply(self, pull, comment_id, body, user)

    def add_issue_comment(
        self,
        pull: FakePull,
        body: str,
        *,
        user: str = "octocat",
        author_association: str | None = None,
    ) -> dict[str, Any]:
        """A comment on the PR's conversation, as if `user` wrote it."""
        return self._create_issue_comment(pull.repo, pull.number, body, user, author_association)

    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
        body: Any = None,
        *,
        after: bool = False,
    ) -> FakeGitHub:
        """Answer the next `times` requests whose method and path (with query) match with
        `status` (a GitHub-style error body unless `body` is given); with `after`, only
        once the request was carried out (the review is created, the answer is an error)."""
        self._add_fault(method, path_regex, status, headers, body, times, after=after)
        return self

    def rate_limit_next(
        self, method: str, path_regex: str, *, reset: int, status: int = 403, times: int = 1
    ) -> FakeGitHub:
        """GitHub's primary rate limit: `status` (403 or 429) with `x-ratelimit-remaining: 0`
        and `x-ratelimit-reset: reset` (epoch seconds), and GitHub's message."""
        headers = {
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Used": "5000",
            "X-RateLimit-Reset": str(reset),
        }
        body = {
            "message": f"API rate limit exceeded for installation ID {self.installation_id}.",
            "documentation_url": RATE_LIMIT_DOCS,
            "status": str(status),
        }
        self._add_fault(method, path_regex, status, headers, body, times)
        return self

    def secondary_limit_next(
        self,
        method: str,
        path_regex: str,
        *,
        retry_after: int | None,
        status: int = 403,
        times: int = 1,
    ) -> FakeGitHub:
        """GitHub's secondary rate limit: `status` (403 or 429), `retry-after` seconds
        (None: no header, only the message), and GitHub's message."""
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        body = {
            "message": "You have exceeded a secondary rate limit. Please wait a few minutes "
            "before you try again. If you reach out to GitHub Support for help, please "
            "include the request ID 0000:0000:0000000:0000000:00000000.",
            "documentation_url": RATE_LIMIT_DOCS,
            "status": str(status),
        }
        self._add_fault(method, path_regex, status, headers, body, times)
        return self

    def drop_next(
        self, method: str, path_regex: str, *, after: bool = False, times: int = 1
    ) -> FakeGitHub:
        """Reset the connection instead of answering; with `after`, once the request was
        carried out (the client cannot know it was)."""
        self._add_fault(method, path_regex, None, None, None, times, after=after, drop=True)
        return self

    def slow_next(
        self,
        method: str,
        path_regex: str,
        *,
        seconds: float = 0.0,
        until: threading.Event | None = None,
        times: int = 1,
    ) -> threading.Event:
        """Carry the request out, then hold its answer back `seconds`, or until `until`
        is set. Returns an event set once such a request has arrived."""
        fault = self._add_fault(
            method, path_regex, None, None, None, times, after=True, delay=seconds, until=until
        )
        return fault.fired

    def _add_fault(
        self,
        method: str,
        path_regex: str,
        status: int | None,
        headers: Mapping[str, str] | None,
        body: Any,
        times: int,
        **how: Any,
    ) -> _Fault:
        fault = _Fault(
            method.upper(), re.compile(path_regex), status, dict(headers or {}), body, times, **how
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.method == method and fault.pattern.search(path) and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    def add_installation(self, account: str) -> int:
        """Another installation of the App (on `account`); its id."""
        self.add_user(account)
        with self._lock:
            installation_id = next(self._ids)
            self.installations[installation_id] = account
        return installation_id

    # -- what tests read

    def faults_left(self) -> int:
        """How many faulted answers are still to come (0: every fault struck)."""
        with self._lock:
            return sum(fault.times for fault in self._faults)

    def installation_of(self, request: RecordedRequest) -> int | None:
        """The installation whose token authenticated `request` (None: another kind)."""
        _, _, credential = request.headers.get("authorization", "").partition(" ")
        with self._lock:
            token = self._tokens.get(credential.strip())
        return token.installation_id if token is not None else None

    def calls(self, operation_id: str) -> list[RecordedRequest]:
        """The requests that matched an OpenAPI operation, e.g. "pulls/create-review"."""
        with self._lock:
            return [r for r in self.requests if r.operation_id == operation_id]

    def reviews(self, pull: FakePull) -> list[dict[str, Any]]:
        return list(pull.reviews)

    def review_comments(self, pull: FakePull) -> list[dict[str, Any]]:
        return list(pull.review_comments)

    def issue_comments(self, pull: FakePull) -> list[dict[str, Any]]:
        repo = pull.repo
        return [c for i, c in repo.issue_comments.items() if repo.comment_issue[i] == pull.number]

    # -- JSON shapes

    def _url(self, *parts: object) -> str:
        return "/".join([self.base_url, *(str(p) for p in parts)])

    def _repo_json(self, repo: FakeRepo) -> dict[str, Any]:
        url = self._url("repos", repo.owner, repo.name)
        data: dict[str, Any] = {
            "id": repo.id,
            "node_id": f"R_{repo.id}",
            "name": repo.name,
            "full_name": repo.full_name,
            "owner": self.add_user(repo.owner),
            "private": repo.private,
            "visibility": "private" if repo.private else "public",
            "html_url": f"{HTML}/{repo.full_name}",
            "description": None,
            "fork": False,
            "url": url,
            "default_branch": repo.default_branch,
            "archived": False,
            "disabled": False,
            "created_at": "2020-01-01T00:00:00Z",
            "updated_at": _now(),
            "pushed_at": _now(),
            "clone_url": f"{HTML}/{repo.full_name}.git",
            "git_url": f"git://github.com/{repo.full_name}.git",
            "ssh_url": f"git@github.com:{repo.full_name}.git",
            "svn_url": f"{HTML}/{repo.full_name}",
            "mirror_url": None,
            "homepage": None,
            "language": None,
            "license": None,
            "size": 1,
            "forks": 0,
            "forks_count": 0,
            "stargazers_count": 0,
            "watchers": 0,
            "watchers_count": 0,
            "open_issues": sum(1 for p in repo.pulls.values() if p.state == "open"),
            "open_issues_count": sum(1 for p in repo.pulls.values() if p.state == "open"),
            "network_count": 0,
            "subscribers_count": 0,
            "has_issues": True,
            "has_projects": True,
            "has_wiki": True,
            "has_pages": False,
            "has_downloads": True,
            "has_discussions": False,
            "is_template": False,
            "topics": [],
            "allow_forking": True,
            "web_commit_signoff_required": False,
        }
        for name, suffix in (
            ("compare_url", "/compare/{base}...{head}"),
            ("contents_url", "/contents/{+path}"),
            ("commits_url", "/commits{/sha}"),
            ("pulls_url", "/pulls{/number}"),
            ("issues_url", "/issues{/number}"),
            ("issue_comment_url", "/issues/comments{/number}"),
            ("collaborators_url", "/collaborators{/collaborator}"),
            ("branches_url", "/branches{/branch}"),
            ("git_commits_url", "/git/commits{/sha}"),
            ("trees_url", "/git/trees{/sha}"),
            ("blobs_url", "/git/blobs{/sha}"),
            ("archive_url", "/{archive_format}{/ref}"),
            ("assignees_url", "/assignees{/user}"),
            ("comments_url", "/comments{/number}"),
            ("contributors_url", "/contributors"),
            ("deployments_url", "/deployments"),
            ("downloads_url", "/downloads"),
            ("events_url", "/events"),
            ("forks_url", "/forks"),
            ("git_refs_url", "/git/refs{/sha}"),
            ("git_tags_url", "/git/tags{/sha}"),
            ("hooks_url", "/hooks"),
            ("issue_events_url", "/issues/events{/number}"),
            ("keys_url", "/keys{/key_id}"),
            ("labels_url", "/labels{/name}"),
            ("languages_url", "/languages"),
            ("merges_url", "/merges"),
            ("milestones_url", "/milestones{/number}"),
            ("notifications_url", "/notifications{?since,all,participating}"),
            ("releases_url", "/releases{/id}"),
            ("stargazers_url", "/stargazers"),
            ("statuses_url", "/statuses/{sha}"),
            ("subscribers_url", "/subscribers"),
            ("subscription_url", "/subscription"),
            ("tags_url", "/tags"),
            ("teams_url", "/teams"),
        ):
            data[name] = url + suffix
        return data

    def _pull_json(self, pull: FakePull) -> dict[str, Any]:
        repo = pull.repo
        url = self._url("repos", repo.owner, repo.name, "pulls", pull.number)
        issue_url = self._url("repos", repo.owner, repo.name, "issues", pull.number)
        html = f"{HTML}/{repo.full_name}/pull/{pull.number}"
        files = pull.files
        additions = deletions = 0
        for item in files:
            plus, minus = item.counts()
            additions += plus
            deletions += minus

        def part(which: FakeRepo, ref: str, sha: str) -> dict[str, Any]:
            return {
                "label": f"{which.owner}:{ref}",
                "ref": ref,
                "sha": sha,
                "user": self.add_user(which.owner),
                "repo": self._repo_json(which),
            }

        issue_count = sum(1 for n in repo.comment_issue.values() if n == pull.number)
        return {
            "url": url,
            "id": pull.id,
            "node_id": f"PR_{pull.id}",
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": issue_url,
            "commits_url": f"{url}/commits",
            "review_comments_url": f"{url}/comments",
            "review_comment_url": self._url(
                "repos", repo.owner, repo.name, "pulls/comments{/number}"
            ),
            "comments_url": f"{issue_url}/comments",
            "statuses_url": self._url("repos", repo.owner, repo.name, "statuses", pull.head_sha),
            "number": pull.number,
            "state": pull.state,
            "locked": False,
            "title": pull.title,
            "user": self.add_user(pull.user),
            "body": pull.body,
            "labels": [],
            "milestone": None,
            "active_lock_reason": None,
            "created_at": pull.created_at,
            "updated_at": _now(),
            "closed_at": None,
            "merged_at": None,
            "merge_commit_sha": None,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [],
            "requested_teams": [],
            "head": part(pull.head_repo, pull.head_ref, pull.head_sha),
            "base": part(repo, pull.base_ref, pull.base_sha),
            "_links": {
                "self": {"href": url},
                "html": {"href": html},
                "issue": {"href": issue_url},
                "comments": {"href": f"{issue_url}/comments"},
                "review_comments": {"href": f"{url}/comments"},
                "review_comment": {
                    "href": self._url("repos", repo.owner, repo.name, "pulls/comments{/number}")
                },
                "commits": {"href": f"{url}/commits"},
                "statuses": {
                    "href": self._url("repos", repo.owner, repo.name, "statuses", pull.head_sha)
                },
            },
            "author_association": self._association(repo, pull.user),
            "auto_merge": None,
            "draft": pull.draft,
            "merged": False,
            "mergeable": True,
            "rebaseable": True,
            "mergeable_state": "clean",
            "merged_by": None,
            "comments": issue_count,
            "review_comments": len(pull.review_comments),
            "maintainer_can_modify": False,
            "commits": len(repo.ancestors(pull.head_sha)) - len(repo.ancestors(pull.base_sha))
            if pull.head_sha in repo.commits
            else 1,
            "additions": additions,
            "deletions": deletions,
            "changed_files": len(files),
        }

    def _file_json(self, repo: FakeRepo, item: PullFile, ref: str) -> dict[str, Any]:
        additions, deletions = item.counts()
        path = urllib.parse.quote(item.filename)
        data: dict[str, Any] = {
            "sha": item.sha or blob_sha(item.filename),
            "filename": item.filename,
            "status": item.status,
            "additions": additions,
            "deletions": deletions,
            "changes": additions + deletions,
            "blob_url": f"{HTML}/{repo.full_name}/blob/{ref}/{path}",
            "raw_url": f"{HTML}/{repo.full_name}/raw/{ref}/{path}",
            "contents_url": self._url("repos", repo.owner, repo.name, "contents", path)
            + f"?ref={ref}",
        }
        if item.patch is not None:
            data["patch"] = item.patch
        if item.previous_filename is not None:
            data["previous_filename"] = item.previous_filename
        return data

    def _commit_json(self, repo: FakeRepo, commit: FakeCommit, *, files: bool) -> dict[str, Any]:
        url = self._url("repos", repo.owner, repo.name, "commits", commit.sha)
        person = {
            "name": commit.author,
            "email": f"{commit.author}@example.com",
            "date": commit.date,
        }
        data: dict[str, Any] = {
            "sha": commit.sha,
            "node_id": f"C_{commit.sha[:12]}",
            "url": url,
            "html_url": f"{HTML}/{repo.full_name}/commit/{commit.sha}",
            "comments_url": f"{url}/comments",
            "commit": {
                "url": self._url("repos", repo.owner, repo.name, "git/commits", commit.sha),
                "author": person,
                "committer": person,
                "message": commit.message,
                "tree": {
                    "sha": _sha1(commit.sha.encode()),
                    "url": self._url("repos", repo.owner, repo.name, "git/trees", commit.sha),
                },
                "comment_count": 0,
                "verification": {
                    "verified": False,
                    "reason": "unsigned",
                    "signature": None,
                    "payload": None,
                    "verified_at": None,
                },
            },
            "author": self.add_user(commit.author),
            "committer": self.add_user(commit.author),
            "parents": [
                {
                    "sha": parent,
                    "url": self._url("repos", repo.owner, repo.name, "commits", parent),
                    "html_url": f"{HTML}/{repo.full_name}/commit/{parent}",
                }
                for parent in commit.parents
            ],
        }
        if files:
            before = repo.commits[commit.parents[0]].files if commit.parents else {}
            changed = diff_files(before, commit.files)
            data["files"] = [self._file_json(repo, item, commit.sha) for item in changed]
            additions = sum(item.counts()[0] for item in changed)
            deletions = sum(item.counts()[1] for item in changed)
            data["stats"] = {
                "total": additions + deletions,
                "additions": additions,
                "deletions": deletions,
            }
        return data

    def _association(self, repo: FakeRepo, login: str) -> str:
        if login == repo.owner:
            return "OWNER"
        if login.endswith("[bot]"):
            return "NONE"
        if repo.permissions.get(login) in ("admin", "maintain", "write", "triage"):
            return "COLLABORATOR"
        if any(p.user == login for p in repo.pulls.values()):
            return "CONTRIBUTOR"
        return "NONE"

    def _app_json(self) -> dict[str, Any]:
        owner = self.installations.get(self.installation_id, "octo")
        return {
            "id": self.app_id,
            "slug": APP_SLUG,
            "node_id": f"A_{self.app_id}",
            "client_id": f"Iv1.{self.app_id:016x}",
            "owner": self.add_user(owner),
            "name": "twelve-review",
            "description": "A pull-request reviewer",
            "external_url": "https://example.com",
            "html_url": f"{HTML}/apps/{APP_SLUG}",
            "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-01-01T00:00:00Z",
            "permissions": {
                "contents": "read",
                "issues": "write",
                "metadata": "read",
                "pull_requests": "write",
            },
            "events": ["pull_request", "issue_comment"],
            "installations_count": len(self.installations),
        }

    def _installation_json(self, installation_id: int) -> dict[str, Any]:
        account = self.add_user(self.installations[installation_id])
        return {
            "id": installation_id,
            "account": account,
            "repository_selection": "all",
            "access_tokens_url": self._url("app/installations", installation_id, "access_tokens"),
            "repositories_url": self._url("installation/repositories"),
            "html_url": f"{HTML}/settings/installations/{installation_id}",
            "app_id": self.app_id,
            "app_slug": APP_SLUG,
            "target_id": account["id"],
            "target_type": "Organization" if account["type"] == "Organization" else "User",
            "permissions": self._app_json()["permissions"],
            "events": self._app_json()["events"],
            "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-01-01T00:00:00Z",
            "single_file_name": None,
            "suspended_by": None,
            "suspended_at": None,
        }

    def _reactions_summary(self, repo: FakeRepo, comment_id: int) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "url": self._url(
                "repos", repo.owner, repo.name, "issues/comments", comment_id, "reactions"
            ),
            "total_count": 0,
        }
        for content in ("+1", "-1", "laugh", "hooray", "confused", "heart", "rocket", "eyes"):
            summary[content] = 0
        for reaction in repo.reactions.get(comment_id, []):
            summary[reaction["content"]] += 1
            summary["total_count"] += 1
        return summary

    # -- state changes behind the endpoints

    def _next_number(self, repo: FakeRepo) -> int:
        return max(repo.pulls, default=0) + 1

    def _create_issue_comment(
        self,
        repo: FakeRepo,
        number: int,
        body: str,
        login: str,
        association: str | None = None,
    ) -> dict[str, Any]:
        user = self.add_user(login)
        comment_id = self.next_id()
        now = _now()
        comment = {
            "id": comment_id,
            "node_id": f"IC_{comment_id}",
            "url": self._url("repos", repo.owner, repo.name, "issues/comments", comment_id),
            "html_url": f"{HTML}/{repo.full_name}/pull/{number}#issuecomment-{comment_id}",
            "body": body,
            "user": user,
            "created_at": now,
            "updated_at": now,
            "issue_url": self._url("repos", repo.owner, repo.name, "issues", number),
            "author_association": association or self._association(repo, login),
            "performed_via_github_app": self._app_json() if login == BOT_LOGIN else None,
        }
        with self._lock:
            repo.issue_comments[comment_id] = comment
            repo.comment_issue[comment_id] = number
            comment["reactions"] = self._reactions_summary(repo, comment_id)
        return comment


# -- the endpoints -------------------------------------------------------------------------


@dataclass
class _Call:
    fake: FakeGitHub
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    login: str | None
    installation_id: int | None

    def repo(self) -> FakeRepo:
        name = f"{self.params['owner']}/{self.params['repo']}"
        repo = self.fake.repos.get(name)
        if repo is None or (self.installation_id is not None and not repo.installed):
            raise _Error(404, "Not Found")
        return repo

    def pull(self) -> FakePull:
        repo = self.repo()
        number = int(self.params.get("pull_number") or self.params.get("issue_number") or 0)
        pull = repo.pulls.get(number)
        if pull is None:
            raise _Error(404, "Not Found")
        return pull

    def page(self, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
        """One page of `items` and GitHub's Link header for the others."""
        per_page = min(int(self.query.get("per_page", 30)), MAX_PER_PAGE) or 30
        page = max(int(self.query.get("page", 1)), 1)
        last = max((len(items) + per_page - 1) // per_page, 1)
        chunk = items[(page - 1) * per_page : page * per_page]

        def link(number: int, rel: str) -> str:
            query = dict(self.query, per_page=str(per_page), page=str(number))
            if "per_page" not in self.query:
                query.pop("per_page")
            return f'<{self.fake.base_url}{self.path}?{urllib.parse.urlencode(query)}>; rel="{rel}"'

        links = []
        if page > 1:
            links.append(link(min(page - 1, last), "prev"))
        if page < last:
            links.append(link(page + 1, "next"))
            links.append(link(last, "last"))
        if page > 1:
            links.append(link(1, "first"))
        return chunk, ({"Link": ", ".join(links)} if links else {})


Answer = tuple[int, Any, dict[str, str]]


def _ok(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Answer:
    return status, payload, headers or {}


def _get_repo(call: _Call) -> Answer:
    return _ok(call.fake._repo_json(call.repo()))


def _get_pull(call: _Call) -> Answer:
    return _ok(call.fake._pull_json(call.pull()))


def _list_pulls(call: _Call) -> Answer:
    repo = call.repo()
    state = call.query.get("state", "open")
    pulls = [
        call.fake._pull_json(p)
        for n, p in sorted(repo.pulls.items(), reverse=True)
        if state in ("all", p.state)
    ]
    chunk, headers = call.page(pulls)
    return _ok(chunk, headers=headers)


def _list_files(call: _Call) -> Answer:
    pull = call.pull()
    files = [call.fake._file_json(pull.repo, f, pull.head_sha) for f in pull.files]
    chunk, headers = call.page(files[:3000])
    return _ok(chunk, headers=headers)


def _get_content(call: _Call) -> Answer:
    repo = call.repo()
    ref = call.query.get("ref")
    commit = repo.resolve(ref)
    if commit is None:
        raise _Error(404, f"No commit found for the ref {ref}")
    path = call.params["path"].strip("/")
    fake = call.fake
    url_ref = ref or repo.default_branch

    def entry(name: str, kind: str, content: str | bytes | None) -> dict[str, Any]:
        quoted = urllib.parse.quote(name)
        url = fake._url("repos", repo.owner, repo.name, "contents", quoted) + f"?ref={url_ref}"
        sha = blob_sha(content) if content is not None else _sha1(name.encode())
        html = f"{HTML}/{repo.full_name}/{'blob' if kind == 'file' else 'tree'}/{url_ref}/{quoted}"
        git = fake._url(
            "repos", repo.owner, repo.name, "git", "blobs" if kind == "file" else "trees", sha
        )
        return {
            "type": kind,
            "size": len(_bytes(content)) if content is not None else 0,
            "name": name.rsplit("/", 1)[-1],
            "path": name,
            "sha": sha,
            "url": url,
            "git_url": git,
            "html_url": html,
            "download_url": f"https://raw.githubusercontent.com/{repo.full_name}/{url_ref}/{quoted}"
            if kind == "file"
            else None,
            "_links": {"self": url, "git": git, "html": html},
        }

    if path in commit.files:
        content = commit.files[path]
        data = entry(path, "file", content)
        raw = _bytes(content)
        if len(raw) > CONTENT_INLINE_LIMIT:
            data.update(encoding="none", content="")
        else:
            encoded = base64.b64encode(raw).decode()
            lines = [encoded[i : i + 60] for i in range(0, len(encoded), 60)]
            data.update(encoding="base64", content="\n".join(lines) + ("\n" if lines else ""))
        return _ok(data)
    prefix = f"{path}/" if path else ""
    children: dict[str, str | bytes | None] = {}
    for name, content in commit.files.items():
        if name.startswith(prefix):
            rest = name[len(prefix) :]
            child = prefix + rest.split("/", 1)[0]
            children[child] = content if "/" not in rest else None
    if not children:
        raise _Error(
            404, "Not Found", documentation_url=f"{DOCS}/repos/contents#get-repository-content"
        )
    listing = [
        entry(name, "file" if content is not None else "dir", content)
        for name, content in sorted(children.items())
    ]
    return _ok(listing)


def _get_commit(call: _Call) -> Answer:
    repo = call.repo()
    commit = repo.resolve(call.params["ref"])
    if commit is None:
        raise _Error(422, f"No commit found for SHA: {call.params['ref']}")
    return _ok(call.fake._commit_json(repo, commit, files=True))


def _compare(call: _Call) -> Answer:
    repo = call.repo()
    base = repo.resolve(call.params["base"])
    head = repo.resolve(call.params["head"])
    if base is None or head is None:
        raise _Error(404, "Not Found")
    fake = call.fake
    merge_base = repo.merge_base(base.sha, head.sha)
    from_base = repo.ancestors(base.sha)
    from_head = repo.ancestors(head.sha)
    ahead = sorted((s for s in from_head if s not in from_base), key=lambda s: -from_head[s])
    behind = [s for s in from_base if s not in from_head]
    if base.sha == head.sha:
        status = "identical"
    elif not behind:
        status = "ahead"
    elif not ahead:
        status = "behind"
    else:
        status = "diverged"
    base_files = repo.commits[merge_base].files if merge_base else {}
    changed = diff_files(base_files, head.files)
    basehead = f"{call.params['base']}...{call.params['head']}"
    commits = [fake._commit_json(repo, repo.commits[s], files=False) for s in ahead]
    chunk, headers = (
        call.page(commits)
        if "page" in call.query or "per_page" in call.query
        else (
            commits[:250],
            {},
        )
    )
    return _ok(
        {
            "url": fake._url("repos", repo.owner, repo.name, "compare", basehead),
            "html_url": f"{HTML}/{repo.full_name}/compare/{basehead}",
            "permalink_url": f"{HTML}/{repo.full_name}/compare/{base.sha}...{head.sha}",
            "diff_url": f"{HTML}/{repo.full_name}/compare/{basehead}.diff",
            "patch_url": f"{HTML}/{repo.full_name}/compare/{basehead}.patch",
            "base_commit": fake._commit_json(repo, base, files=False),
            "merge_base_commit": fake._commit_json(
                repo, repo.commits[merge_base] if merge_base else base, files=False
            ),
            "status": status,
            "ahead_by": len(ahead),
            "behind_by": len(behind),
            "total_commits": len(ahead),
            "commits": chunk,
            "files": [fake._file_json(repo, item, head.sha) for item in changed[:300]],
        },
        headers=headers,
    )


def _anchor_errors(comment: Mapping[str, Any], files: Mapping[str, PullFile]) -> list[str]:
    """Why GitHub would refuse one inline comment of a review (empty when it is fine)."""
    item = files.get(str(comment.get("path")))
    if item is None:
        return ["Path could not be resolved"]
    lines = patch_lines(item.patch)
    if "position" in comment and "line" not in comment:
        position = comment["position"]
        valid = {line.position for line in lines if line.kind != "@"}
        return [] if position in valid else ["Line could not be resolved"]
    if "line" not in comment:
        return ["Line could not be resolved"]
    side = comment.get("side", "RIGHT")
    if side not in ("LEFT", "RIGHT"):
        return [f"pull_request_review_thread.side is not included in the list: {side}"]

    def find(number: Any, which: str) -> PatchLine | None:
        for line in lines:
            if (line.new if which == "RIGHT" else line.old) == number:
                return line
        return None

    end = find(comment["line"], side)
    if end is None:
        return ["Line could not be resolved"]
    if "start_line" in comment:
        start_side = comment.get("start_side", side)
        if start_side not in ("LEFT", "RIGHT"):
            return [
                f"pull_request_review_thread.start_side is not included in the list: {start_side}"
            ]
        start = find(comment["start_line"], start_side)
        if start is None:
            return ["Line could not be resolved"]
        if start.position >= end.position:
            return ["pull_request_review_thread.start_line must precede the end line."]
        if start.hunk != end.hunk:
            return [
                "pull_request_review_thread.start_line must be part of the same hunk as the line."
            ]
    return []


def _diff_hunk(item: PullFile, position: int) -> str:
    """GitHub's `diff_hunk`: the hunk header down to the commented line."""
    if not item.patch:
        return ""
    out: list[str] = []
    current = 0
    for text in item.patch.split("\n"):
        if text.startswith("@@"):
            if current >= position:
                break
            out = [text]
            if current:
                current += 1
            continue
        current += 1
        out.append(text)
        if current == position:
            break
    return "\n".join(out)


def _review_comment_json(
    call: _Call, pull: FakePull, review: dict[str, Any], comment: Mapping[str, Any], item: PullFile
) -> dict[str, Any]:
    fake = call.fake
    repo = pull.repo
    comment_id = fake.next_id()
    lines = patch_lines(item.patch)
    side = comment.get("side", "RIGHT")
    if "line" in comment:
        target = next(
            line for line in lines if (line.new if side == "RIGHT" else line.old) == comment["line"]
        )
        line_no: int | None = comment["line"]
    else:
        target = next(line for line in lines if line.position == comment["position"])
        line_no = target.new if target.new is not None else target.old
        side = "RIGHT" if target.new is not None else "LEFT"
    url = fake._url("repos", repo.owner, repo.name, "pulls/comments", comment_id)
    pr_url = fake._url("repos", repo.owner, repo.name, "pulls", pull.number)
    html = f"{HTML}/{repo.full_name}/pull/{pull.number}#discussion_r{comment_id}"
    return {
        "url": url,
        "pull_request_review_id": review["id"],
        "id": comment_id,
        "node_id": f"PRRC_{comment_id}",
        "diff_hunk": _diff_hunk(item, target.position),
        "path": item.filename,
        "position": target.position,
        "original_position": target.position,
        "commit_id": review["commit_id"],
        "original_commit_id": review["commit_id"],
        "user": review["user"],
        "body": comment["body"],
        "created_at": review["fake:created_at"],
        "updated_at": review["fake:created_at"],
        "html_url": html,
        "pull_request_url": pr_url,
        "author_association": review["author_association"],
        "_links": {
            "self": {"href": url},
            "html": {"href": html},
            "pull_request": {"href": pr_url},
        },
        "start_line": comment.get("start_line"),
        "original_start_line": comment.get("start_line"),
        "start_side": comment.get("start_side", side) if "start_line" in comment else None,
        "line": line_no,
        "original_line": line_no,
        "side": side,
        "subject_type": "line",
    }


_REVIEW_STATE = {
    None: "PENDING",
    "APPROVE": "APPROVED",
    "REQUEST_CHANGES": "CHANGES_REQUESTED",
    "COMMENT": "COMMENTED",
}


def _public(review: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in review.items() if not k.startswith("fake:")}


def _new_review(
    fake: FakeGitHub, pull: FakePull, login: str, state: str, body: str, commit_id: str
) -> dict[str, Any]:
    """A review record as GitHub stores it (submitted unless PENDING)."""
    repo = pull.repo
    review_id = fake.next_id()
    url = fake._url("repos", repo.owner, repo.name, "pulls", pull.number)
    html = f"{HTML}/{repo.full_name}/pull/{pull.number}#pullrequestreview-{review_id}"
    now = _now()
    review: dict[str, Any] = {
        "id": review_id,
        "node_id": f"PRR_{review_id}",
        "user": fake.add_user(login),
        "body": body,
        "state": state,
        "html_url": html,
        "pull_request_url": url,
        "author_association": fake._association(repo, login),
        "_links": {"html": {"href": html}, "pull_request": {"href": url}},
        "commit_id": commit_id,
        "fake:created_at": now,
    }
    if state != "PENDING":
        review["submitted_at"] = now
    return review


def _create_review(call: _Call) -> Answer:
    pull = call.pull()
    repo = pull.repo
    fake = call.fake
    body = call.body if isinstance(call.body, dict) else {}
    event = body.get("event")
    comments = body.get("comments") or []
    login = call.login or BOT_LOGIN
    commit_id = body.get("commit_id") or pull.head_sha
    if commit_id not in repo.commits and commit_id not in pull.head_repo.commits:
        raise _unprocessable("Commit not found")  # the message is a guess
    if event in ("REQUEST_CHANGES", "COMMENT") and not body.get("body") and not comments:
        raise _unprocessable(f"Review body is required for {event}")  # the message is a guess
    if event is None and any(
        r["state"] == "PENDING" and r["user"]["login"] == login for r in pull.reviews
    ):
        raise _unprocessable("User can only have one pending review per pull request")
    files = {item.filename: item for item in pull.files_at(commit_id)}
    errors: list[str] = []
    for comment in comments:
        errors.extend(_anchor_errors(comment, files))
    if errors:
        raise _unprocessable(*errors)
    review = _new_review(fake, pull, login, _REVIEW_STATE[event], body.get("body", ""), commit_id)
    created = [
        _review_comment_json(call, pull, review, comment, files[comment["path"]])
        for comment in comments
    ]
    with fake._lock:
        pull.reviews.append(review)
        pull.review_comments.extend(created)
    return _ok(_public(review))


def _visible_comments(pull: FakePull) -> list[dict[str, Any]]:
    pending = {r["id"] for r in pull.reviews if r["state"] == "PENDING"}
    return [c for c in pull.review_comments if c["pull_request_review_id"] not in pending]


def _list_reviews(call: _Call) -> Answer:
    pull = call.pull()
    chunk, headers = call.page([_public(r) for r in pull.reviews])
    return _ok(chunk, headers=headers)


def _find_review(call: _Call) -> tuple[FakePull, dict[str, Any]]:
    pull = call.pull()
    for review in pull.reviews:
        if review["id"] == int(call.params["review_id"]):
            return pull, review
    raise _Error(404, "Not Found")


def _get_review(call: _Call) -> Answer:
    return _ok(_public(_find_review(call)[1]))


def _submit_review(call: _Call) -> Answer:
    _pull, review = _find_review(call)
    if review["state"] != "PENDING":
        raise _unprocessable("Can not submit a non-pending review")  # the message is a guess
    body = call.body if isinstance(call.body, dict) else {}
    review["state"] = _REVIEW_STATE[body["event"]]
    if "body" in body:
        review["body"] = body["body"]
    review["submitted_at"] = _now()
    return _ok(_public(review))


def _delete_pending_review(call: _Call) -> Answer:
    pull, review = _find_review(call)
    if review["state"] != "PENDING":
        raise _unprocessable("Can not delete a non-pending pull request review")
    with call.fake._lock:
        pull.reviews.remove(review)
        pull.review_comments[:] = [
            c for c in pull.review_comments if c["pull_request_review_id"] != review["id"]
        ]
    return _ok(_public(review))


def _reply(
    fake: FakeGitHub, pull: FakePull, target_id: int, body: str, login: str
) -> dict[str, Any]:
    """A reply in the thread of review comment `target_id`. GitHub files each reply
    under a review of its own (state COMMENTED) and points `in_reply_to_id` at it."""
    target = next((c for c in pull.review_comments if c["id"] == target_id), None)
    if target is None:
        raise _Error(404, "Not Found")
    if target.get("in_reply_to_id") is not None:
        raise _unprocessable("Replies to replies are not supported")  # the docs' note
    repo = pull.repo
    review = _new_review(fake, pull, login, "COMMENTED", "", target["commit_id"])
    review_id, now, url = review["id"], review["fake:created_at"], review["pull_request_url"]
    comment_id = fake.next_id()
    comment_url = fake._url("repos", repo.owner, repo.name, "pulls/comments", comment_id)
    comment_html = f"{HTML}/{repo.full_name}/pull/{pull.number}#discussion_r{comment_id}"
    reply = {
        **target,
        "id": comment_id,
        "node_id": f"PRRC_{comment_id}",
        "pull_request_review_id": review_id,
        "in_reply_to_id": target_id,
        "user": review["user"],
        "body": body,
        "created_at": now,
        "updated_at": now,
        "url": comment_url,
        "html_url": comment_html,
        "author_association": review["author_association"],
        "_links": {
            "self": {"href": comment_url},
            "html": {"href": comment_html},
            "pull_request": {"href": url},
        },
    }
    with fake._lock:
        pull.reviews.append(review)
        pull.review_comments.append(reply)
    return reply


def _create_reply(call: _Call) -> Answer:
    pull = call.pull()
    body = call.body if isinstance(call.body, dict) else {}
    reply = _reply(
        call.fake, pull, int(call.params["comment_id"]), body["body"], call.login or BOT_LOGIN
    )
    return _ok(reply, 201, {"Location": reply["url"]})


def _dismiss_review(call: _Call) -> Answer:
    _pull, review = _find_review(call)
    if review["state"] not in ("CHANGES_REQUESTED", "APPROVED"):
        # the message is a guess: GitHub only dismisses approvals and change requests
        raise _unprocessable("Can not dismiss a commented pull request review")
    review["state"] = "DISMISSED"
    review["fake:dismissal"] = call.body.get("message") if isinstance(call.body, dict) else None
    return _ok(_public(review))


def _list_review_comments(call: _Call) -> Answer:
    pull = call.pull()
    chunk, headers = call.page(_visible_comments(pull))
    return _ok(chunk, headers=headers)


def _list_comments_for_review(call: _Call) -> Answer:
    pull, review = _find_review(call)
    items = [c for c in pull.review_comments if c["pull_request_review_id"] == review["id"]]
    chunk, headers = call.page(items)
    return _ok(chunk, headers=headers)


def _issue_comment(call: _Call) -> tuple[FakeRepo, dict[str, Any]]:
    repo = call.repo()
    comment = repo.issue_comments.get(int(call.params["comment_id"]))
    if comment is None:
        raise _Error(404, "Not Found")
    return repo, comment


def _list_issue_comments(call: _Call) -> Answer:
    pull = call.pull()
    comments = call.fake.issue_comments(pull)
    since = call.query.get("since")
    if since:
        comments = [c for c in comments if c["updated_at"] >= since]
    chunk, headers = call.page(comments)
    return _ok(chunk, headers=headers)


def _create_issue_comment(call: _Call) -> Answer:
    pull = call.pull()
    comment = call.fake._create_issue_comment(
        pull.repo, pull.number, call.body["body"], call.login or BOT_LOGIN
    )
    return _ok(comment, 201, {"Location": comment["url"]})


def _get_issue_comment(call: _Call) -> Answer:
    return _ok(_issue_comment(call)[1])


def _update_issue_comment(call: _Call) -> Answer:
    _repo, comment = _issue_comment(call)
    with call.fake._lock:
        comment["body"] = call.body["body"]
        comment["updated_at"] = _now()
    return _ok(comment)


def _delete_issue_comment(call: _Call) -> Answer:
    repo, comment = _issue_comment(call)
    with call.fake._lock:
        del repo.issue_comments[comment["id"]]
        del repo.comment_issue[comment["id"]]
    return _ok(None, 204)


def _create_reaction(call: _Call) -> Answer:
    repo, comment = _issue_comment(call)
    login = call.login or BOT_LOGIN
    content = call.body["content"]
    with call.fake._lock:
        existing = repo.reactions.setdefault(comment["id"], [])
        for reaction in existing:
            if reaction["user"]["login"] == login and reaction["content"] == content:
                return _ok(reaction, 200)
        reaction_id = call.fake.next_id()
        reaction = {
            "id": reaction_id,
            "node_id": f"REA_{reaction_id}",
            "user": call.fake.add_user(login),
            "content": content,
            "created_at": _now(),
        }
        existing.append(reaction)
        comment["reactions"] = call.fake._reactions_summary(repo, comment["id"])
    return _ok(reaction, 201)


def _list_reactions(call: _Call) -> Answer:
    repo, comment = _issue_comment(call)
    items = list(repo.reactions.get(comment["id"], []))
    if "content" in call.query:
        items = [r for r in items if r["content"] == call.query["content"]]
    chunk, headers = call.page(items)
    return _ok(chunk, headers=headers)


def _permission(call: _Call) -> Answer:
    repo = call.repo()
    login = call.params["username"]
    fake = call.fake
    if login == repo.owner:
        permission = "admin"
    elif login in repo.permissions:
        permission = repo.permissions[login]
    elif login in fake.users:
        permission = "none" if repo.private else "read"
    else:
        raise _Error(404, "Not Found")
    role = {"admin": "admin", "maintain": "maintain", "write": "write", "triage": "triage"}.get(
        permission, permission
    )
    legacy = {"maintain": "write", "triage": "read"}.get(permission, permission)
    user = dict(fake.add_user(login))
    user["permissions"] = {
        "admin": permission == "admin",
        "maintain": permission in ("admin", "maintain"),
        "push": permission in ("admin", "maintain", "write"),
        "triage": permission in ("admin", "maintain", "write", "triage"),
        "pull": permission != "none",
    }
    user["role_name"] = role
    return _ok({"permission": legacy, "role_name": role, "user": user})


def _get_user(call: _Call) -> Answer:
    login = call.params["username"]
    if login not in call.fake.users:
        raise _Error(404, "Not Found")
    return _ok(call.fake.users[login])


def _get_authenticated_user(call: _Call) -> Answer:
    return _ok(call.fake.users[call.login or BOT_LOGIN])


def _get_authenticated_app(call: _Call) -> Answer:
    return _ok(call.fake._app_json())


def _get_installation(call: _Call) -> Answer:
    installation_id = int(call.params["installation_id"])
    if installation_id not in call.fake.installations:
        raise _Error(404, "Not Found")
    return _ok(call.fake._installation_json(installation_id))


def _list_installations(call: _Call) -> Answer:
    items = [call.fake._installation_json(i) for i in sorted(call.fake.installations)]
    chunk, headers = call.page(items)
    return _ok(chunk, headers=headers)


def _get_repo_installation(call: _Call) -> Answer:
    repo = call.repo()
    if not repo.installed:
        raise _Error(404, "Not Found")
    for installation_id, owner in call.fake.installations.items():
        if owner == repo.owner:
            return _ok(call.fake._installation_json(installation_id))
    raise _Error(404, "Not Found")


def _create_access_token(call: _Call) -> Answer:
    fake = call.fake
    installation_id = int(call.params["installation_id"])
    if installation_id not in fake.installations:
        raise _Error(404, "Not Found")
    token = "ghs_" + secrets.token_hex(18)
    expires = time.time() + fake.token_lifetime
    fake.add_user(BOT_LOGIN)
    with fake._lock:
        fake._tokens[token] = _Token(BOT_LOGIN, expires, installation_id)
    body = call.body if isinstance(call.body, dict) else {}
    expires_at = dt.datetime.fromtimestamp(expires, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return _ok(
        {
            "token": token,
            "expires_at": expires_at,
            "permissions": body.get("permissions") or fake._app_json()["permissions"],
            "repository_selection": "selected" if body.get("repositories") else "all",
        },
        201,
    )


def _rate_limit(call: _Call) -> Answer:
    core = {
        "limit": 5000,
        "used": 5000 - call.fake.rate_limit_remaining,
        "remaining": call.fake.rate_limit_remaining,
        "reset": int(time.time()) + 3600,
    }
    return _ok({"resources": {"core": core}, "rate": core})


_HANDLERS = {
    "repos/get": _get_repo,
    "pulls/get": _get_pull,
    "pulls/list": _list_pulls,
    "pulls/list-files": _list_files,
    "pulls/create-review": _create_review,
    "pulls/list-reviews": _list_reviews,
    "pulls/get-review": _get_review,
    "pulls/submit-review": _submit_review,
    "pulls/delete-pending-review": _delete_pending_review,
    "pulls/list-review-comments": _list_review_comments,
    "pulls/list-comments-for-review": _list_comments_for_review,
    "pulls/create-reply-for-review-comment": _create_reply,
    "pulls/dismiss-review": _dismiss_review,
    "repos/get-content": _get_content,
    "repos/get-commit": _get_commit,
    "repos/compare-commits": _compare,
    "issues/list-comments": _list_issue_comments,
    "issues/create-comment": _create_issue_comment,
    "issues/get-comment": _get_issue_comment,
    "issues/update-comment": _update_issue_comment,
    "issues/delete-comment": _delete_issue_comment,
    "reactions/create-for-issue-comment": _create_reaction,
    "reactions/list-for-issue-comment": _list_reactions,
    "repos/get-collaborator-permission-level": _permission,
    "users/get-by-username": _get_user,
    "users/get-authenticated": _get_authenticated_user,
    "apps/get-authenticated": _get_authenticated_app,
    "apps/get-installation": _get_installation,
    "apps/list-installations": _list_installations,
    "apps/get-repo-installation": _get_repo_installation,
    "apps/create-installation-access-token": _create_access_token,
    "rate-limit/get": _rate_limit,
}


# -- HTTP ------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeGitHub

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that time out or vanish are part of the tests; stay quiet."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        fake = self.server.fake
        started = time.monotonic()
        method = self.command
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else b""
        body: Any = None
        if data:
            try:
                body = json.loads(data)
            except ValueError:
                body = data.decode("utf-8", errors="replace")
        split = urllib.parse.urlsplit(self.path)
        path = split.path
        if fake.api_prefix:
            path = (
                path.removeprefix(fake.api_prefix)
                if path.startswith(fake.api_prefix + "/")
                else "/-"
            )
        query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
        headers = {name.lower(): value for name, value in self.headers.items()}
        matched = match_route(method, path)
        route, params = matched if matched else (None, {})
        request = RecordedRequest(
            method, self.path, headers, body, route.operation_id if route else None, 0, started
        )
        with fake._lock:
            fake.requests.append(request)
            index = len(fake.requests) - 1
        fault: _Fault | None = None
        try:
            (status, payload, extra), fault = self._answer(
                fake, method, path, query, body, route, params, request
            )
        except Exception as error:  # a bug in the fake: answer 500 and keep it for the test
            with fake._lock:
                fake.crashes.append(f"{method} {self.path}: {traceback.format_exc()}")
            status, payload, extra = 500, {"message": f"fake crashed: {error!r}"}, {}
        if route is not None and payload is not None and not (fault and fault.drop):
            problems = check_response(route, status, payload)
            with fake._lock:
                fake.response_violations.extend(
                    Violation(method, self.path, route.operation_id, p) for p in problems
                )
        if fault is not None:
            fault.fired.set()
            if fault.until is not None:
                fault.until.wait(30)
            elif fault.delay:
                time.sleep(fault.delay)
        dropped = fault is not None and fault.drop
        with fake._lock:
            fake.requests[index] = dataclasses.replace(
                request, status=status, answered=time.monotonic(), dropped=dropped
            )
        if dropped:
            self._reset()
            return
        with contextlib.suppress(OSError):  # the client gave up waiting
            self._send(fake, status, payload, extra)

    def _reset(self) -> None:
        """Close the connection with a TCP reset, without a word."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def _answer(
        self,
        fake: FakeGitHub,
        method: str,
        path: str,
        query: dict[str, str],
        body: Any,
        route: _Route | None,
        params: dict[str, str],
        request: RecordedRequest,
    ) -> tuple[Answer, _Fault | None]:
        """The answer, and the fault that struck the request if one did."""
        if route is None:
            message = f"no operation in GitHub's OpenAPI description for {method} {path}"
            fake.violations.append(Violation(method, self.path, None, message))
            return (400, {"message": message, "documentation_url": DOCS, "status": "400"}, {}), None
        problems = check_request(route, params, query, body)
        if isinstance(body, str):
            problems.append("the request body is not JSON")
        if problems:
            with fake._lock:
                fake.violations.extend(
                    Violation(method, self.path, route.operation_id, p) for p in problems
                )
            message = "; ".join(problems)
            return (400, {"message": message, "documentation_url": DOCS, "status": "400"}, {}), None
        fault = fake._take_fault(method, self.path)
        if fault is not None and not fault.after:
            return fault.answer(), fault  # refused (or dropped) before anything was done
        answer = self._carry_out(fake, method, path, query, body, route, params, request)
        if fault is not None and fault.status is not None:
            answer = fault.answer()
        return answer, fault

    def _carry_out(
        self,
        fake: FakeGitHub,
        method: str,
        path: str,
        query: dict[str, str],
        body: Any,
        route: _Route,
        params: dict[str, str],
        request: RecordedRequest,
    ) -> Answer:
        handler = _HANDLERS.get(route.operation_id)
        try:
            login, installation_id = self._authenticate(fake, route.operation_id, request)
            if handler is None:
                fake.unimplemented.append(request)
                message = f"the fake does not implement {route.operation_id}"
                return 501, {"message": message, "documentation_url": DOCS, "status": "501"}, {}
            call = _Call(fake, method, path, params, query, body, login, installation_id)
            return handler(call)
        except _Error as error:
            return error.status, error.payload, {}

    def _authenticate(
        self, fake: FakeGitHub, operation_id: str, request: RecordedRequest
    ) -> tuple[str | None, int | None]:
        header = request.headers.get("authorization", "")
        scheme, _, credential = header.partition(" ")
        scheme = scheme.lower()
        if operation_id in PUBLIC_OPERATIONS:
            return None, None
        if operation_id in JWT_OPERATIONS:
            if scheme != "bearer" or not credential:
                raise _Error(401, "A JSON web token could not be decoded", documentation_url=DOCS)
            self._check_jwt(fake, credential.strip())
            return None, None
        if scheme not in ("token", "bearer") or not credential:
            raise _Error(401, "Requires authentication")
        with fake._lock:
            token = fake._tokens.get(credential.strip())
        if token is None or (token.expires is not None and token.expires < time.time()):
            raise _Error(401, "Bad credentials")
        if token.read_only and request.method != "GET":
            raise _Error(403, "Resource not accessible by integration")
        if operation_id == "users/get-authenticated" and token.login.endswith("[bot]"):
            raise _Error(403, "Resource not accessible by integration")  # not a user token
        return token.login, token.installation_id

    def _check_jwt(self, fake: FakeGitHub, credential: str) -> None:
        try:
            claims = jwt.decode(
                credential,
                fake._key.public_key(),
                algorithms=["RS256"],
                options={"require": ["iat", "exp", "iss"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise _Error(
                401,
                "'Expiration time' claim ('exp') must be a numeric value representing the future "
                f"time at which the assertion expires ({error})",
            ) from error
        except jwt.PyJWTError as error:
            raise _Error(401, f"A JSON web token could not be decoded ({error})") from error
        if str(claims["iss"]) != str(fake.app_id):
            raise _Error(401, f"'Issuer' claim ('iss') must be {fake.app_id}")
        if claims["exp"] - time.time() > 600 or claims["exp"] - claims["iat"] > 660:
            raise _Error(
                401,
                "'Expiration time' claim ('exp') is too far in the future",
            )

    def _send(
        self, fake: FakeGitHub, status: int, payload: Any, headers: Mapping[str, str]
    ) -> None:
        data = b"" if status in (204, 304) or payload is None else json.dumps(payload).encode()
        with fake._lock:
            fake.rate_limit_remaining = max(fake.rate_limit_remaining - 1, 0)
            remaining = fake.rate_limit_remaining
        standard = {
            "Content-Type": "application/json; charset=utf-8",
            "Content-Length": str(len(data)),
            "X-GitHub-Media-Type": "github.v3; format=json",
            "X-GitHub-Api-Version-Selected": "2022-11-28",
            "X-GitHub-Request-Id": secrets.token_hex(8).upper(),
            "X-RateLimit-Limit": "5000",
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(int(time.time()) + 3600),
            "X-RateLimit-Used": str(5000 - remaining),
            "X-RateLimit-Resource": "core",
        }
        # An answer's own headers replace the standard ones (a rate limit's remaining 0).
        own = {name.lower() for name in headers}
        self.send_response(status)
        for name, value in standard.items():
            if name.lower() not in own:
                self.send_header(name, value)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request log lines."""


@pytest.fixture(name="fake_github")
def fake_github_fixture(npm_data: Any) -> Iterator[FakeGitHub]:
    """A running FakeGitHub (needs the OpenAPI description from `npm_data`), stopped after."""
    with FakeGitHub() as fake:
        yield fake
