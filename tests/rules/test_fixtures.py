"""Every rule against its fixtures, with exact expected lines (Semgrep style).

Layout: tests/rules/fixtures/<CODE>/<virtual path>. The virtual path is the
path the file is reviewed under, so `TF0301/app/settings.py` is reviewed as
`app/settings.py`. A line holding `ruleid: <CODE>` marks the next line as one
that must fire; `ok: <CODE>` marks the next line as a look-alike that must not.
Any other line that fires is a failure too. Files without comments (JSON) use a
sidecar `<file>.expected.json`: {"lines": [...]}. A sidecar
`<file>.repo_files.json` (a list of paths) reviews the file as part of a
repository holding those paths, for rules that look at the file list. A `<name>.diff` fixture is
reviewed as a diff, with `<name>.diff.expected.json`: {"hits": [[path, line], ...]}.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.diff import parse_diff
from bot.engine import ReviewResult, review_files
from bot.findings import Finding
from bot.rules.registry import ALL_RULES
from tests.helpers import added_file_diff

FIXTURES = Path(__file__).parent / "fixtures"
_MARK = re.compile(r"\b(ruleid|ok):\s*(TF\d{4})\b")


_SIDECARS = (".expected.json", ".repo_files.json")


def _fixture_files() -> list[Path]:
    return sorted(p for p in FIXTURES.rglob("*") if p.is_file() and not p.name.endswith(_SIDECARS))


def _repo_files(path: Path, virtual: str) -> frozenset[str] | None:
    sidecar = path.with_name(path.name + ".repo_files.json")
    if not sidecar.exists():
        return None
    return frozenset([*json.loads(sidecar.read_text()), virtual])


def _expected_and_ok(path: Path, code: str, text: str) -> tuple[set[int], set[int]]:
    sidecar = path.with_name(path.name + ".expected.json")
    if sidecar.exists():
        return set(json.loads(sidecar.read_text())["lines"]), set()
    expected: set[int] = set()
    ok: set[int] = set()
    pending: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        mark = _MARK.search(line)
        if mark and mark.group(2) == code:
            pending = mark.group(1)
            continue
        if pending and line.strip():
            (expected if pending == "ruleid" else ok).add(number)
            pending = None
    return expected, ok


def _fired(result: ReviewResult) -> list[Finding]:
    """Where rules fired, including findings folded into another on the same line."""
    return [*result.findings, *(x.finding for x in result.folded)]


def _case_id(path: Path) -> str:
    return str(path.relative_to(FIXTURES))


@pytest.mark.parametrize("path", _fixture_files(), ids=_case_id)
def test_fixture(path: Path) -> None:
    code, *rest = path.relative_to(FIXTURES).parts
    virtual = "/".join(rest)
    text = path.read_bytes().decode("utf-8")
    if path.suffix == ".diff":
        hits = json.loads(path.with_name(path.name + ".expected.json").read_text())["hits"]
        expected_hits = {(p, n) for p, n in hits}
        result = review_files(parse_diff(text))
        assert {(f.path, f.line) for f in _fired(result) if f.rule == code} == expected_hits
        return
    expected, ok = _expected_and_ok(path, code, text)
    result = review_files(
        parse_diff(added_file_diff(virtual, text)), repo_files=_repo_files(path, virtual)
    )
    fired = {f.line for f in _fired(result) if f.rule == code}
    assert fired == expected, (
        f"{code} on {virtual}: fired {sorted(fired)}, expected {sorted(expected)}"
    )
    assert not (fired & ok)


def _cases_for(code: str) -> tuple[int, int]:
    """(positive, negative) fixture cases of a rule."""
    positive = negative = 0
    for path in (FIXTURES / code).rglob("*"):
        if not path.is_file() or path.name.endswith(_SIDECARS):
            continue
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".diff":
            hits = json.loads(path.with_name(path.name + ".expected.json").read_text())["hits"]
            positive += len(hits)
            negative += not hits
            continue
        expected, ok = _expected_and_ok(path, code, text)
        positive += len(expected)
        negative += len(ok) + (not expected)
    return positive, negative


@pytest.mark.parametrize("code", [r.code for r in ALL_RULES])
def test_every_rule_has_positive_and_negative_fixtures(code: str) -> None:
    positive, negative = _cases_for(code)
    assert positive >= 1, f"{code} has no fixture that must fire"
    assert negative >= 1, f"{code} has no look-alike fixture that must stay quiet"


def test_fixture_directories_name_real_rules() -> None:
    codes = {r.code for r in ALL_RULES}
    assert {p.name for p in FIXTURES.iterdir() if p.is_dir()} <= codes
