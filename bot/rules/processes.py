"""Factor VI, processes: execute the app as one or more stateless processes.

Anything that must outlive a request, or be seen by the next request that
lands on another instance, belongs in a backing service. These rules look
for state kept in one process's memory or on its local disk (sessions,
uploads, caches used as shared state) and for load balancers pinning users
to one instance to hide such state.

Deliberately out of scope: temporary files (`/tmp`, `tempfile`, `os.tmpdir()`)
used within one request, cookie-based sessions, Django's storage API
(`default_storage.save`), settings files and config classes named for a
dev/test/local profile, and consistent hashing on the request URI (cache
locality, not session affinity).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import ClassVar

from bot.diff import Line
from bot.filetypes import FileKind
from bot.findings import Severity
from bot.rules.base import FileUnderReview, Hit, LineRule, Rule
from bot.rules.layout import ancestor_keys, enclosing_lines, indent_of, opened_call
from bot.rules.profiles import is_dev_profile

_DEV_CLASS = re.compile(r"(?i)dev|test|local|debug")
_CLASS = re.compile(r"^(\s*)class\s+(\w+)")


def _in_dev_class(f: FileUnderReview, line: Line, limit: int = 200) -> bool:
    """A Python line inside `class DevelopmentConfig:` (or Test/Local/Debug)."""
    blocks = enclosing_lines(f, line.number, indent_of(line.text), indent_of, limit=limit)
    for _, text in blocks:
        m = _CLASS.match(text)
        if m:
            return _DEV_CLASS.search(m.group(2)) is not None
    return False


def _production_settings(f: FileUnderReview, line: Line) -> bool:
    """Not a dev/test/local settings file, nor a dev config class inside one."""
    if is_dev_profile(f.path):
        return False
    return not (FileKind.PYTHON in f.kinds and _in_dev_class(f, line))


_TMP = re.compile(r"(?i)\btmp\b|/tmp|\btemp\b|tempfile|tmpdir|gettempdir|TempFile|temp_dir")


# --------------------------------------------------------------------------
# TF0601: sessions kept in the process
# --------------------------------------------------------------------------

_EXPRESS_SESSION_CALL = re.compile(r"\bsession\(\s*\{")
_EXPRESS_STORE = re.compile(r"\bstore\s*[:=]|\bstore\s*[,}]")
_MEMORY_STORE = re.compile(r"\bnew\s+(?:session\.|expressSession\.)?MemoryStore\s*\(")
_FLASK_FILE_SESSION = re.compile(r"""\bSESSION_TYPE['"]?\s*(?:\]\s*)?[:=]\s*['"]filesystem['"]""")
_DJANGO_SESSION = re.compile(
    r"""\bSESSION_ENGINE\s*=\s*['"]django\.contrib\.sessions\.backends\.(?P<engine>file|cache)['"]"""
)
_LOCAL_CACHE_BACKEND = re.compile(r"backends\.(?:locmem\.LocMemCache|filebased\.FileBasedCache)")
_SHARED_CACHE = re.compile(r"(?i)redis|memcached|pylibmc|valkey")


def _only_local_cache(f: FileUnderReview) -> bool:
    """The file configures a process-local Django cache and no shared one (no fallback pair)."""
    return bool(_LOCAL_CACHE_BACKEND.search(f.text)) and not _SHARED_CACHE.search(f.text)


_PHP_HANDLER = re.compile(
    r"""^\s*(?:php_(?:admin_)?value\s*\[?)?session\.save_handler\]?\s*=?\s*"?files\b"""
)
_PHP_PATH = re.compile(
    r"""^\s*(?:php_(?:admin_)?value\s*\[?)?session\.save_path\]?\s*[= ]\s*"?(?:\d+;)?/"""
)
_BEAKER = re.compile(r"^\s*(?:beaker\.)?session\.type\s*=\s*(?:file|memory|dbm)\b")
_GO_SESSION = re.compile(r"\bsessions\.NewFilesystemStore\(|\bmemstore\.NewMemStore\(")
_GO_SCS = re.compile(r"\bscs\.New\(\)")
_RACK_POOL = re.compile(r"\bRack::Session::Pool\b")


