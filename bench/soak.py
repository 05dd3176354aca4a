"""Soak and crash test: thousands of signed deliveries, every promise kept (run by hand).

    .venv/bin/python bench/soak.py                    # embedded: one `serve`, SQLite queue
    .venv/bin/python bench/soak.py --redis            # two `serve` replicas sharing one Redis
    .venv/bin/python bench/soak.py --crash            # Redis; kill -9 one replica mid-run
    .venv/bin/python bench/soak.py --pulls 20 --pushes 3 --redis   # a quick try
    # the floor: replicas that only accept (no review threads); nothing drains, and
    # with nothing taking jobs the default limit of 1,000 waiting would answer 503
    .venv/bin/python bench/soak.py --env TWELVE_REVIEW_SERVE_WORKERS=false \
        --env TWELVE_REVIEW_MAX_PENDING=5000 --drain-timeout 0 --out /tmp/floor.json

The App runs as users run it, `python -m bot serve` processes configured by environment
only (JSON logs to a file each); a private `redis-server` on a free port for --redis and
--crash, stopped at the end. The fake GitHub of tests/fake_github.py stays in this
process; one spawned client process sends pre-signed ~25 KB `pull_request` deliveries
(bench/webhook_ack.py builds them) over plain sockets, `--concurrency` in flight, one
connection each. Ack latency: from just before connect + send to the answer's last byte.

`--pulls` PRs, each delivered `--pushes` times, in rounds: round 0 "opened"; before each
later round a commit is pushed to every PR (README only: no new finding, so a PR gets
one review however often it is reviewed) and "synchronize" sent at the new head. Rounds
go back to back (a round's 220 requests take well under a second), so most jobs
coalesce: a job that is not its PR's newest is skipped, one whose head moved on posts
nothing. Every `--redeliver-every`th delivery is sent twice, the copy to the other
replica (the same one when embedded), as GitHub's redelivery: it must be queued once.

Then the queue drains (the store holds nothing waiting or claimed and the logs show
every queued delivery ended: "job done", or skipped for a newer job of its PR), and
the fake is read: each PR one summary, at most one bot review, no inline comment twice,
the summary's state at the head of the PR's newest acknowledged delivery. RSS of each
App process is read from /proc/PID/status every 0.2 s: warm-up is when the
`--warm-up`th delivery was answered (a worker's, a tenth of the way from then to the
end: it loads what reviews need at its first ones), end is after the drain. The client
process also reads every process's CPU time around each round (who had the cores while sending).
The App's PyGithub keeps its pacing (1 s between one installation's writes; one
installation here), so the drain is slow; it is timed on its own. `--profile` runs
replica A under cProfile (its main thread: the event loop that answers).

--crash: two replicas, TWELVE_REVIEW_JOB_LEASE=3; once replica B's /metrics shows a
review running, round `--kill-round` starts and 0.1 s into it B gets SIGKILL, with
deliveries in flight (cut off: never acknowledged). The rounds go on, half of them to
B's closed port ("refused": never acknowledged, so no promise). GitHub does not resend
a failed delivery; as an operator would (Redeliver), each PR whose newest delivery was
not acknowledged gets it again, on the survivor. Every acknowledged delivery must end
reviewed (its PR at its newest acknowledged head), nothing posted twice.

A table and PASS/FAIL per criterion are printed; the result goes to bench/out/soak-MODE.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import platform
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.webhook_ack import (
    BASE,
    REPO,
    _status,
    app_environment,
    cpu_seconds,
    delivery,
    percentile,
    start_app,
)

if TYPE_CHECKING:  # the client process imports no more than this module's own imports
    from bot.app.store import JobStore
    from tests.fake_github import FakeGitHub, FakePull

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
QUEUED, DUPLICATE, DONE = "queued", "duplicate delivery, not queued", "job done"
ACCEPTED = "webhook accepted"  # 202: queued, or (with a reason) a duplicate
NEWER = "skipped: a newer job for this pull request is queued"  # ends a job without a run
# ends a waiting job at the next push to its PR: logged for the new delivery, naming it
REPLACED = "replaced a waiting job for the same PR"
REPLACED_BY = "(replaced while waiting)"  # the replaced delivery's end, as counted here
P99_MS, GROWTH = 50.0, 0.10
Row = tuple[int, int, int, str]  # request index, start ns, end ns, HTTP status or the error
Criterion = tuple[str, str, bool]  # what is checked, what was measured, passed


# -- the client process


def _send_batch(batch: list[tuple[int, int, bytes]], concurrency: int) -> list[Row]:
    """Send (index, port, request) items, `concurrency` connections in flight."""
    selector = selectors.DefaultSelector()
    slots = [batch[n::concurrency][::-1] for n in range(concurrency)]  # popped from the end
    rows: list[Row] = []

    def send(slot: int) -> None:
        while slots[slot]:
            index, port, request = slots[slot].pop()
            start = time.perf_counter_ns()
            try:
                sock = socket.create_connection(("127.0.0.1", port))
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.sendall(request)
            except OSError as exc:  # a killed replica's port: refused, never acknowledged
                rows.append((index, start, time.perf_counter_ns(), type(exc).__name__))
                continue
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ, (slot, index, start, bytearray()))
            return

    for slot in range(len(slots)):
        send(slot)
    while selector.get_map():
        ready = selector.select(timeout=60)
        for key, _ in ready or [(k, 0) for k in selector.get_map().values()]:
            sock, (slot, index, start, answer) = key.fileobj, key.data
            assert isinstance(sock, socket.socket)
            try:
                chunk = sock.recv(65536) if ready else b""
            except OSError as exc:  # reset: the replica died with the request in flight
                chunk, status = b"", type(exc).__name__
            else:
                answer += chunk
                status = _status(answer) or ("" if chunk else "no answer")
            if status:
                rows.append((index, start, time.perf_counter_ns(), status))
                selector.unregister(sock)
                sock.close()
                send(slot)
    return rows


def client(inbox: Any, outbox: Any, concurrency: int) -> None:
    """The client process: sends each batch it is given, answers with its rows, the
    batch's wall time, and the CPU seconds each of `pids` used meanwhile (read here,
    where no busy thread delays the reads, unlike the bench process)."""
    while (job := inbox.get()) is not None:
        batch, pids = job
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        started = time.perf_counter()
        rows = _send_batch(batch, concurrency)
        wall = time.perf_counter() - started
        after = {name: cpu_seconds(pid) for name, pid in pids.items()}
        used = {
            n: after[n] - before[n] for n in pids if after[n] is not None and before[n] is not None
        }
        outbox.put((rows, wall, used))


# -- what the App processes do


def vm_rss_kb(pid: int) -> int | None:
    """Resident set size (kB) of a live process; None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    found = re.search(r"^VmRSS:\s+(\d+) kB", text, re.MULTILINE)
    return int(found[1]) if found else None  # a zombie has no VmRSS line


