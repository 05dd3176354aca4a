"""Factor II, dependencies: declare every dependency explicitly and exactly, and isolate them.

The rules here look for dependencies whose version is left to chance (floating
versions, `latest` images, manifests without a lockfile), for installs that
bypass the manifest (`curl | sh`), and for code that installs packages while
the app is running.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import ClassVar

from bot.diff import Line
from bot.filetypes import FileKind
from bot.findings import Severity
from bot.rules.base import FileUnderReview, Hit, LineRule, Rule, code_line_above
from bot.rules.commands import shell_data_line
from bot.rules.layout import indent_width, statement_matches


def _folder(path: str) -> str:
    parent = str(PurePosixPath(path).parent)
    return "" if parent == "." else parent + "/"


def _has_sibling(f: FileUnderReview, names: tuple[str, ...], ancestors: bool = False) -> bool:
    """True when the repo holds one of `names` beside the file (or above it, with ancestors)."""
    if f.repo_files is None:
        return False
    folder = _folder(f.path)
    while True:
        if any(folder + name in f.repo_files for name in names):
            return True
        if not ancestors or not folder:
            return False
        folder = _folder(folder.rstrip("/"))


# --------------------------------------------------------------------------- requirements


class UnpinnedRequirement(Rule):
    """Python requirement without a version.

    ## What it does
    Flags lines of `requirements*.txt` that name a package with no version
    specifier at all (`requests`, `flask[async]`, `django; python_version > "3.8"`),
    and VCS requirements (`git+https://...`) without a tag or commit. Ranges
    (`>=`, `~=`) count as declared. `.in` files (pip-compile inputs), constraints
    files and requirement files that apply a constraints file (`-c`) are skipped.

    ## Why it matters
    A twelve-factor app declares its dependencies exactly, so every build of one
    commit installs the same code. A bare name installs whatever is newest on the
    day of the build, and a surprise upgrade then reaches production without any
    change to the repository.

    ## Example
    ```text
    requests
    celery[redis]
    ```

    ## Use instead
    ```text
    requests==2.32.3
    celery[redis]==5.4.0
    ```
    """

    code = "TF0201"
    name = "unpinned-python-requirement"
    factor = 2
    severity = Severity.NOTICE
    kinds = frozenset({FileKind.REQUIREMENTS})
    message = (
        "Requirement has no version; pin it (name==1.2.3) or compile a lock file so every "
        "build installs the same release."
    )
    _vcs_message: ClassVar[str] = (
        "VCS requirement without a fixed tag or commit; add @<tag-or-sha> so builds are "
        "reproducible."
    )
    _name: ClassVar[re.Pattern[str]] = re.compile(
        r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$"
    )
    _constraints: ClassVar[re.Pattern[str]] = re.compile(r"^\s*(?:-c|--constraint)[\s=]", re.M)
    _floating_refs: ClassVar[frozenset[str]] = frozenset(
        {"main", "master", "develop", "dev", "trunk", "head"}
    )

    def check(self, f: FileUnderReview) -> Iterator[Hit]:
        name = PurePosixPath(f.path).name.lower()
        if name.endswith(".in") or name.startswith("constraints"):
            return
        if self._constraints.search(f.text):
            return
        for line in f.code_lines():
            hit = self._check_line(line)
            if hit is not None:
                yield hit

    def _check_line(self, line: Line) -> Hit | None:
        text = re.split(r"\s#", line.text, maxsplit=1)[0].strip().rstrip("\\").strip()
        if "git+" in text:
            return None if self._pinned_vcs(text) else Hit(line.number, message=self._vcs_message)
        if not text or text.startswith(("-", ".", "/")) or "://" in text or "--hash" in text:
            return None
        m = self._name.match(text)
        if m is None:
            return None
        rest = m.group(3).strip()
        if rest.startswith("@"):
            return None  # a direct reference to a file or archive
        spec = rest.split(";", 1)[0]
        if any(c in spec for c in "=<>~!"):
            return None
        return Hit(line.number)

    def _pinned_vcs(self, text: str) -> bool:
        url = text[text.index("git+") :].split(maxsplit=1)[0].split("#", 1)[0]
        location = url.split("://", 1)[-1]
        _, _, path = location.partition("/")
        if "@" not in path:
            return False
        ref = path.rsplit("@", 1)[1]
        return ref.lower() not in self._floating_refs


# --------------------------------------------------------------------------- package.json

_NPM_LOCKS = (
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "bun.lockb",
    "bun.lock",
)


_JSON_OPEN = re.compile(r'^\s*(?:"([^"]+)"\s*:\s*)?[{\[]\s*$')


def _json_sections(f: FileUnderReview, last: int) -> dict[int, str | None]:
    """For each known line up to `last` of a pretty-printed JSON file, the key of its object.

    One forward pass with a stack of open objects; a gap in what is known of the
    file (lines outside the hunks) empties the stack, so a line whose enclosing
    key is not visible maps to None.
    """
    sections: dict[int, str | None] = {}
    stack: list[tuple[int, str | None]] = []
    for number in range(1, last + 1):
        text = f.line_text(number)
        if text is None:
            stack.clear()
            continue
        if not text.strip():
            continue
        indent = indent_width(text, 8)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        sections[number] = stack[-1][1] if stack else None
        opened = _JSON_OPEN.match(text)
        if opened is not None:
            stack.append((indent, opened.group(1)))
    return sections


class FloatingNpmVersion(Rule):
    """npm dependency that accepts any version.

    ## What it does
    Flags entries of `dependencies`, `devDependencies` and `optionalDependencies`
    in package.json whose version is `*`, `latest`, `next`, `x` or empty, and git
    dependencies without a `#tag` or commit. It is a warning for runtime
    `dependencies` when no lockfile is known, and a notice otherwise (a committed
    lockfile still pins the resolved version). `peerDependencies` are left alone:
    `*` is a normal way for a plugin to accept any host version.

    ## Why it matters
    Dependencies must be declared exactly so that every build of a commit runs the
    same code; "any version" hands the choice to the registry on the day of the
    build, and a breaking major release can ship without a change in the repository.

    ## Example
    ```json
    "dependencies": { "express": "*", "lodash": "latest" }
    ```

    ## Use instead
    ```json
    "dependencies": { "express": "^4.19.2", "lodash": "4.17.21" }
    ```
    """

    code = "TF0202"
    name = "floating-npm-version"
    factor = 2
    severity = Severity.WARNING
    kinds = frozenset({FileKind.PACKAGE_JSON})
    message = (
        "Dependency accepts any version; declare a version range (e.g. ^4.19.2) and commit "
        "the lockfile."
    )
    _git_message: ClassVar[str] = (
        "Git dependency without a tag or commit; pin it with #<tag-or-sha> so builds are "
        "reproducible."
    )
    _entry: ClassVar[re.Pattern[str]] = re.compile(r'^\s*"([^"]+)"\s*:\s*"([^"]*)"\s*,?\s*$')
    _floating: ClassVar[frozenset[str]] = frozenset(
        {"*", "", "latest", "next", "x", "x.x", "x.x.x"}
    )
    _git: ClassVar[re.Pattern[str]] = re.compile(
        r"^(?:git(?:\+\w+)?://|git@|github:|gitlab:|bitbucket:|https?://\S+\.git$|[\w.-]+/[\w.-]+$)"
    )
    _sections: ClassVar[frozenset[str]] = frozenset(
        {"dependencies", "devDependencies", "optionalDependencies"}
    )

    def check(self, f: FileUnderReview) -> Iterator[Hit]:
        locked: bool | None = None
        sections: dict[int, str | None] | None = None
        for line in f.code_lines():
            m = self._entry.match(line.text)
            if m is None:
                continue
            value = m.group(2).strip()
            floating = value.lower() in self._floating
            unpinned_git = "#" not in value and self._git.match(value) is not None
            if not floating and not unpinned_git:
                continue
            if sections is None:
                last = max((x.number for x in f.added_lines()), default=0)
                sections = _json_sections(f, last)
            section = sections.get(line.number)
            if section not in self._sections:
                continue
            if locked is None:
                locked = f.repo_files is not None and _has_sibling(f, _NPM_LOCKS, ancestors=True)
            runtime = section == "dependencies" and not locked and floating
            yield Hit(
                line.number,
                message=None if floating else self._git_message,
                severity=Severity.WARNING if runtime else Severity.NOTICE,
            )


# --------------------------------------------------------------------------- Pipfile / Gemfile


def _toml_section(f: FileUnderReview, line: Line, limit: int = 1000) -> str | None:
    """The `[table]` a Pipfile line sits in.

    Not layout.section_name: only a whole-line `[name]` counts (`[[source]]` is
    passed over), the name keeps its case, and the walk reaches further up.
    """
    for number in range(line.number - 1, max(line.number - limit, 0), -1):
        text = f.line_text(number)
        if text is None:
            return None
        m = re.match(r"\s*\[([^\]]+)\]\s*$", text)
        if m:
            return m.group(1).strip()
    return None


class ManifestWithoutLockfile(Rule):
    """Pipfile or Gemfile entry with no version and no lockfile to pin it.

    ## What it does
    Flags Pipfile `[packages]`/`[dev-packages]` entries set to `"*"` and Gemfile
    `gem` lines without a version. Pipenv and Bundler pin such entries in
    `Pipfile.lock`/`Gemfile.lock`, so the rule stays quiet when the lockfile is in
    the repository; it warns when the repository is known to lack it, and for a
    Pipfile leaves a notice on runtime packages when the repository's files are
    unknown. Gemfile lines are only judged when the repository's files are known.

    ## Why it matters
    Dependencies are declared exactly only when something pins them: without a
    committed lockfile, each build resolves "any version" afresh, so two deploys of
    the same commit can run different library code.

    ## Example
    ```toml
    [packages]
    django = "*"
    ```

    ## Use instead
    ```toml
    [packages]
    django = "~=5.0"   # and commit Pipfile.lock
    ```
    """

    code = "TF0203"
    name = "manifest-without-lockfile"
    factor = 2
    severity = Severity.WARNING
    kinds = frozenset({FileKind.PIPFILE, FileKind.GEMFILE})
    message = (
        "Package accepts any version and no lockfile pins it; commit the lockfile or declare "
        "a version."
    )
    _notice: ClassVar[str] = (
        "Package accepts any version; make sure Pipfile.lock is committed, or declare a version."
    )
    _pip_entry: ClassVar[re.Pattern[str]] = re.compile(
        r"""^\s*(?:[\w.-]+|"[^"]+")\s*=\s*(?:"\*"|\{[^}]*\bversion\s*=\s*"\*")"""
    )
    _gem: ClassVar[re.Pattern[str]] = re.compile(r"""^\s*gem\s*\(?\s*(['"])[\w.-]+\1(.*)$""")
    _gem_version: ClassVar[re.Pattern[str]] = re.compile(r"""['"]\s*(?:[~><=!]=?>?\s*)?\d""")
    _gem_source: ClassVar[re.Pattern[str]] = re.compile(r"\b(?:path|git|github|gist|bitbucket)\b")

    def check(self, f: FileUnderReview) -> Iterator[Hit]:
        if FileKind.PIPFILE in f.kinds:
            yield from self._pipfile(f)
        elif FileKind.GEMFILE in f.kinds:
            yield from self._gemfile(f)

    def _pipfile(self, f: FileUnderReview) -> Iterator[Hit]:
        locked = None if f.repo_files is None else _has_sibling(f, ("Pipfile.lock",))
        if locked:
            return
        for line in f.code_lines():
            if self._pip_entry.match(line.text) is None:
                continue
            section = _toml_section(f, line)
            if section not in ("packages", "dev-packages"):
                continue
            if locked is None:
                if section == "packages":
                    yield Hit(line.number, message=self._notice, severity=Severity.NOTICE)
            else:
                yield Hit(line.number)

    def _gemfile(self, f: FileUnderReview) -> Iterator[Hit]:
        if f.repo_files is None or _has_sibling(f, ("Gemfile.lock",)):
            return
        for line in f.code_lines():
            m = self._gem.match(line.text)
            if m is None:
                continue
            options = m.group(2)
            if self._gem_version.search(options) or self._gem_source.search(options):
                continue
            yield Hit(line.number)


