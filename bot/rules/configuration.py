"""Factor III, config: store config, above all credentials, in the environment.

Most of this module is about one question asked precisely: is this literal a
real secret? Names are judged by their words (`DB_PASSWORD` yes,
`PASSWORD_FIELD` no), values by their shape (`hunter2-Xy9` yes, `${DB_PASSWORD}`,
`change-me`, `"Password"` no). A value that is real but weak or a well-known
default (`postgres`, `root`) is reported as a notice rather than an error.

Rules claim lines in order of specificity so one line gets one comment: a known
key format (TF0301) wins over a password in a URL (TF0303), which wins over a
secret-named assignment (TF0302 / TF0304 / TF0307).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Iterator
from pathlib import PurePosixPath
from typing import ClassVar
from urllib.parse import unquote

from bot.credentials import FAKE_SECRET, KNOWN_SECRET_HINT, KNOWN_SECRET_LABELS, known_secrets
from bot.diff import Line
from bot.filetypes import FileKind
from bot.findings import Severity
from bot.rules.base import CODE_KINDS, FileUnderReview, Hit, LineRule, Rule, line_trigger
from bot.rules.layout import enclosing_lines, indent_width
from bot.rules.values import is_placeholder, is_test_like_host, reads_environment

# ---------------------------------------------------------------------------
# Names: does this identifier or key hold a secret?
# ---------------------------------------------------------------------------

_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")

# Words that are a secret on their own.
_SECRET_WORDS = frozenset(
    {
        "password", "passwd", "passphrase", "pwd", "secret", "token", "apikey",
        "apitoken", "accesstoken", "authtoken", "refreshtoken", "clientsecret",
        "secretkey", "privatekey", "accesskey", "requirepass", "masterauth", "pgpassword",
    }
)  # fmt: skip
# `<qualifier> key` is a secret (`api_key`, `secret_key`), a bare `key` is not.
_KEY_QUALIFIERS = frozenset(
    {
        "api", "secret", "private", "access", "signing", "sign", "encryption", "encrypt",
        "master", "auth", "app", "hmac", "jwt", "subscription", "webhook", "shared",
        "crypto", "cipher", "aes",
    }
)  # fmt: skip
# After the secret word, these make the name about the secret, not the secret.
_AFTER_STOP = frozenset(
    {
        "name", "names", "type", "types", "kind", "url", "uri", "urls", "endpoint",
        "endpoints", "path", "paths", "file", "filename", "files", "dir", "directory",
        "field", "fields", "label", "labels", "header", "headers", "param", "params",
        "parameter", "prefix", "suffix", "ttl", "expiry", "expires", "expire",
        "expiration", "exp", "lifetime", "timeout", "age", "length", "len", "size",
        "min", "max", "count", "limit", "policy", "regex", "regexp", "pattern",
        "format", "hint", "prompt", "placeholder", "message", "messages", "msg",
        "error", "errors", "text", "title", "description", "desc", "help", "id", "ids",
        "ref", "refs", "reference", "env", "var", "variable", "arn", "version",
        "manager", "store", "provider", "backend", "class", "source", "location",
        "mount", "engine", "hash", "hashed", "hasher", "hashers", "digest", "salt",
        "rounds", "iterations", "algorithm", "alg", "algo", "algorithms", "validator",
        "validators", "validation", "reset", "changed", "required", "enabled",
        "strength", "complexity", "rule", "rules", "chars", "charset", "storage",
        "cookie", "mode", "style", "widget", "input", "selector", "column", "option",
        "options", "attr", "attribute", "template", "route", "view", "page", "form",
        "handler", "callback", "service", "generator", "request", "response", "cache",
        "table", "model", "schema", "keyword", "question", "reminder", "at", "date",
        "time", "interval", "duration", "issuer", "audience", "scope", "scopes",
        "claim", "claims", "entropy", "bytes", "bits", "encoding", "getter", "setter",
        "command", "cmd", "script", "helper", "visible", "visibility", "icon",
        "button", "link", "modal", "dialog", "screen", "component", "node", "element",
        "query", "lookup", "loader", "reader", "parser", "fn", "func", "method",
        "expected", "exists", "valid", "invalid", "mismatch", "key", "keys", "usage",
        "volume", "volumes", "namespace", "ns", "projection", "end", "start",
    }
)  # fmt: skip
# Before the secret word, these make the name about something else.
_BEFORE_STOP = frozenset(
    {
        "min", "max", "is", "has", "show", "hide", "reset", "forgot", "forget",
        "validate", "validated", "verify", "check", "enable", "enabled", "disable",
        "use", "require", "requires", "required", "allow", "num", "len", "count", "no",
        "skip", "toggle", "generate", "gen", "hash", "hashed", "encode", "decode",
        "encrypted", "mask", "masked", "get", "fetch", "load", "read", "parse", "update",
        "change", "csrf", "xsrf", "page", "next", "prev", "continuation", "pagination",
        "cursor", "sync", "resume", "cancellation", "cancel", "example", "sample",
        "dummy", "fake", "mock", "test", "placeholder", "expected", "invalid", "wrong",
        "bad", "missing", "empty", "last", "lost", "existing", "expect", "input", "output",
        "start", "end", "lex", "lexer", "sentinel", "marker",
    }
)  # fmt: skip


def _is_secret_name(name: str) -> bool:
    """True for names whose value is a credential: `DB_PASSWORD`, `apiKey`, `secret_key_base`."""
    words = [w.lower() for w in _WORDS.findall(name)]
    first = last = -1
    for i, word in enumerate(words):
        if word in _SECRET_WORDS or (word == "pass" and i == len(words) - 1):
            start = i
        elif word == "key" and i > 0 and words[i - 1] in _KEY_QUALIFIERS:
            start = i - 1
        else:
            continue
        if first < 0:
            first = start
        last = i
    if last < 0:
        return False
    after = words[last + 1 :]
    if any(w in _AFTER_STOP for w in after):
        return False
    return not any(w in _BEFORE_STOP for w in words[:first])


# ---------------------------------------------------------------------------
# Values: is this literal a real secret?
# ---------------------------------------------------------------------------

# Interpolation and templating: the value comes from somewhere else.
_REFERENCE = re.compile(
    r"\$\{|\$\(|\{\{|\}\}|<%|#\{|%\(|%[sdvr]\b|^\$[A-Za-z_]|\$[A-Z_][A-Z0-9_]{2,}\b|"
    r"\{\d*\}|\{[A-Za-z_][\w.]*\}"
)
# Secret-store references, encrypted values, YAML tags/aliases/anchors.
_REFERENCE_PREFIX = re.compile(
    r"(?i)^(?:[@!*&]|vault:|enc\(|enc:|encrypted:|arn:aws:|ssm:|secretsmanager:|sm://|"
    r"op://|gcp:|awssm|azurekv|akv:|env:|file:|ref\+|cipher:|\{cipher\}|AgB|projects/[^/]+/secrets/)"
)
_PLACEHOLDERISH = re.compile(
    r"(?i)change[-_ ]?(?:me|it|this)|replace[-_ ]?(?:me|this|with)|^your[-_ ]|"
    r"[-_ ]here$|^<|>$|x{4,}|\*{3,}|\.{3}|\btodo\b|fixme|example|sample|dummy|fake|"
    r"placeholder|redacted|not[-_ ]?(?:a[-_ ]?)?real|^(?:insert|enter|add|paste|put|set)[-_ ]"
)
# `SECRET_KEY`, `X-API-KEY`, `PASSWORD`: names of things, not secrets.
_NAME_LIKE_VALUE = re.compile(r"^[A-Z]+$|^[A-Z][A-Z0-9]*(?:[_.-][A-Z][A-Z0-9]*)+$")
_PATH_LIKE_VALUE = re.compile(r"^[A-Za-z_.-]+(?:/[A-Za-z_.-]+)+/?$|^[A-Za-z_]+(?:\.[A-Za-z_]+)+$")
_WORDY_VALUE = re.compile(r"^[A-Za-z]+(?:[-_.][A-Za-z]+)+$")
# Identifiers naming a secret (`apiKey`, `challengePassword`, `db-password`).
_IDENTIFIER_CHARS = re.compile(r"^[\w.-]+$")
_SECRET_FRAGMENT = re.compile(r"(?i)pass|pwd|secret|token|key|auth")
_DOMAIN_VALUE = re.compile(
    r"^[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|net|org|io|dev|app|cloud|internal)$"
)
# camelCase / PascalCase words: identifiers (`ExclusiveStartBackupArn`), not secrets.
_CAMEL_WORDS = re.compile(r"^[a-z]*(?:[A-Z][a-z]+)+$")
# Regular expressions and colours: `r"[-!#$%&'*+.^_`|~0-9a-zA-Z]+"`, `"#d8dee9"`.
_REGEX_OR_COLOUR = re.compile(
    r"\\[wdsbWDSB.]|\(\?[:=!<]|\[\^|\[[^\]]*(?:a-z|A-Z|0-9)[^\]]*\]|^\^|^#[0-9A-Fa-f]{3,8}$"
)
_URL_VALUE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_NOT_SECRET_WORDS = frozenset(
    {
        "string", "str", "int", "integer", "number", "boolean", "bool", "object", "array",
        "text", "varchar", "char", "any", "uuid", "email", "bytes", "secretstr",
        "optional", "required", "hidden", "bearer", "basic", "digest", "jwt", "oauth",
        "oauth2", "hmac", "plain", "plaintext", "true", "false", "yes", "no", "on", "off",
        "enabled", "disabled", "null", "none", "nil", "sha1", "sha256", "sha512", "md5",
        "bcrypt", "argon2", "pbkdf2", "hs256", "rs256", "header", "query", "cookie",
        "body", "form", "include", "omit", "same-origin", "auto", "random", "generated",
    }
)  # fmt: skip
# Words a value made of identifiers uses when it names a key, header or field.
_IDENTIFIER_VOCABULARY = frozenset(
    {
        "access", "refresh", "id", "auth", "api", "token", "tokens", "key", "keys",
        "secret", "secrets", "password", "passwords", "passwd", "pwd", "pass", "user",
        "username", "session", "csrf", "xsrf", "jwt", "bearer", "client", "app", "db",
        "database", "new", "old", "current", "confirm", "confirmation", "reset", "x",
        "header", "cookie", "local", "storage", "name", "field", "value", "login",
        "signin", "signup", "oauth", "private", "public", "master", "encryption",
        "signing", "webhook", "service", "account", "creds", "credentials", "data",
        "item", "cache", "store", "github", "slack", "stripe", "aws", "gcp", "google",
        "smtp", "mail", "email", "postgres", "mysql", "redis", "mongo", "tls", "ssl",
        "cert", "ca", "registry", "docker", "auth0", "bot", "admin", "root",
    }
)  # fmt: skip
# Real values, but well-known defaults or trivially weak: borderline, a notice.
_WEAK_VALUES = frozenset(
    {
        "postgres", "postgresql", "root", "admin", "administrator", "mysql", "mariadb",
        "guest", "dev", "develop", "development", "local", "localhost", "pass", "pwd",
        "pw", "user", "docker", "app", "redis", "mongo", "mongodb", "rabbitmq", "minio",
        "minioadmin", "sa", "oracle", "welcome", "letmein", "qwerty", "admin123",
        "password1", "password123", "pass123", "123456", "12345678", "1234", "12345",
        "abc123", "toor", "master", "insecure", "debug", "demo", "keycloak", "elastic",
        "secret123", "s3cr3t", "p@ssw0rd", "passw0rd", "pa55word", "hunter2",
    }
)  # fmt: skip


def _is_reference(value: str) -> bool:
    """Templated, interpolated, referenced or placeholder: not a literal secret."""
    return bool(
        is_placeholder(value)
        or _PLACEHOLDERISH.search(value)
        or _REFERENCE.search(value)
        or _REFERENCE_PREFIX.match(value)
    )


def _value_severity(raw: str) -> Severity | None:
    """ERROR for a real-looking secret, NOTICE for a weak/default one, None otherwise."""
    if any(c.isspace() for c in raw):
        return None  # prose, a label or a prompt: secrets have no blanks
    value = raw
    if len(value) < 3 or value.startswith("-") or _is_reference(value):
        return None
    lowered = value.lower()
    if lowered in _NOT_SECRET_WORDS:
        return None
    if value.startswith(("/", "./", "../", "~/", "classpath:")) or _URL_VALUE.match(value):
        return None
    if _NAME_LIKE_VALUE.match(value) or _PATH_LIKE_VALUE.match(value):
        return None
    if lowered in _WEAK_VALUES:
        return Severity.NOTICE
    if _IDENTIFIER_CHARS.match(value) and _SECRET_FRAGMENT.search(value):
        return None  # `apiKey`, `V1SecretProjection`, `subject_token_0`: names, not secrets
    if _DOMAIN_VALUE.match(value):
        return None
    if _REGEX_OR_COLOUR.search(value):
        return None
    if lowered in _IDENTIFIER_VOCABULARY:
        return None
    if value.isdigit():
        return Severity.NOTICE if len(value) >= 4 else None
    if _WORDY_VALUE.match(value) or _CAMEL_WORDS.match(value):
        return None  # words joined up: an identifier, a header or a label
    if not any(c.isalnum() for c in value):
        return None
    if value.isalpha():
        mixed = not value.islower() and not value.isupper()
        return Severity.ERROR if len(value) >= 20 and mixed else Severity.NOTICE
    return Severity.ERROR if len(value) >= 6 else Severity.NOTICE


def _unquote(raw: str) -> str:
    text = raw.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'`":
        return text[1:-1]
    return text


def _strip_inline_comment(raw: str, markers: tuple[str, ...] = (" #",)) -> str:
    """An unquoted config value without its trailing comment."""
    text = raw.strip()
    if text[:1] in ("'", '"'):
        end = text.find(text[0], 1)
        return text[: end + 1] if end > 0 else text
    for marker in markers:
        cut = text.find(marker)
        if cut >= 0:
            text = text[:cut]
    return text.strip()


def _indent(text: str) -> int:
    """Leading blanks, a tab counting one."""
    return indent_width(text, 1)


def _worst(a: Severity | None, b: Severity | None) -> Severity | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if a.rank >= b.rank else b


# ---------------------------------------------------------------------------
# Known key formats (TF0301) and passwords in URLs (TF0303); other rules defer.
# ---------------------------------------------------------------------------

_PEM_BODY = re.compile(r"[A-Za-z0-9+/=]{40,}|Proc-Type:")
_PEM_NEXT_LINE = re.compile(r"^[\s\"'`+(]*(?:[A-Za-z0-9+/=]{40,}|Proc-Type:)")


_URL_CREDENTIALS = re.compile(
    r"\b[A-Za-z][A-Za-z0-9+.-]{1,20}://(?P<user>[^\s:/@'\"`<>{}]*):(?P<pw>[^\s@/'\"`<>]+)@"
    r"(?P<host>\[[0-9A-Fa-f:]+\]|[A-Za-z0-9_.-]+)"
)
_KV_CONTEXT = re.compile(
    r"(?i)jdbc:|://|(?:^|[\s;\"'])(?:server|data source|host|hostname|address|addr)\s*="
)
# TF0303 needs "@" (user-info in a URL) or a key=value connection-string context.
_URL_OR_KV_CREDENTIAL_HINT = re.compile(
    "@|" + _KV_CONTEXT.pattern.removeprefix("(?i)"), re.I | re.M
)
_KV_PASSWORD = re.compile(r"(?i)(?:^|[;?&\s\"'])(?:password|pwd)\s*=\s*(?P<pw>[^;&\"'\s]+)")
_KV_HOST = re.compile(
    r"(?i)(?:^|[;?&\s\"'])(?:server|data source|host|hostname|address|addr)\s*=\s*"
    r"(?:tcp:)?(?P<host>[^;&\"'\s,:]+)"
)
_URL_HOST = re.compile(r"//(?:[^/@\s]*@)?(?P<host>[^/:;?\s\"',]+)")
_AZURE_KEY = re.compile(r"\b(?:AccountKey|SharedAccessKey)=(?P<pw>[A-Za-z0-9+/]{30,}={0,2})")
_URL_PLACEHOLDER_PASSWORDS = frozenset(
    {"pass", "password", "passwd", "pwd", "pw", "p", "secret", "token", "key", "apikey", "x"}
)
_LOCAL_HOST = re.compile(
    r"(?i)^(?:localhost|127(?:\.\d+){3}|0\.0\.0\.0|\[::1\]|::1|host\.docker\.internal|"
    r"[a-z0-9_-]+)$"
)


def _url_password_severity(
    user: str, password: str, host: str | None, line: str
) -> Severity | None:
    if password.lower() in _URL_PLACEHOLDER_PASSWORDS or _is_reference(password):
        return None
    if any(c.isspace() for c in unquote(password)):
        return None  # `a%20secret`: prose, not a password
    if user.lower() in ("user", "username") and password.lower() == user.lower():
        return None
    if host is None:
        return Severity.ERROR
    if is_test_like_host(host) or _is_reference(host):
        return None
    if _LOCAL_HOST.match(host):
        # A local/dev service (a compose service name, localhost): borderline.
        return None if reads_environment(line) else Severity.NOTICE
    return Severity.ERROR


def _credential_in_url(text: str) -> Severity | None:
    """Severity of the worst password embedded in a URL/connection string on the line."""
    worst: Severity | None = None
    if "@" in text and "://" in text:
        for m in _URL_CREDENTIALS.finditer(text):
            sev = _url_password_severity(m["user"], m["pw"], m["host"], text)
            worst = _worst(worst, sev)
    if "=" in text and _KV_CONTEXT.search(text):
        password = _KV_PASSWORD.search(text)
        if password is not None:
            host_match = _KV_HOST.search(text) or _URL_HOST.search(text)
            host = host_match["host"] if host_match else None
            worst = _worst(worst, _url_password_severity("", password["pw"], host, text))
    if "Key=" in text and "devstoreaccount1" not in text:
        for m in _AZURE_KEY.finditer(text):
            worst = _worst(worst, None if FAKE_SECRET.search(m["pw"]) else Severity.ERROR)
    return worst


def _claimed_by_specific_rule(text: str) -> bool:
    """Lines holding a known key or a connection-string password: TF0301/TF0303 judge them."""
    if next(known_secrets(text), None) is not None:
        return True
    if "@" in text and _URL_CREDENTIALS.search(text) is not None:
        return True
    return "=" in text and _KV_CONTEXT.search(text) is not None and bool(_KV_PASSWORD.search(text))


# ---------------------------------------------------------------------------
# Extraction of (name, value) pairs, per language and config format.
# ---------------------------------------------------------------------------

_SECRETISH = re.compile(r"(?i)pass|pwd|secret|token|key|bearer|jwt|mysql")

_LIT = r"""(?P<lit>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`[^`$\\\n]*`)"""
_TAIL = r"(?=\s*(?:\.freeze\b)?\s*(?:[,;)}\]]|$|#|//|/\*|\bif\b|\belse\b))"
_STRING_PREFIX = r"(?:[rRbBuU]{1,2}(?=[\"']))?"
_CODE_FORMS = (
    # name = "x", name: "x", name := "x", :name => "x", name: str = "x", var name string = "x"
    re.compile(
        r"(?<![\w$])(?P<name>[A-Za-z_$][\w$]*)\s*"
        r"(?:\??:\s*[A-Za-z_][\w\[\]., |<>?]*?\s*(?==(?!=))|(?<=\s)string\s*(?==))?"
        r"(?::=|=>|=(?!=)|:)\s*" + _STRING_PREFIX + _LIT + _TAIL
    ),
    # "name": "x", 'name' => "x"
    re.compile(r"(?P<q>[\"'])(?P<name>[\w$.\-]+)(?P=q)\s*(?::|=>)\s*" + _LIT + _TAIL),
    # config["name"] = "x"
    re.compile(r"\[\s*(?P<q>[\"'])(?P<name>[\w.\-]+)(?P=q)\s*\]\s*=(?!=)\s*" + _LIT + _TAIL),
    # os.Setenv("NAME", "x"), props.put("password", "x"), headers.set("X-Api-Key", "x")
    re.compile(
        r"\b(?:Setenv|setenv|putenv|setProperty|put|set|setHeader|header|add|append|addHeader)"
        r"\(\s*(?P<q>[\"'])(?P<name>[\w.\-]+)(?P=q)\s*,\s*" + _LIT + r"\s*\)"
    ),
)
# builder.password("x"), setPassword("x"), user.set_password("x"), withApiKey("x")
_SETTER_QUALIFIER = (
    r"(?:db_?|admin_?|root_?|master_?|client_?|access_?|refresh_?|auth_?|api_?|bot_?|app_?|user_?)"
)
_SETTER_KEY = r"(?:api_?key|secret_?key|private_?key|access_?key)"
_SETTER_NOUN = rf"(?:password|passwd|secret|token|{_SETTER_KEY})"
# A bare `.token("x")` / `.secret("x")` is too often a lexer or a lookup: those need a
# `set`/`with` prefix or a qualifier (`accessToken`, `clientSecret`).
_SETTER = re.compile(
    rf"(?i)(?<![\w$])(?P<name>(?:set_?|with_?){_SETTER_QUALIFIER}?{_SETTER_NOUN}|"
    rf"{_SETTER_QUALIFIER}{_SETTER_NOUN}|password|passwd|{_SETTER_KEY})\(\s*{_LIT}\s*\)"
)
# jwt.encode(payload, "key"), jwt.sign(payload, "key")
_JWT_KEY = re.compile(
    r"\bjwt\.(?:encode|decode|sign|verify)\(\s*[^,()]+(?:\([^()]*\))?\s*,\s*" + _LIT
)
# "Bearer <token>" / "Token <token>" literals
_BEARER = re.compile(r"[\"'`](?:Bearer|Token|token)\s+(?P<tok>[A-Za-z0-9\-._~+/]{20,}=*)[\"'`]")

