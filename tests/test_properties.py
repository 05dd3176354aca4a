"""Property tests: any mix of realistic lines, under any file name, reviews without
crashing, and every finding is anchored to a line GitHub accepts a comment on."""

from __future__ import annotations

import difflib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.diff import parse_diff
from bot.engine import review_files
from tests.helpers import added_file_diff

ROOT = Path(__file__).parent

# Lines that make rules fire (and their look-alikes), from every fixture and corpus case.
_LINES = sorted(
    {
        line[1:] if path.suffix == ".diff" else line
        for path in [*ROOT.glob("rules/fixtures/**/*"), *ROOT.glob("corpus/*.diff")]
        if path.is_file() and not path.name.endswith(".json")
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
        if (path.suffix != ".diff" or line.startswith("+")) and not line.startswith("+++")
    }
)

_PATHS = [
    "app/settings.py", "src/server.ts", "cmd/api/main.go", "src/main/java/App.java",
    "config/environments/production.rb", "docker/entrypoint.sh", "Dockerfile",
    "docker-compose.yml", "deploy/k8s/api.yaml", "charts/api/templates/deployment.yaml",
    "Procfile", "src/main/resources/application.properties", "setup.cfg", "pyproject.toml",
    "package.json", ".env", "nginx/nginx.conf", "logback.xml", "requirements.txt", "Gemfile",
    "supervisord.conf", "scripts/backfill.py", "go.mod",
]  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    path=st.sampled_from(_PATHS),
    lines=st.lists(st.sampled_from(_LINES), min_size=1, max_size=25),
    with_content=st.booleans(),
)
def test_any_mix_of_lines_reviews_and_anchors_inside_the_diff(
    path: str, lines: list[str], with_content: bool
) -> None:
    text = "\n".join(lines) + "\n"
    files = parse_diff(added_file_diff(path, text))
    if with_content:
        files = [f.with_content(text) for f in files]
    result = review_files(files, repo_files=frozenset({path, "Dockerfile"}))
    (changed,) = files
    for finding in result.findings:
        assert finding.path == path
        assert changed.is_commentable(finding.line)
        if finding.end_line is not None:
            assert changed.is_commentable(finding.end_line)
    fingerprints = [f.fingerprint for f in result.findings]
    assert len(set(fingerprints)) == len(fingerprints)
    assert len({(f.path, f.line) for f in result.findings}) == len(result.findings)


def test_line_pool_is_large() -> None:
    assert len(_LINES) > 2000


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    path=st.sampled_from(_PATHS),
    before=st.lists(st.sampled_from(_LINES), min_size=1, max_size=30),
    inserts=st.lists(
        st.tuples(st.integers(min_value=0, max_value=30), st.sampled_from(_LINES)),
        min_size=1,
        max_size=6,
    ),
)
def test_modified_files_anchor_only_on_lines_in_the_diff(
    path: str, before: list[str], inserts: list[tuple[int, str]]
) -> None:
    after = list(before)
    for position, line in inserts:
        after.insert(min(position, len(after)), line)
    diff = "".join(
        difflib.unified_diff(
            [x + "\n" for x in before], [x + "\n" for x in after], f"a/{path}", f"b/{path}"
        )
    )
    files = [f.with_content("\n".join(after) + "\n") for f in parse_diff(diff)]
    result = review_files(files, repo_files=frozenset({path}))
    for finding in result.findings:
        (changed,) = files
        assert changed.is_commentable(finding.line), finding
        if finding.end_line is not None:
            assert changed.is_commentable(finding.end_line), finding
