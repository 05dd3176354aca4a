"""Factor X, dev/prod parity: keep development, staging and production as similar as possible.

The rules here look for one kind of gap the factor names explicitly: a lighter
backing service (SQLite, an in-memory database, a process-local cache or an
inline task queue) standing in for the real one outside production, chosen by
a branch on the environment's name, by a development-only settings file, or
by per-environment sections of a database config.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import ClassVar

from bot.diff import Line
from bot.filetypes import FileKind, comment_prefixes
from bot.findings import Severity
from bot.rules.base import FileUnderReview, Hit, Rule
from bot.rules.layout import indent_width

# --- what a stand-in backing service looks like -------------------------------------------

_DATABASE = "database"
_CACHE = "cache"
_QUEUE = "queue"

_STANDINS: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    ("SQLite", _DATABASE, re.compile(r"sqlite", re.I)),
    (
        "an in-memory database",
        _DATABASE,
        re.compile(
            r":memory:|jdbc:(?:h2|hsqldb|derby):|\borg\.h2\.Driver\b|\bH2Dialect\b"
            r"|\bEmbeddedDatabase(?:Builder|Type)\b|\bmongomock\b|\bMongoMemoryServer\b"
            r"|mongodb-memory-server|\bpg-mem\b|\bUseInMemoryDatabase\b"
        ),
    ),
    (
        "an in-process cache",
        _CACHE,
        re.compile(
            r"\bLocMemCache\b|\blocmem\b(?!\.EmailBackend)|\bDummyCache\b|\bFileBasedCache\b"
            r"|:memory_store\b|:file_store\b|\bMemoryStore\b|\bmemorystore\b"
            r"|\bConcurrentMapCacheManager\b|\bfakeredis\b|\bminiredis\b|ioredis-mock|redis-mock"
            r"|\bmemstore\b|\bcachelib\.SimpleCache\b|caching\(\s*['\"]memory['\"]"
            r"|CACHE_TYPE['\"]?\s*[:=]\s*['\"](?:simple|SimpleCache|null|NullCache|filesystem"
            r"|FileSystemCache)['\"]"
        ),
    ),
    (
        "an in-process task queue",
        _QUEUE,
        re.compile(
            r"always_eager['\"]?\s*[:=]\s*True\b|\bmemory://|\bqueue_adapter\s*=\s*:(?:inline|async)\b",
            re.I,
        ),
    ),
)

# A line that takes its value from the environment (a default there is only a fallback).
_ENV_READ = re.compile(
    r"os\.environ|os\.getenv|\bgetenv\(|process\.env|import\.meta\.env|Deno\.env|System\.getenv"
    r"|\bENV\[|\bENV\.fetch|os\.Getenv|os\.LookupEnv|\$\{\w+|\benv\(\s*['\"]|\bconfig\(\s*['\"]"
    r"|\bdj_database_url\.config\(|\benv\.(?:db|db_url|cache|cache_url|str|url)\("
)


# Substrings that every stand-in pattern contains (lower-cased): a cheap first test.
_STANDIN_WORDS = (
    "sqlite", "memory", "mem:", "h2", "hsqldb", "derby", "embeddeddatabase", "mongomock",
    "pg-mem", "locmem", "dummycache", "filebasedcache", "file_store", "concurrentmap",
    "fakeredis", "miniredis", "redis-mock", "memstore", "simplecache", "cache_type", "eager",
    "queue_adapter",
)  # fmt: skip

# Substrings of every condition that can name an environment (lower-cased).
_ENV_WORDS_HINT = ("env", "stage", "profile", "debug", "prod", "dev", "local", "test")


def _may_have_standin(text: str) -> bool:
    low = text.lower()
    return any(word in low for word in _STANDIN_WORDS)


def _may_name_environment(text: str) -> bool:
    low = text.lower()
    return any(word in low for word in _ENV_WORDS_HINT)


def _standin(text: str) -> tuple[str, str] | None:
    """(label, category) of the stand-in service a piece of code selects, if any."""
    if not _may_have_standin(text) or _ENV_READ.search(text):
        return None
    for label, category, pattern in _STANDINS:
        if pattern.search(text):
            return label, category
    return None


# --- which environment a condition names ---------------------------------------------------

_PROD, _STAGING, _DEV, _TEST = "prod", "staging", "dev", "test"
_ALL = frozenset({_PROD, _STAGING, _DEV, _TEST})
_NONE: frozenset[str] = frozenset()

_ENV_WORDS = {
    "prod": _PROD, "production": _PROD, "prd": _PROD, "live": _PROD,
    "staging": _STAGING, "stage": _STAGING, "preprod": _STAGING, "uat": _STAGING,
    "dev": _DEV, "develop": _DEV, "development": _DEV, "devel": _DEV, "local": _DEV,
    "test": _TEST, "testing": _TEST, "ci": _TEST,
}  # fmt: skip
_WORDS = "|".join(sorted(_ENV_WORDS, key=len, reverse=True))
_QUOTED_ENV = re.compile(rf"(['\"`])!?({_WORDS})\1", re.I)
_SYMBOL_ENV = re.compile(rf"(?<![\w:]):({_WORDS})\b", re.I)
_FLAGS: tuple[tuple[re.Pattern[str], frozenset[str]], ...] = (
    (
        re.compile(
            r"(?<![\w'\"])(?:DEBUG|DEVELOPMENT|IS_DEV|IS_LOCAL|IS_DEVELOPMENT)(?![\w'\"])"
            r"|\[\s*['\"]DEBUG['\"]\s*\]|\b\w+\(\s*['\"]DEBUG['\"]|\bapp\.debug\b|__DEV__|\bimport\.meta\.env\.DEV\b"
            r"|\b(?:is|in)_?(?:[Dd]ev|[Dd]evelopment|[Ll]ocal)\b|\.(?:development|local)\?"
        ),
        frozenset({_DEV}),
    ),
    (
        re.compile(
            r"(?<![\w'\"])(?:PRODUCTION|IS_PROD|IS_PRODUCTION|IN_PRODUCTION)(?![\w'\"])"
            r"|\bimport\.meta\.env\.PROD\b|\b(?:is|in)_?(?:[Pp]rod|[Pp]roduction)\b|\.production\?"
        ),
        frozenset({_PROD}),
    ),
    (re.compile(r"\.staging\?"), frozenset({_STAGING})),
    (
        re.compile(r"\.test\?|\b(?:is|IS)_?(?:[Tt]est|TEST|[Tt]esting)\b|(?<![\w'\"])TESTING\b"),
        frozenset({_TEST}),
    ),
)
# Accessors that contain "env" but say nothing about which variable is read.
_ACCESSORS = re.compile(
    r"\b(?:process|import\.meta|Deno|ctx|context|globalThis)\.env\.|\bget[eE]nv\b"
    r"|\bENV(?=\[|\.fetch)|\bos\.environ\b"
)
_SUBJECT = re.compile(r"\b\w*(?:env|environment|stage|profiles?)\b", re.I)
_NEGATION = re.compile(r"!=|\bnot\b|\bunless\b|!(?=\s*[\w(\"'`])")


def _env_classes(cond: str) -> frozenset[str]:
    """Environments a condition names; empty when it is not about the environment."""
    flagged: set[str] = set()
    for pattern, classes in _FLAGS:
        if pattern.search(cond):
            flagged |= classes
    named = {_ENV_WORDS[m.group(2).lower()] for m in _QUOTED_ENV.finditer(cond)}
    named |= {_ENV_WORDS[m.group(1).lower()] for m in _SYMBOL_ENV.finditer(cond)}
    if named and _SUBJECT.search(_ACCESSORS.sub(" ", cond)):
        flagged |= named
    return frozenset(flagged)


def _applies(cond: str, negated: bool = False) -> frozenset[str]:
    """Environments in which a branch guarded by `cond` runs."""
    classes = _env_classes(cond)
    if not classes:
        return _NONE
    if negated or _NEGATION.search(cond):
        return _ALL - classes
    return classes


def _label_classes(label: str) -> frozenset[str]:
    """Environments a `case "dev":` / `when :production` label names."""
    named = {_ENV_WORDS[m.group(2).lower()] for m in _QUOTED_ENV.finditer(label)}
    named |= {_ENV_WORDS[m.group(1).lower()] for m in _SYMBOL_ENV.finditer(label)}
    return frozenset(named)


# --- a small, quote-aware scanner -----------------------------------------------------------


def _scan(text: str, start: int = 0) -> Iterator[tuple[int, str, int]]:
    """(index, char, depth) of every character outside string literals."""
    depth = 0
    quote = ""
    i = start
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
        elif ch in "([{":
            yield i, ch, depth
            depth += 1
        elif ch in ")]}":
            depth -= 1
            yield i, ch, depth
        else:
            yield i, ch, depth
        i += 1


def _find0(text: str, chars: str, start: int = 0) -> int:
    """Index of the first of `chars` at bracket depth 0 outside strings, or -1."""
    for i, ch, depth in _scan(text, start):
        if depth == 0 and ch in chars:
            return i
        if depth < 0:
            return -1
    return -1


def _closing(text: str, open_index: int) -> int:
    """Index of the bracket closing the one at `open_index`, or -1."""
    for i, ch, depth in _scan(text, open_index):
        if i > open_index and depth == 0 and ch in ")]}":
            return i
    return -1


# Where the condition of a ternary starts: after an assignment, comma, brace or object key.
_EXPRESSION_START = re.compile(r"(?<![=!<>])=(?![=>])|[,{;]|\breturn\b|:\s")
_LITERAL_START = re.compile(r"\s*['\"`:]")


def _ternary(text: str) -> tuple[str, str, str] | None:
    """(condition, when-true, when-false) of a `cond ? a : b` expression on one line."""
    question = -1
    for i, ch, depth in _scan(text):
        if (
            depth == 0
            and ch == "?"
            and 0 < i < len(text) - 1
            and (text[i - 1].isspace() or text[i - 1] == ")")
            and text[i + 1].isspace()
        ):
            question = i
            break
    if question < 0:
        return None
    cond = _EXPRESSION_START.split(text[:question])[-1]
    rest = text[question + 1 :]
    colon = -1
    for i, ch, depth in _scan(rest):
        if depth < 0:
            break
        if depth == 0 and ch == ":" and 0 < i < len(rest) - 1 and rest[i - 1 : i + 2 : 2].isspace():
            colon = i
            break
    if colon < 0:
        return cond, rest, ""
    return cond, rest[:colon], rest[colon + 1 :]


# --- branches on the environment ------------------------------------------------------------


@dataclass
class _Branch:
    applies: frozenset[str]
    header: int
    parts: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class _Group:
    start: int
    branches: list[_Branch]


_PY, _JS, _GO, _RB, _JAVA = "python", "javascript", "go", "ruby", "java"
_LANGUAGES = (
    (FileKind.PYTHON, _PY),
    (FileKind.JAVASCRIPT, _JS),
    (FileKind.GO, _GO),
    (FileKind.RUBY, _RB),
    (FileKind.JAVA, _JAVA),
)

_IF = re.compile(r"^(?:[\w.@\[\]\"':]+\s*(?:\|\|)?=\s*)?(if|unless)\b\s*(.*)$")
_SWITCH = re.compile(r"^(?:[\w.@\[\]\"':]+\s*(?:\|\|)?=\s*)?(?:switch|match|case)\b(.*)$")
_CASE_LABEL = re.compile(r"^(?:case|when)\b(.*)$|^(default|else)\b")
_CONTINUATION = re.compile(r"^(?:\}\s*)?(elif|elsif|else\s+if|else)\b\s*(.*)$")
_ELSE = re.compile(r"\belse\b")
_CLOSER = re.compile(r"^(?:[}\])]+[;,)]*|end)\s*$")
_PROFILE = re.compile(r"^@Profile\s*\((.*)\)")
_SINATRA = re.compile(r"^configure\s+((?::\w+\s*,?\s*)+)\s*do\b")
_PY_INLINE = re.compile(r"^(?P<t>.*?)\bif\b(?P<c>.+?)\belse\b(?P<f>.*)$")
_RB_MODIFIER = re.compile(r"^(?P<t>.+?)\s(?P<kw>if|unless)\s(?P<c>.+)$")


class _Parser:
    """Finds branches on the environment in one file and what each branch runs."""

    def __init__(self, f: FileUnderReview, language: str) -> None:
        self.language = language
        self.lines = f.known_lines()
        prefixes = comment_prefixes(f.kinds)
        self.code = [self._is_code(ln.text, prefixes) for ln in self.lines]

    @staticmethod
    def _is_code(text: str, prefixes: tuple[str, ...]) -> bool:
        stripped = text.strip()
        return bool(stripped) and not (prefixes and stripped.startswith(prefixes))

    def groups(self) -> Iterator[_Group]:
        for index, line in enumerate(self.lines):
            if not self.code[index]:
                continue
            group = self._group_at(index, line.text.strip())
            if group is not None:
                yield group

    def _following(self, index: int, limit: int = 80) -> Iterator[tuple[Line, bool]]:
        """Consecutive known lines after `index`, with whether each is code."""
        previous = self.lines[index].number
        for j in range(index + 1, min(index + 1 + limit, len(self.lines))):
            line = self.lines[j]
            if line.number != previous + 1:
                return
            previous = line.number
            yield line, self.code[j]

    def _group_at(self, index: int, s: str) -> _Group | None:
        if not _may_name_environment(s):
            return None
        number = self.lines[index].number
        if self.language == _JAVA and (m := _PROFILE.match(s)):
            return self._profile_group(index, m.group(1))
        if self.language == _RB and (m := _SINATRA.match(s)):
            first = _Branch(_label_classes(m.group(1)), number)
            return self._block_group(index, first)
        if m := _IF.match(s):
            return self._if_group(index, m.group(1) == "unless", m.group(2))
        if m := _SWITCH.match(s):
            if _LITERAL_START.match(m.group(1)):
                return None  # a `case "dev":` label, not a switch
            if not _SUBJECT.search(_ACCESSORS.sub(" ", m.group(1))):
                return None
            return self._switch_group(index)
        return self._inline_group(index, s)

    def _inline_group(self, index: int, s: str) -> _Group | None:
        number = self.lines[index].number
        if self.language == _PY and (m := _PY_INLINE.match(s)):
            applies = _applies(m.group("c"))
            if applies:
                return _Group(
                    number,
                    [
                        _Branch(applies, number, [(number, m.group("t"))]),
                        _Branch(_ALL - applies, number, [(number, m.group("f"))]),
                    ],
                )
        if self.language == _RB and (m := _RB_MODIFIER.match(s)):
            applies = _applies(m.group("c"), m.group("kw") == "unless")
            if applies:
                return _Group(number, [_Branch(applies, number, [(number, m.group("t"))])])
        if self.language in (_JS, _RB, _JAVA):
            split = _ternary(s)
            if split is not None and (applies := _applies(split[0])):
                return _Group(
                    number,
                    [
                        _Branch(applies, number, [(number, split[1])]),
                        _Branch(_ALL - applies, number, [(number, split[2])]),
                    ],
                )
            return self._multiline_ternary(index, s)
        return None

    def _multiline_ternary(self, index: int, s: str) -> _Group | None:
        number = self.lines[index].number
        following = [(ln, code) for ln, code in self._following(index, 12) if code]
        if not following or not following[0][0].text.lstrip().startswith("? "):
            return None
        cond = _EXPRESSION_START.split(s)[-1]
        applies = _applies(cond)
        if not applies:
            return None
        true, false = _Branch(applies, number), _Branch(_ALL - applies, number)
        current = true
        base = indent_width(self.lines[index].text, 4)
        for line, _ in following:
            stripped = line.text.strip()
            if indent_width(line.text, 4) <= base:
                break
            if stripped.startswith(": "):
                current = false
            current.parts.append((line.number, stripped))
        return _Group(number, [true, false])

    def _condition(self, rest: str) -> tuple[str, str, str]:
        """(condition, inline when-true, inline when-false) of an `if` header's remainder."""
        if self.language == _PY:
            cut = _find0(rest, ":")
        elif self.language == _GO:
            cut = _find0(rest, "{")
        elif self.language == _RB:
            cut = rest.find(" then ")
        else:
            cut = _closing(rest, 0) + 1 if rest.startswith("(") else -1
        if cut <= 0:
            return rest, "", ""
        cond, body = rest[:cut], rest[cut:].lstrip(":{ ")
        true, *false = _ELSE.split(body, maxsplit=1)
        return cond, true, false[0] if false else ""

    def _if_group(self, index: int, unless: bool, rest: str) -> _Group | None:
        number = self.lines[index].number
        cond, true, false = self._condition(rest)
        applies = _applies(cond, unless)
        if not applies:
            return None
        first = _Branch(applies, number, [(number, true)])
        group = self._block_group(index, first)
        if false:
            group.branches.append(_Branch(_ALL - applies, number, [(number, false)]))
        return group

    def _block_group(self, index: int, first: _Branch) -> _Group:
        """The branches of an if/elif/else chain, read from indentation."""
        base = indent_width(self.lines[index].text, 4)
        branches = [first]
        covered = set(first.applies)
        for line, code in self._following(index):
            if not code:
                continue
            stripped = line.text.strip()
            depth = indent_width(line.text, 4)
            if depth > base:
                branches[-1].parts.append((line.number, stripped))
                continue
            if depth < base:
                break
            m = _CONTINUATION.match(stripped)
            if m is None:
                if _CLOSER.match(stripped):
                    continue
                break
            keyword, rest = m.group(1), m.group(2)
            if keyword == "else":
                branch = _Branch(_ALL - covered, line.number, [(line.number, rest.lstrip(":{ "))])
            else:
                cond, true, _ = self._condition(rest)
                applies = _applies(cond)
                covered |= applies
                branch = _Branch(applies, line.number, [(line.number, true)])
            branches.append(branch)
        return _Group(first.header, branches)

    def _switch_group(self, index: int) -> _Group:
        number = self.lines[index].number
        base = indent_width(self.lines[index].text, 4)
        branches: list[_Branch] = [_Branch(_NONE, number)]
        covered: set[str] = set()
        label_depth: int | None = None
        for line, code in self._following(index):
            if not code:
                continue
            stripped = line.text.strip()
            depth = indent_width(line.text, 4)
            label = _CASE_LABEL.match(stripped)
            if label and depth >= base and (label_depth is None or depth <= label_depth):
                label_depth = depth
                if label.group(2):
                    applies = frozenset(_ALL - covered)
                else:
                    applies = _label_classes(label.group(1))
                    covered |= applies
                inline = stripped.split(":", 1)[1] if ":" in stripped else ""
                branches.append(_Branch(applies, line.number, [(line.number, inline)]))
            elif depth > base:
                branches[-1].parts.append((line.number, stripped))
            else:
                break
        return _Group(number, branches)

    def _profile_group(self, index: int, args: str) -> _Group | None:
        """A Spring `@Profile("dev")` bean or configuration class, up to its closing brace."""
        number = self.lines[index].number
        classes = _label_classes(args)
        if not classes:
            return None
        negated = "!" in args
        branch = _Branch(_ALL - classes if negated else classes, number)
        depth = 0
        opened = False
        for line, code in self._following(index, 120):
            if not code:
                continue
            branch.parts.append((line.number, line.text.strip()))
            for _, ch, _ in _scan(line.text):
                if ch == "{":
                    depth, opened = depth + 1, True
                elif ch == "}":
                    depth -= 1
            if opened and depth <= 0:
                break
        return _Group(number, [branch])


