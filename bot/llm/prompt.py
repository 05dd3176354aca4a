"""Build the LLM's prompts: the changed hunks, the notes they need, within a budget.

The diff is cut into units (a whole file, or one hunk of a large file), ordered
by twelve-factor relevance (deployment files first, code last) and packed into
requests that each stay under the input-token budget. Each request carries the
notes most relevant to its files and the rule findings already made on them.
Whatever does not fit is named, never dropped silently.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

from bot.diff import ChangedFile, Hunk
from bot.filetypes import FileKind, classify
from bot.findings import Finding
from bot.llm.masking import Masker
from bot.llm.report import NotReviewed
from bot.llm.tokens import TokenCounter
from bot.notes import Note, NoteSet, builtin_notes_dir

__all__ = ["NotReviewed", "PromptPlan", "PromptRequest", "plan_prompts", "templates_dir"]

# Share of a request's budget that notes may take when not all of them fit.
_NOTES_SHARE = 0.4
# Rule findings listed in one request, and the room kept for them.
_FINDINGS_LISTED = 30
_FINDINGS_RESERVE = 1000

_DEPLOY_KINDS = frozenset(
    {FileKind.DOCKERFILE, FileKind.COMPOSE, FileKind.KUBERNETES, FileKind.PROCFILE, FileKind.ENV}
)
_CONFIG_KINDS = frozenset(
    {FileKind.PROPERTIES, FileKind.INI, FileKind.TOML, FileKind.JSON, FileKind.YAML,
     FileKind.NGINX, FileKind.APACHE, FileKind.LOGGING_CONFIG, FileKind.XML,
     FileKind.REQUIREMENTS, FileKind.PACKAGE_JSON, FileKind.PIPFILE, FileKind.GEMFILE,
     FileKind.SUPERVISOR}
)  # fmt: skip

# Which factors a kind of file usually bears on (the rest come from rule hits).
_KIND_FACTORS: dict[FileKind, tuple[int, ...]] = {
    FileKind.DOCKERFILE: (2, 5, 9, 8, 7, 11),
    FileKind.COMPOSE: (3, 4, 10, 5),
    FileKind.KUBERNETES: (3, 5, 6, 9, 7),
    FileKind.PROCFILE: (7, 8, 5, 12),
    FileKind.ENV: (3,),
    FileKind.SHELL: (5, 8, 9, 12, 11),
    FileKind.REQUIREMENTS: (2,),
    FileKind.PACKAGE_JSON: (2,),
    FileKind.PIPFILE: (2,),
    FileKind.GEMFILE: (2,),
    FileKind.LOGGING_CONFIG: (11,),
    FileKind.NGINX: (6, 7, 11),
    FileKind.APACHE: (6, 7, 11),
    FileKind.SUPERVISOR: (8, 11),
    FileKind.PROPERTIES: (3, 4, 11, 7),
    FileKind.YAML: (3, 4, 10),
    FileKind.TOML: (3, 2),
    FileKind.INI: (3, 4, 11),
    FileKind.JSON: (3, 2),
}
_CODE_FACTORS = (3, 4, 6, 7, 11, 9, 10, 1, 12, 2, 8, 5)


def templates_dir() -> Path:
    """prompts/: next to the notes, in the package when installed or in the checkout."""
    return builtin_notes_dir().parent


@dataclass(frozen=True, slots=True)
class PromptRequest:
    system: str
    user: str
    tokens: int
    paths: tuple[str, ...]
    notes: tuple[str, ...]
    cache_key: str


@dataclass
class PromptPlan:
    requests: list[PromptRequest] = field(default_factory=list)
    not_reviewed: list[NotReviewed] = field(default_factory=list)
    masker: Masker = field(default_factory=Masker)


@dataclass(frozen=True, slots=True)
class _Unit:
    path: str
    text: str
    tokens: int
    rank: tuple[int, int, str]
    factors: tuple[int, ...]


@dataclass
class _Batch:
    units: list[_Unit] = field(default_factory=list)
    tokens: int = 0


class _Templates:
    def __init__(self, folder: Path) -> None:
        self.system = (folder / "system.md").read_text(encoding="utf-8")
        self.user = Template((folder / "user.md").read_text(encoding="utf-8"))
        raw = self.system + "\0" + self.user.template
        self.version = hashlib.sha256(raw.encode()).hexdigest()[:16]


def plan_prompts(
    files: Sequence[ChangedFile],
    rule_findings: Sequence[Finding],
    notes: NoteSet,
    counter: TokenCounter,
    budget: int,
    model: str,
    templates: Path | None = None,
) -> PromptPlan:
    """Split the reviewed files into requests of at most `budget` input tokens each."""
    tpl = _Templates(templates or templates_dir())
    plan = PromptPlan(masker=Masker({(f.path, f.line) for f in rule_findings if f.factor == 3}))
    by_path = {f.path: f for f in files}
    for path, number in sorted(plan.masker.flagged):  # learn every flagged value first
        if path in by_path:
            plan.masker.mask_line(path, number, by_path[path].line_text(number) or "")
    hits = Counter((f.path, f.factor) for f in rule_findings)
    overhead = counter.count(tpl.system) + counter.count(tpl.user.template) + 40
    all_notes_cost = sum(counter.count(_render_note(n)) for n in _factor_notes(notes))
    notes_cap = (
        all_notes_cost
        if all_notes_cost <= budget * _NOTES_SHARE / 2
        else int(budget * _NOTES_SHARE)
    )
    room = budget - overhead - notes_cap - _FINDINGS_RESERVE
    units: list[_Unit] = []
    for changed in files:
        units += _units(changed, hits, plan, counter, room)
    units.sort(key=lambda u: u.rank)
    batches: list[_Batch] = []
    for unit in units:
        fitting = next((b for b in batches if b.tokens + unit.tokens <= room), None)
        if fitting is None:
            fitting = _Batch()
            batches.append(fitting)
        fitting.units.append(unit)
        fitting.tokens += unit.tokens
    for batch in batches:
        plan.requests.append(
            _request(batch, rule_findings, notes, counter, tpl, budget, model, notes_cap, plan)
        )
    return plan


def _units(
    changed: ChangedFile,
    hits: Counter[tuple[str, int]],
    plan: PromptPlan,
    counter: TokenCounter,
    room: int,
) -> list[_Unit]:
    kinds = classify(changed.path, changed.context_text()[:8192])
    factors = _relevant_factors(changed.path, kinds, hits)
    rank = (_priority(kinds), -sum(n for (p, _), n in hits.items() if p == changed.path))
    header = f"### {changed.path} ({changed.status.value})\n"
    hunks = [_render_hunk(changed.path, h, plan.masker) for h in changed.hunks]
    whole = header + "".join(hunks)
    tokens = counter.count(whole)
    if tokens <= room:
        return [_Unit(changed.path, whole, tokens, (*rank, changed.path), factors)]
    units = []
    for text in hunks:
        piece = header + text
        size = counter.count(piece)
        if size > room:
            plan.not_reviewed.append(NotReviewed(changed.path, "too-large"))
            return []  # half a file misleads more than it helps
        units.append(_Unit(changed.path, piece, size, (*rank, changed.path), factors))
    return units


def _priority(kinds: frozenset[FileKind]) -> int:
    if kinds & _DEPLOY_KINDS:
        return 0
    if kinds & _CONFIG_KINDS:
        return 1
    if FileKind.SHELL in kinds:
        return 2
    return 3


def _relevant_factors(
    path: str, kinds: frozenset[FileKind], hits: Counter[tuple[str, int]]
) -> tuple[int, ...]:
    by_kind: list[int] = []
    for kind in sorted(kinds):
        by_kind += _KIND_FACTORS.get(kind, _CODE_FACTORS)
    hit_factors = sorted({n for (p, n) in hits if p == path})
    ordered: list[int] = []
    for n in [*hit_factors, *by_kind]:
        if n not in ordered:
            ordered.append(n)
    return tuple(ordered)


def _render_hunk(path: str, hunk: Hunk, masker: Masker) -> str:
    lines = [f"@@ -{hunk.old_start},{hunk.old_length} +{hunk.new_start},{hunk.new_length} @@"]
    for hl in hunk.lines:
        text = masker.mask_line(path, hl.new_number, hl.text)
        number = "" if hl.new_number is None else str(hl.new_number)
        lines.append(f"{number:>5} {hl.kind} {text}")
    return "\n".join(lines) + "\n"


def _factor_notes(notes: NoteSet) -> list[Note]:
    return [note for n in range(1, 13) for note in notes.for_factor(n)]


_HEADING = re.compile(r"^(#{1,5}) ", re.MULTILINE)


def _render_note(note: Note) -> str:
    # Each note sits under its own `## id` heading, so its sections move one level down.
    body = _HEADING.sub(r"#\1 ", note.body.strip())
    return f"## {note.id}\n{note.title}\n\n{body}\n"


def _request(
    batch: _Batch,
    rule_findings: Sequence[Finding],
    notes: NoteSet,
    counter: TokenCounter,
    tpl: _Templates,
    budget: int,
    model: str,
    notes_cap: int,
    plan: PromptPlan,
) -> PromptRequest:
    paths = tuple(dict.fromkeys(u.path for u in batch.units))
    diff = "\n".join(u.text for u in batch.units)
    boundary = "DIFF-" + hashlib.sha256(diff.encode()).hexdigest()[:16]
    findings = [f for f in rule_findings if f.path in paths]
    listed = "\n".join(
        f"- {f.path}:{f.line} {f.rule} (factor {f.factor}): "
        f"{plan.masker.mask_line(f.path, f.line, f.message)}"
        for f in findings[:_FINDINGS_LISTED]
    )
    if len(findings) > _FINDINGS_LISTED:
        listed += f"\n- ... and {len(findings) - _FINDINGS_LISTED} more"

    def render(chosen: list[Note]) -> tuple[str, int]:
        user = tpl.user.substitute(
            notes="\n".join(_render_note(n) for n in chosen),
            rule_findings=listed or "(none)",
            boundary=boundary,
            diff=diff.rstrip("\n"),
        )
        return user, counter.count(tpl.system) + counter.count(user)

    chosen = _choose_notes(batch, findings, notes, counter, notes_cap)
    user, tokens = render(chosen)
    while tokens > budget and chosen:  # long rule-finding lines ran over their reserve
        chosen = chosen[:-1]
        user, tokens = render(chosen)
    key_source = "\0".join((model, tpl.version, notes.version, tpl.system, user))
    return PromptRequest(
        system=tpl.system,
        user=user,
        tokens=tokens,
        paths=paths,
        notes=tuple(n.id for n in chosen),
        cache_key=hashlib.sha256(key_source.encode()).hexdigest(),
    )


def _choose_notes(
    batch: _Batch,
    findings: Sequence[Finding],
    notes: NoteSet,
    counter: TokenCounter,
    cap: int,
) -> list[Note]:
    score: Counter[int] = Counter()
    for f in findings:
        score[f.factor] += 10
    for unit in batch.units:
        for weight, n in enumerate(reversed(unit.factors), start=1):
            score[n] += weight
    chosen: list[Note] = []
    spent = 0
    for n, _ in sorted(score.items(), key=lambda item: (-item[1], item[0])):
        for note in notes.for_factor(n):
            cost = counter.count(_render_note(note))
            if spent + cost <= cap:
                chosen.append(note)
                spent += cost
    return chosen
