"""Factor I, codebase: one codebase in revision control, many deploys.

The rules here look for an app that is not self-contained in its repository:
code pulled in from sibling checkouts by file path, and code that behaves
differently depending on which machine it finds itself on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import ClassVar

from bot.diff import Line
from bot.filetypes import FileKind
from bot.findings import Severity
from bot.rules.base import FileUnderReview, Hit, LineRule, Rule
from bot.rules.values import is_placeholder

# Top-level folders of a monorepo whose children are separate deployable apps.
_SERVICE_ROOTS = frozenset({"services", "apps", "microservices"})

# Absolute paths that are the app's own checkout inside a container or function.
_OWN_ROOTS = (
    "/app", "/code", "/src", "/srv", "/usr/src/app", "/usr/app", "/workspace", "/workspaces",
    "/opt/app", "/home/app", "/var/task", "/var/runtime", "/opt/python", "/opt/ml/code",
    "/project", "/application",
)  # fmt: skip
_SYSTEM_PACKAGES = re.compile(r"(?:site|dist)-packages|/usr(?:/local)?/lib/python")
_ABSOLUTE = re.compile(r"^(?:/|~|[A-Za-z]:[\\/])")

_ESCAPE_MESSAGE = (
    "Code is loaded by a path that leaves this repository; publish the shared code as a "
    "versioned package and declare it as a dependency."
)
_SIBLING_MESSAGE = (
    "Code is loaded from another service's folder by relative path; share it as a library "
    "(a package or workspace module) instead of reaching into the sibling app."
)
_PARENT_MESSAGE = (
    "The folder above this repository is put on the import path, so code may be loaded from "
    "neighbouring checkouts; declare shared code as a versioned package instead."
)
_ABSOLUTE_MESSAGE = (
    "Code is loaded from an absolute path on the machine, outside this repository; declare "
    "the shared code as a versioned package dependency instead."
)


def _resolve(path: str, relative: str, ups: int = 0) -> str | None:
    """Resolve `relative` against the folder of `path`; None when it leaves the repo."""
    parts = path.split("/")[:-1]
    for _ in range(ups):
        if not parts:
            return None
        parts.pop()
    for segment in relative.replace("\\", "/").split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(segment)
    return "/".join(parts)


def _names_after_escape(relative: str) -> bool:
    """True when a path names something after its last `..` (`../../billing`, not `../..`)."""
    segments = [x for x in relative.replace("\\", "/").split("/") if x not in ("", ".")]
    return bool(segments) and segments[-1] != ".."


def _crosses_service(path: str, target: str) -> bool:
    """True when a file of services/<a>/ reaches into services/<b>/."""
    source = path.split("/")
    dest = target.split("/")
    return (
        len(source) >= 3
        and source[0] in _SERVICE_ROOTS
        and len(dest) >= 2
        and dest[0] == source[0]
        and dest[1] != source[1]
    )


def _is_own_root(absolute: str) -> bool:
    clean = absolute.rstrip("/") or "/"
    return any(clean == root or clean.startswith(root + "/") for root in _OWN_ROOTS)


def _judge_path(path: str, literal: str, ups: int = 0) -> Hit | None:
    """A hit template (line 0) when `literal` names code outside the app, else None."""
    value = literal.strip()
    if not value or any(c in value for c in "$%{<*"):
        return None
    if _ABSOLUTE.match(value):
        if _is_own_root(value) or _SYSTEM_PACKAGES.search(value):
            return None
        return Hit(0, message=_ABSOLUTE_MESSAGE)
    target = _resolve(path, value, ups)
    if target is None:
        if not _names_after_escape(value):
            # Only the folder above the checkout: maybe a sibling, maybe the repo itself.
            return Hit(0, message=_PARENT_MESSAGE, severity=Severity.NOTICE)
        return Hit(0, message=_ESCAPE_MESSAGE)
    if _crosses_service(path, target):
        return Hit(0, message=_SIBLING_MESSAGE, severity=Severity.NOTICE)
    return None


def _at(template: Hit | None, line: Line) -> Hit | None:
    if template is None:
        return None
    return Hit(line.number, message=template.message, severity=template.severity)


def _in_string(text: str, position: int) -> bool:
    """Roughly: is `position` inside a quoted string on this line?"""
    before = text[:position]
    return before.count('"') % 2 == 1 or before.count("'") % 2 == 1


def _call_arguments(f: FileUnderReview, line: Line, start: int, max_lines: int = 5) -> str:
    """Text of a call's arguments from `start` (just after the opening paren), across lines."""
    text = line.text[start:]
    depth = 1
    number = line.number
    collected: list[str] = []
    for _ in range(max_lines):
        for index, char in enumerate(text):
            if char in "([{":
                depth += 1
            elif char in ")]}":
                depth -= 1
                if depth == 0:
                    collected.append(text[:index])
                    return " ".join(collected)
        collected.append(text)
        number += 1
        following = f.line_text(number)
        if following is None:
            break
        text = following
    return " ".join(collected)


