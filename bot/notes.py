"""The factor notes: a Dendron-style vault of Markdown notes that grounds the LLM reviewer.

Each note is one `<id>.md` file: YAML front matter (`id`, `title`, `desc`, `updated`,
`created`, optionally `factor`) and a Markdown body that may link other notes with
`[[note.id]]`. The built-in vault is `prompts/notes/`; a team can add its own notes
(read by the caller from the base branch) which are merged over the built-in ones by id.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator

from bot.factors import FACTORS

__all__ = [
    "INDEX_ID",
    "Note",
    "NoteSet",
    "NotesError",
    "builtin_notes_dir",
    "load_notes",
    "load_vault",
    "parse_note",
    "wiki_links",
]

INDEX_ID = "tech.practice.12-factor-app"
"""Id of the index note that links the twelve factor notes."""

_FACTOR_BY_NOTE_ID = {f.note_id: f.number for f in FACTORS.values()}
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)^---[ \t]*(?:\n|\Z)", re.DOTALL | re.MULTILINE)
_FENCE = re.compile(r"^[ \t]*(```|~~~).*?^[ \t]*\1[^\n]*$", re.DOTALL | re.MULTILINE)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
# [[note.id]], [[label|note.id]], [[note.id#heading]], [[dendron://vault/note.id]]
_WIKI_LINK = re.compile(
    r"\[\[(?:[^\[\]|\n]*\|)?(?:dendron://[^/\]|]+/)?([^\[\]|#\s]+)(?:#[^\[\]\s]*)?\]\]"
)


class NotesError(ValueError):
    """A note file that is not a valid note; names the file and the offending key."""

    def __init__(self, file: str, key: str, problem: str) -> None:
        super().__init__(f"{file}: {key}: {problem}")
        self.file = file
        self.key = key
        self.problem = problem


class Note(BaseModel):
    """One note: its front matter, its Markdown body and the file it came from."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    title: str = Field(min_length=1)
    desc: str = ""
    updated: StrictInt
    created: StrictInt
    factor: StrictInt | None = Field(default=None, ge=1, le=12)
    body: str
    source: str

    @field_validator("desc", mode="before")
    @classmethod
    def _empty_desc(cls, value: Any) -> Any:
        return "" if value is None else value


def _split(text: str, source: str) -> tuple[dict[str, Any], str]:
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    match = _FRONT_MATTER.match(text)
    if match is None:
        raise NotesError(source, "front matter", "the file must start with a '---' YAML block")
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        raise NotesError(source, "front matter", f"invalid YAML ({exc})") from None
    if not isinstance(meta, dict):
        raise NotesError(source, "front matter", "must be a mapping of keys to values")
    return meta, text[match.end() :].lstrip("\n")


def parse_note(text: str, source: str) -> Note:
    """The note in `text`; `source` is its file name (the id must equal its stem)."""
    meta, body = _split(text, source)
    for reserved in ("body", "source"):
        meta.pop(reserved, None)
    try:
        note = Note.model_validate({**meta, "body": body, "source": source})
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or "front matter"
        problem = "missing" if first["type"] == "missing" else first["msg"]
        raise NotesError(source, key, problem) from None
    name = PurePosixPath(source.replace("\\", "/")).name
    stem = name.removesuffix(".md")
    if note.id != stem:
        raise NotesError(source, "id", f"{note.id!r} must equal the file name {stem!r}")
    expected = _FACTOR_BY_NOTE_ID.get(note.id)
    if expected is not None and note.factor != expected:
        raise NotesError(source, "factor", f"the note {note.id} must have factor: {expected}")
    return note


def load_vault(folder: Path) -> dict[str, Note]:
    """Every `*.md` note in `folder`, by id; NotesError for the first invalid one."""
    if not folder.is_dir():
        raise NotesError(str(folder), "folder", "not a directory")
    notes: dict[str, Note] = {}
    for path in sorted(folder.glob("*.md")):
        note = parse_note(path.read_text(encoding="utf-8"), str(path))
        if note.id in notes:
            raise NotesError(
                str(path), "id", f"{note.id!r} is also used by {notes[note.id].source}"
            )
        notes[note.id] = note
    return notes


def builtin_notes_dir() -> Path:
    """The built-in vault: inside the package when installed, else the checkout's prompts/."""
    here = Path(__file__).resolve().parent
    packaged = here / "prompts" / "notes"
    if packaged.is_dir():
        return packaged
    return here.parent / "prompts" / "notes"


def wiki_links(body: str) -> list[str]:
    """Ids linked from a Markdown body, in order; links inside code are not links."""
    prose = _INLINE_CODE.sub("", _FENCE.sub("", body))
    return [match.group(1) for match in _WIKI_LINK.finditer(prose)]


def _fingerprint(notes: Mapping[str, Note]) -> str:
    digest = hashlib.sha256(b"twelve-review-notes/1\0")
    for note_id in sorted(notes):
        # The source path differs between a checkout and an install, so it is left out.
        digest.update(notes[note_id].model_dump_json(exclude={"source"}).encode())
        digest.update(b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class NoteSet:
    """An immutable set of notes by id, e.g. the built-in vault with a team's notes over it."""

    notes: Mapping[str, Note]
    version: str = field(init=False)
    """A stable hash of every note's id and content, for cache keys."""

    def __post_init__(self) -> None:
        for key, note in self.notes.items():
            if key != note.id:
                raise ValueError(f"note {note.id!r} is filed under the id {key!r}")
        frozen = MappingProxyType({key: self.notes[key] for key in sorted(self.notes)})
        object.__setattr__(self, "notes", frozen)
        object.__setattr__(self, "version", _fingerprint(frozen))

    def __iter__(self) -> Iterator[Note]:
        return iter(self.notes.values())

    def __len__(self) -> int:
        return len(self.notes)

    def __contains__(self, note_id: object) -> bool:
        return note_id in self.notes

    def merged_over(self, other: Mapping[str, Note]) -> NoteSet:
        """`other` with these notes laid over it: same id replaces, a new id is added."""
        return NoteSet({**other, **self.notes})

    def get(self, note_id: str) -> Note | None:
        return self.notes.get(note_id)

    def for_factor(self, number: int) -> list[Note]:
        """The factor's note first (when present), then the house notes for it, by id."""
        main_id = FACTORS[number].note_id
        main = self.notes.get(main_id)
        house = [n for n in self.notes.values() if n.factor == number and n.id != main_id]
        return ([main] if main is not None else []) + house

    def links_resolve(self) -> list[str]:
        """Wiki links that resolve to no note, as `note.id -> target`; empty when all resolve."""
        return sorted(
            {
                f"{note.id} -> {target}"
                for note in self.notes.values()
                for target in wiki_links(note.body)
                if target not in self.notes
            }
        )


@lru_cache(maxsize=1)
def _builtin() -> NoteSet:
    return NoteSet(load_vault(builtin_notes_dir()))


def load_notes(extra: Mapping[str, str] | None = None) -> NoteSet:
    """The built-in notes with a team's own notes merged over them by id.

    `extra` maps file names to note texts (the caller reads them from the base branch,
    never from the pull request). A team note with an existing id replaces the built-in
    note; a new id is added, and with `factor: N` becomes a house note for that factor.
    """
    builtin = _builtin()
    if not extra:
        return builtin
    team: dict[str, Note] = {}
    for name in sorted(extra):
        note = parse_note(extra[name], name)
        if note.id in team:
            raise NotesError(name, "id", f"{note.id!r} is also used by {team[note.id].source}")
        team[note.id] = note
    return NoteSet(team).merged_over(builtin.notes)
