"""Fuzzing the App's webhook endpoint.

schemathesis generates requests from the App's own OpenAPI description
(`app.openapi()`) and sends them to the ASGI app in process; hypothesis then
sends correctly signed deliveries carrying arbitrary JSON, so the fuzzing gets
past the signature check. The server must never answer 500, never hang, and
answer only what its OpenAPI document says. Review work goes to a runner
double behind the real queue: nothing reaches GitHub.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import urllib.parse
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import requests
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import event as label
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    max_response_time,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.errors import FailureGroup

from bot.app.queue import Job, JobQueue, Submitted
from bot.app.server import MAX_BODY_BYTES, REVIEW_ACTIONS, create_app
from bot.app.settings import load_settings
from bot.app.signature import sign
from bot.github.commands import Command, parse_command

SECRET = "fuzz-secret"
WEBHOOK = "/webhook"
SIGNATURE = "X-Hub-Signature-256"
LIMIT_SECONDS = 1.0  # every answer within this, or it counts as a hang
MEGABYTE = 1024 * 1024
_DELIVERIES = itertools.count()


class RecordingQueue(JobQueue):
    """The real queue (dedupe, coalescing, one worker) around a runner double that
    records the jobs it runs; `submitted` is every job the server handed over."""

    def __init__(self) -> None:
        self.ran: list[Job] = []
        super().__init__(self.ran.append, workers=1)
        self.submitted: list[tuple[Job, Submitted]] = []

    def submit(self, job: Job) -> Submitted:
        outcome = super().submit(job)
        self.submitted.append((job, outcome))
        return outcome


def _app(pem: str, **options: Any) -> tuple[FastAPI, RecordingQueue]:
    settings_ = load_settings(
        github_app_id=1,
        github_app_private_key=pem,
        github_webhook_secret=SECRET,
        webhook_path=WEBHOOK,
        review_drafts=False,
    )
    queue = RecordingQueue()
    return create_app(settings_, queue.ran.append, queue=queue, **options), queue


def _answer_validators(app: FastAPI, path: str, method: str) -> dict[int, Draft202012Validator]:
    """The documented answer schema of each status code of one operation."""
    responses = app.openapi()["paths"][path][method]["responses"]
    return {
        int(code): Draft202012Validator(response["content"]["application/json"]["schema"])
        for code, response in responses.items()
    }


def _opened_pull_request(number: int, installation: int) -> dict[str, Any]:
    """The least `pull_request` "opened" payload the App reviews."""
    return {
        "action": "opened",
        "number": number,
        "pull_request": {"number": number, "head": {"sha": "a" * 40}, "state": "open"},
        "repository": {"full_name": "acme/shop"},
        "installation": {"id": installation},
    }


def _delivery_id() -> str:
    return f"fuzz-{next(_DELIVERIES)}"


def _headers(event: str, body: bytes, delivery: str, form: bool = False) -> dict[str, str]:
    return {
        "Content-Type": "application/x-www-form-urlencoded" if form else "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        SIGNATURE: sign(SECRET, body),
    }


# -- the OpenAPI description ---------------------------------------------------------------


def test_openapi_document_is_valid_openapi_3_1(pem: str) -> None:
    app, queue = _app(pem)
    queue.stop(1)
    document = app.openapi()
    assert document["openapi"].startswith("3.1.")
    # schemathesis validates against the official OpenAPI 3.1 meta-schema (jsonschema-rs)
    schemathesis.openapi.from_dict(document).validate()
    broken = json.loads(json.dumps(document))
    broken["paths"][WEBHOOK]["post"]["parameters"][0]["in"] = "body"  # OpenAPI 2 only
    with pytest.raises(ValueError, match="body"):
        schemathesis.openapi.from_dict(broken).validate()
    # every schema in it is a valid JSON Schema 2020-12 (OpenAPI 3.1's dialect)
    webhook = document["paths"][WEBHOOK]["post"]
    schemas = [p["schema"] for p in webhook["parameters"]]
    schemas += [m["schema"] for m in webhook["requestBody"]["content"].values()]
    schemas += [
        media["schema"]
        for path in document["paths"].values()
        for operation in path.values()
        for response in operation["responses"].values()
        for media in response.get("content", {}).values()
        if "schema" in media
    ]
    for schema in schemas:
        Draft202012Validator.check_schema(schema)


def test_openapi_describes_the_webhook_contract(pem: str) -> None:
    app, queue = _app(pem, max_body_bytes=4096)
    queue.stop(1)
    document = app.openapi()
    assert set(document["paths"]) >= {WEBHOOK, "/healthz", "/readyz"}
    assert set(document["paths"][WEBHOOK]) == {"post"}
    webhook = document["paths"][WEBHOOK]["post"]
    headers = {p["name"]: p for p in webhook["parameters"]}
    assert set(headers) == {"X-GitHub-Event", "X-GitHub-Delivery", SIGNATURE}
    assert all(p["in"] == "header" and p["required"] for p in headers.values())
    assert all(p["schema"]["type"] == "string" for p in headers.values())
    assert headers[SIGNATURE]["schema"]["pattern"] == "^sha256=[0-9a-f]{64}$"
    body = webhook["requestBody"]
    assert body["required"] is True
    assert body["content"]["application/json"]["schema"] == {
        "type": "object",
        "additionalProperties": True,
    }
    assert set(webhook["responses"]) == {"200", "202", "400", "401", "413", "503"}
    assert "4096 bytes" in webhook["responses"]["413"]["description"]
    assert set(document["paths"]["/healthz"]) == {"get"}
    assert set(document["paths"]["/healthz"]["get"]["responses"]) == {"200"}
    assert set(document["paths"]["/readyz"]["get"]["responses"]) == {"200", "503"}
    # the documented signature format is what GitHub (and `sign`) sends, and nothing else
    pattern = Draft202012Validator(headers[SIGNATURE]["schema"])
    assert pattern.is_valid(sign(SECRET, b"{}"))
    for wrong in (sign(SECRET, b"{}").upper(), "sha1=" + "0" * 40, "sha256=" + "0" * 63, ""):
        assert not pattern.is_valid(wrong)


def test_the_documented_path_follows_the_setting(pem: str) -> None:
    settings_ = load_settings(
        github_app_id=1,
        github_app_private_key=pem,
        github_webhook_secret=SECRET,
        webhook_path="/hooks/github",
    )
    queue = RecordingQueue()
    app = create_app(settings_, queue.ran.append, queue=queue)
    queue.stop(1)
    paths = app.openapi()["paths"]
    assert "/hooks/github" in paths and WEBHOOK not in paths
    # the document is built per app: another app's description is untouched
    other, other_queue = _app(pem)
    other_queue.stop(1)
    assert WEBHOOK in other.openapi()["paths"]


def test_every_documented_answer_is_given_and_matches_its_schema(pem: str) -> None:
    """Each documented status of each operation is reachable, and what the server
    then sends is exactly what the document says."""
    app, queue = _app(pem, max_body_bytes=4096)
    webhook = _answer_validators(app, WEBHOOK, "post")
    health = _answer_validators(app, "/healthz", "get")
    ready = _answer_validators(app, "/readyz", "get")
    seen: dict[str, set[int]] = {"webhook": set(), "healthz": set(), "readyz": set()}
    pull_request = _opened_pull_request(number=7, installation=3)

    def deliver(event: str, body: bytes, *, signed: bool = True) -> None:
        headers = _headers(event, body, _delivery_id())
        if not signed:
            del headers[SIGNATURE]
        answer = client.post(WEBHOOK, content=body, headers=headers)
        seen["webhook"].add(answer.status_code)
        assert answer.headers["content-type"] == "application/json"
        webhook[answer.status_code].validate(answer.json())

    def probe(path: str, validators: dict[int, Draft202012Validator]) -> None:
        answer = client.get(path)
        seen[path.strip("/")].add(answer.status_code)
        validators[answer.status_code].validate(answer.json())

    with TestClient(app, raise_server_exceptions=False) as client:
        deliver("ping", b"{}")  # 200 pong
        deliver("installation", b'{"action": "created"}')  # 200 ok + reason
        deliver("issues", b'{"action": "opened"}')  # 200 ignored + reason
        deliver("pull_request", json.dumps(pull_request).encode())  # 202
        deliver("pull_request", b"[]")  # 400
        deliver("pull_request", b"{}", signed=False)  # 401
        deliver("pull_request", b" " * 4097)  # 413
        probe("/healthz", health)
        probe("/readyz", ready)
        assert queue.join(5)
        queue.stop(1)
        deliver("pull_request", json.dumps({**pull_request, "number": 8}).encode())  # 503
        probe("/readyz", ready)
    assert seen == {
        "webhook": set(webhook),
        "healthz": set(health),
        "readyz": set(ready),
    }


# -- schemathesis: requests generated from the OpenAPI description ----------------------------


class _GitHubSignature(requests.auth.AuthBase):
    """Signs the exact bytes schemathesis sends, as GitHub would (a requests auth hook
    runs after the body is encoded)."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        request.headers[SIGNATURE] = sign(
            SECRET, body.encode("utf-8") if isinstance(body, str) else body
        )
        return request


