"""Benchmark: review a large synthetic diff with every rule (run by hand, not a test).

    uv run python bench/review_speed.py                  # 50,000 lines in 1,000 files
    uv run python bench/review_speed.py --jobs 2         # the same on two worker processes
    uv run python bench/review_speed.py --write big.diff # also save the diff, for the CLI:
    farm-bench -- uv run twelve-review review --diff big.diff --format json

Prints parse and review time, lines per second and peak memory for a quarter,
half and all of the diff, so the growth (linear or not) shows at a glance.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from pathlib import Path

from bot.diff import parse_diff
from bot.engine import review_files

# Per language: a file name pattern and lines typical of it, a few of them findings.
_TEMPLATES: dict[str, tuple[str, list[str]]] = {
    "py": (
        "svc{n}/app/module_{n}.py",
        [
            "import os",
            "def handler(event, context):",
            "    value = compute(event['items'], limit=10)",
            "    return {'status': 'ok', 'count': len(value)}",
            "logger = logging.getLogger(__name__)",
            "PORT = int(os.environ.get('PORT', '8000'))",
            "class Repository:",
            "    def find(self, key: str) -> dict[str, str]:",
            "        return self._store.get(key, {})",
            "handler = logging.FileHandler('app.log')",
            "app.run(port=5000)",
            "DEBUG = True",
        ],
    ),
    "js": (
        "web{n}/src/routes/r{n}.ts",
        [
            "import express from 'express';",
            "const router = express.Router();",
            "router.get('/items', async (req, res) => res.json(await list(req.query)));",
            "const port = process.env.PORT || 3000;",
            "export default router;",
            "app.listen(8080);",
            "const client = redis.createClient({ url: process.env.REDIS_URL });",
            "  if (!user) { return res.status(404).end(); }",
        ],
    ),
    "go": (
        "cmd/tool{n}/main.go",
        [
            "package main",
            'import "net/http"',
            "func main() {",
            '\taddr := ":" + os.Getenv("PORT")',
            "\tlog.Fatal(http.ListenAndServe(addr, mux))",
            "}",
            '\thttp.ListenAndServe(":8080", nil)',
        ],
    ),
    "yaml": (
        "deploy/k8s/svc{n}.yaml",
        [
            "apiVersion: apps/v1",
            "kind: Deployment",
            "spec:",
            "  replicas: 3",
            "      containers:",
            "        - name: web",
            "          image: registry.local/web:1.4.2",
            "          image: registry.local/web:latest",
            "          ports:",
            "            - containerPort: 8080",
        ],
    ),
    "Dockerfile": (
        "images/svc{n}/Dockerfile",
        [
            "FROM python:3.12-slim",
            "WORKDIR /app",
            "COPY . .",
            "RUN pip install --no-cache-dir -r requirements.txt",
            'CMD ["gunicorn", "app:app"]',
            "CMD gunicorn app:app",
        ],
    ),
    "properties": (
        "svc{n}/src/main/resources/application.properties",
        [
            "spring.application.name=svc",
            "server.port=${PORT:8080}",
            "management.endpoints.web.exposure.include=health",
            "spring.datasource.url=jdbc:postgresql://db.internal:5432/app",
        ],
    ),
}


def make_diff(total_lines: int, files: int, seed: int = 12) -> str:
    """A git-style diff adding `files` files with `total_lines` lines in all."""
    rng = random.Random(seed)
    kinds = list(_TEMPLATES)
    per_file = total_lines // files
    parts: list[str] = []
    for n in range(files):
        pattern, lines = _TEMPLATES[kinds[n % len(kinds)]]
        path = pattern.format(n=n)
        # Mostly ordinary lines; the last lines of each template are findings.
        body = [
            rng.choice(lines[:-2]) if rng.random() < 0.97 else rng.choice(lines)
            for _ in range(per_file)
        ]
        parts.append(
            f"diff --git a/{path} b/{path}\nnew file mode 100644\nindex 0000000..1111111\n"
            f"--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{per_file} @@\n"
            + "".join(f"+{line}\n" for line in body)
        )
    return "".join(parts)


def measure(diff: str, jobs: int) -> tuple[float, float, int]:
    start = time.perf_counter()
    files = parse_diff(diff)
    parsed = time.perf_counter()
    result = review_files(files, jobs=jobs)
    done = time.perf_counter()
    return parsed - start, done - parsed, len(result.findings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--files", type=int, default=1_000)
    parser.add_argument("--write", type=Path, help="save the full diff here")
    parser.add_argument(
        "--jobs", type=int, default=1, help="worker processes (as the CLI's --jobs)"
    )
    args = parser.parse_args()
    if args.write:
        args.write.write_text(make_diff(args.lines, args.files))
    header = ("lines", "files", "parse s", "review s", "total s", "lines/s", "findings")
    print(" ".join(f"{h:>9}" for h in header))
    for share in (4, 2, 1):
        lines, files = args.lines // share, args.files // share
        parse_s, review_s, findings = measure(make_diff(lines, files), args.jobs)
        total = parse_s + review_s
        row = (lines, files, f"{parse_s:.2f}", f"{review_s:.2f}", f"{total:.2f}")
        row += (f"{lines / total:.0f}", findings)
        print(" ".join(f"{x:>9}" for x in row))
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    worker_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(
        f"peak RSS: {peak_kib / 1024:.0f} MiB, largest worker {worker_kib / 1024:.0f} MiB "
        f"(Python {sys.version.split()[0]}, jobs={args.jobs})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
