"""Read a diff, the new files' text and the file list from a local git repository.

`--base REF` alone compares the WORKING TREE (tracked files, staged or not)
with the merge base of REF and HEAD: what a pull request from this branch
would show, plus uncommitted edits. `--base REF --head REF2` compares REF2
with the merge base of the two, exactly like a pull request of REF2 into REF.
Untracked files are not part of either; `git add -N` makes them visible.

`diff_from_index` is what the next commit would record: the INDEX against
HEAD (`git diff --cached`), with file text and the file list from the index
too, so unstaged edits in the working tree never change the result.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from bot.diff import ChangedFile, FileStatus, parse_diff

__all__ = ["GitDiff", "GitError", "diff_from_git", "diff_from_index", "read_staged", "repo_root"]

# Plain, parseable output whatever the user's git config says.
_DIFF_ARGS = (
    "-c",
    "core.quotepath=off",
    "diff",
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--find-renames",
    "--src-prefix=a/",
    "--dst-prefix=b/",
)


class GitError(RuntimeError):
    """git failed; the message is git's own first line of complaint."""


@dataclass(frozen=True, slots=True)
class GitDiff:
    files: list[ChangedFile]
    repo_files: frozenset[str]
    base: str
    head: str | None  # None: the working tree, or the index for `diff_from_index`


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(
            ["git", *args], cwd=repo, input=stdin, capture_output=True, check=False
        )
    except FileNotFoundError:
        raise GitError("git is not installed") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(message[0] if message else f"git {args[0]} failed")
    return done.stdout


def repo_root(path: Path) -> Path:
    """Top of the git work tree containing `path`."""
    out = _git(path, "rev-parse", "--show-toplevel")
    return Path(out.decode().strip())


def _resolve(repo: Path, ref: str) -> str:
    out = _git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    return out.decode().strip()


def diff_from_git(repo: Path, base: str, head: str | None = None) -> GitDiff:
    """The pull-request-style diff of `head` (or the working tree) against `base`."""
    root = repo_root(repo)
    try:
        base_sha = _resolve(root, base)
    except GitError:
        raise GitError(f"unknown revision {base!r}") from None
    try:
        head_sha = _resolve(root, head or "HEAD")
    except GitError:
        raise GitError(f"unknown revision {head or 'HEAD'!r}") from None
    merge_base = _git(root, "merge-base", base_sha, head_sha).decode().strip()
    target = [head_sha] if head else []
    raw = _git(root, *_DIFF_ARGS, merge_base, *target, "--")
    files = parse_diff(raw)
    if head:
        names = _git(root, "ls-tree", "-r", "-z", "--name-only", head_sha).split(b"\0")
        contents = _contents_at(root, head_sha, files)
    else:
        names = _git(root, "ls-files", "-z").split(b"\0")
        contents = _contents_in_tree(root, files)
    repo_files = frozenset(n.decode("utf-8", "replace") for n in names if n)
    with_text = [f.with_content(contents.get(f.path)) if f.path in contents else f for f in files]
    return GitDiff(with_text, repo_files, base_sha, head_sha if head else None)


def diff_from_index(repo: Path) -> GitDiff:
    """The staged changes (`git diff --cached`): the index against HEAD.

    Before the first commit there is no HEAD; everything staged is then new,
    compared with the empty tree. `GIT_INDEX_FILE` is honoured, as git sets it
    for hooks (`git commit -a` and `git commit PATH` commit a temporary index).
    """
    root = repo_root(repo)
    base = _head_or_empty_tree(root)
    files = parse_diff(_git(root, *_DIFF_ARGS, "--cached", base, "--"))
    names = _git(root, "ls-files", "-z").split(b"\0")
    repo_files = frozenset(n.decode("utf-8", "replace") for n in names if n)
    contents = _read_blobs(root, {p: f":{p}" for p in _wanted(files)})
    with_text = [f.with_content(contents.get(f.path)) if f.path in contents else f for f in files]
    return GitDiff(with_text, repo_files, base, None)


def read_staged(repo: Path, path: str) -> str | None:
    """Text of `path` (from the top of the repository) in the index; None if not staged."""
    return _read_blobs(repo_root(repo), {path: f":{path}"}).get(path)


def _head_or_empty_tree(root: Path) -> str:
    try:
        return _resolve(root, "HEAD")
    except GitError:  # an unborn branch: nothing committed yet
        # 4b825dc642cb6eb9a060e54bf8d69288fbee4904 in SHA-1 repositories; asked, not
        # hard-coded, so SHA-256 repositories work too.
        return _git(root, "hash-object", "-t", "tree", "--stdin", stdin=b"").decode().strip()


def _wanted(files: list[ChangedFile]) -> list[str]:
    return [f.path for f in files if f.status is not FileStatus.DELETED and not f.is_binary]


def _contents_in_tree(root: Path, files: list[ChangedFile]) -> dict[str, str]:
    out: dict[str, str] = {}
    for path in _wanted(files):
        try:
            out[path] = (root / path).read_bytes().decode("utf-8", "replace")
        except OSError:
            continue
    return out


def _contents_at(root: Path, commit: str, files: list[ChangedFile]) -> dict[str, str]:
    """Blob text of each changed file at `commit`."""
    return _read_blobs(root, {p: f"{commit}:{p}" for p in _wanted(files)})


def _read_blobs(root: Path, objects: dict[str, str]) -> dict[str, str]:
    """Text of each blob, by key, read in one `git cat-file --batch`.

    `objects` maps a key to an object name (`REV:path`, or `:path` for the
    index). Names git cannot find, and objects that are not blobs (a
    submodule's commit), are left out.
    """
    if not objects:
        return {}
    request = "".join(f"{name}\n" for name in objects.values()).encode()
    data = _git(root, "cat-file", "--batch", stdin=request)
    out: dict[str, str] = {}
    pos = 0
    for key in objects:
        end = data.index(b"\n", pos)
        # Found: "<oid> <type> <size>" then the content; otherwise "<name> missing".
        header = data[pos:end].split(b" ")
        pos = end + 1
        if len(header) != 3 or not header[2].isdigit():
            continue
        size = int(header[2])
        if header[1] == b"blob":
            out[key] = data[pos : pos + size].decode("utf-8", "replace")
        pos += size + 1
    return out
