"""The publishing layer without HTTP: comment text, markers, which findings go
inline, the summary, and webhook signatures. Request bodies are checked against
GitHub's published OpenAPI description."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from bot.app.signature import sign, verify_signature
from bot.diff import parse_diff
from bot.engine import SkippedFile, review_files
from bot.findings import Finding, Severity
from bot.llm.report import LLMReport, NotReviewed
from bot.publish.comments import render_comment
from bot.publish.markers import (
    SummaryState,
    finding_marker,
    finding_markers_in,
    summary_marker,
    summary_state_in,
)
from bot.publish.plan import ReviewPlan, plan_review
from bot.publish.safe import code_span, prose_hazard
from bot.publish.summary import SummaryInput, render_summary
from bot.rules.registry import BY_CODE
from tests.github_openapi import request_body_validator
from tests.test_app_injection import rendering_problems

HEAD = "0123456789abcdef0123456789abcdef01234567"

# Two hunks: lines 1-7 and 18-24 of the new file are on the RIGHT side.
TWO_HUNKS = """diff --git a/app/main.py b/app/main.py
--- a/app/main.py
+++ b/app/main.py
@@ -1,6 +1,7 @@
 import logging
 import os
+handler = logging.FileHandler("app.log")
 a = 1
 b = 2
 c = 3
 d = 4
@@ -16,6 +17,8 @@ def run():
 e = 5
 f = 6
 g = 7
+app.run(port=5000)
+DEBUG = True
 h = 8
 i = 9
 j = 10
