"""Benchmark: how fast the deployed App acknowledges webhook deliveries (run by hand).

    .venv/bin/python bench/webhook_ack.py                                # 1 at a time, then 200
    .venv/bin/python bench/webhook_ack.py --concurrency 1,10,50,100,200  # a sweep, a line each
    .venv/bin/python bench/webhook_ack.py --env TWELVE_REVIEW_WORKERS=4 --profile /tmp/app.prof

Runs the App as users do, `python -m bot serve` in its own process, configured by
environment variables only, JSON logs to a file; the fake GitHub of tests/fake_github.py
stays in this process. Spawned client processes (no GIL shared with the App; one is
enough, more steal a small machine's CPU from the App) get pre-built, pre-signed ~25 KB
`pull_request` deliveries, meet at a barrier, and send them over plain sockets,
`--concurrency` in flight, one delivery per connection (`Connection: close`), so
accepting the connection is counted as the App's cost too. Ack latency: from just
before connect + send to the answer's last byte, by perf_counter_ns.

Each level sends `--deliveries` to `--pulls` PRs, then waits for the review queue to
drain (told by the App's INFO log lines: keep LOG_LEVEL). Concurrency 1 runs first: the
floor, the App's cost per delivery. The App's PyGithub keeps its defaults (retries;
0.25 s between requests, 1 s between writes), so draining is slow. At the end every PR
must have one summary and at most one bot review, the fake no spec violations or
crashes. `--profile` cProfiles the App's main thread (the event loop that answers): see
bench/webhook_profile.py.
"""

from __future__ import annotations

import argparse
import copy
import http.client
import math
import multiprocessing
import os
import platform
import re
import selectors
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

if TYPE_CHECKING:  # the client processes import no more than this module's own imports
    from tests.fake_github import FakeGitHub, FakePull