# --- which files are development-only configuration ------------------------------------------

_DEV_TOKENS = frozenset({"dev", "develop", "development", "devel", "local"})
_TEST_TOKENS = frozenset({"test", "tests", "testing", "ci", "spec"})
_CONFIG_DIRS = frozenset(
    {"settings", "config", "conf", "configs", "configuration", "environments", "envs", "resources"}
)
_CONFIG_TOKENS = frozenset(
    {"settings", "config", "configuration", "application", "appsettings", "env", "bootstrap"}
)


def _env_file(path: str) -> str | None:
    """'dev' or 'test' for configuration files that belong to one environment, else None."""
    p = PurePosixPath(path.lower())
    tokens = set(re.split(r"[._-]", p.name))
    dirs = set(p.parts[:-1])
    if not (dirs & _CONFIG_DIRS or tokens & _CONFIG_TOKENS):
        return None
    if tokens & _TEST_TOKENS:
        return _TEST
    if tokens & _DEV_TOKENS:
        return _DEV
    return None


def _language(kinds: frozenset[FileKind]) -> str | None:
    for kind, language in _LANGUAGES:
        if kind in kinds:
            return language
    return None


class EnvironmentBranchStandIn(Rule):
    """A branch on the environment's name that swaps in a lighter backing service.

    ## What it does
    Flags `if`/`switch`/ternary branches on the environment (`ENV == "production"`,
    `process.env.NODE_ENV`, `Rails.env.production?`, `settings.DEBUG`, `isProd`,
    Spring `@Profile("dev")`, Sinatra `configure :development`) where the branch that
    runs in development selects SQLite, an in-memory database (H2, `:memory:`), a
    process-local cache or session store, or an inline task queue that the
    production branch does not use. Branches that only change log levels, debug
    toolbars or other settings are fine, and so are branches for the test suite.

    ## Why it matters
    Dev/prod parity asks for the same kind of backing service in every environment:
    code that quietly uses SQLite or an in-memory store in development hides the
    locking, typing, serialisation and eviction behaviour that only shows up in
    production.

    ## Example
    ```js
    const store = process.env.NODE_ENV === "production"
      ? new RedisStore({ client })
      : new session.MemoryStore();
    ```

    ## Use instead
    ```js
    // run Redis locally too (e.g. docker compose) and configure it by URL
    const store = new RedisStore({ client: createClient({ url: process.env.REDIS_URL }) });
    ```
    """

    code = "TF1001"
    name = "environment-branch-stand-in"
    factor = 10
    severity = Severity.WARNING
    kinds = frozenset(
        {FileKind.PYTHON, FileKind.JAVASCRIPT, FileKind.GO, FileKind.RUBY, FileKind.JAVA}
    )
    message = (
        "This branch on the environment swaps in a lighter backing service outside production; "
        "run the same kind of service in every environment."
    )
    _messages: ClassVar[dict[str, str]] = {
        label: (
            f"This branch on the environment uses {label} outside production; "
            "run the same kind of backing service in development as in production."
        )
        for label, _, _ in _STANDINS
    }

    def check(self, f: FileUnderReview) -> list[Hit]:
        language = _language(f.kinds)
        if language is None or _env_file(f.path) is not None:
            return []  # development/test-only files are TF1002's business
        added = {line.number for line in f.added_lines()}
        if not added or not _may_have_standin(f.text):
            return []
        claimed: set[int] = set()
        hits: list[Hit] = []
        for group in _Parser(f, language).groups():
            hit = self._judge(group, added, claimed)
            if hit is not None:
                hits.append(hit)
        return hits

    def _judge(self, group: _Group, added: set[int], claimed: set[int]) -> Hit | None:
        in_prod: set[str] = set()
        for branch in group.branches:
            if _PROD in branch.applies:
                in_prod |= {s[1] for _, text in branch.parts if (s := _standin(text))}
        flagged: list[tuple[int, str, int]] = []  # (line, label, header)
        for branch in group.branches:
            if _DEV not in branch.applies:
                continue
            for number, text in branch.parts:
                found = _standin(text)
                if found is not None and found[1] not in in_prod:
                    flagged.append((number, found[0], branch.header))
        if not flagged or all(number in claimed for number, _, _ in flagged):
            return None
        claimed.update(number for number, _, _ in flagged)
        label = flagged[0][1]
        candidates = [group.start, *(n for n, _, _ in flagged), *(h for _, _, h in flagged)]
        for number in candidates:
            if number in added:
                return Hit(number, message=self._messages[label])
        return None