class LocalSessionStore(Rule):
    """Sessions stored in the process's memory or on its local disk.

    ## What it does
    Flags `express-session` used without a `store:` (its default MemoryStore) or with
    an explicit `MemoryStore`, Flask-Session `SESSION_TYPE = "filesystem"`, Django
    `SESSION_ENGINE` set to the `file` backend (or to `cache` when the same file's cache
    is `LocMemCache`/`FileBasedCache`), PHP `session.save_handler = files` /
    `session.save_path = /dir`, Beaker `session.type = file|memory`, Go gorilla
    `NewFilesystemStore`/`memstore` (and `scs.New()` without a `Store`), and Ruby
    `Rack::Session::Pool`. Dev/test config files and config classes are skipped.

    ## Why it matters
    Twelve-factor processes share nothing: a session kept in one process's memory or
    disk is lost on restart or deploy and invisible to the other instances, so users get
    logged out or see stale state as soon as the app scales out.

    ## Example
    ```js
    app.use(session({ secret: process.env.SESSION_SECRET, resave: false }));
    ```

    ## Use instead
    ```js
    const store = new RedisStore({ client: redisClient });
    app.use(session({ store, secret: process.env.SESSION_SECRET, resave: false }));
    ```
    """

    code = "TF0601"
    name = "local-session-store"
    factor = 6
    severity = Severity.WARNING
    kinds = frozenset(
        {FileKind.JAVASCRIPT, FileKind.PYTHON, FileKind.INI, FileKind.APACHE, FileKind.GO,
         FileKind.RUBY}
    )  # fmt: skip
    message = (
        "Sessions are kept in this process (memory or local disk); store them in a "
        "backing service such as Redis or the database."
    )

    def check(self, f: FileUnderReview) -> Iterator[Hit]:
        kinds = f.kinds
        if FileKind.JAVASCRIPT in kinds:
            yield from self._express(f)
        elif FileKind.PYTHON in kinds:
            for line in f.code_lines():
                if _FLASK_FILE_SESSION.search(line.text) and _production_settings(f, line):
                    yield Hit(line.number)
                    continue
                m = _DJANGO_SESSION.search(line.text)
                if (
                    m
                    and _production_settings(f, line)
                    and (m.group("engine") == "file" or _only_local_cache(f))
                ):
                    yield Hit(line.number)
        elif kinds & {FileKind.INI, FileKind.APACHE}:
            if is_dev_profile(f.path):
                return
            # Without a save_handler line PHP uses `files`; with one, that line decides.
            handler = re.search(r"session\.save_handler", f.text)
            for line in f.code_lines():
                text = line.text
                local_path = _PHP_PATH.search(text) and handler is None and not _TMP.search(text)
                if _PHP_HANDLER.search(text) or _BEAKER.search(text) or local_path:
                    yield Hit(line.number)
        elif FileKind.GO in kinds:
            for line in f.code_lines():
                if _GO_SESSION.search(line.text):
                    yield Hit(line.number)
                elif _GO_SCS.search(line.text) and not re.search(r"\.Store\s*=", f.text):
                    yield Hit(
                        line.number,
                        severity=Severity.NOTICE,
                        message=(
                            "scs session manager without a Store keeps sessions in process "
                            "memory; set a shared store (Redis, database)."
                        ),
                    )
        elif FileKind.RUBY in kinds:
            for line in f.code_lines():
                if _RACK_POOL.search(line.text):
                    yield Hit(line.number)

    def _express(self, f: FileUnderReview) -> Iterator[Hit]:
        if "express-session" not in f.text:
            return
        has_store = _EXPRESS_STORE.search(f.text) is not None
        for line in f.code_lines():
            if _MEMORY_STORE.search(line.text):
                yield Hit(
                    line.number,
                    message=(
                        "MemoryStore keeps sessions in this process; use a shared store "
                        "(e.g. connect-redis) instead."
                    ),
                )
            elif _EXPRESS_SESSION_CALL.search(line.text) and not has_store:
                yield Hit(
                    line.number,
                    message=(
                        "express-session without a `store` uses its in-process MemoryStore; "
                        "configure a shared store such as connect-redis."
                    ),
                )