class RssSampler(threading.Thread):
    """VmRSS of each App process every `period` seconds: (perf_counter ns, name, kB).
    `cpu_pids`: every process of the run (this one too), whose CPU time `Run.send` reads."""

    def __init__(self, pids: dict[str, int], period: float = 0.2) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.pids, self.period = pids, period
        self.cpu_pids = dict(pids)
        self.samples: list[tuple[int, str, int]] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.period):
            self.sample()

    def sample(self) -> None:
        now = time.perf_counter_ns()
        for name, pid in self.pids.items():
            kb = vm_rss_kb(pid)
            if kb is not None:
                self.samples.append((now, name, kb))

    def at(self, name: str, when_ns: int) -> int | None:
        """The first sample of `name` at or after `when_ns`."""
        later = [kb for t, n, kb in self.samples if n == name and t >= when_ns]
        return later[0] if later else None

    def last(self, name: str) -> int | None:
        mine = [kb for _, n, kb in self.samples if n == name]
        return mine[-1] if mine else None

    def peak(self, name: str) -> int | None:
        return max((kb for _, n, kb in self.samples if n == name), default=None)


def _round_and_pull(delivery_id: str) -> tuple[int, str] | None:
    """(round, PR) of a delivery id the soak made ("MODE-rROUND-prN"); None otherwise."""
    found = re.search(r"-r(\d+)-pr(\d+)$", delivery_id)
    return None if found is None else (int(found[1]), found[2])


