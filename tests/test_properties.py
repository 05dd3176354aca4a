"""Property tests: any mix of realistic lines, under any file name, reviews without
crashing, and every finding is anchored to a line GitHub accepts a comment on; mutated
real diffs parse or raise DiffError, never anything else; the /twelve-review command
parser turns any comment into None or an allowlisted command."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import event as label
from hypothesis import strategies as st

from bot.diff import ChangedFile, DiffError, parse_diff
from bot.engine import review_files
from bot.github.commands import Command, parse_command
from bot.rules.registry import BY_CODE
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


# -- mutated real diffs ----------------------------------------------------------------------

_CORPUS = [path.read_bytes() for path in sorted(ROOT.glob("corpus/*.diff"))]
# Lines with a meaning in a diff, to be dropped in where they do not belong.
_DIFF_SYNTAX = [
    b"diff --git a/app/settings.py b/app/settings.py",
    b"--- a/app/settings.py",
    b"+++ b/app/settings.py",
    b"--- /dev/null",
    b"+++ /dev/null",
    b"+++ b/",
    b"new file mode 100644",
    b"deleted file mode 100644",
    b"rename from app/old.py",
    b"rename to app/new.py",
    b"similarity index 90%",
    b"index 0000000..1111111 100644",
    b"Binary files a/logo.png and b/logo.png differ",
    b"GIT binary patch",
    b"\\ No newline at end of file",
    b"@@ -1 +1 @@",
    b"@@ -0,0 +1,3 @@ def main():",
    b"@@ -1,99999999999999999999 +1,1 @@",
    b"+",
    b"-",
    b" ",
    b"",
]
_ODD_BYTES = st.sampled_from(
    [b"\x00", b"\r", b"\x0b", b"\x0c", b"\x1c", b"\x1e", b"\xc2\x85", b"\xe2\x80\xa8", b"\xff",
     b"\xed\xa0\x80", b"\xc3", b"\t"]
) | st.binary(min_size=1, max_size=12)  # fmt: skip
_Mutation = Callable[[st.DrawFn, list[bytes]], list[bytes]]


def _index(draw: st.DrawFn, lines: list[bytes]) -> int:
    return draw(st.integers(min_value=0, max_value=max(len(lines) - 1, 0)))


def _delete(draw: st.DrawFn, lines: list[bytes]) -> list[bytes]:
    at = _index(draw, lines)
    return lines[:at] + lines[at + draw(st.integers(min_value=1, max_value=4)) :]


def _duplicate(draw: st.DrawFn, lines: list[bytes]) -> list[bytes]:
    at = _index(draw, lines)
    end = at + draw(st.integers(min_value=1, max_value=6))
    return lines[:end] + lines[at:end] + lines[end:]


def _swap_hunk_headers(draw: st.DrawFn, lines: list[bytes]) -> list[bytes]:
    headers = [i for i, line in enumerate(lines) if line.startswith(b"@@")]
    if len(headers) < 2:
        return lines
    a, b = draw(st.lists(st.sampled_from(headers), min_size=2, max_size=2, unique=True))
    lines = list(lines)
    lines[a], lines[b] = lines[b], lines[a]
    return lines


def _renumber_hunk_header(draw: st.DrawFn, lines: list[bytes]) -> list[bytes]:
    headers = [i for i, line in enumerate(lines) if line.startswith(b"@@")]
    if not headers:
        return lines
    at = draw(st.sampled_from(headers))
    n = st.integers(min_value=0, max_value=40)
    old, new = (
        b"%d,%d" % (draw(n), draw(n)) if draw(st.booleans()) else b"%d" % draw(n) for _ in "on"
    )
    lines = list(lines)
    lines[at] = b"@@ -" + old + b" +" + new + b" @@" + lines[at].partition(b" @@")[2]
    return lines


def _insert_bytes(draw: st.DrawFn, lines: list[bytes]) -> list[bytes]:
    at = _index(draw, lines)
    line = lines[at] if lines else b""
    cut = draw(st.integers(min_value=0, max_value=len(line)))
    return [*lines[:at], line[:cut] + draw(_ODD_BYTES) + line[cut:], *lines[at + 1 :]]


def _insert_line(draw: st.DrawFn, lines: list[bytes]) -> list[bytes]:
    at = _index(draw, lines)
    line = draw(
        st.sampled_from(_DIFF_SYNTAX)
        | st.builds(lambda kind, rest: kind + rest, st.sampled_from([b"+", b"-", b" "]), _ODD_BYTES)
    )
    return [*lines[:at], line, *lines[at:]]


def _splice(draw: st.DrawFn, lines: list[bytes]) -> list[bytes]:
    other = draw(st.sampled_from(_CORPUS)).split(b"\n")
    start = _index(draw, other)
    part = other[start : start + draw(st.integers(min_value=1, max_value=12))]
    at = _index(draw, lines)
    return [*lines[:at], *part, *lines[at:]]


def _crlf(draw: st.DrawFn, lines: list[bytes]) -> list[bytes]:
    if draw(st.booleans()):
        return [line + b"\r" for line in lines]
    at = _index(draw, lines)
    return [*lines[:at], *(line + b"\r" for line in lines[at : at + 1]), *lines[at + 1 :]]


def _truncate(draw: st.DrawFn, lines: list[bytes]) -> list[bytes]:
    data = b"\n".join(lines)
    return data[: draw(st.integers(min_value=0, max_value=len(data)))].split(b"\n")


_MUTATIONS: list[_Mutation] = [
    _delete, _duplicate, _swap_hunk_headers, _renumber_hunk_header, _insert_bytes,
    _insert_line, _splice, _crlf, _truncate,
]  # fmt: skip


@st.composite
def _mutated_diffs(draw: st.DrawFn, max_mutations: int = 6) -> bytes:
    """A corpus diff after a few random mutations (bytes: not always UTF-8)."""
    lines = draw(st.sampled_from(_CORPUS)).split(b"\n")
    for _ in range(draw(st.integers(min_value=1, max_value=max_mutations))):
        lines = draw(st.sampled_from(_MUTATIONS))(draw, lines)
    return b"\n".join(lines)


def _parse_or_none(data: str | bytes) -> list[ChangedFile] | None:
    """The parsed diff, or None for the parser's own error; anything else propagates."""
    try:
        return parse_diff(data)
    except DiffError:
        return None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_mutated_diffs())
