"""Factor V, build, release, run: strictly separate the build and run stages.

The build stage turns code into an artifact (dependencies installed, assets
compiled); the release pins that artifact to a config; the run stage only
starts it. These rules look for the run stage doing build work, fetching code,
or running whatever image a mutable tag points at today.

Deliberately out of scope: Dockerfile `RUN` lines (that is the build), files
and images named for a dev profile (`Dockerfile.dev`, `docker-compose.dev.yml`),
`command:` in compose files (compose is mostly dev wiring, where installing on
start is normal), `FROM image:latest` (factor II), Procfile `release:` lines,
and steps guarded by a development check in entrypoint scripts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import PurePosixPath

from bot.diff import Line
from bot.filetypes import FileKind
from bot.findings import Severity
from bot.rules.base import FileUnderReview, Hit, Rule, line_trigger
from bot.rules.commands import dockerfile_keyword
from bot.rules.layout import ancestor_keys
from bot.rules.values import is_placeholder

# Install and build commands: none belongs in the run stage.
_BUILD_COMMAND = re.compile(
    r"""
    \b(?:npm|pnpm)\s+(?:install|i|ci|add)\b
    |\b(?:npm|pnpm)\s+run(?:-script)?\s+build[\w:-]*
    |\byarn(?:\s+install)?(?=\s*(?:$|&&|;|\|\||\x22\s*\]))
    |\byarn\s+(?:install|add|build|run\s+build)\b
    |\b(?:pip3?|python3?\s+-m\s+pip)\s+install\b
    |\b(?:poetry\s+install|pipenv\s+(?:install|sync)|uv\s+(?:sync|pip\s+install))\b
    |\bbundle\s+install\b|\bgem\s+install\b|\bcomposer\s+install\b
    |\b(?:rails|rake)\s+assets:precompile\b
    |\b(?:collectstatic|compilemessages)\b
    |(?<![\w/.-])webpack(?=\s|$|\x22|;|&)(?!\s+serve|\s+--watch)
    |\bgo\s+(?:build|install|get|run|mod\s+download)\b
    |\b(?:mvn|mvnw|\./mvnw)\s+(?:-\S+\s+)*(?:[\w:-]+\s+)*(?:package|install|compile)\b
    |\b(?:gradle|gradlew|\./gradlew)\s+(?:-\S+\s+)*(?:build|assemble|bootJar|installDist)\b
    |\bcargo\s+build\b|\bdotnet\s+(?:build|publish|restore)\b
    |\b(?:next|nuxt|vite|ng|parcel|gatsby|react-scripts|vue-cli-service|astro|remix)\s+build\b
    |(?<![\w/.-])tsc(?=\s|$|\x22|;|&)(?!\s+--noEmit)
    |\b(?:apt-get|apt|yum|dnf|apk)\s+(?:-\S+\s+)*(?:install|add)\b
    """,
    re.VERBOSE,
)
_CODE_FETCH = re.compile(
    r"\bgit\s+(?:-C\s+\S+\s+)?(?:pull|clone|fetch|checkout|reset\s+--hard)\b|"
    r"\bsvn\s+(?:update|up|checkout|co)\b|\bhg\s+(?:pull|clone|update)\b"
)

_ENTRY_TOKENS = frozenset(
    {"entrypoint", "start", "run", "boot", "launch", "serve", "server", "startup", "init", "cmd"}
)
_DEPLOY_TOKENS = frozenset({"deploy", "cron", "crontab", "update", "restart", "upgrade", "release"})
_NOT_RUNTIME_TOKENS = frozenset(
    {"test", "tests", "lint", "build", "setup", "install", "dev", "develop", "development",
     "bootstrap", "ci", "check", "format", "local", "fmt", "bench", "e2e"}
)  # fmt: skip
_TOKENS = re.compile(r"[^a-z0-9]+")
_CI_DIRS = frozenset({".ci", "ci", ".github", ".circleci", ".gitlab", ".buildkite", ".woodpecker"})


def _name_tokens(path: str) -> set[str]:
    name = PurePosixPath(path).name.lower()
    for suffix in (".sh", ".bash", ".zsh"):
        name = name.removesuffix(suffix)
    return set(_TOKENS.split(name))


def _script_role(f: FileUnderReview) -> str | None:
    """`entry` for container entrypoints and start scripts, `deploy` for deploy/cron ones."""
    if FileKind.SHELL not in f.kinds:
        return None
    parts = {p.lower() for p in PurePosixPath(f.path).parts[:-1]}
    if parts & _CI_DIRS:
        return None  # CI jobs build and test; they are not the app starting
    tokens = _name_tokens(f.path)
    if "entrypoint" in tokens:
        return "entry"
    if tokens & _NOT_RUNTIME_TOKENS:
        return None
    if tokens & _ENTRY_TOKENS:
        return "entry"
    if tokens & _DEPLOY_TOKENS or parts & {"cron", "cron.d", "deploy"}:
        return "deploy"
    return None


_DEV_DOCKERFILE = re.compile(r"(?i)(?:^|[.-])(?:dev|devel|development|local|test|ci)(?:[.-]|$)")


def _dev_image_file(path: str) -> bool:
    p = PurePosixPath(path)
    parts = {x.lower() for x in p.parts[:-1]}
    return bool(_DEV_DOCKERFILE.search(p.name)) or bool(parts & {"dev", "development", "local"})


_FROM_STAGE = re.compile(r"^\s*FROM\s+\S+(?:\s+AS\s+(\S+))?", re.IGNORECASE)
_DEV_STAGE = re.compile(r"(?i)^(?:dev|devel|development|local|test|testing|debug)(?:[_-]\w+)?$")


def _dev_stage(f: FileUnderReview, number: int) -> bool:
    """The Dockerfile line belongs to a build stage named for development or tests."""
    for k in range(number - 1, 0, -1):
        text = f.line_text(k)
        if text is None:
            return False
        m = _FROM_STAGE.match(text)
        if m:
            return bool(m.group(1) and _DEV_STAGE.match(m.group(1)))
    return False


_WORKLOAD_KIND = re.compile(
    r"^kind:\s*(?:Deployment|StatefulSet|DaemonSet|Pod|ReplicaSet|DeploymentConfig|"
    r"ReplicationController)\s*$",
    re.MULTILINE,
)
_K8S_COMMAND = re.compile(r"^\s*-?\s*(?:command|args)\s*:")
_DEV_GUARD = re.compile(
    r"^\s*(?:if|elif)\b.*(?:\bdev\b|development|\blocal\b|DEBUG|\btest\b)"
    r"|^\s*(?:\[\[?|test)\s.*(?:\bdev\b|development|\blocal\b|DEBUG).*(?:&&|\|\|)"
)


_FIRST_WORD = re.compile(r"^\w+")


def _dev_guarded(f: FileUnderReview, number: int, lookback: int = 12) -> bool:
    """The shell line sits in an `if` branch (or `&&` chain) testing for a dev environment."""
    text = f.line_text(number) or ""
    if _DEV_GUARD.search(text):
        return True
    depth = 0
    in_else = False
    for k in range(number - 1, max(0, number - 1 - lookback), -1):
        above = f.line_text(k)
        if above is None:
            return False
        stripped = above.strip()
        word = _FIRST_WORD.match(stripped)
        first = word.group(0) if word else ""
        if first == "fi":
            depth += 1
        elif first == "else" and not depth:
            in_else = True
        elif first == "if":
            if depth:
                depth -= 1
            else:
                # Inside a dev check, or the else branch of a production check.
                if in_else:
                    return re.search(r"prod", above, re.IGNORECASE) is not None
                return _DEV_GUARD.search(above) is not None
    return False


def _runtime_lines(f: FileUnderReview, deploy_scripts: bool) -> Iterator[Line]:
    """Added lines that run when the app starts (or, with deploy_scripts, on the server)."""
    kinds = f.kinds
    if FileKind.DOCKERFILE in kinds:
        if _dev_image_file(f.path):
            return
        for line in f.code_lines():
            if dockerfile_keyword(f, line.number) in (
                "CMD",
                "ENTRYPOINT",
            ) and not _dev_stage(f, line.number):
                yield line
    elif FileKind.SHELL in kinds:
        role = _script_role(f)
        if role == "entry" or (deploy_scripts and role == "deploy"):
            for line in f.code_lines():
                if not _dev_guarded(f, line.number):
                    yield line
    elif FileKind.PROCFILE in kinds:
        for line in f.code_lines():
            if re.match(r"^\s*[\w-]+\s*:", line.text) and not re.match(
                r"^\s*release\s*:", line.text
            ):
                yield line
    elif FileKind.SUPERVISOR in kinds:
        for line in f.code_lines():
            if re.match(r"^\s*command\s*=", line.text):
                yield line
    elif FileKind.KUBERNETES in kinds and _WORKLOAD_KIND.search(f.text):
        for line in f.code_lines():
            if _K8S_COMMAND.match(line.text) or {"command", "args"} & set(
                ancestor_keys(f, line.number, limit=30)[:3]
            ):
                yield line


_RUNTIME_KINDS = frozenset(
    {FileKind.DOCKERFILE, FileKind.SHELL, FileKind.PROCFILE, FileKind.SUPERVISOR,
     FileKind.KUBERNETES}
)  # fmt: skip


class BuildAtStartup(Rule):
    """Dependencies installed or assets built when the app starts.

    ## What it does
    Flags install and build commands (`npm install`/`ci`, `npm run build`, `yarn build`,
    `pip install`, `bundle install`, `collectstatic`, `assets:precompile`, `webpack`,
    `go build`/`go run`, `mvn package`, `apt-get install` ...) in the commands that start
    the app: Dockerfile `CMD`/`ENTRYPOINT`, entrypoint and start scripts
    (`docker-entrypoint.sh`, `*entrypoint*`, `start*.sh`, `run*.sh`), Procfile process
    lines other than `release:`, supervisor `command=` and the `command`/`args` of
    Kubernetes workloads. `RUN` lines and dev-guarded branches are left alone.

    ## Why it matters
    The run stage should only start a release that the build stage already produced.
    Installing or compiling at start makes every boot slow and fallible, lets two
    instances of one release run different dependency versions, and ties startup to
    registries being reachable.

    ## Example
    ```dockerfile
    CMD npm ci && npm run build && node dist/server.js
    ```

    ## Use instead
    ```dockerfile
    RUN npm ci && npm run build
    CMD ["node", "dist/server.js"]
    ```
    """

    code = "TF0501"
    name = "build-at-startup"
    factor = 5
    severity = Severity.WARNING
    kinds = _RUNTIME_KINDS
    message = (
        "Install/build step runs when the app starts; do it in the build stage "
        "(e.g. a Dockerfile RUN) and only start the artifact."
    )

    def check(self, f: FileUnderReview) -> Iterator[Hit]:
        for line in _runtime_lines(f, deploy_scripts=False):
            m = _BUILD_COMMAND.search(line.text)
            if m is not None:
                command = " ".join(m.group(0).split())
                yield Hit(
                    line.number,
                    message=(
                        f"`{command}` runs when the app starts; install and build in the "
                        "build stage (e.g. a Dockerfile RUN) and only start the artifact."
                    ),
                )


_RESTARTS = re.compile(
    r"\bsystemctl\s+(?:restart|reload)|\bservice\s+\S+\s+(?:restart|reload)|"
    r"\bpm2\s+(?:restart|reload|start)|\bsupervisorctl\s+restart|\bkill\s+-(?:HUP|USR2)|"
    r"\btouch\s+\S*(?:wsgi|restart\.txt)|\bpassenger-config\s+restart|--reload|"
    r"\bdocker(?:-compose|\s+compose)?\s+(?:restart|up)\b"
)


_IMAGE_BUILD = re.compile(r"\b(?:docker|podman|buildah)\s+(?:build|push|buildx)\b")


class RuntimeCodeFetch(Rule):
    """Code fetched from version control at start or on the server.

    ## What it does
    Flags `git pull`/`clone`/`fetch`/`checkout`/`reset --hard` (and `svn`/`hg`
    equivalents) in what starts the app (Dockerfile `CMD`/`ENTRYPOINT`, entrypoint and
    start scripts, Procfile, supervisor, Kubernetes `command`/`args`) and in cron
    scripts. In deploy scripts it fires when the script also restarts the app or runs
    the fetch over `ssh`, i.e. when it edits the code of a live install in place.

    ## Why it matters
    A release is an immutable build plus config with its own id; pulling code into a
    running install bypasses the build, leaves no release to roll back to, and lets the
    servers drift apart in which commit they run.

    ## Example
    ```bash
    #!/bin/sh
    cd /srv/app && git pull origin main
    exec gunicorn app:app
    ```

    ## Use instead
    ```bash
    #!/bin/sh
    # The image already contains the release's code.
    exec gunicorn app:app
    ```
    """

    code = "TF0502"
    name = "runtime-code-fetch"
    factor = 5
    severity = Severity.WARNING
    kinds = _RUNTIME_KINDS
    trigger = line_trigger(_CODE_FETCH)
    message = (
        "Code is fetched from version control at run time; build a release artifact "
        "and deploy that instead of updating code in place."
    )

    def check(self, f: FileUnderReview) -> Iterator[Hit]:
        deploy = _script_role(f) == "deploy"
        cron_dirs = {p.lower() for p in PurePosixPath(f.path).parts[:-1]} & {"cron", "cron.d"}
        in_cron = deploy and bool(_name_tokens(f.path) & {"cron", "crontab"} or cron_dirs)
        # A deploy script that restarts the app in place (and builds no image) is editing
        # the live install; one that builds and pushes an image may pull first.
        restarts = (
            deploy and _RESTARTS.search(f.text) is not None and _IMAGE_BUILD.search(f.text) is None
        )
        for line in _runtime_lines(f, deploy_scripts=True):
            if _CODE_FETCH.search(line.text) is None:
                continue
            if deploy and not (in_cron or restarts or re.search(r"\bssh\b", line.text)):
                continue
            yield Hit(line.number)


_IMAGE = re.compile(r"""^\s*-?\s*image\s*:\s*['"]?(?P<ref>[^\s'"#]+)""")
_HELM_TAG = re.compile(r"""^\s*(?P<key>tag|newTag)\s*:\s*['"]?(?P<tag>[^\s'"#]*)""")
_MOVING_TAGS = frozenset(
    {"main", "master", "develop", "dev", "stable", "edge", "nightly", "prod", "production",
     "staging", "current", "head", "canary", "beta", "release"}
)  # fmt: skip
_TEMPLATED = re.compile(r"\{\{|\$\{|\$\(|\$[A-Za-z_]|<%")


