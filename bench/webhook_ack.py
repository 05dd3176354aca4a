"""Benchmark: how fast the App acknowledges a burst of webhook deliveries (run by hand).

    uv run python bench/webhook_ack.py                          # 200 deliveries over 20 PRs
    uv run python bench/webhook_ack.py --deliveries 1000 --concurrency 100 --workers 4

Serves the real App (create_app + ReviewRunner) with uvicorn on 127.0.0.1 against
the fake GitHub of tests/fake_github.py, sends signed `pull_request` deliveries
(`opened`/`synchronize`, distinct delivery ids) all at once over real HTTP, and
prints the acknowledgement latency (send to response) by percentile. Then waits
for the queue to drain and checks nothing was posted twice. The fake, the server,
its review workers and the client share one process (and its GIL): the latencies
include that contention, as a busy single-process App would see it.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

# tests.* is not installed: import it from the checkout (run from anywhere)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx2 as httpx  # the httpx successor this project installs (starlette uses it too)
import uvicorn

from bot.app.queue import JobQueue
from bot.app.server import create_app
from tests.app_helpers import app_settings, review_runner
from tests.fake_github import BOT_LOGIN, FakeGitHub, FakePull
from tests.webhooks import example, signed

ROOT = Path(__file__).resolve().parents[1]
REPO = "acme/shop"
SECRET = "bench-secret"
BASE = {"README.md": "shop\n", "app/__init__.py": ""}


def npm_modules() -> Path:
    """tests/npm/node_modules (the OpenAPI description and webhook examples),
    installed from the lock file when missing, as tests/conftest.py does."""
    npm_dir = ROOT / "tests" / "npm"
    modules = npm_dir / "node_modules"
    wanted = json.loads((npm_dir / "package.json").read_text())["devDependencies"]
    if not all((modules / name / "package.json").exists() for name in wanted):
        npm = shutil.which("npm")
        if npm is None:
            raise SystemExit("npm is needed to install tests/npm (GitHub's OpenAPI description)")
        command = [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"]
        subprocess.run(command, cwd=npm_dir, check=True, capture_output=True)
    return modules


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile of sorted `values`."""
    return values[max(0, min(len(values) - 1, round(share * len(values) + 0.5) - 1))]


def delivery(
    modules: Path, fake: FakeGitHub, pull: FakePull, action: str, delivery_id: str
) -> tuple[bytes, dict[str, str]]:
    """GitHub's example delivery, pointed at the fake's repository and PR."""
    payload: dict[str, Any] = copy.deepcopy(_example(modules, action))
    payload["number"] = payload["pull_request"]["number"] = pull.number
    payload["pull_request"]["head"]["sha"] = pull.head_sha
    payload["pull_request"]["draft"] = False
    payload["pull_request"]["state"] = "open"
    payload["repository"]["full_name"] = REPO
    payload["installation"]["id"] = fake.installation_id
    payload["sender"]["type"] = "User"
    return signed("pull_request", payload, SECRET, delivery_id)


@cache
def _example(modules: Path, action: str) -> dict[str, Any]:
    return example(modules, "pull_request", action)


async def burst(
    url: str, requests: list[tuple[bytes, dict[str, str]]], concurrency: int, queue: JobQueue
) -> tuple[list[float], Counter[str], float]:
    """POST every delivery at once (at most `concurrency` in flight): latencies in ms,
    answers by status, wall time in s. The first request is a warm-up, not counted:
    the burst starts once its review is done (token and App login cached)."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60.0) as client:
        body, headers = requests[0]
        (await client.post(url, content=body, headers=headers)).raise_for_status()
        await asyncio.to_thread(queue.join, 60)
        gate = asyncio.Semaphore(concurrency)
        latencies: list[float] = []
        statuses: Counter[str] = Counter()

        async def send(body: bytes, headers: dict[str, str]) -> None:
            async with gate:
                start = time.perf_counter()
                try:
                    status = str(
                        (await client.post(url, content=body, headers=headers)).status_code
                    )
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                latencies.append((time.perf_counter() - start) * 1000)
                statuses[status] += 1

        started = time.perf_counter()
        await asyncio.gather(*(send(b, h) for b, h in requests[1:]))
        return sorted(latencies), statuses, time.perf_counter() - started


def serve(app: Any) -> tuple[str, uvicorn.Server, threading.Thread]:
    """uvicorn on a free port of 127.0.0.1 in a thread; returns once it listens."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", server, thread


