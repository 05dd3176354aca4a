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


def request_body_validator(operation_id: str) -> Draft202012Validator:
    """A validator for the JSON request body of an operation, with `$ref`s resolved."""
    _, _, op = operation(operation_id)
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    resource = Resource.from_contents(_spec(), default_specification=DRAFT202012)
    return Draft202012Validator(schema, registry=Registry().with_resource("", resource))
