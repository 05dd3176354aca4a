"""Run the rules over a parsed diff and collect findings.

The engine knows nothing of HTTP, GitHub or where the diff came from: entry
points hand it changed files and a config, and get back a `ReviewResult`.
"""

from __future__ import annotations

import multiprocessing as mp
from collections import Counter
from collections.abc import Collection, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.config import RepoConfig
from bot.diff import ChangedFile, FileStatus
from bot.filetypes import classify, is_non_production
from bot.findings import Finding, Severity, fingerprint_for, normalise_line
from bot.llm.carry import carry_forward
from bot.llm.merge import merge_findings
from bot.llm.report import LLMReport
from bot.rules.base import FileUnderReview, Hit, Rule
from bot.rules.registry import ALL_RULES
from bot.suppression import find_suppression

if TYPE_CHECKING:  # the LLM client (and openai) load only when an LLM review runs
    from bot.llm.review import LLMReviewer

__all__ = [
    "FoldedFinding",
    "ReviewResult",
    "SkippedFile",
    "SuppressedFinding",
    "review",
    "review_files",
]

# Enough of a file to recognise a Kubernetes manifest or a shebang.
_CLASSIFY_SAMPLE = 8192


@dataclass(frozen=True, slots=True)
class SkippedFile:
    path: str
    reason: str  # deleted | binary | excluded | test | docs | example | unrecognised | over-limit


@dataclass(frozen=True, slots=True)
class SuppressedFinding:
    finding: Finding
    reason: str


@dataclass(frozen=True, slots=True)
class FoldedFinding:
    """A finding dropped because a more severe one sits on the same line."""

    finding: Finding
    into: str  # the rule id kept on that line


@dataclass
class ReviewResult:
    findings: list[Finding] = field(default_factory=list)
    suppressed: list[SuppressedFinding] = field(default_factory=list)
    folded: list[FoldedFinding] = field(default_factory=list)
    reviewed: list[str] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    llm: LLMReport = field(default_factory=lambda: LLMReport(status="off"))
    # Some changed files were left unread (a size limit): what was open in them
    # before stays open, and the run claims nothing resolved.
    partial: bool = False

    def counts_by_severity(self) -> dict[str, int]:
        counts = Counter(f.severity.value for f in self.findings)
        return {s.value: counts.get(s.value, 0) for s in Severity}

    def counts_by_factor(self) -> dict[int, int]:
        counts = Counter(f.factor for f in self.findings)
        return {n: counts[n] for n in sorted(counts)}


def review(
    files: Sequence[ChangedFile],
    config: RepoConfig | None = None,
    *,
    repo_files: frozenset[str] | None = None,
    jobs: int = 1,
    llm: LLMReviewer | None = None,
    llm_paths: Collection[str] | None = None,
    earlier_llm: Sequence[Finding] = (),
) -> ReviewResult:
    """Rules, then (when given a reviewer) the LLM, merged into one result.

    The model sees only files the rules reviewed (never tests, docs, excluded
    paths), and of those only `llm_paths` when given (an incremental run: the
    files changed since the last review). `earlier_llm`, the model's findings
    from that review, are carried forward while their lines are still in the
    diff. Model findings pass the same config and inline suppressions.
    """
    config = config or RepoConfig()
    result = review_files(files, config, repo_files=repo_files, jobs=jobs)
    if llm is None and not earlier_llm:
        return result
    reviewed = set(result.reviewed)
    if llm_paths is not None:
        reviewed &= set(llm_paths)
    sent = [f for f in files if f.path in reviewed]
    found: list[Finding] = []
    if llm is not None:
        found, result.llm = llm.review(sent, result.findings)
    by_path = {f.path: f for f in files if f.path in result.reviewed}
    # Whether or not the model runs now, what it found earlier stands until its line changes.
    carried = carry_forward(earlier_llm, by_path, found)
    found += carried
    if llm is not None and llm_paths is not None:
        result.llm.incremental = True
        result.llm.files_sent = len(sent)
        result.llm.carried = len(carried)
    allowed: list[Finding] = []
    for finding in found:
        if finding.factor in config.factors.disable:
            continue
        changed = by_path[finding.path]
        above = changed.line_text(finding.line - 1) if finding.line > 1 else None
        suppression = find_suppression(
            changed.line_text(finding.line), above, finding.rule, finding.factor
        )
        if suppression is not None:
            result.suppressed.append(SuppressedFinding(finding, suppression.reason))
        else:
            allowed.append(finding)
    result.findings = merge_findings(result.findings, allowed)
    _fold_same_line(result)
    return result


def review_files(
    files: Sequence[ChangedFile],
    config: RepoConfig | None = None,
    rules: Sequence[Rule] = ALL_RULES,
    repo_files: frozenset[str] | None = None,
    jobs: int = 1,
) -> ReviewResult:
    """Review changed files with the rules the config enables.

    With `jobs` > 1, a large diff is split across that many forked worker
    processes (only where fork exists, and only from a single-threaded caller).
    """
    config = config or RepoConfig()
    if jobs > 1 and _worth_parallel(files) and "fork" in mp.get_all_start_methods():
        return _review_parallel(files, config, rules, repo_files, jobs)
    return _review_serial(files, config, rules, repo_files)