_SHELL_ASSIGN = re.compile(
    r"(?:^|[\s;&|(])(?:export\s+|readonly\s+|local\s+|declare\s+-\w+\s+)?"
    r"(?P<name>[A-Za-z_]\w*)=(?P<value>\"(?:[^\"\\]|\\.)*\"|'[^']*'|[^\s;&|)`]+)"
)
_DOCKER_ENV_LEGACY = re.compile(r"^\s*ENV\s+(?P<name>[A-Za-z_]\w*)\s+(?P<value>[^\s=]\S*)\s*$")
_CLI_FLAG = re.compile(
    r"(?<![\w-])--(?P<name>password|passwd|pass|requirepass|api-key|apikey|token|auth-token|"
    r"access-token|secret|client-secret|secret-key|access-key)(?:=|\s+)"
    r"(?P<value>\"[^\"]*\"|'[^']*'|[^\s;&|\\)\"',\]]+)"
)
_MYSQL_INLINE_PASSWORD = re.compile(r"\bmysql(?:dump|admin)?\b.*\s-p(?P<value>[^\s'\"$-]\S*)")

_PROPERTIES_PAIR = re.compile(r"^\s*(?P<name>[^\s=:#!][^=:\s]*)\s*[=:]\s*(?P<value>.*?)\s*$")
_INI_PAIR = re.compile(r"^\s*(?P<name>[^\s=:;#\[][^=:\s]*)\s*[=:]\s*(?P<value>.*?)\s*$")
_INI_SPACED = re.compile(r"^\s*(?P<name>requirepass|masterauth)\s+(?P<value>\S+)\s*$")
_TOML_PAIR = re.compile(
    r"(?:^|[\s{,])(?P<name>[A-Za-z_][\w.\-]*|\"[^\"]+\")\s*=\s*"
    r"(?P<value>\"(?:[^\"\\]|\\.)*\"|'[^']*')"
)
_JSON_PAIR = re.compile(r"\"(?P<name>[^\"\\]{1,100})\"\s*:\s*\"(?P<value>(?:[^\"\\]|\\.)*)\"")
_YAML_PAIR = re.compile(
    r"^\s*(?:-\s+)?(?P<q>[\"']?)(?P<name>[\w.\-/]+)(?P=q)\s*:[ \t]+(?P<value>\S.*?)\s*$"
)
_YAML_LIST_PAIR = re.compile(r"^\s*-\s+[\"']?(?P<name>[A-Za-z_][\w.\-]*)=(?P<value>.*?)[\"']?\s*$")
_XML_ELEMENT = re.compile(r"<(?P<name>[\w.:\-]+)>(?P<value>[^<]+)</(?P=name)>")
_XML_ATTRIBUTE = re.compile(r"(?<![\w.:\-])(?P<name>[\w.\-]+)\s*=\s*\"(?P<value>[^\"]*)\"")
_XML_NAME_VALUE = re.compile(
    r"\bname\s*=\s*\"(?P<name>[^\"]+)\"\s+value\s*=\s*\"(?P<value>[^\"]*)\""
)

