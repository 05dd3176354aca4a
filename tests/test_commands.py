"""The /twelve-review command grammar: an allowlist, never passed through."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.github.commands import USAGE, Command, parse_command


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("/twelve-review", Command("review")),
        ("/TWELVE-REVIEW\nplease look again", Command("review")),
        ("  /twelve-review full", Command("review", full=True)),
        ("/twelve-review factors=3,4,11", Command("review", factors=frozenset({3, 4, 11}))),
        (
            "/twelve-review full factors=12",
            Command("review", full=True, factors=frozenset({12})),
        ),
        ("/twelve-review help", Command("help")),
        ("/twelve-review explain tf0301", Command("explain", target="TF0301")),
        ("/twelve-review explain 3", Command("explain", target="3")),
    ],
)
def test_commands_that_parse(body: str, expected: Command) -> None:
    assert parse_command(body) == expected


@pytest.mark.parametrize(
    ("body", "not_understood"),
    [
        ("/twelve-review approve", ("approve",)),
        ("/twelve-review factors=13", ("factors=13",)),
        ("/twelve-review factors=3;rm -rf /", ("factors=3;rm", "-rf", "/")),
        ("/twelve-review full full", ("full",)),
        ("/twelve-review explain TF9999", ("TF9999",)),
        ("/twelve-review explain", ("explain needs one rule id",)),
        ("/twelve-review " + "x " * 20, ("too many arguments",)),
    ],
)
def test_anything_else_is_a_help_reply(body: str, not_understood: tuple[str, ...]) -> None:
    command = parse_command(body)
    assert command is not None
    assert command.kind == "help"
    assert command.not_understood == not_understood


@pytest.mark.parametrize(
    "body",
    [
        "",
        "LGTM",
        "please run /twelve-review",  # not at the start of the first line
        "> /twelve-review\nquoted from the bot's own help",
        "first line\n/twelve-review",  # only the first line counts
        "/twelve-reviewer",
    ],
)
def test_other_comments_are_not_commands(body: str) -> None:
    assert parse_command(body) is None


@given(st.text(max_size=300))
def test_any_text_parses_to_none_or_an_allowed_command(body: str) -> None:
    command = parse_command(body)
    if command is None:
        return
    assert command.kind in ("review", "help", "explain")
    assert command.factors <= frozenset(range(1, 13))
    if command.kind == "explain":
        assert command.target is not None


def test_the_bots_own_help_text_is_not_a_command() -> None:
    assert parse_command(USAGE) is None


@pytest.mark.parametrize("word", ["²", "١", "3²", "٣"])
def test_explain_with_unicode_digits_is_help_not_a_crash(word: str) -> None:
    """str.isdigit() is true for superscripts and other scripts' digits; int() is not."""
    command = parse_command(f"/twelve-review explain {word}")
    assert command is not None and command.kind == "help"
    assert command.not_understood == (word,)
