"""Rewrite the generated blocks of README.md: the rules table and the corpus scores.

    uv run python scripts/update_readme.py

tests/test_readme.py fails when the README differs from what this writes.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.ruledocs import rules_markdown  # noqa: E402
from tests.test_corpus import report, score  # noqa: E402

README = ROOT / "README.md"


def generated_blocks() -> dict[str, str]:
    every, _ = score()
    held_out, _ = score("heldout-")
    return {
        "rules-table": rules_markdown(),
        "corpus-scores": f"```\n{report(every)}\n```\n",
        "heldout-scores": f"```\n{report(held_out)}\n```\n",
    }


def render(readme: str) -> str:
    for name, body in generated_blocks().items():
        pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", re.DOTALL)
        readme, count = pattern.subn(lambda m, b=body: m.group(1) + b + m.group(2), readme)
        if count != 1:
            raise SystemExit(f"README.md: no single {name} block")
    return readme


if __name__ == "__main__":
    README.write_text(render(README.read_text()))