_I18N_PATH = re.compile(
    r"(?i)(?:^|/)(?:locales?|i18n|l10n|lang|langs|languages|translations?|messages)/|"
    r"(?:^|/)messages[\w-]*\.properties$|_[a-z]{2}(?:_[A-Z]{2})?\.properties$|"
    r"(?:^|/)(?:en|fr|de|es|it|pt|nl|ru|ja|zh|ko|ar|pl|sv|da|fi|nb|nn|tr|cs|el|he|hu|id|"
    r"th|uk|vi|ro|bg|hr|sk|sl|et|lv|lt|fa|hi|ms|ca)(?:[-_][A-Za-z]{2,4})?\.(?:json|ya?ml|js|ts)$"
)
_CI_PATH = re.compile(
    r"(?:^|/)(?:\.github/workflows/|\.gitlab-ci|\.circleci/|\.travis\.yml|bitbucket-pipelines|"
    r"azure-pipelines|\.drone\.yml|\.buildkite/|cloudbuild)"
)


def _yaml_value(raw: str) -> str | None:
    """The scalar of a `key: value` line, or None for block scalars, flows and aliases."""
    value = raw.strip()
    if value.startswith("&"):
        value = value.partition(" ")[2].strip()
    if not value or value[0] in "|>[{*!":
        return None
    return _unquote(_strip_inline_comment(value))


