"""`twelve-review review` with an LLM: the real console script talking real HTTP to
the fake OpenAI-compatible server in tests/fake_openai.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import GitRepo
from tests.fake_openai import FakeOpenAI, answer, error, fake_openai, raw
from tests.helpers import added_file_diff

__all__ = ["fake_openai"]  # the fixture, used by name below

SCRIPT = Path(sys.executable).parent / "twelve-review"
API_KEY = "sk-test-0123456789abcdefghijklmnopqrstuv"
SECRET = "Zk4pQ9wL2rTx8vB"
NOTE = "tech.practice.12-factor-app.backing-services"

APP = "\n".join(
    [
        "import os",
        "import redis",
        "",
        "cache = redis.Redis.from_url(os.environ['REDIS_URL'])",
        f"DB_PASSWORD = '{SECRET}'",
        "def handler(event):",
        "    return cache.get(event['key'])",
    ]
)


def _env(fake: FakeOpenAI, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "TWELVE_REVIEW_"))}
    return (
        env
        | {
            "OPENAI_BASE_URL": fake.base_url,
            "OPENAI_API_KEY": API_KEY,
            "TWELVE_REVIEW_MODEL": "small-test-model",
            "TWELVE_REVIEW_RETRY_SECONDS": "3",
            "TIKTOKEN_CACHE_DIR": str(tmp_path / "no-encodings"),  # never download in tests
        }
        | extra
    )


def _run(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    diff = tmp_path / "change.diff"
    diff.write_text(added_file_diff("svc/app.py", APP))
    return subprocess.run(
        [str(SCRIPT), "review", "--diff", str(diff), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _llm_finding(line: int, **extra: Any) -> dict[str, Any]:
    return {
        "path": "svc/app.py",
        "line": line,
        "end_line": None,
        "factor": 4,
        "note": NOTE,
        "severity": "warning",
        "message": "The cache is read per request without a timeout.",
        "rationale": "A backing service can disappear; the app must tolerate it.",
        "suggestion": None,
    } | extra


def test_review_with_llm_keeps_valid_findings_and_reports_usage(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    fake_openai.script(
        answer(
            {"findings": [_llm_finding(7), _llm_finding(42), _llm_finding(7, path="x.py")]},
            prompt_tokens=900,
            completion_tokens=80,
        )
    )
    done = _run(["--format", "json"], _env(fake_openai, tmp_path), tmp_path)
    assert done.returncode == 1, done.stderr  # the rules' credential error
    report = json.loads(done.stdout)
    by_source = {(f["source"], f["rule"], f["line"]) for f in report["findings"]}
    assert by_source == {("rule", "TF0302", 5), ("llm", "LLM", 7)}
    llm = report["summary"]["llm"]
    assert (llm["status"], llm["model"], llm["requests"]) == ("ok", "small-test-model", 1)
    assert llm["tokens"] == {"prompt": 900, "completion": 80, "total": 980}
    assert llm["dropped"] == {"line-not-in-diff": 1, "path-not-in-diff": 1}

    (request,) = fake_openai.requests
    assert request.body["model"] == "small-test-model"
    assert request.response_format == "json_schema"
    user = request.body["messages"][-1]["content"]
    assert f"## {NOTE}" in user
    assert SECRET not in json.dumps(request.body)
    assert API_KEY not in done.stdout + done.stderr


def test_no_llm_sends_nothing(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    done = _run(["--no-llm", "--format", "json"], _env(fake_openai, tmp_path), tmp_path)
    assert fake_openai.requests == []
    assert json.loads(done.stdout)["summary"]["llm"]["status"] == "off"
    text = _run(["--no-llm"], _env(fake_openai, tmp_path), tmp_path).stdout
    assert "Rules only: no LLM configured" in text


def test_unconfigured_llm_is_rules_only(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "TWELVE_REVIEW_"))}
    done = _run(["--format", "json"], env, tmp_path)
    assert json.loads(done.stdout)["summary"]["llm"]["status"] == "off"


def test_model_down_still_completes_on_rules(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    fake_openai.default = error(503, "overloaded")
    done = _run(["--format", "json"], _env(fake_openai, tmp_path), tmp_path)
    assert done.returncode == 1  # still the rules' error, nothing crashed
    report = json.loads(done.stdout)
    assert [f["rule"] for f in report["findings"]] == ["TF0302"]
    llm = report["summary"]["llm"]
    assert llm["status"] == "unavailable"
    assert llm["not_reviewed"] == [{"path": "svc/app.py", "reason": "llm-unavailable"}]
    assert 1 < len(fake_openai.requests) < 10  # retried, but bounded
    text = _run([], _env(fake_openai, tmp_path), tmp_path).stdout
    assert "LLM unavailable" in text and "rules only" in text


def test_structured_output_rejected_falls_back(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    fake_openai.reject_structured_output()
    fake_openai.script(answer({"findings": [_llm_finding(7)]}))
    done = _run(["--format", "json"], _env(fake_openai, tmp_path), tmp_path)
    report = json.loads(done.stdout)
    assert any(f["source"] == "llm" for f in report["findings"])
    assert [r.response_format for r in fake_openai.requests] == ["json_schema", "json_object"]


def test_malformed_answer_is_reported_not_fatal(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    fake_openai.script(raw('{"findings": [{"path": "svc/app.py", "line": '))
    done = _run(["--format", "json"], _env(fake_openai, tmp_path), tmp_path)
    llm = json.loads(done.stdout)["summary"]["llm"]
    assert llm["dropped"] == {"malformed-output": 1}
    assert llm["not_reviewed"] == [{"path": "svc/app.py", "reason": "malformed-output"}]


def test_dry_run_prints_masked_prompts_and_sends_nothing(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    done = _run(["--dry-run-prompt"], _env(fake_openai, tmp_path), tmp_path)
    assert done.returncode == 0, done.stderr
    assert fake_openai.requests == []
    assert done.stdout.startswith("1 request(s), ")
    assert "(estimate)" in done.stdout  # no tiktoken encoding here: the estimate, said so
    assert "===== request 1:" in done.stdout and "----- system -----" in done.stdout
    assert SECRET not in done.stdout
    assert "«masked»" in done.stdout


def test_llm_budget_names_what_was_not_reviewed(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    done = _run(["--llm-budget", "100"], _env(fake_openai, tmp_path), tmp_path)
    assert fake_openai.requests == []
    assert "not reviewed by the LLM: svc/app.py (token-cap)" in done.stdout


def test_bad_llm_setting_is_one_line(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    env = _env(fake_openai, tmp_path, TWELVE_REVIEW_REQUEST_BUDGET="lots")
    done = _run([], env, tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("twelve-review: error: TWELVE_REVIEW_REQUEST_BUDGET")
    assert done.stderr.count("\n") == 1


@pytest.mark.parametrize("variable", ["OPENAI_API_KEY"])
def test_secrets_never_printed(fake_openai: FakeOpenAI, tmp_path: Path, variable: str) -> None:
    fake_openai.default = error(401, "bad key")
    done = _run(["--format", "json"], _env(fake_openai, tmp_path), tmp_path)
    assert len(fake_openai.requests) == 1  # no retry on 401
    assert API_KEY not in done.stdout + done.stderr
    assert json.loads(done.stdout)["summary"]["llm"]["status"] == "unavailable"


def test_team_notes_from_the_config_reach_the_prompt(
    fake_openai: FakeOpenAI, git_repo: GitRepo, tmp_path: Path
) -> None:
    git_repo.write("svc/app.py", "import os\n")
    git_repo.write(".github/twelve-review.yml", "notes: docs/twelve-factor\n")
    git_repo.write(
        "docs/twelve-factor/acme.secrets.md",
        "---\nid: acme.secrets\ntitle: Secrets live in Vault\ndesc: ''\nupdated: 1\n"
        "created: 1\nfactor: 3\n---\nAt Acme, secrets come from Vault, never from env vars.\n",
    )
    git_repo.commit("base")
    git_repo.write("svc/app.py", APP)
    done = subprocess.run(
        [str(SCRIPT), "review", "--base", "HEAD", "--dry-run-prompt"],
        cwd=git_repo.root,
        env=_env(fake_openai, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "At Acme, secrets come from Vault" in done.stdout
    assert "acme.secrets" in done.stdout.splitlines()[2]  # listed among the request's notes


def test_large_change_is_split_and_every_request_fits_the_budget(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    body = "\n".join(f"value_{i} = compute_something({i}, 'argument')" for i in range(12))
    diff = tmp_path / "big.diff"
    diff.write_text("".join(added_file_diff(f"pkg/m{n}.py", body) for n in range(6)))
    env = _env(fake_openai, tmp_path, TWELVE_REVIEW_REQUEST_BUDGET="5000")
    done = subprocess.run(
        [str(SCRIPT), "review", "--diff", str(diff), "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    llm = json.loads(done.stdout)["summary"]["llm"]
    assert llm["requests"] == len(fake_openai.requests) > 1
    for request in fake_openai.requests:
        sent = "".join(m["content"] for m in request.body["messages"])
        assert len(sent.encode()) / 2.5 <= 5000  # the estimate the CLI counted with
    seen = {
        p
        for r in fake_openai.requests
        for p in [f"pkg/m{n}.py" for n in range(6)]
        if f"### {p} " in r.body["messages"][-1]["content"]
    }
    assert seen | {n["path"] for n in llm["not_reviewed"]} == {f"pkg/m{n}.py" for n in range(6)}
