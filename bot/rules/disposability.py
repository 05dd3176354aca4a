"""Factor IX, disposability: fast startup and graceful shutdown.

Processes can be started or stopped at a moment's notice. They must hear the
platform's SIGTERM (so no ignoring it, and no shell standing between the
platform and the app) and must not stall their own startup with fixed sleeps.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from bot.diff import FileStatus, Line
from bot.filetypes import FileKind
from bot.findings import Severity
from bot.rules.base import FileUnderReview, Hit, KeywordLineRule, Rule
from bot.rules.commands import (
    SHELLS,
    command_lines,
    command_value,
    dockerfile_instruction,
    has_dockerfile,
    is_entrypoint_script,
    is_startup_script,
    segments,
)


class SigtermIgnored(KeywordLineRule):
    """SIGTERM is ignored or handled by an empty handler.

    ## What it does
    Flags code that throws SIGTERM away: `signal.signal(signal.SIGTERM, signal.SIG_IGN)`,
    a `lambda: None` handler, `process.on("SIGTERM", () => {})`, Go
    `signal.Ignore(syscall.SIGTERM)`, Ruby `trap("TERM", "IGNORE")` or an empty
    `trap("TERM") {}` block, Java `Signal.handle(new Signal("TERM"), SIG_IGN)`,
    and shell `trap '' TERM`.

    ## Why it matters
    Disposable processes shut down gracefully when the platform sends SIGTERM:
    they stop taking work, finish or return what they hold, and exit. A process
    that ignores SIGTERM is killed with SIGKILL after the grace period instead,
    dropping in-flight requests and jobs and slowing every deploy.

    ## Example
    ```python
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    ```

    ## Use instead
    ```python
    def shutdown(signum, frame):
        server.stop_accepting()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, shutdown)
    ```
    """

    code = "TF0901"
    name = "sigterm-ignored"
    factor = 9
    severity = Severity.WARNING
    kinds = frozenset(
        {
            FileKind.PYTHON,
            FileKind.JAVASCRIPT,
            FileKind.GO,
            FileKind.RUBY,
            FileKind.JAVA,
            FileKind.SHELL,
        }
    )
    message = "SIGTERM is ignored; handle it by shutting down gracefully, then exit."
    prefilter = re.compile(r"TERM|trap")
    pattern = re.compile(
        # Python
        r"\b(?:signal|add_signal_handler)\(\s*(?:signal\.)?SIGTERM\s*,\s*"
        r"(?:(?:signal\.)?SIG_IGN\b|lambda[^:]*:\s*(?:None|pass)\s*\))|"
        # JavaScript / TypeScript
        r"\bprocess\.(?:on|once|addListener)\(\s*['\"`]SIGTERM['\"`]\s*,\s*(?:"
        r"(?:async\s*)?(?:\([^)]*\)|\w+)\s*=>\s*(?:\{\s*\}|undefined|null|void\s+0)|"
        r"(?:async\s+)?function\s*\w*\s*\([^)]*\)\s*\{\s*\}|(?:_\.)?noop)\s*\)|"
        # Go
        r"\bsignal\.Ignore\([^)]*\bSIGTERM\b|"
        # Ruby
        r"\b(?:Signal\.)?trap\s*\(?\s*(?:['\"](?:SIG)?TERM['\"]|:(?:SIG)?TERM)\s*,\s*"
        r"['\"](?:IGNORE|SIG_IGN|)['\"]|"
        r"\b(?:Signal\.)?trap\s*\(\s*(?:['\"](?:SIG)?TERM['\"]|:(?:SIG)?TERM)\s*\)\s*"
        r"(?:\{\s*\}|do\s*(?:\|[^|]*\|)?\s*end)\s*$|"
        # Java (sun.misc.Signal)
        r"\bSignal\.handle\(\s*new\s+Signal\(\s*\"TERM\"\s*\)\s*,\s*(?:SignalHandler\.)?SIG_IGN\b|"
        # Shell
        r"^\s*trap\s+(?:''|\"\")\s+(?:[\w ]*\s)?(?:SIG)?(?:TERM|15)\b"
    )
    _by_kind = (
        (FileKind.SHELL, re.compile(r"^\s*trap\s+(?:''|\"\")")),
        (FileKind.RUBY, re.compile(r"\btrap\s*\(?\s*(?:['\"](?:SIG)?TERM|:)")),
    )

    def check_match(self, f: FileUnderReview, line: Line, match: re.Match[str]) -> Hit | None:
        # A shell `trap` only counts in shell files, a Ruby `trap(...)` only in Ruby.
        for kind, shape in self._by_kind:
            if shape.search(match.group()) and kind not in f.kinds:
                return None
        return Hit(line.number)


# ---------------------------------------------------------------------------
# Dockerfile shell-form CMD / ENTRYPOINT
# ---------------------------------------------------------------------------

_CMD_LINE = re.compile(
    r"^(?P<indent>\s*)(?P<instr>CMD|ENTRYPOINT)(?P<gap>\s+)(?P<value>\S.*?)\s*$", re.I
)
_FROM = re.compile(r"^\s*FROM\s", re.I)
_WINDOWS_SHELL = re.compile(r"^\s*SHELL\s*\[\s*\"(?:powershell|pwsh|cmd)", re.I | re.M)
_SHELL_META = re.compile(r"[$&|;<>()`'\"*?~\\{}\[\]#!]")
_OPERATORS = re.compile(r"&&|\|\||[;|&`()]|\$\(")
_ASSIGNMENT = re.compile(r"^[A-Za-z_]\w*=")
_BARE_SHELL = re.compile(r"^(?:/bin/|/usr/bin/)?(?:ba|z|a|da)?sh$")
_EXEC_LAST = re.compile(r"(?:^|&&|;)\s*exec\s+\S[^;&|]*$")
_LAST_STEP = re.compile(r"^(.*(?:&&|;))\s*([^;&|]+)$")


def _known_lines_after(f: FileUnderReview, number: int) -> Iterator[str]:
    """Known new-file lines below `number`."""
    return (text for n, text in f.numbered_lines() if n > number)


class ShellFormCommand(Rule):
    """A Dockerfile `CMD` or `ENTRYPOINT` in shell form.

    ## What it does
    Flags `CMD`/`ENTRYPOINT` written as a plain command line (shell form), a JSON
    array written with single quotes (which Docker silently treats as shell form),
    and exec-form `["sh", "-c", "..."]` whose final command is not `exec`'d (a
    notice). Commands that already `exec` the final program, bare shells, and
    instructions in earlier build stages are left alone. When the command is a
    plain list of words, the fix is offered as a suggestion.

    ## Why it matters
    Docker runs a shell-form command as `/bin/sh -c "..."`, so the shell is PID 1
    and the app is its child: the SIGTERM sent on stop never reaches the app, which
    is killed without a graceful shutdown when the timeout expires. Disposable
    processes must receive the platform's signals directly.

    ## Example
    ```dockerfile
    CMD gunicorn --bind 0.0.0.0:8000 app:app
    ```

    ## Use instead
    ```dockerfile
    CMD ["gunicorn", "--bind", "0.0.0.0:8000", "app:app"]
    ```
    """

    code = "TF0902"
    name = "shell-form-command"
    factor = 9
    severity = Severity.WARNING
    kinds = frozenset({FileKind.DOCKERFILE})
    message = (
        "Shell-form command runs under `/bin/sh -c`, which can keep SIGTERM from the app; "
        "use the exec (JSON array) form."
    )

    def check(self, f: FileUnderReview) -> Iterator[Hit]:
        if _WINDOWS_SHELL.search(f.text):
            return
        last_from = 0
        for number, text in f.numbered_lines():
            if _FROM.match(text):
                last_from = number
        for line in f.code_lines():
            match = _CMD_LINE.match(line.text)
            if match is None:
                continue
            above = f.line_text(line.number - 1) if line.number > 1 else None
            if above is not None and above.rstrip().endswith("\\"):
                continue  # a continuation of another instruction
            if line.number < last_from:
                continue  # an earlier build stage: its command never runs
            hit = self._judge(f, line, match)
            if hit is not None:
                yield hit

    def _judge(self, f: FileUnderReview, line: Line, match: re.Match[str]) -> Hit | None:
        value = match.group("value")
        instr = match.group("instr")
        multiline = value.endswith("\\")
        if value.startswith("["):
            return None if multiline else self._json_form(line, match)
        found = dockerfile_instruction(f, line.number)
        command = value if found is None else found[1].split(None, 1)[1]
        first = command.split(None, 1)[0]
        if command.startswith("exec ") or _EXEC_LAST.search(command):
            return None
        if _BARE_SHELL.match(first) and len(command.split()) == 1:
            return None
        entrypoint = instr.upper() == "ENTRYPOINT"
        chained = _OPERATORS.search(command) is not None
        prefix = f"{match.group('indent')}{instr}{match.group('gap')}"
        message: str | None = None
        suggestion = None
        if not multiline and not _SHELL_META.search(command):
            suggestion = prefix + json.dumps(command.split(), ensure_ascii=False)
        elif not chained and not _ASSIGNMENT.match(command):
            if not entrypoint and not multiline:
                suggestion = f"{prefix}exec {command}"
            message = (
                f"Shell-form {instr.upper()} runs under `/bin/sh -c`, which can keep SIGTERM "
                "from the app; use the exec form, or start the command with `exec`."
            )
        if chained:
            tail = _LAST_STEP.match(command)
            if (
                tail is not None
                and not entrypoint
                and not multiline
                and not _OPERATORS.search(command.replace("&&", " ").replace(";", " "))
                and not _ASSIGNMENT.match(tail.group(2))
            ):
                suggestion = f"{prefix}{tail.group(1)} exec {tail.group(2)}"
            message = (
                f"Shell-form {instr.upper()} keeps `/bin/sh` as PID 1, so SIGTERM never "
                "reaches the app; end the chain with `exec <app>`, or move the steps into "
                "an entrypoint script that ends with `exec`."
            )
        if entrypoint:
            message = (
                "Shell-form ENTRYPOINT runs under `/bin/sh -c`, which can keep SIGTERM from "
                "the app and ignores CMD arguments; use the exec (JSON array) form."
            )
        # A lone simple command is often exec'd by the shell itself (bash, busybox,
        # recent dash), so a plain shell-form CMD is only a notice.
        severity = None if chained or entrypoint else Severity.NOTICE
        return Hit(line.number, message=message, suggestion=suggestion, severity=severity)

    def _json_form(self, line: Line, match: re.Match[str]) -> Hit | None:
        value = match.group("value")
        try:
            argv = json.loads(value)
        except ValueError:
            argv = None
        if argv is None:
            if "'" not in value:
                return None
            suggestion = None
            if '"' not in value:
                try:
                    fixed = json.loads(value.replace("'", '"'))
                except ValueError:
                    fixed = None
                if isinstance(fixed, list) and all(isinstance(a, str) for a in fixed):
                    suggestion = (
                        f"{match.group('indent')}{match.group('instr')}{match.group('gap')}"
                        f"{json.dumps(fixed, ensure_ascii=False)}"
                    )
            return Hit(
                line.number,
                message=(
                    "Not valid JSON (single quotes): Docker runs this text through /bin/sh "
                    "as a command line, which fails; use double quotes."
                ),
                suggestion=suggestion,
                severity=Severity.ERROR,
            )
        if not (
            isinstance(argv, list) and len(argv) == 3 and all(isinstance(a, str) for a in argv)
        ):
            return None
        if argv[0] not in SHELLS or argv[1] != "-c":
            return None
        script = argv[2].strip()
        parts = segments(script)
        if len(parts) < 2 or not parts[-1].launch or "trap" in script or "wait" in script:
            return None  # a lone command is exec'd by the shell itself
        if parts[-1].text.startswith("exec ") or parts[-1].background:
            return None
        suggestion = None
        tail = _LAST_STEP.match(script)
        if tail is not None and not _ASSIGNMENT.match(tail.group(2)):
            fixed_argv = [argv[0], argv[1], f"{tail.group(1)} exec {tail.group(2)}"]
            suggestion = (
                f"{match.group('indent')}{match.group('instr')}{match.group('gap')}"
                f"{json.dumps(fixed_argv, ensure_ascii=False)}"
            )
        return Hit(
            line.number,
            severity=Severity.NOTICE,
            message=(
                "The `sh -c` wrapper stays PID 1 while the chain runs and keeps SIGTERM "
                "from the app; start the final command with `exec`."
            ),
            suggestion=suggestion,
        )


# ---------------------------------------------------------------------------
# Entrypoint scripts
# ---------------------------------------------------------------------------

_ALL_ARGS = re.compile(r"^(?:\"\$(?:@|\{@\})\"|\$@|\$\{@\})(?:\s|$)")
_TRAP_TERM = re.compile(r"^\s*trap\s+.*\b(?:SIG)?(?:TERM|15)\b", re.M)
_WAIT = re.compile(r"^\s*wait\b", re.M)


def _last_code_line(f: FileUnderReview) -> Line | None:
    """The file's last code line, when it is known to be the end of the file."""
    changed = f.file
    if changed.new_content is None:
        if not changed.hunks:
            return None
        trailing = [hl for hl in changed.hunks[-1].lines if hl.new_number is not None]
        if changed.status is not FileStatus.ADDED and (not trailing or trailing[-1].kind != "+"):
            return None  # the file may go on past what the diff shows
    for number, text in reversed(f.numbered_lines()):
        stripped = text.strip()
        if stripped and not stripped.startswith("#"):
            return Line(number, text)
    return None


