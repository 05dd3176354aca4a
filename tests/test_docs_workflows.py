"""The example workflows in docs/workflows: valid for GitHub (SchemaStore's workflow
schema, vendored by check-jsonschema), using only inputs action.yml declares, and
asking for no more permissions than the action needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from check_jsonschema import builtin_schemas

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / "docs" / "workflows").glob("*.yml"))
ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
OURS = "OWNER/twelve-review@v1"
# What the action itself needs; code scanning needs its own permission to upload.
ALLOWED = {
    "contents": {"read"},
    "pull-requests": {"write"},
    "security-events": {"write"},
}


def _load(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as True; GitHub reads it as "on".
    if True in data:
        data["on"] = data.pop(True)
    return dict(data)


def _steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_there_is_an_example_for_each_way_in() -> None:
    triggers = {name for path in WORKFLOWS for name in _load(path)["on"]}
    assert triggers == {"pull_request", "pull_request_target", "issue_comment", "workflow_dispatch"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_example_workflow_is_valid_and_minimal(path: Path) -> None:
    workflow = _load(path)
    jsonschema.validate(workflow, builtin_schemas.get_builtin_schema("vendor.github-workflows"))
    permissions = workflow["permissions"]
    assert isinstance(permissions, dict), "a locked-down permissions block, never write-all"
    for scope, level in permissions.items():
        assert level in ALLOWED.get(scope, set()), f"{scope}: {level} is more than needed"
    ours = [step for step in _steps(workflow) if step.get("uses") == OURS]
    assert len(ours) == 1
    assert set(ours[0].get("with", {})) <= set(ACTION["inputs"])
    if "upload-sarif" in path.read_text(encoding="utf-8"):
        assert permissions.get("security-events") == "write"
    else:
        assert "security-events" not in permissions
    for job in workflow["jobs"].values():
        assert job.get("timeout-minutes"), "a stuck model endpoint must not hold a runner for 6 h"


def test_the_pull_request_target_example_never_checks_out_the_head() -> None:
    (path,) = [p for p in WORKFLOWS if "pull_request_target" in _load(p)["on"]]
    text = path.read_text(encoding="utf-8")
    assert "actions/checkout" not in text and "head.sha" not in text and "head.ref" not in text