@pytest.fixture
def generated_cases(pem: str) -> Iterator[Any]:
    """Requests for the webhook (valid and invalid ones) and the health endpoints, from
    the app's own OpenAPI document. One app per test: schemathesis' ASGI client runs the
    app's lifespan, and its pytest plugin ends it (stopping the queue) after the test."""
    app, queue = _app(pem)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    schema.config.checks.update(max_response_time=LIMIT_SECONDS)
    webhook = schema[WEBHOOK]["POST"]
    yield st.one_of(
        webhook.as_strategy(GenerationMode.POSITIVE),
        webhook.as_strategy(GenerationMode.NEGATIVE),
        schema["/healthz"]["GET"].as_strategy(),
        schema["/readyz"]["GET"].as_strategy(),
    )
    queue.stop(1)


@settings(
    max_examples=150,
    deadline=None,
    # the fixture is a strategy and an app for the whole test, not state to reset per example
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data(), signed=st.booleans())
def test_generated_requests_get_documented_answers_in_time(
    generated_cases: Any, data: st.DataObject, signed: bool
) -> None:
    """No 5xx, only documented status codes and answer schemas, each within a second
    (a hang is a timeout: schemathesis' ASGI transport gives up after LIMIT_SECONDS).
    Half the webhook requests are re-signed with the real secret, so they get past
    the signature check to the parser; unsigned ones never do."""
    case = data.draw(generated_cases)
    is_webhook = case.path == WEBHOOK
    auth = _GitHubSignature() if is_webhook and signed else None
    response = case.call(timeout=LIMIT_SECONDS, auth=auth)
    try:
        case.validate_response(
            response,
            checks=[
                not_a_server_error,
                status_code_conformance,
                content_type_conformance,
                response_schema_conformance,
                max_response_time,
            ],
        )
    except FailureGroup as failures:  # a BaseExceptionGroup: hypothesis would not shrink it
        raise AssertionError(str(failures)) from None
    label(f"{case.method} {case.path} {response.status_code}")
    if not is_webhook:
        assert response.status_code == 200
    elif auth is None:
        assert response.status_code == 401
    else:
        assert response.status_code in (200, 202, 400)