def _pairs_in_code(text: str) -> Iterator[tuple[str, str]]:
    for form in _CODE_FORMS:
        for m in form.finditer(text):
            yield m["name"], _unquote(m["lit"])
    for m in _SETTER.finditer(text):
        name = re.sub(r"(?i)^(?:set|with)_?", "", m["name"])
        yield name, _unquote(m["lit"])
    if "jwt." in text:
        for m in _JWT_KEY.finditer(text):
            yield "jwt_secret", _unquote(m["lit"])


def _pairs_in_shell(text: str, dockerfile: bool) -> Iterator[tuple[str, str]]:
    for m in _SHELL_ASSIGN.finditer(text):
        yield m["name"], _unquote(m["value"])
    if dockerfile:
        legacy = _DOCKER_ENV_LEGACY.match(text)
        if legacy is not None:
            yield legacy["name"], _unquote(legacy["value"])
    yield from _pairs_in_command(text)


def _pairs_in_command(text: str) -> Iterator[tuple[str, str]]:
    if "--" in text:
        for m in _CLI_FLAG.finditer(text):
            yield m["name"], _unquote(m["value"])
    if "mysql" in text:
        inline = _MYSQL_INLINE_PASSWORD.search(text)
        if inline is not None:
            yield "password", inline["value"]


def _pairs_in_yaml(text: str) -> Iterator[tuple[str, str]]:
    m = _YAML_PAIR.match(text)
    if m is not None:
        value = _yaml_value(m["value"])
        if value is not None:
            yield m["name"], value
    listed = _YAML_LIST_PAIR.match(text)
    if listed is not None:
        yield listed["name"], _unquote(listed["value"])
    yield from _pairs_in_command(text)


def _pairs_in_ini(text: str) -> Iterator[tuple[str, str]]:
    m = _INI_PAIR.match(text)
    if m is not None:
        value = _unquote(_strip_inline_comment(m["value"], (" ;", " #")))
        yield m["name"], value
        if "=" in value:  # supervisor: environment=DB_PASSWORD="x",OTHER="y"
            for pair in _SHELL_ASSIGN.finditer(" " + value.replace(",", " ")):
                yield pair["name"], _unquote(pair["value"])
    spaced = _INI_SPACED.match(text)
    if spaced is not None:
        yield spaced["name"], spaced["value"]


def _pairs(text: str, kinds: frozenset[FileKind]) -> Iterator[tuple[str, str]]:
    """Every (name, literal value) the line assigns, for the file's kinds."""
    if kinds & CODE_KINDS:
        yield from _pairs_in_code(text)
    if FileKind.SHELL in kinds or FileKind.DOCKERFILE in kinds:
        yield from _pairs_in_shell(text, FileKind.DOCKERFILE in kinds)
    if FileKind.PROCFILE in kinds:
        yield from _pairs_in_command(text)
    if FileKind.PROPERTIES in kinds:
        m = _PROPERTIES_PAIR.match(text)
        if m is not None:
            yield m["name"], _unquote(m["value"])
    if FileKind.INI in kinds:
        yield from _pairs_in_ini(text)
    if FileKind.TOML in kinds:
        for m in _TOML_PAIR.finditer(text):
            yield m["name"].strip('"'), _unquote(m["value"])
    if FileKind.JSON in kinds:
        for m in _JSON_PAIR.finditer(text):
            yield m["name"], m["value"]
    if FileKind.YAML in kinds:
        yield from _pairs_in_yaml(text)
    if FileKind.XML in kinds:
        for rx in (_XML_ELEMENT, _XML_NAME_VALUE, _XML_ATTRIBUTE):
            for m in rx.finditer(text):
                yield m["name"], m["value"]


_TOKEN_ONLY = re.compile(r"(?i)^(?!.*(?:pass|pwd|secret|key)).*token")


def _pair_severity(pairs: Iterable[tuple[str, str]]) -> Severity | None:
    worst: Severity | None = None
    for name, value in pairs:
        if _is_secret_name(name):
            severity = _value_severity(value)
            if severity is Severity.NOTICE and _TOKEN_ONLY.match(name):
                # `token` also names lexer tokens and page cursors; only a
                # random-looking value makes it a credential.
                severity = None
            worst = _worst(worst, severity)
            if worst is Severity.ERROR:
                break
    return worst


