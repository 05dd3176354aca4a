"""The Action's reading of its runner: inputs, events (GitHub's example payloads),
outputs and annotations, without HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.action.context import ActionError, RunnerContext, Skip, Target, target_of
from bot.action.outputs import ANNOTATIONS_PER_LEVEL, annotation_lines, write_outputs
from bot.config import FailOn
from bot.findings import Finding, Severity
from bot.llm.settings import LLMSettings
from tests.action_runner import parse_outputs
from tests.webhooks import example


def _context(tmp_path: Path, event_name: str, payload: Any, **inputs: str) -> RunnerContext:
    event = tmp_path / "event.json"
    event.write_text(json.dumps(payload))
    env = {
        "GITHUB_EVENT_NAME": event_name,
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": "acme/shop",
        "INPUT_GITHUB_TOKEN": "ghs_example",
    }
    env |= {"INPUT_" + k.upper(): v for k, v in inputs.items()}
    return RunnerContext.from_env(env)


@pytest.mark.parametrize("action", ["opened", "synchronize", "reopened", "ready_for_review"])
@pytest.mark.parametrize("event_name", ["pull_request", "pull_request_target"])
def test_pull_request_events_target_the_head_they_name(
    tmp_path: Path, npm_data: Path, action: str, event_name: str
) -> None:
    payload = example(npm_data, "pull_request", action, installation=False)
    payload["pull_request"]["draft"] = False
    payload["sender"]["type"] = "User"
    target = target_of(_context(tmp_path, event_name, payload))
    pull = payload["pull_request"]
    assert target == Target(pull["number"], expected_head=pull["head"]["sha"])


def test_other_pull_request_actions_drafts_and_bots_are_skipped(
    tmp_path: Path, npm_data: Path
) -> None:
    closed = example(npm_data, "pull_request", "closed", installation=False)
    assert target_of(_context(tmp_path, "pull_request", closed)) == Skip(
        "pull_request action 'closed' is not reviewed"
    )
    draft = example(npm_data, "pull_request", "opened", installation=False)
    draft["pull_request"]["draft"], draft["sender"]["type"] = True, "User"
    assert target_of(_context(tmp_path, "pull_request", draft)) == Skip("draft pull request")
    bot = example(npm_data, "pull_request", "opened", installation=False)
    bot["sender"]["type"] = "Bot"
    assert target_of(_context(tmp_path, "pull_request", bot)) == Skip("the event was sent by a bot")
    push = example(npm_data, "push", None, installation=False)
    assert isinstance(target_of(_context(tmp_path, "push", push)), Skip)


def _comment_payload(npm_data: Path, body: str, *, on_pull: bool = True) -> dict[str, Any]:
    # No upstream example of a comment on a pull request: issue_comment/created with
    # the issue.pull_request object the webhook schema describes.
    payload = example(npm_data, "issue_comment", "created", installation=False)
    payload["comment"]["body"] = body
    payload["sender"]["type"] = "User"
    if on_pull:
        payload["issue"]["pull_request"] = {"url": "https://api.github.com/repos/a/b/pulls/1"}
    return payload


def test_a_command_comment_targets_its_pull_request(tmp_path: Path, npm_data: Path) -> None:
    payload = _comment_payload(npm_data, "/twelve-review full factors=3,4")
    target = target_of(_context(tmp_path, "issue_comment", payload))
    assert isinstance(target, Target) and target.command is not None
    assert (target.number, target.comment_id, target.expected_head) == (
        payload["issue"]["number"],
        payload["comment"]["id"],
        "",
    )
    assert target.command.full and target.command.factors == {3, 4}
    assert target.commenter == payload["comment"]["user"]["login"]
    assert target.association == payload["comment"]["author_association"]
    chat = _comment_payload(npm_data, "Looks good to me")
    assert target_of(_context(tmp_path, "issue_comment", chat)) == Skip(
        "the comment is not a /twelve-review command"
    )
    on_issue = _comment_payload(npm_data, "/twelve-review", on_pull=False)
    assert target_of(_context(tmp_path, "issue_comment", on_issue)) == Skip(
        "the comment is not on a pull request"
    )


def test_workflow_dispatch_takes_the_number_from_its_inputs(tmp_path: Path, npm_data: Path) -> None:
    payload = example(npm_data, "workflow_dispatch", None, installation=False)
    assert isinstance(target_of(_context(tmp_path, "workflow_dispatch", payload)), Skip)
    payload["inputs"] = {"pull-request": "42"}
    assert target_of(_context(tmp_path, "workflow_dispatch", payload)) == Target(42)
    by_input = _context(tmp_path, "workflow_dispatch", {"inputs": {}}, pull_request="7")
    assert target_of(by_input) == Target(7)
    payload["inputs"] = {"pull-request": "main"}
    with pytest.raises(ActionError, match="pull-request: 'main' is not a pull request number"):
        target_of(_context(tmp_path, "workflow_dispatch", payload))


def test_inputs_are_validated_with_the_name_of_the_input(tmp_path: Path) -> None:
    context = _context(tmp_path, "push", {}, fail_on="warning", max_comments="5", llm="off")
    assert context.inputs.fail_on is FailOn.WARNING
    assert (context.inputs.max_comments, context.inputs.llm) == (5, "off")
    assert _context(tmp_path, "push", {}).inputs.fail_on is None  # the config decides
    with pytest.raises(ActionError, match=r"^fail-on: "):
        _context(tmp_path, "push", {}, fail_on="sometimes")
    with pytest.raises(ActionError, match=r"^max-comments: "):
        _context(tmp_path, "push", {}, max_comments="many")
    with pytest.raises(ActionError, match=r"^config: "):
        _context(tmp_path, "push", {}, config="../../etc/passwd")
    with pytest.raises(ActionError, match="github-token"):
        RunnerContext.from_env({"GITHUB_EVENT_NAME": "push", "GITHUB_REPOSITORY": "a/b"})


def _finding(severity: Severity, line: int) -> Finding:
    return Finding(
        rule="TF0301",
        factor=3,
        severity=severity,
        path="app/settings.py",
        line=line,
        message="A credential in code.",
        rationale="Config belongs in the environment.",
        fingerprint=f"{line:016x}",
    )


def test_annotations_stay_within_the_per_step_limits_most_severe_first() -> None:
    findings = [_finding(Severity.NOTICE, n) for n in range(1, 16)]
    findings += [_finding(Severity.ERROR, n) for n in range(100, 125)]
    findings += [_finding(Severity.WARNING, n) for n in range(200, 203)]
    lines = annotation_lines(findings)
    kinds = [line.split(" ", 1)[0].split("::", 2)[1] for line in lines]
    assert kinds.count("error") == ANNOTATIONS_PER_LEVEL
    assert kinds.count("warning") == 3
    assert kinds.count("notice") == ANNOTATIONS_PER_LEVEL  # 9 findings and the count
    assert lines[0].startswith("::error file=app/settings.py,line=100,")
    assert lines[-1] == "::notice::twelve-review: 21 more finding(s) are in the job summary."
    assert annotation_lines([_finding(Severity.WARNING, 1)])[0].startswith("::warning ")


def test_outputs_survive_values_with_newlines_and_delimiter_lookalikes(tmp_path: Path) -> None:
    output = tmp_path / "output"
    summary = "## twelve-review\n\nEOF\nname=value\n"
    write_outputs(output, {"findings": "3", "summary": summary})
    write_outputs(output, {"errors": "1"})  # appends, as every writer to the file must
    assert parse_outputs(output.read_text()) == {
        "findings": "3",
        "summary": summary.rstrip("\n"),
        "errors": "1",
    }


def test_empty_model_inputs_mean_no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """action.yml passes unset inputs as empty variables: that is no endpoint, not an
    empty key that would switch the model on and fail every request."""
    monkeypatch.setenv("OPENAI_API_KEY", "")
    monkeypatch.setenv("OPENAI_BASE_URL", "")
    monkeypatch.setenv("TWELVE_REVIEW_MODEL", "")
    settings = LLMSettings()
    assert not settings.enabled and settings.model == LLMSettings.model_fields["model"].default
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert LLMSettings().enabled


def test_a_unicode_digit_is_not_a_pull_request_number(tmp_path: Path) -> None:
    with pytest.raises(ActionError, match="pull-request: '²' is not a pull request number"):
        target_of(_context(tmp_path, "workflow_dispatch", {"inputs": {"pull-request": "²"}}))
