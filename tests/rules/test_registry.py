"""Meta-tests: every rule is registered, well named and documented."""

from __future__ import annotations

import inspect
import re

import pytest

from bot.factors import FACTORS
from bot.rules import base
from bot.rules.base import DOC_SECTIONS, Rule
from bot.rules.registry import ALL_RULES, BY_CODE, FACTOR_MODULES


def _rule_classes() -> list[type[Rule]]:
    found: list[type[Rule]] = []
    for module in FACTOR_MODULES:
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, Rule) and obj.__module__ == module.__name__ and "code" in vars(obj):
                found.append(obj)
    return found


def test_every_rule_class_is_registered() -> None:
    registered = {type(r) for r in ALL_RULES}
    assert set(_rule_classes()) == registered


def test_codes_and_names_are_unique() -> None:
    assert len(BY_CODE) == len(ALL_RULES)
    assert len({r.name for r in ALL_RULES}) == len(ALL_RULES)


def test_every_factor_has_rules() -> None:
    assert {r.factor for r in ALL_RULES} == set(FACTORS)


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_rule_metadata(rule: Rule) -> None:
    assert re.fullmatch(r"TF(0[1-9]|1[0-2])\d{2}", rule.code)
    assert int(rule.code[2:4]) == rule.factor
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule.name)
    module = inspect.getmodule(type(rule))
    assert module is FACTOR_MODULES[rule.factor - 1], "rule lives in its factor's module"
    assert rule.kinds, "a rule names the kinds of file it reads"
    assert rule.message.endswith(".") and "\n" not in rule.message
    assert rule.status in ("stable", "preview")


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_rule_docs_have_every_section(rule: Rule) -> None:
    doc = rule.doc()
    assert doc.title, "a one-line title opens the docstring"
    for section in DOC_SECTIONS:
        assert doc.sections.get(section), f"{rule.code} lacks '## {section}'"
    assert len(rule.rationale()) > 40


def test_docstring_parser_splits_sections() -> None:
    doc = base.RuleDoc.parse(
        """Title here.

        ## What it does
        Flags things.

        ## Why it matters
        Because
        it does.

        Second paragraph.
        """
    )
    assert doc.title == "Title here."
    assert doc.sections["What it does"] == "Flags things."
    assert doc.paragraph("Why it matters") == "Because it does."
