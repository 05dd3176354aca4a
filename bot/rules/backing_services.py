"""Factor IV, backing services: treat backing services as attached resources.

A database, cache, queue, mail server or object store is located by config,
so a deploy can swap it without a code change. These rules look for the
location itself (scheme URL, host, host:port) written into code or bundled
app config. Credentials inside such strings are factor III's business.

Deliberately out of scope: docker-compose files (service-to-service names are
the dev/deploy wiring that *attaches* the resources), Kubernetes manifests,
Helm values, CI files, `.env` files and Dockerfile `ENV` lines (all of these
are where a deploy's config belongs), env reads with a default, placeholders,
RFC 2606 test domains, and settings files named for a dev/test/local profile.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import ClassVar

from bot.diff import Line
from bot.filetypes import FileKind
from bot.findings import Severity
from bot.rules.base import CODE_KINDS, FileUnderReview, Hit, Rule, line_trigger
from bot.rules.layout import ancestor_keys, opened_call, section_name, sibling_keys
from bot.rules.profiles import is_dev_profile
from bot.rules.values import ENV_LOOKUP, is_placeholder, is_test_like_host

# --------------------------------------------------------------------------
# Env reads, defaults and docstrings: when a literal is not the deploy's value
# --------------------------------------------------------------------------

# Env reads the shared ENV_LOOKUP does not know: helper functions named for the
# environment (getEnv, envOr, env.str), CLI flag defaults and `default=` values.
_ENV_EXTRA = re.compile(
    r"(?i:\b\w*(?:get_?env|env_?or|env_?default|from_?env|env_?var|lookup_?env|must_?env)\w*\s*\()|"
    r"\benv\.\w+\(|\bEnv\.\w+|\benvDefault:|\bflag\.\w+\(|\bdefault(?:Value)?\s*[:=]|"
    r"<%=|\{\{|%\{\w+\}|\$\(\w+\)|\bENV\b"
)


def reads_env_here(text: str) -> bool:
    """The line reads the environment, a flag, or declares a default value."""
    return ENV_LOOKUP.search(text) is not None or _ENV_EXTRA.search(text) is not None


_TRAILING_OPERATOR = re.compile(r"(?:\|\||\?\?|\bor|\?|:|=)\s*$")


def env_default_context(f: FileUnderReview, number: int, lookback: int = 4) -> bool:
    """The line continues an expression, started just above, that reads the environment.

    Covers `os.environ.get(\\n "X",\\n "redis://localhost")` (an env call still
    open above) and `process.env.X ||\\n 'mongodb://localhost'` (an operator
    ending the line above).
    """
    depth = 0
    first = True
    for k in range(number - 1, max(0, number - 1 - lookback * 2), -1):
        text = f.line_text(k)
        if text is None:
            return False
        stripped = text.strip()
        if not stripped or stripped.startswith(_COMMENT_STARTS):
            continue
        depth += text.count("(") - text.count(")")
        if reads_env_here(text) and (
            depth > 0 or (first and _TRAILING_OPERATOR.search(text.rstrip()))
        ):
            return True
        first = False
    return False


_COMMENT_STARTS = ("#", "//", "/*", "*", ";")


_ASSIGNED_NAME = re.compile(
    r"^\s*(?:(?:export|const|let|var|final|static|private|public|protected|val|readonly)\s+)*"
    r"(?:[\w.<>\[\]]+\s+)?([A-Za-z_]\w*)\s*(?::\s*[\w.\[\]| ]+)?\s*(?::?=|=>)"
)


_WORD = re.compile(r"\w+")
_ENV_WORDS: weakref.WeakKeyDictionary[FileUnderReview, dict[str, set[str]]] = (
    weakref.WeakKeyDictionary()
)


def _env_words(f: FileUnderReview) -> dict[str, set[str]]:
    """Each identifier on a line that reads the environment -> those lines (stripped)."""
    words = _ENV_WORDS.get(f)
    if words is None:
        words = {}
        for text in f.text.splitlines():
            if reads_env_here(text):
                for word in set(_WORD.findall(text)):
                    words.setdefault(word, set()).add(text.strip())
        _ENV_WORDS[f] = words
    return words


def is_named_env_default(f: FileUnderReview, line: Line) -> bool:
    """The literal is assigned to a name the file passes to an env read as its default.

    `DEFAULT_REDIS = "redis://localhost"` with `os.getenv("REDIS_URL", DEFAULT_REDIS)`.
    """
    if not f.kinds & CODE_KINDS:
        return False
    m = _ASSIGNED_NAME.match(line.text)
    if m is None or opened_call(f, line.number, _ANYTHING, 8):
        return False  # not a statement (a keyword argument or object key inside a call)
    name = m.group(1)
    if name.lower().startswith("default"):
        return True
    return bool(_env_words(f).get(name, set()) - {line.text.strip()})


_ANYTHING = re.compile("")


_TRIPLE = re.compile(r"\"\"\"|'''")
_DOCSTRINGS: weakref.WeakKeyDictionary[FileUnderReview, frozenset[int]] = (
    weakref.WeakKeyDictionary()
)


def in_python_string_block(f: FileUnderReview, number: int) -> bool:
    """The Python line is inside (or opens/closes) a triple-quoted string: prose, not code.

    Only decided when the whole file is known (every line up to `number` is visible).
    """
    if FileKind.PYTHON not in f.kinds:
        return False
    inside = _DOCSTRINGS.get(f)
    if inside is None:
        numbers: set[int] = set()
        lines = f.text.split("\n")
        if f.line_text(1) is not None and f.line_text(len(lines)) == lines[-1]:
            quote: str | None = None
            for n, text in enumerate(lines, start=1):
                marks = _TRIPLE.findall(text)
                if quote is not None or marks:
                    numbers.add(n)
                for mark in marks:
                    if quote is None:
                        quote = mark
                    elif mark == quote:
                        quote = None
        inside = _DOCSTRINGS[f] = frozenset(numbers)
    return number in inside


# --------------------------------------------------------------------------
# Host judgement
# --------------------------------------------------------------------------

_HOSTNAME = re.compile(
    r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9_-]{0,62}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9_-]{0,62}[A-Za-z0-9])?)*)$"
)
_WORD_HOSTS = frozenset(
    {"host", "hostname", "server", "servername", "domain", "ip", "address", "addr", "dbhost",
     "db_host", "db-host", "myhost", "somehost", "your_host", "yourhost", "remote", "unix",
     "none", "null", "true", "false"}
)  # fmt: skip
_BIND_ALL = frozenset({"0.0.0.0", "::", "[::]", "*"})
_LOOPBACK = re.compile(r"^(?:localhost|127(?:\.\d{1,3}){3}|\[?::1\]?)$", re.IGNORECASE)


def split_host(hostport: str) -> str:
    """`db:5432` -> `db`, `[::1]:6379` -> `[::1]`, `a:1,b:2` -> `a`."""
    first = hostport.split(",", 1)[0].strip()
    if first.startswith("["):
        return first.split("]", 1)[0] + "]"
    host, sep, port = first.rpartition(":")
    if sep and port.isdigit():
        return host
    return first


def is_fixed_host(host: str) -> bool:
    """A literal network location: not a template, placeholder, bind address or test domain."""
    h = host.strip().strip("\"'`")
    if not h or h in _BIND_ALL or not _HOSTNAME.match(h):
        return False
    if h.lower() in _WORD_HOSTS or is_placeholder(h) or is_test_like_host(h):
        return False
    # `DB_HOST`, `REDIS_HOST`: a variable's name quoted, not a host.
    return not (h.isupper() and "_" in h)


def is_loopback(host: str) -> bool:
    return bool(_LOOPBACK.match(host.strip()))


# --------------------------------------------------------------------------
# Where factor IV rules look
# --------------------------------------------------------------------------

_DEPLOY_DIRS = frozenset(
    {".github", ".gitlab", ".circleci", ".buildkite", ".devcontainer", ".vscode", ".idea",
     ".ci", "ci", "deploy", "deployment", "deployments", "k8s", "kubernetes", "kube", "helm",
     "charts", "kustomize", "manifests", "ansible", "terraform", "infra", "infrastructure",
     "ops", "playbooks", "roles", "group_vars", "host_vars", "inventory", "inventories",
     "docker", ".docker"}
)  # fmt: skip
_TOOL_FILES = re.compile(
    r"^(?:\.gitlab-ci|\.travis|azure-pipelines|bitbucket-pipelines|appveyor|cloudbuild|"
    r"codeship-\w+|serverless|fly|render|netlify|vercel|now|package|package-lock|"
    r"composer|tsconfig|jsconfig|renovate|pyproject|setup|tox|pytest|\.pre-commit-config|"
    r"mkdocs|cargo|lerna|nx|turbo|angular|project|launch|tasks|devcontainer|"
    r"(?:docker-)?compose[\w.-]*|values[\w.-]*|kustomization|chart|skaffold|tilt\w*|"
    r"fabfile|noxfile|conftest|manage)\.(?:ya?ml|json|toml|ini|cfg|py)$",
    re.IGNORECASE,
)
_LONG_LINE = 400  # minified or generated code
_APP_ENGINE = frozenset({"app.yaml", "app.yml", "app.json"})  # GAE / Heroku deploy descriptors
_VENDORED_DIRS = frozenset(
    {"node_modules", "vendor", "third_party", "third-party", "bower_components", "dist"}
)
_DEV_SCRIPT_DIRS = frozenset({"scripts", "script", "tools", "bin", "hack", "dev", "local"})

_CONFIG_KINDS = frozenset(
    {FileKind.PROPERTIES, FileKind.YAML, FileKind.INI, FileKind.TOML, FileKind.JSON}
)
_WIRING_KINDS = frozenset(
    {FileKind.COMPOSE, FileKind.KUBERNETES, FileKind.ENV, FileKind.DOCKERFILE, FileKind.SHELL,
     FileKind.SUPERVISOR, FileKind.LOGGING_CONFIG, FileKind.PACKAGE_JSON, FileKind.PIPFILE,
     FileKind.REQUIREMENTS, FileKind.GEMFILE}
)  # fmt: skip


def _app_file(f: FileUnderReview) -> bool:
    """Code or bundled app config, not deploy wiring, CI, tooling or a dev profile."""
    if f.kinds & _WIRING_KINDS:
        return False
    p = PurePosixPath(f.path)
    if any(part.lower() in _DEPLOY_DIRS | _VENDORED_DIRS for part in p.parts[:-1]):
        return False
    if ".min." in p.name:
        return False
    if _TOOL_FILES.match(p.name) or p.name.lower() in _APP_ENGINE:
        return False
    return not is_dev_profile(f.path)


def _dev_script(path: str) -> bool:
    return any(part.lower() in _DEV_SCRIPT_DIRS for part in PurePosixPath(path).parts[:-1])


def _env_or_default(f: FileUnderReview, line: Line) -> bool:
    return (
        reads_env_here(line.text)
        or env_default_context(f, line.number)
        or is_named_env_default(f, line)
    )


_PYDANTIC_FIELD = re.compile(r"^\s+\w+\s*:\s*[\w.\[\]| ]+=\s*")


def _settings_class_field(f: FileUnderReview, line: Line) -> bool:
    """A pydantic BaseSettings field: its value is a default the environment overrides."""
    return (
        FileKind.PYTHON in f.kinds
        and "BaseSettings" in f.text
        and _PYDANTIC_FIELD.match(line.text) is not None
    )


def _quiet(f: FileUnderReview, line: Line, host: str) -> bool:
    """Shared reasons for a factor IV rule to stay silent about this host on this line."""
    if not is_fixed_host(host):
        return True
    if is_loopback(host) and _dev_script(f.path):
        return True
    if in_python_string_block(f, line.number):
        return True  # docstring examples
    return _env_or_default(f, line) or _settings_class_field(f, line)


# --------------------------------------------------------------------------
# TF0401: backing-service URL literals
# --------------------------------------------------------------------------

_SERVICE_SCHEME = (
    r"(?:postgres(?:ql)?|postgis|cockroach(?:db)?|mysql|mariadb|mssql|sqlserver|oracle|"
    r"mongodb|rediss?|valkey|amqps?|memcached?|smtps?|nats|kafka|cassandra|neo4j|bolt|"
    r"clickhouse|couchdb|influxdb|elasticsearch|opensearch)(?:\+[\w-]+)?"
)
_JDBC = r"jdbc:(?:(?:postgresql|mysql|mariadb|sqlserver|db2|redshift|clickhouse):|oracle:thin:@)"
_SERVICE_URL = re.compile(
    rf"(?P<pre>.?)(?P<scheme>{_JDBC}|(?<![\w+.-]){_SERVICE_SCHEME}:)//(?P<rest>[^\s'\"`<>;)\]}}]*)",
    re.IGNORECASE,
)
_ORACLE_THIN = re.compile(r"(?P<pre>.?)jdbc:oracle:thin:@(?P<rest>[\w.-]+:\d+)", re.IGNORECASE)
_QUOTES = "'\"`"


def url_host(rest: str) -> str:
    """The (first) host of the authority part of a URL after `scheme://`."""
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    hostpart = authority.rpartition("@")[2]
    return split_host(hostpart)


def service_url_match(f: FileUnderReview, line: Line) -> tuple[re.Match[str], str] | None:
    """The first backing-service URL on the line with a literal host."""
    code = bool(f.kinds & CODE_KINDS)
    quotes = _QUOTES if f.kinds & {FileKind.JAVASCRIPT, FileKind.GO} else _QUOTES[:2]
    for pattern in (_SERVICE_URL, _ORACLE_THIN):
        for m in pattern.finditer(line.text):
            pre = m.group("pre")
            # In code the URL must open a string literal, so prose in comments is left alone.
            if code and (not pre or pre not in quotes):
                continue
            host = url_host(m.group("rest"))
            if host:
                return m, host
    return None


class BackingServiceUrl(Rule):
    """A backing service's URL written into code or bundled app config.

    ## What it does
    Flags string literals such as `postgres://db.internal/app`, `redis://localhost:6379`,
    `mongodb://localhost:27017/app`, `amqp://guest@rabbit:5672` or
    `jdbc:postgresql://db.internal:5432/app` in Python, JS/TS, Go, Java/Kotlin and Ruby
    code and in app config (`application.properties`/`.yml`, `.ini`, `.toml`, JSON).
    It stays quiet when the line reads the environment or declares a default
    (`os.environ.get("REDIS_URL", "redis://localhost:6379")`,
    `process.env.DATABASE_URL || "postgres://localhost/dev"`, `${JDBC_URL:...}`), for
    templated hosts, test domains, and in dev/test profile files, compose files,
    Kubernetes manifests and `.env` files.

    ## Why it matters
    A backing service is an attached resource: the deploy says where it is, and the
    code only asks. A URL fixed in the code ties every deploy to one database or broker,
    so swapping it (a replica, a managed service, a restored backup) needs a new build.

    ## Example
    ```python
    engine = create_engine("postgresql://db.internal:5432/app")
    ```

    ## Use instead
    ```python
    engine = create_engine(os.environ["DATABASE_URL"])
    ```
    """

    code = "TF0401"
    name = "hardcoded-backing-service-url"
    factor = 4
    severity = Severity.WARNING
    kinds = CODE_KINDS | _CONFIG_KINDS
    message = (
        "Backing-service URL hard-coded; read its location from the environment "
        "(e.g. DATABASE_URL) so a deploy can attach another one."
    )
    _prefilter: ClassVar[re.Pattern[str]] = re.compile(r"://|jdbc:", re.IGNORECASE)
    trigger = line_trigger(_prefilter)

    def check(self, f: FileUnderReview) -> Iterator[Hit]:
        if not _app_file(f):
            return
        for line in f.code_lines():
            if len(line.text) > _LONG_LINE or not self._prefilter.search(line.text):
                continue
            found = service_url_match(f, line)
            if found is None or _quiet(f, line, found[1]):
                continue
            yield Hit(line.number)


# --------------------------------------------------------------------------
# TF0402: hosts handed to client libraries
# --------------------------------------------------------------------------

_Q = r"(['\"`])"
_LIT = r"(?P<host>[^'\"`\s]+?)"
_CLOSE = r"(?::\d+)?\1"

_PY_CLIENT_CALL = re.compile(
    r"\b(?:(?:Strict)?Redis(?:Cluster)?|ConnectionPool|MongoClient|AsyncIOMotorClient|"
    r"ConnectionParameters|SMTP(?:_SSL)?|Minio|Elasticsearch|OpenSearch|KafkaProducer|"
    r"KafkaConsumer|AIOKafka\w+|PooledClient|HashClient|"
    r"(?:psycopg2?|pymysql|MySQLdb|asyncpg|aiomysql|aiopg|connector|pymssql|cx_Oracle|"
    r"oracledb|pika|mariadb|aioredis|redis|motor)\.(?:connect|create_pool|from_url)|"
    r"create_pool|boto3\.(?:client|resource))\s*\("
)
_JS_CLIENT_CALL = re.compile(
    r"\b(?:createClient|createConnection|createPool|createTransport|createCluster|"
    r"new\s+(?:Redis|IORedis|Pool|Client|Sequelize|Kafka|Minio\.Client|DataSource|Cluster|"
    r"MongoClient|S3Client|S3|AWS\.S3|Memcached)|knex|DataSource|mysql\w*\.create\w+)\s*\("
)
_RUBY_CLIENT_CALL = re.compile(
    r"\b(?:Redis|Bunny|Dalli::Client|Mongo::Client|Mysql2::Client|PG|Sequel|"
    r"Aws::S3::Client|ConnectionPool)\.(?:new|connect)\b"
)

_HOST_KWARG = {
    FileKind.PYTHON: re.compile(rf"\b(?:host|hostname|server)\s*=\s*{_Q}{_LIT}{_CLOSE}"),
    FileKind.JAVASCRIPT: re.compile(rf"\b(?:host|hostname|endPoint)\s*:\s*{_Q}{_LIT}{_CLOSE}"),
    FileKind.RUBY: re.compile(rf"(?:\bhost:|[:'\"]host['\"]?\s*=>)\s*{_Q}{_LIT}{_CLOSE}"),
}
_CALL_OPENER = {
    FileKind.PYTHON: _PY_CLIENT_CALL,
    FileKind.JAVASCRIPT: _JS_CLIENT_CALL,
    FileKind.RUBY: _RUBY_CLIENT_CALL,
}

# Calls whose first (or a fixed) argument is the location itself.
_POSITIONAL: dict[FileKind, tuple[re.Pattern[str], ...]] = {
    FileKind.PYTHON: (
        re.compile(rf"\bSMTP(?:_SSL)?\(\s*{_Q}{_LIT}{_CLOSE}"),
        re.compile(
            rf"\b(?:MongoClient|AsyncIOMotorClient|ConnectionParameters)\(\s*{_Q}{_LIT}{_CLOSE}"
        ),
        re.compile(rf"\bmemcache\w*\.Client\(\s*\[\s*{_Q}{_LIT}{_CLOSE}"),
        re.compile(rf"\b(?:base\.)?(?:Pooled|Hash)?Client\(\s*\(\s*{_Q}{_LIT}\1\s*,\s*\d+\s*\)"),
        re.compile(
            rf"\b(?:Elasticsearch|OpenSearch)\(\s*\[?\s*{_Q}https?://{_LIT}(?::\d+)?(?:/[^'\"`]*)?\1"
        ),
        re.compile(rf"\bendpoint_url\s*=\s*{_Q}https?://{_LIT}(?::\d+)?(?:/[^'\"`]*)?\1"),
        re.compile(rf"\bbootstrap_servers\s*=\s*\[?\s*{_Q}{_LIT}{_CLOSE}"),
        re.compile(rf"\bMinio\(\s*{_Q}{_LIT}{_CLOSE}"),
    ),
    FileKind.JAVASCRIPT: (
        re.compile(rf"\bnew\s+(?:Redis|IORedis)\(\s*\d+\s*,\s*{_Q}{_LIT}\1"),
        re.compile(rf"\bnew\s+Memcached\(\s*\[?\s*{_Q}{_LIT}{_CLOSE}"),
        re.compile(rf"\bendpoint\s*:\s*{_Q}https?://{_LIT}(?::\d+)?(?:/[^'\"`]*)?\1"),
        re.compile(rf"\bbrokers\s*:\s*\[\s*{_Q}{_LIT}{_CLOSE}"),
        re.compile(rf"\bnode\s*:\s*{_Q}https?://{_LIT}(?::\d+)?(?:/[^'\"`]*)?\1"),
    ),
    FileKind.GO: (
        re.compile(rf"\bAddrs?\s*:\s*(?:\[\]string\{{\s*)?{_Q}{_LIT}:\d+\1"),
        re.compile(rf"\bsmtp\.(?:SendMail|Dial)\(\s*{_Q}{_LIT}:\d+\1"),
        re.compile(rf"\bNewDialer\(\s*{_Q}{_LIT}\1\s*,"),
        re.compile(rf"\bmgo\.Dial\(\s*{_Q}{_LIT}{_CLOSE}"),
        re.compile(rf"\bminio\.New\(\s*{_Q}{_LIT}{_CLOSE}"),
        re.compile(rf"\bmemcache\.New\(\s*{_Q}{_LIT}:\d+\1"),
        re.compile(rf"\bBrokers\s*:\s*\[\]string\{{\s*{_Q}{_LIT}:\d+\1"),
        re.compile(rf"\bsarama\.New\w+\(\s*\[\]string\{{\s*{_Q}{_LIT}:\d+\1"),
        re.compile(rf"{_Q}bootstrap\.servers\1\s*:\s*{_Q}{_LIT}:\d+\2"),
    ),
    FileKind.JAVA: (
        re.compile(
            rf"\bnew\s+(?:Jedis|JedisPool|JedisPooled|JedisCluster|JedisShardInfo|MongoClient|"
            rf"ServerAddress|HostAndPort|RedisStandaloneConfiguration|RedisURI)\s*"
            rf"\((?:[^\"()]*,\s*)?{_Q}{_LIT}\1"
        ),
        re.compile(rf"\bput\w*\(\s*{_Q}mail\.smtps?\.host\1\s*,\s*{_Q}(?P<host>[^\"]+?)\2"),
        re.compile(
            rf"\bput\w*\(\s*(?:(?:ProducerConfig|ConsumerConfig|AdminClientConfig|"
            rf"CommonClientConfigs|StreamsConfig)\.BOOTSTRAP_SERVERS_CONFIG|\"bootstrap\.servers\")"
            rf"\s*,\s*{_Q}{_LIT}:\d+"
        ),
    ),
    FileKind.RUBY: (
        re.compile(rf"\bDalli::Client\.new\(\s*\[?\s*{_Q}{_LIT}{_CLOSE}"),
        re.compile(rf":mem_cache_store\s*,\s*{_Q}{_LIT}{_CLOSE}"),
        re.compile(rf"\bsmtp_settings\s*=\s*\{{[^}}]*\baddress:\s*{_Q}{_LIT}\1"),
    ),
}
_JAVA_SET_HOST = re.compile(rf"\.setHost(?:Name)?\(\s*{_Q}{_LIT}\1\s*\)")
_JAVA_SET_HOST_CONTEXT = re.compile(
    r"ConnectionFactory|JavaMailSender|Redis\w*Configuration|MailSender|Jedis"
)
# libpq keyword DSNs and MySQL DSNs inside a string literal, any language.
_LIBPQ_DSN = re.compile(r"['\"`][^'\"`]*?\bhost=(?P<host>[\w.-]+)[^'\"`]*['\"`]")
_LIBPQ_HINT = re.compile(r"\b(?:dbname|user|sslmode|port|password)=")
_MYSQL_DSN = re.compile(r"['\"`][^'\"`\s]*@tcp\((?P<host>[^:)'\"`]+)(?::\d+)?\)")


def client_host_match(f: FileUnderReview, line: Line) -> str | None:
    """The literal host this line hands to a backing-service client, if any."""
    text = line.text
    for kind in f.kinds & CODE_KINDS:
        kwarg = _HOST_KWARG.get(kind)
        if kwarg is not None:
            m = kwarg.search(text)
            opener = _CALL_OPENER[kind]
            if m and (opener.search(text) or opened_call(f, line.number, opener, 8)):
                return m.group("host")
        for pattern in _POSITIONAL.get(kind, ()):
            m = pattern.search(text)
            if m:
                return m.group("host")
        if kind is FileKind.JAVA:
            m = _JAVA_SET_HOST.search(text)
            if m and _JAVA_SET_HOST_CONTEXT.search(f.text):
                return m.group("host")
    m = _LIBPQ_DSN.search(text)
    if m and _LIBPQ_HINT.search(m.group(0)):
        return m.group("host")
    m = _MYSQL_DSN.search(text)
    if m:
        return m.group("host")
    return None


class BackingServiceClientHost(Rule):
    """A backing-service client built with a literal host.

    ## What it does
    Flags literal hosts handed to database, cache, queue, mail and object-store
    clients: `redis.Redis(host="localhost")`, `psycopg2.connect("host=10.0.0.5 ...")`,
    `smtplib.SMTP("smtp.gmail.com", 587)`, `boto3.client("s3", endpoint_url="http://minio:9000")`,
    `createClient({ host: "redis" })`, `nodemailer.createTransport({ host: ... })`,
    Go `redis.Options{Addr: "localhost:6379"}` and `smtp.SendMail("smtp.x.com:587", ...)`,
    MySQL `user@tcp(db:3306)/app` DSNs, Java `new Jedis("localhost", 6379)` and
    `props.put("mail.smtp.host", ...)`, Ruby `Redis.new(host: ...)`. The same quiet
    cases as TF0401 apply (env reads and defaults, placeholders, test domains).

    ## Why it matters
    Where a database, cache, broker or SMTP server lives is deploy config: with the
    host in the code, each environment needs a code change to attach its own resource,
    and a failed-over or migrated service cannot be swapped in by configuration alone.

    ## Example
    ```python
    cache = redis.Redis(host="10.0.0.12", port=6379)
    mailer = smtplib.SMTP("smtp.gmail.com", 587)
    ```

    ## Use instead
    ```python
    cache = redis.Redis.from_url(os.environ["REDIS_URL"])
    mailer = smtplib.SMTP(os.environ["SMTP_HOST"], int(os.environ.get("SMTP_PORT", "587")))
    ```
    """

    code = "TF0402"
    name = "hardcoded-backing-service-host"
    factor = 4
    severity = Severity.WARNING
    kinds = CODE_KINDS
    message = (
        "Backing-service client built with a hard-coded host; take the host (or a URL) "
        "from the environment."
    )
    _prefilter: ClassVar[re.Pattern[str]] = re.compile(
        r"host|Host|SMTP|smtp|SendMail|Addr|endpoint|endPoint|tcp\(|bootstrap|BOOTSTRAP|[Bb]rokers|Dial|Client|"
        r"Jedis|mem_cache_store|Minio|minio|memcache|Memcached|Elasticsearch|OpenSearch|"
        r"ServerAddress|\bnode\s*:|smtp_settings|Redis\("
    )
    trigger = line_trigger(_prefilter)

    def check(self, f: FileUnderReview) -> Iterator[Hit]:
        if not _app_file(f):
            return
        for line in f.code_lines():
            if len(line.text) > _LONG_LINE or not self._prefilter.search(line.text):
                continue
            host = client_host_match(f, line)
            if host is None or _quiet(f, line, host) or service_url_match(f, line):
                continue
            yield Hit(line.number)


# --------------------------------------------------------------------------
# TF0403: host settings in service config blocks
# --------------------------------------------------------------------------

_SERVICE_WORD = re.compile(
    r"(?i)(?:^|[^a-z])db|db(?:$|[^a-z])|^db|redis|valkey|rabbit|amqp|mongo|mail|smtp|"
    r"datasource|database|postgres|mysql|maria|memcache|cache|queue|broker|kafka|elastic|"
    r"opensearch|solr|minio|\bs3\b|^s3|cassandra|nats|celery|sidekiq|connection|sql"
)
_DEV_KEYS = frozenset({"development", "dev", "test", "testing", "local", "ci"})
_DB_SIBLINGS = frozenset({"adapter", "dialect", "driver", "engine", "dbname", "db_name"})
_HOST_KEY = re.compile(
    r"""^\s*(?:-\s+)?:?['"]?(?P<key>host|hostname|server|address|addr|addrs|hosts|endpoint|
        bootstrap[_.-]?servers|brokers|nodes|url|uri|uris)['"]?
        \s*(?:=>|[:=])\s*(?P<value>.+?)\s*,?\s*$""",
    re.VERBOSE | re.IGNORECASE,
)
_HTTP_ONLY_KEYS = frozenset({"url", "uri", "uris", "endpoint", "nodes"})
_HTTP_SERVICE_WORD = re.compile(r"(?i)elastic|opensearch|solr|minio|\bs3\b|^s3|storage")
_PROPERTY = re.compile(r"^\s*(?P<key>[\w.\-\[\]]+)\s*[=:]\s*(?P<value>.*?)\s*$")
_PROPERTY_HOST_SUFFIX = re.compile(
    r"(?i)[.-](?:host|hostname|address|addresses|hosts|bootstrap-servers|bootstrap\.servers|"
    r"contact-points|nodes|endpoint|uris?)$"
)
_DJANGO_HOST = re.compile(
    rf"^\s*(?:EMAIL_HOST\s*=|['\"](?:HOST|LOCATION)['\"]\s*:)\s*{_Q}(?P<host>[^'\"]+)\1"
)
_VALUE = re.compile(r"""^\[?\s*(?P<q>['"`]?)(?P<v>[^'"`\s,\]#}]+)(?P=q)""")


def _first_value(raw: str, quoted: bool) -> str | None:
    """The first literal of a setting's value; None when it is an expression."""
    m = _VALUE.match(raw.strip())
    if m is None or (quoted and not m.group("q")):
        return None
    return m.group("v")


def _value_host(key: str, value: str) -> str | None:
    lowered = key.lower()
    if value.lower().startswith(("http://", "https://")):
        return url_host(value.split("://", 1)[1])
    if lowered in _HTTP_ONLY_KEYS or "://" in value or "/" in value:
        return None
    return split_host(value)


def setting_host_match(f: FileUnderReview, line: Line) -> str | None:
    """The literal host a config setting on this line names, if it is a service's."""
    text = line.text
    if FileKind.PYTHON in f.kinds:
        m = _DJANGO_HOST.search(text)
        if m is None:
            return None
        if m.group(0).lstrip().startswith(("'LOCATION'", '"LOCATION"')) and not re.search(
            r":\d+$", m.group("host")
        ):
            return None
        if "EMAIL_HOST" in m.group(0) or re.search(r"DATABASES|CACHES", f.text):
            return split_host(m.group("host"))
        return None
    if FileKind.PROPERTIES in f.kinds:
        m = _PROPERTY.match(text)
        if m is None:
            return None
        key = m.group("key")
        if not _PROPERTY_HOST_SUFFIX.search(key) or not _SERVICE_WORD.search(key):
            return None
        value = _first_value(m.group("value"), quoted=False)
        return None if value is None else _value_host(key.rsplit(".", 1)[-1], value)
    m = _HOST_KEY.match(text)
    if m is None:
        return None
    key = m.group("key").lower()
    quoted = bool(f.kinds & (CODE_KINDS | {FileKind.JSON}))
    value = _first_value(m.group("value"), quoted)
    if value is None:
        return None
    if f.kinds & {FileKind.INI, FileKind.TOML}:
        section = section_name(f, line.number)
        scope = [] if section is None else re.split(r"[.\s]+", section)
    else:
        scope = ancestor_keys(f, line.number)
        if FileKind.YAML in f.kinds or FileKind.JSON in f.kinds:
            scope.append(PurePosixPath(f.path).stem.lower())  # database.yml, redis.yml
    if set(scope) & _DEV_KEYS:
        return None
    word = _HTTP_SERVICE_WORD if key in _HTTP_ONLY_KEYS else _SERVICE_WORD
    in_service = any(word.search(k) for k in scope) or (
        key not in _HTTP_ONLY_KEYS and bool(sibling_keys(f, line.number) & _DB_SIBLINGS)
    )
    return _value_host(key, value) if in_service else None


class BackingServiceHostSetting(Rule):
    """A backing service's host fixed in a settings block.

    ## What it does
    Flags a literal host in the settings of a database, cache, queue, mail or search
    service: Spring-style properties (`spring.redis.host=10.0.0.7`,
    `spring.kafka.bootstrap-servers=kafka:9092`, `spring.mail.host=...`), YAML/JSON
    blocks (`redis:` / `database:` / `production:` in `database.yml` ... `host: db.internal`),
    INI/TOML sections (`[database]` `host = db.internal`), Django `DATABASES` `"HOST"`,
    `CACHES` `"LOCATION": "10.0.0.5:11211"` and `EMAIL_HOST`, Ruby `smtp_settings`
    `address:` and JS config objects (`db: { host: "..." }`). Blocks under a
    `development`/`test`/`local` key and dev-profile files are left alone.

    ## Why it matters
    Settings that pin a service's host make the app's bundled config the place a deploy
    is decided; the twelve-factor app keeps that in the environment so the same build can
    be attached to a different database or mail relay without a change.

    ## Example
    ```properties
    spring.redis.host=10.0.0.7
    spring.mail.host=smtp.gmail.com
    ```

    ## Use instead
    ```properties
    spring.redis.host=${REDIS_HOST}
    spring.mail.host=${SMTP_HOST}
    ```
    """

    code = "TF0403"
    name = "hardcoded-backing-service-setting"
    factor = 4
    severity = Severity.WARNING
    kinds = CODE_KINDS | _CONFIG_KINDS
    message = (
        "Backing-service host fixed in settings; set it from the environment "
        "(e.g. ${DB_HOST}) instead."
    )
    _prefilter: ClassVar[re.Pattern[str]] = re.compile(
        r"(?i)host|server|addr|endpoint|bootstrap|brokers|nodes|ur[il]|location|contact-points"
    )
    trigger = line_trigger(_prefilter)

    def check(self, f: FileUnderReview) -> Iterator[Hit]:
        if not _app_file(f):
            return
        for line in f.code_lines():
            if len(line.text) > _LONG_LINE or not self._prefilter.search(line.text):
                continue
            host = setting_host_match(f, line)
            if host is None or _quiet(f, line, host):
                continue
            if service_url_match(f, line) or (
                f.kinds & CODE_KINDS and client_host_match(f, line) is not None
            ):
                continue  # TF0401 / TF0402 already speak for this line
            yield Hit(line.number)


RULES: tuple[Rule, ...] = (
    BackingServiceUrl(),
    BackingServiceClientHost(),
    BackingServiceHostSetting(),
)