def test_an_answer_later_than_the_bound_fails_the_fuzz_test(pem: str) -> None:
    """The time check has teeth: with a bound no answer can meet, it fails."""
    app, queue = _app(pem)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    schema.config.checks.update(max_response_time=1e-9)
    case = schema["/healthz"]["GET"].Case()
    response = case.call(timeout=LIMIT_SECONDS)
    queue.stop(1)
    with pytest.raises(FailureGroup, match="Response time limit exceeded"):
        case.validate_response(response, checks=[max_response_time])


# -- hypothesis: signed deliveries with arbitrary JSON ---------------------------------------


@pytest.fixture(scope="module")
def fuzz_app(pem: str) -> Iterator[tuple[FastAPI, RecordingQueue]]:
    app, queue = _app(pem)
    yield app, queue
    queue.stop(1)


def _post(app: FastAPI, body: bytes, headers: dict[str, str]) -> Any:
    """POST to the webhook. No `with TestClient(...)`: that would run the app's
    lifespan, whose end stops the queue the next example needs."""
    return TestClient(app, raise_server_exceptions=False).post(
        WEBHOOK, content=body, headers=headers
    )


_SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
_DROP = object()  # a corruption that removes the key
_SOMETIMES = st.integers(min_value=0, max_value=9).map(lambda n: n == 9)  # now and then
_IDS = st.integers(min_value=1, max_value=2**53)
_SHAS = st.text(alphabet="0123456789abcdef", min_size=1, max_size=40)
_REPOS = st.sampled_from(["acme/shop", "octo-org/hello-world"]) | st.text(min_size=1, max_size=20)
_COMMENTS = (
    st.sampled_from(
        [
            "/twelve-review",
            "/TWELVE-REVIEW full",
            "/twelve-review factors=3,4,11",
            "/twelve-review explain TF0301",
            "/twelve-review explain 3",
            "/twelve-review explain ²",
            "/twelve-review help",
            "  /twelve-review full\r\nthanks",
            "LGTM",
            "",
        ]
    )
    | st.builds(
        "".join,
        st.tuples(st.sampled_from(["/twelve-review ", "/Twelve-Review\t"]), st.text(max_size=30)),
    )
    | st.text(max_size=40)
)
_OTHER_EVENTS = st.sampled_from(
    ["ping", "installation", "installation_repositories", "issues", "push", "check_run"]
) | st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20)