@dataclass
class Logs:
    """The Apps' JSON log files, read as they grow: each delivery's messages."""

    paths: list[Path]
    offsets: dict[Path, int] = field(default_factory=dict)
    by_delivery: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    messages: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    other_lines: int = 0  # not JSON (a traceback printed outside logging, say)

    def read(self) -> None:
        for path in self.paths:
            with path.open("rb") as handle:
                handle.seek(self.offsets.get(path, 0))
                data = handle.read()
            end = data.rfind(b"\n") + 1  # a line still being written waits for the next read
            self.offsets[path] = self.offsets.get(path, 0) + end
            for line in data[:end].splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:
                    self.other_lines += 1
                    continue
                message = str(entry.get("message", ""))
                if message == ACCEPTED:  # the server's one line per stored delivery
                    message = DUPLICATE if entry.get("reason") else QUEUED
                self.messages[message] += 1
                if entry.get("level") in ("ERROR", "CRITICAL"):
                    self.errors.append(f"{path.name}: {message}")
                if entry.get("delivery"):
                    self.by_delivery[str(entry["delivery"])][message] += 1
                if message == REPLACED and entry.get("replaced_delivery"):
                    self.by_delivery[str(entry["replaced_delivery"])][REPLACED_BY] += 1

    def unfinished(self) -> list[str]:
        """Deliveries queued whose job has not ended (run, skipped or replaced for a
        newer one). A job a later delivery of its PR replaced also counts as ended
        when that later job ended: a replica killed between storing the replacement
        and writing its log line takes the line naming the replaced one with it."""
        ended = {d for d, seen in self.by_delivery.items() if seen[DONE] + seen[NEWER]}
        last_ended: dict[str, int] = {}  # PR -> the latest round with a job that ended
        for d in ended:
            if (at := _round_and_pull(d)) is not None:
                last_ended[at[1]] = max(last_ended.get(at[1], -1), at[0])

        def replaced_later(d: str) -> bool:
            at = _round_and_pull(d)
            return at is not None and last_ended.get(at[1], -1) > at[0]

        return [
            d
            for d, seen in self.by_delivery.items()
            if seen[QUEUED] and d not in ended and not seen[REPLACED_BY] and not replaced_later(d)
        ]


