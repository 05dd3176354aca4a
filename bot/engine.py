"""Run the rules over a parsed diff and collect findings.

The engine knows nothing of HTTP, GitHub or where the diff came from: entry
points hand it changed files and a config, and get back a `ReviewResult`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.config import RepoConfig
from bot.diff import ChangedFile, FileStatus
from bot.filetypes import classify, is_non_production
from bot.findings import Finding, Severity, fingerprint_for, normalise_line
from bot.rules.base import FileUnderReview, Hit, Rule
from bot.rules.registry import ALL_RULES
from bot.suppression import find_suppression

__all__ = ["FoldedFinding", "ReviewResult", "SkippedFile", "SuppressedFinding", "review_files"]

# Enough of a file to recognise a Kubernetes manifest or a shebang.
_CLASSIFY_SAMPLE = 8192


@dataclass(frozen=True, slots=True)
class SkippedFile:
    path: str
    reason: str  # deleted | binary | excluded | test | docs | example | unrecognised


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

    def counts_by_severity(self) -> dict[str, int]:
        counts = Counter(f.severity.value for f in self.findings)
        return {s.value: counts.get(s.value, 0) for s in Severity}

    def counts_by_factor(self) -> dict[int, int]:
        counts = Counter(f.factor for f in self.findings)
        return {n: counts[n] for n in sorted(counts)}


def review_files(
    files: Sequence[ChangedFile],
    config: RepoConfig | None = None,
    rules: Sequence[Rule] = ALL_RULES,
    repo_files: frozenset[str] | None = None,
) -> ReviewResult:
    """Review changed files with the rules the config enables."""
    config = config or RepoConfig()
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
