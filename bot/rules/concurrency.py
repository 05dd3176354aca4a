"""Factor VIII, concurrency: scale out via the process model.

Each process type runs in the foreground as its own process, and the platform's
process manager starts, restarts and scales them. Processes that daemonize,
write PID files, or hide several process types behind one entrypoint or an
in-container supervisor take that job away from the platform.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import ClassVar

from bot.diff import Line
from bot.filetypes import FileKind
from bot.findings import Severity
from bot.rules.base import FileUnderReview, Hit, KeywordLineRule, Rule
from bot.rules.commands import (
    MAY_LAUNCH,
    SELF_BACKGROUNDING_WORD,
    Segment,
    command_lines,
    command_text,
    command_value,
    dockerfile_instruction,
    has_dockerfile,
    is_startup_script,
    segments,
)

_DIRECTIVE = re.compile(r"^\s*([A-Za-z]+)\s+(.*)$")


def _instruction_hits(f: FileUnderReview, wanted: tuple[str, ...]) -> Iterator[tuple[Line, str]]:
    """Added Dockerfile lines in the given instructions, once per instruction, with its command."""
    seen: set[str] = set()
    for line in f.code_lines():
        found = dockerfile_instruction(f, line.number)
        if found is None or found[0] not in wanted or found[1] in seen:
            continue
        seen.add(found[1])
        match = _DIRECTIVE.match(found[1])
        yield line, match.group(2) if match else ""


# ---------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------


class SelfDaemonizingProcess(KeywordLineRule):
    """The process is configured or coded to daemonize itself.

    ## What it does
    Flags `daemon = True` in a Gunicorn config, python-daemon's `DaemonContext`,
    the fork/`setsid`/fork double-fork, Ruby `Process.daemon`, Puma `daemonize`,
    and `daemonize yes` / `daemonize = ...` in redis, php-fpm or uWSGI configs.

    ## Why it matters
    Twelve-factor processes never daemonize or detach: they run in the foreground
    and rely on the platform's process manager to supervise them, capture their
    output and restart them. A daemonized process leaves its parent to exit, so a
    container stops at once and a supervisor loses track of it.

    ## Example
    ```python
    # gunicorn.conf.py
    daemon = True
    ```

    ## Use instead
    ```python
    # gunicorn.conf.py: stay in the foreground (the default)
    daemon = False
    ```
    """

    code = "TF0801"
    name = "self-daemonizing-process"
    factor = 8
    severity = Severity.WARNING
    kinds = frozenset({FileKind.PYTHON, FileKind.RUBY, FileKind.INI})
    message = "The process daemonizes itself; run it in the foreground under the process manager."
    prefilter = re.compile(r"[Dd]aemon|setsid")
    pattern = re.compile(
        r"(?P<ctx>\bDaemonContext\s*\()|"
        r"^(?P<gunicorn>daemon\s*=\s*True)\b|"
        r"^\s*(?P<setsid>os\.setsid\(\s*\))|"
        r"(?P<rbdaemon>\bProcess\.daemon\b)|"
        r"^\s*(?P<puma>daemonize(?:\s*\(?\s*true\s*\)?)?)\s*$|"
        r"^\s*(?P<ini>daemonize\s*(?:=\s*|\s+)(?:yes|true|on|1|/\S+))\s*$"
    )
    _gunicorn_text = re.compile(r"^(?:bind|workers|worker_class|wsgi_app)\s*=", re.MULTILINE)
    _fork = re.compile(r"\bos\.fork\(\s*\)")

    def check_match(self, f: FileUnderReview, line: Line, match: re.Match[str]) -> Hit | None:
        kinds = f.kinds
        if FileKind.SUPERVISOR in kinds:
            return None  # supervisord's own settings are TF0805's business
        if match.group("ctx") or match.group("setsid"):
            if FileKind.PYTHON not in kinds:
                return None
            if match.group("setsid") and len(self._fork.findall(f.text)) < 2:
                return None  # setsid without the double fork is not daemonizing
        elif match.group("gunicorn"):
            if FileKind.PYTHON not in kinds:
                return None
            if "gunicorn" not in f.path.lower() and not self._gunicorn_text.search(f.text):
                return None
        elif match.group("rbdaemon"):
            if FileKind.RUBY not in kinds:
                return None
        elif match.group("puma"):
            if FileKind.RUBY not in kinds or "puma" not in f.path.lower():
                return None
        elif FileKind.INI not in kinds:
            return None
        return Hit(line.number)


_DAEMON_FLAG = re.compile(
    r"\bgunicorn\b.*[\s\"',](?:-D|--daemon)(?![\w-])|"
    r"\bunicorn(?:_rails)?\b.*[\s\"',]-D(?![\w-])|"
    r"\brails\s+(?:s|server)\b.*[\s\"',](?:-d|--daemon)(?![\w-])|"
    r"\b(?:puma|sidekiq)\b.*[\s\"',](?:-d|--daemon)(?![\w-])|"
    r"\bcelery\b.*(?:--detach\b|\bmulti\s+(?:start|restart)\b)|"
    r"\buwsgi\b.*--daemonize2?\b|"
    r"\bstart-stop-daemon\b.*[\s\"',](?:--background|-b)(?![\w-])|"
    r"\bredis-server\b.*--daemonize\s+yes\b|"
    r"\bphp-fpm[\d.]*\b.*[\s\"',](?:-D|--daemonize)(?![\w-])"
)


class DaemonizingLaunch(Rule):
    """A process is started detached: `nohup ... &` or a daemonize flag.

    ## What it does
    Flags launch commands that detach a process from its parent: `nohup cmd &`,
    `gunicorn --daemon`, `celery multi start` / `--detach`, `unicorn -D`,
    `rails server -d`, `uwsgi --daemonize`, `start-stop-daemon --background`.
    Looks at Dockerfile `CMD`/`ENTRYPOINT`, Procfiles, compose `command:` and
    shell scripts (a notice outside entrypoint/start scripts).

    ## Why it matters
    A twelve-factor process runs in the foreground so the process manager can
    watch it, stream its output and restart it when it dies. A detached process
    escapes supervision: crashes go unnoticed and the container or dyno may exit
    while it still runs.

    ## Example
    ```sh
    nohup celery -A app worker > /dev/null 2>&1 &
    ```

    ## Use instead
    ```
    # Procfile: one foreground process per type
    worker: celery -A app worker
    ```
    """

    code = "TF0802"
    name = "daemonizing-launch"
    factor = 8
    severity = Severity.WARNING
    kinds = frozenset({FileKind.SHELL, FileKind.DOCKERFILE, FileKind.PROCFILE, FileKind.COMPOSE})
    message = (
        "The process is started detached from its parent; run it in the foreground "
        "as its own process type."
    )

    def check(self, f: FileUnderReview) -> Iterator[Hit]:
        if FileKind.SHELL in f.kinds and FileKind.DOCKERFILE not in f.kinds:
            quiet = not is_startup_script(f.path)
            for line in f.code_lines():
                if self._detaches(line.text):
                    yield Hit(line.number, severity=Severity.NOTICE if quiet else None)
            return
        for line, command in command_lines(f):
            if _DAEMON_FLAG.search(line.text) or (
                "nohup" in line.text and self._detaches(command_value(f, command))
            ):
                yield Hit(line.number)

    @staticmethod
    def _detaches(command: str) -> bool:
        if _DAEMON_FLAG.search(command):
            return True
        if "nohup" not in command:
            return False
        return any(s.nohup and s.background for s in segments(command))


class PidFile(Rule):
    """The process writes a PID file.

    ## What it does
    Flags PID files: `pidfile = ...` in a Gunicorn config, `--pid`/`--pidfile`/`-P`
    on gunicorn, celery, uWSGI, Puma, Sidekiq or Rails command lines, a literal
    `pidfile "..."` in a Puma config, `pidfile` in redis/uWSGI configs and YAML,
    and code that writes its own PID to a `.pid` file. nginx's `pid` directive and
    supervisord's own settings are left alone.

    ## Why it matters
    PID files belong to self-managed, daemonized services. Under a process
    manager the platform already knows every process; a stale PID file left in a
    restarted container is a classic cause of "server is already running" boot
    failures.

    ## Example
    ```sh
    exec gunicorn --pid /var/run/gunicorn.pid app:app
    ```

    ## Use instead
    ```sh
    exec gunicorn app:app
    ```
    """

    code = "TF0803"
    name = "pid-file"
    factor = 8
    severity = Severity.NOTICE
    kinds = frozenset(
        {
            FileKind.PYTHON,
            FileKind.RUBY,
            FileKind.JAVASCRIPT,
            FileKind.INI,
            FileKind.YAML,
            FileKind.SHELL,
            FileKind.DOCKERFILE,
            FileKind.PROCFILE,
            FileKind.COMPOSE,
        }
    )
    message = "The process keeps a PID file; let the process manager track it instead."
    _flag = re.compile(
        r"\b(?:gunicorn|celery|uwsgi|sidekiq|puma|rails|unicorn|rq|dramatiq|hypercorn|"
        r"php-fpm[\d.]*)\b.*"
        r"(?:[\s\"',]--pid(?:file)?(?:=|\s+|[\"'],\s*[\"'])[^\s\"']|[\s\"',]-P(?:\s+|[\"'],\s*[\"'])[^\s\"']+\.pid\b)"
    )
    _code = re.compile(
        r"\bopen\(\s*[^,)]*\.pid['\"]\s*,\s*['\"][wa]|"
        r"\.write_text\(\s*str\(\s*os\.getpid\(\)|"
        r"\bFile\.write\(\s*[^,)]*\.pid['\"]|\bFile\.write\([^)]*\bProcess\.pid\b|"
        r"\bwriteFileSync\(\s*[^,)]*\.pid['\"`]|\bwriteFileSync\([^)]*\bprocess\.pid\b"
    )
    _gunicorn_setting = re.compile(r"^pidfile\s*=\s*['\"]")
    _puma_setting = re.compile(r"^\s*pidfile\s*\(?\s*['\"]")
    _ini_setting = re.compile(r"^\s*(?:safe-)?pidfile2?\s*(?:=\s*|\s+)\S+")
    _yaml_setting = re.compile(r"^\s*:?pidfile:\s*['\"]?\S+\.pid\b")
    _language: ClassVar[frozenset[FileKind]] = frozenset(
        {FileKind.PYTHON, FileKind.RUBY, FileKind.JAVASCRIPT}
    )

    def check(self, f: FileUnderReview) -> Iterator[Hit]:
        kinds = f.kinds
        if FileKind.SUPERVISOR in kinds:
            return
        path = f.path.lower()
        if kinds & {FileKind.DOCKERFILE, FileKind.PROCFILE, FileKind.COMPOSE}:
            for line, _ in command_lines(f):
                if self._flag.search(line.text):
                    yield Hit(line.number)
            return
        for line in f.code_lines():
            text = line.text
            if FileKind.SHELL in kinds:
                hit = self._flag.search(text) is not None
            elif kinds & self._language:
                hit = (
                    self._code.search(text) is not None
                    or (
                        (FileKind.PYTHON in kinds and "gunicorn" in path)
                        and self._gunicorn_setting.match(text) is not None
                    )
                    or (
                        (FileKind.RUBY in kinds and "puma" in path)
                        and self._puma_setting.match(text) is not None
                    )
                )
            elif FileKind.INI in kinds:
                hit = self._ini_setting.match(text) is not None
            else:
                hit = (
                    FileKind.KUBERNETES not in kinds and self._yaml_setting.match(text) is not None
                )
            if hit:
                yield Hit(line.number)


class SeveralProcessesOneEntrypoint(Rule):
    """One entrypoint starts several long-running processes with `&`.

    ## What it does
    Flags a long-running program sent to the background (`celery worker &`,
    `service nginx start`, a bare `cron`) when the same Dockerfile `CMD`/`ENTRYPOINT`,
    Procfile entry, compose `command:` or entrypoint/start script also starts
    another long-running program. A single backgrounded process followed by `wait`
    (signal forwarding) and `if`/`case` dispatch between process types are fine.

    ## Why it matters
    The process model scales each process type on its own: web and worker are
    separate processes the platform can run, count and restart independently.
    Packing them into one container behind `&` means they scale together, and
    when the background one dies nothing notices or restarts it.

    ## Example
    ```dockerfile
    CMD celery -A app worker & gunicorn app:app
    ```

    ## Use instead
    ```
    # Procfile (or one container/service per process type)
    web: gunicorn app:app
    worker: celery -A app worker
    ```
    """

    code = "TF0804"
    name = "several-processes-one-entrypoint"
    factor = 8
    severity = Severity.WARNING
    kinds = frozenset({FileKind.SHELL, FileKind.DOCKERFILE, FileKind.PROCFILE, FileKind.COMPOSE})
    message = (
        "Several long-running processes start from one entrypoint; run each process type "
        "as its own process (container, service or Procfile entry)."
    )

    def check(self, f: FileUnderReview) -> Iterator[Hit]:
        kinds = f.kinds
        if FileKind.DOCKERFILE in kinds:
            for line, command in _instruction_hits(f, ("CMD", "ENTRYPOINT")):
                if self._several(segments(command_text(command))):
                    yield Hit(line.number)
            return
        if FileKind.SHELL in kinds:
            if not is_startup_script(f.path):
                return
            launches = 0
            for raw in f.text.splitlines():
                stripped = raw.strip()
                if stripped and not stripped.startswith("#") and MAY_LAUNCH.search(stripped):
                    launches += sum(s.launch for s in segments(stripped))
            if launches < 2:
                return
            for line in f.code_lines():
                if "&" not in line.text and not SELF_BACKGROUNDING_WORD.search(line.text):
                    continue
                if any(s.launch and s.background and not s.nohup for s in segments(line.text)):
                    yield Hit(line.number)
            return
        for line, command in command_lines(f):
            if self._several(segments(command_value(f, command))):
                yield Hit(line.number)

    @staticmethod
    def _several(parts: list[Segment]) -> bool:
        launches = [s for s in parts if s.launch]
        return len(launches) >= 2 and any(s.background and not s.nohup for s in launches)


_SUPERVISOR_PACKAGE = re.compile(r"(?<![\w./-])supervisor(?:[=<>~!]=?[\w.*+-]+)?(?![\w-])")
_PACKAGE_INSTALL = re.compile(
    r"\b(?:apt-get|apt|apk|yum|dnf|microdnf|zypper|pip[\d.]*|pipx|conda|mamba)\b"
    r"[^&;|]*\b(?:install|add)\b"
)
_RUNS_SUPERVISORD = re.compile(r"(?<![\w-])supervisord(?![\w-])")
_PROGRAM_SECTION = re.compile(r"^\s*\[program:[^\]]+\]", re.MULTILINE)


class SupervisorInContainer(Rule):
    """A process supervisor runs inside the container.

    ## What it does
    Flags supervisord started by a Dockerfile `CMD`/`ENTRYPOINT` or an entrypoint
    script, a Dockerfile that installs supervisor (a notice, when nothing in the
    file starts it), and a supervisord config with several `[program:...]`
    sections (a warning when the repository has a Dockerfile, a notice when that
    is unknown, nothing for a repository without one).

    ## Why it matters
    In the process model the platform is the process manager: each process type
    is its own container or dyno, scaled and restarted on its own. A supervisor
    inside an image hides several process types behind one, so they cannot be
    scaled separately and their failures are invisible to the platform.

    ## Example
    ```dockerfile
    RUN apt-get update && apt-get install -y supervisor
    CMD ["/usr/bin/supervisord", "-c", "/etc/supervisor/supervisord.conf"]
    ```

    ## Use instead
    ```yaml
    # docker-compose.yml: one service per process type
    services:
      web: {build: ., command: ["gunicorn", "app:app"]}
      worker: {build: ., command: ["celery", "-A", "app", "worker"]}
    ```
    """

    code = "TF0805"
    name = "supervisor-in-container"
    factor = 8
    severity = Severity.WARNING
    kinds = frozenset({FileKind.DOCKERFILE, FileKind.SHELL, FileKind.SUPERVISOR})
    message = (
        "A process supervisor runs inside the container; let the platform run each "
        "process type as its own container."
    )

    def check(self, f: FileUnderReview) -> Iterator[Hit]:
        kinds = f.kinds
        if FileKind.DOCKERFILE in kinds:
            yield from self._dockerfile(f)
        elif FileKind.SUPERVISOR in kinds:
            yield from self._config(f)
        elif FileKind.SHELL in kinds and is_startup_script(f.path):
            for line in f.code_lines():
                if "supervisord" in line.text and any(
                    s.launch and _RUNS_SUPERVISORD.search(s.text) for s in segments(line.text)
                ):
                    yield Hit(line.number)

    def _dockerfile(self, f: FileUnderReview) -> Iterator[Hit]:
        started = False
        for raw in f.text.splitlines():
            match = _DIRECTIVE.match(raw)
            if match and match.group(1).upper() in ("CMD", "ENTRYPOINT"):
                started = started or bool(_RUNS_SUPERVISORD.search(raw))
        for line, command in _instruction_hits(f, ("CMD", "ENTRYPOINT")):
            if _RUNS_SUPERVISORD.search(command):
                yield Hit(line.number)
        if started:
            return
        for line in f.code_lines():
            if not _SUPERVISOR_PACKAGE.search(line.text):
                continue
            found = dockerfile_instruction(f, line.number)
            if found and found[0] == "RUN" and _PACKAGE_INSTALL.search(found[1]):
                yield Hit(
                    line.number,
                    severity=Severity.NOTICE,
                    message=(
                        "The image installs a process supervisor; run each process type "
                        "as its own container instead."
                    ),
                )
                return

    def _config(self, f: FileUnderReview) -> Iterator[Hit]:
        if len(_PROGRAM_SECTION.findall(f.text)) < 2:
            return
        containerised = has_dockerfile(f.repo_files)
        if containerised is False:
            return
        for line in f.code_lines():
            if _PROGRAM_SECTION.match(line.text):
                yield Hit(
                    line.number,
                    severity=Severity.NOTICE if containerised is None else None,
                    message=(
                        "Several programs under one supervisor; run each process type as "
                        "its own container or service."
                    ),
                )
                return


RULES: tuple[Rule, ...] = (
    SelfDaemonizingProcess(),
    DaemonizingLaunch(),
    PidFile(),
    SeveralProcessesOneEntrypoint(),
    SupervisorInContainer(),
)
