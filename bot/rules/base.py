"""What a rule is, and what it is given to look at.

A rule is a small class with an id, a factor, a default severity, the kinds of
file it reads, and a docstring in four sections (What it does / Why it matters
/ Example / Use instead). The engine hands it one changed file at a time; it
yields `Hit`s on added lines. The engine turns hits into findings (fingerprints,
severity overrides, suppressions), so rules stay small.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import ClassVar

from bot.diff import ChangedFile, Line
from bot.filetypes import FileKind, comment_prefixes
from bot.findings import Severity

__all__ = [
    "CODE_KINDS",
    "DOC_SECTIONS",
    "FileUnderReview",
    "Hit",
    "KeywordLineRule",
    "LineRule",
    "Rule",
    "RuleDoc",
    "code_line_above",
    "line_trigger",
]

DOC_SECTIONS = ("What it does", "Why it matters", "Example", "Use instead")

_TRIPLE_QUOTE = re.compile(r'"""|\'\'\'')
# What precedes a triple-quoted string that is a value rather than a docstring.
_DATA_STRING_OPENER = re.compile(r"(?:=|\(|,|\[|:|return)\s*[rRbBuUfF]{0,2}$")

# The programming languages the rules read as code (not config, manifests or scripts).
CODE_KINDS = frozenset(
    {FileKind.PYTHON, FileKind.JAVASCRIPT, FileKind.GO, FileKind.JAVA, FileKind.RUBY}
)


@dataclass(frozen=True, slots=True)
class Hit:
    """Where a rule fires. Anything left None takes the rule's default."""

    line: int
    message: str | None = None
    end_line: int | None = None
    suggestion: str | None = None
    severity: Severity | None = None


@dataclass(eq=False)
class FileUnderReview:
    """One changed file as a rule sees it.

    `repo_files` is the set of paths in the new revision when the caller knows
    it (a git checkout), else None: rules that need it must stay quiet without it.
    """

    file: ChangedFile
    kinds: frozenset[FileKind]
    repo_files: frozenset[str] | None = None
    _comment_prefixes: tuple[str, ...] = field(default=(), init=False, repr=False)

    def __post_init__(self) -> None:
        self._comment_prefixes = comment_prefixes(self.kinds)

    @property
    def path(self) -> str:
        return self.file.path

    @property
    def trailing_comment_markers(self) -> tuple[str, ...]:
        """Tokens that start a comment after code on a line (`#`, `//`)."""
        return tuple(p for p in self._comment_prefixes if p in ("#", "//"))

    @cached_property
    def _added(self) -> tuple[Line, ...]:
        return tuple(self.file.added_lines)

    @cached_property
    def _code(self) -> tuple[Line, ...]:
        prefixes = self._comment_prefixes
        prose = self.docstring_lines
        return tuple(
            line
            for line in self._added
            if (stripped := line.text.lstrip())
            and not (prefixes and stripped.startswith(prefixes))
            and line.number not in prose
        )

    @cached_property
    def docstring_lines(self) -> frozenset[int]:
        """Lines of Python docstrings: prose and API examples, not code or config.

        A triple-quoted string that opens a statement is a docstring; one that is
        assigned, passed or returned (`KEY = \"\"\"...`) is data and stays code. A gap
        in the known lines (a partial diff) forgets an open string rather than guess.
        """
        if FileKind.PYTHON not in self.kinds:
            return frozenset()
        inside: set[int] = set()
        delimiter: str | None = None
        is_doc = False
        previous = 0
        for number, text in self.numbered_lines():
            if number != previous + 1:
                delimiter = None
            previous = number
            if delimiter is not None and is_doc:
                inside.add(number)
            position = 0
            while (quote := _TRIPLE_QUOTE.search(text, position)) is not None:
                if delimiter is None:
                    delimiter = quote.group()
                    is_doc = not _DATA_STRING_OPENER.search(text[: quote.start()].rstrip())
                    if is_doc:
                        inside.add(number)
                elif quote.group() == delimiter:
                    delimiter = None
                position = quote.end()
        return frozenset(inside)

    def added_lines(self) -> Iterator[Line]:
        """Every line the diff adds."""
        return iter(self._added)

    def code_lines(self) -> Iterator[Line]:
        """Added lines that are not blank and not whole-line comments."""
        return iter(self._code)

    @cached_property
    def added_text(self) -> str:
        """The added lines joined by newlines: what a rule's `trigger` is searched in."""
        return "\n".join(line.text for line in self._added)

    def known_lines(self) -> list[Line]:
        """Every new-file line known: the whole file, or the right side of each hunk."""
        content = self.file.new_content
        if content is not None:
            return [Line(number, text) for number, text in enumerate(content, start=1)]
        return [
            Line(hl.new_number, hl.text)
            for hunk in self.file.hunks
            for hl in hunk.lines
            if hl.new_number is not None
        ]

    def numbered_lines(self) -> list[tuple[int, str]]:
        """(number, text) of every new-file line known, in line order, each line once.

        The lines of `text`, numbered. Unlike `known_lines`, a line that two hunks of
        a malformed diff both show is listed once, with the text `line_text` gives.
        """
        content = self.file.new_content
        if content is not None:
            return list(enumerate(content, start=1))
        return [(n, self.file.line_text(n) or "") for n in sorted(self.file.commentable_lines)]

    @cached_property
    def text(self) -> str:
        """All that is known of the new file (the whole file, or the hunks' right side)."""
        return self.file.context_text()

    def line_text(self, number: int) -> str | None:
        return self.file.line_text(number)