# --------------------------------------------------------------------------- curl | sh


class CurlPipeShell(Rule):
    """Software installed by piping a download into a shell.

    ## What it does
    Flags `curl ... | sh`, `wget -qO- ... | sudo bash`, `bash <(curl ...)`,
    `sh -c "$(curl ...)"` and downloads piped into `python -`/`perl`/`ruby`/`node`
    in shell scripts and Dockerfile `RUN` lines, including a pipe continued on the
    next line. Pipes into `jq`, `tar` or a checksum tool are fine.

    ## Why it matters
    Every dependency should be declared with an exact version through a package
    manager or a pinned, verified artifact. A script fetched and executed on the
    fly installs whatever the server returns that day, unversioned and unverified,
    so builds are neither reproducible nor auditable.

    ## Example
    ```dockerfile
    RUN curl -fsSL https://deb.nodesource.com/setup_20.x | bash -
    ```

    ## Use instead
    ```dockerfile
    FROM node:20.11-bookworm-slim
    # or download a pinned release and check its SHA-256 before running it
    ```
    """

    code = "TF0204"
    name = "curl-pipe-shell"
    factor = 2
    severity = Severity.WARNING
    kinds = frozenset({FileKind.SHELL, FileKind.DOCKERFILE})
    message = (
        "Downloaded script is piped straight into an interpreter; install a pinned package or "
        "a checksum-verified release instead."
    )
    _shell: ClassVar[str] = r"(?:sudo\s+(?:-\S+\s+)*)?(?:/usr/bin/env\s+|/usr/bin/|/bin/)?"
    _interpreter: ClassVar[str] = (
        r"(?:(?:ba|z|da|k)?sh\b|(?:python[\d.]*|perl|ruby|node)\b(?=\s*-?\s*(?:$|[;&|)\\])))"
    )
    _pipe: ClassVar[re.Pattern[str]] = re.compile(
        rf"\b(?:curl|wget)\b[^|;\n]*\|\s*{_shell}{_interpreter}"
    )
    _subshell: ClassVar[re.Pattern[str]] = re.compile(
        r"""\b(?:ba|z)?sh\s+(?:-\w+\s+)*["']?(?:\$\(|<\(|`)\s*(?:curl|wget)\b"""
    )
    _continued: ClassVar[re.Pattern[str]] = re.compile(rf"^\s*\|\s*{_shell}{_interpreter}")
    _fetch: ClassVar[re.Pattern[str]] = re.compile(r"\b(?:curl|wget)\b.*\\\s*$")

    def check(self, f: FileUnderReview) -> Iterator[Hit]:
        for line in f.code_lines():
            text = line.text
            if "|" not in text and "curl" not in text and "wget" not in text:
                continue
            pipe = self._pipe.search(text)
            if pipe is not None and _quoted_at(text, pipe.start()):
                pipe = None  # a message mentioning the command
            if (pipe or self._subshell.search(text)) and not shell_data_line(f, line):
                yield Hit(line.number)
            elif self._continued.search(text):
                above = code_line_above(f, line.number, limit=4)
                if above is not None and self._fetch.search(above):
                    yield Hit(line.number)