class EntrypointWithoutExec(Rule):
    """An entrypoint script starts the app without `exec`.

    ## What it does
    Looks at the last line of a container entrypoint script (by name, or a
    `start`/`run`/`boot` script in a repository with a Dockerfile). Flags it when
    it starts the app or `"$@"` as a child of the shell instead of with `exec`.
    Scripts that trap TERM and `wait` (signal forwarding) are left alone.

    ## Why it matters
    Without `exec` the shell stays PID 1 and the app runs as its child; the shell
    does not pass SIGTERM on, so the app cannot shut down gracefully and is killed
    when the stop timeout expires. `exec` replaces the shell with the app.

    ## Example
    ```sh
    #!/bin/sh
    set -e
    gunicorn app:app
    ```

    ## Use instead
    ```sh
    #!/bin/sh
    set -e
    exec gunicorn app:app
    ```
    """

    code = "TF0903"
    name = "entrypoint-without-exec"
    factor = 9
    severity = Severity.NOTICE
    kinds = frozenset({FileKind.SHELL})
    message = (
        "The entrypoint starts the app as a child of the shell, which keeps SIGTERM "
        "from it; start it with `exec`."
    )

    def check(self, f: FileUnderReview) -> Iterator[Hit]:
        if not is_entrypoint_script(f.path) and not (
            is_startup_script(f.path) and has_dockerfile(f.repo_files)
        ):
            return
        last = _last_code_line(f)
        if last is None or last.text[:1].isspace():
            return
        if not any(x.number == last.number for x in f.added_lines()):
            return
        if _TRAP_TERM.search(f.text) and _WAIT.search(f.text):
            return
        parts = segments(last.text)
        if not parts or len(parts) != len(re.split(r"&&", last.text)):
            return  # pipes, `;`, `||` or `&`: not a plain final command
        final = parts[-1]
        if final.text.startswith("exec ") or final.background:
            return
        if not (final.launch or _ALL_ARGS.match(final.text)):
            return
        suggestion = None
        if len(parts) == 1 and not _ASSIGNMENT.match(last.text):
            suggestion = f"exec {last.text}"
        yield Hit(last.number, suggestion=suggestion)