def _in_trailing_comment(text: str, position: int, markers: tuple[str, ...]) -> bool:
    """Whether `position` lies in a comment that follows code, outside any string."""
    quote: str | None = None
    i = 0
    while i < position:
        char = text[i]
        if quote is not None:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = None
        elif char in "\"'`":
            quote = char
        elif text.startswith(markers, i) and (i == 0 or text[i - 1] in " \t"):
            return True
        i += 1
    return False


@dataclass(frozen=True, slots=True)
class RuleDoc:
    """A rule's docstring, split into its sections."""

    title: str
    sections: dict[str, str]

    @classmethod
    def parse(cls, docstring: str | None) -> RuleDoc:
        text = _dedent(docstring or "")
        title, _, rest = text.partition("\n")
        sections: dict[str, str] = {}
        current: str | None = None
        body: list[str] = []
        for raw in rest.splitlines():
            heading = re.fullmatch(r"##\s+(.+?)\s*", raw)
            if heading:
                if current is not None:
                    sections[current] = "\n".join(body).strip()
                current, body = heading.group(1), []
            elif current is not None:
                body.append(raw)
        if current is not None:
            sections[current] = "\n".join(body).strip()
        return cls(title=title.strip(), sections=sections)

    def paragraph(self, section: str) -> str:
        """The section's first paragraph, joined onto one line."""
        first = self.sections.get(section, "").split("\n\n", 1)[0]
        return " ".join(first.split())


def _dedent(text: str) -> str:
    lines = text.expandtabs().splitlines()
    if not lines:
        return ""
    indents = [len(x) - len(x.lstrip()) for x in lines[1:] if x.strip()]
    cut = min(indents) if indents else 0
    return "\n".join([lines[0].strip(), *(x[cut:] for x in lines[1:])])


def code_line_above(
    f: FileUnderReview, number: int, limit: int, comments: tuple[str, ...] = ("#",)
) -> str | None:
    """The nearest of the `limit` lines above `number` that is neither blank nor a comment.

    None when there is none, or when a line outside what is known of the file comes first.
    """
    for above in range(number - 1, max(number - 1 - limit, 0), -1):
        text = f.line_text(above)
        if text is None:
            return None
        stripped = text.strip()
        if stripped and not stripped.startswith(comments):
            return text
    return None


def line_trigger(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """A per-line pattern made searchable in the joined added lines (`^`/`$` per line).

    Use it as a rule's `trigger` when every hit of the rule needs `pattern` to match
    the hit's own line.
    """
    return re.compile(pattern.pattern, pattern.flags | re.MULTILINE)


_DOCS: dict[type[Rule], RuleDoc] = {}


class Rule:
    """Base class of every heuristic rule. Subclasses set the class attributes."""

    code: ClassVar[str]
    name: ClassVar[str]  # kebab-case, e.g. "hardcoded-secret"
    factor: ClassVar[int]
    severity: ClassVar[Severity]
    kinds: ClassVar[frozenset[FileKind]]
    message: ClassVar[str]  # the default one-sentence message
    status: ClassVar[str] = "stable"
    # A cheap regex (literal alternatives, no lookarounds) that must match somewhere
    # in the added lines for the rule to have anything to say; the engine then skips
    # the rule on files where it cannot fire. A complex pattern costs more than it saves.
    trigger: ClassVar[re.Pattern[str] | None] = None

    @classmethod
    def doc(cls) -> RuleDoc:
        cached = _DOCS.get(cls)
        if cached is None:
            cached = _DOCS[cls] = RuleDoc.parse(cls.__doc__)
        return cached

    @classmethod
    def rationale(cls) -> str:
        """Why it matters, taken from the docstring so docs and output agree."""
        return cls.doc().paragraph("Why it matters")

    def check(self, f: FileUnderReview) -> Iterable[Hit]:
        raise NotImplementedError


class LineRule(Rule):
    """A rule that looks at each added code line on its own.

    Set `pattern`; override `check_match` to add conditions or a custom message.
    Comment lines are skipped unless `include_comments` is set.
    """

    pattern: ClassVar[re.Pattern[str]]
    include_comments: ClassVar[bool] = False

    def check(self, f: FileUnderReview) -> Iterator[Hit]:
        lines = f.added_lines() if self.include_comments else f.code_lines()
        search = self.pattern.search
        markers = () if self.include_comments else f.trailing_comment_markers
        for line in lines:
            match = search(line.text)
            if match is None:
                continue
            if markers and _in_trailing_comment(line.text, match.start(), markers):
                continue
            hit = self.check_match(f, line, match)
            if hit is not None:
                yield hit

    def check_match(self, f: FileUnderReview, line: Line, match: re.Match[str]) -> Hit | None:
        return Hit(line.number)


class KeywordLineRule(LineRule):
    """A LineRule that only runs its pattern on lines the cheap `prefilter` matches.

    A regex of a few literal words is far cheaper than a many-branched pattern,
    and most lines hold none of the words a rule is about.
    """

    prefilter: ClassVar[re.Pattern[str]]

    def check(self, f: FileUnderReview) -> Iterator[Hit]:
        lines = f.added_lines() if self.include_comments else f.code_lines()
        search = self.pattern.search
        wanted = self.prefilter.search
        for line in lines:
            text = line.text
            if wanted(text) is None:
                continue
            match = search(text)
            if match is not None:
                hit = self.check_match(f, line, match)
                if hit is not None:
                    yield hit
