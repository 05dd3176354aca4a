"""The `twelve-review` console script, run as a real process on real git repositories."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from bot.rules.registry import ALL_RULES
from tests.conftest import GitRepo
from tests.helpers import added_file_diff

SCRIPT = Path(sys.executable).parent / "twelve-review"
LOG_LINE = 'handler = logging.FileHandler("app.log")'


def run(
    *args: str, cwd: Path | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def branch_repo(git_repo: GitRepo) -> GitRepo:
    """main with one file; branch `feature` adds file logging to it."""
    git_repo.write("app/log.py", "import logging\n")
    git_repo.commit("base")
    git_repo.git("checkout", "-q", "-b", "feature")
    git_repo.write("app/log.py", f"import logging\n{LOG_LINE}\n")
    git_repo.write("tests/test_log.py", f"{LOG_LINE}\n")
    git_repo.commit("feature")
    return git_repo


def test_review_branch_against_base_text(branch_repo: GitRepo) -> None:
    done = run("review", "--base", "main", cwd=branch_repo.root)
    assert done.returncode == 0, done.stderr  # a warning is below the default fail-on
    assert "app/log.py" in done.stdout
    assert "TF1101" in done.stdout
    assert "XI. Logs" in done.stdout
    assert "\x1b[" not in done.stdout  # no colour when stdout is not a TTY
    assert "1 finding (1 warning) in 1 file reviewed; 1 skipped (1 test)." in done.stdout


def test_fail_on_sets_the_exit_code(branch_repo: GitRepo) -> None:
    assert (
        run("review", "--base", "main", "--fail-on", "warning", cwd=branch_repo.root).returncode
        == 1
    )
    assert (
        run("review", "--base", "main", "--fail-on", "never", cwd=branch_repo.root).returncode == 0
    )


def test_working_tree_is_reviewed_by_default_and_head_pins_a_commit(branch_repo: GitRepo) -> None:
    branch_repo.write("app/more.py", f"import logging\n{LOG_LINE}\n")
    branch_repo.git("add", "-N", "app/more.py")  # visible to git diff, not committed
    tree = json.loads(
        run("review", "--base", "main", "--format", "json", cwd=branch_repo.root).stdout
    )
    assert {f["path"] for f in tree["findings"]} == {"app/log.py", "app/more.py"}
    pinned = run(
        "review", "--base", "main", "--head", "feature", "--format", "json", cwd=branch_repo.root
    )
    assert {f["path"] for f in json.loads(pinned.stdout)["findings"]} == {"app/log.py"}


def test_no_source_reviews_uncommitted_changes(branch_repo: GitRepo) -> None:
    assert "0 findings" in run("review", cwd=branch_repo.root).stdout
    branch_repo.write("app/log.py", f"import logging\n{LOG_LINE}\n{LOG_LINE} # again\n")
    out = json.loads(run("review", "--format", "json", cwd=branch_repo.root).stdout)
    assert [(f["path"], f["line"]) for f in out["findings"]] == [("app/log.py", 3)]


def test_json_format_is_the_documented_object(branch_repo: GitRepo) -> None:
    done = run("review", "--base", "main", "--format", "json", cwd=branch_repo.root)
    report = json.loads(done.stdout)
    assert report["version"] == 1
    (finding,) = report["findings"]
    assert set(finding) == {
        "rule", "factor", "severity", "path", "line", "end_line", "message",
        "rationale", "suggestion", "source", "fingerprint",
    }  # fmt: skip
    assert finding["factor"] == 11 and isinstance(finding["factor"], int)
    assert (finding["path"], finding["line"], finding["end_line"]) == ("app/log.py", 2, None)
    summary = report["summary"]
    assert summary["files_reviewed"] == 1
    assert summary["files_skipped"] == [{"path": "tests/test_log.py", "reason": "test"}]
    assert summary["by_severity"] == {"error": 0, "warning": 1, "notice": 0}
    assert summary["by_factor"] == {"11": 1}


def test_sarif_validates_against_the_sarif_schema(branch_repo: GitRepo, npm_data: Path) -> None:
    schema_path = npm_data / "@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json"
    schema = json.loads(schema_path.read_text())
    done = run("review", "--base", "main", "--format", "sarif", cwd=branch_repo.root)
    log = json.loads(done.stdout)
    jsonschema.Draft4Validator(schema).validate(log)
    run_ = log["runs"][0]
    rules = run_["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [r.code for r in ALL_RULES]
    assert all(r["help"]["text"] and "factor-" in r["properties"]["tags"][1] for r in rules)
    (result,) = run_["results"]
    assert result["ruleId"] == "TF1101"
    assert rules[result["ruleIndex"]]["id"] == "TF1101"
    assert result["level"] == "warning"
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "app/log.py"
    assert location["region"] == {"startLine": 2}
    assert result["partialFingerprints"]["twelveReview/v1"]


def test_github_format_prints_workflow_commands(branch_repo: GitRepo) -> None:
    done = run("review", "--base", "main", "--format", "github", cwd=branch_repo.root)
    (line,) = done.stdout.splitlines()
    assert line.startswith("::warning file=app/log.py,line=2,title=TF1101 · XI. Logs::")
    assert "%0A" in line  # message and rationale, newline escaped


def test_diff_from_stdin_and_file(tmp_path: Path) -> None:
    diff = added_file_diff("svc/log.py", f"import logging\n{LOG_LINE}\n")
    from_stdin = run("review", "--diff", "-", "--format", "json", cwd=tmp_path, stdin=diff)
    assert [f["line"] for f in json.loads(from_stdin.stdout)["findings"]] == [2]
    (tmp_path / "change.diff").write_text(diff)
    from_file = run("review", "--diff", "change.diff", "--format", "json", cwd=tmp_path)
    assert json.loads(from_file.stdout)["findings"] == json.loads(from_stdin.stdout)["findings"]


def test_repo_config_is_read_and_can_be_overridden(branch_repo: GitRepo, tmp_path: Path) -> None:
    branch_repo.write(".github/twelve-review.yml", "rules:\n  disable: [TF1101]\n")
    assert "0 findings" in run("review", "--base", "main", cwd=branch_repo.root).stdout
    other = tmp_path / "strict.yml"
    other.write_text("fail-on: warning\n")
    done = run("review", "--base", "main", "--config", str(other), cwd=branch_repo.root)
    assert done.returncode == 1
    assert "TF1101" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["review", "--diff", "missing.diff"], "cannot read missing.diff"),
        (["review", "--base", "no-such-ref"], "unknown revision 'no-such-ref'"),
        (["review", "--head", "main"], "--head needs --base"),
        (["review", "--format", "xml"], "invalid choice: 'xml'"),
        (["explain", "TF9999"], "no rule or factor 'TF9999'"),
        (["explain", "13"], "no rule or factor '13'"),
        (["explain", "²"], "no rule or factor '²'"),
        (["review", "--jobs", "²"], "expected a positive integer"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    branch_repo: GitRepo, args: list[str], message: str
) -> None:
    done = run(*args, cwd=branch_repo.root)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("twelve-review: error: ")
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_config_and_bad_diff_exit_2(branch_repo: GitRepo, tmp_path: Path) -> None:
    branch_repo.write(".github/twelve-review.yml", "fail-on: later\n")
    done = run("review", "--base", "main", cwd=branch_repo.root)
    assert (done.returncode, done.stderr.count("\n")) == (2, 1)
    assert "fail-on:" in done.stderr
    garbage = run("review", "--diff", "-", cwd=tmp_path, stdin="not a diff at all\n")
    assert garbage.returncode == 2
    assert "not a unified diff" in garbage.stderr
    outside = run("review", "--base", "HEAD", cwd=tmp_path)
    assert outside.returncode == 2
    assert "not a git repository" in outside.stderr


def test_rules_listing_and_explain() -> None:
    listing = json.loads(run("rules", "--format", "json").stdout)
    assert [r["code"] for r in listing] == [r.code for r in ALL_RULES]
    assert all(r["rationale"] and 1 <= r["factor"] <= 12 for r in listing)
    text = run("rules").stdout
    assert all(r.code in text for r in ALL_RULES)
    explained = run("explain", "tf1101")
    assert explained.returncode == 0
    for section in ("## What it does", "## Why it matters", "## Example", "## Use instead"):
        assert section in explained.stdout
    assert "https://12factor.net/logs" in explained.stdout
    factor = run("explain", "11").stdout
    assert "Factor XI. Logs" in factor
    assert "TF1101" in factor


def test_python_dash_m_bot_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--version"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert done.stdout.startswith("twelve-review ")


def test_text_is_coloured_on_a_tty_unless_no_color(branch_repo: GitRepo) -> None:
    def on_tty(extra_env: dict[str, str]) -> str:
        leader, follower = pty.openpty()
        env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"} | extra_env
        proc = subprocess.Popen(
            [str(SCRIPT), "review", "--base", "main"],
            cwd=branch_repo.root,
            stdout=follower,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        os.close(follower)
        chunks: list[bytes] = []
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        proc.wait(timeout=60)
        os.close(leader)
        return b"".join(chunks).decode()

    assert "\x1b[33mwarning" in on_tty({})
    assert "\x1b[" not in on_tty({"NO_COLOR": "1"})


def test_json_lists_findings_folded_into_one_per_line() -> None:
    case = Path(__file__).parent / "corpus/admin-processes-script-own-connection.diff"
    report = json.loads(run("review", "--diff", str(case), "--format", "json").stdout)
    assert [(f["rule"], f["line"]) for f in report["findings"]] == [("TF0402", 10)]
    assert sorted((x["rule"], x["line"], x["into"]) for x in report["summary"]["folded"]) == [
        ("TF0306", 10, "TF0402"),
        ("TF1204", 10, "TF0402"),
    ]
    text = run("review", "--diff", str(case)).stdout
    assert "2 folded into another finding on the same line" in text
