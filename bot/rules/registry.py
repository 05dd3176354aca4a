"""The registry: every rule, in code order. A rule not listed here never runs."""

from __future__ import annotations

from bot.rules import (
    admin_processes,
    backing_services,
    build_release_run,
    codebase,
    concurrency,
    configuration,
    dependencies,
    dev_prod_parity,
    disposability,
    logs,
    port_binding,
    processes,
)
from bot.rules.base import Rule

__all__ = ["ALL_RULES", "BY_CODE", "FACTOR_MODULES", "rules_for_factor"]

# One module per factor, in factor order; each exports RULES.
FACTOR_MODULES = (
    codebase,
    dependencies,
    configuration,
    backing_services,
    build_release_run,
    processes,
    port_binding,
    concurrency,
    disposability,
    dev_prod_parity,
    logs,
    admin_processes,
)

ALL_RULES: tuple[Rule, ...] = tuple(
    sorted((rule for module in FACTOR_MODULES for rule in module.RULES), key=lambda r: r.code)
)

BY_CODE: dict[str, Rule] = {rule.code: rule for rule in ALL_RULES}


def rules_for_factor(number: int) -> tuple[Rule, ...]:
    return tuple(r for r in ALL_RULES if r.factor == number)
