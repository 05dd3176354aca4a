"""Factor XII, admin processes: run admin tasks as one-off processes.

Admin work (migrations, data fixes, consoles) should run as one-off processes
from the same codebase and config as the app. The rules here look for admin
tasks exposed over HTTP, migrations triggered from request handlers, ad-hoc
changes typed into production over ssh, and one-off scripts that wire up their
own connections instead of using the app's config.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterator
from pathlib import PurePosixPath
from typing import ClassVar

from bot.diff import Line
from bot.filetypes import FileKind
from bot.findings import Severity
from bot.rules.base import FileUnderReview, Hit, Rule
from bot.rules.commands import HEREDOC_OPEN, shell_data_line
from bot.rules.layout import enclosing_lines, indent_width, statement_matches
from bot.rules.values import is_placeholder, is_test_like_host


def _indent(text: str) -> int:
    """Columns of leading blanks, tabs expanded to stops of 8."""
    return indent_width(text, 8)


# --------------------------------------------------------------------------- admin routes

# Path segments that name an admin action rather than a resource.
_ADMIN_ACTIONS = frozenset(
    {
        "migrate", "run-migrations", "run_migrations", "runmigrations", "run-migration",
        "apply-migrations", "apply_migrations", "migrate-db", "migrate_db", "migratedb",
        "db-migrate", "db_migrate", "dbmigrate", "db:migrate", "db:seed", "db:reset",
        "seed", "seed-db", "seed_db", "seeddb", "reset-db", "reset_db", "resetdb",
        "drop-db", "drop_db", "dropdb", "flush-db", "flush_db", "flushdb",
        "sync-db", "sync_db", "syncdb", "create-tables", "create_tables",
        "drop-tables", "drop_tables",
    }
)  # fmt: skip
_RUN_WORDS = frozenset({"run", "apply", "up", "latest", "execute", "migrate", "head"})
# Segments that may precede the action: an admin or internal area, an API prefix.
_CONTEXT = frozenset(
    {
        "admin", "_admin", "internal", "_internal", "ops", "db", "database", "system",
        "maintenance", "manage", "management", "api", "tasks", "task", "jobs", "debug",
        "tools", "rpc", "hooks", "webhooks", "private", "superuser", "staff",
    }
)  # fmt: skip
_ADMIN_AREAS = _CONTEXT - {"api", "rpc", "hooks", "webhooks", "private"}
_AFTER = frozenset({"up", "down", "latest", "head", "run", "apply", "all", "now", "force"})
_VERSION = re.compile(r"^v\d+(?:\.\d+)?$")


def _is_param(segment: str) -> bool:
    return segment.startswith((":", "{", "<", "(", "*")) or segment.endswith(("}", ">", ")"))


def _admin_path(raw: str) -> bool:
    """True for a route path such as `/admin/run-migrations` or `POST /migrate`."""
    path = re.sub(r"^[A-Z]+\s+", "", raw.strip()).lstrip("^").rstrip("$")
    if path.startswith(("http:", "https:", "//")):
        return False
    segments = [s.lower() for s in path.split("?", 1)[0].split("/") if s]
    for index, segment in enumerate(segments):
        if segment in _ADMIN_ACTIONS:
            end = index + 1
        elif (
            segment == "migrations"
            and index + 1 < len(segments)
            and segments[index + 1] in _RUN_WORDS
        ):
            end = index + 2
        else:
            continue
        before = segments[:index]
        after = segments[end:]
        if segment == "seed" and not any(s in _ADMIN_AREAS for s in before):
            return False  # /api/seed may well be a random seed; /admin/seed is not
        return all(s in _CONTEXT or _VERSION.match(s) for s in before) and all(
            s in _AFTER or _is_param(s) for s in after
        )
    return False


_PY_ROUTES = re.compile(
    r"""^\s*@\s*[\w.]+\.(?:route|get|post|put|patch|delete|api_route|websocket)\(\s*r?(['"])(?P<p>.*?)\1"""
    r"""|\.(?:add_url_rule|add_api_route|add_route|add_get|add_post|add_put|add_patch|add_delete)"""
    r"""\(\s*(?:(['"])[A-Z*]+\3\s*,\s*)?r?(['"])(?P<p2>.*?)\4"""
)
_DJANGO_ROUTES = re.compile(r"""(?<![\w.])(?:path|re_path|url)\(\s*r?(['"])(?P<p>.*?)\1""")
_JS_ROUTES = re.compile(
    r"""\b(?P<recv>\w+)\.(?:get|post|put|patch|delete|all|use|route)\(\s*(['"`])(?P<p>.*?)\2"""
    r"""|@(?:Get|Post|Put|Patch|Delete|All)\(\s*(['"`])(?P<p2>.*?)\4"""
)
_JS_ROUTERS = re.compile(r"^(?:\w*(?:[aA]pp|[rR]outer|[sS]erver|[rR]outes?)|fastify|r|hono)$")
_GO_ROUTES = re.compile(
    r"""\b(?P<recv>\w+)\.(?:HandleFunc|Handle|GET|POST|PUT|PATCH|DELETE|Any|Get|Post|Put|Patch"""
    r"""|Delete|Method|MethodFunc)\(\s*(?:"[A-Z]+"\s*,\s*)?"(?P<p>[^"]*)\""""
)
_JAVA_ROUTES = re.compile(
    r"""@(?:Get|Post|Put|Delete|Patch|Request)Mapping\(\s*(?:(?:value|path)\s*=\s*)?\{?\s*"(?P<p>[^"]*)\""""
    r"""|@Path\(\s*"(?P<p2>[^"]*)\""""
    r"""|^\s*(?:Spark\.)?(?:get|post|put|delete|patch|route)\(\s*"(?P<p3>/[^"]*)\""""
)
_RUBY_ROUTES = re.compile(
    r"""^\s*(?:get|post|put|patch|delete|match)\s*\(?\s*(['"])(?P<p>.*?)\1"""
    r"""|^\s*(?:get|post|put|patch|delete)\s+:(?P<p2>\w+)"""
)


# Every admin action above contains one of these; checked before any regex runs.
_ROUTE_NEEDLES = ("migrat", "seed", "reset", "drop", "flush", "sync", "tables")


def _mentions(text: str, needles: tuple[str, ...]) -> bool:
    return any(needle in text for needle in needles)


def _route_paths(f: FileUnderReview, text: str) -> list[str]:
    """Route paths declared on this line, for the languages we know."""
    kinds = f.kinds
    found: list[str] = []
    if FileKind.PYTHON in kinds:
        found += [m.group("p") or m.group("p2") for m in _PY_ROUTES.finditer(text)]
        if ("path(" in text or "url(" in text) and "urlpatterns" in f.text:
            found += [m.group("p") for m in _DJANGO_ROUTES.finditer(text)]
    if FileKind.JAVASCRIPT in kinds:
        for m in _JS_ROUTES.finditer(text):
            if m.group("p2") is not None or _JS_ROUTERS.match(m.group("recv")):
                found.append(m.group("p") or m.group("p2"))
    if FileKind.GO in kinds:
        found += [m.group("p") for m in _GO_ROUTES.finditer(text) if m.group("recv") != "http"]
        found += re.findall(r"""\bhttp\.Handle(?:Func)?\(\s*"([^"]*)\"""", text)
    if FileKind.JAVA in kinds:
        found += [
            m.group("p") or m.group("p2") or m.group("p3") for m in _JAVA_ROUTES.finditer(text)
        ]
    if FileKind.RUBY in kinds:
        found += [m.group("p") or m.group("p2") for m in _RUBY_ROUTES.finditer(text)]
    return [p for p in found if p]


def _declares_admin_route(f: FileUnderReview, number: int, text: str) -> bool:
    if text.rstrip().endswith("("):  # the path is on the next line: @app.route(\n "/x",
        following = f.line_text(number + 1)
        if following is not None:
            text = text.rstrip() + following.strip()
    return any(_admin_path(p) for p in _route_paths(f, text))


_ROUTE_KINDS = frozenset(
    {FileKind.PYTHON, FileKind.JAVASCRIPT, FileKind.GO, FileKind.JAVA, FileKind.RUBY}
)


class AdminTaskRoute(Rule):
    """Admin task exposed as a web endpoint.

    ## What it does
    Flags route declarations whose path names an admin action: `/migrate`,
    `/admin/run-migrations`, `/internal/db/seed`, `/api/migrations/apply`,
    `POST /reset-db` and the like, in Flask/FastAPI/Django/aiohttp, Express/Nest,
    Go `net/http`/gin/echo/chi, Spring/JAX-RS/Spark/Ktor and Rails/Sinatra routes.
    Only a short admin-ish prefix (admin, internal, api, v1, ...) may come before
    the action, so business routes like `/users/:id/migrate` stay quiet.

    ## Why it matters
    Admin tasks should run as one-off processes against a release, from the same
    codebase and config, with their own logs and exit status. Behind an HTTP route
    they run inside a web worker, race each other across replicas, time out
    half-way, and turn a public surface into a lever on the database.

    ## Example
    ```python
    @app.post("/admin/run-migrations")
    def run_migrations():
        command.upgrade(alembic_cfg, "head")
    ```

    ## Use instead
    ```text
    # Procfile
    release: alembic upgrade head
    ```
    """

    code = "TF1201"
    name = "admin-task-route"
    factor = 12
    severity = Severity.WARNING
    kinds = _ROUTE_KINDS
    message = (
        "Admin task exposed as a web endpoint; run it as a one-off process (a management "
        "command or release task) instead."
    )

    def check(self, f: FileUnderReview) -> Iterator[Hit]:
        if not _mentions(f.text, _ROUTE_NEEDLES):
            return
        for line in f.code_lines():
            text = line.text
            if text.rstrip().endswith("(") and not _mentions(text, _ROUTE_NEEDLES):
                text += f.line_text(line.number + 1) or ""
            if _mentions(text, _ROUTE_NEEDLES) and _declares_admin_route(f, line.number, line.text):
                yield Hit(line.number)


# --------------------------------------------------------------------------- migrations in handlers

_ADMIN_CALL = re.compile(
    r"""\bcall_command\(\s*['"](?:migrate|flush|loaddata|reset_db|sqlflush|migrate_schemas"""
    r"""|createsuperuser|makemigrations)['"]"""
    r"""|\b(?:alembic\.)?command\.(?:upgrade|downgrade|stamp)\("""
    r"""|\bflask_migrate\.(?:upgrade|downgrade)\("""
    r"""|\b(?:db|metadata)\.(?:drop_all|create_all)\("""
    r"""|\.migrate\.(?:latest|up|down|rollback)\("""
    r"""|\b(?:umzug|migrator)\.(?:up|down)\(|\.runMigrations\(|\.undoLastMigration\("""
    r"""|\.sync\(\s*\{[^}]*\b(?:force|alter)\s*:\s*true"""
    r"""|\bgoose\.(?:Up|Down|UpTo|DownTo|Reset|Redo|Run)\w*\(|\bmigrate\.Exec(?:Max)?\("""
    r"""|\.AutoMigrate\("""
    r"""|\b\w*[fF]lyway\w*(?:\(\))?\.(?:migrate|clean|repair|baseline)\(\)|\.load\(\)\s*\.migrate\(\)"""
    r"""|\bliquibase\w*\.(?:update|dropAll|rollback)\("""
    r"""|Rake::Task\[\s*['"]db:|ActiveRecord::(?:Migrator|MigrationContext|Tasks::DatabaseTasks)"""
    r"""|\bload_seed\b|\.migration_context\.migrate"""
)
_ADMIN_COMMAND = re.compile(
    r"""\balembic\W{1,4}(?:upgrade|downgrade)|manage\.py\W{1,4}(?:migrate|flush|loaddata)\b"""
    r"""|\b(?:rake|rails)\W{1,4}db:\w+|\bprisma\W{1,4}migrate|\bknex\W{1,4}migrate"""
    r"""|\bsequelize(?:-cli)?\W{1,4}db:migrate|\bflyway\W{1,4}migrate|\bgoose\W.*\bup\b"""
)
_EXEC: dict[FileKind, re.Pattern[str]] = {
    FileKind.PYTHON: re.compile(r"\bsubprocess\.\w+\(|\bos\.(?:system|popen)\("),
    FileKind.JAVASCRIPT: re.compile(r"\b(?:exec|execSync|execa|execaCommand|spawn|spawnSync)\s*\("),
    FileKind.GO: re.compile(r"\bexec\.Command(?:Context)?\("),
    FileKind.JAVA: re.compile(r"\bProcessBuilder\(|\.exec\("),
    FileKind.RUBY: re.compile(r"\bsystem\s*\(?|`|%x[({\[]|\bOpen3\.\w+\("),
}
# One of these occurs wherever an admin call or command above can match.
_ADMIN_NEEDLES = (
    "call_command", "command.", "igrat", "drop_all", "create_all", "umzug", "sync(", "goose",
    "lyway", "iquibase", "Rake::Task", "load_seed", "alembic", "manage.py", "db:", "prisma",
    "knex", "sequelize", "upgrade", "downgrade",
)  # fmt: skip
_GOLANG_MIGRATE = re.compile(r"\b\w+\.(?:Up|Down|Steps|Migrate|Force)\(")
_FLASK_MIGRATE = re.compile(r"(?<![\w.])(?:upgrade|downgrade)\(")

_HEADERS: dict[FileKind, re.Pattern[str]] = {
    FileKind.PYTHON: re.compile(r"^\s*(?:async\s+)?def\s+\w+\s*\("),
    FileKind.JAVASCRIPT: re.compile(
        r"=>\s*\{?\s*$|\bfunction\b[^(]*\(|^\s*(?:async\s+)?(?!if\b|for\b|while\b|switch\b|catch\b)"
        r"\w+\s*\([^)]*\)\s*(?::\s*[^{]+)?\{\s*$"
    ),
    FileKind.GO: re.compile(r"^\s*func\b|\bfunc\s*\("),
    FileKind.JAVA: re.compile(
        r"^\s*(?:(?:public|protected|private|static|final|synchronized|suspend|override|open)\s+)*"
        r"(?:fun\s+\w+|(?!if\b|for\b|while\b|switch\b|catch\b|return\b|new\b|else\b)"
        r"[\w<>\[\],.? ]+\s+\w+)\s*\(|->\s*\{\s*$"
    ),
    FileKind.RUBY: re.compile(
        r"""^\s*def\s|^\s*(?:get|post|put|patch|delete)\s+['"][^'"]*['"].*\bdo\b"""
    ),
}
_HANDLER_SIGNS: dict[FileKind, re.Pattern[str]] = {
    FileKind.PYTHON: re.compile(
        r"\(\s*(?:self\s*,\s*|cls\s*,\s*|modeladmin\s*,\s*)?(?:request|req)\b"
        r"|@[\w.]+\.(?:route|get|post|put|patch|delete|api_route)\("
        r"|@(?:api_view|require_POST|require_GET|require_http_methods|csrf_exempt|action)\b"
    ),
    FileKind.JAVASCRIPT: re.compile(
        r"\(\s*(?:req|request)\b[^)]*\b(?:res|reply|response|h)\b|\(\s*ctx\s*(?:,\s*next\s*)?\)"
        r"|\b(?:req|request)\s*:\s*(?:Request|FastifyRequest|NextApiRequest|NextRequest)\b"
        r"|@(?:Get|Post|Put|Patch|Delete|All)\(|\bfunction\s+(?:GET|POST|PUT|PATCH|DELETE)\s*\("
    ),
    FileKind.GO: re.compile(
        r"http\.ResponseWriter|\*gin\.Context|echo\.Context|\*?fiber\.Ctx|\*http\.Request"
    ),
    FileKind.JAVA: re.compile(
        r"@(?:Get|Post|Put|Delete|Patch|Request)Mapping|@(?:GET|POST|PUT|DELETE|PATCH)\b|@Path\b"
        r"|\(\s*(?:req|request)\s*,\s*(?:res|response)\s*\)\s*->"
    ),
    FileKind.RUBY: re.compile(r"""^\s*(?:get|post|put|patch|delete)\s+['"]"""),
}


def _kind_of(f: FileUnderReview) -> FileKind | None:
    return next((k for k in _HEADERS if k in f.kinds), None)


def _enclosing_function(
    f: FileUnderReview, line: Line, is_header: Callable[[str], bool], limit: int = 120
) -> int | None:
    """Line number of the function header that holds `line`, walking up by indentation."""
    blocks = enclosing_lines(f, line.number, _indent(line.text), _indent, limit=limit)
    return next((number for number, text in blocks if is_header(text)), None)


def _decorations(f: FileUnderReview, header: int, limit: int = 8) -> list[int]:
    """Numbers of the decorator/annotation lines right above a function header."""
    header_text = f.line_text(header) or ""
    base = _indent(header_text)
    found: list[int] = []
    pending: list[int] = []  # continuation lines of a decorator, kept once its `@` is seen
    for number in range(header - 1, max(header - 1 - limit, 0), -1):
        text = f.line_text(number)
        if text is None or not text.strip():
            break
        stripped = text.strip()
        if stripped.startswith("@"):
            found += [*pending, number]
            pending = []
        elif _indent(text) > base or stripped.startswith(")"):
            pending.append(number)
        else:
            break
    return found


class MigrationInRequestHandler(Rule):
    """Migration or other admin command run inside a request handler.

    ## What it does
    Flags schema migrations and similar admin commands called from a function
    that handles HTTP requests: Django `call_command("migrate")`, Alembic
    `command.upgrade`, Flask-Migrate `upgrade()`, `db.drop_all()`, knex/umzug/TypeORM
    migrations, `sequelize.sync({ force: true })`, goose/golang-migrate/gorm
    `AutoMigrate`, Flyway/Liquibase, Rails `Rake::Task["db:..."]`, and shell-outs
    to `alembic upgrade`, `manage.py migrate` or `rails db:migrate`. The handler
    is recognised by its decorators/annotations or its request parameter (and any
    action of a Rails controller). A handler whose route is flagged by TF1201 in
    the same change is left to that rule.

    ## Why it matters
    Admin processes run as one-off processes against a release, not inside the
    web process: a migration started by a request runs once per caller and per
    replica, dies with the request timeout, and has no clear log or exit status.

    ## Example
    ```python
    @staff_member_required
    def upgrade_schema(request):
        call_command("migrate")
        return HttpResponse("done")
    ```

    ## Use instead
    ```text
    # run once per release, as its own process
    release: python manage.py migrate --noinput
    ```
    """

    code = "TF1202"
    name = "migration-in-request-handler"
    factor = 12
    severity = Severity.WARNING
    kinds = _ROUTE_KINDS
    message = (
        "Migration or admin command runs inside a request handler; run it as a one-off "
        "process (release phase or management command) instead."
    )

    def check(self, f: FileUnderReview) -> Iterator[Hit]:
        kind = _kind_of(f)
        if kind is None or not _mentions(f.text, _ADMIN_NEEDLES):
            return
        golang_migrate = kind is FileKind.GO and "golang-migrate/migrate" in f.text
        flask_migrate = kind is FileKind.PYTHON and "flask_migrate import" in f.text
        added = {line.number for line in f.added_lines()}
        header = _HEADERS[kind]
        signs = _HANDLER_SIGNS[kind]
        controller = kind is FileKind.RUBY and (
            "/controllers/" in f"/{f.path}" or f.path.endswith("_controller.rb")
        )
        for line in f.code_lines():
            text = line.text
            if not _mentions(text, _ADMIN_NEEDLES) and not (golang_migrate and "(" in text):
                continue
            admin = _ADMIN_CALL.search(text) is not None or (
                _ADMIN_COMMAND.search(text) is not None and _EXEC[kind].search(text) is not None
            )
            if not admin and golang_migrate:
                admin = _GOLANG_MIGRATE.search(text) is not None
            if not admin and flask_migrate:
                admin = _FLASK_MIGRATE.search(text) is not None
            if not admin:
                continue
            start = _enclosing_function(f, line, lambda t: header.search(t) is not None)
            if start is None:
                continue
            around = [start, *_decorations(f, start)]
            texts = [f.line_text(n) or "" for n in around]
            if not (controller or any(signs.search(t) for t in texts)):
                continue
            if any(
                n in added and _declares_admin_route(f, n, t)
                for n, t in zip(around, texts, strict=True)
            ):
                continue  # TF1201 already speaks for this handler
            yield Hit(line.number)


# --------------------------------------------------------------------------- ssh into production

_SSH = re.compile(r"(?<![\w./-])ssh\s+(?P<rest>.+)$")
_SSH_OPTIONS_WITH_ARG = frozenset("bcDEeFIiJLlmOopQRSWw")
_LOCAL_OPERATORS = frozenset({"&&", "||", "|", ";", ">", ">>", "2>&1", "&"})
# A database client started as a command (not `systemctl restart mysql`).
_DB_CLIENT = (
    r"(?:^|[;&|(]\s*|\bsudo\s+(?:-\S+\s+)*(?:\w+\s+)?(?=\w)|\bexec\s+(?:-\S+\s+)*\S+\s+|--\s+)"
    r"(?:psql|mysql|mariadb|mongo|mongosh|redis-cli|sqlite3|cqlsh|clickhouse-client)\b"
)
_MUTATING = re.compile(
    _DB_CLIENT + r"|\b(?:UPDATE\s+\S+\s+SET|DELETE\s+FROM|INSERT\s+INTO|ALTER\s+TABLE"
    r"|DROP\s+(?:TABLE|DATABASE)|TRUNCATE\s)"
    r"|\bsed\s+(?:-\w+\s+)*-i|\btee\s+(?:-a\s+)?/etc/|>>?\s*/etc/"
    r"|\bmanage\.py\s+(?:shell|dbshell)\b|\brails\s+(?:runner|r|console|c|dbconsole)\b"
    r"|\b(?:python[\d.]*|node|ruby|perl)\s+-[ce]\b",
    re.IGNORECASE | re.MULTILINE,
)
_PROD_HOST = re.compile(r"prod|prd|live", re.IGNORECASE)
_CI_CONFIG = re.compile(
    r"(?:^|/)\.github/workflows/|(?:^|/)\.gitlab-ci\.ya?ml$|(?:^|/)\.circleci/"
    r"|bitbucket-pipelines\.ya?ml$|(?:^|/)Jenkinsfile$"
)


def _ssh_target(rest: str) -> tuple[str, list[str]] | None:
    """(host, remote command words) of an ssh invocation, or None without a command."""
    try:
        words = shlex.split(rest, comments=True)
    except ValueError:
        words = rest.split()
    index = 0
    while index < len(words) and words[index].startswith("-") and len(words[index]) > 1:
        flags = words[index][1:]
        if "N" in flags:
            return None
        index += 2 if len(flags) == 1 and flags in _SSH_OPTIONS_WITH_ARG else 1
    if index >= len(words):
        return None
    host = words[index]
    command: list[str] = []
    for word in words[index + 1 :]:
        if word in _LOCAL_OPERATORS:
            break
        command.append(word)
    return host, command


class SshProductionChange(Rule):
    """Ad-hoc change made on a server over ssh.

    ## What it does
    Flags `ssh <host> "<command>"` in shell scripts and CI pipeline files when the
    remote command edits data or configuration by hand: a database client or SQL
    write (`psql`, `mysql`, `UPDATE ... SET`, `DELETE FROM`), an in-place file edit
    (`sed -i`, `tee /etc/...`, `> /etc/...`) or an eval-style one-liner (`python -c`,
    `rails runner`, `manage.py shell`); heredoc bodies (`ssh host <<EOF`) are read
    too. It is a warning when the host looks like production and a notice otherwise.
    Running a script from the repo (`ssh host bash -s < script.sh`), restarting a
    service or cleaning up old releases is left alone.

    ## Why it matters
    Admin work should be a one-off process built from the app's codebase and run
    against a release with its config, so it is reviewed, repeatable and identical
    in every environment. Commands typed into a server over ssh bypass all of that:
    they drift from the code, cannot be replayed in staging, and leave no trace in
    the release history.

    ## Example
    ```bash
    ssh deploy@prod-db-1 "psql -d shop -c \\"UPDATE orders SET status='paid' WHERE id=42\\""
    ```

    ## Use instead
    ```bash
    # a reviewed one-off command shipped with the release
    heroku run python manage.py mark_order_paid 42
    ```
    """

    code = "TF1203"
    name = "ssh-production-change"
    factor = 12
    severity = Severity.WARNING
    kinds = frozenset({FileKind.SHELL, FileKind.YAML})
    message = (
        "Ad-hoc change run on a server over ssh; ship it as a one-off admin command in the "
        "codebase and run it against the release instead."
    )

    def check(self, f: FileUnderReview) -> Iterator[Hit]:
        if FileKind.SHELL not in f.kinds and not _CI_CONFIG.search(f.path):
            return
        for line in f.code_lines():
            if "ssh" not in line.text:
                continue
            m = _SSH.search(line.text)
            if m is None:
                continue
            target = _ssh_target(m.group("rest"))
            if target is None or (FileKind.SHELL in f.kinds and shell_data_line(f, line)):
                continue
            host, command = target
            remote = " ".join(command)
            heredoc = HEREDOC_OPEN.search(m.group("rest"))
            if heredoc is not None:
                remote += " " + self._heredoc_body(f, line.number, heredoc.group(1))
            elif command[:2] in (["bash", "-s"], ["sh", "-s"]) or not command:
                continue
            if not _MUTATING.search(remote):
                continue
            prod = _PROD_HOST.search(host) is not None
            yield Hit(line.number, severity=Severity.WARNING if prod else Severity.NOTICE)

    def _heredoc_body(self, f: FileUnderReview, start: int, tag: str, limit: int = 60) -> str:
        body: list[str] = []
        for number in range(start + 1, start + 1 + limit):
            text = f.line_text(number)
            if text is None or text.strip() == tag:
                break
            body.append(text)
        return "\n".join(body)


# ------------------------------------------------------------- scripts with own connections

_SCRIPT_DIRS = frozenset(
    {
        "scripts", "script", "bin", "tools", "ops", "oneoff", "one-off", "one_off", "oneoffs",
        "maintenance", "adhoc", "ad-hoc", "ad_hoc", "backfills", "backfill", "data-fixes",
        "datafixes",
    }
)  # fmt: skip
_DSN = re.compile(
    r"""(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|amqps?|mssql|sqlserver"""
    r"""|oracle)(?:\+\w+)?://(?P<rest>[^'"`\s]+)"""
)
_JDBC = re.compile(r"""jdbc:\w+:(?:thin:@)?//?(?P<rest>[^'"`\s;]+)""")
_HOST_KEY = re.compile(
    r"""['"]?\b(?:host|hostname|server)['"]?\s*(?:=>|[=:])\s*(['"])(?P<host>[^'"]+)\1"""
)
_HOST_KV = re.compile(r"""['"`][^'"`]*\bhost=(?P<host>[^\s'"`;]+)""")
_SHELL_CLIENT = re.compile(
    r"\b(?:psql|pg_dump|pg_dumpall|pg_restore|mysql|mysqldump|mongo|mongosh|mongodump|redis-cli)\b"
)
_SHELL_HOST = re.compile(r"""(?:\s-h\s*|\s--host[=\s]\s*)['"]?(?P<host>[^\s'"$;]+)""")
_CONNECT = re.compile(
    r"\b(?:psycopg2?|pymysql|MySQLdb|mysql\.connector|asyncpg|aiomysql|aiopg|pymongo|oracledb"
    r"|cx_Oracle|pyodbc|redis|pika)\.\w+\(|\b(?:MongoClient|create_engine|create_async_engine"
    r"|StrictRedis|Redis|BlockingConnection|ConnectionParameters)\(|\bconnect\(|\bPG\.connect"
    r"|PG::Connection\.new|Mysql2::Client\.new|Sequel\.connect|establish_connection|\bsql\.Open\("
    r"|\bsqlx\.(?:Open|Connect)\(|pgx(?:pool)?\.(?:Connect|New)\w*\(|mongo\.Connect\("
    r"|\bcreate(?:Connection|Pool|Client)\(|new\s+(?:Pool|Client|Sequelize|MongoClient|Redis)\("
    r"|\bknex\(|mongoose\.connect\(|DriverManager\.getConnection\("
)
_LOCAL_HOSTS = frozenset({"localhost", "0.0.0.0", "::1", "host.docker.internal"})
_REMOTE_NAME = re.compile(r"prod|prd|live|primary|replica|master", re.IGNORECASE)


def _is_script(path: str) -> bool:
    p = PurePosixPath(path)
    parts = [x.lower() for x in p.parts[:-1]]
    if any(x in _SCRIPT_DIRS for x in parts):
        return True
    joined = "/".join(parts)
    return "management/commands" in joined or "lib/tasks" in joined or p.suffix == ".rake"


def _remote_host(raw: str) -> bool:
    """True when `raw` names a real, non-local server."""
    host = raw.strip().strip("[]")
    if not host or any(c in host for c in "$%{}<>") or is_placeholder(host):
        return False
    host = host.split(":", 1)[0] if host.count(":") == 1 else host
    lowered = host.lower()
    if lowered in _LOCAL_HOSTS or lowered.startswith("127.") or is_test_like_host(lowered):
        return False
    return "." in host or _REMOTE_NAME.search(host) is not None


def _dsn_host(rest: str) -> str:
    location = rest.split("/", 1)[0].split("?", 1)[0]
    host = location.rsplit("@", 1)[-1]
    return host.split(",", 1)[0]


class ScriptOwnConnection(Rule):
    """One-off script that connects to a fixed database or broker host.

    ## What it does
    In one-off scripts (files under scripts/, bin/, tools/, ops/, maintenance/,
    management/commands/, lib/tasks/, `.rake` files) flags database or broker
    connections built from a literal remote host: connection URLs
    (`postgresql://...@db.prod.internal/shop`), JDBC URLs, `host="..."` arguments
    of a connect call, `host=...` DSN strings, and `psql -h`/`mysql -h` in shell.
    Local hosts, documentation domains and single-word service names (`db`)
    are left alone.

    ## Why it matters
    An admin process should run against a release with the same config as the
    app's long-running processes. A script that names its own server bypasses
    that config: it only works from one place, silently targets the wrong
    environment when run elsewhere, and tends to carry credentials with it.

    ## Example
    ```python
    conn = psycopg2.connect(host="db.prod.acme.internal", user="admin", password=pw)
    ```

    ## Use instead
    ```python
    conn = psycopg2.connect(os.environ["DATABASE_URL"])  # the app's config
    ```
    """

    code = "TF1204"
    name = "script-own-connection"
    factor = 12
    severity = Severity.WARNING
    kinds = frozenset(
        {FileKind.PYTHON, FileKind.JAVASCRIPT, FileKind.GO, FileKind.RUBY, FileKind.SHELL,
         FileKind.JAVA}
    )  # fmt: skip
    message = (
        "One-off script connects to a fixed host of its own; take the connection from the "
        "app's config (e.g. DATABASE_URL in the environment) instead."
    )
    _lookback: ClassVar[int] = 7  # lines above a `host=` that may open the connect call

    def check(self, f: FileUnderReview) -> Iterator[Hit]:
        if not _is_script(f.path):
            return
        shell = FileKind.SHELL in f.kinds
        connects = shell or _CONNECT.search(f.text) is not None
        for line in f.code_lines():
            if self._fixed_host(f, line, shell, connects):
                yield Hit(line.number)

    def _fixed_host(self, f: FileUnderReview, line: Line, shell: bool, connects: bool) -> bool:
        text = line.text
        for m in _DSN.finditer(text):
            if _remote_host(_dsn_host(m.group("rest"))):
                return True
        for m in _JDBC.finditer(text):
            if _remote_host(_dsn_host(m.group("rest"))):
                return True
        if shell:
            if _SHELL_CLIENT.search(text):
                return any(_remote_host(m.group("host")) for m in _SHELL_HOST.finditer(text))
            return False
        if not connects:
            return False
        if any(_remote_host(m.group("host")) for m in _HOST_KV.finditer(text)):
            return True
        hosts = [m.group("host") for m in _HOST_KEY.finditer(text)]
        return any(_remote_host(h) for h in hosts) and statement_matches(
            f, line, _CONNECT, self._lookback, (")", ";")
        )


RULES: tuple[Rule, ...] = (
    AdminTaskRoute(),
    MigrationInRequestHandler(),
    SshProductionChange(),
    ScriptOwnConnection(),
)
