"""Semantic diff of actions (case, effects, NotAction) and statements (Resource and Condition)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.diff_helpers import Summary, allow, page_of, policy, summary
from tests.property_helpers import FAST
from watcher.canonical import statements
from watcher.diff import Change, ChangeKind, _rescoped, diff_pages, grants_of
from watcher.model import Policy

# ---------------------------------------------------------------------------------------------------------------------
# Actions: case, effects, NotAction; statements: Resource and Condition
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "want"),
    [
        pytest.param(
            [allow("S3:GetObject")],
            [allow("s3:getobject")],
            [],
            id="action-names-compare-case-insensitively",
        ),
        pytest.param(
            [allow(["s3:GetObject", "S3:GETOBJECT"])],
            [allow("s3:GetObject")],
            [],
            id="duplicates-differing-in-case-are-one-action",
        ),
        pytest.param(
            [allow("s3:GetObject")],
            [allow(["s3:GetObject", "S3:PutObject"])],
            [(ChangeKind.ACTIONS_ADDED, "P", (("Allow", "S3:PutObject"),))],
            id="an-added-action-is-shown-as-published",
        ),
        pytest.param(
            [allow("s3:GetObject")],
            [allow("s3:GetObject"), {"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}],
            [(ChangeKind.ACTIONS_ADDED, "P", (("Deny", "s3:DeleteBucket"),))],
            id="a-denied-action-is-reported-as-deny",
        ),
        pytest.param(
            [allow("s3:GetObject")],
            [allow("s3:GetObject"), {"Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*"}],
            [(ChangeKind.ACTIONS_ADDED, "P", (("NotAction", "iam:*"), ("NotAction", "organizations:*")))],
            id="a-not-action-is-reported-as-not-action",
        ),
        pytest.param(
            [allow("s3:GetObject"), {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}],
            [allow("s3:GetObject")],
            [(ChangeKind.ACTIONS_REMOVED, "P", (("NotAction", "iam:*"),))],
            id="a-removed-not-action-is-reported-as-not-action",
        ),
        pytest.param(
            [allow("s3:GetObject")],
            [{"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"}],
            [
                (ChangeKind.ACTIONS_ADDED, "P", (("Deny", "s3:GetObject"),)),
                (ChangeKind.ACTIONS_REMOVED, "P", (("Allow", "s3:GetObject"),)),
            ],
            id="allow-turning-into-deny-is-one-added-and-one-removed",
        ),
        pytest.param(
            [allow("s3:GetObject")],
            [{**allow("s3:GetObject"), "Sid": "ReadObjects"}],
            [],
            id="a-sid-alone-is-no-change",
        ),
        pytest.param(
            [allow(["s3:GetObject", "s3:PutObject"])],
            [allow("s3:GetObject"), allow("s3:PutObject")],
            [],
            id="splitting-a-statement-with-the-same-resources-is-no-change",
        ),
    ],
)
def test_actions_are_compared_per_effect_and_case_insensitively(
    old: list[dict[str, Any]], new: list[dict[str, Any]], want: list[Summary]
) -> None:
    assert summary(diff_pages(page_of(policy("P", *old)), page_of(policy("P", *new)))) == want


BUCKET_A = "arn:aws:s3:::bucket-a/*"
BUCKET_B = "arn:aws:s3:::bucket-b/*"
SECURE = {"Bool": {"aws:SecureTransport": "true"}}
IN_ORG = {"StringEquals": {"aws:PrincipalOrgID": "o-123"}}


def _statement_change(
    resources_added: tuple[str, ...] = (),
    resources_removed: tuple[str, ...] = (),
    conditions_added: tuple[dict[str, Any], ...] = (),
    conditions_removed: tuple[dict[str, Any], ...] = (),
    actions_affected: tuple[str, ...] = ("s3:GetObject",),
) -> Change:
    return Change(
        ChangeKind.STATEMENT_CHANGED,
        "P",
        detail={
            "resources_added": list(resources_added),
            "resources_removed": list(resources_removed),
            "conditions_added": [json.dumps(c, sort_keys=True) for c in conditions_added],
            "conditions_removed": [json.dumps(c, sort_keys=True) for c in conditions_removed],
            "actions_affected": list(actions_affected),
        },
    )


@pytest.mark.parametrize(
    ("old", "new", "want"),
    [
        pytest.param(
            [allow("s3:GetObject", BUCKET_A)],
            [allow("s3:GetObject", BUCKET_B)],
            [_statement_change(resources_added=(f"Resource:{BUCKET_B}",), resources_removed=(f"Resource:{BUCKET_A}",))],
            id="resource-replaced",
        ),
        pytest.param(
            [allow("s3:GetObject", BUCKET_A)],
            [allow("s3:GetObject", [BUCKET_A, BUCKET_B])],
            [_statement_change(resources_added=(f"Resource:{BUCKET_B}",))],
            id="resource-added",
        ),
        pytest.param(
            [allow("s3:GetObject", "*")],
            [{"Effect": "Allow", "Action": "s3:GetObject", "NotResource": BUCKET_A}],
            [_statement_change(resources_added=(f"NotResource:{BUCKET_A}",), resources_removed=("Resource:*",))],
            id="resource-turned-into-not-resource",
        ),
        pytest.param(
            [allow("s3:GetObject")],
            [allow("s3:GetObject", Condition=SECURE)],
            [_statement_change(conditions_added=(SECURE,))],
            id="condition-added",
        ),
        pytest.param(
            [allow("s3:GetObject", Condition=SECURE)],
            [allow("s3:GetObject", Condition=IN_ORG)],
            [_statement_change(conditions_added=(IN_ORG,), conditions_removed=(SECURE,))],
            id="condition-replaced",
        ),
        pytest.param(
            [allow("s3:GetObject", Condition={"StringEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}})],
            [allow("s3:GetObject", Condition={"StringEquals": {"aws:RequestedRegion": ["eu-west-1", "us-east-1"]}})],
            [],
            id="condition-values-in-another-order-are-no-change",
        ),
    ],
)
def test_a_resource_or_condition_change_with_the_same_actions_is_statement_changed(
    old: list[dict[str, Any]], new: list[dict[str, Any]], want: list[Change]
) -> None:
    assert diff_pages(page_of(policy("P", *old)), page_of(policy("P", *new))) == want


def test_resources_swapped_between_statements_are_statement_changed() -> None:
    # the same actions and the same set of resources, but s3:DeleteObject now reaches the other bucket
    old = policy("P", allow("s3:GetObject", BUCKET_A), allow("s3:DeleteObject", BUCKET_B))
    new = policy("P", allow("s3:GetObject", BUCKET_B), allow("s3:DeleteObject", BUCKET_A))
    assert diff_pages(page_of(old), page_of(new)) == [
        _statement_change(actions_affected=("s3:DeleteObject", "s3:GetObject"))
    ]


def test_new_actions_on_a_new_resource_are_actions_added_and_statement_changed() -> None:
    old = policy("P", allow("s3:GetObject", BUCKET_A))
    new = policy("P", allow("s3:GetObject", BUCKET_A), allow("s3:PutObject", BUCKET_B))
    assert diff_pages(page_of(old), page_of(new)) == [
        Change(ChangeKind.ACTIONS_ADDED, "P", (("Allow", "s3:PutObject"),)),
        _statement_change(resources_added=(f"Resource:{BUCKET_B}",), actions_affected=()),
    ]


def test_grants_of_lists_allow_then_deny_then_not_action() -> None:
    p = policy(
        "P",
        {"Effect": "Deny", "Action": "b:B", "Resource": "*"},
        {"Effect": "Allow", "NotAction": "c:C", "Resource": "*"},
        allow("a:A"),
    )
    assert p.actions is not None
    assert grants_of(p.actions) == [("Allow", "a:A"), ("Deny", "b:B"), ("NotAction", "c:C")]


_ACTIONS = st.sampled_from(["s3:GetObject", "S3:getobject", "s3:PutObject", "iam:PassRole", "ec2:*", "kms:Decrypt"])
_STATEMENTS = st.fixed_dictionaries(
    {
        "Effect": st.sampled_from(["Allow", "Deny"]),
        "Resource": st.sampled_from(["*", BUCKET_A, [BUCKET_A, BUCKET_B]]),
        "Action": st.lists(_ACTIONS, min_size=1, max_size=4, unique=True),
    },
    optional={"Condition": st.sampled_from([{"Bool": {"aws:SecureTransport": "true"}}]), "Sid": st.just("S")},
)


def _scopes_per_action(p: Policy) -> dict[tuple[str, str], set[str]]:
    """The definition: each grant (effect, lower-cased action) with the scopes of every statement holding it."""
    out: dict[tuple[str, str], set[str]] = {}
    for s in statements(p.document or {}):
        scope = json.dumps({k: v for k, v in s.items() if k not in ("Sid", "Action", "NotAction")}, sort_keys=True)
        for action in s["Action"]:
            out.setdefault((s["Effect"], action.lower()), set()).add(scope)
    return out


@FAST
@given(st.lists(_STATEMENTS, max_size=4), st.lists(_STATEMENTS, max_size=4), st.booleans())
def test_rescoped_actions_are_exactly_those_granted_on_both_sides_whose_scopes_differ(
    old_statements: list[dict[str, Any]], new_statements: list[dict[str, Any]], same_start: bool
) -> None:
    old = policy("P", *old_statements)
    new = policy("P", *(old_statements[:1] + new_statements if same_start else new_statements))
    before, after = _scopes_per_action(old), _scopes_per_action(new)
    want = {action for (effect, action), scopes in after.items() if before.get((effect, action), scopes) != scopes}
    assert {a.lower() for a in _rescoped(old, new)} == want