def _quoted_at(text: str, position: int) -> bool:
    """Roughly: is `position` inside a quoted string that is not a command substitution?"""
    before = text[:position]
    if before.count('"') % 2 == 1:
        return "$(" not in before[before.rfind('"') :]
    return before.count("'") % 2 == 1


# --------------------------------------------------------------------------- runtime installs

_INSTALL = re.compile(
    r"\b(?:pip[\d.]*|npm|yarn|pnpm|apt-get|apt|apk|yum|dnf|gem|conda|poetry|bundle|composer|go)"
    r"(?:['\"]?\s*,\s*\[?\s*['\"]|\s+)(?:-{1,2}[\w-]+(?:['\"]?\s*,\s*['\"]|\s+))*"
    r"(?:install|add|i|ci|get)\b"
)
_TOOLS = ("pip", "npm", "yarn", "pnpm", "apt", "apk", "yum", "dnf", "gem", "conda", "poetry",
          "bundle", "composer", "go")  # fmt: skip


def _may_install(text: str) -> bool:
    """Cheap substring test that every match of _INSTALL or _PIP_MAIN passes."""
    if (
        "install" in text
        or "add" in text
        or "ci" in text
        or "get" in text
        or "pm i" in text  # npm i / pnpm i
        or '"i"' in text
        or "'i'" in text
    ):
        for tool in _TOOLS:
            if tool in text:
                return True
    return False


