"""What the App says in reply to a /twelve-review comment (constants tests assert on)."""

from __future__ import annotations

from bot.github.commands import USAGE, Command
from bot.ruledocs import explain_factor, explain_rule
from bot.rules.registry import BY_CODE

__all__ = [
    "FAILED",
    "RATE_LIMITED",
    "REFUSAL",
    "WRITE_ASSOCIATIONS",
    "WRITE_PERMISSIONS",
    "explain_reply",
    "help_reply",
]

WRITE_ASSOCIATIONS = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})
WRITE_PERMISSIONS = frozenset({"admin", "maintain", "write"})

REFUSAL = (
    "Thanks, {user}! Only people with write access to this repository can start a "
    "twelve-review run, so this one was not started."
)
RATE_LIMITED = "A review of this pull request ran a moment ago; try again in {seconds} s."
FAILED = "twelve-review could not finish this review. The maintainers can find why in its logs."


def help_reply(command: Command) -> str:
    if command.not_understood:
        shown = ", ".join(f"`{word[:40]}`" for word in command.not_understood[:5])
        return f"Not understood: {shown}.\n\n{USAGE}"
    return USAGE


def explain_reply(target: str) -> str:
    text = explain_rule(BY_CODE[target]) if target in BY_CODE else explain_factor(int(target))
    # The docs contain fenced examples; four backticks keep them inside one block.
    return "````text\n" + text + "\n````"