def _corrupt(
    draw: st.DrawFn, payload: dict[str, Any], paths: list[tuple[str, ...]]
) -> tuple[dict[str, Any], bool]:
    """Replace or remove some fields (wrong types included); True when none was touched."""
    count = draw(st.integers(min_value=0, max_value=3))
    chosen = draw(st.lists(st.sampled_from(paths), min_size=count, max_size=count, unique=True))
    for path in chosen:
        parent: Any = payload
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if not isinstance(parent, dict):
            continue  # an ancestor was replaced already
        value = draw(st.just(_DROP) | st.integers(min_value=-2, max_value=2) | _JSON)
        if value is _DROP:
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = value
    return payload, not chosen


_PR_PATHS = [
    ("action",),
    ("number",),
    ("pull_request",),
    ("pull_request", "number"),
    ("pull_request", "head"),
    ("pull_request", "head", "sha"),
    ("pull_request", "draft"),
    ("pull_request", "state"),
    ("repository",),
    ("repository", "full_name"),
    ("installation",),
    ("installation", "id"),
    ("sender",),
    ("sender", "type"),
]
_COMMENT_PATHS = [
    ("action",),
    ("issue",),
    ("issue", "number"),
    ("issue", "pull_request"),
    ("comment",),
    ("comment", "id"),
    ("comment", "body"),
    ("comment", "user"),
    ("comment", "user", "login"),
    ("repository",),
    ("repository", "full_name"),
    ("installation",),
    ("installation", "id"),
    ("sender",),
]


@st.composite
def _pull_request_deliveries(draw: st.DrawFn) -> tuple[str, Any, bool]:
    """A pull_request payload, maybe corrupted; True when it must be queued."""
    action = draw(st.sampled_from([*sorted(REVIEW_ACTIONS), "closed", "labeled", "edited"]))
    draft, bot, closed = (draw(_SOMETIMES) for _ in range(3))
    state = "closed" if closed else "open"
    number = draw(_IDS)
    payload = {
        **draw(st.dictionaries(st.text(max_size=8), _JSON, max_size=2)),
        "action": action,
        "number": number,
        "pull_request": {
            "number": number,
            "head": {"sha": draw(_SHAS)},
            "draft": draft,
            "state": state,
        },
        "repository": {"full_name": draw(_REPOS)},
        "installation": {"id": draw(_IDS)},
        "sender": {"type": "Bot" if bot else "User"},
    }
    payload, intact = _corrupt(draw, payload, _PR_PATHS)
    queued = intact and action in REVIEW_ACTIONS and not (draft or bot) and state == "open"
    return "pull_request", payload, queued