def test_mutated_corpus_diffs_parse_or_raise_diff_error(data: bytes) -> None:
    files = _parse_or_none(data)
    label("parsed" if files is not None else "DiffError")
    # bytes that are not UTF-8 are replaced, never refused: text and bytes read alike
    assert _parse_or_none(data.decode("utf-8", errors="replace")) == files
    for changed in files or []:
        assert changed.path
        assert changed.status != "added" or changed.old_path is None
        for hunk in changed.hunks:
            for line in hunk.lines:
                assert line.kind in ("+", "-", " ")
                assert (line.new_number is None) == (line.kind == "-")
                assert (line.old_number is None) == (line.kind == "+")
                assert "\n" not in line.text and not line.text.endswith("\r")
            numbers = [ln.new_number for ln in hunk.lines if ln.new_number is not None]
            assert numbers == list(range(hunk.new_start, hunk.new_start + hunk.new_length))


def test_mutations_yield_diffs_of_both_kinds() -> None:
    """The mutations are not so mild that every diff parses, nor so wild that none does."""
    parsed: set[bool] = set()

    @settings(max_examples=60, database=None)
    @given(data=_mutated_diffs())
    def collect(data: bytes) -> None:
        parsed.add(_parse_or_none(data) is not None)

    collect()
    assert parsed == {True, False}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=_mutated_diffs(max_mutations=3),
    content=st.sampled_from(["none", "hunks", "another file"]),
    other=st.sampled_from(_LINES),
    repo_files=st.sampled_from([None, frozenset({"Dockerfile", "Procfile"})]),
)
def test_mutated_diffs_that_parse_review_and_anchor_inside_the_diff(
    data: bytes, content: str, other: str, repo_files: frozenset[str] | None
) -> None:
    files = _parse_or_none(data)
    assume(files is not None)
    assert files is not None
    if content == "hunks":
        files = [f.with_content(f.context_text()) for f in files]
    elif content == "another file":  # a full text that does not match the hunks at all
        files = [f.with_content(other + "\n" + f.context_text()[::-1]) for f in files]
    result = review_files(files, repo_files=repo_files)
    label(f"findings: {min(len(result.findings), 3)}")
    for finding in result.findings:
        candidates = [f for f in files if f.path == finding.path]
        assert candidates, finding  # only changed files get findings
        lines = range(finding.line, finding.last_line + 1)
        assert any(all(c.is_commentable(n) for n in lines) for c in candidates), finding


@settings(max_examples=25, deadline=None)
@given(
    old=st.integers(min_value=0, max_value=5),
    lines=st.lists(st.sampled_from(_LINES), min_size=1, max_size=5),
)
@example(old=1, lines=["STRIPE_KEY = 'sk_live_51HxQvR2eZvKYlo2C8Nf3pLmQrStUvWx'", "DEBUG = True"])
def test_a_hunk_that_numbers_new_lines_from_zero_is_refused(old: int, lines: list[str]) -> None:
    diff = (
        "diff --git a/app/settings.py b/app/settings.py\n"
        "--- a/app/settings.py\n"
        "+++ b/app/settings.py\n"
        f"@@ -{old},0 +0,{len(lines)} @@\n" + "".join(f"+{line}\n" for line in lines)
    )
    # Refused as a diff (line 0 does not exist); it once parsed and crashed the review.
    assert _parse_or_none(diff) is None


# -- the /twelve-review command parser -------------------------------------------------------

_NAME = "/twelve-review"
_FACTOR_NUMBERS = {str(n) for n in range(1, 13)}
_ALLOWED_MESSAGES = {"too many arguments", "explain needs one rule id"}
_SPACES = st.sampled_from([" ", "  ", "\t", "\xa0", "\u3000", "\x0b", "\x0c"])