ROOT = Path(__file__).resolve().parents[1]
REPO = "acme/shop"
SECRET = "bench-secret"
BASE = {"README.md": "shop\n", "app/__init__.py": ""}
# The App's log lines that tell each job's fate: the server's line for a 202 (a
# duplicate's has a reason, a queued job's none), then the queue's (bot/app/durable.py).
ACCEPTED, DUPLICATE = '"message": "webhook accepted"', '"reason": "duplicate delivery'
RAN = '"message": "job done"'
GONE = (
    '"message": "skipped: a newer job for this pull request is queued"',
    '"message": "replaced a waiting job for the same PR"',
)
Row = tuple[int, int, str]  # start ns, end ns, HTTP status (or what went wrong)


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile of sorted `values`."""
    return values[max(0, math.ceil(share * len(values)) - 1)]


@cache
def _example(action: str) -> dict[str, Any]:
    from tests.webhooks import example  # noqa: PLC0415

    modules = ROOT / "tests" / "npm" / "node_modules"  # installed by the test suite
    if not modules.is_dir():
        raise SystemExit("run `npm ci --ignore-scripts` in tests/npm (or the tests) first")
    return example(modules, "pull_request", action)


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
    """A client process: a slot is one connection in flight, sending its requests in
    turn; one selector loop reads every answer. Puts its rows on `results`."""
    selector = selectors.DefaultSelector()
    rows: list[Row] = []

    def send(slot: int) -> None:
        while slots[slot]:
            start = time.perf_counter_ns()
            try:
                sock = socket.create_connection(("127.0.0.1", port))
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.sendall(slots[slot].pop())
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
        for key, _ in ready or [(k, 0) for k in selector.get_map().values()]:
            sock, (slot, start, answer) = key.fileobj, key.data
            assert isinstance(sock, socket.socket)
            try:
                chunk = sock.recv(65536) if ready else b""
            except OSError as exc:
                chunk, status = b"", type(exc).__name__
            else:
                answer += chunk
                status = _status(answer) or ("" if chunk else "no answer")
            if status:
                rows.append((start, time.perf_counter_ns(), status))
                selector.unregister(sock)
                sock.close()
                send(slot)
    results.put(rows)


def run_level(port: int, requests: list[bytes], concurrency: int, clients: int) -> list[Row]:
    """Send all `requests`, `concurrency` in flight, from up to `clients` processes."""
    context = multiprocessing.get_context("spawn")  # not fork: this process runs threads
    slots = [requests[n::concurrency][::-1] for n in range(concurrency)]  # popped from the end
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


def app_environment(fake: FakeGitHub, extra: dict[str, str]) -> dict[str, str]:
    """What an App process of the benchmark is configured with: the fake as GitHub."""
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    return (
        env
        | {
            "GITHUB_APP_ID": str(fake.app_id),
            "GITHUB_APP_PRIVATE_KEY": fake.private_key_pem,
            "GITHUB_WEBHOOK_SECRET": SECRET,
            "GITHUB_API_URL": fake.base_url,
            "HOST": "127.0.0.1",
            "LOG_LEVEL": "INFO",
        }
        | extra
    )


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far; None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_app(
    fake: FakeGitHub, log: Path, extra: dict[str, str], profile: str | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    """`python -m bot serve`, configured by its environment; returns once /readyz is 200."""
    with socket.socket() as probe:  # a free port; the App binds it itself
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    env = app_environment(fake, {"PORT": str(port)} | extra)
    command = [sys.executable, *(["-m", "cProfile", "-o", profile] if profile else [])]
    with log.open("wb") as out:
        app = subprocess.Popen(
            [*command, "-m", "bot", "serve"], cwd=ROOT, env=env, stdout=out, stderr=out
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and app.poll() is None:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/readyz")
            if connection.getresponse().status == 200:
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
        ran, waited = text.count(RAN), time.perf_counter() - started
        queued = text.count(ACCEPTED) - text.count(DUPLICATE)
        if queued <= ran + sum(text.count(gone) for gone in GONE):
            return True, waited, ran
        if waited > timeout:
            return False, waited, ran
        time.sleep(0.05)


def summary(level: int, rows: list[Row]) -> tuple[str, float, list[str]]:
    """A level's answers, ack percentiles, wall time and rate; its p50; its problems."""
    latencies = sorted((end - start) / 1e6 for start, end, _ in rows)
    statuses = Counter(status for *_, status in rows)
    wall = (max(row[1] for row in rows) - min(row[0] for row in rows)) / 1e9
    marks = " ".join(f"p{q} {percentile(latencies, q / 100):5.1f}" for q in (50, 90, 99))
    answers = ", ".join(f"{n} x {status}" for status, n in sorted(statuses.items()))
    line = f"c={level:<3} {answers} | ack ms {marks} max {latencies[-1]:5.1f}"
    sent = (max(row[0] for row in rows) - min(row[0] for row in rows)) / 1e6
    line += f" | {wall * 1000:4.0f} ms, {len(rows) / wall:4.0f}/s, sent in {sent:3.0f} ms"
    wrong = [f"c={level}: {n} x {status}" for status, n in statuses.items() if status != "202"]
    return line, percentile(latencies, 0.5), wrong


