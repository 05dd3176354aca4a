"""Factor XI, logs: treat logs as event streams written to stdout."""

from __future__ import annotations

import re
from typing import ClassVar

from bot.diff import Line
from bot.filetypes import FileKind
from bot.findings import Severity
from bot.rules.base import FileUnderReview, Hit, LineRule, Rule


class PythonLogFile(LineRule):
    """Python logging that writes to a file.

    ## What it does
    Flags `logging.FileHandler`, `RotatingFileHandler`, `TimedRotatingFileHandler`,
    `WatchedFileHandler` and `logging.basicConfig(filename=...)` in added code.

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
        r"\b(?:(?:Timed)?Rotating|Watched)?FileHandler\s*\(|\bbasicConfig\([^)]*\bfilename\s*="
    )


class LogbackFileAppender(LineRule):
    """Logback or Log4j configured with a file appender.

    ## What it does
    Flags logback/log4j(2) file appenders (`FileAppender`, `RollingFileAppender`,
    `<File>`, `<RollingFile>`, `log4j.appender.X=...FileAppender`) in logging configs.

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
        r"\b(?:Rolling)?FileAppender\b|<\s*(?:Rolling)?(?:Random[Aa]ccess)?File\b"
    )


class NodeLogFile(LineRule):
    """Node.js loggers writing to files.

    ## What it does
    Flags `new winston.transports.File(...)`, `transports.DailyRotateFile`,
    pino/bunyan file destinations and `fs.createWriteStream(...log...)` used for logs.

    ## Why it matters
    Log files kept by the process break when the app runs as many disposable
    containers; the platform can only collect what the process writes to stdout.

    ## Example
    ```js
    const logger = winston.createLogger({ transports: [new winston.transports.File({ filename: "app.log" })] });
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
        r"transports\.(?:File|DailyRotateFile)\s*\(|pino\.destination\(\s*['\"`][^'\"`]+\.log|"
        r"createWriteStream\(\s*['\"`][^'\"`]*\.log['\"`]|type:\s*['\"]rotating-file['\"]"
    )


class GoLogToFile(LineRule):
    """Go programs sending the standard logger to a file.

    ## What it does
    Flags `log.SetOutput(f)` (also on a logrus logger) where `f` comes from
    `os.OpenFile`/`os.Create` in the same file, and zap `OutputPaths` naming a
    `.log` file.

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
    message = "Standard logger redirected to a file; keep logging to stdout."
    pattern = re.compile(
        r"OutputPaths\s*[:=]\s*\[\]string\{[^}]*\"[^\"]+\.log\"|"
        r"\b(?:log|logger|logrus|\w+Logger)\.SetOutput\(\s*(\w+)\s*\)"
    )
    _opened: ClassVar[str] = r"\b{var}\s*(?:,\s*\w+)?\s*:?=\s*os\.(?:OpenFile|Create)\("

    def check_match(self, f: FileUnderReview, line: Line, match: re.Match[str]) -> Hit | None:
        variable = match.group(1)
        if variable is None:  # zap OutputPaths with a file
            return Hit(line.number)
        opened = re.compile(self._opened.format(var=re.escape(variable)))
        return Hit(line.number) if opened.search(f.text) else None


RULES: tuple[Rule, ...] = (PythonLogFile(), LogbackFileAppender(), NodeLogFile(), GoLogToFile())