# --------------------------------------------------------------------------
# TF0602: uploads written to local disk
# --------------------------------------------------------------------------

_MULTER_DEST = re.compile(r"\bmulter\(\s*\{[^}]*\bdest\s*:|\bmulter\.diskStorage\(")
_MULTER_OPEN = re.compile(r"\bmulter\(\s*\{")
_DEST_KEY = re.compile(r"^\s*dest\s*:")
_JS_WRITE = re.compile(
    r"\.mv\(|\bfs(?:\.promises)?\.(?:writeFile(?:Sync)?|rename(?:Sync)?|copyFile(?:Sync)?|"
    r"createWriteStream)\(|\bcreateWriteStream\("
)
# Werkzeug `FileStorage.save(dst)` takes a path; Django's `FieldFile.save(name, content)`
# and `default_storage.save(...)` go through the storage backend and are left alone.
_PY_SAVE = re.compile(
    r"""(?<!storage)\.save\(\s*(?:os\.path\.join\(|(?:pathlib\.)?Path\(|f?['"][^'"]*['"]\s*\)|
        [\w.\[\]'"]*(?:UPLOAD|upload_(?:folder|dir|path))[\w.\[\]'"]*\s*[,)/+])
    |\bopen\((?:[^()]|\([^()]*\))*,\s*['"][wa]b?['"]|\bshutil\.(?:move|copy\w*)\(""",
    re.VERBOSE,
)
_GO_SAVE = re.compile(r"\.SaveUploadedFile\(|\bos\.(?:Create|WriteFile)\(")
_JAVA_SAVE = re.compile(
    r"\.transferTo\(\s*(?:new\s+File\(|Paths?\.(?:get|of)\(|\w*(?:[Pp]ath|[Dd]ir|[Dd]est|[Uu]pload))|"
    r"\bFiles\.(?:copy|write)\("
)
_UPLOAD_PATH = re.compile(r"(?i)upload|MEDIA_ROOT")
_ACTIVE_STORAGE = re.compile(r"\bactive_storage\.service\s*=\s*:local\b")
_CARRIERWAVE = re.compile(r"^\s*(?:storage\s+:file\b|config\.storage\s*=\s*:file\b)")
_SHRINE = re.compile(r"\bstore:\s*Shrine::Storage::FileSystem\.new")
_DJANGO_FS_STORAGE = re.compile(
    r"""(?:\bDEFAULT_FILE_STORAGE\s*=|['"]BACKEND['"]\s*:)\s*
        ['"]django\.core\.files\.storage\.FileSystemStorage['"]""",
    re.VERBOSE,
)
_BASE_SETTINGS = re.compile(r"(?:^|/)(?:base|common|defaults?|shared)(?:_settings)?\.py$")
_MEDIA_ROOT = re.compile(r"^\s*MEDIA_ROOT\s*=")
_REMOTE_STORAGE = re.compile(r"DEFAULT_FILE_STORAGE|STORAGES|storages\.backends")
_PROD_SETTINGS = re.compile(r"(?i)(?:^|[/_.-])(?:prod|production)(?:[/_.-]|$)")