def start_redis(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A private redis-server on a free port (no persistence), and its URL."""
    import redis  # noqa: PLC0415 - only the Redis modes need it

    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", str(workdir)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis.from_url(url).ping()
            return server, url
        except redis.ConnectionError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise SystemExit("redis-server did not start") from None
            time.sleep(0.05)


def running_reviews(port: int) -> int | None:
    """Reviews running in the process on `port`, from its /metrics (None: no answer)."""
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", "/metrics")
        text = connection.getresponse().read().decode()
    except OSError:
        return None
    found = re.search(r'^twelve_review_queue_depth\{state="running"\} (\S+)', text, re.MULTILINE)
    return int(float(found[1])) if found else None


# -- the run


@dataclass
class Sent:
    """One request: which delivery, of which PR and round, to which replica."""

    delivery: str
    pull: int
    round: int
    replica: str
    redelivery: bool = False
    status: str = ""
    ms: float = 0.0
    start_ns: int = 0
    end_ns: int = 0


@dataclass
class Run:
    args: argparse.Namespace
    mode: str
    fake: FakeGitHub
    pulls: list[FakePull]
    apps: dict[str, subprocess.Popen[bytes]]
    ports: dict[str, int]
    logs: Logs
    store: JobStore
    sampler: RssSampler
    inbox: Any
    outbox: Any
    sent: list[Sent] = field(default_factory=list)
    heads: dict[tuple[int, int], str] = field(default_factory=dict)  # (pull, round) -> sha
    kill: dict[str, Any] = field(default_factory=dict)
    send_wall: float = 0.0  # seconds spent sending, the gaps between rounds left out
    send_cpu: Counter[str] = field(default_factory=Counter)  # CPU seconds meanwhile

    def send(self, items: list[tuple[Sent, bytes]]) -> None:
        base = len(self.sent)
        self.sent += [item for item, _ in items]
        batch = [
            (base + n, self.ports[item.replica], request) for n, (item, request) in enumerate(items)
        ]
        self.inbox.put((batch, self.sampler.cpu_pids))
        rows, wall, used = self.outbox.get(timeout=900)
        self.send_wall += wall
        self.send_cpu.update(used)
        for index, start, end, status in rows:
            self.sent[index].status = status
            self.sent[index].ms = (end - start) / 1e6
            self.sent[index].start_ns = start
            self.sent[index].end_ns = end


def build_round(run: Run, number: int, counter: list[int]) -> list[tuple[Sent, bytes]]:
    """Round `number`: a push to every PR (after the first round), a delivery each, and
    every `--redeliver-every`th also sent again to the other replica."""
    names = list(run.ports)
    items: list[tuple[Sent, bytes]] = []
    for n, pull in enumerate(run.pulls):
        if number:
            files = dict(pull.repo.commits[pull.head_sha].files)
            files["README.md"] = f"shop\n\nrevision {number}\n"  # no new finding
            with run.fake._lock:  # the fake's handlers read the repo on other threads
                run.fake.push(pull, files, message=f"revision {number}")
        run.heads[n, number] = pull.head_sha
        delivery_id = f"{run.mode}-r{number}-pr{n}"
        action = "synchronize" if number else "opened"
        request = delivery(run.fake, pull, action, delivery_id)
        replica = names[counter[0] % len(names)]
        items.append((Sent(delivery_id, n, number, replica), request))
        if run.args.redeliver_every and counter[0] % run.args.redeliver_every == 0:
            other = names[(counter[0] + 1) % len(names)]
            items.append((Sent(delivery_id, n, number, other, redelivery=True), request))
        counter[0] += 1
    return items


def wait_busy(run: Run, name: str) -> int:
    """Reviews running in replica `name` once its /metrics shows at least one."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        running = running_reviews(run.ports[name]) or 0
        if running:
            return running
        time.sleep(0.02)
    return 0


def kill(run: Run, name: str, running: int, delay: float) -> None:
    """SIGKILL replica `name` `delay` seconds into a round: deliveries in flight."""
    time.sleep(delay)
    claims = run.store.claimed()
    app = run.apps[name]
    os.kill(app.pid, signal.SIGKILL)
    run.kill |= {
        "replica": name,
        "pid": app.pid,
        "running_reviews_just_before": running,
        "claims_in_store_at_kill": claims,
        "at_ns": time.perf_counter_ns(),
    }
    app.wait()


def drain(run: Run, timeout: float) -> tuple[bool, float]:
    """Wait until the store holds nothing waiting or claimed and every queued delivery
    ended; (drained, seconds)."""
    started = time.perf_counter()
    quiet = 0
    while True:
        run.logs.read()
        waited = time.perf_counter() - started
        empty = not run.store.pending() and not run.store.claimed()
        quiet = quiet + 1 if empty and not run.logs.unfinished() else 0
        if quiet >= 3:  # three reads in a row: a released job is in `pending`, never lost
            return True, waited
        if waited > timeout:
            return False, waited
        time.sleep(0.5)


def check_posts(run: Run, expected: dict[int, str]) -> dict[str, Any]:
    """What the bot posted on each PR, against one summary, <=1 review, no inline twice,
    and the summary at the expected head."""
    from bot.publish.markers import finding_markers_in, summary_state_in  # noqa: PLC0415
    from tests.fake_github import BOT_LOGIN  # noqa: PLC0415

    fake = run.fake
    totals = Counter[str]()
    problems: list[str] = []
    for n, pull in enumerate(run.pulls):
        reviews = [r for r in fake.reviews(pull) if r["user"]["login"] == BOT_LOGIN]
        notes = [c for c in fake.issue_comments(pull) if c["user"]["login"] == BOT_LOGIN]
        inline = [
            c
            for c in fake.review_comments(pull)
            if c["user"]["login"] == BOT_LOGIN and not c.get("in_reply_to_id")
        ]
        marks = Counter(m for c in inline for m in finding_markers_in(c["body"]))
        places = Counter((c["path"], c.get("line"), c["body"]) for c in inline)
        twice = sum(k - 1 for k in marks.values() if k > 1) + sum(
            k - 1 for k in places.values() if k > 1
        )
        state = summary_state_in(notes[0]["body"]) if len(notes) == 1 else None
        head = state.head_sha if state else None
        totals.update(
            reviews=len(reviews),
            summaries=len(notes),
            inline=len(inline),
            inline_twice=twice,
            pulls_with_extra_reviews=len(reviews) > 1,
            pulls_without_one_summary=len(notes) != 1,
            pulls_not_at_expected_head=head != expected[n],
            pulls_without_review=not reviews,
        )
        if len(reviews) > 1 or len(notes) != 1 or twice or head != expected[n]:
            problems.append(
                f"PR #{pull.number}: {len(reviews)} reviews, {len(notes)} summaries, "
                f"{twice} inline twice, summary at {str(head)[:12]}, expected {expected[n][:12]}"
            )
    writes = Counter(f"{r.method} {r.operation_id}" for r in fake.requests if r.method != "GET")
    return {
        "totals": dict(totals),
        "problems": problems,
        "fake_violations": [str(v) for v in fake.violations],
        "fake_crashes": fake.crashes,
        "github_requests": len(fake.requests),
        "github_writes": dict(writes),
    }


def ack_stats(sent: list[Sent]) -> dict[str, Any]:
    """Answers by status, and percentiles (ms) of the answered ones' latency."""
    answered = sorted(s.ms for s in sent if s.status.isdigit())
    stats: dict[str, Any] = {
        "requests": len(sent),
        "statuses": dict(Counter(s.status for s in sent)),
        "answered": len(answered),
    }
    if answered:
        for q in (50, 95, 99):
            stats[f"p{q}"] = round(percentile(answered, q / 100), 2)
        stats["max"] = round(answered[-1], 2)
    return stats


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--redis", action="store_true", help="two replicas sharing a Redis")
    parser.add_argument("--crash", action="store_true", help="Redis; kill -9 one replica")
    parser.add_argument("--pulls", type=int, default=200)
    parser.add_argument("--pushes", type=int, default=10, help="deliveries (rounds) per PR")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--redeliver-every", type=int, default=10, help="0: no redeliveries")
    parser.add_argument("--workers", type=int, default=8, help="TWELVE_REVIEW_WORKERS")
    parser.add_argument(
        "--worker-processes",
        type=int,
        default=0,
        help="reviews in N `python -m bot worker` processes; `serve` only accepts",
    )
    parser.add_argument("--lease", type=float, default=3.0, help="--crash: the job lease (s)")
    parser.add_argument("--kill-round", type=int, default=4, help="--crash: kill in this round")
    parser.add_argument("--warm-up", type=int, default=500, help="RSS baseline after N answers")
    parser.add_argument("--drain-timeout", type=float, default=1800)
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the App")
    parser.add_argument("--out", type=Path, help="JSON result (default bench/out/soak-MODE.json)")
    parser.add_argument("--profile", help="cProfile replica A's main thread into this file")
    return parser.parse_args()


def add_pulls(fake: FakeGitHub, count: int) -> list[FakePull]:
    """PRs with one finding each (a rule's: no LLM here), as bench/webhook_ack.py makes."""
    repo = fake.add_repo(REPO, BASE)
    pulls = []
    for n in range(count):
        finding = 'handler = logging.FileHandler("a.log")' if n % 2 else "app.run(port=5000)"
        head = BASE | {f"app/svc_{n}.py": f"import logging\n\n{finding}\n"}
        pulls.append(fake.add_pull(repo, BASE, head, title=f"change {n}"))
    return pulls


def app_env(args: argparse.Namespace, workdir: Path) -> dict[str, str]:
    """The App's settings for this run (besides GitHub's, which start_app adds)."""
    env = {
        "TWELVE_REVIEW_WORKERS": str(args.workers),
        "TWELVE_REVIEW_QUEUE_PATH": str(workdir / "queue.db"),
        "LOG_LEVEL": "INFO",  # the drain is told by INFO lines
    }
    if args.crash:
        env["TWELVE_REVIEW_JOB_LEASE"] = str(args.lease)
    if args.worker_processes:
        env["TWELVE_REVIEW_SERVE_WORKERS"] = "false"
    return env | dict(pair.split("=", 1) for pair in args.env)


def start_worker(fake: FakeGitHub, log: Path, extra: dict[str, str]) -> subprocess.Popen[bytes]:
    """`python -m bot worker`, configured like the `serve` replicas."""
    from tests.loopback import free_port  # noqa: PLC0415

    env = app_environment(fake, {"PORT": str(free_port())} | extra)  # its metrics' port
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "worker"], cwd=ROOT, env=env, stdout=out, stderr=out
        )