def image_tag(ref: str) -> str | None:
    """The tag of an image reference ('' when there is none), None for a digest."""
    if "@sha256:" in ref or "@" in ref:
        return None
    last = ref.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else ""


_MANIFEST_DIRS = frozenset(
    {"k8s", "kubernetes", "kube", "manifests", "kustomize", "deploy", "overlays", "base"}
)


def _in_manifest_dir(path: str) -> bool:
    return any(p.lower() in _MANIFEST_DIRS for p in PurePosixPath(path).parts[:-1])


def _dev_compose(path: str) -> bool:
    name = PurePosixPath(path).name.lower()
    return bool(re.search(r"[.-](?:dev|development|local|test|ci|override)[.-]", name))


_ANY_KIND = re.compile(r"^kind:\s*['\"]?(\w+)", re.MULTILINE)
_POD_KINDS = frozenset(
    {"Deployment", "StatefulSet", "DaemonSet", "Pod", "ReplicaSet", "Job", "CronJob",
     "ReplicationController", "DeploymentConfig", "Rollout", "Service", "PodTemplate"}
)  # fmt: skip
_SUBSTITUTERS = re.compile(
    r"(?:^|/)(?:skaffold\.ya?ml|Tiltfile|garden\.ya?ml|\.ko\.yaml|devspace\.ya?ml)$"
)


