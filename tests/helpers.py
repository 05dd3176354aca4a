"""Small builders shared by the tests."""

from __future__ import annotations

from bot.config import RepoConfig
from bot.diff import parse_diff
from bot.engine import ReviewResult, review_files


def added_file_diff(path: str, text: str) -> str:
    """A git-style diff that adds `path` with `text` as its whole content."""
    lines = text.splitlines()
    body = "".join(f"+{line}\n" for line in lines)
    return (
        f"diff --git a/{path} b/{path}\n"
        "new file mode 100644\n"
        "index 0000000..1111111\n"
        "--- /dev/null\n"
        f"+++ b/{path}\n"
        f"@@ -0,0 +1,{len(lines)} @@\n"
        f"{body}"
    )


def review_text(path: str, text: str, config: RepoConfig | None = None) -> ReviewResult:
    """Review a new file with the default rules."""
    return review_files(parse_diff(added_file_diff(path, text)), config)


def lines_for(result: ReviewResult, code: str) -> list[tuple[str, int]]:
    return sorted((f.path, f.line) for f in result.findings if f.rule == code)