_PIP_MAIN = re.compile(r"\bpip\.main\(\s*\[\s*['\"]install|\bpipmain\(\s*\[\s*['\"]install")
_EXEC: dict[FileKind, re.Pattern[str]] = {
    FileKind.PYTHON: re.compile(
        r"\bsubprocess\.\w+\(|\bos\.(?:system|popen|exec\w*|spawn\w*)\(|"
        r"\b(?:check_call|check_output|call|run|Popen|getoutput|getstatusoutput)\("
    ),
    FileKind.JAVASCRIPT: re.compile(
        r"\b(?:exec|execSync|execFile|execFileSync|spawn|spawnSync|execa|execaSync|"
        r"execaCommand|execaCommandSync)\s*\(|\bshell\.exec\(|\$`"
    ),
    FileKind.GO: re.compile(r"\bexec\.Command(?:Context)?\("),
    FileKind.RUBY: re.compile(
        r"\bsystem\s*\(?|`|%x[({\[]|\bOpen3\.\w+\(|\bexec\s*\(?|\bspawn\s*\(?|\bIO\.popen\("
    ),
    FileKind.JAVA: re.compile(r"\.exec\(|\bProcessBuilder\(|\bProcessBuilder\b.*\.command\("),
}
# Build and setup tooling, where installing packages is the job.
_TOOLING_DIRS = frozenset(
    {
        "scripts", "script", "tools", "tool", "build", "ci", ".github", ".circleci",
        "hack", "bin", "devtools", "setup", "installer", "dev", ".devcontainer",
    }
)  # fmt: skip
_TOOLING_NAME = re.compile(
    r"^(?:setup\.py|noxfile\.py|tasks\.py|fabfile\.py|dodo\.py|magefile\.go|mage\.go"
    r"|(?:gulp|grunt)file\.[cm]?[jt]s|.*\.config\.[cm]?[jt]s|build\.gradle\.kts"
    r"|settings\.gradle\.kts|rakefile|.*\.rake)$"
    r"|(?:^|[._-])(?:setup|install|installer|bootstrap|build|release|deploy|provision)(?:[._-]|$)",
    re.IGNORECASE,
)
_K8S_KIND = re.compile(r"^\s*kind:\s*(\w+)", re.MULTILINE)
_WORKLOADS = frozenset(
    {"Deployment", "StatefulSet", "DaemonSet", "Pod", "Job", "CronJob", "ReplicaSet", "Rollout"}
)
_ENTRYPOINT_NAME = re.compile(
    r"^(?:docker-)?entrypoint(?:[._-][\w.-]*)?$|^(?:start|startup|boot|launch)(?:[._-]\w+)?\.sh$",
    re.IGNORECASE,
)