class LocalUploadStorage(Rule):
    """User uploads written to the instance's local disk.

    ## What it does
    Flags uploads saved to a local directory: multer `dest:`/`diskStorage`,
    express-fileupload `.mv(...uploads...)` and `fs` writes to an upload path in JS;
    `file.save(os.path.join(UPLOAD_FOLDER, ...))` and friends in Python; Django's
    `FileSystemStorage` set as default storage (a warning in production settings, a notice
    elsewhere, silent in `base.py`/`common.py` that production overrides) and, as a notice,
    `MEDIA_ROOT` in a production settings file with no remote storage configured; Rails
    `active_storage.service = :local`, CarrierWave `storage :file`, Shrine `FileSystem`
    store; Go `SaveUploadedFile`/`os.Create` to an upload path; Java
    `MultipartFile.transferTo`/`Files.copy` to an upload path. Temp directories are left alone.

    ## Why it matters
    A process's filesystem is scratch space: files written there vanish on the next deploy
    or restart and exist on one instance only, so the next request, served elsewhere, cannot
    find them. Uploads belong in a backing service such as object storage.

    ## Example
    ```python
    file.save(os.path.join(app.config["UPLOAD_FOLDER"], filename))
    ```

    ## Use instead
    ```python
    s3.upload_fileobj(file, os.environ["UPLOAD_BUCKET"], filename)
    ```
    """

    code = "TF0602"
    name = "local-upload-storage"
    factor = 6
    severity = Severity.WARNING
    kinds = frozenset(
        {FileKind.JAVASCRIPT, FileKind.PYTHON, FileKind.RUBY, FileKind.GO, FileKind.JAVA}
    )
    message = (
        "Uploads are written to this instance's local disk; store them in a backing "
        "service such as object storage (S3, GCS)."
    )

    def check(self, f: FileUnderReview) -> Iterator[Hit]:
        kinds = f.kinds
        if is_dev_profile(f.path):
            return
        for line in f.code_lines():
            text = line.text
            hit: bool | Hit
            if FileKind.JAVASCRIPT in kinds:
                hit = self._js(f, line)
            elif FileKind.PYTHON in kinds:
                hit = self._python(f, line)
            elif FileKind.RUBY in kinds:
                hit = bool(
                    _ACTIVE_STORAGE.search(text)
                    or _CARRIERWAVE.search(text)
                    or _SHRINE.search(text)
                )
            elif FileKind.GO in kinds:
                hit = bool(_GO_SAVE.search(text) and _local_upload_path(text))
            else:
                hit = bool(
                    _JAVA_SAVE.search(text)
                    and "MultipartFile" in f.text
                    and (_local_upload_path(text) or ".transferTo(" in text)
                    and _TMP.search(text) is None
                )
            if hit is True:
                yield Hit(line.number)
            elif isinstance(hit, Hit):
                yield hit

    @staticmethod
    def _js(f: FileUnderReview, line: Line) -> bool:
        text = line.text
        if _MULTER_DEST.search(text) or (
            _DEST_KEY.match(text) and opened_call(f, line.number, _MULTER_OPEN, 6)
        ):
            return not _TMP.search(text)
        return bool(_JS_WRITE.search(text) and _local_upload_path(text))

    @staticmethod
    def _python(f: FileUnderReview, line: Line) -> bool | Hit:
        text = line.text
        if _PY_SAVE.search(text) and _local_upload_path(text):
            return True
        if _BASE_SETTINGS.search(f.path):
            return False  # shared defaults that production settings commonly override
        if _DJANGO_FS_STORAGE.search(text):
            keys = ancestor_keys(f, line.number)
            if "DEFAULT_FILE_STORAGE" not in text and (
                keys[:1] != ["default"] or "storages" not in keys
            ):
                return False
            if _PROD_SETTINGS.search(f.path):
                return True
            return Hit(
                line.number,
                severity=Severity.NOTICE,
                message=(
                    "Default file storage is the local filesystem; unless production "
                    "overrides it, uploads stay on one instance's disk."
                ),
            )
        if (
            _MEDIA_ROOT.match(text)
            and _PROD_SETTINGS.search(f.path)
            and not _REMOTE_STORAGE.search(f.text)
        ):
            return Hit(
                line.number,
                severity=Severity.NOTICE,
                message=(
                    "MEDIA_ROOT with the default FileSystemStorage keeps uploads on local "
                    "disk; configure remote storage (e.g. django-storages) for production."
                ),
            )
        return False


