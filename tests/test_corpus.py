"""Precision and recall per factor over the labelled corpus in tests/corpus/.

Each case is `<name>.diff` with `<name>.diff.expected.json`:
{"description": "...", "findings": [{"rule": "TF0301", "path": "...", "line": 12}]}.
A finding counts as correct when its (rule, path, line) is expected. The
thresholds below are the numbers the rules reach today (see README); a change
that lowers either fails here.

Cases named `heldout-*` were labelled by a reviewer who did not write the
rules, before running them; the others were written with the rules. Both
count toward the thresholds; the README shows the held-out scores apart.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.diff import parse_diff
from bot.engine import review_files
from bot.factors import FACTORS

CORPUS = Path(__file__).parent / "corpus"
MIN_CASES = 60
MIN_CLEAN_CASES = 10

# Per-factor floors; equal to what the rules reach on this corpus.
MIN_PRECISION = {n: 1.0 for n in FACTORS} | {3: 0.96}
MIN_RECALL = {n: 1.0 for n in FACTORS}

Key = tuple[str, str, int]


@dataclass
class Scores:
    true_pos: Counter[int]
    false_pos: Counter[int]
    false_neg: Counter[int]

    def precision(self, factor: int) -> float:
        found = self.true_pos[factor] + self.false_pos[factor]
        return self.true_pos[factor] / found if found else 1.0

    def recall(self, factor: int) -> float:
        wanted = self.true_pos[factor] + self.false_neg[factor]
        return self.true_pos[factor] / wanted if wanted else 1.0


def _cases(prefix: str = "") -> list[Path]:
    return sorted(CORPUS.glob(f"{prefix}*.diff"))


def _expected(case: Path) -> set[Key]:
    data = json.loads(case.with_name(case.name + ".expected.json").read_text())
    return {(f["rule"], f["path"], f["line"]) for f in data["findings"]}


def _actual(case: Path) -> set[Key]:
    result = review_files(parse_diff(case.read_bytes()))
    return {(f.rule, f.path, f.line) for f in result.findings}


def _factor(key: Key) -> int:
    return int(key[0][2:4])


def score(prefix: str = "") -> tuple[Scores, dict[str, tuple[set[Key], set[Key]]]]:
    """Scores over the cases whose names start with `prefix`, and the cases that differ."""
    scores = Scores(Counter(), Counter(), Counter())
    misses: dict[str, tuple[set[Key], set[Key]]] = {}
    for case in _cases(prefix):
        expected, actual = _expected(case), _actual(case)
        for key in expected & actual:
            scores.true_pos[_factor(key)] += 1
        for key in actual - expected:
            scores.false_pos[_factor(key)] += 1
        for key in expected - actual:
            scores.false_neg[_factor(key)] += 1
        if expected != actual:
            misses[case.name] = (actual - expected, expected - actual)
    return scores, misses


def report(scores: Scores) -> str:
    lines = ["factor  expected  found  precision  recall"]
    for n, f in FACTORS.items():
        wanted = scores.true_pos[n] + scores.false_neg[n]
        found = scores.true_pos[n] + scores.false_pos[n]
        precision, recall = scores.precision(n), scores.recall(n)
        lines.append(f"{f.roman:<6}  {wanted:>8}  {found:>5}  {precision:>9.2f}  {recall:>6.2f}")
    return "\n".join(lines)


def test_held_out_cases_exist() -> None:
    held_out = _cases("heldout-")
    assert len(held_out) >= 15
    assert sum(1 for c in held_out if not _expected(c)) >= 4


def test_corpus_is_large_and_has_clean_cases() -> None:
    cases = _cases()
    assert len(cases) >= MIN_CASES
    clean = [c for c in cases if not _expected(c)]
    assert len(clean) >= MIN_CLEAN_CASES
    for case in cases:
        assert case.with_name(case.name + ".expected.json").exists(), case.name
        assert parse_diff(case.read_bytes()), f"{case.name} is not a diff"


def test_every_factor_is_in_the_corpus() -> None:
    factors = {_factor(k) for c in _cases() for k in _expected(c)}
    assert factors == set(FACTORS)


def test_precision_and_recall_per_factor(capsys: pytest.CaptureFixture[str]) -> None:
    scores, misses = score()
    with capsys.disabled():
        print("\n" + report(scores))
    for n in FACTORS:
        assert scores.precision(n) >= MIN_PRECISION[n], (n, misses)
        assert scores.recall(n) >= MIN_RECALL[n], (n, misses)
