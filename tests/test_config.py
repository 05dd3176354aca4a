"""The repository config file: every key, and clear errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, FailOn, load_config, parse_config
from bot.findings import Severity

KNOWN = {"TF0301", "TF1101"}


def test_empty_file_is_the_default() -> None:
    config = parse_config("")
    assert config.fail_on is FailOn.ERROR
    assert config.rule_enabled("TF0301", 3)
    assert config.path_selected("anything/at/all.py")


def test_every_key() -> None:
    config = parse_config(
        """
fail-on: warning
factors:
  disable: [8]
rules:
  disable: [tf1101]
  severity:
    TF0301: notice
paths:
  include: ["src/**", "Dockerfile"]
  exclude: ["src/vendor/**"]
request-changes: true
""",
        KNOWN,
    )
    assert config.fail_on is FailOn.WARNING
    assert config.request_changes is True
    assert parse_config("").request_changes is False
    assert not config.rule_enabled("TF0801", 8)
    assert not config.rule_enabled("TF1101", 11)
    assert config.rule_enabled("TF0301", 3)
    assert config.severity_for("TF0301", Severity.ERROR) is Severity.NOTICE
    assert config.severity_for("TF1101", Severity.WARNING) is Severity.WARNING
    assert config.path_selected("src/app.py")
    assert config.path_selected("Dockerfile")
    assert not config.path_selected("src/vendor/lib.py")
    assert not config.path_selected("other/app.py")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fail_on: error", "fail_on: unknown key"),
        ("fail-on: sometimes", "fail-on: Input should be"),
        ("factors: {disable: [13]}", "factors.disable: factor numbers are 1..12"),
        ("factors: {enable: [1]}", "factors.enable: unknown key"),
        ("rules: {disable: [S105]}", "rules.disable: 'S105' is not a rule id"),
        ("rules: {disable: [TF9901]}", "rules.disable: 'TF9901' is not a rule id"),
        ("rules: {disable: [TF0399]}", "rules.disable: unknown rule 'TF0399'"),
        ("rules: {severity: {TF0301: fatal}}", "rules.severity.TF0301: Input should be"),
        ("rules: {severity: {TF0398: notice}}", "rules.severity: unknown rule 'TF0398'"),
        ("paths: {exclude: vendor}", "paths.exclude: Input should be a valid"),
        ("- a list", "expected a mapping at the top level"),
        ("notes: ../outside", "notes: '../outside' must be a folder path inside the repository"),
        ("notes: /etc", "notes: '/etc' must be a folder path inside the repository"),
        ("fail-on: [unclosed", "not valid YAML"),
        ("request-changes: sometimes", "request-changes: Input should be a valid boolean"),
        ("request_changes: true", "request_changes: unknown key"),
    ],
)
def test_bad_config_names_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        parse_config(text, KNOWN)
    assert message in str(excinfo.value)
    assert str(excinfo.value).startswith(".github/twelve-review.yml: ")


def test_fail_on_thresholds() -> None:
    assert FailOn.ERROR.fails(Severity.ERROR)
    assert not FailOn.ERROR.fails(Severity.WARNING)
    assert FailOn.WARNING.fails(Severity.ERROR)
    assert FailOn.NOTICE.fails(Severity.NOTICE)
    assert not FailOn.NEVER.fails(Severity.ERROR)


def test_load_config_reports_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yml")


def test_load_config_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text("bogus: 1\n")
    with pytest.raises(ConfigError, match=r"c\.yml: bogus: unknown key"):
        load_config(path)
