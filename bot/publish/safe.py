"""Text from a pull request, made safe to post as the bot's Markdown.

GitHub renders everything the bot posts. A file name, or a value a rule quotes
from the diff, that closes its code span early would turn into a mention, a
link, an image or HTML in the bot's name: `code_span` keeps any text inside one
span, and `prose_hazard` finds what would render outside the spans. `hazard`
is the stricter check on text that is never trusted at all (the model's).
"""

from __future__ import annotations

import re

__all__ = ["ALLOWED_HOSTS", "code_span", "hazard", "prose_hazard"]

ALLOWED_HOSTS = frozenset({"12factor.net", "www.12factor.net"})

# GitHub links `@name` after any character but an ASCII letter, digit or `_`; and
# after `_` too when that `_` is emphasis (`_@name_`): only letters and digits are safe.
_MENTION = re.compile(r"(?<![A-Za-z0-9])@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:/[\w.-]+)?")
_HTML = re.compile(r"<\s*/?\s*[A-Za-z!][^>]*>")
# Outside code spans a tag's closing `>` may sit in what looked like a span (a raw
# tag outranks a span that starts inside it), so there any tag opening counts.
_HTML_OPENING = re.compile(r"<\s*[/!?]?\s*[A-Za-z]")
# Not `\b`: GitHub autolinks after `_` too (`_www.host_` is emphasis around a link).
_URL = re.compile(
    r"(?<![A-Za-z0-9])(?:(?:https?|ftp)://([^/\s)>\]`]+)|www\.[\w.-]+)", re.IGNORECASE
)
# Markdown link and image targets, inline or in a reference definition: relative
# and protocol-relative ones (`//host/pixel.png`) name no scheme the URL check sees.
_TARGET = re.compile(r"\]\s*\(\s*<?([^)\s>]*)|^ {0,3}\[[^\]\n]+\]:\s*<?(\S*)", re.MULTILINE)
_ALLOWED_TARGET = re.compile(r"https?://(?:www\.)?12factor\.net(?:[/?#]\S*)?", re.IGNORECASE)
# A reference to an issue in another repository also writes a back-link there.
_CROSS_REFERENCE = re.compile(r"[\w.-]+/[\w.-]+#\d")
_RUN = re.compile(r"`+")
# Line breaks would end the span's paragraph (and a `#` after one starts a heading);
# bidi controls would make a file name read as another.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def code_span(text: str) -> str:
    """`text` as one inline code span, whatever backticks or line breaks it holds."""
    flat = _UNPRINTABLE.sub("\ufffd", text) or " "  # "``" would be no span at all
    longest = max((len(run) for run in _RUN.findall(flat)), default=0)
    fence = "`" * (longest + 1)
    # CommonMark strips one space from each end of a span: padding keeps edge
    # backticks off the fence and edge spaces in the text.
    pad = " " if flat.strip(" ") and (flat[0] in "` " or flat[-1] in "` ") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def hazard(text: str) -> str | None:
    """What in `text` GitHub would render as more than text, anywhere (code spans
    included): "mention", "html" or "link"; None when there is nothing."""
    if _MENTION.search(text):
        return "mention"
    if _HTML.search(text):
        return "html"
    if _links(text):
        return "link"
    return None


def prose_hazard(text: str) -> str | None:
    """`hazard` for Markdown the bot writes around quoted values: only what lies
    outside inline code spans counts, as GitHub would find the spans. Spans end at
    a blank line, and a line may start a block of its own: text on several lines is
    held to `hazard`."""
    if "\n" in text or "\r" in text:
        return hazard(text)
    prose = _prose(text)
    if _MENTION.search(prose):
        return "mention"
    if _HTML_OPENING.search(prose):
        return "html"
    if _links(prose):
        return "link"
    return None


def _links(text: str) -> bool:
    hosts = [m.group(1) or m.group(0) for m in _URL.finditer(text)]
    if any(host.lower() not in ALLOWED_HOSTS for host in hosts):
        return True
    for match in _TARGET.finditer(text):
        target = match.group(1) if match.group(1) is not None else match.group(2)
        if not _ALLOWED_TARGET.fullmatch(target):
            return True
    return _CROSS_REFERENCE.search(text) is not None


def _prose(text: str) -> str:
    """`text` with its code spans blanked out, found as CommonMark finds them: left
    to right, a backslash-escaped backtick opens nothing, a run of backticks opens
    a span closed by the next run of the same length, and one never closed is text."""
    out: list[str] = []
    at = 0
    while at < len(text):
        char = text[at]
        if char == "\\":
            out.append(text[at : at + 2])
            at += 2
            continue
        if char != "`":
            out.append(char)
            at += 1
            continue
        run = _RUN.match(text, at)
        assert run is not None  # text[at] is a backtick
        closing = next(
            (m for m in _RUN.finditer(text, run.end()) if len(m.group()) == len(run.group())), None
        )
        if closing is None:
            out.append(run.group())
            at = run.end()
        else:
            out.append(" ")
            at = closing.end()
    return "".join(out)
