"""The engine: skipping, config, inline suppressions and stable fingerprints.

TF1101 (Python file logging) serves as the subject rule throughout.
"""

from __future__ import annotations

from bot.config import parse_config
from bot.diff import parse_diff
from bot.engine import review_files
from bot.findings import Severity
from bot.suppression import parse_suppression
from tests.conftest import GitRepo
from tests.helpers import added_file_diff, lines_for, review_text

LOG_LINE = 'handler = logging.FileHandler("app.log")'


def test_rule_fires_with_its_metadata() -> None:
    result = review_text("app/log.py", f"import logging\n{LOG_LINE}\n")
    (finding,) = result.findings
    assert (finding.rule, finding.factor, finding.path, finding.line) == (
        "TF1101",
        11,
        "app/log.py",
        2,
    )
    assert finding.severity is Severity.WARNING
    assert finding.source == "rule"
    assert "stdout" in finding.rationale
    assert result.reviewed == ["app/log.py"]


def test_non_production_paths_are_skipped_with_a_reason() -> None:
    diff = "".join(
        added_file_diff(p, LOG_LINE)
        for p in (
            "tests/test_log.py",
            "pkg/log_test.py",
            "docs/logging.py",
            "settings.py.example",
            "README.md",
            "src/main.c",
        )
    )
    result = review_files(parse_diff(diff))
    assert result.findings == []
    assert {(s.path, s.reason) for s in result.skipped} == {
        ("tests/test_log.py", "test"),
        ("pkg/log_test.py", "test"),
        ("docs/logging.py", "docs"),
        ("settings.py.example", "example"),
        ("README.md", "docs"),
        ("src/main.c", "unrecognised"),
    }


def test_removed_lines_are_not_flagged() -> None:
    diff = (
        "diff --git a/log.py b/log.py\n--- a/log.py\n+++ b/log.py\n"
        f"@@ -1,2 +1,2 @@\n import logging\n-{LOG_LINE}\n+handler = logging.StreamHandler()\n"
    )
    assert review_files(parse_diff(diff)).findings == []


def test_config_disables_overrides_and_excludes() -> None:
    text = f"import logging\n{LOG_LINE}\n"
    assert review_text("a.py", text, parse_config("rules: {disable: [TF1101]}")).findings == []
    assert review_text("a.py", text, parse_config("factors: {disable: [11]}")).findings == []
    (found,) = review_text(
        "a.py", text, parse_config("rules: {severity: {TF1101: error}}")
    ).findings
    assert found.severity is Severity.ERROR
    excluded = review_text("gen/a.py", text, parse_config("paths: {exclude: ['gen/**']}"))
    assert excluded.findings == []
    assert [(s.path, s.reason) for s in excluded.skipped] == [("gen/a.py", "excluded")]


def test_inline_suppression_on_the_line_and_the_line_above() -> None:
    text = "\n".join(
        [
            "import logging",
            f"{LOG_LINE}  # twelve-review: ignore[TF1101] audit log must stay on disk",
            "# twelve-review: ignore[11] legacy sidecar ships this file",
            LOG_LINE,
            "# twelve-review: ignore[TF0301] wrong rule, so no effect",
            LOG_LINE,
            LOG_LINE,
        ]
    )
    result = review_text("app/log.py", text)
    assert lines_for(result, "TF1101") == [("app/log.py", 6), ("app/log.py", 7)]
    assert [(s.finding.line, s.reason) for s in result.suppressed] == [
        (2, "audit log must stay on disk"),
        (4, "legacy sidecar ships this file"),
    ]


def test_suppression_needs_a_code_or_factor() -> None:
    assert parse_suppression("# twelve-review: ignore[] because") is None
    assert parse_suppression("# twelve-review: ignore everything") is None
    found = parse_suppression("<!-- twelve-review: ignore[TF1102, 3] kept for ops -->")
    assert found is not None
    assert found.codes == frozenset({"TF1102"})
    assert found.factors == frozenset({3})
    assert found.reason == "kept for ops"


def test_fingerprint_survives_unrelated_edits_above(git_repo: GitRepo) -> None:
    git_repo.write("app/log.py", "import logging\n")
    base = git_repo.commit()
    git_repo.write("app/log.py", f"import logging\n{LOG_LINE}\n")
    first_head = git_repo.commit()
    git_repo.write("app/log.py", f'"""Docs."""\nimport os\n\nimport logging\n{LOG_LINE}\n')
    second_head = git_repo.commit()

    def review(head: str) -> tuple[int, str]:
        raw = git_repo.git("diff", "--no-color", base, head)
        (finding,) = review_files(parse_diff(raw)).findings
        return finding.line, finding.fingerprint

    line1, fp1 = review(first_head)
    line2, fp2 = review(second_head)
    assert (line1, line2) == (2, 5)
    assert fp1 == fp2


def test_identical_lines_get_distinct_fingerprints() -> None:
    result = review_text("a.py", f"{LOG_LINE}\n{LOG_LINE}\n   {LOG_LINE}\n")
    prints = [f.fingerprint for f in result.findings]
    assert len(prints) == 3
    assert len(set(prints)) == 3
    again = review_text("a.py", f"x = 1\n{LOG_LINE}\n{LOG_LINE}\n   {LOG_LINE}\n")
    assert [f.fingerprint for f in again.findings] == prints


def test_fingerprint_depends_on_rule_path_and_content() -> None:
    one = review_text("a.py", LOG_LINE).findings[0].fingerprint
    assert review_text("b.py", LOG_LINE).findings[0].fingerprint != one
    other = review_text("a.py", LOG_LINE.replace("app", "web")).findings[0].fingerprint
    assert other != one


def test_findings_are_sorted_by_path_then_line() -> None:
    diff = added_file_diff("z.py", f"{LOG_LINE}\n") + added_file_diff("a.py", f"x=1\n{LOG_LINE}\n")
    result = review_files(parse_diff(diff))
    assert [(f.path, f.line) for f in result.findings] == [("a.py", 2), ("z.py", 1)]


def test_parallel_review_matches_serial() -> None:
    # Large enough (20,000+ added lines) for the engine to fork workers.
    files = []
    for n in range(200):
        body = "".join(f"value_{i} = compute({i})\n" for i in range(100))
        body += f"{LOG_LINE}\n{LOG_LINE}  # twelve-review: ignore[TF1101] kept\n"
        files.append(added_file_diff(f"svc/m{n}.py", body))
    parsed = parse_diff("".join(files))
    serial = review_files(parsed)
    parallel = review_files(parsed, jobs=2)
    assert len(serial.findings) == 200
    assert parallel.findings == serial.findings
    assert parallel.reviewed == serial.reviewed
    assert len(serial.suppressed) == 200
    assert parallel.suppressed == serial.suppressed
