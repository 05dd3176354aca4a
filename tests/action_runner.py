"""Run action.yml the way a GitHub runner runs a composite action, as far as a test can.

It reads action.yml, fills each input from `with:` or its default, evaluates the
`${{ ... }}` expressions the action uses (inputs, github.action_path, github.token,
runner.temp, steps.<id>.outputs.<name>; any other expression is an error, so the
action cannot quietly depend on something this runner does not do), evaluates
`if:` conditions of the form `steps.x.outputs.y == 'v'` / `!=`, and runs every
`run:` step with `bash --noprofile --norc -eo pipefail` (the runner's bash) in a
fresh environment: the runner's variables, the step's `env:`, and a fresh
GITHUB_OUTPUT file whose entries become that step's outputs.

`uses:` steps cannot run here (they are other repositories' actions); they are
stood in for: actions/setup-python answers with this interpreter, actions/cache
reports a hit when the cached path already exists (tests create it to stand for
a restored cache, or leave it absent to run the install step for real).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
ACTION = ROOT / "action.yml"
_EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")
_CONDITION = re.compile(r"^steps\.([\w-]+)\.outputs\.([\w-]+)\s*(==|!=)\s*'([^']*)'$")


@dataclass
class ActionRun:
    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    steps: dict[str, dict[str, str]] = field(default_factory=dict)
    ran: list[str] = field(default_factory=list)  # names of the steps that ran


def parse_outputs(text: str) -> dict[str, str]:
    """GITHUB_OUTPUT's format: `name=value` lines and `name<<DELIM ... DELIM` blocks."""
    outputs: dict[str, str] = {}
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, index)
            outputs[name] = "\n".join(lines[index:end])
            index = end + 1
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


class _Context:
    def __init__(
        self, inputs: Mapping[str, str], runner_env: Mapping[str, str], token: str
    ) -> None:
        self.inputs = inputs
        self.runner_env = runner_env
        self.token = token
        self.steps: dict[str, dict[str, str]] = {}

    def value(self, expression: str) -> str:
        parts = expression.split(".")
        if parts[0] == "inputs" and len(parts) == 2:
            return self.inputs[parts[1]]
        if expression == "github.action_path":
            return str(ROOT)
        if expression == "github.token":
            return self.token
        if expression == "runner.temp":
            return self.runner_env["RUNNER_TEMP"]
        if parts[0] == "steps" and len(parts) == 4 and parts[2] == "outputs":
            return self.steps.get(parts[1], {}).get(parts[3], "")
        raise AssertionError(
            f"action.yml uses an expression this runner does not know: {expression}"
        )

    def substitute(self, text: Any) -> str:
        return _EXPRESSION.sub(lambda m: self.value(m.group(1)), str(text))

    def condition(self, text: str | None) -> bool:
        if text is None:
            return True
        match = _CONDITION.match(text.strip())
        assert match, f"action.yml uses a condition this runner does not know: {text}"
        step, name, operator, expected = match.groups()
        actual = self.steps.get(step, {}).get(name, "")
        return (actual == expected) == (operator == "==")


def run_action(
    with_inputs: Mapping[str, str],
    runner_env: Mapping[str, str],
    *,
    token: str,
    workdir: Path,
) -> ActionRun:
    """Run action.yml's steps; `runner_env` holds GITHUB_*, RUNNER_* and the like."""
    action = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    declared = action["inputs"]
    unknown = set(with_inputs) - set(declared)
    assert not unknown, f"inputs action.yml does not declare: {unknown}"
    context = _Context({}, runner_env, token)
    context.inputs = {
        name: str(with_inputs[name])
        if name in with_inputs
        else context.substitute(spec.get("default", ""))
        for name, spec in declared.items()
    }
    run = ActionRun(0, "", "", {})
    for index, step in enumerate(action["runs"]["steps"]):
        step_id = step.get("id", f"step{index}")
        if not context.condition(step.get("if")):
            continue
        run.ran.append(step.get("name", step_id))
        if "uses" in step:
            context.steps[step_id] = _stand_in(step["uses"], step.get("with", {}), context)
            continue
        code, outputs = _run_step(step, context, runner_env, workdir, run)
        context.steps[step_id] = outputs
        if code != 0:
            run.returncode = code
            break
    run.steps = context.steps
    run.outputs = {
        name: context.substitute(spec["value"]) for name, spec in action.get("outputs", {}).items()
    }
    return run


def _stand_in(uses: str, with_: Mapping[str, Any], context: _Context) -> dict[str, str]:
    name = uses.split("@", 1)[0]
    if name == "actions/setup-python":
        version = f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"
        return {"python-version": version, "python-path": sys.executable}
    if name == "actions/cache":
        path = Path(context.substitute(with_["path"]))
        return {"cache-hit": "true" if path.exists() else ""}
    raise AssertionError(f"no stand-in for {uses}")


def _run_step(
    step: Mapping[str, Any],
    context: _Context,
    runner_env: Mapping[str, str],
    workdir: Path,
    run: ActionRun,
) -> tuple[int, dict[str, str]]:
    assert step.get("shell") == "bash", "composite run steps must name their shell"
    output_file = workdir / f"output-{len(run.ran)}"
    output_file.write_text("")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(workdir)}
    env |= dict(runner_env)
    env |= {k: context.substitute(v) for k, v in step.get("env", {}).items()}
    env["GITHUB_OUTPUT"] = str(output_file)
    script = workdir / f"step-{len(run.ran)}.sh"
    script.write_text(context.substitute(step["run"]))
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    run.stdout += done.stdout
    run.stderr += done.stderr
    return done.returncode, parse_outputs(output_file.read_text())
