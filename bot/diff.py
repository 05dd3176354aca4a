"""The diff model: what changed in each file, with new-file line numbers.

Parsing is unidiff's job; this module turns its objects into small immutable
records the rules can read quickly, and answers one question in one place:
which new-file lines may a review comment be anchored to?
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum

from unidiff.errors import UnidiffParseError
from unidiff.patch import PatchedFile, PatchSet

__all__ = [
    "ChangedFile",
    "DiffError",
    "FileStatus",
    "Hunk",
    "HunkLine",
    "Line",
    "parse_diff",
]


class DiffError(ValueError):
    """The input is not a unified diff we can read."""


class FileStatus(StrEnum):
    ADDED = "added"
    MODIFIED = "modified"
    DELETED = "deleted"
    RENAMED = "renamed"


@dataclass(frozen=True, slots=True)
class Line:
    """One line of the new file: its 1-based number and text (no line ending)."""

    number: int
    text: str


@dataclass(frozen=True, slots=True)
class HunkLine:
    """A line inside a hunk. `kind` is '+', '-' or ' ' (context)."""

    kind: str
    old_number: int | None
    new_number: int | None
    text: str


@dataclass(frozen=True, slots=True)
class Hunk:
    old_start: int
    old_length: int
    new_start: int
    new_length: int
    section: str
    lines: tuple[HunkLine, ...]


@dataclass(frozen=True, slots=True)
class ChangedFile:
    """One file of a diff.

    `path` is the new path (the old one for a deleted file). `new_content`
    holds the whole new file when the source of the diff could supply it (a
    git repository); rules then see context beyond the hunks.
    """

    path: str
    old_path: str | None
    status: FileStatus
    is_binary: bool = False
    hunks: tuple[Hunk, ...] = ()
    new_content: tuple[str, ...] | None = None
    _right_lines: dict[int, str] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for hunk in self.hunks:
            for hl in hunk.lines:
                if hl.new_number is not None:
                    self._right_lines[hl.new_number] = hl.text

    @property
    def added_lines(self) -> Iterator[Line]:
        """Lines the diff adds, in order, with their new-file numbers."""
        for hunk in self.hunks:
            for hl in hunk.lines:
                if hl.kind == "+" and hl.new_number is not None:
                    yield Line(hl.new_number, hl.text)

    @property
    def commentable_lines(self) -> frozenset[int]:
        """New-file lines GitHub accepts a review comment on (RIGHT side of a hunk)."""
        return frozenset(self._right_lines)

    def is_commentable(self, line: int) -> bool:
        return line in self._right_lines

    def line_text(self, number: int) -> str | None:
        """Text of a new-file line, from the hunks or the full file when known."""
        text = self._right_lines.get(number)
        if text is None and self.new_content is not None and 0 < number <= len(self.new_content):
            text = self.new_content[number - 1]
        return text

    def context_text(self) -> str:
        """Everything known of the new file: the whole file, or the hunks' right side."""
        if self.new_content is not None:
            return "\n".join(self.new_content)
        return "\n".join(self._right_lines[n] for n in sorted(self._right_lines))

    def with_content(self, content: str | None) -> ChangedFile:
        """A copy that carries the full new file text."""
        lines = None if content is None else tuple(_strip_eol(x) for x in content.splitlines())
        return ChangedFile(
            path=self.path,
            old_path=self.old_path,
            status=self.status,
            is_binary=self.is_binary,
            hunks=self.hunks,
            new_content=lines,
        )


def _strip_eol(text: str) -> str:
    return text.rstrip("\r\n")


def _strip_prefix(name: str | None) -> str | None:
    if name is None or name == "/dev/null":
        return None
    if name.startswith(("a/", "b/")):
        return name[2:]
    return name


def parse_diff(data: str | bytes) -> list[ChangedFile]:
    """Parse a unified diff (as git prints it) into changed files.

    Bytes that are not UTF-8 are replaced rather than refused: a reviewer must
    not fail on a Latin-1 file. An empty input is an empty list.
    """
    if isinstance(data, bytes):
        data = data.decode("utf-8", errors="replace")
    if not data.strip():
        return []
    try:
        patch = PatchSet.from_string(data)
    except UnidiffParseError as exc:
        raise DiffError(f"not a unified diff: {exc}") from exc
    if not len(patch) and data.strip():
        raise DiffError("not a unified diff: no file headers found")
    return [_convert(pf) for pf in patch]


def _convert(pf: PatchedFile) -> ChangedFile:
    source = _strip_prefix(pf.source_file)
    target = _strip_prefix(pf.target_file)
    if pf.is_added_file:
        status = FileStatus.ADDED
    elif pf.is_removed_file:
        status = FileStatus.DELETED
    elif pf.is_rename or (source and target and source != target):
        status = FileStatus.RENAMED
    else:
        status = FileStatus.MODIFIED
    path = target or source or pf.path
    for h in pf:
        # "+0,N" with N lines would number them from 0: no real diff does that.
        if (h.target_length and h.target_start < 1) or (h.source_length and h.source_start < 1):
            raise DiffError(f"{path}: a hunk numbers its lines from 0 ({h!s:.40})")
    hunks = tuple(
        Hunk(
            old_start=h.source_start,
            old_length=h.source_length,
            new_start=h.target_start,
            new_length=h.target_length,
            section=h.section_header,
            lines=tuple(
                HunkLine(
                    kind=ln.line_type,
                    old_number=ln.source_line_no,
                    new_number=ln.target_line_no,
                    text=_strip_eol(ln.value),
                )
                for ln in h
                if ln.line_type in ("+", "-", " ")
            ),
        )
        for h in pf
    )
    return ChangedFile(
        path=path,
        old_path=source if status is not FileStatus.ADDED else None,
        status=status,
        is_binary=pf.is_binary_file,
        hunks=hunks,
    )
