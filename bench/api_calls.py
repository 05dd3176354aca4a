"""Benchmark: GitHub API calls per review of a 50-file pull request (run by hand, not a test).

    uv run python bench/api_calls.py               # 50 changed files, a quarter with findings
    uv run python bench/api_calls.py --files 120   # a bigger pull request

Reviews one PR three times with the App's runner (bot.app.jobs.ReviewRunner, as the
job queue calls it) against the fake GitHub of tests/fake_github.py: `opened`, then a
push fixing one file (`synchronize`), then the same head again (a redelivery or
re-run). For each run prints the requests by OpenAPI operation, split into App auth
(apps/*), reads (GET) and writes; `urls` < `calls` means one URL was asked twice.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

# tests.* is not installed: import it from the checkout (run from anywhere)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.app.queue import Job, Runner
from tests.app_helpers import app_settings, review_runner
from tests.fake_github import BOT_LOGIN, FakeGitHub, FakePull, RecordedRequest

ROOT = Path(__file__).resolve().parents[1]
REPO = "acme/shop"
KINDS = ("auth", "read", "write")


def npm_modules() -> Path:
    """tests/npm/node_modules (the OpenAPI description the fake checks against),
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


def make_files(count: int) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Base and head trees: `count` changed files (Python, YAML config, Dockerfiles),
    half of them new, every fourth one with a finding; and each file's clean version."""
    base: dict[str, str] = {"README.md": "shop\n"}
    head = dict(base)
    clean: dict[str, str] = {}
    for n in range(count):
        finding = n % 4 == 0
        kind = n % 5
        if kind in (0, 1, 2):
            path = f"svc{n}/app/module_{n}.py"
            old = f"import logging\n\n\ndef handler_{n}(x: int) -> int:\n    return x + {n}\n"
            bad = 'logging.FileHandler("app.log")' if n % 8 == 0 else "app.run(port=5000)"
            fine = old + f"\n\nLIMIT_{n} = {n}\n"
            new = old + f"\n\nlog_{n} = {bad}\n" if finding else fine
        elif kind == 3:
            path = f"config/svc{n}/database.yml"
            old = "production:\n  adapter: postgresql\n  pool: 5\n"
            fine = old + "  timeout: 5000\n"
            new = old + f"  password: s3cr3t-Value-{n}\n" if finding else fine
        else:
            path = f"images/svc{n}/Dockerfile"
            old = "FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\n"
            fine = old + 'CMD ["gunicorn", "app:app"]\n'
            new = old + "CMD gunicorn app:app\n" if finding else fine
        if n % 2:
            base[path] = old
        head[path] = new
        clean[path] = fine
    return base, head, clean


def kind(request: RecordedRequest) -> str:
    if (request.operation_id or "").startswith("apps/"):
        return "auth"
    return "read" if request.method == "GET" else "write"


def review_once(
    runner: Runner, fake: FakeGitHub, pull: FakePull, action: str, delivery: str
) -> list[RecordedRequest]:
    """One review as a worker runs it; the requests it made."""
    start = len(fake.requests)
    job = Job(
        delivery_id=delivery,
        event="pull_request",
        action=action,
        repo_full_name=REPO,
        number=pull.number,
        head_sha=pull.head_sha,
        installation_id=fake.installation_id,
    )
    runner(job)
    return fake.requests[start:]


def report(title: str, requests: list[RecordedRequest]) -> Counter[str]:
    print(f"\n{title}")
    groups: dict[tuple[str, str, str], list[RecordedRequest]] = {}
    for request in requests:
        key = (kind(request), request.method, request.operation_id or "(no operation)")
        groups.setdefault(key, []).append(request)
    print(f"  {'kind':<6} {'method':<7} {'operation':<46} {'calls':>5} {'urls':>5}")
    for key in sorted(groups, key=lambda k: KINDS.index(k[0])):
        calls = groups[key]
        urls = len({r.path for r in calls})
        note = "  <- same URL again" if urls < len(calls) else ""
        print(f"  {key[0]:<6} {key[1]:<7} {key[2]:<46} {len(calls):>5} {urls:>5}{note}")
    counts = Counter(kind(r) for r in requests)
    print(
        f"  total {len(requests)}: {counts['auth']} App auth, {counts['read']} reads, "
        f"{counts['write']} writes"
    )
    return counts


def posted(fake: FakeGitHub, pull: FakePull) -> str:
    comments = fake.review_comments(pull)
    replies = sum(1 for c in comments if c.get("in_reply_to_id"))
    summaries = [c for c in fake.issue_comments(pull) if c["user"]["login"] == BOT_LOGIN]
    return (
        f"  on the PR now: {len(fake.reviews(pull))} review(s) (a reply is one, as on GitHub), "
        f"{len(comments) - replies} inline comment(s), {replies} repl(ies), "
        f"{len(summaries)} summary comment(s)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--files", type=int, default=50, help="changed files in the PR")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)  # a failed review is logged, never raised
    npm_modules()
    base, head, clean = make_files(args.files)
    totals: list[tuple[str, int, Counter[str]]] = []
    with FakeGitHub() as fake:
        pull = fake.add_pull(fake.add_repo(REPO, base), base, head)
        settings = app_settings(fake, "bench-secret")
        runner = review_runner(settings)
        print(f"PR #{pull.number}: {len(pull.files)} changed files (findings in every 4th)")
        runs = [("1. opened (first review, fresh runner)", "opened", "d-1")]
        runs += [("2. synchronize (one file fixed)", "synchronize", "d-2")]
        runs += [("3. same head again (redelivery / re-run)", "synchronize", "d-3")]
        for n, (title, action, delivery) in enumerate(runs):
            if n == 1:
                first = next(p for p in sorted(clean) if p.endswith(".py") and head[p] != clean[p])
                fake.push(pull, head | {first: clean[first]}, message=f"fix {first}")
            requests = review_once(runner, fake, pull, action, delivery)
            counts = report(title, requests)
            print(posted(fake, pull))
            totals.append((title, len(requests), counts))
        problems = fake.violations + fake.unimplemented + fake.response_violations + fake.crashes
    print("\nper run: total requests / writes")
    for title, total, counts in totals:
        print(f"  {title:<44} {total:>4} / {counts['write']}")
    if problems:
        print(f"\nFAKE GITHUB PROBLEMS ({len(problems)}):")
        for problem in problems:
            print(f"  {problem}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