def _bearer_severity(text: str) -> Severity | None:
    for m in _BEARER.finditer(text):
        token = m["tok"]
        has_digit = any(c.isdigit() for c in token)
        has_alpha = any(c.isalpha() for c in token)
        if has_digit and has_alpha and not _is_reference(token) and not FAKE_SECRET.search(token):
            return Severity.ERROR
    return None


# ---------------------------------------------------------------------------
# The rules
# ---------------------------------------------------------------------------

_ALL_KINDS = frozenset(FileKind)


class KnownSecretFormat(Rule):
    """A credential in a recognisable key format is committed.

    ## What it does
    Flags added lines holding a credential whose format is unmistakable: AWS access
    key ids (`AKIA…`), GitHub (`ghp_`, `gho_`, `ghs_`, `github_pat_`), GitLab,
    Slack (`xoxb-` and webhook URLs), Stripe live keys (`sk_live_`), Google API
    keys (`AIza…`), OpenAI/Anthropic/SendGrid/npm/PyPI/Shopify tokens, and PEM
    `PRIVATE KEY` blocks that carry a key body. Obvious fakes (`AKIA…EXAMPLE`,
    `xxxx`) are ignored. A Google key inside a Firebase web config is a notice,
    since those keys are meant to ship to browsers.

    ## Why it matters
    Credentials are the most sensitive part of an app's config, and config belongs
    in the environment, not in the code: anyone with the repository (or any fork or
    clone of it) now holds this key, and it stays in history after it is deleted.

    ## Example
    ```python
    s3 = boto3.client("s3", aws_access_key_id="AKIA2E0A8F3B244C9986")
    ```

    ## Use instead
    ```python
    s3 = boto3.client("s3")  # credentials from the environment or an instance role
    ```
    Revoke the leaked key first: removing it from the code does not un-leak it.
    """

    code = "TF0301"
    name = "known-secret-format"
    factor = 3
    severity = Severity.ERROR
    kinds = _ALL_KINDS
    trigger = line_trigger(KNOWN_SECRET_HINT)
    message = (
        "Hard-coded credential in a known key format; revoke it and load it from the "
        "environment or a secret store."
    )

    def check(self, f: FileUnderReview) -> Iterator[Hit]:
        firebase: bool | None = None
        for line in f.code_lines():
            text = line.text
            for match in known_secrets(text):
                label = match.lastgroup or "pem"
                if label == "pem" and not self._has_key_body(f, line, match):
                    continue
                severity = None
                if label == "google":
                    if firebase is None:
                        lowered = f.text.lower()
                        firebase = "firebase" in lowered or "authdomain" in lowered
                    severity = Severity.NOTICE if firebase else None
                message = (
                    f"Hard-coded {KNOWN_SECRET_LABELS[label]}; revoke it and load it from the "
                    "environment or a secret store."
                )
                yield Hit(line.number, message=message, severity=severity)
                break

    @staticmethod
    def _has_key_body(f: FileUnderReview, line: Line, match: re.Match[str]) -> bool:
        """A PEM header alone (a parser's constant) is not a key; a header with a body is."""
        if _PEM_BODY.search(line.text, match.end()):
            return True
        following = f.line_text(line.number + 1)
        return following is not None and _PEM_NEXT_LINE.match(following) is not None


class HardcodedCredential(Rule):
    """A password, token or API key is assigned a literal value.

    ## What it does
    Flags added lines that give a secret-named setting (`password`, `DB_PASS`,
    `apiKey`, `SECRET_KEY`, `client_secret`, `auth_token`, …) a literal value, in
    Python, JS/TS, Go, Java/Kotlin, Ruby, shell and Dockerfiles, and in
    `.properties`, `.ini`/`.cfg`/`.conf`, TOML, JSON, YAML and XML config. Also
    `setPassword("…")`-style calls, `jwt.encode(payload, "…")` keys, `--password=…`
    flags and `"Bearer <token>"` literals.
    Names about a secret rather than holding one (`PASSWORD_FIELD`, `token_type`,
    `password_hash`, `TOKEN_URL`, `PASSWORD_MIN_LENGTH`), values that are not
    literals (env reads, function calls, `None`), placeholders (`${DB_PASSWORD}`,
    `change-me`, `<password>`, `{{ .Values.x }}`), labels with spaces, env-var names
    (`"SECRET_KEY"`) and type names are not flagged. Weak or well-known default
    values (`postgres`, `root`, `dev`) are reported as notices.

    ## Why it matters
    A twelve-factor app keeps config, and credentials above all, strictly apart from
    code: a secret in the repository is shared with everyone who can read it, is the
    same in every deploy, and cannot be rotated without a code change.

    ## Example
    ```python
    DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "PASSWORD": "Xk29!fq7"}}
    ```

    ## Use instead
    ```python
    DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql",
                             "PASSWORD": os.environ["DB_PASSWORD"]}}
    ```
    """

    code = "TF0302"
    name = "hardcoded-credential"
    factor = 3
    severity = Severity.ERROR
    kinds = frozenset(
        {
            FileKind.PYTHON, FileKind.JAVASCRIPT, FileKind.GO, FileKind.JAVA, FileKind.RUBY,
            FileKind.SHELL, FileKind.DOCKERFILE, FileKind.PROCFILE, FileKind.PROPERTIES,
            FileKind.INI, FileKind.TOML, FileKind.JSON, FileKind.YAML, FileKind.XML,
        }
    )  # fmt: skip
    message = "Hard-coded credential; read it from an environment variable or a secret store."
    _weak_message: ClassVar[str] = (
        "Looks like a hard-coded (weak or default) credential; read it from the environment."
    )

    def check(self, f: FileUnderReview) -> Iterator[Hit]:
        if f.kinds & {FileKind.COMPOSE, FileKind.KUBERNETES, FileKind.ENV}:
            return  # TF0307 and TF0304 read those
        if _I18N_PATH.search(f.path):
            return
        quiet_on_weak = _CI_PATH.search(f.path) is not None
        kinds = f.kinds
        for line in f.code_lines():
            text = line.text
            if not _SECRETISH.search(text) or _claimed_by_specific_rule(text):
                continue
            severity = _pair_severity(_pairs(text, kinds))
            if severity is not Severity.ERROR and kinds & CODE_KINDS:
                severity = _worst(severity, _bearer_severity(text))
            if severity is None or (quiet_on_weak and severity is Severity.NOTICE):
                continue
            if severity is Severity.ERROR:
                yield Hit(line.number)
            else:
                yield Hit(line.number, message=self._weak_message, severity=severity)