def _image_substitution(f: FileUnderReview) -> bool | None:
    """Whether a tool rewrites image names at deploy (kustomize `images:`, skaffold, ko).

    None when the repository's files are not known.
    """
    if f.repo_files is None:
        return None
    here = str(PurePosixPath(f.path).parent)
    for path in f.repo_files:
        if _SUBSTITUTERS.search(path):
            return True
        p = PurePosixPath(path)
        if p.name in ("kustomization.yaml", "kustomization.yml") and str(p.parent) == here:
            return True
    return False


class MutableImageTag(Rule):
    """Deploy manifests that run a mutable image tag.

    ## What it does
    Flags `image: app:latest` and untagged `image: app` in Kubernetes/Helm manifests,
    `tag: latest` in Helm `values*.yaml`, `newTag: latest` in `kustomization.yaml`, and
    `image: x:latest` in compose files (a notice there, as compose is often dev wiring;
    untagged compose images are left alone). Branch-like tags such as `:main` or
    `:stable` in Kubernetes manifests are a notice. Digests and templated references
    (`{{ .Values.image.tag }}`, `${TAG}`) stay quiet. An untagged image is left alone when
    the repository rewrites image names at deploy (a `kustomization.yaml` beside the
    manifest, skaffold, Tilt, ko) and is a notice when the repository's files are unknown.

    ## Why it matters
    A release must identify one build. A moving tag such as `latest` means two pods of
    the same release can run different code (each pull, often forced by
    `imagePullPolicy: Always`, may fetch a newer image) and a rollback cannot name what
    ran before.

    ## Example
    ```yaml
    containers:
      - name: web
        image: registry.example.com/shop/web:latest
        imagePullPolicy: Always
    ```

    ## Use instead
    ```yaml
    containers:
      - name: web
        image: registry.example.com/shop/web:1.14.2   # or @sha256:<digest>
    ```
    """

    code = "TF0503"
    name = "mutable-image-tag"
    factor = 5
    severity = Severity.WARNING
    kinds = frozenset({FileKind.KUBERNETES, FileKind.COMPOSE, FileKind.YAML})
    message = (
        "Deployed image uses a mutable tag; pin each release to an immutable version tag or digest."
    )

    def check(self, f: FileUnderReview) -> Iterator[Hit]:
        kinds = f.kinds
        name = PurePosixPath(f.path).name.lower()
        if re.match(r"^(?:values[\w.-]*|kustomization)\.ya?ml$", name):
            for line in f.code_lines():
                m = _HELM_TAG.match(line.text)
                if m is None or m.group("tag") != "latest":
                    continue
                if m.group("key") == "newTag" or "image" in ancestor_keys(f, line.number)[:2]:
                    yield Hit(line.number)
        elif FileKind.KUBERNETES in kinds or (
            FileKind.COMPOSE not in kinds and _in_manifest_dir(f.path)
        ):
            # A modified manifest whose hunks do not show `kind:` is still a manifest.
            yield from self._manifest(f)
        elif FileKind.COMPOSE in kinds and not _dev_compose(f.path):
            for line in f.code_lines():
                m = _IMAGE.match(line.text)
                if m is None or _TEMPLATED.search(m.group("ref")):
                    continue
                if image_tag(m.group("ref")) == "latest":
                    yield Hit(line.number, severity=Severity.NOTICE)

    def _manifest(self, f: FileUnderReview) -> Iterator[Hit]:
        declared = set(_ANY_KIND.findall(f.text))
        if declared and not declared & _POD_KINDS:
            return  # skaffold/Tekton/kustomize configs name images, they do not run them
        always = re.search(r"imagePullPolicy:\s*['\"]?Always", f.text) is not None
        substituted = _image_substitution(f)
        for line in f.code_lines():
            m = _IMAGE.match(line.text)
            if m is None or _TEMPLATED.search(m.group("ref")) or is_placeholder(m.group("ref")):
                continue
            ref = m.group("ref")
            tag = image_tag(ref)
            if tag is None or (tag == "" and substituted is True):
                continue
            if tag in ("", "latest"):
                what = "no tag (so `latest`)" if tag == "" else "the `latest` tag"
                pull = " with `imagePullPolicy: Always`" if always else ""
                yield Hit(
                    line.number,
                    # An untagged name may be rewritten by kustomize/skaffold we cannot see.
                    severity=Severity.NOTICE if tag == "" and substituted is None else None,
                    message=(
                        f"Image `{ref}` uses {what}{pull}; pin the release to an immutable "
                        "version tag or digest."
                    ),
                )
            elif tag.lower() in _MOVING_TAGS:
                yield Hit(
                    line.number,
                    severity=Severity.NOTICE,
                    message=(
                        f"Image `{ref}` uses the branch-like tag `{tag}`, which moves; pin "
                        "the release to an immutable version tag or digest."
                    ),
                )


RULES: tuple[Rule, ...] = (BuildAtStartup(), RuntimeCodeFetch(), MutableImageTag())