@st.composite
def _comment_deliveries(draw: st.DrawFn) -> tuple[str, Any, bool]:
    """An issue_comment payload, maybe corrupted; True when it must be queued."""
    action = "edited" if draw(_SOMETIMES) else "created"
    body = draw(_COMMENTS)
    payload = {
        "action": action,
        "issue": {"number": draw(_IDS), "pull_request": {"url": "https://example.test/pr"}},
        "comment": {
            "id": draw(_IDS),
            "body": body,
            "user": {"login": draw(st.text(min_size=1, max_size=12))},
            "author_association": draw(st.sampled_from(["OWNER", "MEMBER", "NONE"])),
        },
        "repository": {"full_name": draw(_REPOS)},
        "installation": {"id": draw(_IDS)},
        "sender": {"type": "User"},
    }
    payload, intact = _corrupt(draw, payload, _COMMENT_PATHS)
    queued = intact and action == "created" and parse_command(body) is not None
    return "issue_comment", payload, queued


@st.composite
def _other_deliveries(draw: st.DrawFn) -> tuple[str, Any, bool]:
    """Any event name with any JSON (objects mostly; sometimes not an object at all)."""
    event = draw(_OTHER_EVENTS | st.sampled_from(["pull_request", "issue_comment"]))
    payload = draw(st.dictionaries(st.text(max_size=10), _JSON, max_size=5) | _JSON)
    return event, payload, False


@settings(max_examples=300, deadline=None)
@given(
    delivery=st.one_of(_pull_request_deliveries(), _comment_deliveries(), _other_deliveries()),
    form=st.booleans(),
    redeliver=st.booleans(),
)
def test_signed_arbitrary_deliveries_never_fail_the_server(
    fuzz_app: tuple[FastAPI, RecordingQueue],
    delivery: tuple[str, Any, bool],
    form: bool,
    redeliver: bool,
) -> None:
    """Correctly signed, arbitrary (often ill-typed) payloads: 200, 202 or 400 only,
    each answer as documented; a job is queued exactly when the answer is 202, and
    an accepted job is well formed; a redelivery is answered the same, queued once."""
    app, queue = fuzz_app
    answers = _answer_validators(app, WEBHOOK, "post")
    event, payload, must_queue = delivery
    text = json.dumps(payload)
    body = urllib.parse.urlencode({"payload": text}).encode() if form else text.encode()
    delivery_id = _delivery_id()
    headers = _headers(event, body, delivery_id, form=form)
    before = len(queue.submitted)
    answer = _post(app, body, headers)
    again = _post(app, body, headers) if redeliver else None

    assert answer.status_code in (200, 202, 400), answer.text
    label(f"{answer.status_code} {answer.json()['status']}")
    answers[answer.status_code].validate(answer.json())
    if event == "ping" and isinstance(payload, dict):
        assert (answer.status_code, answer.json()) == (200, {"status": "pong"})
    if must_queue:
        assert (answer.status_code, answer.json()) == (202, {"status": "accepted"})
    new = queue.submitted[before:]
    if answer.status_code != 202:
        assert new == []
        if again is not None:
            assert (again.status_code, again.json()) == (answer.status_code, answer.json())
        return
    job, outcome = new[0]
    assert outcome is Submitted.QUEUED
    assert (job.delivery_id, job.event) == (delivery_id, event)
    assert event in ("pull_request", "issue_comment")
    assert isinstance(job.repo_full_name, str) and job.repo_full_name
    assert type(job.number) is int and job.number > 0
    assert type(job.installation_id) is int and job.installation_id > 0
    assert isinstance(job.head_sha, str)
    if event == "pull_request":
        assert job.head_sha and job.command is None and job.action in REVIEW_ACTIONS
    else:
        assert job.head_sha == "" and isinstance(job.command, Command)
        assert type(job.comment_id) is int and job.comment_id > 0
        assert isinstance(job.commenter, str) and job.commenter
    if again is None:
        assert len(new) == 1
    else:
        assert again.status_code == 202
        assert again.json() == {"status": "accepted", "reason": "duplicate delivery, not queued"}
        assert [outcome for _, outcome in new] == [Submitted.QUEUED, Submitted.DUPLICATE]


def _pull_request(number: int, installation: int) -> dict[str, Any]:
    return {
        "action": "opened",
        "number": number,
        "pull_request": {"number": number, "head": {"sha": "b" * 40}, "state": "open"},
        "repository": {"full_name": "acme/shop"},
        "installation": {"id": installation},
    }