class PythonPathOutsideRepo(LineRule):
    """Python import path extended to code outside the repository.

    ## What it does
    Flags `sys.path.append/insert/extend(...)` and `site.addsitedir(...)` whose path
    climbs out of the repository (`..` past the repo root, counted from the file's
    own folder), points at an absolute location on the machine, or reaches from
    one service of a monorepo (`services/a/`) into another (`services/b/`).
    Paths that stop at the folder above the repository, and reaches into a sibling
    service, are notices. Container checkouts such as `/app` and system
    `site-packages` are left alone, and so is anything built from a variable.

    ## Why it matters
    A twelve-factor app is one codebase: everything it runs is in its own
    repository or declared as a dependency. Importing a sibling checkout by path
    makes every deploy depend on what happens to sit next to it on disk, so two
    deploys of the same commit can run different code.

    ## Example
    ```python
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "billing-service"))
    sys.path.append("/opt/shared/python-libs")
    ```

    ## Use instead
    ```python
    # requirements.txt: billing-client==2.3.1 (published from the billing repo)
    from billing_client import Invoice
    ```
    """

    code = "TF0101"
    name = "python-path-outside-repo"
    factor = 1
    severity = Severity.WARNING
    kinds = frozenset({FileKind.PYTHON})
    message = _ESCAPE_MESSAGE
    pattern = re.compile(r"\bsys\.path\.(append|insert|extend)\s*\(|\bsite\.addsitedir\s*\(")
    _token: ClassVar[re.Pattern[str]] = re.compile(
        r"""(['"])(.*?)\1|\b(?:os\.)?pardir\b|\bdirname\(|\.parents\[\s*(\d+)\s*\]|\.parent\b"""
    )

    def check(self, f: FileUnderReview) -> Iterator[Hit]:
        text = f.text
        if "sys.path" in text or "addsitedir" in text:
            yield from super().check(f)

    def check_match(self, f: FileUnderReview, line: Line, match: re.Match[str]) -> Hit | None:
        if _in_string(line.text, match.start()):
            return None
        args = _call_arguments(f, line, match.end())
        if match.group(1) == "insert":
            args = args.split(",", 1)[1] if "," in args else ""
        moves = 0  # steps up from the file itself (dirname, .parent, .parents[n])
        literal: list[str] = []
        for token in self._token.finditer(args):
            if token.group(1):
                literal.append(token.group(2))
            elif "pardir" in token.group(0):
                literal.append("..")
            elif token.group(3) is not None:
                moves += int(token.group(3)) + 1
            else:
                moves += 1
        if match.group(1) == "extend" or "__file__" not in args:
            # Relative to the working directory; leniently taken as the file's folder.
            if match.group(1) == "extend":
                hits = (_judge_path(f.path, x) for x in literal)
                return _at(next((h for h in hits if h is not None), None), line)
            if not literal:
                return None
            first = literal[0].strip()
            if _ABSOLUTE.match(first):
                return _at(_judge_path(f.path, first), line)
            return _at(_judge_path(f.path, "/".join(literal)), line)
        relative = [x for x in literal if not _ABSOLUTE.match(x.strip())]
        if not moves:
            # os.path.join(__file__, "..") — the first ".." only drops the file name.
            relative = _drop_first_parent(relative)
        return _at(_judge_path(f.path, "/".join(relative) or ".", max(moves - 1, 0)), line)


