"""Profile: where the App spends its time acknowledging one webhook delivery (run by hand).

    .venv/bin/python bench/webhook_profile.py
    .venv/bin/python bench/webhook_profile.py --stats /tmp/app.prof  # webhook_ack.py --profile

Times each step of the webhook path on GitHub's ~25 KB example `pull_request`
delivery (timeit, best of 5 rounds); then sends deliveries one at a time straight to
the ASGI app (create_app: no HTTP server; a queue whose runner does nothing; the
App's JSON logs to /dev/null), first plain (µs per delivery), then under cProfile:
inclusive time of each stage, scaled to the plain run. `--stats` shows the same
stages in a profile of the real server's main thread (uvicorn, h11 and asyncio too).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import dataclasses
import importlib
import importlib.util
import json
import logging
import os
import pstats
import re
import sys
import threading
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import h11
from fastapi.responses import JSONResponse

from bench.webhook_ack import SECRET, delivery, percentile
from bot.app import logs, server
from bot.app.queue import JobQueue
from bot.app.settings import load_settings
from bot.app.signature import verify_signature
from tests.fake_github import FakeGitHub

# (label, where the function is, its name): inclusive time, nested stages indented.
STAGES = (
    ("event loop: every callback", "asyncio/events.py", "_run"),
    ("  accept a connection (asyncio, uvicorn)", "selector_events.py", "_accept_connection2"),
    ("  read + parse the request (uvicorn, h11)", "h11_impl.py", "data_received"),
    ("  the ASGI app (FastAPI, Starlette, the App)", "h11_impl.py", "run_asgi"),
    ("    the endpoint: webhook()", "bot/app/server.py", "webhook"),
    ("      _read_body", "bot/app/server.py", "_read_body"),
    ("      verify_signature (HMAC-SHA256)", "bot/app/signature.py", "verify_signature"),
    ("      _parse (decode + json.loads)", "bot/app/server.py", "_parse"),
    ("      _queue: JobQueue.submit + _answer", "bot/app/server.py", "_queue"),
    ("        JobQueue.submit", "bot/app/queue.py", "submit"),
    ("        _answer: its log line, JSONResponse()", "bot/app/server.py", "_answer"),
    ("    send the answer (JSONResponse.__call__)", "starlette/responses.py", "__call__"),
    ("every log line (Logger._log: format + write)", "logging/__init__.py", "_log"),
    ("  of which JsonFormatter.format", "bot/app/logs.py", "format"),
)


def show(stats: pstats.Stats, calls: int, total: float, real_us: float | None) -> None:
    """Each stage's inclusive time per delivery: profiled µs, share of `total`, and
    that share of `real_us` (the same work without the profiler's overhead)."""
    entries: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    print(f"    {'stage':<46} profiled  share  real (est.)")
    for label, where, name in STAGES:
        seconds = sum(e[3] for (f, _, n), e in entries.items() if n == name and where in f)
        if seconds:
            share = seconds / total
            real = f"{share * real_us:6.0f} µs" if real_us else ""
            print(f"    {label:<46} {seconds / calls * 1e6:5.0f} µs {share:5.0%}  {real}")


def step(name: str, call: Callable[[], object], number: int = 2000) -> None:
    best = min(timeit.repeat(call, number=number, repeat=5)) / number * 1e6
    print(f"  {name:<64} {best:6.1f} µs")


def h11_round(raw: bytes) -> None:
    """What uvicorn's default (h11) protocol parses and writes for one delivery."""
    connection = h11.Connection(h11.SERVER)
    connection.receive_data(raw)
    while not isinstance(connection.next_event(), h11.EndOfMessage):
        pass
    answer = b'{"status":"accepted"}'
    head = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(answer))]
    connection.send(h11.Response(status_code=202, headers=head))
    connection.send(h11.Data(data=answer))
    connection.send(h11.EndOfMessage())


