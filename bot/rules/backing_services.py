"""Factor rules (in progress)."""

from __future__ import annotations

from bot.rules.base import Rule

RULES: tuple[Rule, ...] = ()