class CredentialInUrl(Rule):
    """A connection string carries its password inline.

    ## What it does
    Flags added lines with a URL whose user-info holds a password
    (`postgres://app:Xk29fq7@db.acme.io/app`, `mongodb+srv://u:p@…`,
    `redis://:p@…`), JDBC/ADO.NET/libpq connection strings with `password=`, and
    Azure `AccountKey=`/`SharedAccessKey=` values. Placeholders (`${DB_PASSWORD}`,
    `%s`, `{password}`, `user:pass`) and documentation hosts (`example.com`) are
    ignored. A password for a local service (`localhost`, a compose service name)
    is a notice, and nothing at all when it is only the default of an env read.

    ## Why it matters
    A backing service's URL is config that differs per deploy, and its password is a
    secret: embedded in code, both are fixed for every environment and readable by
    everyone with the repository, instead of living in the deploy's environment.

    ## Example
    ```javascript
    const pool = new Pool({ connectionString: "postgres://app:Xk29fq7@db.acme.io:5432/app" });
    ```

    ## Use instead
    ```javascript
    const pool = new Pool({ connectionString: process.env.DATABASE_URL });
    ```
    """

    code = "TF0303"
    name = "credential-in-url"
    factor = 3
    severity = Severity.ERROR
    kinds = _ALL_KINDS
    trigger = _URL_OR_KV_CREDENTIAL_HINT
    message = (
        "Connection string embeds a password; keep the URL, or at least its password, "
        "in an environment variable."
    )
    _local_message: ClassVar[str] = (
        "Connection string embeds a password for a local service; take the whole URL "
        "from the environment so each deploy sets its own."
    )

    def check(self, f: FileUnderReview) -> Iterator[Hit]:
        for line in f.code_lines():
            text = line.text
            if "@" not in text and "=" not in text:
                continue
            if next(known_secrets(text), None) is not None:
                continue  # TF0301 names the exact kind of key
            severity = _credential_in_url(text)
            if severity is None:
                continue
            if severity is Severity.ERROR:
                yield Hit(line.number)
            else:
                yield Hit(line.number, message=self._local_message, severity=severity)


class EnvFileSecret(Rule):
    """A committed `.env` file holds a real secret.

    ## What it does
    Reads `.env` and `.env.<name>` files (the engine already skips `.env.example`
    and friends) and flags lines whose secret-named variable (`DB_PASSWORD`,
    `STRIPE_SECRET`, `JWT_SECRET`, `API_KEY`, …) has a real-looking value. Empty
    values, placeholders and non-secret variables (`PORT=8000`) are left alone;
    weak default values are notices. `.env.test` files are not read.

    ## Why it matters
    A `.env` file is a local stand-in for the environment and belongs to one
    machine; committed, its secrets leak to everyone with the repository and every
    deploy is tempted to share them, which is what the config factor forbids.

    ## Example
    ```sh
    # .env
    STRIPE_SECRET=sk_test_51Hx9aZ2eZvKYlo2C
    ```

    ## Use instead
    ```sh
    # .env.example (committed; the real .env is in .gitignore)
    STRIPE_SECRET=
    ```
    """

    code = "TF0304"
    name = "env-file-secret"
    factor = 3
    severity = Severity.ERROR
    kinds = frozenset({FileKind.ENV})
    message = (
        "Committed .env file holds a secret; keep real values out of the repository and "
        "commit a .env.example with empty values."
    )
    _weak_message: ClassVar[str] = (
        "Committed .env file sets a (weak or default) credential; keep .env out of the "
        "repository and commit a .env.example instead."
    )
    _pair: ClassVar[re.Pattern[str]] = re.compile(
        r"^\s*(?:export\s+)?(?P<name>[A-Za-z_][\w.]*)\s*=\s*(?P<value>.*)$"
    )
    _test_env: ClassVar[re.Pattern[str]] = re.compile(r"^\.env\.(?:test|testing|ci)$", re.I)

    def check(self, f: FileUnderReview) -> Iterator[Hit]:
        if self._test_env.match(PurePosixPath(f.path).name):
            return
        for line in f.code_lines():
            m = self._pair.match(line.text)
            if m is None or not _is_secret_name(m["name"]):
                continue
            if _claimed_by_specific_rule(line.text):
                continue
            value = _unquote(_strip_inline_comment(m["value"]))
            severity = _value_severity(value)
            if severity is Severity.ERROR:
                yield Hit(line.number)
            elif severity is not None:
                yield Hit(line.number, message=self._weak_message, severity=severity)


_PY_SETTINGS_PATH = re.compile(
    r"(?:^|/)settings(?:/[\w-]+)?\.py$|(?:^|/)[\w-]*settings[\w-]*\.py$|"
    r"(?:^|/)(?:config|configuration)\.py$|(?:^|/)config/[\w-]+\.py$"
)
_DEV_WORDS = frozenset(
    {
        "dev", "develop", "development", "local", "test", "tests", "testing", "debug",
        "ci", "sandbox", "example", "sample",
    }
)  # fmt: skip
_CLASS_LINE = re.compile(r"^(\s*)class\s+(\w+)")
_MAIN_GUARD = re.compile(r"^\s*if\s+__name__\s*==\s*[\"']__main__[\"']")


def _dev_named(path: str) -> bool:
    words = re.split(r"[/_.\-]+", path.lower())
    return any(w in _DEV_WORDS for w in words)


class DebugEnabled(LineRule):
    """Debug mode is switched on in code or in the shared settings.

    ## What it does
    Flags `DEBUG = True` in Django/Flask settings modules (not in files or config
    classes named for development, local or test), `app.config["DEBUG"] = True`,
    `app.debug = True`, `debug=True` passed to `app.run()`, `FastAPI()` or
    `Starlette()` (a notice under `if __name__ == "__main__":`), `gin.SetMode(gin.DebugMode)`,
    `config.consider_all_requests_local = true` in Rails production/staging
    environments, and `debug=true` in Spring's shared or production
    `application.properties`/`application.yml`.

    ## Why it matters
    Whether a deploy runs in debug mode is config that must vary between deploys;
    hard-coded on, every deploy shows stack traces (and sometimes an interactive
    console) to the world unless someone remembers to edit the code.

    ## Example
    ```python
    # myproject/settings.py
    DEBUG = True
    ```

    ## Use instead
    ```python
    DEBUG = os.environ.get("DEBUG", "false").lower() == "true"
    ```
    """

    code = "TF0305"
    name = "debug-enabled"
    factor = 3
    severity = Severity.WARNING
    kinds = frozenset(
        {FileKind.PYTHON, FileKind.RUBY, FileKind.PROPERTIES, FileKind.YAML, FileKind.GO}
    )
    message = "Debug mode is hard-coded on; make it an environment setting that is off by default."
    pattern = re.compile(
        r"^(?P<indent>\s*)DEBUG\s*(?::\s*bool\s*)?=\s*True\s*(?:#.*)?$|"
        r"\.config\[\s*[\"']DEBUG[\"']\s*\]\s*=\s*True\b|"
        r"\.config\.update\([^)]*\bDEBUG\s*=\s*True\b|"
        r"\b(?:app|application|server)\.debug\s*=\s*True\b|"
        r"(?P<call>\b(?:\w+\.run|FastAPI|Starlette|Flask)\()[^#]*\bdebug\s*=\s*True\b|"
        r"\bgin\.SetMode\(\s*gin\.DebugMode\s*\)|"
        r"^\s*config\.consider_all_requests_local\s*=\s*true\b|"
        r"^(?P<spring>debug\s*[=:]\s*true)\s*$"
    )
    _spring_config: ClassVar[re.Pattern[str]] = re.compile(
        r"(?:^|/)(?:application|bootstrap)(?:-(?:prod|production|staging|stage|default))?"
        r"\.(?:properties|ya?ml)$"
    )
    _rails_env: ClassVar[re.Pattern[str]] = re.compile(
        r"(?:^|/)config/environments/(?:production|staging)\.rb$"
    )

    def check_match(self, f: FileUnderReview, line: Line, match: re.Match[str]) -> Hit | None:
        path = f.path
        text = match.group()
        if match["spring"] is not None:
            return Hit(line.number) if self._spring_config.search(path) else None
        if "consider_all_requests_local" in text:
            return Hit(line.number) if self._rails_env.search(path) else None
        if FileKind.RUBY in f.kinds:
            return None
        if _dev_named(path):
            return None
        if match["indent"] is not None:
            return self._settings_debug(f, line, match["indent"])
        if FileKind.PYTHON not in f.kinds and "gin." not in text:
            return None
        if match["call"] is not None and self._under_main_guard(f, line):
            message = (
                "Debug mode is hard-coded on in the dev entry point; read it from the environment."
            )
            return Hit(line.number, message=message, severity=Severity.NOTICE)
        return Hit(line.number)

    def _settings_debug(self, f: FileUnderReview, line: Line, indent: str) -> Hit | None:
        if FileKind.PYTHON not in f.kinds or not _PY_SETTINGS_PATH.search(f.path):
            return None
        if indent:
            cls = self._enclosing_class(f, line.number, len(indent))
            if cls is not None and _dev_named(re.sub(r"(?<=[a-z])(?=[A-Z])", "_", cls)):
                return None
        suggestion = None
        imports_os = re.search(r"^import os\b|^from os import environ", f.text, re.M)
        if not indent and imports_os and line.text.strip() == "DEBUG = True":
            suggestion = 'DEBUG = os.environ.get("DEBUG", "false").lower() == "true"'
        return Hit(line.number, suggestion=suggestion)

    @staticmethod
    def _enclosing_class(f: FileUnderReview, number: int, indent: int) -> str | None:
        for _, text in enclosing_lines(f, number, indent, _indent, comments=("#",)):
            m = _CLASS_LINE.match(text)
            return m.group(2) if m else None
        return None

    @staticmethod
    def _under_main_guard(f: FileUnderReview, line: Line) -> bool:
        blocks = enclosing_lines(f, line.number, _indent(line.text), _indent, comments=("#",))
        return any(_MAIN_GUARD.match(text) for _, text in blocks)