class RuntimePackageInstall(Rule):
    """Packages installed by the running app instead of at build time.

    ## What it does
    Flags `pip install`, `npm install`, `apt-get install`, `gem install`,
    `go get` and the like when application code runs them through
    `subprocess`/`os.system`, `child_process`, `exec.Command`, Ruby `system` or
    backticks, or Java `ProcessBuilder`/`Runtime.exec`; the same commands in
    container entrypoint scripts, Procfile process types, Kubernetes container
    commands and supervisor programs. Build tooling (setup.py, noxfile, scripts/,
    bin/, CI folders, build/install/deploy scripts) is left alone.

    ## Why it matters
    A twelve-factor app declares its dependencies and has them installed once, in
    the build; the running process then relies only on what the build produced.
    Installing at runtime makes start-up slow and fragile, lets each process end up
    with different versions, and breaks when the registry is unreachable.

    ## Example
    ```python
    try:
        import pandas
    except ImportError:
        subprocess.check_call([sys.executable, "-m", "pip", "install", "pandas"])
    ```

    ## Use instead
    ```python
    import pandas  # declared in requirements.txt, installed by the build
    ```
    """

    code = "TF0205"
    name = "runtime-package-install"
    factor = 2
    severity = Severity.WARNING
    kinds = frozenset(
        {
            FileKind.PYTHON,
            FileKind.JAVASCRIPT,
            FileKind.GO,
            FileKind.RUBY,
            FileKind.JAVA,
            FileKind.SHELL,
            FileKind.PROCFILE,
            FileKind.KUBERNETES,
            FileKind.SUPERVISOR,
        }
    )
    message = (
        "Packages are installed while the app runs; declare them in the dependency manifest "
        "and install them in the build."
    )
    _lookback: ClassVar[int] = 3

    def check(self, f: FileUnderReview) -> Iterator[Hit]:
        p = PurePosixPath(f.path)
        if any(part.lower() in _TOOLING_DIRS for part in p.parts[:-1]):
            return
        if _TOOLING_NAME.search(p.name):
            return
        kinds = f.kinds
        if FileKind.SHELL in kinds and not _ENTRYPOINT_NAME.match(p.name):
            return
        if FileKind.KUBERNETES in kinds:
            declared = _K8S_KIND.findall(f.text)
            if declared and not any(k in _WORKLOADS for k in declared):
                return  # e.g. a Tekton Task or Argo Workflow: build steps, not the app
        exec_call = next((pattern for kind, pattern in _EXEC.items() if kind in kinds), None)
        for line in f.code_lines():
            text = line.text
            if not _may_install(text):
                continue
            if not (_INSTALL.search(text) or _PIP_MAIN.search(text)):
                continue
            if FileKind.SHELL in kinds and shell_data_line(f, line):
                continue
            if (
                exec_call is None
                or _PIP_MAIN.search(line.text)
                or statement_matches(f, line, exec_call, self._lookback, (")", ";", "}"))
            ):
                yield Hit(line.number)