def finish(run: Run) -> dict[str, Any]:
    """Wait for the drain, take the last RSS, stop the Apps (SIGTERM), read the fake."""
    drained, seconds = drain(run, run.args.drain_timeout)
    run.sampler.sample()
    rss_end = {name: run.sampler.last(name) for name in run.apps}
    run.sampler.done.set()
    exit_codes = {}
    for name, app in run.apps.items():
        if app.poll() is None:
            app.terminate()  # SIGTERM, as platforms stop it
            exit_codes[name] = app.wait(90)
    run.logs.read()
    return {
        "drained": drained,
        "drain_seconds": round(seconds, 1),
        "rss_end": rss_end,
        "exit_codes": exit_codes,
        "posts": check_posts(run, expected_heads(run)),
    }


def main() -> int:
    args = parse_args()
    mode = "crash" if args.crash else "redis" if args.redis else "embedded"
    load_start = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix=f"twelve-review-soak-{mode}-"))
    env = app_env(args, workdir)
    names = ["A"] if mode == "embedded" else ["A", "B"]
    from bot.app.store import RedisJobStore, SqliteJobStore  # noqa: PLC0415
    from tests.fake_github import FakeGitHub  # noqa: PLC0415

    redis_server = None
    apps: dict[str, subprocess.Popen[bytes]] = {}
    context = multiprocessing.get_context("spawn")  # not fork: this process runs threads
    inbox, outbox = context.Queue(), context.Queue()
    sender = context.Process(target=client, args=(inbox, outbox, args.concurrency))
    sender.start()
    with FakeGitHub() as fake:
        try:
            pulls = add_pulls(fake, args.pulls)
            if mode != "embedded":
                redis_server, env["REDIS_URL"] = start_redis(workdir)
            ports = {}
            for name in names:
                profile = args.profile if name == "A" else None
                apps[name], ports[name] = start_app(fake, workdir / f"app-{name}.log", env, profile)
            for n in range(1, args.worker_processes + 1):
                names.append(f"W{n}")  # its log joins the others; no port: sent nothing
                apps[f"W{n}"] = start_worker(fake, workdir / f"app-W{n}.log", env)
            store: JobStore = (
                RedisJobStore(env["REDIS_URL"])
                if "REDIS_URL" in env
                else SqliteJobStore(env["TWELVE_REVIEW_QUEUE_PATH"])
            )
            sampler = RssSampler({name: app.pid for name, app in apps.items()})
            sampler.cpu_pids |= {"bench (fake GitHub)": os.getpid(), "client": sender.pid or 0}
            if redis_server is not None:
                sampler.cpu_pids["redis"] = redis_server.pid
            sampler.start()
            logs = Logs([workdir / f"app-{name}.log" for name in names])
            run = Run(args, mode, fake, pulls, apps, ports, logs, store, sampler, inbox, outbox)
            pids = ", ".join(f"{name} {app.pid}" for name, app in apps.items())
            print(
                f"{mode}: {len(names)} x `python -m bot serve` (pids {pids}), {args.workers}"
                f" workers each, {args.pulls} PRs x {args.pushes} rounds, {args.concurrency}"
                f" in flight; logs in {workdir}; load average {load_start}"
            )
            result = exercise(run)
            result |= finish(run)
        finally:
            for app in apps.values():
                if app.poll() is None:
                    app.kill()
            inbox.put(None)
            sender.join(30)
            if redis_server is not None:
                redis_server.terminate()
                redis_server.wait(10)
    result["load_average"] = {"start": load_start, "end": os.getloadavg()}
    facts, criteria = evaluate(run, result)
    print_table(run, result, facts, criteria)
    write_result(run, result, facts, criteria, env, workdir)
    return 0 if all(ok for *_, ok in criteria) else 1


