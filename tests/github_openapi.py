"""GitHub's published OpenAPI description (npm @octokit/openapi), for checking
that what the bot sends is what GitHub accepts."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC = Path(__file__).parent / "npm/node_modules/@octokit/openapi/generated/api.github.com.json"


@cache
def _spec() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SPEC.read_text())
    return data


def operation(operation_id: str) -> tuple[str, str, dict[str, Any]]:
    """(method, path template, operation object) for an operationId."""
    for path, item in _spec()["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and op.get("operationId") == operation_id:
                return method.upper(), path, op
    raise KeyError(operation_id)


_SPEC_URI = "urn:twelve-review:github-openapi"


def _pointer(*parts: str) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def request_body_validator(operation_id: str) -> Draft202012Validator:
    """A validator for the JSON request body of an operation, with `$ref`s resolved
    against the whole description (the schema is referenced in place, so its
    `#/components/...` refs resolve from the document's root)."""
    method, path, _ = operation(operation_id)
    where = _pointer(
        "paths", path, method.lower(), "requestBody", "content", "application/json", "schema"
    )
    resource = Resource.from_contents(_spec(), default_specification=DRAFT202012)
    registry = Registry().with_resource(_SPEC_URI, resource)
    return Draft202012Validator({"$ref": f"{_SPEC_URI}#{where}"}, registry=registry)
