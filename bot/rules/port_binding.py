"""Factor VII, port binding: the app exports its service by binding to a port it is given.

The platform hands a web process its port (usually `$PORT`) and routes traffic to
every interface of the container; a hard-coded port or a loopback-only bind
breaks that contract.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from bot.diff import Line
from bot.filetypes import FileKind
from bot.findings import Severity
from bot.rules.base import FileUnderReview, Hit, KeywordLineRule, LineRule, Rule, code_line_above
from bot.rules.commands import command_lines, has_dockerfile

__all__ = ["RULES"]

# The file takes its port from the environment, the app config or a command-line flag.
_CONFIG_SOURCE = (
    r"(?:os\.environ|[gG]etenv|LookupEnv|process\.env|Deno\.env|meta\.env|\bENV|\benv|"
    r"\bviper|\bconfig|\bcfg|\bsettings|\$\{?)"
)
# `port`, `PORT`, `APP_PORT`, `server.port`, `httpPort`; not `import` or `report`.
_PORT_NAME = r"(?:(?:[\w.]*[_.])?(?:port|PORT)\b|\w*Port\b)"
_PORT_FROM_CONFIG = re.compile(
    _CONFIG_SOURCE + r"(?:\.get\w*|\.fetch|\.Get\w*)?\s*[(\[.]?\s*['\"]?" + _PORT_NAME + "|"
    r"\{[^}\n]*\b(?:PORT|port)\b[^}\n]*\}\s*=\s*process\.env|"
    r"['\"]--?(?:http-)?port['\"]|\bflag\.\w+\(\s*\"(?:http[-_])?port\""
)
_LOOPBACK = r"(?:127\.0\.0\.1|localhost)"
_LOOPBACK_NEAR = re.compile(r"['\"]" + _LOOPBACK + r"(?::\d+)?['\"]")


def _reads_port_from_config(text: str) -> bool:
    return _PORT_FROM_CONFIG.search(text) is not None


# Each alternative, named by its capture group, with the languages it applies to.
_LISTEN_ALTERNATIVES: tuple[tuple[str, str, frozenset[FileKind]], ...] = (
    # Python: app.run(port=5000), uvicorn.run(app, port=8000), web.run_app(app, port=8080),
    # waitress serve(app, port=8080); Kotlin/Ktor: embeddedServer(Netty, port = 8080)
    (
        "p1",
        r"\b(?:run|run_app|serve|embeddedServer)\s*\((?:[^)]*?,)?\s*port\s*=\s*(?P<p1>\d{2,5})\b",
        frozenset({FileKind.PYTHON, FileKind.JAVA}),
    ),
    # JS/TS and Vert.x: app.listen(8080), server.listen(3000, cb); fastify/hono/Bun objects
    (
        "p2",
        r"\.listen\(\s*(?P<p2>\d{2,5})\s*(?P<jsrest>[,)].*)",
        frozenset({FileKind.JAVASCRIPT, FileKind.JAVA}),
    ),
    # Python: Tornado `app.listen(8888)` (only in files that use tornado);
    # http.server / socketserver / wsgiref servers on a literal port.
    ("p13", r"\.listen\(\s*(?P<p13>\d{2,5})\s*[,)]", frozenset({FileKind.PYTHON})),
    (
        "p14",
        r"\b(?:(?:Threading)?HTTPServer|(?:Threading)?TCPServer)\(\s*\(\s*['\"](?:0\.0\.0\.0)?['\"]"
        r"\s*,\s*(?P<p14>\d{2,5})\s*\)",
        frozenset({FileKind.PYTHON}),
    ),
    (
        "p15",
        r"\bmake_server\(\s*['\"](?:0\.0\.0\.0)?['\"]\s*,\s*(?P<p15>\d{2,5})\s*,",
        frozenset({FileKind.PYTHON}),
    ),
    (
        "p3",
        r"(?:\.listen|\bserve)\(\s*\{[^}]*?\bport\s*:\s*(?P<p3>\d{2,5})\b",
        frozenset({FileKind.JAVASCRIPT}),
    ),
    # Go: http.ListenAndServe(":8080", nil), e.Start(":1323"), r.Run(":8080"),
    # app.Listen(":3000"), net.Listen("tcp", ":8080"), http.Server{Addr: ":8080"}
    (
        "p4",
        r"(?:\bListenAndServe(?:TLS)?|\.(?:Start|StartTLS|Run|RunTLS|Listen))\(\s*"
        r"\"(?:0\.0\.0\.0|\[::\])?:(?P<p4>\d{2,5})\"",
        frozenset({FileKind.GO}),
    ),
    (
        "p5",
        r"\bnet\.Listen\(\s*\"tcp[46]?\"\s*,\s*\"(?:0\.0\.0\.0|\[::\])?:(?P<p5>\d{2,5})\"",
        frozenset({FileKind.GO}),
    ),
    (
        "p6",
        r"\bAddr\s*:\s*\"(?:0\.0\.0\.0|\[::\])?:(?P<p6>\d{2,5})\"",
        frozenset({FileKind.GO}),
    ),
    # Ruby: Sinatra `set :port, 4567`; Puma `port 3000` / `bind "tcp://0.0.0.0:3000"`;
    # Rack `Port: 9292`. Spark Java: `port(4567);`
    ("p7", r"^\s*set\s+:port\s*,\s*(?P<p7>\d{2,5})\b", frozenset({FileKind.RUBY})),
    (
        "p8",
        r"^\s*port\s*\(?\s*(?P<p8>\d{2,5})\b",
        frozenset({FileKind.RUBY, FileKind.JAVA}),
    ),
    (
        "p9",
        r"^\s*bind\s*\(?\s*['\"](?:tcp|ssl)://(?P<rbhost>[^'\":]*):(?P<p9>\d{2,5})",
        frozenset({FileKind.RUBY}),
    ),
    ("p10", r"\bPort:\s*(?P<p10>\d{2,5})\b", frozenset({FileKind.RUBY})),
    # Java: Javalin .start(7000), new ServerSocket(8080),
    # HttpServer.create(new InetSocketAddress(8080), 0)
    ("p11", r"\.start\(\s*(?P<p11>\d{2,5})\s*\)", frozenset({FileKind.JAVA})),
    (
        "p12",
        r"new\s+(?:ServerSocket|InetSocketAddress)\(\s*(?P<p12>\d{2,5})\s*[,)]",
        frozenset({FileKind.JAVA}),
    ),
)
_LISTEN_BY_KIND: dict[FileKind, tuple[re.Pattern[str], tuple[str, ...]]] = {
    kind: (
        re.compile("|".join(alt for _, alt, langs in _LISTEN_ALTERNATIVES if kind in langs)),
        tuple(name for name, _, langs in _LISTEN_ALTERNATIVES if kind in langs),
    )
    for kind in (FileKind.PYTHON, FileKind.JAVASCRIPT, FileKind.GO, FileKind.RUBY, FileKind.JAVA)
}


class HardcodedListenPort(Rule):
    """The server listens on a port written into the code.

    ## What it does
    Flags servers started on a literal port in code: `app.run(port=5000)`,
    `uvicorn.run(app, port=8000)`, `app.listen(8080)`, `http.ListenAndServe(":8080", nil)`,
    `e.Start(":1323")`, Sinatra `set :port, 4567`, Puma `port 3000`, Javalin
    `.start(7000)` and similar. It stays quiet when the file reads a port from the
    environment (or a `--port` flag) anywhere, and for loopback-only binds (see TF0703).

    ## Why it matters
    A twelve-factor app is self-contained and exports its service by binding to the
    port the environment assigns it, usually through `$PORT`. A port fixed in code
    cannot be changed per deploy, so two instances cannot share a host and platforms
    that route to `$PORT` never reach the process.

    ## Example
    ```python
    app.run(host="0.0.0.0", port=5000)
    ```

    ## Use instead
    ```python
    app.run(host="0.0.0.0", port=int(os.environ.get("PORT", "5000")))
    ```
    """

    code = "TF0701"
    name = "hardcoded-listen-port"
    factor = 7
    severity = Severity.WARNING
    kinds = frozenset(
        {FileKind.PYTHON, FileKind.JAVASCRIPT, FileKind.GO, FileKind.RUBY, FileKind.JAVA}
    )
    message = "The server listens on a hard-coded port; read it from the environment (`PORT`)."
    prefilter = re.compile(
        r"port|Port|listen|Listen|Start|Run|Addr|bind|\.start\(|Socket|Server\(|make_server"
    )
    _python_host = re.compile(r"\bhost\s*=\s*['\"]" + _LOOPBACK + r"['\"]")

    def check(self, f: FileUnderReview) -> Iterator[Hit]:
        if _reads_port_from_config(f.text):
            return
        language = next((k for k in _LISTEN_BY_KIND if k in f.kinds), None)
        if language is None:
            return
        search, names = _LISTEN_BY_KIND[language]
        wanted = self.prefilter.search
        for line in f.code_lines():
            text = line.text
            if wanted(text) is None:
                continue
            match = search.search(text)
            if match is not None:
                which = next(n for n in names if match.group(n) is not None)
                hit = self._judge(f, line, match, which)
                if hit is not None:
                    yield hit

    def _judge(
        self, f: FileUnderReview, line: Line, match: re.Match[str], which: str
    ) -> Hit | None:
        text = line.text
        if which == "p1":
            if FileKind.JAVA in f.kinds and "embeddedServer" not in text:
                return None
            if self._python_host.search(text):
                return None  # loopback-only bind: TF0703's business
        elif which == "p2":
            if _LOOPBACK_NEAR.search(match.group("jsrest")):
                return None
        elif which in ("p8", "p9"):
            if FileKind.RUBY in f.kinds:
                if "puma" not in f.path.lower():
                    return None
            elif "spark" not in f.text.lower():
                return None  # Spark Java's `port(4567);`
            host = match.groupdict().get("rbhost")
            if host is not None and re.fullmatch(_LOOPBACK, host):
                return None
        elif which == "p11" and "Javalin" not in f.text:
            return None
        elif which == "p13" and "tornado" not in f.text:
            return None  # a plain socket's `listen(backlog)`
        return Hit(line.number)


class FrameworkServerPort(LineRule):
    """A framework's server port pinned in its application config.

    ## What it does
    Flags `server.port=8080` (also `micronaut.server.port`, `quarkus.http.port`) in
    `application*.properties`, and `port: 8080` directly under `server:` in
    `application*.yml`, when the value is a literal rather than `${PORT:8080}`.

    ## Why it matters
    The port an app binds to is part of its deploy, not its code: platforms assign it
    through the environment. Spring, Micronaut and Quarkus can still be overridden by
    `SERVER_PORT`-style variables, so this is a nudge to make the contract explicit.

    ## Example
    ```properties
    server.port=8080
    ```

    ## Use instead
    ```properties
    server.port=${PORT:8080}
    ```
    """

    code = "TF0702"
    name = "framework-server-port"
    factor = 7
    severity = Severity.NOTICE
    kinds = frozenset({FileKind.PROPERTIES, FileKind.YAML})
    message = "Server port pinned in the app config; bind to `${PORT:8080}` from the environment."
    pattern = re.compile(
        r"^\s*(?:server|micronaut\.server|quarkus\.http)\.port\s*[=:]\s*\d{2,5}\s*$|"
        r"^(?P<indent>\s+)port\s*:\s*\d{2,5}\s*$"
    )
    _app_config = re.compile(r"(?:^|/)(?:application|bootstrap)[\w-]*\.(?:properties|ya?ml)$")

    def check_match(self, f: FileUnderReview, line: Line, match: re.Match[str]) -> Hit | None:
        if not self._app_config.search(f.path):
            return None
        if match.group("indent") is not None:
            above = code_line_above(f, line.number, limit=19, comments=("#", "!"))
            if above is None or above.strip() != "server:":
                return None
            if len(above) - len(above.lstrip()) >= len(match.group("indent")):
                return None
        return Hit(line.number)


class LoopbackBindInCode(KeywordLineRule):
    """The server binds to 127.0.0.1/localhost in an app that runs in a container.

    ## What it does
    Flags servers started on a loopback host in code: `app.run(host="127.0.0.1")`,
    `uvicorn.run(app, host="localhost")`, `app.listen(3000, "127.0.0.1")`,
    `http.ListenAndServe("localhost:8080", nil)`, Sinatra `set :bind, "localhost"`,
    Puma `bind "tcp://127.0.0.1:3000"`, `server.address=127.0.0.1`. A warning when
    the repository has a Dockerfile, a notice when the file list is unknown, and
    nothing when the repository has no Dockerfile.

    ## Why it matters
    Port binding means the process exports its service to the outside world. Inside a
    container, loopback is private to that container, so a process bound to 127.0.0.1
    is unreachable through the published port and the platform's router.

    ## Example
    ```python
    uvicorn.run(app, host="127.0.0.1", port=port)
    ```

    ## Use instead
    ```python
    uvicorn.run(app, host="0.0.0.0", port=port)
    ```
    """

    code = "TF0703"
    name = "loopback-bind-in-container"
    factor = 7
    severity = Severity.WARNING
    kinds = frozenset(
        {FileKind.PYTHON, FileKind.JAVASCRIPT, FileKind.GO, FileKind.RUBY, FileKind.PROPERTIES}
    )
    message = (
        "The server binds to a loopback address, unreachable from outside the container; "
        "bind to 0.0.0.0."
    )
    pattern = re.compile(
        r"\b(?:run|run_app|serve)\s*\((?:[^)]*?,)?\s*host\s*=\s*['\"]" + _LOOPBACK + r"['\"]|"
        r"\.listen\(\s*[\w.]+\s*,\s*['\"`]" + _LOOPBACK + r"['\"`]|"
        r"\.listen\(\s*\{[^}]*\bhost\s*:\s*['\"`]" + _LOOPBACK + r"['\"`]|"
        r"(?:\bListenAndServe(?:TLS)?|\.(?:Start|StartTLS|Run|RunTLS|Listen))\(\s*\""
        + _LOOPBACK
        + r":\d+\"|"
        r"\bnet\.Listen\(\s*\"tcp[46]?\"\s*,\s*\"" + _LOOPBACK + r":\d+\"|"
        r"^\s*set\s+:bind\s*,\s*['\"]" + _LOOPBACK + r"['\"]|"
        r"^\s*bind\s*\(?\s*['\"](?:tcp|ssl)://" + _LOOPBACK + r"[:'\"]|"
        r"^bind\s*=\s*\[?\s*['\"]" + _LOOPBACK + r"[:'\"]|"
        r"^\s*server\.address\s*[=:]\s*" + _LOOPBACK + r"\s*$"
    )
    prefilter = re.compile(r"127\.0\.0\.1|localhost")
    _debug = re.compile(r"\bdebug\s*=\s*True\b")

    def check_match(self, f: FileUnderReview, line: Line, match: re.Match[str]) -> Hit | None:
        text = line.text
        if text.lstrip().startswith("bind"):
            wanted = FileKind.RUBY if "=" not in text.split("bind", 1)[1][:3] else FileKind.PYTHON
            server = "puma" if wanted is FileKind.RUBY else "gunicorn"
            if wanted not in f.kinds or server not in f.path.lower():
                return None
        if text.lstrip().startswith("set") and FileKind.RUBY not in f.kinds:
            return None
        containerised = has_dockerfile(f.repo_files)
        if containerised is False:
            return None
        if containerised is None or self._debug.search(text):
            # Unknown deployment, or a debug dev server: say it quietly.
            return Hit(line.number, severity=Severity.NOTICE)
        return Hit(line.number)


_SERVER_LAUNCHER = re.compile(
    r"\b(?:gunicorn|uvicorn|hypercorn|daphne|waitress-serve|uwsgi|flask|rails|puma|unicorn|"
    r"thin|rackup|streamlit|runserver|http\.server|php|next|nuxt|granian|bokeh|panel|"
    r"jupyter|gradio|serve)\b"
)
_LOOPBACK_FLAG = re.compile(
    r"(?:^|[\s\"',])(?:-b|-H|--bind|--host|--hostname|--listen|--address|--http|--server\.address|-S)"
    r"(?:=|\s+|[\"'],\s*[\"'])(?:tcp://|http://)?" + _LOOPBACK + r"(?=[:\s\"',\]]|$)|"
    r"\brunserver\s+" + _LOOPBACK + r":\d+"
)


class LoopbackBindInContainerCommand(Rule):
    """A container or Procfile command binds the server to 127.0.0.1.

    ## What it does
    Flags server launch commands that bind to a loopback address in a Dockerfile
    `CMD`/`ENTRYPOINT`, a Procfile entry, a compose `command:` or an entrypoint
    script: `gunicorn -b 127.0.0.1:8000`, `uvicorn --host 127.0.0.1`,
    `rails server -b localhost`, `manage.py runserver 127.0.0.1:8000`.

    ## Why it matters
    A process exports its service by binding to a port on the container's
    interfaces. Loopback inside a container or dyno is reachable only from that
    same container, so the published port and the platform's router see nothing.

    ## Example
    ```dockerfile
    CMD ["gunicorn", "-b", "127.0.0.1:8000", "app:app"]
    ```

    ## Use instead
    ```dockerfile
    CMD ["gunicorn", "-b", "0.0.0.0:8000", "app:app"]
    ```
    """

    code = "TF0704"
    name = "loopback-bind-in-container-command"
    factor = 7
    severity = Severity.WARNING
    kinds = frozenset({FileKind.DOCKERFILE, FileKind.PROCFILE, FileKind.COMPOSE, FileKind.SHELL})
    message = (
        "The container's server command binds to a loopback address, unreachable from "
        "outside; bind to 0.0.0.0."
    )

    def check(self, f: FileUnderReview) -> Iterator[Hit]:
        for line, command in command_lines(f):
            if not ("127.0.0.1" in line.text or "localhost" in line.text):
                continue
            if not _LOOPBACK_FLAG.search(line.text):
                continue
            if _SERVER_LAUNCHER.search(command):
                yield Hit(line.number)


_PROCFILE_WEB = re.compile(r"^\s*web\s*:")
_FIXED_PORT = re.compile(
    r"(?:^|\s)(?:-b|--bind|--listen|--http|--address)(?:=|\s+)['\"]?(?:tcp://)?[\w.\[\]:-]*?:\d{2,5}\b|"
    r"(?:^|\s)(?:-p|--port|-l)(?:=|\s+)['\"]?\d{2,5}\b|"
    r"\brunserver\s+(?:[\w.]+:)?\d{2,5}\b|"
    r"(?:^|\s)PORT=\d{2,5}\b|"
    r"(?:^|\s)-D(?:server|quarkus\.http|micronaut\.server)\.port=\d{2,5}\b"
)
_USES_PORT_VAR = re.compile(r"\$\{?PORT\b")


class ProcfileWebFixedPort(LineRule):
    """The Procfile `web` process binds a fixed port instead of `$PORT`.

    ## What it does
    Flags the `web:` entry of a Procfile when it passes a literal port
    (`-b 0.0.0.0:8000`, `--port 3000`, `runserver 0.0.0.0:8000`, `PORT=5000 node ...`)
    and never mentions `$PORT`.

    ## Why it matters
    Platforms that read a Procfile assign the web process its port at run time in
    `$PORT` and route requests only there; a process that binds anything else is
    never reached and is usually killed for failing to bind in time.

    ## Example
    ```
    web: gunicorn app:app -b 0.0.0.0:8000
    ```

    ## Use instead
    ```
    web: gunicorn app:app -b 0.0.0.0:$PORT
    ```
    """

    code = "TF0705"
    name = "procfile-web-fixed-port"
    factor = 7
    severity = Severity.WARNING
    kinds = frozenset({FileKind.PROCFILE})
    message = "The web process binds a fixed port; bind to `$PORT`, which the platform assigns."
    pattern = _PROCFILE_WEB

    def check_match(self, f: FileUnderReview, line: Line, match: re.Match[str]) -> Hit | None:
        command = line.text[match.end() :]
        if _USES_PORT_VAR.search(command) or not _FIXED_PORT.search(command):
            return None
        return Hit(line.number)


RULES: tuple[Rule, ...] = (
    HardcodedListenPort(),
    FrameworkServerPort(),
    LoopbackBindInCode(),
    LoopbackBindInContainerCommand(),
    ProcfileWebFixedPort(),
)