def write_result(
    run: Run,
    result: dict[str, Any],
    facts: dict[str, Any],
    criteria: list[Criterion],
    env: dict[str, str],
    workdir: Path,
) -> None:
    """The result as JSON, in bench/out/soak-MODE.json unless `--out` says where."""
    args, mode = run.args, run.mode
    out = args.out or OUT / f"soak-{mode}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "mode": mode,
        "command": " ".join([".venv/bin/python", *sys.argv]),
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "app_env": {k: v for k, v in env.items() if k != "REDIS_URL"},
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "workdir": str(workdir),
        **facts,
        **{k: v for k, v in result.items() if k != "posts"},
        "posts": result["posts"] | {"problems": result["posts"]["problems"][:100]},
        "criteria": [{"criterion": c, "measured": m, "pass": ok} for c, m, ok in criteria],
    }
    out.write_text(json.dumps(document, indent=2, default=str) + "\n")
    print(f"\nwritten: {out}")


def exercise(run: Run) -> dict[str, Any]:
    """The rounds (with the kill, for --crash), then the operator's redeliveries."""
    args = run.args
    counter = [0]
    started = time.perf_counter()
    for number in range(args.pushes):
        items = build_round(run, number, counter)
        killer = None
        if args.crash and number == args.kill_round:  # B busy reviewing: kill it mid-round
            running = wait_busy(run, "B")
            killer = threading.Thread(target=kill, args=(run, "B", running, 0.1), daemon=True)
            killer.start()
        run.send(items)
        if killer is not None:
            killer.join(180)
            at = run.kill["at_ns"]
            run.kill["round_answered_before_kill"] = sum(
                s.status.isdigit() and s.end_ns <= at for s, _ in items
            )
            run.kill["round_lost_in_flight"] = sum(
                not s.status.isdigit() and s.start_ns <= at for s, _ in items
            )
        accepted = sum(s.status == "202" for s, _ in items)
        print(f"round {number}: {len(items)} requests, {accepted} x 202")
    send_seconds = time.perf_counter() - started
    again = []
    if args.crash:  # each PR whose newest delivery was not acknowledged: Redeliver
        newest: dict[int, list[Sent]] = defaultdict(list)
        for item in run.sent:
            if item.round == args.pushes - 1:
                newest[item.pull].append(item)
        for n, items_of_pull in sorted(newest.items()):
            if not any(s.status == "202" for s in items_of_pull):
                first = items_of_pull[0]
                request = delivery(run.fake, run.pulls[n], "synchronize", first.delivery)
                again.append((Sent(first.delivery, n, first.round, "A", redelivery=True), request))
        if again:
            run.send(again)
        print(f"operator redeliveries to the survivor: {len(again)}")
    return {"send_seconds": round(send_seconds, 1), "operator_redeliveries": len(again)}


def expected_heads(run: Run) -> dict[int, str]:
    """Each PR's head at its newest acknowledged delivery."""
    rounds: dict[int, int] = {}
    for item in run.sent:
        if item.status == "202":
            rounds[item.pull] = max(rounds.get(item.pull, -1), item.round)
    return {
        n: run.heads.get((n, rounds.get(n, -1)), "never acknowledged")
        for n in range(len(run.pulls))
    }