"""


def _finding(line: int, end: int | None = None, severity: Severity = Severity.WARNING) -> Finding:
    return Finding(
        rule="TF1101",
        factor=11,
        severity=severity,
        path="app/main.py",
        line=line,
        end_line=end,
        message="Logging to a file; write the log stream to stdout instead.",
        rationale="Logs are an event stream.",
        fingerprint=f"{line:04d}{(end or 0):04d}abcdef{severity.rank:02d}",
    )


def test_finding_markers_round_trip_and_refuse_junk() -> None:
    body = f"text\n{finding_marker('abcdef0123456789')}\n{finding_marker('1234abcd')}"
    assert finding_markers_in(body) == {"abcdef0123456789", "1234abcd"}
    assert finding_markers_in("<!-- twelve-review:finding not-hex -->") == set()
    with pytest.raises(ValueError):
        finding_marker("--> <script>")


def test_summary_state_round_trips_and_ignores_forgeries() -> None:
    state = SummaryState(HEAD, frozenset({"aaaa1111", "bbbb2222"}))
    assert summary_state_in("x\n" + summary_marker(state)) == state
    assert summary_state_in("no marker") is None
    assert summary_state_in('<!-- twelve-review:summary {"v":1,"head":"zz","open":[]} -->') is None
    assert (
        summary_state_in('<!-- twelve-review:summary {"v":3,"head":"abc1234","open":[]} -->')
        is None
    )
    assert summary_state_in("<!-- twelve-review:summary {not json} -->") is None
    # A state with a model finding that fails the Finding model is not trusted at all.
    bad = '{"v":2,"head":"abc1234","open":[],"model":[{"rule":"LLM","factor":13}]}'
    assert summary_state_in(f"<!-- twelve-review:summary {bad} -->") is None


def _model_finding(message: str, rationale: str = "Config belongs in the environment.") -> Finding:
    return _finding(3).model_copy(
        update={
            "rule": "LLM",
            "factor": 3,
            "source": "llm",
            "message": message,
            "rationale": rationale,
            "suggestion": "x = os.environ['X']",
            "fingerprint": "feedface00112233",
        }
    )


def test_summary_state_keeps_model_findings_and_survives_comment_breakers() -> None:
    # Text that would end the HTML comment early if written as it is.
    model = _model_finding("Hard-coded --> value <b>here</b> & there.", "r" * 1000)
    state = SummaryState(HEAD, frozenset({"feedface00112233"}), (model,))
    marker = summary_marker(state)
    assert marker.count("-->") == 1 and marker.endswith("-->")
    assert "<b>" not in marker
    read = summary_state_in("title\n" + marker + "\nafter")
    assert read is not None and read.open_fingerprints == state.open_fingerprints
    (back,) = read.model_findings
    assert back.message == model.message and back.source == "llm"
    assert back.suggestion is None  # not stored: an earlier suggestion is never re-posted
    assert len(back.rationale) == 300 and back.rationale.endswith("...")
    assert (back.path, back.line, back.factor, back.fingerprint) == (
        model.path,
        model.line,
        model.factor,
        model.fingerprint,
    )


def test_summary_state_stays_within_a_comment_when_findings_are_many() -> None:
    fingerprints = frozenset(f"{n:016x}" for n in range(5000))
    models = tuple(
        _model_finding(f"Finding number {n} " + "m" * 200).model_copy(
            update={"line": n + 1, "fingerprint": f"{n:016x}"}
        )
        for n in range(200)
    )
    marker = summary_marker(SummaryState(HEAD, fingerprints, models))
    assert len(marker) < 45_000  # GitHub refuses comment bodies over 65,536 characters
    read = summary_state_in(marker)
    assert read is not None
    assert len(read.open_fingerprints) == 1000 and len(read.model_findings) == 30


def test_comment_text_has_factor_rule_why_fix_and_marker() -> None:
    finding = _finding(3)
    body = render_comment(finding)
    assert body.startswith("**Warning** · [XI. Logs](https://12factor.net/logs) · `TF1101`")
    assert finding.message in body
    assert "**Why it matters:** Logs are an event stream." in body
    assert "<summary>How to fix</summary>" in body and "stream=sys.stdout" in body
    assert "```suggestion" not in body
    assert finding_markers_in(body) == {finding.fingerprint}


def test_suggestion_block_only_with_a_suggestion() -> None:
    finding = _finding(3).model_copy(update={"suggestion": 'CMD ["gunicorn", "app:app"]'})
    body = render_comment(finding)
    assert '```suggestion\nCMD ["gunicorn", "app:app"]\n```' in body


def test_llm_finding_is_labelled_as_such() -> None:
    finding = _finding(3).model_copy(update={"rule": "LLM", "source": "llm"})
    assert "`LLM review`" in render_comment(finding)
    assert "How to fix" not in render_comment(finding)


def test_plan_anchors_caps_and_skips_what_was_posted(npm_data: Path) -> None:
    files = parse_diff(TWO_HUNKS)
    findings = [
        _finding(3),  # added line, first hunk
        _finding(20, severity=Severity.ERROR),  # added line, second hunk
        _finding(21, severity=Severity.NOTICE),
        _finding(12),  # between the hunks: GitHub would refuse it
        _finding(6, 19),  # a range across two hunks
        _finding(20, 21),  # a range inside one hunk
    ]
    posted = {findings[2].fingerprint}
    plan = plan_review(findings, files, posted, max_comments=2)
    assert [(c.finding.line, c.finding.end_line) for c in plan.inline] == [(20, None), (3, None)]
    assert [(f.line, f.end_line) for f in plan.overflow] == [(20, 21)]
    assert [(f.line, f.end_line) for f in plan.unanchored] == [(12, None), (6, 19)]
    assert plan.already_posted == [findings[2]]

    ranged = plan_review([findings[5]], files, set(), 5).inline[0].as_api()
    assert ranged == {
        "path": "app/main.py",
        "body": ranged["body"],
        "line": 21,
        "side": "RIGHT",
        "start_line": 20,
        "start_side": "RIGHT",
    }
    review_body = {
        "commit_id": HEAD,
        "body": "summary",
        "event": "COMMENT",
        "comments": [c.as_api() for c in plan.inline] + [ranged],
    }
    request_body_validator("pulls/create-review").validate(review_body)


def test_every_finding_ends_up_somewhere() -> None:
    files = parse_diff(TWO_HUNKS)
    findings = [_finding(n) for n in (3, 12, 20, 21)]
    plan = plan_review(findings, files, {findings[3].fingerprint}, max_comments=1)
    placed = [
        *(c.finding for c in plan.inline),
        *plan.overflow,
        *plan.unanchored,
        *plan.already_posted,
    ]
    assert sorted(f.line for f in placed) == [3, 12, 20, 21]


def test_summary_reports_counts_leftovers_llm_and_state() -> None:
    files = parse_diff(TWO_HUNKS)
    result = review_files(files)
    findings = result.findings
    plan = plan_review(findings, files, set(), max_comments=1)
    llm = LLMReport(
        status="partial",
        model="m",
        requests=2,
        prompt_tokens=900,
        completion_tokens=100,
        not_reviewed=[NotReviewed("app/main.py", "token-cap")],
    )
    body = render_summary(
        SummaryInput(
            head_sha=HEAD,
            open_findings=findings,
            plan=plan,
            skipped=[SkippedFile("big.json", "too-large"), SkippedFile("logo.png", "binary")],
            llm=llm,
            resolved=2,
        )
    )
    assert body.startswith("## twelve-review\n")
    assert f"Reviewed `{HEAD[:12]}`: {len(findings)} findings" in body
    assert "[XI. Logs](https://12factor.net/logs)" in body
    assert "### Not posted inline" in body and "_(over the inline comment limit)_" in body
    assert "- `big.json`: too large for GitHub to show a diff" in body
    assert "- `app/main.py`: not reviewed by the LLM (token-cap)" in body
    assert "LLM m: 2 requests (0 cached), 1,000 tokens" in body
    assert "2 earlier findings were resolved by later commits." in body
    state = summary_state_in(body)
    assert state == SummaryState(HEAD, frozenset(f.fingerprint for f in findings), resolved=2)


def test_summary_says_when_the_review_ran_on_rules_alone() -> None:
    plan = plan_review([], [], set(), 25)
    body = render_summary(SummaryInput(head_sha=HEAD, open_findings=[], plan=plan))
    assert "Reviewed `0123456789ab`: No findings." in body
    assert "Rules only: no LLM configured" in body
    down = render_summary(
        SummaryInput(
            head_sha=HEAD,
            open_findings=[],
            plan=plan,
            llm=LLMReport(status="unavailable", detail="timed out after 3 attempts"),
        )
    )
    assert "LLM unavailable (timed out after 3 attempts); rules only." in down


def test_signature_matches_the_github_docs_vector() -> None:
    secret, body = "It's a Secret to Everybody", b"Hello, World!"
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert sign(secret, body) == expected
    assert verify_signature(secret, body, expected)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e18",
        "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59",
        "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
    ],
)
def test_bad_or_missing_signatures_fail(header: str | None) -> None:
    assert not verify_signature("It's a Secret to Everybody", b"Hello, World!", header)


def test_body_must_be_the_exact_bytes_and_secret_must_be_set() -> None:
    secret = "It's a Secret to Everybody"
    good = sign(secret, b"Hello, World!")
    assert not verify_signature(secret, b"Hello, World! ", good)
    assert not verify_signature("", b"Hello, World!", sign("", b"Hello, World!"))


# -- text from the pull request in the bot's Markdown (found by tests/test_app_injection.py)

_FRAGMENTS = [
    "`", "``", "\\", " ", "\n", "_", "*", "(", "a", "é", "x.py", "@ab", ".@ab", "<b>",
    "<img src=x>", "www.x.io", "https://x.io", "https://12factor.net/config", "[a](//x.io)",
    "![a](p.png)", "[a][1]", "\n[1]: //x.io\n", "o/r#1", "\u202e", "\t",
]  # fmt: skip
_PR_TEXT = st.lists(st.sampled_from(_FRAGMENTS), max_size=12).map("".join)


def _code_spans(body: str) -> list[str]:
    tokens = MarkdownIt("commonmark").parse(body)
    return [c.content for t in tokens for c in (t.children or []) if c.type == "code_inline"]


@given(_PR_TEXT)
@settings(max_examples=300, deadline=None)
def test_a_code_span_holds_any_file_name_whole(name: str) -> None:
    line = f"- {code_span(name)}: documentation"
    shown = re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]", "\ufffd", name)
    assert _code_spans(line) == [shown or " "]
    assert rendering_problems(line) == []


@given(_PR_TEXT)
@settings(max_examples=300, deadline=None)
def test_text_prose_hazard_passes_renders_as_plain_text(quoted: str) -> None:
    """Whatever a rule quotes between its backticks: when `prose_hazard` finds
    nothing, GitHub renders no mention, link, image or HTML either."""
    message = f"Image `{quoted}` uses the `latest` tag."
    if prose_hazard(message) is None:
        assert rendering_problems(message) == []


def _rule_finding(message: str, suggestion: str | None = None) -> Finding:
    return Finding(
        rule="TF0503",
        factor=5,
        severity=Severity.WARNING,
        path="k8s/deploy.yaml",
        line=10,
        message=message,
        rationale=BY_CODE["TF0503"].rationale(),
        suggestion=suggestion,
        fingerprint="0123456789abcdef",
    )


@pytest.mark.parametrize(
    "ref",
    ["nginx`![x](//evil.io/p.png)`:latest", "nginx`www.evil.io`:latest", "nginx`<b>hi</b>`"],
)
def test_a_quoted_value_that_leaves_its_code_span_gives_way_to_the_rules_message(
    ref: str,
) -> None:
    finding = _rule_finding(f"Image `{ref}` uses the `latest` tag; pin the release.")
    body = render_comment(finding)
    assert "evil.io" not in body and "<b>" not in body
    assert BY_CODE["TF0503"].message in body
    assert rendering_problems(body) == []
    listed = render_summary(
        SummaryInput(
            head_sha=HEAD,
            open_findings=[finding],
            plan=ReviewPlan(unanchored=[finding]),
        )
    )
    assert BY_CODE["TF0503"].message in listed and "evil.io" not in listed


def test_a_quoted_value_that_stays_in_its_code_span_is_kept() -> None:
    message = "Image `nginx:latest` uses the `latest` tag, see `<app>` and `@x`."
    assert message in render_comment(_rule_finding(message))


def test_a_suggestion_holding_a_fence_is_left_out() -> None:
    body = render_comment(_rule_finding("m.", suggestion="CMD x\n```\n@evil <img src=x>"))
    assert "```suggestion" not in body and "@evil" not in body


def test_hostile_file_names_stay_in_their_code_spans_in_the_summary() -> None:
    names = [
        "docs/y` <img src=x> [ok](//evil.io) `.md",
        "app/z` @security-team `.py",
        "app/w``.py\n# Approved",
    ]
    finding = _finding(3).model_copy(update={"path": names[2]})
    body = render_summary(
        SummaryInput(
            head_sha=HEAD,
            open_findings=[finding],
            plan=ReviewPlan(unanchored=[finding]),
            skipped=[SkippedFile(names[0], "docs")],
            llm=LLMReport(
                status="partial",
                model="m",
                requests=1,
                not_reviewed=[NotReviewed(names[1], "too-large")],
            ),
        )
    )
    assert rendering_problems(body) == []
    spans = _code_spans(body)
    assert names[0] in spans and names[1] in spans
    assert "app/w``.py\ufffd# Approved:3" in spans
    # The LLM line names no file: the list below does, each in its span.
    (llm,) = [ln for ln in body.splitlines() if ln.startswith("LLM m:")]
    assert "security-team" not in llm


def test_a_summary_too_long_for_github_lists_fewer_and_keeps_its_state() -> None:
    """Quoted values can make findings long: GitHub would refuse the whole comment
    (over 65,536 characters), so the lists get shorter, the counts and state stay."""
    findings = [
        _finding(n).model_copy(update={"message": f"value {n}: " + "v" * 3000})
        for n in range(1, 61)
    ]
    plan = plan_review(findings, [], set(), max_comments=0)
    data = SummaryInput(head_sha=HEAD, open_findings=findings, plan=plan)
    body = render_summary(data)
    assert len(body) <= 60_000
    assert "60 warnings" in body
    assert "more" in body  # the list says it was cut
    state = summary_state_in(body)
    assert state is not None and len(state.open_fingerprints) == 60
    short = [f.model_copy(update={"message": "short"}) for f in findings[:3]]
    short_plan = plan_review(short, [], set(), max_comments=0)
    small = render_summary(SummaryInput(head_sha=HEAD, open_findings=short, plan=short_plan))
    assert small.count("short") == 3  # a summary that fits is not cut
