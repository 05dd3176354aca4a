"""The App's settings and runner pointed at the fake GitHub, as every App test needs them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from bot.app.jobs import ReviewRunner
from bot.app.queue import Job, JobQueue
from bot.app.settings import AppSettings, load_settings
from tests.fake_github import FakeGitHub, FakePull
from tests.webhooks import example, signed

# PyGithub without retries or pauses between requests: the fake answers at once.
CLIENT_OPTIONS: dict[str, Any] = {
    "retry": None,
    "seconds_between_requests": None,
    "seconds_between_writes": None,
}


def app_settings(fake: FakeGitHub, secret: str) -> AppSettings:
    return load_settings(
        github_app_id=fake.app_id,
        github_app_private_key=fake.private_key_pem,
        github_webhook_secret=secret,
        github_api_url=fake.base_url,
    )


def review_runner(settings: AppSettings, **options: Any) -> ReviewRunner:
    """A ReviewRunner for the fake; `options` are ReviewRunner's own (clock, llm_settings)."""
    return ReviewRunner(settings, client_options=CLIENT_OPTIONS, **options)


def pull_request_job(
    fake: FakeGitHub, pull: FakePull, delivery: str = "d-1", action: str = "synchronize"
) -> Job:
    """The job a `pull_request` delivery for the fake's PR queues, at its current head."""
    return Job(
        delivery_id=delivery,
        event="pull_request",
        action=action,
        repo_full_name=pull.repo.full_name,
        number=pull.number,
        head_sha=pull.head_sha,
        installation_id=fake.installation_id,
    )


def pull_request_payload(
    npm_data: Path, fake: FakeGitHub, pull: FakePull, action: str, head_sha: str
) -> dict[str, Any]:
    """GitHub's example `pull_request` delivery, pointed at the fake's repository and PR."""
    payload = example(npm_data, "pull_request", action)
    payload["number"] = payload["pull_request"]["number"] = pull.number
    payload["pull_request"]["head"]["sha"] = head_sha
    payload["pull_request"]["draft"] = False
    payload["pull_request"]["state"] = "open"
    payload["repository"]["full_name"] = pull.repo.full_name
    payload["installation"]["id"] = fake.installation_id
    payload["sender"]["type"] = "User"
    return payload


def issue_comment_payload(
    npm_data: Path, fake: FakeGitHub, pull: FakePull, comment: dict[str, Any]
) -> dict[str, Any]:
    """GitHub's `issue_comment/created` example for `comment` (as the fake stored it) on
    the fake's PR. No upstream example of a comment on a pull request exists: this is
    @octokit/webhooks-examples' with the `issue.pull_request` object the official
    webhook schema describes added."""
    full_name = pull.repo.full_name
    payload = example(npm_data, "issue_comment", "created")
    payload["issue"]["number"] = pull.number
    payload["issue"]["pull_request"] = {
        "url": f"{fake.base_url}/repos/{full_name}/pulls/{pull.number}",
        "html_url": f"https://github.com/{full_name}/pull/{pull.number}",
        "diff_url": f"https://github.com/{full_name}/pull/{pull.number}.diff",
        "patch_url": f"https://github.com/{full_name}/pull/{pull.number}.patch",
    }
    payload["comment"]["id"] = comment["id"]
    payload["comment"]["body"] = comment["body"]
    payload["comment"]["user"] = dict(comment["user"])
    payload["comment"]["author_association"] = comment["author_association"]
    payload["sender"] = payload["comment"]["user"]
    payload["repository"]["full_name"] = full_name
    payload["installation"]["id"] = fake.installation_id
    return payload


def command_payload(
    npm_data: Path, fake: FakeGitHub, pull: FakePull, body: str, user: str
) -> dict[str, Any]:
    """A `/twelve-review` comment written on the fake's PR by `user`, and its delivery."""
    comment = fake.add_issue_comment(pull, body, user=user)
    payload = issue_comment_payload(npm_data, fake, pull, comment)
    payload["comment"]["user"]["login"] = user
    payload["comment"]["user"]["type"] = "User"
    return payload


def deliver(
    client: TestClient, event: str, payload: dict[str, Any], secret: str, delivery: str
) -> int:
    """POST a signed delivery to the App and wait until its work is done."""
    body, headers = signed(event, payload, secret, delivery)
    status = client.post("/webhook", content=body, headers=headers).status_code
    queue = client.app.state.queue  # type: ignore[attr-defined]
    assert isinstance(queue, JobQueue) and queue.join(30)
    return status