def rss_rows(run: Run, result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each App process's RSS at warm-up (the `--warm-up`th answer; for a worker, a
    tenth of the time from then to the end), at the end, at peak, and by tenths."""
    ends = sorted(s.end_ns for s in run.sent if s.status.isdigit())
    warm_ns = ends[min(run.args.warm_up, len(ends)) - 1]
    rows = {}
    last_ns = max((t for t, _, _ in run.sampler.samples), default=warm_ns)
    tenths = [warm_ns + (last_ns - warm_ns) * n // 10 for n in range(11)]
    for name in run.apps:
        # A worker loads what a review needs at its first reviews, after the web
        # processes' warm-up: its baseline is a tenth of the way to the end.
        warm_at = tenths[1] if name.startswith("W") else warm_ns
        warm, end = run.sampler.at(name, warm_at), result["rss_end"][name]
        growth = (end - warm) / warm if warm and end else None
        rows[name] = {
            "warm_up_kb": warm,
            "end_kb": end,
            "peak_kb": run.sampler.peak(name),
            "growth": None if growth is None else round(growth, 4),
            # from warm-up to the end in tenths of the time: flat, or climbing all along
            "by_tenth_kb": [run.sampler.at(name, t) for t in tenths],
        }
    return rows


def fates(logs: Logs) -> dict[str, Any]:
    """What became of the jobs, from every replica's log."""
    ends = (DONE, NEWER, REPLACED_BY, "review published", "skipped", "not posted", "unchanged")
    counts = Counter[str]()
    published = Counter[str]()
    for delivery_id, seen in logs.by_delivery.items():
        counts.update({m: k for m, k in seen.items() if m.startswith(ends)})
        if seen["review published"]:
            published[delivery_id.rsplit("-pr", 1)[1]] += 1
    return {
        "job_fates": dict(counts),
        "pulls_published_at_several_heads": sum(k > 1 for k in published.values()),
        "requeued": {m: k for m, k in logs.messages.items() if m.startswith("re-queued")},
    }


def evaluate(run: Run, result: dict[str, Any]) -> tuple[dict[str, Any], list[Criterion]]:
    """The facts, and each criterion: (name, what was measured, passed)."""
    sent, logs, pulls = run.sent, run.logs, len(run.pulls)
    ack = ack_stats(sent)
    after_warm_up = ack_stats(sorted(sent, key=lambda s: s.end_ns)[run.args.warm_up :])
    acked = [s for s in sent if s.status == "202"]
    refused = [s for s in sent if not s.status.isdigit()]
    seen = logs.by_delivery
    not_stored = [
        s.delivery for s in acked if not (seen[s.delivery][QUEUED] + seen[s.delivery][DUPLICATE])
    ]
    unfinished = logs.unfinished()
    redelivered = {s.delivery for s in sent if s.redelivery and s.status == "202"}
    not_once = [d for d in redelivered if seen[d][QUEUED] != 1]
    twice = [d for d, c in seen.items() if c[QUEUED] > 1]
    posts = result["posts"]
    totals = Counter(posts["totals"])
    rss = rss_rows(run, result)
    promised = len(sent) - len(refused)
    criteria: list[Criterion] = [
        (
            "every delivery acknowledged (202)",
            f"{len(acked)} / {len(sent) if run.mode != 'crash' else promised}"
            + (f" (+{len(refused)} refused or cut off: not acknowledged)" if refused else ""),
            len(acked) == (promised if run.mode == "crash" else len(sent)),
        ),
        (
            "queue drained",
            f"in {result['drain_seconds']:.0f} s after the last delivery",
            bool(result["drained"]),
        ),
        (
            "no acknowledged delivery lost",
            f"{len(not_stored)} acknowledged but not stored, {len(unfinished)} queued not ended",
            not not_stored and not unfinished,
        ),
        (
            "each PR reviewed at its newest acknowledged head",
            f"{pulls - totals['pulls_not_at_expected_head']} / {pulls}",
            not totals["pulls_not_at_expected_head"],
        ),
        (
            "nothing posted twice",
            f"{totals['summaries']} summaries, {totals['reviews']} reviews, {totals['inline']}"
            f" inline on {pulls} PRs; {totals['pulls_with_extra_reviews']} PRs >1 review,"
            f" {totals['pulls_without_one_summary']} PRs !=1 summary,"
            f" {totals['inline_twice']} inline twice",
            not (
                totals["pulls_with_extra_reviews"]
                or totals["pulls_without_one_summary"]
                or totals["inline_twice"]
            ),
        ),
        (
            "redeliveries queued once",
            f"{len(redelivered)} redelivered, {len(not_once)} not queued exactly once;"
            f" {len(twice)} deliveries queued twice",
            not not_once and not twice,
        ),
        (
            "fake GitHub: no spec violation, no crash",
            f"{len(posts['fake_violations'])} violations, {len(posts['fake_crashes'])} crashes",
            not posts["fake_violations"] and not posts["fake_crashes"],
        ),
    ]
    if run.mode == "crash":
        kill = run.kill
        criteria.append(
            (
                "a replica was killed while running reviews",
                f"{kill.get('running_reviews_just_before')} running in it just before,"
                f" {kill.get('claims_in_store_at_kill')} claims in the store",
                bool(kill.get("running_reviews_just_before")),
            )
        )
    else:
        criteria.append((f"p99 ack < {P99_MS:.0f} ms", f"{ack.get('p99')} ms", ack["p99"] < P99_MS))
        for name, row in rss.items():
            growth = row["growth"]
            measured = f"{row['warm_up_kb']} -> {row['end_kb']} kB"
            measured += f" ({growth:+.1%})" if growth is not None else " (no sample)"
            passed = growth is not None and growth < GROWTH
            criteria.append((f"RSS {name} growth < {GROWTH:.0%} after warm-up", measured, passed))
    facts = {
        "ack": ack,
        "ack_after_warm_up": after_warm_up,
        "sending_seconds_without_gaps": round(run.send_wall, 2),
        "cpu_cores_while_sending": {
            name: round(seconds / run.send_wall, 2) for name, seconds in run.send_cpu.items()
        },
        "ack_by_round": {
            n: {
                k: v
                for k, v in ack_stats([s for s in sent if s.round == n]).items()
                if k[0] in "pm"
            }
            for n in sorted({s.round for s in sent})
        },
        "rss": rss,
        **fates(logs),
        "kill": {k: v for k, v in run.kill.items() if k != "at_ns"},
        "log": {"errors": logs.errors[:50], "non_json_lines": logs.other_lines},
        "lost": {"not_stored": not_stored[:50], "unfinished": unfinished[:50]},
    }
    return facts, criteria