class DevelopmentConfigStandIn(Rule):
    """A development-only config that selects a lighter backing service.

    ## What it does
    Flags SQLite, H2/HSQLDB/`:memory:` databases, process-local caches (`LocMemCache`,
    `:memory_store`, `CACHE_BACKEND=locmem`, Spring `cache.type=simple`...) and inline
    task queues (`CELERY_TASK_ALWAYS_EAGER = True`, `queue_adapter = :inline`) set in
    configuration that only development uses: `settings/dev.py`, `local_settings.py`,
    `config/environments/development.rb`, `application-dev.properties`,
    `.env.development`, `config/development.json`, and Python `DevelopmentConfig`
    classes whose `ProductionConfig` sibling differs. Values read from the environment
    with such a default are left alone. Databases are warnings; caches and queues are
    notices.

    ## Why it matters
    A development settings file that swaps PostgreSQL for SQLite, or Redis for local
    memory, makes the code run against a different backing service than the one in
    production, so the bugs that parity would catch early reach production first.

    ## Example
    ```python
    # myproject/settings/dev.py
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "dev.db"}}
    ```

    ## Use instead
    ```python
    # run PostgreSQL locally (docker compose) and point at it by URL
    DATABASES = {"default": dj_database_url.config(env="DATABASE_URL")}
    ```
    """

    code = "TF1002"
    name = "development-config-stand-in"
    factor = 10
    severity = Severity.WARNING
    kinds = frozenset(
        {
            FileKind.PYTHON,
            FileKind.RUBY,
            FileKind.JAVASCRIPT,
            FileKind.JSON,
            FileKind.YAML,
            FileKind.PROPERTIES,
            FileKind.ENV,
            FileKind.INI,
            FileKind.TOML,
        }
    )
    message = (
        "Development config uses a lighter backing service than production; "
        "run the same kind of service locally."
    )
    _dev_class: ClassVar[re.Pattern[str]] = re.compile(
        r"^class\s+(?:Dev|Development|Local)\w*\s*[(:]"
    )
    _prod_class: ClassVar[re.Pattern[str]] = re.compile(r"^class\s+(?:Prod|Production)\w*\s*[(:]")

    def check(self, f: FileUnderReview) -> list[Hit]:
        if f.kinds & {FileKind.COMPOSE, FileKind.KUBERNETES}:
            return []
        environment = _env_file(f.path)
        if environment == _DEV:
            return self._report([(ln.number, ln.text) for ln in f.code_lines()], None)
        if environment is None and FileKind.PYTHON in f.kinds:
            return self._config_classes(f)
        return []

    def _report(self, lines: list[tuple[int, str]], in_prod: set[str] | None) -> list[Hit]:
        seen: set[str] = set()
        hits: list[Hit] = []
        for number, text in lines:
            found = _standin(text)
            if found is None or found[1] in seen or (in_prod is not None and found[1] in in_prod):
                continue
            label, category = found
            seen.add(category)
            severity = Severity.WARNING if category == _DATABASE else Severity.NOTICE
            message = (
                f"Development config uses {label} instead of the production backing service; "
                "run the same kind of service locally."
            )
            hits.append(Hit(number, message=message, severity=severity))
        return hits

    def _config_classes(self, f: FileUnderReview) -> list[Hit]:
        """Flask-style `class DevelopmentConfig(Config):` bodies, against `ProductionConfig`."""
        lines = f.known_lines()
        dev_body: list[Line] = []
        prod_body: list[Line] | None = None
        current: list[Line] | None = None
        for line in lines:
            if self._dev_class.match(line.text):
                current = dev_body
            elif self._prod_class.match(line.text):
                current = prod_body = []
            elif line.text.strip() and not line.text[0].isspace():
                current = None
            elif current is not None and not line.text.lstrip().startswith("#"):
                current.append(line)
        if prod_body is None or not dev_body:
            return []
        in_prod = {s[1] for ln in prod_body if (s := _standin(ln.text))}
        added = {line.number for line in f.added_lines()}
        return self._report(
            [(ln.number, ln.text) for ln in dev_body if ln.number in added], in_prod
        )


