"""The commands that start and run processes, as the rules read them.

Where a process is launched (Dockerfile `CMD`/`ENTRYPOINT`, Procfile entries,
compose `command:`, entrypoint and start scripts), how a Dockerfile line joins
its instruction, how a shell command splits into simple commands (and which of
them run in the background or start a long-running program), and which shell
lines are text rather than commands.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath

from bot.diff import Line
from bot.filetypes import FileKind
from bot.rules.base import FileUnderReview

__all__ = [
    "HEREDOC_OPEN",
    "MAY_LAUNCH",
    "SELF_BACKGROUNDING_WORD",
    "SHELLS",
    "Segment",
    "command_lines",
    "command_text",
    "command_value",
    "dockerfile_instruction",
    "dockerfile_keyword",
    "has_dockerfile",
    "is_entrypoint_script",
    "is_startup_script",
    "segments",
    "shell_data_line",
]

# ---------------------------------------------------------------------------
# Which files start the app
# ---------------------------------------------------------------------------

_DOCKERFILE_PATH = re.compile(
    r"(?:^|/)(?:dockerfile|containerfile)(?:[.-][\w.-]+)?$|\.dockerfile$", re.IGNORECASE
)


def has_dockerfile(repo_files: frozenset[str] | None) -> bool | None:
    """Whether the repository builds a container image; None when the file list is unknown."""
    if repo_files is None:
        return None
    return any(_DOCKERFILE_PATH.search(p) for p in repo_files)


_STARTUP_NAME = re.compile(
    r"(?:^|[-_.])(?:entrypoint|start|startup|boot|launch|run|serve)(?:[-_.]|$)"
)
_NOT_STARTUP = re.compile(r"test|lint|deploy|build|release|install|setup|migrat|backup|ci\b|dev")


def is_entrypoint_script(path: str) -> bool:
    """A container entrypoint script by name: `docker-entrypoint.sh`, `entrypoint.sh`."""
    return "entrypoint" in PurePosixPath(path).name.lower()


def is_startup_script(path: str) -> bool:
    """A script that starts the app by name: entrypoints, `start.sh`, `run.sh`, `boot.sh`."""
    name = PurePosixPath(path).name.lower()
    if "entrypoint" in name:
        return True
    return bool(_STARTUP_NAME.search(name)) and not _NOT_STARTUP.search(name)


# ---------------------------------------------------------------------------
# Dockerfile instructions
# ---------------------------------------------------------------------------

_INSTRUCTION = re.compile(r"^\s*([A-Za-z]+)\b")
_MAX_CONTINUATION = 200  # lines a `\` continuation is followed across


def _instruction_start(
    f: FileUnderReview, number: int, *, skip_comments: bool, limit: int | None
) -> int:
    """The first line of the instruction line `number` continues (`\\` at line ends)."""
    start = k = number
    while k > 1 and (limit is None or number - k < limit):
        above = f.line_text(k - 1)
        if above is None:
            break
        if skip_comments and above.lstrip().startswith("#"):
            k -= 1
            continue
        if not above.rstrip().endswith("\\"):
            break
        k -= 1
        start = k
    return start


def dockerfile_instruction(f: FileUnderReview, number: int) -> tuple[str, str] | None:
    """The Dockerfile instruction a line belongs to, upper-cased, and its whole text.

    Continuation lines (the line above ends in a backslash) are joined, so a
    `CMD` spread over several lines reads as one. None for blank/comment lines.
    """
    start = _instruction_start(f, number, skip_comments=False, limit=_MAX_CONTINUATION)
    first = f.line_text(start)
    if first is None:
        return None
    match = _INSTRUCTION.match(first)
    if match is None or first.lstrip().startswith("#"):
        return None
    parts = [first]
    current = first
    end = start
    while current.rstrip().endswith("\\") and end - start < _MAX_CONTINUATION:
        end += 1
        nxt = f.line_text(end)
        if nxt is None:
            break
        parts.append(nxt)
        current = nxt
    joined = " ".join(p.rstrip().removesuffix("\\").strip() for p in parts)
    return match.group(1).upper(), joined


def dockerfile_keyword(f: FileUnderReview, number: int) -> str | None:
    """The instruction (upper-cased) a Dockerfile line belongs to, without its text.

    Unlike `dockerfile_instruction`, comment lines inside a continuation are passed
    over (Docker drops them) and the walk up has no bound: build_release_run's reading.
    """
    start = _instruction_start(f, number, skip_comments=True, limit=None)
    text = f.line_text(start)
    if text is None:
        return None
    m = _INSTRUCTION.match(text)
    return m.group(1).upper() if m else None


# ---------------------------------------------------------------------------
# The commands that start processes
# ---------------------------------------------------------------------------

_COMPOSE_COMMAND = re.compile(r"^\s*(?:-\s*)?(?:command|entrypoint)\s*:")


def command_lines(f: FileUnderReview) -> Iterator[tuple[Line, str]]:
    """Added lines that start or run a process, with the command text to judge.

    Dockerfile: lines inside CMD/ENTRYPOINT (whole instruction text); Procfile:
    every entry; compose: `command:`/`entrypoint:` lines; entrypoint scripts: every line.
    """
    kinds = f.kinds
    for line in f.code_lines():
        if FileKind.DOCKERFILE in kinds:
            found = dockerfile_instruction(f, line.number)
            if found is not None and found[0] in ("CMD", "ENTRYPOINT"):
                yield line, found[1]
        elif (
            FileKind.PROCFILE in kinds
            or (FileKind.SHELL in kinds and is_entrypoint_script(f.path))
            or (FileKind.COMPOSE in kinds and _COMPOSE_COMMAND.match(line.text))
        ):
            yield line, line.text


# The shells that run a `["sh", "-c", "..."]` argument vector.
SHELLS = frozenset({"sh", "bash", "/bin/sh", "/bin/bash", "ash", "/bin/ash", "dash"})
_SH_C = re.compile(r"^(?:/bin/)?(?:ba|da|a)?sh\s+-\w*c\s+(['\"])(.*)\1\s*$")


def command_text(raw: str) -> str:
    """The shell command in a CMD/ENTRYPOINT/compose value, unwrapping JSON and `sh -c`."""
    text = raw.strip()
    wrapped = _SH_C.match(text)
    if wrapped is not None:
        return wrapped.group(2)
    if text.startswith("["):
        try:
            argv = json.loads(text)
        except ValueError:
            return text
        if isinstance(argv, list) and all(isinstance(a, str) for a in argv):
            if len(argv) >= 3 and argv[0] in SHELLS and argv[1] in ("-c", "-ec", "-ce"):
                return " ".join(argv[2:])
            return " ".join(argv)
    return text


def command_value(f: FileUnderReview, command: str) -> str:
    """The shell command of a `command_lines` entry, without `CMD`/`web:`/`command:`."""
    if FileKind.DOCKERFILE in f.kinds:
        parts = command.split(None, 1)
        return command_text(parts[1]) if len(parts) == 2 else ""
    if f.kinds & {FileKind.PROCFILE, FileKind.COMPOSE}:
        return command_text(command.split(":", 1)[1]) if ":" in command else ""
    return command_text(command)


# ---------------------------------------------------------------------------
# Reading shell commands: segments separated by ; && || | and background &
# ---------------------------------------------------------------------------

_REDIRECT = re.compile(r"\d*>&\d*-?|&>>?|<&\d*")
_SEPARATOR = re.compile(r"&&|\|\||;|\|(?!\|)|&")
_LAUNCH_PREFIX = (
    r"^(?:(?:exec|nohup|sudo|env|command|time)\s+(?:-\S+\s+)*|"
    r"(?:gosu|su-exec|setuidgid|chpst\s+-u)\s+\S+\s+|[A-Za-z_]\w*=\S*\s+|"
    r"bundle\s+exec\s+|poetry\s+run\s+|pipenv\s+run\s+|uv\s+run\s+)*"
)
_LONG_RUNNING = re.compile(
    _LAUNCH_PREFIX + r"(?:\S*/)?(?P<prog>gunicorn|uvicorn|hypercorn|daphne|granian|waitress-serve|"
    r"uwsgi|celery|sidekiq|rq\s+worker|rqworker|dramatiq|huey_consumer(?:\.py)?|faust|"
    r"puma|unicorn|thin|rails\s+(?:s|server)|rackup|nginx|httpd|apache2ctl|php-fpm[\d.]*|"
    r"php\s+artisan\s+(?:serve|queue:work|horizon)|node|nodemon|pm2(?:-runtime)?|"
    r"npm\s+(?:run\s+)?start|yarn\s+start|java|python[\d.]*|flask\s+run|streamlit\s+run|"
    r"dotnet|redis-server|mongod|postgres|mysqld|cron|crond|supervisord)(?![\w.-])"
)
# General-purpose runtimes also run one-shot jobs; these words mark one.
_GENERIC_RUNTIME = re.compile(r"python[\d.]*|node|java|dotnet")
_ONE_SHOT = re.compile(
    r"(?:^|[\s/:])(?:migrat\w*|makemigrations|collectstatic|compilemessages|createsuperuser|"
    r"loaddata|seed\w*|wait[-_]?for[-_\w]*|check|upgrade|install|pip)(?=[\s.]|$)|"
    r"\s-(?:[ceV]|-version)(?:\s|$)"
)
# Programs that put themselves in the background unless told otherwise.
_SELF_BACKGROUNDING = re.compile(
    _LAUNCH_PREFIX + r"(?:(?:\S*/)?service\s+\S+\s+start|/etc/init\.d/\S+\s+start|"
    r"(?:\S*/)?(?:cron|crond|nginx)(?![\w.-])(?!.*(?:\s-[fstvVT]\b|daemon\s+off)))"
)
# Cheap pre-checks: a line that names no program cannot launch one, nor background itself.
MAY_LAUNCH = re.compile(
    r"gunicorn|uvicorn|hypercorn|daphne|granian|waitress|uwsgi|celery|sidekiq|rq|dramatiq|"
    r"huey|faust|puma|unicorn|thin|rails|rack|nginx|httpd|apache|php|node|pm2|npm|yarn|java|"
    r"python|flask|streamlit|dotnet|redis|mongod|postgres|mysqld|cron|supervisord|service|init\.d"
)
SELF_BACKGROUNDING_WORD = re.compile(r"\b(?:service|init\.d|cron|crond|nginx)\b")


@dataclass(frozen=True, slots=True)
class Segment:
    """One simple command of a shell command line."""

    text: str
    background: bool  # ended by a lone `&`, or a program that daemonizes itself
    nohup: bool
    launch: bool  # starts a long-running program


def segments(command: str) -> list[Segment]:
    """Split a shell command into simple commands and say which run in the background."""
    text = _REDIRECT.sub(" ", command)
    out: list[Segment] = []
    start = 0
    for sep in [*_SEPARATOR.finditer(text), None]:
        end = len(text) if sep is None else sep.start()
        piece = text[start:end].strip().strip("\"'").strip()
        if piece:
            lone_amp = sep is not None and sep.group() == "&"
            self_bg = _SELF_BACKGROUNDING.match(piece) is not None
            long_running = _LONG_RUNNING.match(piece)
            if (
                long_running is not None
                and _GENERIC_RUNTIME.fullmatch(long_running["prog"])
                and _ONE_SHOT.search(piece)
            ):
                long_running = None
            out.append(
                Segment(
                    text=piece,
                    background=lone_amp or self_bg,
                    nohup=piece.startswith("nohup"),
                    launch=long_running is not None or self_bg,
                )
            )
        if sep is not None:
            start = sep.end()
    return out


# ---------------------------------------------------------------------------
# Shell lines that are text, not commands
# ---------------------------------------------------------------------------

HEREDOC_OPEN = re.compile(r"""<<-?\s*['"]?(\w+)['"]?""")
_HEREDOC_RUNS = re.compile(r"\b(?:ba|z|da|k)?sh\b|\bssh\b|^\s*RUN\b|\bexec\b")
_MESSAGE_COMMAND = re.compile(r"^\s*(?:echo|printf|log\w*|warn\w*|info|error|die|fail|usage)\b")


def shell_data_line(f: FileUnderReview, line: Line, limit: int = 80) -> bool:
    """True when a shell line is text, not a command: a message (`echo ...`) or a data heredoc.

    A heredoc fed to a shell or ssh (`bash <<EOF`, `ssh host <<EOF`) holds commands;
    one fed to `cat` or the like (usage text) holds data.
    """
    if _MESSAGE_COMMAND.match(line.text):
        return True
    closed: set[str] = set()
    for number in range(line.number - 1, max(line.number - limit, 0), -1):
        text = f.line_text(number)
        if text is None:
            return False
        stripped = text.strip()
        if re.fullmatch(r"\w+", stripped):
            closed.add(stripped)
            continue
        opener = HEREDOC_OPEN.search(text)
        if opener is not None and opener.group(1) not in closed:
            return _HEREDOC_RUNS.search(text[: opener.start()]) is None
    return False
