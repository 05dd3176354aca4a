"""Shared judgements about literal values, used by several rules.

Precision lives here: what counts as a placeholder, what counts as reading the
environment. A rule that flags a literal should ask these first.
"""

from __future__ import annotations

import re

__all__ = [
    "ENV_LOOKUP",
    "is_placeholder",
    "is_test_like_host",
    "reads_environment",
]

# Reads of the process environment in the languages we review.
ENV_LOOKUP = re.compile(
    r"os\.environ|os\.getenv|getenv\(|process\.env|Deno\.env|import\.meta\.env|"
    r"System\.getenv|System\.getProperty|ENV\[|ENV\.fetch|os\.Getenv|os\.LookupEnv|"
    r"viper\.|env\(|config\(|settings\.|@Value\(|\$\{[A-Za-z_][A-Za-z0-9_]*"
)

_PLACEHOLDER = re.compile(
    r"""^(
        |[x*#.\-_]+                        # xxx, ***, ...
        |<[^<>]*>                         # <password>
        |\{\{.*\}\}                       # {{ .Values.password }}
        |\$\{[^}]*\}|\$[A-Za-z_]\w*       # ${VAR} or $VAR
        |%\([^)]*\)s|%[sd]                # %(password)s
        |\{[A-Za-z_]\w*\}                 # {password}
        |(change|replace|fill|put)[-_ ]?(me|it|this|here)\w*
        |your[-_ ]?\w+|my[-_ ]?(password|secret|token|key)
        |(dummy|fake|example|sample|placeholder|redacted|todo|tbd|none|null|nil|
          undefined|test|testing|secret|password|passwd|changeit|foo|bar|baz|
          foobar|default|empty|unset|n/a|\*+)
        |.*(example\.(com|org|net)|\.example|\.invalid|\.test|\.local)\b.*
    )$""",
    re.IGNORECASE | re.VERBOSE,
)


def is_placeholder(value: str) -> bool:
    """True for values that stand in for a real one: `change-me`, `<password>`, `${VAR}`."""
    v = value.strip().strip("\"'`")
    return bool(_PLACEHOLDER.match(v))


def reads_environment(text: str) -> bool:
    """True when the text reads configuration from the environment."""
    return ENV_LOOKUP.search(text) is not None


_TEST_HOSTS = re.compile(r"(^|\.)(example\.(com|org|net)|invalid|test|localhost\.test)$", re.I)


def is_test_like_host(host: str) -> bool:
    """Reserved documentation/test domains (RFC 2606) are never real backing services."""
    return bool(_TEST_HOSTS.search(host))