# --------------------------------------------------------------------------- base images


class FloatingBaseImage(LineRule):
    """Docker base image without a version tag, or tagged `latest`.

    ## What it does
    Flags `FROM` lines whose image has no tag or the `latest` tag. `FROM scratch`,
    a `FROM` of an earlier build stage, images built from `${ARG}`s and images
    pinned by digest (`@sha256:...`) are fine. When the lines above a `FROM` are
    not known, a bare single-word image is left alone (it may be a stage name).

    ## Why it matters
    The base image is the bottom layer of the app's dependencies. An untagged or
    `latest` image changes under the app whenever its publisher pushes, so
    rebuilding the same commit can produce a different operating system, runtime
    and system libraries.

    ## Example
    ```dockerfile
    FROM python:latest
    FROM node
    ```

    ## Use instead
    ```dockerfile
    FROM python:3.12.4-slim-bookworm
    FROM node:20.15-alpine3.20
    ```
    """

    code = "TF0206"
    name = "floating-base-image"
    factor = 2
    severity = Severity.WARNING
    kinds = frozenset({FileKind.DOCKERFILE})
    message = "Base image has no version tag; pin a specific tag (or digest) instead."
    pattern = re.compile(r"^\s*FROM\s+(?:--\S+\s+)*(\S+)", re.IGNORECASE)
    _latest: ClassVar[str] = (
        "Base image uses the moving 'latest' tag; pin a specific tag (or digest) instead."
    )
    _stage: ClassVar[re.Pattern[str]] = re.compile(
        r"^\s*FROM\s+.*?\s+AS\s+([\w.-]+)\s*$", re.IGNORECASE | re.MULTILINE
    )

    def check(self, f: FileUnderReview) -> Iterator[Hit]:
        stages: set[str] | None = None
        first_unknown: int | None = None
        for line in f.code_lines():
            match = self.pattern.search(line.text)
            if match is None:
                continue
            image = match.group(1)
            if "$" in image or "@" in image or image.lower() == "scratch":
                continue
            last = image.rsplit("/", 1)[-1]
            if ":" in last:
                if last.split(":", 1)[1].lower() == "latest":
                    yield Hit(line.number, message=self._latest)
                continue
            if stages is None:
                stages = {m.group(1).lower() for m in self._stage.finditer(f.text)}
                first_unknown = 1
                while f.line_text(first_unknown) is not None:
                    first_unknown += 1
            if image.lower() in stages:
                continue
            known_above = first_unknown is not None and line.number <= first_unknown
            if not known_above and "/" not in image and "." not in image:
                continue
            yield Hit(line.number)


RULES: tuple[Rule, ...] = (
    UnpinnedRequirement(),
    FloatingNpmVersion(),
    ManifestWithoutLockfile(),
    CurlPipeShell(),
    RuntimePackageInstall(),
    FloatingBaseImage(),
)