_HOST = re.compile(
    r"(?:(?P<scheme>[A-Za-z][A-Za-z0-9+.-]{0,15})://|[\"'`@])(?P<host>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,10}"
    r"(?P<tld>[A-Za-z]{2,24}))(?![\w.-])"
)
_ENV_LABEL = re.compile(
    r"(?i)^(?:prod|production|prd|staging|stage|stg|preprod|pre-prod|uat)$|"
    r"^(?:prod|production|staging|stg|preprod)-|-(?:prod|production|prd|staging|stage|stg|preprod|uat)$"
)
# Reads of the environment or of app settings (the host is then only a fallback).
# Unlike values.ENV_LOOKUP, a `${...}` here is a template literal, not an env read.
_CODE_ENV_READ = re.compile(
    r"os\.environ|os\.getenv|getenv\(|process\.env|Deno\.env|import\.meta\.env|"
    r"System\.getenv|System\.getProperty|ENV\[|ENV\.fetch|os\.Getenv|os\.LookupEnv|"
    r"viper\.|\benv\(|\bconfig\(|settings\.|@Value\(|Rails\.application\.config"
)
_TLDS = frozenset(
    {
        "com", "net", "org", "io", "co", "dev", "app", "cloud", "internal", "corp", "lan",
        "intra", "intranet", "ai", "biz", "info", "tech", "xyz", "site", "online",
        "services", "systems", "network", "us", "uk", "de", "fr", "nl", "eu", "ca", "au",
        "jp", "br", "ch", "se", "dk", "fi", "es", "it", "cn", "ru", "be", "at", "nz",
        "ie", "sg", "hk", "kr", "tw", "in", "me", "ly", "gg", "cc", "tv", "fm", "no",
    }
)  # fmt: skip


_WEB_SCHEMES = frozenset({"http", "https", "ws", "wss", "grpc", "grpcs"})


class EnvironmentHostname(LineRule):
    """A hostname that names one deploy (staging, production) is hard-coded.

    ## What it does
    Flags string literals in Python, JS/TS, Go, Java/Kotlin and Ruby code that
    contain a hostname with an environment label, such as
    `https://api.staging.acme.io`, `payments-prod.acme.com` or
    `db.prod.acme.internal`. Lines that read the environment (the host is only a
    fallback), comments, docstrings and documentation domains are skipped, and so are
    `postgres://`/`redis://`-style URLs, which TF0401 reports as backing services. It
    is a notice: some of these are deliberate.

    ## Why it matters
    Code that names the staging or production host can only be pointed at another
    deploy by editing it; the twelve-factor way is one build whose per-deploy hosts
    come from the environment.

    ## Example
    ```typescript
    const API = "https://api.staging.acme.io/v2";
    ```

    ## Use instead
    ```typescript
    const API = process.env.API_BASE_URL;
    ```
    """

    code = "TF0306"
    name = "environment-hostname"
    factor = 3
    severity = Severity.NOTICE
    kinds = CODE_KINDS
    message = (
        "Hostname names a specific deploy (staging/production); take it from "
        "configuration in the environment."
    )
    pattern = re.compile(r"(?i)prod|stag|stg|uat")

    def check_match(self, f: FileUnderReview, line: Line, match: re.Match[str]) -> Hit | None:
        text = line.text
        if _CODE_ENV_READ.search(text) or _claimed_by_specific_rule(text):
            return None
        for m in _HOST.finditer(text):
            host = m["host"]
            if m["tld"].lower() not in _TLDS or is_test_like_host(host):
                continue
            if self._backing_service(m):
                continue  # where a database or broker lives is factor IV's finding
            labels = host.split(".")[:-1]
            if any(_ENV_LABEL.search(label) for label in labels):
                message = (
                    f"Hostname `{host}` names a specific deploy; take it from configuration "
                    "in the environment."
                )
                return Hit(line.number, message=message)
        return None

    @staticmethod
    def _backing_service(m: re.Match[str]) -> bool:
        """A `postgres://`, `redis://`, `amqp://`... URL: TF0401 reports those."""
        scheme = m["scheme"]
        return scheme is not None and scheme.lower() not in _WEB_SCHEMES


_DOC_SEPARATOR = re.compile(r"^---(?:\s|$)")
_TOP_KIND = re.compile(r"^kind:\s*[\"']?(?P<kind>\w+)")
_SECRET_DATA = re.compile(r"^(?P<block>data|stringData):\s*(?:#.*)?$")
_DATA_ENTRY = re.compile(
    r"^(?P<indent>\s+)(?P<key>[\w.\-]+|\"[^\"]+\"|'[^']+')\s*:\s*(?P<value>.*)$"
)
_PUBLIC_SECRET_KEY = re.compile(
    r"(?i)^(?:user|username|login|host|hostname|port|database|db|dbname|name|namespace|"
    r"region|endpoint|bucket|.*\.crt|.*\.cert|.*\.pub|ca-bundle.*)$"
)
_ENV_ITEM = re.compile(r"^(?P<indent>\s*)-\s+(?P<key>name|value|valueFrom):\s*(?P<value>.*)$")
_ENV_SIBLING = re.compile(r"^(?P<indent>\s*)(?P<key>name|value|valueFrom):\s*(?P<value>.*)$")
_ENV_FLOW = re.compile(r"-\s*\{\s*name:\s*(?P<name>[^,}]+?)\s*,\s*value:\s*(?P<value>[^}]+?)\s*\}")


def _env_entries(lines: list[tuple[int, str]], added: set[int]) -> Iterator[tuple[int, Severity]]:
    """Added `value:` lines of `- name: X_PASSWORD / value: literal` list items (container env)."""
    index = 0
    while index < len(lines):
        n, text = lines[index]
        index += 1
        flow = _ENV_FLOW.search(text)
        if flow is not None:
            severity = _env_pair_severity(flow["name"], flow["value"])
            if severity is not None and n in added:
                yield n, severity
            continue
        item = _ENV_ITEM.match(text)
        if item is None:
            continue
        fields = {item["key"]: (n, item["value"])}
        key_indent = item.start("key")
        while index < len(lines):
            m, sibling = lines[index]
            stripped = sibling.strip()
            width = _indent(sibling)
            if not stripped or stripped.startswith("#") or width > key_indent:
                index += 1
                continue
            sib = _ENV_SIBLING.match(sibling)
            if width != key_indent or sib is None:
                break
            fields.setdefault(sib["key"], (m, sib["value"]))
            index += 1
        if "name" in fields and "value" in fields and "valueFrom" not in fields:
            value_line, value = fields["value"]
            if value_line in added:
                severity = _env_pair_severity(fields["name"][1], value)
                if severity is not None:
                    yield value_line, severity


