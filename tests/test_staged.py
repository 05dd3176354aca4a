"""`twelve-review review --staged` and the pre-commit hook, on real git repositories."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from pre_commit.clientlib import load_manifest

from bot.cli import _build_parser
from bot.gitsource import diff_from_index
from tests.conftest import GitRepo

BIN = Path(sys.executable).parent
SCRIPT = BIN / "twelve-review"
ROOT = Path(__file__).parent.parent
MANIFEST = ROOT / ".pre-commit-hooks.yaml"
PYPROJECT = ROOT / "pyproject.toml"
LOG_LINE = 'handler = logging.FileHandler("app.log")'  # TF1101, a warning
SECRET_LINE = 'SECRET_KEY = "django-insecure-q7$w2!x9k@m3z8c1v5b6n4m0p"'  # TF0302, an error


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def staged_report(repo: GitRepo) -> dict[str, Any]:
    done = run("review", "--staged", "--format", "json", cwd=repo.root)
    assert done.returncode in (0, 1), done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def found(report: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [(f["rule"], f["path"], f["line"]) for f in report["findings"]]


@pytest.fixture
def repo(git_repo: GitRepo) -> GitRepo:
    """One commit with a clean logging module."""
    git_repo.write("app/log.py", "import logging\n")
    git_repo.commit("base")
    return git_repo


def test_staged_finding_is_reported_with_its_path_and_line(repo: GitRepo, tmp_path: Path) -> None:
    repo.write("app/log.py", f"import logging\n{LOG_LINE}\n")
    repo.git("add", "app/log.py")
    assert found(staged_report(repo)) == [("TF1101", "app/log.py", 2)]
    elsewhere = run(
        "review", "--staged", "--repo", str(repo.root), "--format", "json", cwd=tmp_path
    )
    assert found(json.loads(elsewhere.stdout)) == [("TF1101", "app/log.py", 2)]


def test_unstaged_edits_do_not_change_the_result(repo: GitRepo) -> None:
    repo.write("app/clean.py", "import logging\nlogging.basicConfig()\n")
    repo.git("add", "app/clean.py")
    repo.write("app/clean.py", f"import logging\n{LOG_LINE}\n")  # a finding, not staged
    assert found(staged_report(repo)) == []
    # Staged with a finding, then fixed (and shifted) in the working tree only.
    repo.write("app/log.py", f"import logging\n{LOG_LINE}\n")
    repo.git("add", "app/log.py")
    repo.write("app/log.py", "# header\n# more\nimport logging\n")
    assert found(staged_report(repo)) == [("TF1101", "app/log.py", 2)]


def test_full_file_text_and_file_list_come_from_the_index(repo: GitRepo) -> None:
    repo.write("app/log.py", f"import logging\n{LOG_LINE}\n")
    repo.git("add", "app/log.py")
    repo.write("app/log.py", "something else entirely\n")
    repo.write("untracked.txt", "not in the index\n")
    (changed,) = diff_from_index(repo.root).files
    assert changed.new_content == ("import logging", LOG_LINE)
    assert "untracked.txt" not in diff_from_index(repo.root).repo_files


def test_lockfile_rules_see_the_index_not_the_working_tree(repo: GitRepo) -> None:
    repo.write("Pipfile", '[packages]\nrequests = "*"\n')
    repo.write("Pipfile.lock", "{}\n")  # on disk, not staged: it will not be committed
    repo.git("add", "Pipfile")
    assert found(staged_report(repo)) == [("TF0203", "Pipfile", 2)]
    repo.git("add", "Pipfile.lock")
    assert found(staged_report(repo)) == []


def test_config_is_read_from_the_index(repo: GitRepo) -> None:
    repo.write(".github/twelve-review.yml", "fail-on: warning\n")
    repo.write("app/log.py", f"import logging\n{LOG_LINE}\n")
    repo.git("add", "-A")
    repo.write(".github/twelve-review.yml", "rules:\n  disable: [TF1101]\n")  # not staged
    done = run("review", "--staged", cwd=repo.root)
    assert done.returncode == 1
    assert "TF1101" in done.stdout
    repo.write(".github/twelve-review.yml", "fail-on: later\n")
    repo.git("add", ".github/twelve-review.yml")
    bad = run("review", "--staged", cwd=repo.root)
    assert (bad.returncode, bad.stderr.count("\n")) == (2, 1)
    assert ".github/twelve-review.yml (staged): fail-on:" in bad.stderr


def test_exit_code_follows_fail_on(repo: GitRepo) -> None:
    repo.write("app/settings.py", f"import os\n{SECRET_LINE}\n")
    repo.git("add", "app/settings.py")
    done = run("review", "--staged", "--no-llm", cwd=repo.root)
    assert done.returncode == 1
    assert "TF0302" in done.stdout
    assert run("review", "--staged", "--fail-on", "never", cwd=repo.root).returncode == 0


def test_first_commit_is_compared_with_the_empty_tree(git_repo: GitRepo) -> None:
    git_repo.write("app/log.py", f"import logging\n{LOG_LINE}\n")
    git_repo.git("add", "app/log.py")
    report = staged_report(git_repo)
    assert found(report) == [("TF1101", "app/log.py", 2)]
    assert report["summary"]["files_reviewed"] == 1


def test_renamed_file_is_reviewed_under_its_new_path(repo: GitRepo) -> None:
    repo.write("app/log.py", f"import logging\n{LOG_LINE}\n")
    repo.commit("a finding already on main")
    repo.git("mv", "app/log.py", "app/logs.py")
    assert found(staged_report(repo)) == []  # a pure rename adds no line
    repo.write("app/logs.py", f"import logging\n{LOG_LINE}\n{LOG_LINE}  # again\n")
    repo.git("add", "app/logs.py")
    assert found(staged_report(repo)) == [("TF1101", "app/logs.py", 3)]


def test_deleted_and_binary_files_are_skipped(repo: GitRepo) -> None:
    repo.git("rm", "-q", "app/log.py")
    repo.write("app/logo.png", b"\x89PNG\r\n\x1a\n\x00\x00binary")
    repo.git("add", "app/logo.png")
    report = staged_report(repo)
    assert report["findings"] == []
    assert sorted((s["path"], s["reason"]) for s in report["summary"]["files_skipped"]) == [
        ("app/log.py", "deleted"),
        ("app/logo.png", "binary"),
    ]


@pytest.mark.parametrize("fresh", [False, True], ids=["after-commits", "no-commit-yet"])
def test_nothing_staged_says_so_and_passes(repo: GitRepo, tmp_path: Path, fresh: bool) -> None:
    where = GitRepo(tmp_path / "fresh") if fresh else repo
    where.write("app/log.py", f"import logging\n{LOG_LINE}\n")  # edited, not staged
    done = run("review", "--staged", "--format", "json", cwd=where.root)
    assert done.returncode == 0
    assert done.stderr == "twelve-review: nothing staged to review\n"
    assert json.loads(done.stdout)["findings"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--base", "main"], "argument --base: not allowed with argument --staged"),
        (["--diff", "-"], "argument --diff: not allowed with argument --staged"),
        (["--head", "main"], "argument --head: not allowed with argument --staged"),
    ],
)
def test_staged_excludes_other_sources(repo: GitRepo, args: list[str], message: str) -> None:
    done = run("review", "--staged", *args, cwd=repo.root)
    assert done.returncode == 2
    assert done.stderr == f"twelve-review: error: {message}\n"


def test_hook_manifest_is_valid_and_matches_the_cli() -> None:
    (hook,) = load_manifest(str(MANIFEST))  # pre-commit's own schema check
    assert hook["id"] == "twelve-review"
    assert hook["language"] == "python"
    assert hook["description"]
    assert hook["pass_filenames"] is False
    assert hook["always_run"] is True
    assert hook["require_serial"] is True
    program, *argv = shlex.split(hook["entry"])
    scripts = tomllib.loads(PYPROJECT.read_text())["project"]["scripts"]
    assert scripts[program] == "bot.cli:main"  # the console script the hook's venv installs
    args = _build_parser().parse_args([*argv, *hook["args"]])  # raises on any drift
    assert (args.command, args.staged, args.no_llm) == ("review", True, True)


def test_the_hook_blocks_a_commit_with_a_finding(repo: GitRepo, tmp_path: Path) -> None:
    """pre-commit, installed as the git hook, runs our manifest's entry as a local hook.

    `language: system` in a `repo: local` config runs the command on PATH as is: no
    clone, no virtualenv, no network. PATH starts with this interpreter's bin so
    `twelve-review` is the one under test.
    """
    (hook,) = load_manifest(str(MANIFEST))
    local = {k: hook[k] for k in ("id", "name", "entry", "pass_filenames", "always_run")}
    local |= {"language": "system", "require_serial": hook["require_serial"]}
    config = {"repos": [{"repo": "local", "hooks": [local]}]}
    repo.write(".pre-commit-config.yaml", yaml.safe_dump(config, sort_keys=False))
    repo.commit("pre-commit config")
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "HOME": str(repo.root),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,  # no core.hooksPath or template from the developer
    }

    def shell(*cmd: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            cmd, cwd=repo.root, env=env, capture_output=True, text=True, timeout=120, check=False
        )

    installed = shell(str(BIN / "pre-commit"), "install")
    assert installed.returncode == 0, installed.stdout + installed.stderr
    head = repo.git("rev-parse", "HEAD")

    repo.write("app/settings.py", f"import os\n{SECRET_LINE}\n")
    repo.git("add", "app/settings.py")
    blocked = shell("git", "commit", "-q", "-m", "hard-coded secret")
    said = blocked.stderr  # git sends a hook's output to stderr
    assert blocked.returncode == 1, said
    assert "twelve-review" in said and "Failed" in said
    assert "app/settings.py" in said
    assert "TF0302" in said
    assert repo.git("rev-parse", "HEAD") == head

    repo.write("app/settings.py", 'import os\nSECRET_KEY = os.environ["SECRET_KEY"]\n')
    repo.git("add", "app/settings.py")
    fixed = shell("git", "commit", "-q", "-m", "secret from the environment")
    assert fixed.returncode == 0, fixed.stderr
    assert repo.git("rev-parse", "HEAD") != head

    # `git commit -a` commits a temporary index (GIT_INDEX_FILE): the hook must read that one.
    repo.write("app/settings.py", f"import os\n{SECRET_LINE}\n")
    sneaky = shell("git", "commit", "-q", "-a", "-m", "secret, unstaged until commit -a")
    assert sneaky.returncode == 1, sneaky.stderr
    assert "TF0302" in sneaky.stderr