def print_table(
    run: Run, result: dict[str, Any], facts: dict[str, Any], criteria: list[Criterion]
) -> None:
    args, ack, warm = run.args, facts["ack"], facts["ack_after_warm_up"]
    redeliveries = sum(s.redelivery for s in run.sent)
    print(
        f"\n== {run.mode}: {len(run.apps)} x serve, {len(run.pulls)} PRs x {args.pushes} rounds,"
        f" {len(run.sent)} requests ({redeliveries} redeliveries), {args.concurrency} in flight"
    )
    for label, stats in (("all", ack), (f"after the first {args.warm_up}", warm)):
        marks = "  ".join(f"{q} {stats.get(q)}" for q in ("p50", "p95", "p99", "max"))
        print(f"ack ms, {label}: {marks}  ({stats['answered']} answered)")
    print(f"answers: {ack['statuses']}")
    print(
        f"CPU while sending ({facts['sending_seconds_without_gaps']} s, gaps between rounds"
        f" left out), in cores of {os.cpu_count()}: {facts['cpu_cores_while_sending']}"
    )
    drained = "drained" if result["drained"] else "NOT drained"
    print(f"sending {result['send_seconds']} s; drain {result['drain_seconds']:.1f} s ({drained})")
    for name, row in facts["rss"].items():
        print(
            f"RSS {name}: warm-up {row['warm_up_kb']} kB, end {row['end_kb']} kB,"
            f" peak {row['peak_kb']} kB, growth {row['growth']};"
            f" by tenths of the time since warm-up: {row['by_tenth_kb']}"
        )
    print(f"job fates: {facts['job_fates']}")
    print(
        f"PRs with a review published at several heads: {facts['pulls_published_at_several_heads']}"
    )
    posts = result["posts"]
    print(f"GitHub: {posts['github_requests']} requests, writes {posts['github_writes']}")
    print(f"log: {len(run.logs.errors)} error lines, {run.logs.other_lines} non-JSON lines")
    if run.kill:
        print(f"kill: {facts['kill']}; survivor: {facts['requeued']}")
    print(f"exit codes on SIGTERM: {result.get('exit_codes')}")
    load = result["load_average"]
    print(f"load average: start {load['start']}, end {load['end']}\n")
    width = max(len(name) for name, *_ in criteria)
    for name, measured, passed in criteria:
        print(f"{'PASS' if passed else 'FAIL'}  {name:<{width}}  {measured}")
    for problem in posts["problems"][:20] + run.logs.errors[:20]:
        print(f"  problem: {problem}")


if __name__ == "__main__":
    raise SystemExit(main())
