"""Write the page that registers the twelve-review GitHub App from app.yml.

GitHub's manifest flow: a browser form POSTs the manifest, JSON-encoded, in a field
named `manifest` to /settings/apps/new (an App owned by your account) or
/organizations/ORG/settings/apps/new (owned by an organization). GitHub shows the
App's name for you to confirm, creates the App, and sends the browser to the
manifest's redirect_url with `?code=...&state=...`. Exchange that code within one
hour (docs/deploy.md):

    uv run python deploy/github_app_form.py --url https://review.example.com \
        [--org ORG] [--name NAME] [--github https://ghe.example.com] > create-app.html

Every https://twelve-review.example.com in app.yml becomes --url. The random
`state` is printed on stderr: check that the redirect carries the same one.
"""

from __future__ import annotations

import argparse
import html
import json
import secrets
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import yaml

MANIFEST = Path(__file__).resolve().parent.parent / "app.yml"
PLACEHOLDER = "https://twelve-review.example.com"

_PAGE = """<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>Register the {name} GitHub App</title>
<form action="{action}" method="post">
  <input type="hidden" name="manifest" value="{manifest}">
  <p>Register <strong>{name}</strong> on {owner}; its webhook goes to <code>{hook}</code>.</p>
  <button type="submit">Register the GitHub App</button>
</form>
</html>
"""


def manifest_for(url: str, name: str | None = None, source: Path = MANIFEST) -> dict[str, Any]:
    """app.yml with its placeholder origin replaced by `url` (and its name by `name`)."""
    text = source.read_text(encoding="utf-8").replace(PLACEHOLDER, url.rstrip("/"))
    manifest: dict[str, Any] = yaml.safe_load(text)
    if name:
        manifest["name"] = name
    return manifest


def form_action(github: str, org: str | None, state: str) -> str:
    """Where the form posts: the account's or the organization's new-App page."""
    base = github.rstrip("/")
    where = f"/organizations/{urllib.parse.quote(org)}" if org else ""
    return f"{base}{where}/settings/apps/new?" + urllib.parse.urlencode({"state": state})


def page(manifest: dict[str, Any], action: str, owner: str) -> str:
    return _PAGE.format(
        action=html.escape(action),
        manifest=html.escape(json.dumps(manifest, separators=(",", ":"))),
        name=html.escape(str(manifest["name"])),
        owner=html.escape(owner),
        hook=html.escape(str(manifest["hook_attributes"]["url"])),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", required=True, help="https://HOST where the server will run")
    parser.add_argument("--org", help="register the App for this organization")
    parser.add_argument("--name", help="the App's name (names are unique across GitHub)")
    parser.add_argument(
        "--github", default="https://github.com", help="GitHub Enterprise Server: https://HOST"
    )
    args = parser.parse_args(argv)
    if not args.url.startswith("https://"):
        parser.error("--url must be an https:// URL that GitHub can reach")
    state = secrets.token_urlsafe(16)
    owner = f"the organization {args.org}" if args.org else "your account"
    manifest = manifest_for(args.url, args.name)
    sys.stdout.write(page(manifest, form_action(args.github, args.org, state), owner))
    print(f"state={state}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
