"""Benchmark: how fast the deployed App acknowledges webhook deliveries (run by hand).

    .venv/bin/python bench/webhook_ack.py                                # 1 at a time, then 200
    .venv/bin/python bench/webhook_ack.py --concurrency 1,10,50,100,200  # a sweep
    .venv/bin/python bench/webhook_ack.py --workers 4 --profile /tmp/serve.prof

Starts the App as users run it, `python -m bot serve` in its own process configured
by environment variables only (JSON logs to a file), against the fake GitHub of
tests/fake_github.py, which stays in this process. Spawned client processes (no GIL
shared with the App) get pre-built, pre-signed `pull_request` deliveries, meet at a
barrier, then send them over plain sockets, `--concurrency` in flight: each on a
fresh connection with `Connection: close`, as GitHub delivers them, so accepting the
connection is part of the App's cost. Latency runs from just before connect + send
to the answer's last byte (perf_counter_ns, one clock for all processes).

Each level sends `--deliveries` deliveries to `--pulls` PRs, then waits for the review
queue to drain (told by the App's log lines). Concurrency 1 always runs first: the
floor, the App's own cost per delivery. The App's PyGithub keeps its defaults
(retries, 0.25 s between requests, 1 s between writes): draining is slow, acks are
not. At the end each PR must have one summary comment and at most one bot review,
and the fake no spec violations or crashes. `--profile` runs the App under cProfile
(its main thread: the event loop that answers) and writes the stats when it stops.
"""

from __future__ import annotations

import argparse
import copy
import http.client
import json
import math
import multiprocessing
import os
import re
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

# tests.* is not installed: import it from the checkout (run from anywhere)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

if TYPE_CHECKING:
    from tests.fake_github import FakeGitHub, FakePull

ROOT = Path(__file__).resolve().parents[1]
REPO = "acme/shop"
SECRET = "bench-secret"
BASE = {"README.md": "shop\n", "app/__init__.py": ""}
# The App's log lines (bot/app/queue.py, jobs.py) that tell each queued job's fate.
QUEUED, RAN = '"message": "queued"', '"message": "job done"'
GONE = ('"message": "replaced a waiting job', '"message": "skipped: cancelled before it')
Row = tuple[int, int, str]  # start ns, end ns, HTTP status (or what went wrong)


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
    return values[max(0, math.ceil(share * len(values)) - 1)]


@cache
def _example(action: str) -> dict[str, Any]:
    from tests.webhooks import example  # noqa: PLC0415 - client processes import no tests.*

    return example(npm_modules(), "pull_request", action)


def delivery(fake: FakeGitHub, pull: FakePull, action: str, delivery_id: str) -> bytes:
    """GitHub's example delivery, pointed at the fake's PR, signed, as an HTTP request."""
    from tests.webhooks import signed  # noqa: PLC0415

    payload: dict[str, Any] = copy.deepcopy(_example(action))
    payload["number"] = payload["pull_request"]["number"] = pull.number
    payload["pull_request"] |= {"draft": False, "state": "open"}
    payload["pull_request"]["head"]["sha"] = pull.head_sha
    payload["repository"]["full_name"] = REPO
    payload["installation"]["id"] = fake.installation_id
    payload["sender"]["type"] = "User"
    body, headers = signed("pull_request", payload, SECRET, delivery_id)
    headers |= {"Host": "127.0.0.1", "Content-Length": str(len(body)), "Connection": "close"}
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"POST /webhook HTTP/1.1\r\n{head}\r\n".encode() + body


def _status(answer: bytes) -> str | None:
    """The status of a complete HTTP answer; None while bytes are missing."""
    head, sep, body = answer.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    if not sep or (length is not None and len(body) < int(length[1])):
        return None
    return head[9:12].decode()