def _local_upload_path(text: str) -> bool:
    return _UPLOAD_PATH.search(text) is not None and _TMP.search(text) is None


# --------------------------------------------------------------------------
# TF0603: sticky sessions
# --------------------------------------------------------------------------

_K8S_STICKY = re.compile(
    r"""^\s*sessionAffinity\s*:\s*['"]?ClientIP\b
    |nginx\.ingress\.kubernetes\.io/affinity['"]?\s*:\s*['"]?cookie
    |traefik\.ingress\.kubernetes\.io/(?:service\.)?sticky(?:\.cookie)?['"]?\s*:\s*['"]?true
    |stickiness\.enabled=true
    |^\s*affinityType\s*:\s*['"]?(?:GENERATED_COOKIE|CLIENT_IP)
    |^\s*sticky\s*:\s*$""",
    re.VERBOSE,
)
_K8S_HASH_AFFINITY = re.compile(r"^\s*(?:useSourceIp\s*:\s*true|httpCookie\s*:)")
_NGINX_STICKY = re.compile(r"^\s*(?:ip_hash\s*;|sticky\b)")
_NGINX_HASH = re.compile(r"^\s*hash\s+\$(?:remote_addr|binary_remote_addr|cookie_\w+)\b")
_APACHE_STICKY = re.compile(r"\bstickysession\s*=", re.IGNORECASE)
_HAPROXY_STICKY = re.compile(
    r"^\s*(?:balance\s+source\b|cookie\s+\S+\s+(?:insert|prefix|rewrite)\b|"
    r"stick\s+(?:on|match|store-request)\b)"
)
_TRAEFIK_LABEL = re.compile(r"loadbalancer\.sticky(?:\.cookie)?(?:\.\w+)?\s*[=:]\s*['\"]?true")


class StickySessions(Rule):
    """Load balancing that pins each client to one instance.

    ## What it does
    Flags session affinity: Kubernetes `sessionAffinity: ClientIP`, ingress annotations
    for cookie affinity (ingress-nginx, Traefik, AWS ALB `stickiness.enabled=true`), GKE
    `affinityType`, Traefik `sticky:`; nginx `ip_hash;` and `sticky` (and, as a notice,
    `hash $remote_addr`/`$cookie_*`); Apache `stickysession=`; HAProxy `balance source`,
    `cookie ... insert` and `stick on`; Traefik `loadbalancer.sticky` labels in compose
    (a notice). Istio consistent hashing on the source IP or a cookie is a notice.

    ## Why it matters
    Sticky sessions exist to hide state kept inside one instance. The twelve-factor
    app keeps that state in a backing service instead, so any instance can serve any
    request and instances can be added, restarted or lost without logging users out.

    ## Example
    ```nginx
    upstream app {
        ip_hash;
        server app1:8000;
        server app2:8000;
    }
    ```

    ## Use instead
    ```nginx
    upstream app {
        least_conn;
        server app1:8000;
        server app2:8000;
    }
    ```
    """

    code = "TF0603"
    name = "sticky-sessions"
    factor = 6
    severity = Severity.WARNING
    kinds = frozenset(
        {FileKind.KUBERNETES, FileKind.YAML, FileKind.NGINX, FileKind.APACHE, FileKind.INI,
         FileKind.COMPOSE}
    )  # fmt: skip
    message = (
        "Sticky sessions pin clients to one instance; keep session state in a backing "
        "service so any instance can serve any request."
    )

    def check(self, f: FileUnderReview) -> Iterator[Hit]:
        kinds = f.kinds
        for line in f.code_lines():
            text = line.text
            if FileKind.NGINX in kinds:
                if _NGINX_STICKY.search(text):
                    yield Hit(line.number)
                elif _NGINX_HASH.search(text):
                    yield Hit(line.number, severity=Severity.NOTICE)
            elif FileKind.APACHE in kinds:
                if _APACHE_STICKY.search(text):
                    yield Hit(line.number)
            elif FileKind.INI in kinds:
                if "haproxy" in f.path.lower() and _HAPROXY_STICKY.search(text):
                    yield Hit(line.number)
            elif FileKind.COMPOSE in kinds:
                if _TRAEFIK_LABEL.search(text):
                    yield Hit(line.number, severity=Severity.NOTICE)
            elif FileKind.YAML in kinds:
                if _K8S_STICKY.search(text):
                    if text.strip() == "sticky:" and FileKind.KUBERNETES not in kinds:
                        continue
                    yield Hit(line.number)
                elif _K8S_HASH_AFFINITY.search(text) and "consistentHash" in "".join(
                    (f.line_text(k) or "") for k in range(max(1, line.number - 3), line.number)
                ):
                    yield Hit(line.number, severity=Severity.NOTICE)