def posted_once(fake: FakeGitHub, pulls: list[FakePull]) -> tuple[str, list[str]]:
    """What the bot posted, and the PRs with more than that (or no summary)."""
    from tests.fake_github import BOT_LOGIN  # noqa: PLC0415

    reviews = summaries = 0
    problems = [str(v) for v in fake.violations] + fake.crashes
    for pull in pulls:
        mine = [r for r in fake.reviews(pull) if r["user"]["login"] == BOT_LOGIN]
        notes = [c for c in fake.issue_comments(pull) if c["user"]["login"] == BOT_LOGIN]
        reviews, summaries = reviews + len(mine), summaries + len(notes)
        if len(mine) > 1 or len(notes) != 1:
            problems.append(f"PR #{pull.number}: {len(mine)} reviews, {len(notes)} summaries")
    return f"{reviews} reviews and {summaries} summaries on {len(pulls)} PRs", problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pulls", type=int, default=20)
    parser.add_argument("--deliveries", type=int, default=200, help="per level")
    parser.add_argument("--concurrency", default="200", help="in flight, e.g. 1,10,50,100,200")
    parser.add_argument("--clients", type=int, default=1, help="client processes (default 1)")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the App")
    parser.add_argument("--log", type=Path, help="the App's JSON log (default: a temp file)")
    parser.add_argument("--profile", help="cProfile the App's main thread into this file")
    args = parser.parse_args()
    levels = sorted({1, *(int(level) for level in args.concurrency.split(","))})
    log = args.log or Path(tempfile.mkstemp(prefix="twelve-review-", suffix=".log")[1])
    extra = dict(pair.split("=", 1) for pair in args.env)
    from tests.fake_github import FakeGitHub  # noqa: PLC0415

    with FakeGitHub() as fake:
        repo = fake.add_repo(REPO, BASE)
        pulls = []
        for n in range(args.pulls):
            finding = 'handler = logging.FileHandler("a.log")' if n % 2 else "app.run(port=5000)"
            head = BASE | {f"app/svc_{n}.py": f"import logging\n\n{finding}\n"}
            pulls.append(fake.add_pull(repo, BASE, head, title=f"change {n}"))
        app, port = start_app(fake, log, extra, args.profile)
        print(f"CPUs {os.cpu_count()}, Python {platform.python_version()}, clients {args.clients}")
        print(f"App: `python -m bot serve` on :{port}, pid {app.pid}, env +{extra}, log {log}")
        print(f"{args.deliveries} deliveries to {args.pulls} PRs a level (latencies in ms):")
        try:
            problems, floor = measure(fake, pulls, app.pid, port, log, levels, args)
        finally:
            app.terminate()  # SIGTERM, as platforms stop it: a graceful shutdown, exit 0
            code = app.wait(60)
        posted, failed = posted_once(fake, pulls)
    text = log.read_text(errors="replace")
    errors = text.count('"level": "ERROR"') + text.count('"level": "CRITICAL"')
    print(f"floor p50 {floor:.2f} ms x {args.deliveries} = {floor * args.deliveries:.0f} ms"
          " (one burst's p99 if the App serves one delivery at a time)")  # fmt: skip
    print(f"log: {text.count(chr(10))} lines, {errors} errors; posted: {posted}")
    problems += failed + ([f"{errors} error lines in {log}"] if errors else [])
    problems += [f"the App exited {code} on SIGTERM"] if code else []
    for problem in problems:
        print(f"PROBLEM: {problem}")
    print("FAILED" if problems else "OK: nothing posted twice, no spec violations, no crashes")
    return 1 if problems else 0


def measure(
    fake: FakeGitHub,
    pulls: list[FakePull],
    app_pid: int,
    port: int,
    log: Path,
    levels: list[int],
    args: Any,
) -> tuple[list[str], float]:
    """A warm-up delivery, then each level, a line each: problems, floor p50 ms."""
    run_level(port, [delivery(fake, pulls[0], "opened", "warm-up")], 1, 1)
    problems, floor = ([] if drain(log, 60)[0] else ["warm-up: not drained"]), 0.0
    ran_before, calls_before = drain(log, 0)[2], len(fake.requests)
    for level in levels:
        actions = ["opened"] * len(pulls) + ["synchronize"] * args.deliveries
        requests = [
            delivery(fake, pulls[n % len(pulls)], actions[n], f"c{level}-{n}")
            for n in range(args.deliveries)
        ]
        cpu_before = cpu_seconds(app_pid)
        line, p50, wrong = summary(level, run_level(port, requests, level, args.clients))
        # the App's CPU (all threads: with TWELVE_REVIEW_SERVE_WORKERS=false, answering only)
        cpu = ((cpu_seconds(app_pid) or 0.0) - (cpu_before or 0.0)) / len(requests)
        line += f" | App CPU {cpu * 1e6:4.0f} µs a delivery"
        drained, seconds, ran = drain(log, 600)
        calls = fake.requests[calls_before:]
        writes = sum(call.method != "GET" for call in calls)
        print(f"{line} | drain {seconds:4.1f} s, {ran - ran_before} runs, {len(calls)} calls, "
              f"{writes} writes")  # fmt: skip
        floor = p50 if level == 1 else floor
        ran_before, calls_before = ran, len(fake.requests)
        problems += wrong + ([] if drained else [f"c={level}: not drained in {seconds:.0f} s"])
    return problems, floor


if __name__ == "__main__":
    raise SystemExit(main())
