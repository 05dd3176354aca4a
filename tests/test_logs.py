"""Every line a job logs carries its delivery id, PyGithub's and the model's included."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.app.logs import configure_logging, job_context
from tests.app_helpers import app_settings, pull_request_job, review_runner
from tests.fake_github import FakeGitHub

REPO = "acme/shop"


@pytest.fixture
def verbose_logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root, pygithub = logging.getLogger(), logging.getLogger("github")
    saved = (root.handlers[:], root.level, pygithub.level)
    configure_logging("DEBUG", stream=stream)
    pygithub.setLevel(logging.DEBUG)
    yield stream
    root.handlers[:], root.level = saved[0], saved[1]
    pygithub.setLevel(saved[2])


def test_every_line_of_a_job_carries_its_delivery(
    fake_github: FakeGitHub, verbose_logs: io.StringIO
) -> None:
    base = {"app/log.py": "import logging\n"}
    repo = fake_github.add_repo(REPO, base)
    pull = fake_github.add_pull(
        repo, base, {"app/log.py": 'import logging\nh = logging.FileHandler("a")\n'}
    )
    settings = app_settings(fake_github, "s3cret")
    runner = review_runner(settings)
    runner(pull_request_job(fake_github, pull, "d-ctx", "opened"))
    lines = [json.loads(line) for line in verbose_logs.getvalue().splitlines()]
    loggers = {line["logger"] for line in lines}
    assert "github.Requester" in loggers and "twelve_review.jobs" in loggers
    assert all(line.get("delivery") == "d-ctx" for line in lines), [
        line for line in lines if line.get("delivery") != "d-ctx"
    ][:3]
    assert {line.get("pr") for line in lines} == {pull.number}


def test_outside_a_job_lines_carry_no_job_fields(verbose_logs: io.StringIO) -> None:
    logging.getLogger("twelve_review.test").info("before")
    with job_context({"delivery": "d-1", "repo": "a/b"}):
        logging.getLogger("some.library").info("inside")
        logging.getLogger("twelve_review.test").info("explicit", extra={"delivery": "d-2"})
    logging.getLogger("twelve_review.test").info("after")
    lines = [json.loads(line) for line in verbose_logs.getvalue().splitlines()]
    assert [(line["message"], line.get("delivery"), line.get("repo")) for line in lines] == [
        ("before", None, None),
        ("inside", "d-1", "a/b"),
        ("explicit", "d-2", "a/b"),  # a field given on the line wins
        ("after", None, None),
    ]
