# The twelve-review GitHub App: `twelve-review serve` on $PORT (default 8000).
#
#   docker build -t twelve-review:0.1.0 .
#   docker run --rm -p 8000:8000 -e GITHUB_APP_ID -e GITHUB_APP_PRIVATE_KEY \
#     -e GITHUB_WEBHOOK_SECRET twelve-review:0.1.0
#
# Configuration comes from the environment at run time only (docs/deploy.md);
# nothing secret is baked into the image, and no ARG or ENV here carries one.
# Both stages use the same pinned base image: the runtime stage reuses the
# builder's virtual environment, whose interpreter is the base image's Python.

# ---- build: resolve nothing, install exactly what uv.lock pins ----------------
FROM python:3.11.14-slim-bookworm AS builder

# uv itself, pinned. We install with `uv sync --locked` rather than
# `uv export` + `pip install --require-hashes`: it reads uv.lock directly, fails if
# the lock is out of date with pyproject.toml, checks every artifact against the
# lock's hashes, and installs the project itself as a regular wheel in the same step.
# (Only the build backend for this project's own wheel, hatchling, is not in uv.lock.)
RUN pip install --no-cache-dir uv==0.13.9

# Compile bytecode now (the runtime file system may be read-only); copy, don't
# hard-link, into the venv; never download an interpreter; no uv cache in a layer.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON_PREFERENCE=only-system \
    UV_NO_CACHE=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv

WORKDIR /src

# Dependencies first, in their own layer: rebuilt only when the lock changes.
# Then, an optimisation and not a requirement: tiktoken downloads its BPE encodings
# on first use, and many deployments have no egress to that host. Fetch them now
# into a folder the runtime stage reads (read-only is enough). Without them, token
# counting falls back to a conservative estimate (bot/llm/tokens.py); nothing fails.
COPY pyproject.toml uv.lock ./
RUN uv sync --locked --no-dev --no-install-project \
    && TIKTOKEN_CACHE_DIR=/opt/tiktoken /opt/venv/bin/python -c \
       "import tiktoken; [tiktoken.get_encoding(n) for n in ('o200k_base', 'cl100k_base')]"

# Then the project, as a wheel (not editable): the image needs no source tree.
COPY README.md ./
COPY prompts ./prompts
COPY bot ./bot
RUN uv sync --locked --no-dev --no-editable

# ---- run: the base image, the venv, the encodings, a non-root user -------------
FROM python:3.11.14-slim-bookworm AS runtime

LABEL org.opencontainers.image.title="twelve-review" \
      org.opencontainers.image.description="Twelve-Factor App pull-request reviewer (GitHub App)" \
      org.opencontainers.image.licenses="MIT"

# A fixed numeric UID/GID, so Kubernetes' runAsNonRoot can verify it.
RUN groupadd --system --gid 10001 twelve \
    && useradd --system --no-log-init --uid 10001 --gid twelve \
       --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin twelve

# Owned by root: the app user can read and run its code, not change it.
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /opt/tiktoken /opt/tiktoken

ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

# Where tiktoken finds the encodings fetched above. The one inline ignore in this
# file, on this instruction only: DL3064 flags any ENV name containing "token", and
# TIKTOKEN_CACHE_DIR is a folder path, not a credential.
# hadolint ignore=DL3064
ENV TIKTOKEN_CACHE_DIR=/opt/tiktoken

# The queue's SQLite file, when no REDIS_URL is set (one container): on a volume, so
# reviews accepted with a 202 outlive the container.
RUN mkdir -p /var/lib/twelve-review && chown 10001:10001 /var/lib/twelve-review
ENV TWELVE_REVIEW_QUEUE_PATH=/var/lib/twelve-review/queue.db
VOLUME ["/var/lib/twelve-review"]

USER 10001:10001

# The default of PORT (bot/app/settings.py); platforms that set PORT override it.
EXPOSE 8000

# For `docker run` and Compose (Kubernetes uses its own probes). A slim image has
# no curl: ask the server with the standard library.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/healthz', timeout=3)"]

# Exec form: the server is PID 1, receives SIGTERM itself, drains its queue and exits.
CMD ["twelve-review", "serve"]
