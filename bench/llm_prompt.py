"""Benchmark the LLM prompts (run by hand, not a test; no model is called).

    uv run python bench/llm_prompt.py

1. Tokens sent per 1,000 changed lines over the labelled corpus (tests/corpus):
   what an LLM review of those changes would cost in input tokens.
2. Time to plan the prompts for a 50,000-added-line diff in 1,000 files (the same
   synthetic diff as bench/review_speed.py), and how many requests it would take.

Token counts use tiktoken when its encoding is available (TIKTOKEN_CACHE_DIR or
network), else the conservative estimate; the output says which.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from bot.diff import parse_diff
from bot.engine import review_files
from bot.llm.prompt import plan_prompts
from bot.llm.settings import LLMSettings
from bot.llm.tokens import counter_for
from bot.notes import load_notes

sys.path.insert(0, str(Path(__file__).parent))
from review_speed import make_diff

CORPUS = Path(__file__).parent.parent / "tests" / "corpus"


def changed_lines(files: list) -> int:  # type: ignore[type-arg]
    return sum(1 for f in files for h in f.hunks for line in h.lines if line.kind != " ")


def main() -> int:
    settings = LLMSettings()
    counter = counter_for(settings.model)
    notes = load_notes()
    budget = settings.request_budget

    tokens = lines = requests = 0
    for case in sorted(CORPUS.glob("*.diff")):
        files = parse_diff(case.read_bytes())
        result = review_files(files)
        reviewed = [f for f in files if f.path in set(result.reviewed)]
        plan = plan_prompts(reviewed, result.findings, notes, counter, budget, settings.model)
        tokens += sum(r.tokens for r in plan.requests)
        requests += len(plan.requests)
        lines += changed_lines(files)
    print(f"counter: {counter.name}; model {settings.model}; request budget {budget}")
    print(
        f"corpus: {lines} changed lines, {requests} requests, {tokens} input tokens "
        f"= {tokens * 1000 / lines:,.0f} tokens per 1,000 changed lines"
    )

    files = parse_diff(make_diff(50_000, 1_000))
    result = review_files(files, jobs=1)
    start = time.perf_counter()
    plan = plan_prompts(files, result.findings, notes, counter, budget, settings.model)
    elapsed = time.perf_counter() - start
    total = sum(r.tokens for r in plan.requests)
    print(
        f"50,000-line diff: planned in {elapsed:.2f} s: {len(plan.requests)} requests, "
        f"{total:,} input tokens, {len(plan.not_reviewed)} files too large"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