# --------------------------------------------------------------------------
# TF0604: process-local caches in production settings
# --------------------------------------------------------------------------


class ProcessLocalCache(LineRule):
    """A process-local cache configured as the app's cache in production settings.

    ## What it does
    Notes Flask-Caching `CACHE_TYPE` set to `SimpleCache`/`simple` or
    `FileSystemCache`/`filesystem`, Django's default cache alias using `LocMemCache` or
    `FileBasedCache`, and Rails `config.cache_store = :memory_store`/`:file_store`,
    outside dev/test settings files and config classes. It is a notice: a per-process
    cache is fine for data that may differ between instances.

    ## Why it matters
    A cache kept in one process is a private copy: invalidating it on one instance leaves
    the others stale, and anything stored there as shared state (rate limits, one-time
    tokens, locks) silently breaks once the app runs more than one process.

    ## Example
    ```python
    class ProductionConfig(Config):
        CACHE_TYPE = "SimpleCache"
    ```

    ## Use instead
    ```python
    class ProductionConfig(Config):
        CACHE_TYPE = "RedisCache"
        CACHE_REDIS_URL = os.environ["REDIS_URL"]
    ```
    """

    code = "TF0604"
    name = "process-local-cache"
    factor = 6
    severity = Severity.NOTICE
    kinds = frozenset({FileKind.PYTHON, FileKind.RUBY})
    message = (
        "The app's cache lives inside each process; use a shared cache (Redis, Memcached) "
        "if other instances must see the same entries."
    )
    pattern = re.compile(
        r"""\bCACHE_TYPE['"]?\s*(?:\]\s*)?[:=]\s*['"](?:flask_caching\.backends\.(?:\w+\.)?)?
            (?:SimpleCache|simple|FileSystemCache|filesystem)['"]
        |['"]BACKEND['"]\s*:\s*['"]django\.core\.cache\.backends\.
            (?:locmem\.LocMemCache|filebased\.FileBasedCache)['"]
        |\bconfig\.cache_store\s*=\s*:(?:memory_store|file_store)\b""",
        re.VERBOSE,
    )
    _django: ClassVar[re.Pattern[str]] = re.compile(r"['\"]BACKEND['\"]")

    def check_match(self, f: FileUnderReview, line: Line, match: re.Match[str]) -> Hit | None:
        if not _production_settings(f, line):
            return None
        if self._django.search(match.group(0)):
            keys = ancestor_keys(f, line.number)
            if keys[:1] != ["default"] or "caches" not in keys:
                return None
            if _SHARED_CACHE.search(f.text):
                return None  # a fallback beside a Redis/Memcached configuration
        return Hit(line.number)


RULES: tuple[Rule, ...] = (
    LocalSessionStore(),
    LocalUploadStorage(),
    StickySessions(),
    ProcessLocalCache(),
)
