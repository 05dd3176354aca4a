"""Which files configure a development, test or local profile rather than production.

Settings and config files named for such a profile (`settings/local.py`,
`application-dev.yml`, `config/environments/development.rb`) may pin what a
deploy would take from its environment; rules that judge production config
leave them alone.
"""

from __future__ import annotations

import re

__all__ = ["is_dev_profile"]

_CONFIG_TOKENS = frozenset(
    {"settings", "setting", "config", "configs", "conf", "environments", "application",
     "bootstrap", "profiles", "appsettings"}
)  # fmt: skip
_DEV_TOKENS = frozenset(
    {"dev", "develop", "development", "local", "test", "testing", "ci", "sandbox", "debug"}
)
_PATH_TOKENS = re.compile(r"[/._-]+")


def is_dev_profile(path: str) -> bool:
    """A settings/config file named for a dev, test or local profile.

    `settings/local.py`, `application-dev.yml`, `config/environments/development.rb`:
    both a config-ish token and a dev-ish token appear in the path. A module
    such as `app/local_cache.py` is not a profile (no config token).
    """
    tokens = set(_PATH_TOKENS.split(path.lower()))
    return bool(tokens & _DEV_TOKENS) and bool(tokens & _CONFIG_TOKENS)