def _review_serial(
    files: Sequence[ChangedFile],
    config: RepoConfig,
    rules: Sequence[Rule],
    repo_files: frozenset[str] | None,
) -> ReviewResult:
    active = [r for r in rules if config.rule_enabled(r.code, r.factor)]
    result = ReviewResult()
    for changed in files:
        reason = _skip_reason(changed, config)
        if reason is not None:
            result.skipped.append(SkippedFile(changed.path, reason))
            continue
        kinds = classify(changed.path, changed.context_text()[:_CLASSIFY_SAMPLE])
        if not kinds:
            result.skipped.append(SkippedFile(changed.path, "unrecognised"))
            continue
        result.reviewed.append(changed.path)
        subject = FileUnderReview(changed, kinds, repo_files)
        for rule in active:
            if not rule.kinds & kinds:
                continue
            if rule.trigger is None or rule.trigger.search(subject.added_text):
                occurrences: Counter[str] = Counter()
                for hit in sorted(rule.check(subject), key=lambda h: h.line):
                    _record(result, config, rule, changed, hit, occurrences)
    _fold_same_line(result)
    return result


def _fold_same_line(result: ReviewResult) -> None:
    """Keep one finding per line: two comments on one line is noise.

    The most severe wins; among equals, the lowest rule id. Fixing the kept
    finding usually fixes the others (a literal DSN is both a secret and a
    fixed host), and the folded ones stay in the summary.
    """
    kept: dict[tuple[str, int], Finding] = {}
    for finding in sorted(result.findings, key=lambda f: (-f.severity.rank, f.rule)):
        where = (finding.path, finding.line)
        if where in kept:
            result.folded.append(FoldedFinding(finding, kept[where].rule))
        else:
            kept[where] = finding
    result.findings = sorted(kept.values(), key=Finding.sort_key)


# Below this many added lines a worker pool costs more than it saves.
_PARALLEL_MIN_LINES = 20_000

# What forked workers read: set just before the pool forks, so nothing is pickled
# on the way in; only each chunk's ReviewResult travels back.
_FORK_INPUT: tuple[Sequence[ChangedFile], RepoConfig, Sequence[Rule], frozenset[str] | None]
_FORK_INPUT = ((), RepoConfig(), (), None)


def _added_count(changed: ChangedFile) -> int:
    return sum(h.new_length for h in changed.hunks)


def _worth_parallel(files: Sequence[ChangedFile]) -> bool:
    return sum(_added_count(f) for f in files) >= _PARALLEL_MIN_LINES


def _chunks(files: Sequence[ChangedFile], parts: int) -> list[tuple[int, int]]:
    """Contiguous index ranges with about equal numbers of lines."""
    total = sum(_added_count(f) for f in files)
    bounds: list[tuple[int, int]] = []
    start, running = 0, 0
    for i, changed in enumerate(files):
        running += _added_count(changed)
        if running >= total * (len(bounds) + 1) / parts and len(bounds) < parts - 1:
            bounds.append((start, i + 1))
            start = i + 1
    bounds.append((start, len(files)))
    return [b for b in bounds if b[0] < b[1]]


def _review_chunk(bounds: tuple[int, int]) -> ReviewResult:
    files, config, rules, repo_files = _FORK_INPUT
    return _review_serial(files[bounds[0] : bounds[1]], config, rules, repo_files)


def _review_parallel(
    files: Sequence[ChangedFile],
    config: RepoConfig,
    rules: Sequence[Rule],
    repo_files: frozenset[str] | None,
    jobs: int,
) -> ReviewResult:
    global _FORK_INPUT  # noqa: PLW0603 - handed to forked workers, see above
    _FORK_INPUT = (files, config, rules, repo_files)
    try:
        context = mp.get_context("fork")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            parts = list(pool.map(_review_chunk, _chunks(files, jobs)))
    finally:
        _FORK_INPUT = ((), config, (), None)
    merged = ReviewResult()
    for part in parts:
        merged.findings += part.findings
        merged.suppressed += part.suppressed
        merged.folded += part.folded
        merged.reviewed += part.reviewed
        merged.skipped += part.skipped
    merged.findings.sort(key=Finding.sort_key)
    return merged


def _skip_reason(changed: ChangedFile, config: RepoConfig) -> str | None:
    if changed.status is FileStatus.DELETED:
        return "deleted"
    if changed.is_binary:
        return "binary"
    if not config.path_selected(changed.path):
        return "excluded"
    return is_non_production(changed.path)


def _record(
    result: ReviewResult,
    config: RepoConfig,
    rule: Rule,
    changed: ChangedFile,
    hit: Hit,
    occurrences: Counter[str],
) -> None:
    text = changed.line_text(hit.line) or ""
    # Identical lines in one file are told apart by their order, not their number.
    occurrence = occurrences[normalise_line(text)]
    occurrences[normalise_line(text)] += 1
    finding = Finding(
        rule=rule.code,
        factor=rule.factor,
        severity=config.severity_for(rule.code, hit.severity or rule.severity),
        path=changed.path,
        line=hit.line,
        end_line=hit.end_line if hit.end_line and hit.end_line != hit.line else None,
        message=hit.message or rule.message,
        rationale=rule.rationale(),
        suggestion=hit.suggestion,
        source="rule",
        fingerprint=fingerprint_for(rule.code, changed.path, text, occurrence),
    )
    above = changed.line_text(hit.line - 1) if hit.line > 1 else None
    suppression = find_suppression(text, above, rule.code, rule.factor)
    if suppression is not None:
        result.suppressed.append(SuppressedFinding(finding, suppression.reason))
    else:
        result.findings.append(finding)
