"""Credentials in known formats (cloud keys, tokens, private keys).

Shared by the factor III rules, which report them, and by the LLM prompt
builder, which masks them before any text leaves the process.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

__all__ = ["FAKE_SECRET", "KNOWN_SECRET_HINT", "KNOWN_SECRET_LABELS", "known_secrets"]

_FORMATS: tuple[tuple[str, str], ...] = (
    ("aws", r"(?<![A-Z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Z0-9])"),
    ("github", r"\bgh[pousr]_[A-Za-z0-9]{36}\b|\bgithub_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}\b"),
    ("gitlab", r"\bglpat-[A-Za-z0-9_-]{20}\b"),
    ("slack", r"\bxox[abposr]-[0-9]{6,}-[0-9A-Za-z-]{8,}"),
    ("slackhook", r"hooks\.slack\.com/services/T[A-Z0-9]{6,}/B[A-Z0-9]{6,}/[A-Za-z0-9]{20,}"),
    ("stripe", r"\b[rs]k_live_[0-9A-Za-z]{20,}\b"),
    ("google", r"\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])"),
    ("openai", r"\bsk-(?:proj-)?[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,}"),
    ("anthropic", r"\bsk-ant-(?:api|admin)\d{2}-[A-Za-z0-9_-]{80,}"),
    ("sendgrid", r"\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\b"),
    ("npm", r"\bnpm_[A-Za-z0-9]{36}\b"),
    ("pypi", r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}"),
    ("shopify", r"\bshp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}\b"),
    ("pem", r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"),
)
_KNOWN_SECRET = re.compile("|".join(f"(?P<{label}>{rx})" for label, rx in _FORMATS))
KNOWN_SECRET_LABELS = {
    "aws": "AWS access key id",
    "github": "GitHub token",
    "gitlab": "GitLab token",
    "slack": "Slack token",
    "slackhook": "Slack webhook URL",
    "stripe": "Stripe live key",
    "google": "Google API key",
    "openai": "OpenAI API key",
    "anthropic": "Anthropic API key",
    "sendgrid": "SendGrid API key",
    "npm": "npm token",
    "pypi": "PyPI token",
    "shopify": "Shopify token",
    "pem": "private key",
}
FAKE_SECRET = re.compile(r"(?i)(.)\1{5,}|example|xxxx|0123456789|123456789|abcdefgh|fake|dummy")


# Cheap literal prefilter: the full alternation is ~20x slower per line.
KNOWN_SECRET_HINT = re.compile(
    r"AKIA|ASIA|gh[pousr]_|github_pat_|glpat-|xox|hooks\.slack|k_live_|AIza|sk-|SG\.|npm_|"
    r"pypi-|shp|PRIVATE KEY"
)


def known_secrets(text: str) -> Iterator[re.Match[str]]:
    """Known-format secrets on a line, without obvious fakes (`AKIA...EXAMPLE`)."""
    if KNOWN_SECRET_HINT.search(text) is None:
        return
    for match in _KNOWN_SECRET.finditer(text):
        if match.lastgroup != "pem" and FAKE_SECRET.search(match.group()):
            continue
        yield match