def _drop_first_parent(literal: list[str]) -> list[str]:
    joined = "/".join(literal).replace("\\", "/")
    segments = [s for s in joined.split("/") if s not in ("", ".")]
    if segments and segments[0] == "..":
        segments = segments[1:]
    return ["/".join(segments)] if segments else []


class ModulePathOutsideRepo(Rule):
    """Module loaded by a relative or absolute path outside the repository.

    ## What it does
    Flags module references that leave the repository or reach into another
    service's folder of a monorepo:
    JavaScript/TypeScript `require`/`import` specifiers like `'../../../billing/src/db'`,
    package.json `file:`/`link:` dependencies, Ruby `require_relative`,
    `File.expand_path(..., __FILE__)` and Gemfile `path:` gems, Gradle Kotlin
    `includeBuild("../...")`, and Go `replace ... => ../...` in go.mod/go.work.
    Paths are resolved from the file's own folder, so `..` that stays inside the
    repository is fine; reaching into a sibling service (`services/a` to
    `services/b`) is a notice.

    ## Why it matters
    One app is one codebase. Code that is loaded from a neighbouring checkout is
    not versioned with the app, so what a deploy runs depends on the state of the
    machine that built it; code shared between apps belongs in a library that each
    app declares as a dependency.

    ## Example
    ```js
    const { chargeCard } = require("../../../payments-service/src/stripe");
    ```

    ## Use instead
    ```js
    // package.json: "@acme/payments-client": "^3.2.0"
    const { chargeCard } = require("@acme/payments-client");
    ```
    """

    code = "TF0102"
    name = "module-path-outside-repo"
    factor = 1
    severity = Severity.WARNING
    kinds = frozenset(
        {
            FileKind.JAVASCRIPT,
            FileKind.PACKAGE_JSON,
            FileKind.RUBY,
            FileKind.GEMFILE,
            FileKind.JAVA,
            FileKind.GO,
        }
    )
    message = _ESCAPE_MESSAGE

    _js: ClassVar[re.Pattern[str]] = re.compile(
        r"""(?:\brequire(?:\.resolve)?\s*\(\s*|\bimport\s*\(\s*|\bfrom\s+|^\s*import\s+)"""
        r"""(['"`])(\.{1,2}/[^'"`]*)\1"""
    )
    _package_json: ClassVar[re.Pattern[str]] = re.compile(
        r"""":\s*"(?:file|link|portal):([^"]+)\""""
    )
    _ruby_relative: ClassVar[re.Pattern[str]] = re.compile(
        r"""\brequire_relative\s*\(?\s*(['"])([^'"#]+)\1"""
    )
    _ruby_expand: ClassVar[re.Pattern[str]] = re.compile(
        r"""\bFile\.expand_path\(\s*(['"])([^'"#]+)\1\s*,\s*(__FILE__|__dir__|File\.dirname\(__FILE__\))\s*\)"""
    )
    _ruby_load_path: ClassVar[re.Pattern[str]] = re.compile(
        r"""\$(?:LOAD_PATH|:)\s*(?:\.(?:unshift|push|prepend|append)\s*\(?|<<)\s*(['"])([/~][^'"]*)\1"""
    )
    _gem_path: ClassVar[re.Pattern[str]] = re.compile(
        r"""(?:\bpath:\s*|:path\s*=>\s*|^\s*path\s*\(?\s*)(['"])([^'"]+)\1"""
    )
    _gradle: ClassVar[re.Pattern[str]] = re.compile(
        r"""\bincludeBuild\(\s*"([^"$]+)"|\bprojectDir\s*=\s*file\(\s*"([^"$]+)"\s*\)"""
    )
    _go_replace: ClassVar[re.Pattern[str]] = re.compile(r"=>\s*(\.{1,2}/\S*|/\S+)")
    _go_use: ClassVar[re.Pattern[str]] = re.compile(r"^\s*(?:use\s+)?(\.{1,2}/\S*)\s*$")

    def check(self, f: FileUnderReview) -> Iterator[Hit]:
        name = f.path.rsplit("/", 1)[-1]
        for line in f.code_lines():
            if "/" not in line.text:
                continue  # every path we judge has a separator or starts with "/"
            hit = self._check_line(f, name, line)
            if hit is not None:
                yield hit

    def _check_line(self, f: FileUnderReview, name: str, line: Line) -> Hit | None:
        text = line.text
        kinds = f.kinds
        if FileKind.JAVASCRIPT in kinds:
            return self._javascript(f, line)
        if FileKind.PACKAGE_JSON in kinds:
            found = self._package_json.search(text)
            return _at(_judge_path(f.path, found.group(1)), line) if found else None
        if FileKind.GEMFILE in kinds:
            found = self._gem_path.search(text)
            if found is not None:
                return _at(_judge_path(f.path, found.group(2)), line)
        if FileKind.RUBY in kinds:
            return self._ruby(f, line)
        if FileKind.JAVA in kinds and name.endswith(".gradle.kts"):
            found = self._gradle.search(text)
            if found is None:
                return None
            return _at(_judge_path(f.path, found.group(1) or found.group(2)), line)
        if FileKind.GO in kinds and name in ("go.mod", "go.work"):
            return self._go_module(f, name, line)
        return None

    def _javascript(self, f: FileUnderReview, line: Line) -> Hit | None:
        for m in self._js.finditer(line.text):
            if ".." in m.group(2):
                hit = _at(_judge_path(f.path, m.group(2)), line)
                if hit is not None:
                    return hit
        return None

    def _ruby(self, f: FileUnderReview, line: Line) -> Hit | None:
        text = line.text
        m = self._ruby_relative.search(text)
        if m is not None:
            return _at(_judge_path(f.path, m.group(2)), line)
        m = self._ruby_expand.search(text)
        if m is not None:
            # Relative to the file itself, the first ".." only drops the file name.
            relative = m.group(2)
            if m.group(3) == "__FILE__":
                relative = "/".join(_drop_first_parent([relative]))
            return _at(_judge_path(f.path, relative or "."), line)
        m = self._ruby_load_path.search(text)
        return _at(_judge_path(f.path, m.group(2)), line) if m else None

    def _go_module(self, f: FileUnderReview, name: str, line: Line) -> Hit | None:
        m = self._go_replace.search(line.text)
        if m is None and name == "go.work":
            m = self._go_use.search(line.text)
        return _at(_judge_path(f.path, m.group(1)), line) if m else None