def client(port: int, slots: list[list[bytes]], barrier: Any, results: Any) -> None:
    """One client process: a slot is one connection in flight, sending its requests
    in turn; one selector loop reads all the answers. Puts its rows on `results`."""
    selector = selectors.DefaultSelector()
    rows: list[Row] = []

    def send(slot: int) -> None:
        while slots[slot]:
            request = slots[slot].pop(0)
            start = time.perf_counter_ns()
            try:
                sock = socket.create_connection(("127.0.0.1", port))
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.sendall(request)
            except OSError as exc:
                rows.append((start, time.perf_counter_ns(), type(exc).__name__))
                continue
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ, (slot, start, bytearray()))
            return

    barrier.wait()
    for slot in range(len(slots)):
        send(slot)
    while selector.get_map():
        ready = selector.select(timeout=60)
        if not ready:  # nothing for a minute: give up on the rest
            late = selector.get_map().values()
            rows += [(key.data[1], time.perf_counter_ns(), "timeout") for key in late]
            break
        for key, _ in ready:
            sock, (slot, start, answer) = key.fileobj, key.data
            assert isinstance(sock, socket.socket)
            try:
                chunk = sock.recv(65536)
            except OSError as exc:
                chunk, status = b"", type(exc).__name__
            else:
                answer += chunk
                status = _status(answer) or ("" if chunk else "incomplete")
            if status:
                rows.append((start, time.perf_counter_ns(), status))
                selector.unregister(sock)
                sock.close()
                send(slot)
    results.put(rows)


def run_level(port: int, requests: list[bytes], concurrency: int, clients: int) -> list[Row]:
    """Send all `requests`, `concurrency` in flight, from up to `clients` processes."""
    context = multiprocessing.get_context("spawn")  # not fork: this process runs threads
    slots = [requests[n::concurrency] for n in range(concurrency)]
    count = min(clients, concurrency)
    barrier, results = context.Barrier(count), context.Queue()
    workers = [
        context.Process(target=client, args=(port, slots[n::count], barrier, results))
        for n in range(count)
    ]
    for worker in workers:
        worker.start()
    rows = [row for _ in workers for row in results.get(timeout=600)]
    for worker in workers:
        worker.join()
    return rows


