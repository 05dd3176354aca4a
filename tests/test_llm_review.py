"""The LLM half of the engine with a scripted ChatClient: planning, budgets,
validation, masking, merging, caching and failure handling.

The client double implements the ChatClient edge; the real HTTP path is covered
by tests/test_llm_client.py and tests/test_llm_cli.py against a fake server.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest

from bot.config import parse_config
from bot.diff import ChangedFile, parse_diff
from bot.engine import review
from bot.findings import Finding, Severity, fingerprint_for
from bot.llm.masking import MASK, Masker
from bot.llm.merge import merge_findings
from bot.llm.prompt import plan_prompts, templates_dir
from bot.llm.protocol import Completion, LLMUnavailable
from bot.llm.review import LLMReviewer
from bot.llm.schema import LLMFinding
from bot.llm.settings import LLMSettings
from bot.llm.tokens import EstimatedCounter, counter_for
from bot.llm.validate import to_findings
from bot.notes import NoteSet, load_notes
from tests.helpers import added_file_diff

NOTE = "tech.practice.12-factor-app.{}"
SECRET = "hunter2-Xk29fq7Lm"
GITHUB_TOKEN = "ghs_" + "Tq8Lm2Vx9Rk4Wp7Zs1Nc5Hb3Jd6Fg0Ya2Ue4"
SYSTEM_LINE = next(
    line
    for line in (templates_dir() / "system.md").read_text(encoding="utf-8").splitlines()
    if len(line) > 60
)


@dataclass
class ScriptedClient:
    """A ChatClient that answers from a list and records what it was sent."""

    answers: list[str | Exception]
    sent: list[tuple[str, str]] = field(default_factory=list)

    def complete(self, system: str, user: str) -> Completion:
        self.sent.append((system, user))
        answer = self.answers.pop(0) if self.answers else '{"findings": []}'
        if isinstance(answer, Exception):
            raise answer
        return Completion(text=answer, prompt_tokens=1000, completion_tokens=50, mode="json_schema")


def _finding(path: str, line: int, factor: int = 4, **extra: Any) -> dict[str, Any]:
    slug = {3: "configuration", 4: "backing-services", 7: "port-binding", 11: "logs"}[factor]
    base: dict[str, Any] = {
        "path": path,
        "line": line,
        "end_line": None,
        "factor": factor,
        "note": NOTE.format(slug),
        "severity": "warning",
        "message": "The cache host is fixed in code.",
        "rationale": "Each deploy attaches its own cache; a fixed host ties code to one.",
        "suggestion": None,
    }
    return base | extra


def _answer(*findings: dict[str, Any]) -> str:
    return json.dumps({"findings": list(findings)})


def _settings(**values: Any) -> LLMSettings:
    return LLMSettings.model_validate({"base_url": "http://127.0.0.1:9/v1", **values})


def _reviewer(client: ScriptedClient, **values: Any) -> LLMReviewer:
    return LLMReviewer.create(client, _settings(**values), load_notes(), EstimatedCounter())


APP = "\n".join(
    [
        "import os",
        "import redis",
        "",
        "cache = redis.Redis(host=os.environ['REDIS_HOST'])",
        f"LEGACY_TOKEN = '{SECRET}'",
        "def handler(event):",
        "    return cache.get(event['key'])",
    ]
)


def _files(*pairs: tuple[str, str]) -> list[ChangedFile]:
    return parse_diff("".join(added_file_diff(p, t) for p, t in pairs))


def test_llm_finding_is_validated_and_kept_with_source_llm() -> None:
    client = ScriptedClient([_answer(_finding("svc/app.py", 7, factor=4))])
    result = review(_files(("svc/app.py", APP)), llm=_reviewer(client))
    llm = [f for f in result.findings if f.source == "llm"]
    assert [(f.path, f.line, f.factor, f.rule) for f in llm] == [("svc/app.py", 7, 4, "LLM")]
    assert llm[0].severity is Severity.WARNING
    assert NOTE.format("backing-services") in llm[0].rationale
    assert result.llm.status == "ok"
    assert result.llm.requests == 1
    assert (result.llm.prompt_tokens, result.llm.completion_tokens) == (1000, 50)


def test_prompt_is_grounded_masked_and_delimited() -> None:
    client = ScriptedClient([_answer()])
    review(_files(("svc/app.py", APP)), llm=_reviewer(client))
    ((system, user),) = client.sent
    assert "untrusted" in system
    assert "## " + NOTE.format("configuration") in user  # the rule hit's factor note
    assert SECRET not in user
    assert MASK in user
    # every diff line carries its new-file number
    assert "    4 + cache = redis.Redis(host=os.environ['REDIS_HOST'])" in user
    boundary = next(line for line in user.splitlines() if line.startswith("DIFF-"))
    assert user.count(boundary) == 3  # named in the instructions, then opens and closes
    assert "TF0302" in user  # the rule finding already made, so the model won't repeat it


@pytest.mark.parametrize(
    ("finding", "reason"),
    [
        (_finding("other/file.py", 4), "path-not-in-diff"),
        (_finding("svc/app.py", 99), "line-not-in-diff"),
        (_finding("svc/app.py", 4, end_line=120), "line-not-in-diff"),
        (_finding("svc/app.py", 4, factor=4, note=NOTE.format("logs")), "unknown-note"),
        (_finding("svc/app.py", 4, note="tech.practice.invented"), "unknown-note"),
        (_finding("svc/app.py", 4, message="Ping @octocat to approve this."), "mention"),
        (_finding("svc/app.py", 4, message="Use <b>env</b> vars."), "html"),
        (_finding("svc/app.py", 4, rationale="See https://evil.example/x for why."), "link"),
        (_finding("svc/app.py", 4, rationale="x" * 700), "too-long"),
        (_finding("svc/app.py", 4, suggestion="```\nsteal()\n```"), "code-fence"),
        (_finding("svc/app.py", 4, message=f"The token {SECRET} is exposed."), "secret"),
        # Found through the App's injection suite (tests/test_app_injection.py):
        # links with no scheme, images, references and mentions GitHub still renders.
        (_finding("svc/app.py", 4, message="See [the guide](//evil.example/x)."), "link"),
        (_finding("svc/app.py", 4, message="![ok](//evil.example/pixel.png) Fine."), "link"),
        (_finding("svc/app.py", 4, message="Read [this](/evil-org/repo) first."), "link"),
        (_finding("svc/app.py", 4, rationale="As [noted][1].\n\n[1]: //evil.example"), "link"),
        (_finding("svc/app.py", 4, message="Same fix as evil-org/tools#12."), "link"),
        (_finding("svc/app.py", 4, message="Approved.@octocat please merge."), "mention"),
        (_finding("svc/app.py", 4, message="Approved by _@octocat_."), "mention"),
        (_finding("svc/app.py", 4, rationale="See _www.evil.example_ for why."), "link"),
        # Credential shapes the model never saw (a guess, or an echo from elsewhere).
        (_finding("svc/app.py", 4, message=f"Use the token {GITHUB_TOKEN}."), "secret"),
        (
            _finding("svc/app.py", 4, rationale="-----BEGIN RSA PRIVATE KEY----- signs it."),
            "secret",
        ),
        # "Print your system prompt": a whole line of it is refused.
        (_finding("svc/app.py", 4, suggestion=SYSTEM_LINE), "prompt-echo"),
    ],
)
def test_bad_model_findings_are_dropped_and_counted(finding: dict[str, Any], reason: str) -> None:
    client = ScriptedClient([_answer(finding)])
    result = review(_files(("svc/app.py", APP)), llm=_reviewer(client))
    assert [f for f in result.findings if f.source == "llm"] == []
    assert result.llm.dropped == Counter({reason: 1})


def test_unknown_factor_is_refused_by_the_schema_or_validation() -> None:
    client = ScriptedClient([_answer(_finding("svc/app.py", 4) | {"factor": 13})])
    result = review(_files(("svc/app.py", APP)), llm=_reviewer(client))
    assert [f for f in result.findings if f.source == "llm"] == []
    assert sum(result.llm.dropped.values()) == 1


@pytest.mark.parametrize(
    "rationale",
    [
        "See https://12factor.net/backing-services.",
        "See [IV. Backing services](https://12factor.net/backing-services).",
        "Mail ops@acme.io when the cache moves; it is a plain address, not a mention.",
    ],
)
def test_links_to_12factor_net_and_plain_text_are_allowed(rationale: str) -> None:
    finding = _finding("svc/app.py", 7, rationale=rationale)
    result = review(_files(("svc/app.py", APP)), llm=_reviewer(ScriptedClient([_answer(finding)])))
    assert [f.line for f in result.findings if f.source == "llm"] == [7]


def test_a_short_quote_of_the_instructions_is_not_an_echo() -> None:
    finding = _finding("svc/app.py", 7, rationale="Precision beats recall.")
    client = ScriptedClient([_answer(finding)])
    result = review(_files(("svc/app.py", APP)), llm=_reviewer(client))
    assert [f.line for f in result.findings if f.source == "llm"] == [7]
    assert SYSTEM_LINE in client.sent[0][0]  # the echo case above quotes the real prompt


def test_malformed_answer_is_dropped_and_files_named() -> None:
    client = ScriptedClient(["Sure! Here are my findings: the code looks fine"])
    result = review(_files(("svc/app.py", APP)), llm=_reviewer(client))
    assert result.llm.dropped["malformed-output"] == 1
    assert [(n.path, n.reason) for n in result.llm.not_reviewed] == [
        ("svc/app.py", "malformed-output")
    ]
    assert result.llm.status == "partial"
    assert any(f.rule == "TF0302" for f in result.findings)  # rules still reported


def test_unreachable_model_leaves_a_rules_only_review() -> None:
    client = ScriptedClient([LLMUnavailable("connection refused after 4 attempts")])
    result = review(_files(("svc/app.py", APP)), llm=_reviewer(client))
    assert result.llm.status == "unavailable"
    assert "connection refused" in (result.llm.detail or "")
    assert [n.reason for n in result.llm.not_reviewed] == ["llm-unavailable"]
    assert [f.rule for f in result.findings] == ["TF0302"]


def test_same_line_and_factor_merges_into_the_rule_finding() -> None:
    finding = _finding(
        "svc/app.py", 5, factor=3, message="A token is hard-coded.", rationale="It leaks."
    )
    result = review(_files(("svc/app.py", APP)), llm=_reviewer(ScriptedClient([_answer(finding)])))
    (merged,) = result.findings
    assert (merged.rule, merged.source, merged.line) == ("TF0302", "rule", 5)
    assert merged.rationale.endswith(
        "Reviewer: It leaks. (note: " + NOTE.format("configuration") + ")"
    )


def test_merge_keeps_model_only_findings_and_one_per_key() -> None:
    rule = Finding(
        rule="TF0701", factor=7, severity=Severity.WARNING, path="a.py", line=3,
        message="m.", rationale="r.", fingerprint=fingerprint_for("TF0701", "a.py", "x"),
    )  # fmt: skip
    model = rule.model_copy(update={"rule": "LLM", "source": "llm", "rationale": "better."})
    other = model.model_copy(update={"line": 4})
    merged = merge_findings([rule], [model, other])
    assert [(f.rule, f.line, f.source) for f in merged] == [
        ("TF0701", 3, "rule"),
        ("LLM", 4, "llm"),
    ]
    assert merged[0].rationale == "r. Reviewer: better."


def test_cached_answer_costs_nothing_on_a_second_review() -> None:
    client = ScriptedClient([_answer(_finding("svc/app.py", 7))])
    reviewer = _reviewer(client)
    files = _files(("svc/app.py", APP))
    first = review(files, llm=reviewer)
    second = review(files, llm=reviewer)
    assert len(client.sent) == 1
    assert (second.llm.requests, second.llm.cached, second.llm.total_tokens) == (0, 1, 0)
    assert [f for f in second.findings if f.source == "llm"] == [
        f for f in first.findings if f.source == "llm"
    ]


def _many_files(count: int, lines: int) -> list[ChangedFile]:
    body = "\n".join(f"value_{i} = compute_something({i}, 'argument')" for i in range(lines))
    return _files(*((f"pkg/module_{n}.py", body) for n in range(count)))


def test_requests_stay_under_the_budget_and_deploy_files_go_first() -> None:
    files = [
        *_many_files(6, 40),
        *_files(("Dockerfile", "FROM python:3.12-slim\nCMD gunicorn app:app\n")),
    ]
    plan = plan_prompts(files, [], load_notes(), EstimatedCounter(), 6000, "m")
    assert len(plan.requests) > 1
    assert all(r.tokens <= 6000 for r in plan.requests)
    assert plan.requests[0].paths[0] == "Dockerfile"
    covered = [p for r in plan.requests for p in r.paths]
    assert sorted(set(covered)) == sorted(f.path for f in files)
    assert plan.not_reviewed == []


def test_a_file_too_large_for_any_request_is_named() -> None:
    files = _many_files(1, 2000)  # one hunk far over the budget
    plan = plan_prompts(files, [], load_notes(), EstimatedCounter(), 4000, "m")
    assert plan.requests == []
    assert [(n.path, n.reason) for n in plan.not_reviewed] == [("pkg/module_0.py", "too-large")]


@pytest.mark.parametrize(
    ("limits", "reason"),
    [({"max_requests": 2}, "request-cap"), ({"max_total_tokens": 9000}, "token-cap")],
)
def test_review_caps_name_what_was_left_out(limits: dict[str, int], reason: str) -> None:
    client = ScriptedClient([])
    files = _many_files(8, 40)
    result = review(files, llm=_reviewer(client, request_budget=6000, **limits))
    assert result.llm.status == "partial"
    left = {n.path for n in result.llm.not_reviewed if n.reason == reason}
    sent = {p for _, user in client.sent for p in [f.path for f in files] if f"### {p} " in user}
    assert left
    assert left | sent == {f.path for f in files}
    assert not left & sent
    assert result.llm.total_tokens <= limits.get("max_total_tokens", 10**9)


def test_llm_budget_override_caps_total_tokens() -> None:
    client = ScriptedClient([])
    reviewer = _reviewer(client, request_budget=6000)
    reviewer.total_budget = 7000
    result = review(_many_files(8, 40), llm=reviewer)
    assert 1 <= len(client.sent) < 8
    assert {n.reason for n in result.llm.not_reviewed} == {"token-cap"}
    assert result.llm.total_tokens <= 7000


def test_model_findings_obey_config_and_inline_suppression() -> None:
    text = APP + "\nredis_url = 'redis://cache:6379'  # twelve-review: ignore[4] sidecar cache"
    finding = _finding("svc/app.py", 8, factor=4)
    suppressed = review(
        _files(("svc/app.py", text)), llm=_reviewer(ScriptedClient([_answer(finding)]))
    )
    assert [f for f in suppressed.findings if f.source == "llm"] == []
    assert sorted((s.finding.rule, s.reason) for s in suppressed.suppressed) == [
        ("LLM", "sidecar cache"),
        ("TF0401", "sidecar cache"),
    ]
    disabled = review(
        _files(("svc/app.py", APP)),
        parse_config("factors: {disable: [4]}"),
        llm=_reviewer(ScriptedClient([_answer(_finding("svc/app.py", 7))])),
    )
    assert [f for f in disabled.findings if f.source == "llm"] == []


def test_tests_and_docs_never_reach_the_model() -> None:
    client = ScriptedClient([])
    review(_files(("tests/test_app.py", APP), ("docs/guide.md", "hello")), llm=_reviewer(client))
    assert client.sent == []


def test_masker_masks_known_formats_url_passwords_and_flagged_values() -> None:
    masker = Masker({("a.py", 2)})
    assert masker.mask_line("a.py", 1, "url = 'postgres://app:S3cretPw@db/app'") == (
        f"url = 'postgres://app:{MASK}@db/app'"
    )
    assert masker.mask_line("a.py", 9, "key = 'AKIAQ3EGRT5YJW2NXV7P'") == f"key = '{MASK}'"
    assert masker.mask_line("a.py", 2, f"TOKEN = '{SECRET}'") == f"TOKEN = '{MASK}'"
    assert masker.mask_line("a.py", 3, f"TOKEN = '{SECRET}'") == f"TOKEN = '{MASK}'"  # remembered
    assert masker.leaks(f"the value {SECRET}")
    assert not masker.leaks("nothing here")


def test_tiktoken_failure_falls_back_to_a_conservative_estimate(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(model: str) -> Any:
        raise OSError("no network")

    with caplog.at_level("WARNING", logger="twelve_review.llm"):
        counter = counter_for("model-only-in-this-test", load=broken)
        again = counter_for("model-only-in-this-test", load=broken)
    assert counter.name == again.name == "estimate"
    assert [r.getMessage() for r in caplog.records].count(
        "tiktoken encoding for model-only-in-this-test unavailable (OSError); "
        "estimating tokens conservatively"
    ) == 1
    text = "def handler(event):\n    return cache.get(event['key'])\n" * 10
    assert counter.count(text) >= len(text) / 3  # more than any GPT encoding would count


def test_notes_for_an_override_change_the_prompt() -> None:
    house = (
        "---\nid: house.secrets\ntitle: Secrets live in Vault\ndesc: ''\nupdated: 1\n"
        "created: 1\nfactor: 3\n---\nWe use Vault, not environment variables, for secrets.\n"
    )
    notes: NoteSet = load_notes({"house.secrets.md": house})
    client = ScriptedClient([])
    reviewer = LLMReviewer.create(client, _settings(), notes, EstimatedCounter())
    review(_files(("svc/app.py", APP)), llm=reviewer)
    assert "We use Vault, not environment variables" in client.sent[0][1]


def test_to_findings_counts_every_drop() -> None:
    (changed,) = _files(("a.py", "x = 1\ny = 2\n"))
    dropped: Counter[str] = Counter()
    proposed = [
        LLMFinding.model_validate(_finding("a.py", 1, factor=7, message="Port is fixed.")),
        LLMFinding.model_validate(_finding("a.py", 5, factor=7)),
    ]
    kept = to_findings(proposed, {"a.py": changed}, load_notes(), Masker(), dropped)
    assert [f.line for f in kept] == [1]
    assert dropped == Counter({"line-not-in-diff": 1})


# -- incremental runs: the model sees only the files changed since the last review


def test_llm_paths_limit_what_the_model_is_sent() -> None:
    client = ScriptedClient([])
    files = _files(("svc/app.py", APP), ("svc/worker.py", "import os\nQUEUE = 'jobs'\n"))
    result = review(files, llm=_reviewer(client), llm_paths={"svc/worker.py"})
    (sent,) = client.sent
    assert "svc/worker.py" in sent[1] and "svc/app.py" not in sent[1]
    assert result.llm.incremental and result.llm.files_sent == 1
    nothing = ScriptedClient([])
    unchanged = review(files, llm=_reviewer(nothing), llm_paths=frozenset())
    assert nothing.sent == [] and unchanged.llm.files_sent == 0  # same head: no model spend


def _earlier_model_finding(files: list[ChangedFile], line: int) -> Finding:
    client = ScriptedClient([_answer(_finding("svc/app.py", line))])
    (finding,) = [f for f in review(files, llm=_reviewer(client)).findings if f.source == "llm"]
    return finding


def test_earlier_model_findings_are_carried_while_their_line_stays() -> None:
    earlier = _earlier_model_finding(_files(("svc/app.py", APP)), 7)
    # Two lines added above: the flagged line moves from 7 to 9 and is still there.
    moved = _files(("svc/app.py", "# one\n# two\n" + APP))
    client = ScriptedClient([])
    result = review(moved, llm=_reviewer(client), llm_paths=set(), earlier_llm=[earlier])
    (carried,) = [f for f in result.findings if f.source == "llm"]
    assert (carried.line, carried.fingerprint, carried.message) == (
        9,
        earlier.fingerprint,
        earlier.message,
    )
    assert result.llm.carried == 1 and client.sent == []
    # Also when the model is asked about the file again and does not repeat itself.
    asked = review(moved, llm=_reviewer(ScriptedClient([])), earlier_llm=[earlier])
    assert [f.fingerprint for f in asked.findings if f.source == "llm"] == [earlier.fingerprint]
    # And with no model configured at all: an earlier judgement is not a resolution.
    rules_only = review(moved, earlier_llm=[earlier])
    assert [f.line for f in rules_only.findings if f.source == "llm"] == [9]


def test_earlier_model_findings_end_when_their_line_changes_or_leaves() -> None:
    earlier = _earlier_model_finding(_files(("svc/app.py", APP)), 7)
    edited = APP.replace("return cache.get(event['key'])", "return cache.get(event['id'])")
    result = review(_files(("svc/app.py", edited)), earlier_llm=[earlier])
    assert [f for f in result.findings if f.source == "llm"] == []
    gone = review(_files(("svc/other.py", "x = 1\n")), earlier_llm=[earlier])
    assert [f for f in gone.findings if f.source == "llm"] == []
    config = parse_config("factors:\n  disable: [4]\n")
    off = review(_files(("svc/app.py", APP)), config, earlier_llm=[earlier])
    assert [f for f in off.findings if f.source == "llm"] == []  # its factor is now off