def posted_once(fake: FakeGitHub, pulls: list[FakePull]) -> tuple[int, int, list[str]]:
    """Reviews and summaries the bot posted, and the PRs with too many (or no summary)."""
    reviews = summaries = 0
    problems: list[str] = []
    for pull in pulls:
        mine = [r for r in fake.reviews(pull) if r["user"]["login"] == BOT_LOGIN]
        notes = [c for c in fake.issue_comments(pull) if c["user"]["login"] == BOT_LOGIN]
        reviews, summaries = reviews + len(mine), summaries + len(notes)
        if len(mine) > 1 or len(notes) != 1:
            problems.append(f"PR #{pull.number}: {len(mine)} reviews, {len(notes)} summaries")
    return reviews, summaries, problems + [str(v) for v in fake.violations] + fake.crashes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pulls", type=int, default=20)
    parser.add_argument("--deliveries", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--workers", type=int, help="review threads (default: the settings')")
    args = parser.parse_args()
    modules = npm_modules()
    with FakeGitHub() as fake:
        repo = fake.add_repo(REPO, BASE)
        pulls = []
        for n in range(args.pulls):
            finding = 'handler = logging.FileHandler("a.log")' if n % 2 else "app.run(port=5000)"
            head = BASE | {f"app/svc_{n}.py": f"import logging\n\n{finding}\n"}
            pulls.append(fake.add_pull(repo, BASE, head, title=f"change {n}"))
        settings = app_settings(fake, SECRET)
        if args.workers:
            settings = settings.model_copy(update={"workers": args.workers})
        app = create_app(settings, review_runner(settings))
        url, server, thread = serve(app)
        requests = [delivery(modules, fake, pulls[0], "opened", "warm-up")]
        for n in range(args.deliveries):
            action = "opened" if n < len(pulls) else "synchronize"
            requests.append(delivery(modules, fake, pulls[n % len(pulls)], action, f"d-{n}"))
        queue: JobQueue = app.state.queue
        burst_run = burst(url + settings.webhook_path, requests, args.concurrency, queue)
        latencies, statuses, wall = asyncio.run(burst_run)
        drain_start = time.perf_counter()
        drained = queue.join(300)
        drain = time.perf_counter() - drain_start
        runs = len(fake.calls("pulls/list-files")) - 1  # one page, one run; less the warm-up
        server.should_exit = True
        thread.join(30)
        reviews, summaries, problems = posted_once(fake, pulls)
    if not drained:
        problems.insert(0, f"queue not drained after {drain:.0f} s")
    marks = "  ".join(f"p{round(q * 100)} {percentile(latencies, q):.1f}" for q in (0.5, 0.9, 0.99))
    print(f"CPUs: {os.cpu_count()}, review workers {settings.workers}, Python {sys.version[:6]}")
    print(
        f"{len(latencies)} deliveries (+1 warm-up) to {len(pulls)} PRs, {args.concurrency} at once"
    )
    print("answers: " + ", ".join(f"{n} x {s}" for s, n in sorted(statuses.items())))
    print(f"ack ms:  {marks}  max {latencies[-1]:.1f}")
    print(f"wall:    {wall * 1000:.0f} ms for the burst ({len(latencies) / wall:.0f} deliveries/s)")
    print(f"drained: {drain:.1f} s after the burst; {runs} review runs for the burst")
    print(f"posted:  {reviews} reviews, {summaries} summary comments on {len(pulls)} PRs")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    print("FAILED" if problems else "OK: nothing posted twice, no spec violations, no crashes")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