def steps(raw: bytes, queue: JobQueue) -> None:
    """Time each step of the webhook path on one delivery, best of 5 rounds."""
    head, body = raw.split(b"\r\n\r\n", 1)
    signature = re.findall(rb"X-Hub-Signature-256: (\S+)", head)[0].decode()
    payload = json.loads(body)
    job = server._pull_request_job(payload, "d", "synchronize")
    fields = {**job.log_fields(), "status": 202, "reason": None}
    record = logging.LogRecord("twelve_review.server", 20, "", 0, "webhook accepted", (), None)
    record.__dict__.update(fields)
    log, ids = logging.getLogger("twelve_review.server"), iter(range(10**9))

    def submit() -> object:
        fresh = dataclasses.replace(job, delivery_id=f"s{next(ids)}", _cancel=threading.Event())
        return queue.submit(fresh)

    print(f"body {len(body)} bytes; steps of one delivery, best of 5:")
    step("verify_signature (HMAC-SHA256 + compare)",
         lambda: verify_signature(SECRET, body, signature))  # fmt: skip
    step("_parse: body.decode + json.loads", lambda: server._parse(body, "application/json"))
    if importlib.util.find_spec("orjson"):  # not a dependency: PYTHONPATH=... to compare
        loads = importlib.import_module("orjson").loads
        step("  orjson.loads instead", lambda: loads(body))
    step("_pull_request_job", lambda: server._pull_request_job(payload, "d", "synchronize"))
    step("JsonFormatter.format, one record", lambda: logs.JsonFormatter().format(record))
    step("log.info: one JSON line + flush to /dev/null (3-4 a delivery)",
         lambda: log.info("webhook %s", "accepted", extra=fields))  # fmt: skip
    step("JobQueue.submit (new id; logs queued + replaced)", submit)
    logging.getLogger("twelve_review.queue").setLevel(logging.WARNING)
    step("JobQueue.submit, its log lines off (lock, notify_all)", submit)
    logging.getLogger("twelve_review.queue").setLevel(logging.NOTSET)
    step("JSONResponse({'status': 'accepted'}, 202)",
         lambda: JSONResponse({"status": "accepted"}, status_code=202))  # fmt: skip
    step("h11: parse the request, write a 202 answer (uvicorn's default)", lambda: h11_round(raw))


async def asgi_run(app: Any, raw: bytes, tag: str, count: int) -> list[float]:
    """`count` deliveries one at a time straight to the ASGI app: sorted µs each."""
    head, body = raw.split(b"\r\n\r\n", 1)
    lines = [line.split(b": ", 1) for line in head.split(b"\r\n")[1:]]
    headers = [(name.lower(), value) for name, value in lines if name != b"X-GitHub-Delivery"]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/webhook", "raw_path": b"/webhook", "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 5), "server": ("127.0.0.1", 8000),
    }  # fmt: skip
    answers: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Any) -> None:
        answers.append(message)

    latencies = []
    for n in range(count):
        delivery_id = (b"x-github-delivery", f"{tag}-{n}".encode())
        start = time.perf_counter_ns()
        await app({**scope, "headers": [*headers, delivery_id]}, receive, send)
        latencies.append((time.perf_counter_ns() - start) / 1000)
    assert all(a["status"] == 202 for a in answers if "status" in a), answers[:2]
    return sorted(latencies)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--deliveries", type=int, default=200)
    parser.add_argument("--stats", type=Path, help="a cProfile file of the real server")
    args = parser.parse_args()
    real_stdout, sys.stdout = sys.stdout, open(os.devnull, "w")  # noqa: SIM115
    logs.configure_logging(logging.INFO)  # the App's JSON log lines, to /dev/null
    sys.stdout = real_stdout
    with FakeGitHub() as fake:  # for an App id and key, and a PR to point the payload at
        settings = load_settings(
            github_app_id=fake.app_id,
            github_app_private_key=fake.private_key_pem,
            github_webhook_secret=SECRET,
            github_api_url=fake.base_url,
        )
        pull = fake.add_pull(fake.add_repo("acme/shop", {"a": "1\n"}), {"a": "1\n"}, {"a": "2\n"})
        raw = delivery(fake, pull, "synchronize", "profile")
    queue = JobQueue(lambda job: None, workers=2)
    app = server.create_app(settings, lambda job: None, queue=queue)
    steps(raw, queue)
    asyncio.run(asgi_run(app, raw, "warm-up", args.deliveries))
    latencies = asyncio.run(asgi_run(app, raw, "plain", args.deliveries))
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    print(f"ASGI app, {args.deliveries} deliveries one at a time: p50 {p50:.0f} µs, p99 {p99:.0f}")
    profiler, started = cProfile.Profile(), time.perf_counter()
    profiler.runcall(asyncio.run, asgi_run(app, raw, "profiled", args.deliveries))
    elapsed = time.perf_counter() - started
    print(f"  under cProfile: {elapsed / args.deliveries * 1e6:.0f} µs a delivery")
    show(pstats.Stats(profiler), args.deliveries, elapsed, p50)
    queue.stop(5)
    if args.stats:
        stats = pstats.Stats(str(args.stats))
        entries: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
        calls = sum(e[1] for (f, _, n), e in entries.items() if n == "webhook" and "bot/" in f)
        loop = sum(e[3] for (f, _, n), e in entries.items() if n == "_run" and "events.py" in f)
        print(f"the real server's main thread ({args.stats}), per delivery ({calls}):")
        show(stats, calls, loop, None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