def _env_pair_severity(name: str, raw_value: str) -> Severity | None:
    if not _is_secret_name(_unquote(name.strip())):
        return None
    value = _yaml_value(raw_value)
    return None if value is None else _value_severity(value)


def _decoded(value: str) -> str | None:
    """A Secret's `data` value decoded, or None when it is not base64 text."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


class ManifestLiteralSecret(Rule):
    """Kubernetes or Compose files carry literal secrets.

    ## What it does
    In Kubernetes manifests: a `kind: Secret` whose `data`/`stringData` holds real
    values (base64 is decoded and judged; one finding per Secret), container `env`
    entries whose secret-named variable has a literal `value:` (not `valueFrom:
    secretKeyRef`), secret-named keys in ConfigMaps and other objects, and
    `--password=…` style arguments. In docker-compose files: secret-named
    `environment:` entries (map or `- KEY=value` list) with literal values. In other
    YAML (Helm values, manifests seen only in part), `- name:`/`value:` env lists. Helm
    templating (`{{ .Values.x }}`), `${VAR}` interpolation, placeholders and
    SealedSecrets are fine; weak defaults (`POSTGRES_PASSWORD: postgres`) are notices.

    ## Why it matters
    Deployment manifests live in the repository next to the code; a literal secret
    there is shared with every reader and fixed for every deploy, instead of being
    injected per environment from a secret store.

    ## Example
    ```yaml
    env:
      - name: DB_PASSWORD
        value: "Xk29!fq7"
    ```

    ## Use instead
    ```yaml
    env:
      - name: DB_PASSWORD
        valueFrom:
          secretKeyRef: {name: db-credentials, key: password}
    ```
    """

    code = "TF0307"
    name = "manifest-literal-secret"
    factor = 3
    severity = Severity.ERROR
    kinds = frozenset({FileKind.KUBERNETES, FileKind.COMPOSE, FileKind.YAML})
    message = (
        "Literal secret in a deployment manifest; reference a Secret (secretKeyRef) or "
        "an external secret store instead."
    )
    _secret_message: ClassVar[str] = (
        "Kubernetes Secret committed with real values; create it at deploy time or "
        "commit it encrypted (SealedSecret, External Secrets, SOPS)."
    )
    _compose_message: ClassVar[str] = (
        "Literal secret in the Compose file; use `${VAR}` interpolation or an env_file "
        "kept out of the repository."
    )
    _weak_message: ClassVar[str] = (
        "Looks like a hard-coded (weak or default) credential in a manifest; inject it "
        "from the environment instead."
    )

    def check(self, f: FileUnderReview) -> Iterator[Hit]:
        added = {line.number for line in f.code_lines()}
        if not added:
            return
        lines = f.numbered_lines()
        if not f.kinds & {FileKind.KUBERNETES, FileKind.COMPOSE}:
            # Plain YAML: container env lists in Helm values, or a manifest whose
            # `kind:` line is outside the diff's context.
            for n, env_severity in _env_entries(lines, added):
                yield self._hit(n, env_severity, self.message)
            return
        compose = FileKind.COMPOSE in f.kinds
        hits: dict[int, Hit] = {}
        secret_lines: set[int] = set()
        if not compose:
            for doc in self._documents(lines):
                if self._kind(doc) == "Secret":
                    secret_lines.update(n for n, _ in doc)
                    hit = self._secret_document(doc, added)
                    if hit is not None:
                        hits[hit.line] = hit
            for n, env_severity in _env_entries(lines, added):
                hits.setdefault(n, self._hit(n, env_severity, self.message))
        base_message = self._compose_message if compose else self.message
        for n, text in lines:
            if n not in added or n in hits or n in secret_lines:
                continue
            if not _SECRETISH.search(text) or _claimed_by_specific_rule(text):
                continue
            severity = _pair_severity(_pairs_in_yaml(text))
            if severity is not None:
                hits[n] = self._hit(n, severity, base_message)
        yield from (hits[n] for n in sorted(hits))

    def _hit(self, number: int, severity: Severity, message: str) -> Hit:
        if severity is Severity.ERROR:
            return Hit(number, message=message)
        return Hit(number, message=self._weak_message, severity=severity)

    @staticmethod
    def _documents(lines: list[tuple[int, str]]) -> Iterator[list[tuple[int, str]]]:
        doc: list[tuple[int, str]] = []
        for n, text in lines:
            if _DOC_SEPARATOR.match(text):
                if doc:
                    yield doc
                doc = []
            else:
                doc.append((n, text))
        if doc:
            yield doc

    @staticmethod
    def _kind(doc: list[tuple[int, str]]) -> str | None:
        for _, text in doc:
            m = _TOP_KIND.match(text)
            if m is not None:
                return m["kind"]
        return None

    def _secret_document(self, doc: list[tuple[int, str]], added: set[int]) -> Hit | None:
        block: str | None = None
        child_indent: int | None = None
        worst: Severity | None = None
        anchor: int | None = None
        for index, (n, text) in enumerate(doc):
            stripped = text.strip()
            if not stripped or stripped.startswith("#"):
                continue
            top = _SECRET_DATA.match(text)
            if top is not None:
                block, child_indent = top["block"], None
                continue
            if not text[:1].isspace():
                block = None
                continue
            if block is None:
                continue
            m = _DATA_ENTRY.match(text)
            if m is None:
                continue
            width = len(m["indent"])
            if child_indent is None:
                child_indent = width
            if width != child_indent or n not in added:
                continue
            key = m["key"].strip("\"'")
            if _PUBLIC_SECRET_KEY.match(key) or _claimed_by_specific_rule(text):
                continue
            severity = self._entry_severity(block, m["value"], doc, index, width)
            if severity is not None:
                worst = _worst(worst, severity)
                anchor = n if anchor is None else anchor
        if anchor is None or worst is None:
            return None
        if worst is Severity.ERROR:
            return Hit(anchor, message=self._secret_message)
        return Hit(anchor, message=self._weak_message, severity=worst)

    @staticmethod
    def _entry_severity(
        block: str, raw: str, doc: list[tuple[int, str]], index: int, width: int
    ) -> Severity | None:
        value = raw.strip()
        if value[:1] in ("|", ">"):
            body: list[str] = []
            for _, following in doc[index + 1 :]:
                if following.strip() and _indent(following) <= width:
                    break
                body.append(following.strip())
            joined = "".join(body[:4])
            if not joined or _is_reference(joined) or _REFERENCE.search(joined):
                return None
            return Severity.ERROR
        value = _unquote(_strip_inline_comment(value))
        if not value or _REFERENCE.search(value) or _is_reference(value):
            return None
        if block == "data":
            decoded = _decoded(value)
            if decoded is None:
                return Severity.ERROR if len(value) >= 8 else None
            if "\n" in decoded.strip():
                return Severity.ERROR
            return _value_severity(decoded)
        return _value_severity(value)


RULES: tuple[Rule, ...] = (
    KnownSecretFormat(),
    HardcodedCredential(),
    CredentialInUrl(),
    EnvFileSecret(),
    DebugEnabled(),
    EnvironmentHostname(),
    ManifestLiteralSecret(),
)