def _any_case(word: str) -> st.SearchStrategy[str]:
    return st.lists(st.booleans(), min_size=len(word), max_size=len(word)).map(
        lambda upper: "".join(c.upper() if u else c for c, u in zip(word, upper, strict=True))
    )


def _is_allowlisted(token: str) -> bool:
    lowered = token.lower()
    return (
        lowered in ("full", "help", "explain")
        or lowered.startswith("factors=")
        or token.upper() in BY_CODE
        or (token.isascii() and token.isdigit())
    )


_WORD_CHARACTERS = st.characters(exclude_categories=["Zs", "Zl", "Zp", "Cc", "Cs"])
_JUNK = st.text(alphabet=_WORD_CHARACTERS, min_size=1, max_size=30).filter(
    lambda t: t.split() == [t] and not _is_allowlisted(t)
) | st.text(alphabet="ab/=-,", min_size=1000, max_size=3000).filter(
    lambda t: not _is_allowlisted(t)
)
_FACTORS_ARG = st.builds(
    lambda word, numbers: word + "=" + ",".join(map(str, numbers)),
    _any_case("factors"),
    st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=5),
)
_NEAR_MISSES = st.sampled_from(
    [
        "/twelve-reviewer", "twelve-review", "/twelve review", "/twelve-revie", "//twelve-review",
        "/twelve-review:", "`/twelve-review`", ">", "/twelve\u2010review", "/TWELVE-REV\u0130EW",
        "/\uff34welve-review", "\\twelve-review", "/twelve_review",
    ]
)  # fmt: skip


def _command_line(name: str, args: list[str], gaps: list[str]) -> str:
    return name + "".join(gap + arg for gap, arg in zip(gaps, args, strict=False))


@settings(max_examples=300, deadline=None)
@given(
    name=_any_case(_NAME) | _NEAR_MISSES | _JUNK,
    args=st.lists(
        _JUNK | _FACTORS_ARG | _any_case("full") | st.sampled_from(sorted(BY_CODE)), max_size=12
    ),
    gaps=st.lists(_SPACES, min_size=12, max_size=12),
    before=st.text(alphabet=" \t\r\n\u2028", max_size=4),
    rest=st.text(max_size=60),
)
def test_only_the_first_word_of_the_first_line_decides_whether_it_is_a_command(
    name: str, args: list[str], gaps: list[str], before: str, rest: str
) -> None:
    line = _command_line(name, args, gaps)
    command = parse_command(before + line + "\n" + rest)
    assert (command is None) == (name.lower() != _NAME)
    # what follows the first line never matters
    assert command == parse_command(line)


@settings(max_examples=300, deadline=None)
@given(
    name=_any_case(_NAME),
    full=st.none() | _any_case("full"),
    factors=st.none() | _FACTORS_ARG,
    order=st.booleans(),
    gaps=st.lists(_SPACES, min_size=2, max_size=2),
)
def test_allowlisted_review_arguments_make_that_review(
    name: str, full: str | None, factors: str | None, order: bool, gaps: list[str]
) -> None:
    args = [a for a in (full, factors) if a is not None]
    command = parse_command(_command_line(name, args[::-1] if order else args, gaps))
    numbers = (
        frozenset(int(n) for n in factors.partition("=")[2].split(",")) if factors else frozenset()
    )
    assert command == Command("review", full=full is not None, factors=numbers)


@settings(max_examples=400, deadline=None)
@given(
    name=_any_case(_NAME),
    args=st.lists(
        _JUNK
        | _FACTORS_ARG
        | _any_case("full")
        | _any_case("help")
        | _any_case("explain")
        | st.sampled_from(sorted(BY_CODE)).flatmap(_any_case)
        | st.integers(min_value=-3, max_value=20).map(str)
        | st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=3)
        | st.sampled_from(["007", "\u00b2", "\uff13", "factors=0", "factors=13", "factors=3,,4"]),
        max_size=12,
    ),
    gaps=st.lists(_SPACES, min_size=12, max_size=12),
)
def test_any_arguments_make_an_allowlisted_command_or_a_help_reply(
    name: str, args: list[str], gaps: list[str]
) -> None:
    line = _command_line(name, args, gaps)
    command = parse_command(line)
    assert command is not None
    words = line.split()[1:]
    if command.kind == "review":
        assert command.factors <= frozenset(range(1, 13))
        assert isinstance(command.full, bool)
        assert command.target is None and command.not_understood == ()
        assert command.full == any(w.lower() == "full" for w in words)
    elif command.kind == "explain":
        assert command.target is not None
        target = command.target
        assert target in BY_CODE or (target.isascii() and target.lstrip("0") in _FACTOR_NUMBERS)
        assert [w.lower() for w in words[:1]] == ["explain"] and len(words) == 2
    else:
        assert command.kind == "help"
        assert not command.full and not command.factors and command.target is None
    # nothing is passed through but words of the comment and the parser's own messages
    assert set(command.not_understood) <= set(words) | _ALLOWED_MESSAGES
    if len(words) > 8:
        assert command == Command("help", not_understood=("too many arguments",))
    elif any(not _is_allowlisted(w) for w in words):
        assert command.kind == "help"
        assert {w for w in words if not _is_allowlisted(w)} <= set(command.not_understood)
