"""Factor XI, logs: treat logs as event streams written to stdout."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import ClassVar

from bot.diff import Line
from bot.filetypes import FileKind
from bot.findings import Severity
from bot.rules.base import FileUnderReview, Hit, LineRule, Rule
from bot.rules.values import is_placeholder, reads_environment

# Destinations that are the process's own output streams, not files.
_STD_STREAM = re.compile(
    r"^(?:-|stdout|stderr|/dev/(?:stdout|stderr|fd/[12])|/proc/(?:self|1)/fd/[12])$", re.I
)


def _is_stream(value: str) -> bool:
    return bool(_STD_STREAM.match(value.strip().strip("\"'`")))


def _lines_after(f: FileUnderReview, number: int, count: int) -> list[str]:
    """The known new-file lines after `number`, stopping at the first unknown one."""
    out: list[str] = []
    for n in range(number + 1, number + 1 + count):
        text = f.line_text(n)
        if text is None:
            break
        out.append(text)
    return out


def _lines_before(f: FileUnderReview, number: int, count: int) -> list[str]:
    """The known new-file lines before `number`, nearest first."""
    out: list[str] = []
    for n in range(number - 1, max(number - 1 - count, 0), -1):
        text = f.line_text(n)
        if text is None:
            break
        out.append(text)
    return out


class PythonLogFile(LineRule):
    """Python logging that writes to a file.

    ## What it does
    Flags `logging.FileHandler`, `RotatingFileHandler`, `TimedRotatingFileHandler`,
    `WatchedFileHandler`, `ConcurrentRotatingFileHandler` and
    `logging.basicConfig(filename=...)` in added code. A handler opened on
    `/dev/stdout` or `/dev/stderr` is fine; a path taken from the environment is
    reported as a notice.

    ## Why it matters
    A twelve-factor app writes its event stream unbuffered to stdout and lets the
    platform route it; log files fill disks, vanish with the container, and cannot
    be collected from many replicas.

    ## Example
    ```python
    handler = logging.handlers.RotatingFileHandler("/var/log/app.log", maxBytes=10_000)
    logging.basicConfig(filename="app.log", level=logging.INFO)
    ```

    ## Use instead
    ```python
    logging.basicConfig(stream=sys.stdout, level=logging.INFO)
    ```
    """

    code = "TF1101"
    name = "python-log-file"
    factor = 11
    severity = Severity.WARNING
    kinds = frozenset({FileKind.PYTHON})
    message = "Logging to a file; write the log stream to stdout instead."
    pattern = re.compile(
        r"\b(?P<qual>(?:\w+\.)*)(?:Concurrent)?(?:(?:Timed)?Rotating|Watched)?FileHandler\s*\("
        r"(?P<arg>\s*['\"][^'\"]*['\"])?"
        r"|\bbasicConfig\([^)]*\bfilename\s*=\s*(?P<file>['\"][^'\"]*['\"])?"
    )
    _definition: ClassVar[re.Pattern[str]] = re.compile(r"^\s*(?:class|def)\s")
    _urllib_import: ClassVar[re.Pattern[str]] = re.compile(
        r"^\s*from\s+urllib(?:2|\.request)\s+import\b[^\n]*\bFileHandler\b", re.M
    )

    def check_match(self, f: FileUnderReview, line: Line, match: re.Match[str]) -> Hit | None:
        if self._definition.match(line.text):
            return None  # `class FileHandler(BaseHandler):` is a web handler, not logging
        qual = match.group("qual") or ""
        if "request." in qual or "urllib" in qual:
            return None  # urllib.request.FileHandler opens file:// URLs
        if match.group("file") is None and not qual and self._urllib_import.search(f.text):
            return None
        target = match.group("arg") or match.group("file")
        if target is not None and _is_stream(target):
            return None
        if reads_environment(line.text):
            return Hit(
                line.number,
                message="Log file path taken from config; prefer stdout in every deploy.",
                severity=Severity.NOTICE,
            )
        return Hit(line.number)


def _in_xml_comment(f: FileUnderReview, line: Line, column: int) -> bool:
    """Whether `column` of `line` lies inside an XML `<!-- ... -->` comment."""
    before = line.text[:column]
    opened, closed = before.rfind("<!--"), before.rfind("-->")
    if opened != closed:
        return opened > closed
    for text in _lines_before(f, line.number, 400):
        opened, closed = text.rfind("<!--"), text.rfind("-->")
        if opened != closed:
            return opened > closed
    return False


class LogbackFileAppender(LineRule):
    """Logback or Log4j configured with a file appender.

    ## What it does
    Flags logback/log4j(2) file appenders (`FileAppender`, `RollingFileAppender`,
    `DailyRollingFileAppender`, `<File>`, `<RollingFile>`, `log4j.appender.X=...FileAppender`,
    log4j2 `appender.X.type = RollingFile`, YAML/JSON `RollingFile:` keys) and Spring
    Boot's `file-appender.xml` include in logging configs. Appenders inside an XML
    comment are ignored.

    ## Why it matters
    Logs written to files inside the process's filesystem are lost with the
    container and invisible to the platform's log router; the app should emit
    its event stream to stdout and leave storage to the environment.

    ## Example
    ```xml
    <appender name="FILE" class="ch.qos.logback.core.rolling.RollingFileAppender">
    ```

    ## Use instead
    ```xml
    <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    ```
    """

    code = "TF1102"
    name = "jvm-log-file-appender"
    factor = 11
    severity = Severity.WARNING
    kinds = frozenset({FileKind.LOGGING_CONFIG})
    message = "File appender in the logging config; log to the console (stdout) instead."
    pattern = re.compile(
        r"\b(?:DailyRolling|Rolling)?FileAppender\b"
        r"|<\s*(?:Rolling)?(?:Random[Aa]ccess)?File\b"
        r"|\bfile-appender\.xml\b"
        r"|^\s*appender\.[\w-]+\.type\s*[=:]\s*(?:Rolling)?(?:RandomAccess)?File\s*$"
        r"|^\s*-?\s*['\"]?(?:Rolling)?(?:RandomAccess)?File['\"]?\s*:\s*\{?\s*$"
    )

    def check_match(self, f: FileUnderReview, line: Line, match: re.Match[str]) -> Hit | None:
        if f.path.lower().endswith(".xml") and _in_xml_comment(f, line, match.start()):
            return None
        return Hit(line.number)


class NodeLogFile(LineRule):
    """Node.js loggers writing to files.

    ## What it does
    Flags `new winston.transports.File(...)`, `DailyRotateFile` transports,
    pino file destinations (`pino.destination("app.log")`, `pino/file` targets with a
    path), bunyan `rotating-file` streams, log4js `file`/`dateFile` appenders and
    `fs.createWriteStream(...".log")`.

    ## Why it matters
    Log files kept by the process break when the app runs as many disposable
    containers; the platform can only collect what the process writes to stdout.

    ## Example
    ```js
    const logger = winston.createLogger({
      transports: [new winston.transports.File({ filename: "app.log" })],
    });
    ```

    ## Use instead
    ```js
    const logger = winston.createLogger({ transports: [new winston.transports.Console()] });
    ```
    """

    code = "TF1103"
    name = "node-log-file"
    factor = 11
    severity = Severity.WARNING
    kinds = frozenset({FileKind.JAVASCRIPT})
    message = "Logger writes to a file; write the log stream to stdout instead."
    pattern = re.compile(
        r"transports\.(?:File|DailyRotateFile)\s*\(|\bnew\s+DailyRotateFile\s*\("
        r"|pino\.destination\(\s*['\"`][^'\"`]+\.log"
        r"|createWriteStream\(\s*(?:path\.(?:join|resolve)\([^)]*?)?['\"`][^'\"`]*\.log['\"`]"
        r"|type:\s*['\"]rotating-file['\"]"
        r"|target:\s*['\"]pino/file['\"][^}]*?destination:\s*(?P<dest>['\"`][^'\"`]+['\"`])"
        r"|type:\s*['\"](?:file|dateFile|fileSync)['\"]\s*,\s*filename:"
    )

    def check_match(self, f: FileUnderReview, line: Line, match: re.Match[str]) -> Hit | None:
        dest = match.group("dest")
        if dest is not None and _is_stream(dest):
            return None
        return Hit(line.number)


class GoLogToFile(LineRule):
    """Go programs sending their logger to a file.

    ## What it does
    Flags `log.SetOutput(f)` (also on a logrus logger), `log.New(f, ...)`,
    `zerolog.New(f)` and `slog.NewJSONHandler(f, ...)` where `f` comes from
    `os.OpenFile`/`os.Create` in the lines just above, `lumberjack.Logger`
    rotating files, and zap `OutputPaths` naming a `.log` file.

    ## Why it matters
    The process should not manage log files: writing to stdout lets the platform
    route, aggregate and retain logs from every instance the same way.

    ## Example
    ```go
    f, _ := os.OpenFile("/var/log/app.log", os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
    log.SetOutput(f)
    ```

    ## Use instead
    ```go
    log.SetOutput(os.Stdout)
    ```
    """

    code = "TF1104"
    name = "go-log-to-file"
    factor = 11
    severity = Severity.WARNING
    kinds = frozenset({FileKind.GO})
    message = "Logger writes to a file; keep logging to stdout."
    pattern = re.compile(
        r"OutputPaths\s*[:=]\s*\[\]string\{[^}]*\"[^\"]+\.log\""
        r"|\blumberjack\.Logger\s*\{"
        r"|\b(?:log|logger|logrus|\w+Logger)\.SetOutput\(\s*(?P<a>\w+)\s*\)"
        r"|\b(?:log|zerolog)\.New\(\s*(?P<b>\w+)\s*[,)]"
        r"|\bslog\.New(?:JSON|Text)Handler\(\s*(?P<c>\w+)\s*,"
    )
    _opened: ClassVar[str] = r"\b{var}\s*(?:,\s*\w+)?\s*:?=\s*os\.(?:OpenFile|Create)\("
    _window: ClassVar[int] = 40  # the file must be opened this close above its use

    def check_match(self, f: FileUnderReview, line: Line, match: re.Match[str]) -> Hit | None:
        variable = match.group("a") or match.group("b") or match.group("c")
        if variable is None:  # lumberjack, or zap OutputPaths with a file
            return Hit(line.number)
        if variable in ("os", "io"):
            return None
        opened = re.compile(self._opened.format(var=re.escape(variable)))
        window = [line.text, *_lines_before(f, line.number, self._window)]
        return Hit(line.number) if any(opened.search(t) for t in window) else None


class PythonLoggingConfigFileHandler(LineRule):
    """A logging config (dictConfig or fileConfig) with a file handler.

    ## What it does
    Flags handler entries whose class is a file handler (`logging.FileHandler`,
    `logging.handlers.RotatingFileHandler`, `TimedRotatingFileHandler`,
    `WatchedFileHandler`, ...) in Python `LOGGING` dicts, YAML/JSON/TOML logging
    configs and `fileConfig` INI files. A handler whose `filename` is `/dev/stdout`
    or `/dev/stderr` is fine.

    ## Why it matters
    A logging config that routes records to a file makes each process keep its own
    log on local disk, where it is lost with the container and unseen by the
    platform; the app should hand its event stream to stdout instead.

    ## Example
    ```python
    LOGGING = {
        "handlers": {
            "file": {
                "class": "logging.handlers.RotatingFileHandler",
                "filename": "/var/log/app.log",
            },
        },
    }
    ```

    ## Use instead
    ```python
    LOGGING = {
        "handlers": {"console": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout"}},
    }
    ```
    """

    code = "TF1105"
    name = "logging-config-file-handler"
    factor = 11
    severity = Severity.WARNING
    kinds = frozenset({FileKind.PYTHON, FileKind.YAML, FileKind.JSON, FileKind.INI, FileKind.TOML})
    message = "Logging config routes records to a file handler; use a stream handler on stdout."
    pattern = re.compile(
        r"(?:['\"]class['\"]\s*:|^\s*class\s*[:=])\s*['\"]?(?:[\w.]+\.)?"
        r"(?:Concurrent)?(?:(?:Timed)?Rotating|Watched)?FileHandler\b"
    )
    _stream_file: ClassVar[re.Pattern[str]] = re.compile(
        r"(?:filename['\"]?\s*[:=]|^\s*args\s*=\s*\()\s*['\"]?"
        r"(?:/dev/(?:stdout|stderr)|/proc/(?:self|1)/fd/[12])\b"
    )

    def check_match(self, f: FileUnderReview, line: Line, match: re.Match[str]) -> Hit | None:
        if self._stream_file.search(line.text):
            return None
        for text in _lines_after(f, line.number, 6):
            if self._stream_file.search(text):
                return None
            if text.lstrip().startswith(("[", "}")):
                break  # the next INI section or the end of this handler's dict
        return Hit(line.number)


class RubyLogFile(LineRule):
    """Ruby loggers and app servers writing to log files.

    ## What it does
    Flags `Logger.new` / `ActiveSupport::Logger.new` given a file path (a string,
    `File.open`/`File.join`, `Rails.root.join`, `config.paths["log"]`), Puma's
    `stdout_redirect` and Unicorn's `stdout_path`/`stderr_path`. `Logger.new(STDOUT)`
    and `$stdout` are fine; `Syslog::Logger` takes a program name, not a path.
    In `config/environments/development.rb` it is a notice; `test.rb` is ignored.

    ## Why it matters
    A Ruby process that writes its log to `log/production.log` keeps its event
    stream on a disk that disappears with the container and that no log router
    reads; write to stdout and let the platform collect it.

    ## Example
    ```ruby
    config.logger = ActiveSupport::Logger.new(Rails.root.join("log", "production.log"))
    ```

    ## Use instead
    ```ruby
    config.logger = ActiveSupport::TaggedLogging.new(ActiveSupport::Logger.new($stdout))
    ```
    """

    code = "TF1106"
    name = "ruby-log-file"
    factor = 11
    severity = Severity.WARNING
    kinds = frozenset({FileKind.RUBY})
    message = "Logger writes to a file; log to $stdout instead."
    pattern = re.compile(
        r"(?<![\w:])(?:::)?(?:ActiveSupport::)?Logger\.new\(\s*(?P<arg>['\"][^'\"]*['\"]"
        r"|File\.(?:open|new|join|expand_path)\(|Rails\.root\.join\(|Rails\.root\.to_s"
        r"|config\.paths\[['\"]log['\"]\]|config\.default_log_file|Pathname)"
        r"|^\s*(?P<server>stdout_redirect|stdout_path|stderr_path)\b\s*\(?\s*(?P<sarg>\S+)"
    )

    def check_match(self, f: FileUnderReview, line: Line, match: re.Match[str]) -> Hit | None:
        name = PurePosixPath(f.path).name
        in_env_dir = "config/environments/" in f.path
        if in_env_dir and name == "test.rb":
            return None
        arg = match.group("arg") or match.group("sarg") or ""
        if arg.startswith(("'", '"')) and (
            _is_stream(arg.rstrip(",)")) or arg.strip("'\"") == "/dev/null" or "#{ENV" in arg
        ):
            return None
        message = None
        if match.group("server"):
            message = "App server output redirected to a log file; leave it on stdout."
        if in_env_dir and name == "development.rb":
            return Hit(line.number, message=message, severity=Severity.NOTICE)
        return Hit(line.number, message=message)


class JavaLogFileHandler(Rule):
    """Java code or logging.properties that logs to a file.

    ## What it does
    Flags `java.util.logging.FileHandler` created in Java/Kotlin code (when the file
    uses `java.util.logging`), logback/log4j `FileAppender`/`RollingFileAppender`
    built in code, and `handlers=java.util.logging.FileHandler` in a
    `logging.properties` file.

    ## Why it matters
    A JVM process that appends its log to a local file hides its event stream from
    the platform and loses it with the container; logs belong on stdout, where the
    environment captures and routes them.

    ## Example
    ```java
    logger.addHandler(new FileHandler("/var/log/app-%g.log", 10_000_000, 5));
    ```

    ## Use instead
    ```java
    logger.addHandler(new ConsoleHandler());
    ```
    """

    code = "TF1107"
    name = "java-log-file-handler"
    factor = 11
    severity = Severity.WARNING
    kinds = frozenset({FileKind.JAVA, FileKind.PROPERTIES})
    message = "Java logging writes to a file; use a console handler on stdout instead."
    _jul: ClassVar[re.Pattern[str]] = re.compile(
        r"(?:\bnew\s+|[=(,]\s*)(?:java\.util\.logging\.)?FileHandler\s*\("
    )
    _appender: ClassVar[re.Pattern[str]] = re.compile(
        r"(?:\bnew\s+|[=(,]\s*)(?:DailyRolling|Rolling)?FileAppender\s*(?:<[^>]*>)?\s*\("
    )
    _jul_import: ClassVar[re.Pattern[str]] = re.compile(
        r"^\s*import\s+(?:static\s+)?java\.util\.logging\b", re.M
    )
    _appender_import: ClassVar[re.Pattern[str]] = re.compile(
        r"^\s*import\s+(?:ch\.qos\.logback|org\.apache\.(?:log4j|logging\.log4j))\.", re.M
    )
    _properties: ClassVar[re.Pattern[str]] = re.compile(
        r"^\s*\.?handlers\s*[=:][^#\n]*\bjava\.util\.logging\.FileHandler\b"
    )

    def check(self, f: FileUnderReview) -> list[Hit]:
        hits: list[Hit] = []
        if FileKind.PROPERTIES in f.kinds:
            for line in f.code_lines():
                if self._properties.search(line.text):
                    hits.append(Hit(line.number))
            return hits
        uses_jul = self._jul_import.search(f.text) is not None
        uses_lib = self._appender_import.search(f.text) is not None
        for line in f.code_lines():
            jul = self._jul.search(line.text)
            jul_file = jul is not None and (uses_jul or "java.util.logging." in jul.group())
            if jul_file or (uses_lib and self._appender.search(line.text)):
                hits.append(Hit(line.number))
        return hits


class SpringBootLogFile(Rule):
    """Spring Boot configured to write a log file.

    ## What it does
    Flags `logging.file.name`, `logging.file.path` (and the older `logging.file`,
    `logging.path`) in `application*.properties` and `application*.yml`, flat or
    nested. Values taken from a `${...}` placeholder are left alone; a
    development-profile file gets a notice and a test-profile file is ignored.

    ## Why it matters
    Setting a log file makes every Spring Boot instance keep its own log on local
    disk, in addition to or instead of the console stream the platform collects;
    the log stream should go to stdout only.

    ## Example
    ```properties
    logging.file.name=/var/log/orders/orders.log
    ```

    ## Use instead
    ```properties
    # leave logging.file.* unset: Spring Boot logs to the console by default
    ```
    """

    code = "TF1108"
    name = "spring-boot-log-file"
    factor = 11
    severity = Severity.WARNING
    kinds = frozenset({FileKind.PROPERTIES, FileKind.YAML})
    message = (
        "Spring Boot is set to write a log file; leave logging.file unset and log to the console."
    )
    _name: ClassVar[re.Pattern[str]] = re.compile(
        r"^(?:application|bootstrap)(?:[-_.][\w.-]*)?\.(?:properties|ya?ml)$"
    )
    _dev: ClassVar[re.Pattern[str]] = re.compile(r"[-_.](?:dev|develop|development|local)\.")
    _test: ClassVar[re.Pattern[str]] = re.compile(r"[-_.](?:test|tests|testing|it)\.")
    _keys: ClassVar[frozenset[str]] = frozenset(
        {"logging.file", "logging.file.name", "logging.file.path", "logging.path"}
    )
    _prop: ClassVar[re.Pattern[str]] = re.compile(r"^\s*([\w.-]+)\s*[=:]\s*(.*?)\s*$")
    _yaml: ClassVar[re.Pattern[str]] = re.compile(r"^(\s*)-?\s*([\w.-]+)\s*:\s*(.*?)\s*$")
    _root_key: ClassVar[re.Pattern[str]] = re.compile(r"^([\w.-]+)\s*:\s*(?:#.*)?$")

    def check(self, f: FileUnderReview) -> list[Hit]:
        name = PurePosixPath(f.path).name.lower()
        if not self._name.match(name) or self._test.search(name):
            return []
        severity = Severity.NOTICE if self._dev.search(name) else None
        yaml = not name.endswith(".properties")
        hits: list[Hit] = []
        for line in f.code_lines():
            key_value = self._yaml_key(f, line) if yaml else self._prop_key(line)
            if key_value is None:
                continue
            key, value = key_value
            if key not in self._keys or not value or value in ("|", ">"):
                continue
            if is_placeholder(value) or value.startswith(("${", '"${', "'${")):
                continue
            if _is_stream(value):
                continue
            hits.append(Hit(line.number, severity=severity))
        return hits

    def _prop_key(self, line: Line) -> tuple[str, str] | None:
        m = self._prop.match(line.text)
        return (m.group(1), m.group(2)) if m else None

    def _hunk_root(self, f: FileUnderReview, number: int) -> str | None:
        """The top-level YAML key git names in the hunk header (`@@ ... @@ logging:`).

        Git's default hunk context is the nearest line above the hunk that starts in
        column 0, which in YAML is the top-level key enclosing the hunk's first lines.
        """
        for hunk in f.file.hunks:
            if hunk.new_start <= number < hunk.new_start + hunk.new_length:
                m = self._root_key.match(hunk.section.strip())
                return m.group(1) if m else None
        return None

    def _yaml_key(self, f: FileUnderReview, line: Line) -> tuple[str, str] | None:
        """The dotted key of a YAML line (`logging.file.name`) and its scalar value."""
        m = self._yaml.match(line.text)
        if m is None:
            return None
        indent, parts, value = len(m.group(1)), [m.group(2)], m.group(3)
        for text in _lines_before(f, line.number, 200):
            if indent == 0:
                break
            stripped = text.lstrip()
            if not stripped or stripped.startswith("#") or len(text) - len(stripped) >= indent:
                continue
            parent = self._yaml.match(text)
            if parent is None or (parent.group(3) and not parent.group(3).startswith(("#", "&"))):
                return None  # not a mapping key that can hold this one
            parts.insert(0, parent.group(2))
            indent = len(parent.group(1))
        if indent != 0:
            root = self._hunk_root(f, line.number) if indent <= 2 else None
            if root is None:
                return None  # the parents are outside the visible part of the file
            parts.insert(0, root)
        value = "" if value.startswith("#") else value.split(" #", 1)[0].strip()
        return ".".join(parts), value


class ServerLogFileOption(Rule):
    """Application servers told to write their logs to files.

    ## What it does
    Flags Gunicorn config files setting `accesslog`/`errorlog` to a path, command
    lines of gunicorn, uwsgi, celery, daphne or hypercorn with `--access-logfile`,
    `--error-logfile`, `--log-file`, `--logfile`, `--logto` or `--daemonize` naming a
    file, and uWSGI ini files with `logto`/`daemonize`/`logger = file:`. `-` and
    `/dev/stdout` are fine.

    ## Why it matters
    The app server is part of the app's process: if it writes access and error logs
    to files inside the container, the platform never sees that event stream and
    the files grow until the container dies.

    ## Example
    ```python
    # gunicorn.conf.py
    accesslog = "/var/log/gunicorn/access.log"
    ```

    ## Use instead
    ```python
    accesslog = "-"
    errorlog = "-"
    ```
    """

    code = "TF1109"
    name = "server-log-file-option"
    factor = 11
    severity = Severity.WARNING
    kinds = frozenset(
        {
            FileKind.PYTHON,
            FileKind.SHELL,
            FileKind.DOCKERFILE,
            FileKind.PROCFILE,
            FileKind.COMPOSE,
            FileKind.KUBERNETES,
            FileKind.SUPERVISOR,
            FileKind.INI,
        }
    )
    message = "App server writes its logs to a file; send them to stdout ('-') instead."
    _servers: ClassVar[re.Pattern[str]] = re.compile(
        r"\b(?:gunicorn|uwsgi|celery|daphne|hypercorn)\b"
    )
    _flag: ClassVar[re.Pattern[str]] = re.compile(
        r"--(?:access-logfile|error-logfile|log-file|logfile|logto2?|daemonize2?|access-log)"
        r"(?:=|['\"]?\s*,\s*|\s+)(['\"]?)(?P<v>[^\s'\",\]]+)"
    )
    _gunicorn_setting: ClassVar[re.Pattern[str]] = re.compile(
        r"^(?:accesslog|errorlog)\s*=\s*(?P<v>['\"][^'\"]*['\"])\s*(?:#.*)?$"
    )
    _gunicorn_conf: ClassVar[re.Pattern[str]] = re.compile(
        r"^(?:bind|workers|worker_class|wsgi_app|threads)\s*=", re.M
    )
    _uwsgi_setting: ClassVar[re.Pattern[str]] = re.compile(
        r"^\s*(?:logto2?|daemonize2?)\s*=\s*(?P<v>\S+)|^\s*(?:req-)?logger\s*=\s*(?:\w+\s+)?file:"
    )

    def check(self, f: FileUnderReview) -> list[Hit]:
        if FileKind.PYTHON in f.kinds:
            return self._gunicorn_conf_hits(f)
        if FileKind.INI in f.kinds and FileKind.SUPERVISOR not in f.kinds:
            return self._uwsgi_hits(f)
        in_text = self._servers.search(f.text) is not None
        loose = bool(f.kinds & {FileKind.COMPOSE, FileKind.KUBERNETES})
        hits: list[Hit] = []
        for line in f.code_lines():
            m = self._flag.search(line.text)
            if m is None or _is_stream(m.group("v")) or is_placeholder(m.group("v")):
                continue
            if self._servers.search(line.text) or (loose and in_text):
                hits.append(Hit(line.number))
        return hits

    def _gunicorn_conf_hits(self, f: FileUnderReview) -> list[Hit]:
        name = PurePosixPath(f.path).name.lower()
        if "gunicorn" not in name and not self._gunicorn_conf.search(f.text):
            return []
        hits: list[Hit] = []
        for line in f.code_lines():
            m = self._gunicorn_setting.match(line.text)
            if m and m.group("v").strip("'\"") and not _is_stream(m.group("v")):
                hits.append(Hit(line.number))
        return hits

    def _uwsgi_hits(self, f: FileUnderReview) -> list[Hit]:
        if "uwsgi" not in f.path.lower() and "[uwsgi]" not in f.text:
            return []
        hits: list[Hit] = []
        for line in f.code_lines():
            m = self._uwsgi_setting.match(line.text)
            if m is None:
                continue
            value = m.group("v")
            if value is not None and (_is_stream(value) or is_placeholder(value)):
                continue
            hits.append(Hit(line.number))
        return hits


class LaunchOutputToFile(Rule):
    """A launch command whose output is redirected into a log file.

    ## What it does
    Flags shell redirections (`> app.log`, `>> /var/log/app.log 2>&1`, `&> ...`) of a
    process launch into a log file: in Dockerfile `CMD`/`ENTRYPOINT`, Procfile
    entries, compose/Kubernetes commands, `exec`/`nohup` lines and lines that start a
    known server or runtime. In other shell scripts it is a notice. Redirections to
    `/dev/stdout`, `/dev/null` or non-log files are ignored.

    ## Why it matters
    Redirecting the process's stdout to a file throws away the one stream the
    platform collects: the app still logs correctly, but its events end up on a
    disk inside the container instead of in the log pipeline.

    ## Example
    ```dockerfile
    CMD gunicorn app:app --bind 0.0.0.0:8000 >> /var/log/app.log 2>&1
    ```

    ## Use instead
    ```dockerfile
    CMD ["gunicorn", "app:app", "--bind", "0.0.0.0:8000"]
    ```
    """

    code = "TF1110"
    name = "launch-output-to-file"
    factor = 11
    severity = Severity.WARNING
    kinds = frozenset(
        {
            FileKind.SHELL,
            FileKind.DOCKERFILE,
            FileKind.PROCFILE,
            FileKind.COMPOSE,
            FileKind.KUBERNETES,
        }
    )
    message = "Process output redirected to a log file; leave it on stdout for the platform."
    _redirect: ClassVar[re.Pattern[str]] = re.compile(
        r"(?:^|[^<>&\d\w-])(?:&>>?|[12]?>>?)(?![&>])\s*(['\"]?)(?P<t>[^\s'\";&|)<>]+)"
    )
    _log_target: ClassVar[re.Pattern[str]] = re.compile(
        r"(?:^|/)logs?/|\.(?:log|out|err)$|^\$\{?\w*LOG\w*\}?$", re.I
    )
    _launch: ClassVar[re.Pattern[str]] = re.compile(
        r"(?:^|[\s;&|(\"'])(?:exec|nohup|gunicorn|uwsgi|uvicorn|daphne|hypercorn|celery|"
        r"node|nodemon|pm2-runtime|npm\s+(?:run\s+)?start|yarn\s+(?:run\s+)?start|"
        r"java\s+-\w+|python[\d.]*\s+(?:-m\s+\w+|\S+\.py)|rails\s+s(?:erver)?|puma|unicorn|"
        r"sidekiq|bundle\s+exec|php-fpm|php\s+artisan\s+serve|dotnet\s+\S+\.dll|\./\w+)(?=\s|$|[\"'])"
    )
    _entrypoint_name: ClassVar[re.Pattern[str]] = re.compile(
        r"entrypoint|start|run|boot|launch|serve|docker", re.I
    )
    _tooling_name: ClassVar[re.Pattern[str]] = re.compile(
        r"test|bench|build|lint|backup|migrat|setup|install|deploy|release|ci\b", re.I
    )
    _run_instruction: ClassVar[re.Pattern[str]] = re.compile(r"\s*(?:CMD|ENTRYPOINT)\b", re.I)
    _exec: ClassVar[re.Pattern[str]] = re.compile(r"\b(?:exec|nohup)\b")

    def check(self, f: FileUnderReview) -> list[Hit]:
        hits: list[Hit] = []
        dockerfile = FileKind.DOCKERFILE in f.kinds
        procfile = FileKind.PROCFILE in f.kinds
        name = PurePosixPath(f.path).name
        shell_only = not (f.kinds - {FileKind.SHELL})
        tooling = shell_only and self._tooling_name.search(name) is not None
        entry_script = not tooling and self._entrypoint_name.search(name) is not None
        for line in f.code_lines():
            if not self._redirects_to_log(line.text):
                continue
            text = self._command(f, line)
            if dockerfile and not self._run_instruction.match(text):
                continue
            launch = self._launch.search(text) is not None
            if not (launch or dockerfile or procfile):
                continue
            if shell_only and not entry_script and not self._exec.search(text):
                if not tooling:  # a build or test script's own log is not the app's
                    hits.append(Hit(line.number, severity=Severity.NOTICE))
            else:
                hits.append(Hit(line.number))
        return hits

    @staticmethod
    def _command(f: FileUnderReview, line: Line) -> str:
        """The whole command a line belongs to, joining `\\` continuation lines."""
        parts = [line.text]
        for text in _lines_before(f, line.number, 20):
            if not text.rstrip().endswith("\\"):
                break
            parts.insert(0, text)
        if line.text.rstrip().endswith("\\"):
            for text in _lines_after(f, line.number, 20):
                parts.append(text)
                if not text.rstrip().endswith("\\"):
                    break
        return " ".join(p.rstrip().rstrip("\\").strip() for p in parts)

    def _redirects_to_log(self, text: str) -> bool:
        for m in self._redirect.finditer(text):
            target = m.group("t")
            if _is_stream(target) or target == "/dev/null":
                continue
            if self._log_target.search(target):
                return True
        return False


class WebServerLogFile(Rule):
    """nginx or Apache writing access/error logs to files.

    ## What it does
    Flags nginx `access_log`/`error_log` and Apache `CustomLog`/`ErrorLog`/`TransferLog`
    pointing at a file. `/dev/stdout`, `/dev/stderr`, `/proc/self/fd/1`, `syslog:`,
    `off`, piped loggers, and the default paths that the official container images
    link to stdout/stderr (`/var/log/nginx/access.log`, `${APACHE_LOG_DIR}/error.log`,
    ...) are fine. A notice, because a web server on a VM may log to files by design.

    ## Why it matters
    A web server that runs inside the app's container and writes its logs to a file
    hides that event stream from the platform's log router and fills the container's
    disk; pointing it at stdout/stderr keeps every log in one stream.

    ## Example
    ```nginx
    access_log /var/log/nginx/shop.access.log main;
    ```

    ## Use instead
    ```nginx
    access_log /dev/stdout main;
    ```
    """

    code = "TF1111"
    name = "web-server-log-file"
    factor = 11
    severity = Severity.NOTICE
    kinds = frozenset({FileKind.NGINX, FileKind.APACHE})
    message = "Web server logs go to a file; point them at /dev/stdout or /dev/stderr."
    _directive: ClassVar[re.Pattern[str]] = re.compile(
        r"^\s*(?:access_log|error_log|CustomLog|ErrorLog|TransferLog)\s+(['\"]?)(?P<t>[^\s;'\"]+)"
    )
    _fine: ClassVar[re.Pattern[str]] = re.compile(
        r"^(?:off|syslog:.*|syslog|stderr|stdout|memory:.*|\|.*|"
        r"/var/log/nginx/(?:access|error)\.log|/var/log/apache2/(?:access|error|other_vhosts_access)\.log|"
        r"\$\{APACHE_LOG_DIR\}/(?:access|error|other_vhosts_access)\.log)$"
    )

    def check(self, f: FileUnderReview) -> list[Hit]:
        hits: list[Hit] = []
        for line in f.code_lines():
            m = self._directive.match(line.text)
            if m is None:
                continue
            target = m.group("t")
            if _is_stream(target) or target == "/dev/null" or self._fine.match(target):
                continue
            if is_placeholder(target):
                continue
            hits.append(Hit(line.number))
        return hits


class LogFileSetting(Rule):
    """An app setting that sends its log to a file.

    ## What it does
    Flags `log_file`, `logfile`, `log-file` and `log_file_path` keys set to a path
    (absolute, under `log/`, or ending in `.log`) in the app's INI, TOML and YAML
    settings. Tool configs are ignored (pytest, tox, setup.cfg, pyproject.toml,
    supervisord) and so are configs of other services (databases, pgbouncer, log
    shippers). A notice: the key's meaning depends on the program that reads it.

    ## Why it matters
    A configured log file means the process writes its events to local disk rather
    than to stdout, so the platform cannot collect or route them and they are lost
    with the container.

    ## Example
    ```ini
    [app]
    log_file = /var/log/billing/billing.log
    ```

    ## Use instead
    ```ini
    [app]
    log_file = -
    ```
    """

    code = "TF1112"
    name = "log-file-setting"
    factor = 11
    severity = Severity.NOTICE
    kinds = frozenset({FileKind.INI, FileKind.TOML, FileKind.YAML})
    message = "Setting sends the app's log to a file; log to stdout instead."
    _setting: ClassVar[re.Pattern[str]] = re.compile(
        r"^\s*['\"]?(?:log[_-]?file(?:[_-]?(?:path|name))?)['\"]?\s*[:=]\s*(?P<v>.*?)\s*$", re.I
    )
    _path_like: ClassVar[re.Pattern[str]] = re.compile(r"^/|(?:^|/)logs?/|\.log$", re.I)
    _skip_names: ClassVar[re.Pattern[str]] = re.compile(
        r"^(?:pytest\.ini|tox\.ini|setup\.cfg|pyproject\.toml|\.coveragerc|behave\.ini)$"
        r"|pgbouncer|pgpool|redis|mongo|mysql|my\.cnf|mariadb|postgres|php-fpm|haproxy|"
        r"supervisor|fluent|td-agent|filebeat|logstash|vector|promtail|rsyslog|logrotate",
        re.I,
    )

    def check(self, f: FileUnderReview) -> list[Hit]:
        if FileKind.SUPERVISOR in f.kinds or self._skip_names.search(PurePosixPath(f.path).name):
            return []
        hits: list[Hit] = []
        for line in f.code_lines():
            m = self._setting.match(line.text)
            if m is None:
                continue
            value = m.group("v").split(" #", 1)[0].strip().strip(",").strip("\"'")
            if not value or _is_stream(value) or value == "/dev/null" or is_placeholder(value):
                continue
            if "{{" in value or "$" in value:
                continue
            if self._path_like.search(value):
                hits.append(Hit(line.number))
        return hits


RULES: tuple[Rule, ...] = (
    PythonLogFile(),
    LogbackFileAppender(),
    NodeLogFile(),
    GoLogToFile(),
    PythonLoggingConfigFileHandler(),
    RubyLogFile(),
    JavaLogFileHandler(),
    SpringBootLogFile(),
    ServerLogFileOption(),
    LaunchOutputToFile(),
    WebServerLogFile(),
    LogFileSetting(),
)