# ---------------------------------------------------------------------------
# Fixed sleeps at startup
# ---------------------------------------------------------------------------

_SLEEP = re.compile(r"^sleep\s+(\d+(?:\.\d+)?)([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_MIN_SECONDS = 10
_LOOP_WORDS = re.compile(r"\b(?:do|done|while|until|for|then)\b")
_PY_SLEEP = re.compile(r"^(?:time\.)?sleep\(\s*(\d+(?:\.\d+)?)\s*\)\s*(?:#.*)?$")


def _sleep_seconds(text: str) -> float | None:
    match = _SLEEP.match(text.strip())
    if match is None:
        return None
    return float(match.group(1)) * _UNITS[match.group(2)]


def _long_sleep_before_more(command: str) -> bool:
    """A `sleep N` (N >= 10 s) that delays a command coming after it."""
    parts = segments(command)
    for part in parts[:-1]:
        seconds = _sleep_seconds(part.text)
        if seconds is not None and seconds >= _MIN_SECONDS and not part.background:
            return True
    return False


class FixedStartupSleep(Rule):
    """Startup waits on a long fixed `sleep`.

    ## What it does
    Flags `sleep N` of ten seconds or more that delays the start of the app: at
    the top level of an entrypoint/start script (not inside a loop), before the
    command in a Dockerfile `CMD`/`ENTRYPOINT`, a Procfile entry or a compose
    `command:`, and `time.sleep(N)` at module level in Python.

    ## Why it matters
    Disposable processes start in seconds so the platform can scale out, deploy
    and recover quickly. A fixed sleep, usually a guess at how long a dependency
    takes to come up, slows every start and still fails when the guess is wrong.

    ## Example
    ```sh
    sleep 30
    exec gunicorn app:app
    ```

    ## Use instead
    ```sh
    until pg_isready -h "$DB_HOST"; do sleep 1; done
    exec gunicorn app:app
    ```
    """

    code = "TF0904"
    name = "fixed-startup-sleep"
    factor = 9
    severity = Severity.NOTICE
    kinds = frozenset(
        {
            FileKind.SHELL,
            FileKind.DOCKERFILE,
            FileKind.PROCFILE,
            FileKind.COMPOSE,
            FileKind.PYTHON,
        }
    )
    message = (
        "A long fixed sleep delays startup; wait for the dependency with a short retry "
        "loop, or let the app retry."
    )

    def check(self, f: FileUnderReview) -> Iterator[Hit]:
        kinds = f.kinds
        if FileKind.PYTHON in kinds:
            yield from self._python(f)
        elif FileKind.SHELL in kinds and FileKind.DOCKERFILE not in kinds:
            yield from self._script(f)
        else:
            for line, command in command_lines(f):
                if "sleep" in line.text and _long_sleep_before_more(command_value(f, command)):
                    yield Hit(line.number)

    def _python(self, f: FileUnderReview) -> Iterator[Hit]:
        bare_sleep = "from time import" in f.text
        for line in f.code_lines():
            match = _PY_SLEEP.match(line.text)
            if match is None or float(match.group(1)) < _MIN_SECONDS:
                continue
            if line.text.startswith("time.") or bare_sleep:
                yield Hit(line.number)

    def _script(self, f: FileUnderReview) -> Iterator[Hit]:
        if not is_startup_script(f.path):
            return
        for line in f.code_lines():
            text = line.text
            if text[:1].isspace() or "sleep" not in text or _LOOP_WORDS.search(text):
                continue
            parts = segments(text)
            if not parts or parts[-1].background:
                continue
            first = _sleep_seconds(parts[0].text)
            if first is None or first < _MIN_SECONDS:
                continue
            if len(parts) > 1 or any(
                x.strip() and not x.lstrip().startswith("#")
                for x in _known_lines_after(f, line.number)
            ):
                yield Hit(line.number)


RULES: tuple[Rule, ...] = (
    SigtermIgnored(),
    ShellFormCommand(),
    EntrypointWithoutExec(),
    FixedStartupSleep(),
)