# Expressions that yield the machine's host name (not HTTP Host headers).
_HOST_EXPR = (
    r"socket\.gethostname\(\)|socket\.getfqdn\(\)|platform\.node\(\)|os\.uname\(\)\.nodename"
    r"|\bos\.hostname\(\)|\)\.hostname\(\)|Socket\.gethostname\b|os\.Hostname\(\)"
    r"|getLocalHost\(\)\.get(?:Canonical)?HostName\(\)"
    r"|(?:environ(?:\.get)?|getenv|Getenv|ENV(?:\.fetch)?|env)\s*[\[(.]\s*['\"]?"
    r"(?:HOSTNAME|COMPUTERNAME)\b['\"]?(?:\s*,\s*['\"][^'\"]*['\"])?\s*[\])]?"
)
_SHELL_HOST_EXPR = (
    r"\$\(\s*hostname(?:\s+-[a-zA-Z])?\s*\)|`hostname(?:\s+-[a-zA-Z])?`|\$\{?HOSTNAME\b\}?"
)
_HOST_NEEDLES = (
    "hostname", "Hostname", "HostName", "HOSTNAME", "platform.node", "nodename", "getfqdn",
    "COMPUTERNAME",
)  # fmt: skip
_CASE = r"(?:\s*\.\s*(?:lower|upper|strip|toLowerCase|toUpperCase|trim|downcase|chomp)(?:\(\))?)*"
_NAME = r"[A-Za-z0-9][\w.*-]*"


