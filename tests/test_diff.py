"""The diff model against real git output: every edge case git produces."""

from __future__ import annotations

import difflib
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.diff import DiffError, FileStatus, parse_diff
from tests.conftest import GitRepo


def _diff(repo: GitRepo, *args: str) -> bytes:
    return subprocess.run(
        ["git", "diff", "--no-color", "-M", *args],
        cwd=repo.root,
        capture_output=True,
        check=True,
    ).stdout


def test_modified_file_added_lines_and_commentable_lines(git_repo: GitRepo) -> None:
    git_repo.write("app.py", "".join(f"line{i}\n" for i in range(1, 21)))
    git_repo.commit()
    lines = [f"line{i}\n" for i in range(1, 21)]
    lines[9] = "changed10\n"
    lines.insert(15, "inserted\n")
    git_repo.write("app.py", "".join(lines))
    (changed,) = parse_diff(_diff(git_repo))
    assert changed.status is FileStatus.MODIFIED
    assert changed.path == changed.old_path == "app.py"
    assert [(x.number, x.text) for x in changed.added_lines] == [
        (10, "changed10"),
        (16, "inserted"),
    ]
    # Right side of the hunks: context lines 7..13 around line 10, 13..19 around 16.
    assert changed.commentable_lines == frozenset(range(7, 20))
    assert not changed.is_commentable(3)
    assert changed.line_text(16) == "inserted"


def test_new_deleted_and_renamed_files(git_repo: GitRepo) -> None:
    git_repo.write("old.py", "a = 1\nb = 2\nc = 3\nd = 4\n")
    git_repo.write("gone.py", "x = 1\n")
    git_repo.commit()
    git_repo.git("mv", "old.py", "new.py")
    git_repo.write("new.py", "a = 1\nb = 2\nc = 3\nd = 4\ne = 5\n")
    git_repo.git("rm", "-q", "gone.py")
    git_repo.write("fresh.py", "print('hi')\n")
    git_repo.git("add", "-A")
    files = {f.path: f for f in parse_diff(_diff(git_repo, "--cached"))}
    assert files["new.py"].status is FileStatus.RENAMED
    assert files["new.py"].old_path == "old.py"
    assert [x.number for x in files["new.py"].added_lines] == [5]
    assert files["gone.py"].status is FileStatus.DELETED
    assert list(files["gone.py"].added_lines) == []
    assert files["gone.py"].commentable_lines == frozenset()
    assert files["fresh.py"].status is FileStatus.ADDED
    assert files["fresh.py"].old_path is None
    assert [x.text for x in files["fresh.py"].added_lines] == ["print('hi')"]


def test_pure_rename_has_no_hunks(git_repo: GitRepo) -> None:
    git_repo.write("a.py", "x = 1\n")
    git_repo.commit()
    git_repo.git("mv", "a.py", "b.py")
    (changed,) = parse_diff(_diff(git_repo, "--cached"))
    assert (changed.path, changed.old_path, changed.status) == ("b.py", "a.py", FileStatus.RENAMED)
    assert changed.hunks == ()


def test_binary_file_is_marked_and_has_no_lines(git_repo: GitRepo) -> None:
    git_repo.write("logo.png", b"\x89PNG\x00\x01")
    git_repo.commit()
    git_repo.write("logo.png", b"\x89PNG\x00\x02")
    (changed,) = parse_diff(_diff(git_repo))
    assert changed.is_binary
    assert changed.hunks == ()


def test_no_newline_at_end_of_file(git_repo: GitRepo) -> None:
    git_repo.write("a.py", "one\ntwo\n")
    git_repo.commit()
    git_repo.write("a.py", "one\ntwo\nthree")
    raw = _diff(git_repo)
    assert b"\\ No newline at end of file" in raw
    (changed,) = parse_diff(raw)
    assert [(x.number, x.text) for x in changed.added_lines] == [(3, "three")]


def test_crlf_lines_lose_their_carriage_return(git_repo: GitRepo) -> None:
    git_repo.write("win.ini", b"[a]\r\nkey=1\r\n")
    git_repo.commit()
    git_repo.write("win.ini", b"[a]\r\nkey=2\r\n")
    (changed,) = parse_diff(_diff(git_repo))
    assert [(x.number, x.text) for x in changed.added_lines] == [(2, "key=2")]


def test_non_utf8_bytes_are_replaced_not_fatal(git_repo: GitRepo) -> None:
    git_repo.write("latin.py", b"x = 1\n")
    git_repo.commit()
    git_repo.write("latin.py", b"x = 1\nname = 'caf\xe9'\n")
    (changed,) = parse_diff(_diff(git_repo))
    (line,) = changed.added_lines
    assert line.number == 2
    assert line.text == "name = 'caf\ufffd'"


def test_empty_input_is_no_files() -> None:
    assert parse_diff(b"") == []
    assert parse_diff("\n\n") == []


def test_garbage_is_a_diff_error() -> None:
    with pytest.raises(DiffError):
        parse_diff("this is not a diff\njust words\n")


def test_truncated_hunk_is_a_diff_error() -> None:
    broken = "--- a/x.py\n+++ b/x.py\n@@ -1,3 +1,3 @@\n a\n"
    with pytest.raises(DiffError):
        parse_diff(broken)


def test_with_content_gives_context_beyond_hunks(git_repo: GitRepo) -> None:
    git_repo.write("a.py", "".join(f"l{i}\n" for i in range(1, 30)))
    git_repo.commit()
    git_repo.write("a.py", "".join(f"l{i}\n" for i in range(1, 30)) + "new\n")
    (changed,) = parse_diff(_diff(git_repo))
    assert changed.line_text(2) is None
    full = changed.with_content((git_repo.root / "a.py").read_text())
    assert full.line_text(2) == "l2"
    assert full.line_text(30) == "new"
    assert full.commentable_lines == changed.commentable_lines


_line = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30).map(
    lambda s: s.replace("\n", "").replace("\r", "")
)


@settings(max_examples=200, deadline=None)
@given(
    old=st.lists(_line, max_size=8),
    new=st.lists(_line, max_size=8),
)
def test_added_lines_match_a_diff_of_random_files(old: list[str], new: list[str]) -> None:
    text = "".join(
        difflib.unified_diff(
            [x + "\n" for x in old], [x + "\n" for x in new], "a/f.py", "b/f.py", n=3
        )
    )
    files = parse_diff(text)
    if old == new:
        assert files == []
        return
    (changed,) = files
    for line in changed.added_lines:
        assert new[line.number - 1] == line.text
        assert changed.is_commentable(line.number)
    assert all(1 <= n <= len(new) for n in changed.commentable_lines)