class EnvironmentDatabaseMismatch(Rule):
    """Per-environment database config with SQLite in development and a server in production.

    ## What it does
    Reads database configs that have one section per environment (Rails
    `config/database.yml`, a `knexfile`, Sequelize `config/config.json`) and flags
    the development section's adapter/client/dialect when it is SQLite while the
    production or staging section names a database server (PostgreSQL, MySQL, ...).
    SQLite in every environment, or only in `test`, is fine.

    ## Why it matters
    Running SQLite on a laptop and PostgreSQL in production means migrations, types,
    locking and query behaviour are only ever exercised for real in production;
    parity wants the same database engine everywhere, which containers make cheap.

    ## Example
    ```yaml
    development:
      adapter: sqlite3
      database: db/development.sqlite3
    production:
      adapter: postgresql
      url: <%= ENV["DATABASE_URL"] %>
    ```

    ## Use instead
    ```yaml
    development:
      adapter: postgresql
      url: <%= ENV.fetch("DATABASE_URL", "postgres://localhost/app_development") %>
    ```
    """

    code = "TF1003"
    name = "environment-database-mismatch"
    factor = 10
    severity = Severity.WARNING
    kinds = frozenset({FileKind.YAML, FileKind.JSON, FileKind.JAVASCRIPT})
    message = (
        "Development uses SQLite while production uses a database server; use the same engine."
    )
    _section: ClassVar[re.Pattern[str]] = re.compile(
        r"^(?P<ind>\s*)['\"]?(?P<name>[\w-]+)['\"]?\s*:\s*(?P<anchor>&[\w-]+)?\s*\{?\s*$"
    )
    _adapter: ClassVar[re.Pattern[str]] = re.compile(
        r"^\s*['\"]?(?:adapter|dialect|client|driver)['\"]?\s*:\s*['\"]?(?P<v>[\w.:+-]+)"
    )
    _merge: ClassVar[re.Pattern[str]] = re.compile(r"^\s*<<\s*:\s*\*(?P<ref>[\w-]+)")
    _server: ClassVar[re.Pattern[str]] = re.compile(
        r"postgres|^pg$|mysql|mariadb|trilogy|mssql|sqlserver|tedious|oracle|cockroach|redshift",
        re.I,
    )

    def check(self, f: FileUnderReview) -> list[Hit]:
        if f.kinds & {FileKind.COMPOSE, FileKind.KUBERNETES} or "sqlite" not in f.text.lower():
            return []
        sections = self._sections(f.known_lines())
        anchors = {s.anchor: s for s in sections.values() if s.anchor}

        def adapter(section: _Section) -> tuple[str, int] | None:
            if section.adapter is not None:
                return section.adapter
            parent = anchors.get(section.merge or "")
            return parent.adapter if parent is not None and parent is not section else None

        dev = [adapter(s) for n, s in sections.items() if _ENV_WORDS.get(n) == _DEV]
        prod = [adapter(s) for n, s in sections.items() if _ENV_WORDS.get(n) in (_PROD, _STAGING)]
        dev_sqlite = [a for a in dev if a is not None and "sqlite" in a[0].lower()]
        prod_server = [a for a in prod if a is not None and self._server.search(a[0])]
        if not dev_sqlite or not prod_server:
            return []
        added = {line.number for line in f.added_lines()}
        message = (
            f"Development uses {dev_sqlite[0][0]} while production uses {prod_server[0][0]}; "
            "use the same database engine in every environment."
        )
        for _, number in (*dev_sqlite, *prod_server):
            if number in added:
                return [Hit(number, message=message)]
        return []

    def _sections(self, lines: list[Line]) -> dict[str, _Section]:
        sections: dict[str, _Section] = {}
        open_sections: list[_Section] = []
        for line in lines:
            text = line.text
            if not text.strip() or text.lstrip().startswith(("#", "//")):
                continue
            depth = indent_width(text, 4)
            open_sections = [s for s in open_sections if depth > s.indent]
            for section in open_sections:
                if section.adapter is None and (m := self._adapter.match(text)):
                    section.adapter = (m.group("v"), line.number)
                if section.merge is None and (m := self._merge.match(text)):
                    section.merge = "&" + m.group("ref")
            m = self._section.match(text)
            if m is not None:
                name = m.group("name").lower()
                if name in _ENV_WORDS or m.group("anchor"):
                    section = _Section(depth, m.group("anchor"))
                    sections.setdefault(name, section)
                    open_sections.append(section)
        return sections


@dataclass
class _Section:
    indent: int
    anchor: str | None
    adapter: tuple[str, int] | None = None
    merge: str | None = None


RULES: tuple[Rule, ...] = (
    EnvironmentBranchStandIn(),
    DevelopmentConfigStandIn(),
    EnvironmentDatabaseMismatch(),
)