def _quoted(n: int) -> str:
    return rf"""(?P<q{n}>['"])(?P<n{n}>{_NAME})(?P=q{n})"""


def _host_comparisons(subject: str) -> re.Pattern[str]:
    """Comparisons of `subject` with a host-name literal; groups n1..n6 hold the literal."""
    s = f"(?:{subject}){_CASE}"
    q = f"(?:\\w+\\.)*(?:{subject})"  # subject, possibly qualified: InetAddress.getLocalHost()
    return re.compile(
        rf"{s}\s*(?:===?|!==?)\s*{_quoted(1)}"
        rf"|{_quoted(2)}\s*(?:===?|!==?|\s(?:not\s+)?in\s|\.equals(?:IgnoreCase)?\()\s*{q}"
        rf"|{s}\s*\.\s*(?:startswith|startsWith|start_with\?|equals|equalsIgnoreCase|contentEquals"
        rf"|include\?|includes|contains|match\?)\s*\(?\s*{_quoted(3)}"
        rf"|{s}\s+(?:not\s+)?in\s*[(\[{{]\s*{_quoted(4)}"
        rf"|\[\s*{_quoted(5)}[^\]]*\]\s*\.\s*(?:includes|include\?|contains)\s*\(?\s*{q}"
        rf"|strings\.(?:HasPrefix|EqualFold|Contains)\(\s*{q}\s*,\s*{_quoted(6)}"
    )


def _shell_comparisons(subject: str) -> re.Pattern[str]:
    """`[ "$(hostname)" = web-01 ]` and the reverse; groups n1/n2 hold the literal."""
    value = r"""["']?(?P<n{n}>[A-Za-z0-9][\w.*-]*)["']?"""
    return re.compile(
        rf"""["']?(?:{subject})["']?\s+(?:==?|!=)\s+{value.format(n=1)}"""
        rf"""|{value.format(n=2)}\s+(?:==?|!=)\s+["']?(?:{subject})"""
    )


_DECLARE = r"(?:(?:const|let|var|val|final|String|local|export|readonly|my)\s+)*"


def _assignment_of(var: str, shell: bool) -> re.Pattern[str]:
    if shell:
        return re.compile(rf"^\s*{_DECLARE}{re.escape(var)}=")
    return re.compile(rf"^\s*{_DECLARE}{re.escape(var)}(?:\s*:\s*\w+)?(?:\s*,\s*\w+)?\s*:?=(?!=)")


def _variable_subject(var: str, shell: bool) -> str:
    if shell:
        return rf"\$\{{?{re.escape(var)}\b\}}?"
    return rf"(?<![\w.$@]){re.escape(var)}\b"


def _host_literal(m: re.Match[str]) -> str | None:
    for key in ("n1", "n2", "n3", "n4", "n5", "n6"):
        value = m.groupdict().get(key)
        if value:
            return value
    return None


def _real_host(m: re.Match[str]) -> bool:
    name = _host_literal(m)
    if not name:
        return False
    lowered = name.lower()
    if lowered in ("localhost", "127.0.0.1", "0.0.0.0", "true", "false", "none", "null"):
        return False
    return not is_placeholder(name)