@settings(max_examples=20, deadline=None)
@given(
    field=st.sampled_from(["number", "installation.id"]),
    value=st.integers(max_value=0),
)
@example(field="number", value=-1)
@example(field="installation.id", value=0)
def test_pull_request_ids_that_are_not_positive_are_refused(
    fuzz_app: tuple[FastAPI, RecordingQueue], field: str, value: int
) -> None:
    """Found by the fuzzing above: -1 was queued as Job(number=-1), and 0 reached an
    `assert` (a 400 'bad request' through the catch-all). Now a 400 naming the field."""
    app, queue = fuzz_app
    payload = _pull_request(value, 3) if field == "number" else _pull_request(5, value)
    body = json.dumps(payload).encode()
    before = len(queue.submitted)
    answer = _post(app, body, _headers("pull_request", body, _delivery_id()))
    assert answer.status_code == 400
    assert field in answer.json()["reason"]
    assert queue.submitted[before:] == []


@settings(max_examples=20, deadline=None)
@given(
    field=st.sampled_from([("issue", "number"), ("comment", "id"), ("installation", "id")]),
    value=st.integers(max_value=0),
)
@example(field=("issue", "number"), value=-1)
def test_comment_ids_that_are_not_positive_are_refused(
    fuzz_app: tuple[FastAPI, RecordingQueue], field: tuple[str, str], value: int
) -> None:
    """Found by the fuzzing above: a negative issue number, comment id or installation
    id was queued."""
    app, queue = fuzz_app
    payload: dict[str, Any] = {
        "action": "created",
        "issue": {"number": 5, "pull_request": {}},
        "comment": {"id": 9, "body": "/twelve-review", "user": {"login": "dev"}},
        "repository": {"full_name": "acme/shop"},
        "installation": {"id": 3},
    }
    payload[field[0]][field[1]] = value
    body = json.dumps(payload).encode()
    before = len(queue.submitted)
    answer = _post(app, body, _headers("issue_comment", body, _delivery_id()))
    assert answer.status_code == 400
    assert queue.submitted[before:] == []


def test_an_explain_command_with_a_superscript_digit_gets_a_help_reply(
    fuzz_app: tuple[FastAPI, RecordingQueue],
) -> None:
    """Found by the command parser's properties: `explain ²` raised ValueError, which
    the catch-all answered 400 'bad request', and the commenter got no reply."""
    app, queue = fuzz_app
    payload = {
        "action": "created",
        "issue": {"number": 5, "pull_request": {}},
        "comment": {"id": 9, "body": "/twelve-review explain ²", "user": {"login": "dev"}},
        "repository": {"full_name": "acme/shop"},
        "installation": {"id": 3},
    }
    body = json.dumps(payload).encode()
    before = len(queue.submitted)
    answer = _post(app, body, _headers("issue_comment", body, _delivery_id()))
    assert (answer.status_code, answer.json()) == (202, {"status": "accepted"})
    ((job, _),) = queue.submitted[before:]
    assert job.command == Command("help", not_understood=("²",))


# -- bodies that are not JSON, and bodies that are too large ---------------------------------


@settings(max_examples=100, deadline=None)
@given(
    payload=st.dictionaries(st.text(max_size=8), _JSON, min_size=1, max_size=4),
    cut=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
    bad=st.sampled_from(
        [b"\xff", b"\xc3", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80"]
    ),
    truncate=st.booleans(),
)
def test_truncated_or_invalid_utf8_json_is_400(
    fuzz_app: tuple[FastAPI, RecordingQueue],
    payload: dict[str, Any],
    cut: float,
    bad: bytes,
    truncate: bool,
) -> None:
    app, queue = fuzz_app
    text = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    at = int(len(text) * cut)
    body = text[:at] if truncate else text[:at] + bad + text[at:]
    before = len(queue.submitted)
    answer = _post(app, body, _headers("pull_request", body, _delivery_id()))
    assert answer.status_code == 400
    assert answer.json() == {"status": "error", "reason": "malformed JSON payload"}
    assert queue.submitted[before:] == []


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        (b'"title": "a lone \\ud800 surrogate"', "orjson refuses a lone surrogate escape"),
        (b'"score": NaN', "orjson refuses NaN, which json takes"),
    ],
)
def test_json_that_only_the_standard_parser_takes_is_still_accepted(
    fuzz_app: tuple[FastAPI, RecordingQueue], extra: bytes, why: str
) -> None:
    """The fast parser falls back to json: what the App accepts did not change with it."""
    app, queue = fuzz_app
    payload = _opened_pull_request(number=3, installation=7) | {"sender": {"type": "User"}}
    body = json.dumps(payload).encode()[:-1] + b", " + extra + b"}"
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(body)  # the case is real: the fast parser alone would refuse it
    before = len(queue.submitted)
    answer = _post(app, body, _headers("pull_request", body, _delivery_id()))
    assert (answer.status_code, answer.json()) == (202, {"status": "accepted"}), why
    ((job, _),) = queue.submitted[before:]
    assert (job.repo_full_name, job.number) == ("acme/shop", 3)