def start_app(
    fake: FakeGitHub, log: Path, workers: int | None, profile: str | None
) -> tuple[subprocess.Popen[bytes], int]:
    """`python -m bot serve`, configured by its environment; returns once /readyz is 200."""
    with socket.socket() as probe:  # a free port; the App binds it itself
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    env |= {
        "GITHUB_APP_ID": str(fake.app_id),
        "GITHUB_APP_PRIVATE_KEY": fake.private_key_pem,
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "GITHUB_API_URL": fake.base_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "INFO",
    } | ({"TWELVE_REVIEW_WORKERS": str(workers)} if workers else {})
    profiler = ["-m", "cProfile", "-o", profile] if profile else []
    with log.open("wb") as out:
        app = subprocess.Popen(
            [sys.executable, *profiler, "-m", "bot", "serve"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and app.poll() is None:
        try:
            probe_http = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            probe_http.request("GET", "/readyz")
            if probe_http.getresponse().status == 200:
                return app, port
        except OSError:
            time.sleep(0.05)
    app.kill()
    raise SystemExit(f"the App did not get ready:\n{log.read_text()[-3000:]}")


def drain(log: Path, timeout: float) -> tuple[bool, float, int]:
    """Wait until every queued job ran or was replaced: (drained, seconds, jobs run)."""
    started = time.perf_counter()
    while True:
        text = log.read_text(errors="replace")
        ran = text.count(RAN)
        if text.count(QUEUED) <= ran + sum(text.count(gone) for gone in GONE):
            return True, time.perf_counter() - started, ran
        if time.perf_counter() - started > timeout:
            return False, time.perf_counter() - started, ran
        time.sleep(0.05)


def marks(latencies: list[float]) -> str:
    shares = ((0.5, "p50"), (0.9, "p90"), (0.99, "p99"))
    text = "  ".join(f"{name} {percentile(latencies, q):6.1f}" for q, name in shares)
    return f"{text}  max {latencies[-1]:6.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pulls", type=int, default=20)
    parser.add_argument("--deliveries", type=int, default=200, help="per level")
    parser.add_argument("--concurrency", default="200", help="in flight, e.g. 1,10,50,100,200")
    parser.add_argument("--clients", type=int, default=2, help="client processes (default 2)")
    parser.add_argument("--workers", type=int, help="the App's review threads (default its 2)")
    parser.add_argument("--drain-timeout", type=float, default=600.0)
    parser.add_argument("--log", type=Path, help="the App's JSON log (default: a temp file)")
    parser.add_argument("--profile", help="cProfile the App's main thread into this file")
    args = parser.parse_args()
    levels = sorted({1, *(int(level) for level in args.concurrency.split(","))})
    log = args.log or Path(tempfile.mkstemp(prefix="twelve-review-", suffix=".log")[1])
    from tests.fake_github import BOT_LOGIN, FakeGitHub  # noqa: PLC0415

    print(f"CPUs: {os.cpu_count()}, Python {sys.version.split()[0]}, {args.clients} clients")
    with FakeGitHub() as fake:
        repo = fake.add_repo(REPO, BASE)
        pulls = []
        for n in range(args.pulls):
            finding = 'handler = logging.FileHandler("a.log")' if n % 2 else "app.run(port=5000)"
            head = BASE | {f"app/svc_{n}.py": f"import logging\n\n{finding}\n"}
            pulls.append(fake.add_pull(repo, BASE, head, title=f"change {n}"))
        app, port = start_app(fake, log, args.workers, args.profile)
        print(f"App: pid {app.pid}, `{sys.executable} -m bot serve` on :{port}, log {log}")
        print(f"{args.deliveries} deliveries to {args.pulls} PRs a level; ack ms = latency")
        problems: list[str] = []
        try:
            run_level(port, [delivery(fake, pulls[0], "opened", "warm-up")], 1, 1)
            problems += [] if drain(log, args.drain_timeout)[0] else ["warm-up not drained"]
            ran_before, calls_before = drain(log, 0)[2], len(fake.requests)
            for level in levels:
                requests = [
                    delivery(
                        fake,
                        pulls[n % len(pulls)],
                        "opened" if n < args.pulls else "synchronize",
                        f"c{level}-{n}",
                    )
                    for n in range(args.deliveries)
                ]
                rows = run_level(port, requests, level, args.clients)
                drained, seconds, ran = drain(log, args.drain_timeout)
                latencies = sorted((end - start) / 1e6 for start, end, _ in rows)
                statuses = Counter(status for *_, status in rows)
                wall = (max(r[1] for r in rows) - min(r[0] for r in rows)) / 1e9
                calls = len(fake.requests)
                writes = sum(r.method != "GET" for r in fake.requests[calls_before:])
                answers = ", ".join(f"{n} x {s}" for s, n in sorted(statuses.items()))
                print(
                    f"c={level:<3} {answers} | ack ms {marks(latencies)} | {wall * 1000:5.0f} ms,"
                    f" {len(rows) / wall:4.0f}/s | drained {seconds:5.1f} s: {ran - ran_before}"
                    f" runs, {calls - calls_before} API calls ({writes} writes)"
                )
                if level == 1:
                    floor = percentile(latencies, 0.5)
                ran_before, calls_before = ran, calls
                problems += [] if drained else [f"c={level}: not drained in {seconds:.0f} s"]
                problems += [f"c={level}: {n} x {s}" for s, n in statuses.items() if s != "202"]
            print(
                f"floor p50 {floor:.2f} ms x {args.deliveries} = {floor * args.deliveries:.0f} ms:"
                " the burst's p99 if the App serves one delivery at a time"
            )
        finally:
            app.terminate()
            app.wait(60)
        text = log.read_text(errors="replace")
        lines = text.count("\n")
        errors = text.count('"level": "ERROR"') + text.count('"level": "CRITICAL"')
        print(f"log: {lines} lines ({len(text) / lines:.0f} B each), {errors} errors")
        problems += [f"{errors} error lines in {log}"] if errors else []
        reviews = summaries = 0
        for pull in pulls:
            mine = [r for r in fake.reviews(pull) if r["user"]["login"] == BOT_LOGIN]
            notes = [c for c in fake.issue_comments(pull) if c["user"]["login"] == BOT_LOGIN]
            reviews, summaries = reviews + len(mine), summaries + len(notes)
            if len(mine) > 1 or len(notes) != 1:
                problems.append(f"PR #{pull.number}: {len(mine)} reviews, {len(notes)} summaries")
        problems += [str(v) for v in fake.violations] + fake.crashes
    print(f"posted: {reviews} reviews, {summaries} summary comments on {len(pulls)} PRs")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    print("FAILED" if problems else "OK: nothing posted twice, no spec violations, no crashes")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
