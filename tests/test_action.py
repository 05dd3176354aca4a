"""action.yml run the way a runner runs it (tests/action_runner.py): its shell steps,
with the runner's environment variables, against the fake GitHub and fake OpenAI
servers on 127.0.0.1. A same-repository PR, a fork's PR (read-only token), a
/twelve-review comment, a workflow_dispatch, and the action's metadata itself."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from check_jsonschema import builtin_schemas

from bot.publish.summary import TITLE
from tests.action_runner import ACTION, ROOT, ActionRun, run_action
from tests.app_helpers import command_payload
from tests.fake_github import FakeGitHub, FakePull
from tests.fake_openai import FakeOpenAI, answer
from tests.webhooks import example

REPO = "acme/shop"
ACTIONS_BOT = "github-actions[bot]"
BASE = {"app/settings.py": "import os\n\nDEBUG = False\n", "app/log.py": "import logging\n"}
HEAD = {
    "app/settings.py": (
        "import os\n\nDEBUG = False\nSTRIPE_KEY = 'sk_live_51HxQvR2eZvKYlo2C8Nf3pLmQrStUvWx'\n"
    ),
    "app/log.py": 'import logging\nhandler = logging.FileHandler("shop.log")\n',
}


def _restored_cache(runner_temp: Path) -> None:
    """Stand for a cache hit: the venv the install step would have made, wrapping this
    interpreter (which has every locked dependency)."""
    python = runner_temp / "twelve-review-venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)


def _runner_env(tmp_path: Path, fake: FakeGitHub, event_name: str, payload: Any) -> dict[str, str]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    event = tmp_path / "event.json"
    event.write_text(json.dumps(payload))
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir(exist_ok=True)
    return {
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": event_name,
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_API_URL": fake.base_url,
        "GITHUB_SHA": "0" * 40,
        "GITHUB_WORKSPACE": str(tmp_path),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "step-summary.md"),
        "RUNNER_TEMP": str(runner_temp),
        "RUNNER_OS": "Linux",
    }


def _pull_request_event(npm_data: Path, pull: FakePull, *, fork: bool = False) -> Any:
    payload = example(npm_data, "pull_request", "opened", installation=False)
    payload["number"] = payload["pull_request"]["number"] = pull.number
    payload["pull_request"]["head"]["sha"] = pull.head_sha
    payload["pull_request"]["draft"] = False
    payload["pull_request"]["head"]["repo"]["fork"] = fork
    payload["repository"]["full_name"] = REPO
    payload["sender"]["type"] = "User"
    return payload


def _run(
    tmp_path: Path,
    fake: FakeGitHub,
    event_name: str,
    payload: Any,
    token: str,
    **inputs: str,
) -> ActionRun:
    env = _runner_env(tmp_path, fake, event_name, payload)
    _restored_cache(Path(env["RUNNER_TEMP"]))
    return run_action(inputs, env, token=token, workdir=tmp_path)


def test_a_same_repository_pull_request_is_reviewed(
    tmp_path: Path, fake_github: FakeGitHub, npm_data: Path
) -> None:
    repo = fake_github.add_repo(REPO, BASE)
    pull = fake_github.add_pull(repo, BASE, HEAD)
    token = fake_github.add_token(ACTIONS_BOT)
    run = _run(
        tmp_path,
        fake_github,
        "pull_request",
        _pull_request_event(npm_data, pull),
        token,
        **{"sarif-file": "reports/twelve-review.sarif"},
    )
    assert "Install" not in run.ran  # the cache was restored
    assert run.returncode == 1, run.stdout + run.stderr  # an error finding; fail-on: error
    (review,) = fake_github.reviews(pull)
    assert review["user"]["login"] == ACTIONS_BOT and review["commit_id"] == pull.head_sha
    assert sorted(c["path"] for c in fake_github.review_comments(pull)) == [
        "app/log.py",
        "app/settings.py",
    ]
    (summary,) = fake_github.issue_comments(pull)
    assert summary["body"].startswith(TITLE)
    job_summary = (tmp_path / "step-summary.md").read_text()
    assert job_summary.strip() == summary["body"].strip()  # the same summary, both places
    assert (run.outputs["findings"], run.outputs["errors"]) == ("2", "1")
    assert run.outputs["summary"].strip() == summary["body"].strip()
    assert "Rules only: no LLM configured" in summary["body"]  # empty inputs: no model
    sarif_path = Path(run.outputs["sarif-file"])
    assert sarif_path == tmp_path / "reports" / "twelve-review.sarif"
    results = json.loads(sarif_path.read_text())["runs"][0]["results"]
    assert sorted(r["ruleId"] for r in results) == ["TF0301", "TF1101"]
    assert "::error" not in run.stdout  # commented on the PR: no annotations as well
    assert fake_github.violations == [] and fake_github.crashes == []

    # The same workflow again on the same head: nothing new is written.
    writes = [r for r in fake_github.requests if r.method != "GET"]
    again = _run(
        tmp_path / "again", fake_github, "pull_request", _pull_request_event(npm_data, pull), token
    )
    assert again.returncode == 1 and "unchanged since the last review" in again.stdout
    assert [r for r in fake_github.requests if r.method != "GET"] == writes


def test_a_fork_pull_request_gets_annotations_and_the_job_summary(
    tmp_path: Path, fake_github: FakeGitHub, npm_data: Path
) -> None:
    repo = fake_github.add_repo(REPO, BASE)
    pull = fake_github.add_pull(repo, BASE, HEAD)
    token = fake_github.add_token(ACTIONS_BOT, read_only=True)  # what a fork's PR gets
    payload = _pull_request_event(npm_data, pull, fork=True)
    run = _run(tmp_path, fake_github, "pull_request", payload, token, **{"fail-on": "never"})
    assert run.returncode == 0, run.stdout + run.stderr  # a refusal to comment fails nothing
    assert fake_github.reviews(pull) == [] and fake_github.issue_comments(pull) == []
    assert "::warning::twelve-review: this token may not comment" in run.stdout
    annotations = [
        line for line in run.stdout.splitlines() if line.startswith(("::error ", "::warning "))
    ]
    assert [line.split(",", 1)[0] for line in annotations] == [
        "::error file=app/settings.py",
        "::warning file=app/log.py",
    ]
    job_summary = (tmp_path / "step-summary.md").read_text()
    assert job_summary.startswith(TITLE)
    assert job_summary.count("_(the token may not comment)_") == 2  # both listed, none lost
    assert run.outputs["findings"] == "2"
    # With the default fail-on, the error finding (not the refusal) fails the step.
    strict = _run(tmp_path / "strict", fake_github, "pull_request", payload, token)
    assert strict.returncode == 1
    assert fake_github.violations == [] and fake_github.crashes == []


def test_a_command_comment_reviews_with_the_model(
    tmp_path: Path, fake_github: FakeGitHub, fake_openai: FakeOpenAI, npm_data: Path
) -> None:
    repo = fake_github.add_repo(REPO, BASE, permissions={"alice": "write"})
    pull = fake_github.add_pull(repo, BASE, HEAD)
    token = fake_github.add_token(ACTIONS_BOT)
    payload = command_payload(npm_data, fake_github, pull, "/twelve-review factors=11", "alice")
    fake_openai.script(answer({"findings": []}))
    run = _run(
        tmp_path,
        fake_github,
        "issue_comment",
        payload,
        token,
        **{"openai-base-url": fake_openai.base_url, "model": "small-test-model", "llm": "on"},
    )
    assert run.returncode == 0, run.stdout + run.stderr  # factors=11: only a warning
    (comment,) = fake_github.review_comments(pull)
    assert comment["path"] == "app/log.py"  # factor III's error is outside factors=11
    assert len(fake_openai.requests) == 1
    reactions = [r["content"] for r in repo.reactions[payload["comment"]["id"]]]
    assert reactions == ["eyes", "rocket"]
    assert "LLM small-test-model: 1 request" in run.outputs["summary"]
    assert fake_github.violations == [] and fake_github.crashes == []


def test_a_command_without_write_access_is_refused_once(
    tmp_path: Path, fake_github: FakeGitHub, npm_data: Path
) -> None:
    repo = fake_github.add_repo(REPO, BASE, permissions={"mallory": "read"})
    pull = fake_github.add_pull(repo, BASE, HEAD)
    token = fake_github.add_token(ACTIONS_BOT)
    for attempt in ("first", "second"):
        payload = command_payload(npm_data, fake_github, pull, "/twelve-review", "mallory")
        run = _run(tmp_path / attempt, fake_github, "issue_comment", payload, token)
        assert run.returncode == 0
    assert fake_github.reviews(pull) == []
    bot_comments = [
        c for c in fake_github.issue_comments(pull) if c["user"]["login"] == ACTIONS_BOT
    ]
    assert len(bot_comments) == 1 and "write access" in bot_comments[0]["body"]
    assert fake_github.calls("pulls/list-files") == []  # nothing read, nothing reviewed


def test_workflow_dispatch_reviews_the_number_given(
    tmp_path: Path, fake_github: FakeGitHub, npm_data: Path
) -> None:
    repo = fake_github.add_repo(REPO, BASE)
    pull = fake_github.add_pull(repo, BASE, HEAD)
    token = fake_github.add_token(ACTIONS_BOT)
    payload = example(npm_data, "workflow_dispatch", None, installation=False)
    payload["inputs"] = {"pull-request": str(pull.number)}
    run = _run(tmp_path, fake_github, "workflow_dispatch", payload, token, **{"fail-on": "never"})
    assert run.returncode == 0, run.stdout + run.stderr
    assert len(fake_github.reviews(pull)) == 1
    other = _run(tmp_path / "push", fake_github, "push", {"ref": "refs/heads/main"}, token)
    assert other.returncode == 0 and "nothing to review" in other.stdout


def test_action_yml_follows_the_schemastore_schema_and_uses_every_input() -> None:
    schema = builtin_schemas.get_builtin_schema("vendor.github-actions")
    action = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    jsonschema.validate(action, schema)
    assert action["runs"]["using"] == "composite"
    text = ACTION.read_text(encoding="utf-8")
    for name, spec in action["inputs"].items():
        assert spec["description"] and "default" in spec, name
        assert f"inputs.{name} }}}}" in text, f"input {name} is never used"
    assert set(action["outputs"]) == {"findings", "errors", "sarif-file", "summary"}


def test_the_action_installs_exactly_what_uv_lock_pins() -> None:
    uv = shutil.which("uv")
    assert uv, "uv is needed (the README's test command runs through it)"
    exported = subprocess.run(
        [uv, "export", "--locked", "--no-emit-project", "--format", "requirements-txt", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    shipped = (ROOT / "action" / "requirements.txt").read_text(encoding="utf-8")

    def pins(text: str) -> list[str]:
        return [line for line in text.splitlines() if line and not line.lstrip().startswith("#")]

    assert pins(shipped) == pins(exported), "regenerate: uv export --locked --no-emit-project ..."
    assert "--hash=sha256:" in shipped
    assert not any(line.startswith(("pytest", "ruff", "mypy")) for line in pins(shipped))


def test_a_cold_start_installs_the_locked_requirements_and_reviews(
    tmp_path: Path, fake_github: FakeGitHub, npm_data: Path
) -> None:
    """No cache: the install step runs for real (pip from the package registry, every
    hash checked) into a fresh virtualenv, and the review runs from it."""
    repo = fake_github.add_repo(REPO, BASE)
    pull = fake_github.add_pull(repo, BASE, HEAD)
    token = fake_github.add_token(ACTIONS_BOT)
    env = _runner_env(tmp_path, fake_github, "pull_request", _pull_request_event(npm_data, pull))
    run = run_action({"fail-on": "never"}, env, token=token, workdir=tmp_path)
    assert "Install" in run.ran
    assert run.returncode == 0, run.stdout + run.stderr
    venv_python = Path(env["RUNNER_TEMP"]) / "twelve-review-venv" / "bin" / "python"
    assert venv_python.exists() and not venv_python.read_bytes().startswith(b"#!/bin/sh")
    assert len(fake_github.reviews(pull)) == 1 and run.outputs["findings"] == "2"


def test_a_bad_token_or_a_missing_pull_request_is_one_line_and_exit_2(
    tmp_path: Path, fake_github: FakeGitHub, npm_data: Path
) -> None:
    repo = fake_github.add_repo(REPO, BASE)
    pull = fake_github.add_pull(repo, BASE, HEAD)
    payload = _pull_request_event(npm_data, pull)
    revoked = _run(tmp_path / "revoked", fake_github, "pull_request", payload, "ghs_revoked")
    assert revoked.returncode == 2, revoked.stderr
    assert "::error::twelve-review: GitHub answered 401: Bad credentials" in revoked.stdout
    assert "Traceback" not in revoked.stderr and "ghs_revoked" not in revoked.stdout
    token = fake_github.add_token(ACTIONS_BOT)
    dispatch = {"inputs": {"pull-request": "999"}}
    gone = _run(tmp_path / "gone", fake_github, "workflow_dispatch", dispatch, token)
    assert gone.returncode == 2 and "GitHub answered 404" in gone.stdout