@pytest.mark.parametrize(
    "body", [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000]
)
def test_deeply_nested_json_is_400(fuzz_app: tuple[FastAPI, RecordingQueue], body: bytes) -> None:
    """json.loads raises RecursionError, not ValueError: still a 400, never a 500."""
    app, _ = fuzz_app
    answer = _post(app, body, _headers("pull_request", body, _delivery_id()))
    assert answer.status_code == 400
    assert answer.json()["status"] == "error"


def _post_raw(
    app: FastAPI, headers: dict[str, str], chunks: Iterator[bytes]
) -> tuple[int, dict[str, Any], int]:
    """POST the webhook at the ASGI level, the body offered one chunk per `receive()`;
    returns the status, the JSON answer and how many chunks the app read."""
    read = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal read
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        read += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": WEBHOOK,
        "raw_path": WEBHOOK.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
        "client": ("testclient", 50000),
        "server": ("testserver", 80),
    }
    asyncio.run(asyncio.wait_for(app(scope, receive, send), LIMIT_SECONDS * 5))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(body), read


def test_an_oversized_declared_body_is_413_without_reading_it(
    fuzz_app: tuple[FastAPI, RecordingQueue],
) -> None:
    app, queue = fuzz_app
    size = MAX_BODY_BYTES + 1
    block = b" " * MEGABYTE
    body = itertools.chain(itertools.repeat(block, MAX_BODY_BYTES // MEGABYTE), [b" "])
    headers = {
        "Content-Type": "application/json",
        "Content-Length": str(size),
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": _delivery_id(),
        SIGNATURE: sign(SECRET, b" " * size),
    }
    before = len(queue.submitted)
    status, answer, read = _post_raw(app, headers, body)
    assert (status, answer["status"]) == (413, "error")
    assert read == 0  # the declared length was enough: not one byte of the body was read
    assert queue.submitted[before:] == []


def test_an_oversized_streamed_body_is_413_as_soon_as_it_passes_the_limit(
    fuzz_app: tuple[FastAPI, RecordingQueue],
) -> None:
    app, _ = fuzz_app
    block = b" " * MEGABYTE
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": _delivery_id(),
        SIGNATURE: sign(SECRET, b""),
    }
    status, answer, read = _post_raw(app, headers, (block for _ in range(40)))
    assert (status, answer["status"]) == (413, "error")
    # 25 MB is allowed; the 26th megabyte is one byte too many, and reading stops there
    assert read == MAX_BODY_BYTES // MEGABYTE + 1


@pytest.mark.parametrize("declared", ["-1", "12abc", "1e3", "0x10", " "])
def test_a_malformed_content_length_is_400(
    fuzz_app: tuple[FastAPI, RecordingQueue], declared: str
) -> None:
    app, _ = fuzz_app
    headers = {
        "Content-Type": "application/json",
        "Content-Length": declared,
        "X-GitHub-Event": "ping",
        "X-GitHub-Delivery": _delivery_id(),
        SIGNATURE: sign(SECRET, b"{}"),
    }
    status, answer, read = _post_raw(app, headers, iter([b"{}"]))
    assert (status, answer) == (400, {"status": "error", "reason": "malformed Content-Length"})
    assert read == 0