class HostnameSpecificBehaviour(Rule):
    """Behaviour switched on the name of the machine it runs on.

    ## What it does
    Flags comparisons of the machine's host name with a literal: `socket.gethostname()`,
    `platform.node()`, `os.hostname()`, Go `os.Hostname()`, Java
    `InetAddress.getLocalHost().getHostName()`, Ruby `Socket.gethostname`, the
    `HOSTNAME` variable and shell `$(hostname)`, directly or through a variable
    assigned from them a few lines above. Comparisons with `localhost` are left alone,
    and so are HTTP `Host` headers, which name the site rather than the machine.

    ## Why it matters
    One codebase serves every deploy; what differs between deploys is config, not
    code paths tied to particular machines. Code keyed to a host name breaks as soon
    as the app is moved, scaled out or containerised, and hides a deploy's real
    settings inside the source.

    ## Example
    ```python
    if socket.gethostname() == "web-01":
        start_scheduler()
    ```

    ## Use instead
    ```python
    if os.environ.get("RUN_SCHEDULER") == "1":
        start_scheduler()
    ```
    """

    code = "TF0103"
    name = "hostname-specific-behaviour"
    factor = 1
    severity = Severity.WARNING
    kinds = frozenset(
        {
            FileKind.PYTHON,
            FileKind.JAVASCRIPT,
            FileKind.GO,
            FileKind.JAVA,
            FileKind.RUBY,
            FileKind.SHELL,
        }
    )
    message = (
        "Behaviour depends on the machine's host name; select it with config (an environment "
        "variable) so every deploy runs the same code."
    )
    _any: ClassVar[re.Pattern[str]] = re.compile(rf"{_HOST_EXPR}|{_SHELL_HOST_EXPR}")
    _direct: ClassVar[re.Pattern[str]] = _host_comparisons(_HOST_EXPR)
    _direct_shell: ClassVar[re.Pattern[str]] = _shell_comparisons(_SHELL_HOST_EXPR)
    _assign: ClassVar[re.Pattern[str]] = re.compile(
        rf"^\s*{_DECLARE}(?P<var>(?:self\.|this\.|@)?\w+)(?:\s*:\s*\w+)?(?:\s*,\s*\w+)?"
        rf"\s*:?=\s*(?:{_HOST_EXPR})"
    )
    _assign_shell: ClassVar[re.Pattern[str]] = re.compile(
        rf"""^\s*{_DECLARE}(?P<var>\w+)=["']?(?:{_SHELL_HOST_EXPR})"""
    )
    _lookback: ClassVar[int] = 40
    _function: ClassVar[re.Pattern[str]] = re.compile(
        r"^\s*(?:async\s+)?def\s|^\s*func\b|\bfunction\b|=>\s*\{?\s*$"
    )

    def check(self, f: FileUnderReview) -> Iterator[Hit]:
        text = f.text
        if not any(needle in text for needle in _HOST_NEEDLES) or self._any.search(text) is None:
            return
        shell = FileKind.SHELL in f.kinds
        assign = self._assign_shell if shell else self._assign
        direct = self._direct_shell if shell else self._direct
        build = _shell_comparisons if shell else _host_comparisons
        variables = sorted({m.group("var") for m in map(assign.match, f.text.splitlines()) if m})
        compare = [(v, build(_variable_subject(v, shell))) for v in variables]
        for line in f.code_lines():
            m = direct.search(line.text)
            if m is not None and _real_host(m):
                yield Hit(line.number)
                continue
            for var, pattern in compare:
                m = pattern.search(line.text)
                if m is not None and _real_host(m) and self._nearest_is_host(f, line, var, shell):
                    yield Hit(line.number)
                    break

    def _nearest_is_host(self, f: FileUnderReview, line: Line, var: str, shell: bool) -> bool:
        """True when the nearest assignment of `var` above the line reads the host name."""
        assignment = _assignment_of(var, shell)
        reads_host = self._assign_shell if shell else self._assign
        mentions = re.compile(rf"(?<![\w.$@]){re.escape(var)}\b")
        crossed_function = False
        for number in range(line.number - 1, max(line.number - self._lookback, 0), -1):
            text = f.line_text(number)
            if text is None:
                return False
            if assignment.search(text):
                if crossed_function and text[:1].isspace():
                    return False  # a local of another function
                found = reads_host.match(text)
                return found is not None and found.group("var") == var
            if self._function.search(text):
                if mentions.search(text):
                    return False  # a parameter of the enclosing function
                crossed_function = True
        return False


RULES: tuple[Rule, ...] = (
    PythonPathOutsideRepo(),
    ModulePathOutsideRepo(),
    HostnameSpecificBehaviour(),
)
