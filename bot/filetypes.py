"""What kind of file a path is, and whether it is production code at all.

A path can carry several kinds: `package.json` is JSON and a dependency
manifest; `log4j2.xml` is XML and a logging config. Rules declare the kinds
they read, and the engine hands each file only to the rules that want it.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import PurePosixPath

__all__ = ["FileKind", "classify", "comment_prefixes", "is_non_production"]


class FileKind(StrEnum):
    PYTHON = "python"
    JAVASCRIPT = "javascript"  # also TypeScript
    GO = "go"
    JAVA = "java"  # also Kotlin
    RUBY = "ruby"
    SHELL = "shell"
    DOCKERFILE = "dockerfile"
    COMPOSE = "compose"
    KUBERNETES = "kubernetes"  # manifests and Helm templates
    YAML = "yaml"
    PROCFILE = "procfile"
    PROPERTIES = "properties"
    INI = "ini"
    TOML = "toml"
    JSON = "json"
    ENV = "env"  # .env files
    NGINX = "nginx"
    APACHE = "apache"
    LOGGING_CONFIG = "logging-config"  # logback / log4j
    XML = "xml"
    REQUIREMENTS = "requirements"  # requirements*.txt, constraints*.txt
    PACKAGE_JSON = "package-json"
    PIPFILE = "pipfile"
    GEMFILE = "gemfile"
    SUPERVISOR = "supervisor"


_BY_SUFFIX: dict[str, FileKind] = {
    ".py": FileKind.PYTHON,
    ".pyw": FileKind.PYTHON,
    ".js": FileKind.JAVASCRIPT,
    ".mjs": FileKind.JAVASCRIPT,
    ".cjs": FileKind.JAVASCRIPT,
    ".jsx": FileKind.JAVASCRIPT,
    ".ts": FileKind.JAVASCRIPT,
    ".tsx": FileKind.JAVASCRIPT,
    ".mts": FileKind.JAVASCRIPT,
    ".cts": FileKind.JAVASCRIPT,
    ".go": FileKind.GO,
    ".java": FileKind.JAVA,
    ".kt": FileKind.JAVA,
    ".kts": FileKind.JAVA,
    ".rb": FileKind.RUBY,
    ".rake": FileKind.RUBY,
    ".sh": FileKind.SHELL,
    ".bash": FileKind.SHELL,
    ".zsh": FileKind.SHELL,
    ".properties": FileKind.PROPERTIES,
    ".ini": FileKind.INI,
    ".cfg": FileKind.INI,
    ".cnf": FileKind.INI,
    ".toml": FileKind.TOML,
    ".json": FileKind.JSON,
    ".xml": FileKind.XML,
    ".yaml": FileKind.YAML,
    ".yml": FileKind.YAML,
    ".tpl": FileKind.YAML,  # Helm helpers live beside templates
    ".conf": FileKind.INI,  # refined below for nginx/apache/supervisor
    ".env": FileKind.ENV,
}

_BY_NAME: dict[str, tuple[FileKind, ...]] = {
    "dockerfile": (FileKind.DOCKERFILE,),
    "containerfile": (FileKind.DOCKERFILE,),
    "procfile": (FileKind.PROCFILE,),
    "package.json": (FileKind.JSON, FileKind.PACKAGE_JSON),
    "pipfile": (FileKind.PIPFILE, FileKind.TOML),
    "gemfile": (FileKind.GEMFILE, FileKind.RUBY),
    "rakefile": (FileKind.RUBY,),
    "nginx.conf": (FileKind.NGINX,),
    "httpd.conf": (FileKind.APACHE,),
    "apache2.conf": (FileKind.APACHE,),
    ".htaccess": (FileKind.APACHE,),
    "supervisord.conf": (FileKind.SUPERVISOR, FileKind.INI),
    ".env": (FileKind.ENV,),
    "docker-entrypoint.sh": (FileKind.SHELL,),
    "go.mod": (FileKind.GO,),  # `replace` and `use` directives; `//` comments
    "go.work": (FileKind.GO,),
    "config.ru": (FileKind.RUBY,),
}

_COMPOSE_NAME = re.compile(r"^(docker-)?compose([.-][\w.-]+)?\.ya?ml$")
_REQUIREMENTS_NAME = re.compile(r"^(requirements|constraints)([\w.-]*)\.(txt|in)$")
_DOCKERFILE_NAME = re.compile(r"^(dockerfile|containerfile)([.-][\w.-]+)?$|^[\w.-]+\.dockerfile$")
_ENV_NAME = re.compile(r"^\.env(\.[\w-]+)?$")
_LOGGING_NAME = re.compile(r"^(logback|log4j2?)([\w.-]*)\.(xml|properties|ya?ml|json)$")
_K8S_DIRS = ("k8s", "kubernetes", "kube", "manifests", "helm", "charts", "kustomize", "deploy")
_K8S_CONTENT = re.compile(r"^\s*apiVersion:\s*\S+", re.MULTILINE)
_K8S_KIND = re.compile(r"^\s*kind:\s*[A-Z]\w+", re.MULTILINE)
_SHEBANG_SHELL = re.compile(r"^#!\s*/\S*(?:/env\s+)?(?:ba|z|da)?sh\b")
_SHEBANG_PYTHON = re.compile(r"^#!\s*/\S*(?:/env\s+)?python[\d.]*\b")
_NGINX_DIRS = ("nginx", "sites-available", "sites-enabled", "conf.d")
_APACHE_DIRS = ("apache", "apache2", "httpd")


def classify(path: str, sample: str = "") -> frozenset[FileKind]:
    """Kinds of a file, from its path and, where the path is ambiguous, its text.

    `sample` is whatever text of the new file is known (it may be partial).
    """
    p = PurePosixPath(path)
    name = p.name.lower()
    parts = [x.lower() for x in p.parts[:-1]]
    kinds: set[FileKind] = set(_BY_NAME.get(name, ()))
    suffix = p.suffix.lower()
    if suffix in _BY_SUFFIX and not kinds:
        kinds.add(_BY_SUFFIX[suffix])
    if _DOCKERFILE_NAME.match(name):
        kinds = {FileKind.DOCKERFILE}
    if _ENV_NAME.match(name):
        kinds = {FileKind.ENV}
    if _REQUIREMENTS_NAME.match(name) or (parts[-1:] == ["requirements"] and suffix == ".txt"):
        kinds = {FileKind.REQUIREMENTS}
    if _LOGGING_NAME.match(name):
        kinds.add(FileKind.LOGGING_CONFIG)
    if name.endswith(".conf"):
        if "nginx" in name or any(d in _NGINX_DIRS for d in parts):
            kinds = {FileKind.NGINX}
        elif "apache" in name or "httpd" in name or any(d in _APACHE_DIRS for d in parts):
            kinds = {FileKind.APACHE}
        elif "supervisor" in name or "supervisor" in parts:
            kinds = {FileKind.SUPERVISOR, FileKind.INI}
    if FileKind.YAML in kinds:
        if _COMPOSE_NAME.match(name):
            kinds.add(FileKind.COMPOSE)
        elif _looks_like_kubernetes(parts, sample):
            kinds.add(FileKind.KUBERNETES)
    if not kinds and sample:
        first = sample.lstrip("\ufeff").split("\n", 1)[0]
        if _SHEBANG_SHELL.match(first):
            kinds.add(FileKind.SHELL)
        elif _SHEBANG_PYTHON.match(first):
            kinds.add(FileKind.PYTHON)
    return frozenset(kinds)


def _looks_like_kubernetes(parts: list[str], sample: str) -> bool:
    if "templates" in parts and any(d in ("helm", "charts") for d in parts):
        return True
    if _K8S_CONTENT.search(sample) and _K8S_KIND.search(sample):
        return True
    return any(d in _K8S_DIRS for d in parts) and "kind:" in sample


_TEST_DIRS = frozenset(
    {
        "test", "tests", "__tests__", "__test__", "spec", "specs", "testdata", "test_data",
        "fixtures", "__fixtures__", "__mocks__", "testing", "e2e", "cypress", "testutils",
        "bench", "benchmarks", "benches",
    }
)  # fmt: skip
_DOC_DIRS = frozenset({"doc", "docs", "documentation", "example", "examples", "samples"})
_TEST_FILE = re.compile(
    r"(^test_.*\.py$|_test\.(py|go)$|^conftest\.py$|"
    r"\.(spec|test)\.[cm]?[jt]sx?$|(Test|Tests|IT|Spec)\.(java|kt)$|_spec\.rb$|_test\.rb$|"
    r"\.bats$)"
)
_DOC_SUFFIXES = frozenset({".md", ".markdown", ".rst", ".adoc", ".txt", ".html", ".ipynb"})
_TEMPLATE_SUFFIXES = frozenset({".example", ".sample", ".template", ".dist", ".tmpl-example"})
_TEMPLATE_NAME = re.compile(r"[.-](example|sample|template|dist)([.-]|$)", re.IGNORECASE)


def is_non_production(path: str) -> str | None:
    """Why a path is not production code or config (tests, docs, examples), or None."""
    p = PurePosixPath(path)
    name = p.name
    parts = [x.lower() for x in p.parts[:-1]]
    if any(d in _TEST_DIRS for d in parts) or _TEST_FILE.search(name):
        return "test"
    if p.suffix.lower() in _TEMPLATE_SUFFIXES or _TEMPLATE_NAME.search(name):
        return "example"
    if any(d in _DOC_DIRS for d in parts):
        return "docs"
    if p.suffix.lower() in _DOC_SUFFIXES and not _is_requirements(p):
        return "docs"
    return None


def _is_requirements(p: PurePosixPath) -> bool:
    return bool(_REQUIREMENTS_NAME.match(p.name.lower())) or p.parent.name == "requirements"


_COMMENTS: dict[FileKind, tuple[str, ...]] = {
    FileKind.PYTHON: ("#",),
    FileKind.JAVASCRIPT: ("//", "/*", "*"),
    FileKind.GO: ("//", "/*", "*"),
    FileKind.JAVA: ("//", "/*", "*"),
    FileKind.RUBY: ("#",),
    FileKind.SHELL: ("#",),
    FileKind.DOCKERFILE: ("#",),
    FileKind.COMPOSE: ("#",),
    FileKind.KUBERNETES: ("#",),
    FileKind.YAML: ("#",),
    FileKind.PROCFILE: ("#",),
    FileKind.PROPERTIES: ("#", "!"),
    FileKind.INI: ("#", ";"),
    FileKind.TOML: ("#",),
    FileKind.ENV: ("#",),
    FileKind.NGINX: ("#",),
    FileKind.APACHE: ("#",),
    FileKind.REQUIREMENTS: ("#",),
    FileKind.PIPFILE: ("#",),
    FileKind.GEMFILE: ("#",),
    FileKind.SUPERVISOR: ("#", ";"),
    FileKind.LOGGING_CONFIG: ("<!--", "#"),
    FileKind.XML: ("<!--",),
}


def comment_prefixes(kinds: frozenset[FileKind]) -> tuple[str, ...]:
    """Prefixes that start a whole-line comment in files of these kinds."""
    out: list[str] = []
    for kind in sorted(kinds):
        for prefix in _COMMENTS.get(kind, ()):
            if prefix not in out:
                out.append(prefix)
    return tuple(out)
