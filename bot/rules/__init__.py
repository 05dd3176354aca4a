"""Heuristic rules, one module per factor; `bot.rules.registry` lists them all."""
