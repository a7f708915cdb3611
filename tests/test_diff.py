"""The semantic diff (watcher.diff): pure functions, no database.

The fixture sequence (tests/fixtures/README.md, "Differences between versions") first, then the rules that keep
alerts honest (DESIGN §3) on pages built from the fixtures with ``dataclasses.replace`` or from small documents.
"""

from __future__ import annotations

import json
from dataclasses import replace
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import REKOGNITION
from watcher.canonical import actions_of, canonical_policy
from watcher.diff import (
    Change,
    ChangeKind,
    Grant,
    diff_pages,
    diff_policies,
    grants_of,
    layout_suspect,
    new_feed_items,
    new_update_rows,
    text_hash,
    update_row_keys,
)
from watcher.model import Feed, FeedItem, Kind, Page, Policy, PolicyStatus, UpdateRow
from watcher.parse import parse

PAGES = ("page-v1", "page-v2", "page-v3", "page-v4", "page-legacy")

FULL = "AmazonRekognitionFullAccess"
READ_ONLY = "AmazonRekognitionReadOnlyAccess"
SERVICE_ROLE = "AmazonRekognitionServiceRole"
CUSTOM_LABELS = "AmazonRekognitionCustomLabelsFullAccess"
FACE_LIVENESS = "AmazonRekognitionFaceLivenessAccess"

Summary = tuple[ChangeKind, str | None, tuple[Grant, ...]]


@cache
def fixture_page(name: str) -> Page:
    parsed = parse((REKOGNITION / f"{name}.html").read_bytes())
    assert isinstance(parsed, Page)
    return parsed


@cache
def fixture_feed(name: str) -> Feed:
    parsed = parse((REKOGNITION / f"{name}.rss").read_bytes())
    assert isinstance(parsed, Feed)
    return parsed


def summary(changes: list[Change]) -> list[Summary]:
    return [(c.kind, c.policy, c.grants) for c in changes]


def policy_of(page: Page, name: str) -> Policy:
    (found,) = [p for p in page.policies if p.name == name]
    return found


def with_policy(page: Page, name: str, **changes: Any) -> Page:
    """``page`` with the policy ``name`` replaced by ``dataclasses.replace(policy, **changes)``."""
    return replace(page, policies=tuple(replace(p, **changes) if p.name == name else p for p in page.policies))


def without_policies(page: Page, *names: str) -> Page:
    return replace(page, policies=tuple(p for p in page.policies if p.name not in names))


def moved(page: Page, *names: str) -> Page:
    """``page`` with the documents of ``names`` replaced by links, as a re-laid-out page would publish them."""
    for name in names:
        page = with_policy(
            page,
            name,
            status=PolicyStatus.NO_DOCUMENT,
            document=None,
            raw_json=None,
            actions=None,
            json_blocks=0,
            document_block_index=None,
            document_link=f"https://docs.aws.amazon.com/aws-managed-policy/latest/reference/{name}.html",
        )
    return page


def unparseable(page: Page, name: str, raw: str) -> Page:
    return with_policy(
        page,
        name,
        status=PolicyStatus.UNPARSEABLE,
        defects=("invalid_json",),
        raw_json=raw,
        document=None,
        actions=None,
    )


def policy(name: str, *statements: dict[str, Any], status: PolicyStatus = PolicyStatus.OK) -> Policy:
    """A policy as the parser would produce it from a document with ``statements``."""
    document = canonical_policy({"Version": "2012-10-17", "Statement": list(statements)})
    return Policy(
        name=name,
        anchor=f"security-iam-awsmanpol-{name}",
        description=f"{name} grants things.",
        status=status,
        raw_json=json.dumps(document, indent=4),
        document=document,
        actions=actions_of(document),
        json_blocks=1,
        document_block_index=0,
    )


def page_of(*policies: Policy, updates: tuple[UpdateRow, ...] = ()) -> Page:
    return Page(
        kind=Kind.SERVICE_PAGE,
        url="https://docs.aws.amazon.com/example/latest/dg/security-iam-awsmanpol.html",
        title="AWS managed policies for Example",
        service="Example",
        policies=policies,
        updates=updates,
    )


def allow(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def row(change: str, date: str | None, description: str = "", date_raw: str | None = None) -> UpdateRow:
    return UpdateRow(change=change, description=description or change, date=date, date_raw=date_raw or date)


# ---------------------------------------------------------------------------------------------------------------------
# The fixture sequence v1 → v2 → v3 → v4 (and the legacy layout)
# ---------------------------------------------------------------------------------------------------------------------


def test_first_sight_of_a_page_is_one_silent_baseline_change_and_no_change_per_action() -> None:
    assert diff_pages(None, fixture_page("page-v1")) == [
        Change(
            ChangeKind.BASELINE,
            detail={
                "title": "AWS managed policies for Amazon Rekognition",
                "policies": 4,
                "updates": 5,
                "repaired": [CUSTOM_LABELS],
                "unparseable": [],
                "no_document": [],
            },
        )
    ]


def test_v1_to_v2_adds_exactly_the_two_media_analysis_actions_and_one_update_row() -> None:
    v2 = fixture_page("page-v2")
    changes = diff_pages(fixture_page("page-v1"), v2)
    assert summary(changes) == [
        (
            ChangeKind.ACTIONS_ADDED,
            READ_ONLY,
            (("Allow", "rekognition:GetMediaAnalysisJob"), ("Allow", "rekognition:ListMediaAnalysisJobs")),
        ),
        (ChangeKind.UPDATE_ROW_ADDED, READ_ONLY, ()),
    ]
    assert changes[0].detail == {}
    assert changes[1].detail == {
        "key": update_row_keys(v2.updates)[0],
        "change": "Actions involving media analysis jobs have been added to the following managed policy: "
        "AWS managed policy: AmazonRekognitionReadOnlyAccess",
        "description": v2.updates[0].description,
        "date": "2023-10-31",
        "date_raw": "October 31st, 2023",
        # the row's text really spells "ListMediaAnalysisJob": the row is reported as written
        "actions": ["rekognition:GetMediaAnalysisJob", "rekognition:ListMediaAnalysisJob"],
        "policies": [READ_ONLY],
        "anchor": "security-iam-awsmanpol-updates",
    }


def test_v2_to_v3_adds_a_policy_removes_one_action_and_adds_two_update_rows() -> None:
    changes = diff_pages(fixture_page("page-v2"), fixture_page("page-v3"))
    assert summary(changes) == [
        (ChangeKind.ACTIONS_REMOVED, CUSTOM_LABELS, (("Allow", "rekognition:DistributeDatasetEntries"),)),
        (
            ChangeKind.POLICY_ADDED,
            FACE_LIVENESS,
            (
                ("Allow", "rekognition:CreateFaceLivenessSession"),
                ("Allow", "rekognition:GetFaceLivenessSessionResults"),
                ("Allow", "rekognition:StartFaceLivenessSession"),
            ),
        ),
        (ChangeKind.UPDATE_ROW_ADDED, FACE_LIVENESS, ()),
        (ChangeKind.UPDATE_ROW_ADDED, CUSTOM_LABELS, ()),
    ]
    assert changes[1].detail == {"status": "ok"}
    assert [(c.detail["date"], c.detail["change"]) for c in changes[2:]] == [
        ("2024-03-04", "New policy added: AWS managed policy: AmazonRekognitionFaceLivenessAccess"),
        (
            "2024-03-04",
            "Action removed from the following managed policy: AWS managed policy: "
            "AmazonRekognitionCustomLabelsFullAccess",
        ),
    ]


def test_v2_to_v3_reports_no_parse_repaired_because_the_policy_was_already_repaired_with_the_same_defects() -> None:
    before = policy_of(fixture_page("page-v2"), CUSTOM_LABELS)
    after = policy_of(fixture_page("page-v3"), CUSTOM_LABELS)
    assert (
        (before.status, before.defects) == (after.status, after.defects) == (PolicyStatus.REPAIRED, ("missing_comma",))
    )
    assert text_hash(before.raw_json) != text_hash(after.raw_json)  # another text, the same defects
    kinds = {c.kind for c in diff_pages(fixture_page("page-v2"), fixture_page("page-v3"))}
    assert ChangeKind.PARSE_REPAIRED not in kinds


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("page-v3", "page-v4"),  # chrome only
        ("page-v1", "page-legacy"),  # the same content in the other layout
        ("page-legacy", "page-v1"),
        ("page-v1", "page-v1"),
    ],
)
def test_pages_that_differ_only_in_chrome_or_layout_give_no_changes(old: str, new: str) -> None:
    assert diff_pages(fixture_page(old), fixture_page(new)) == []


def test_going_back_from_v2_to_v1_removes_the_two_actions_and_adds_no_update_rows() -> None:
    assert summary(diff_pages(fixture_page("page-v2"), fixture_page("page-v1"))) == [
        (
            ChangeKind.ACTIONS_REMOVED,
            READ_ONLY,
            (("Allow", "rekognition:GetMediaAnalysisJob"), ("Allow", "rekognition:ListMediaAnalysisJobs")),
        ),
    ]


# ---------------------------------------------------------------------------------------------------------------------
# A broken page is not a removal (DESIGN §3.3)
# ---------------------------------------------------------------------------------------------------------------------


def test_a_page_that_parses_to_no_policies_is_only_layout_suspect_with_no_removals_and_no_rows() -> None:
    empty = replace(fixture_page("page-v2"), policies=())  # new rows too: they wait for a trustworthy page
    assert diff_pages(fixture_page("page-v1"), empty) == [
        Change(ChangeKind.LAYOUT_SUSPECT, detail={"reason": "the page parses to no policies (it had 4)"})
    ]


def test_a_page_that_never_had_policies_is_not_suspect_when_it_still_has_none() -> None:
    v1 = fixture_page("page-v1")
    assert diff_pages(replace(v1, policies=()), replace(v1, policies=())) == []


@pytest.mark.parametrize(
    ("gone", "want"),
    [
        (
            (READ_ONLY, SERVICE_ROLE, CUSTOM_LABELS),
            [Change(ChangeKind.LAYOUT_SUSPECT, detail={"reason": "3 of 4 policies vanished at once"})],
        ),
        (
            (FULL, READ_ONLY, SERVICE_ROLE, CUSTOM_LABELS),
            [Change(ChangeKind.LAYOUT_SUSPECT, detail={"reason": "the page parses to no policies (it had 4)"})],
        ),
        # exactly half is not "more than half": two real removals still alert
        (
            (FULL, SERVICE_ROLE),
            [
                Change(ChangeKind.POLICY_REMOVED, FULL, (("Allow", "rekognition:*"),)),
                Change(
                    ChangeKind.POLICY_REMOVED,
                    SERVICE_ROLE,
                    (
                        ("Allow", "kinesis:PutRecord"),
                        ("Allow", "kinesis:PutRecords"),
                        ("Allow", "kinesisvideo:GetDataEndpoint"),
                        ("Allow", "kinesisvideo:GetMedia"),
                        ("Allow", "sns:Publish"),
                    ),
                ),
            ],
        ),
        ((FULL,), [Change(ChangeKind.POLICY_REMOVED, FULL, (("Allow", "rekognition:*"),))]),
    ],
    ids=["three-of-four", "four-of-four", "two-of-four", "one-of-four"],
)
def test_losing_more_than_half_of_the_policies_is_layout_suspect_but_real_removals_still_alert(
    gone: tuple[str, ...], want: list[Change]
) -> None:
    v1 = fixture_page("page-v1")
    assert diff_pages(v1, without_policies(v1, *gone)) == want


def test_a_removed_policy_reports_every_grant_it_had() -> None:
    v1 = fixture_page("page-v1")
    (change,) = diff_pages(v1, without_policies(v1, READ_ONLY))
    actions = policy_of(v1, READ_ONLY).actions
    assert actions is not None
    assert change == Change(ChangeKind.POLICY_REMOVED, READ_ONLY, tuple(("Allow", a) for a in actions.allow))
    assert len(change.grants) == 30


def test_most_policies_losing_their_json_in_favour_of_links_is_layout_suspect() -> None:
    v1 = fixture_page("page-v1")
    assert diff_pages(v1, moved(v1, FULL, READ_ONLY, CUSTOM_LABELS)) == [
        Change(
            ChangeKind.LAYOUT_SUSPECT,
            detail={"reason": "3 of 4 policy documents were replaced by links (document moved)"},
        )
    ]


def test_a_single_policy_losing_its_json_in_favour_of_a_link_is_document_moved_not_actions_removed() -> None:
    v1 = fixture_page("page-v1")
    assert diff_pages(v1, moved(v1, READ_ONLY)) == [
        Change(
            ChangeKind.DOCUMENT_MOVED,
            READ_ONLY,
            detail={
                "document_link": "https://docs.aws.amazon.com/aws-managed-policy/latest/reference/"
                "AmazonRekognitionReadOnlyAccess.html"
            },
        )
    ]


def test_a_document_that_stays_a_link_is_not_moved_again_and_coming_back_adds_no_actions() -> None:
    v1 = fixture_page("page-v1")
    linked = moved(v1, READ_ONLY)
    assert diff_pages(linked, linked) == []
    assert diff_pages(linked, v1) == []


def test_layout_suspect_is_none_for_an_ordinary_change() -> None:
    assert layout_suspect(fixture_page("page-v2"), fixture_page("page-v3")) is None


# ---------------------------------------------------------------------------------------------------------------------
# Unknown is not empty (DESIGN §3.5) and repaired JSON
# ---------------------------------------------------------------------------------------------------------------------

BROKEN = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow" "Action": ["rekognition:*"'


def test_a_policy_becoming_unparseable_is_parse_failed_once_and_never_all_actions_removed() -> None:
    v1 = fixture_page("page-v1")
    broken = unparseable(v1, READ_ONLY, BROKEN)
    assert diff_pages(v1, broken) == [
        Change(ChangeKind.PARSE_FAILED, READ_ONLY, detail={"text_hash": text_hash(BROKEN)})
    ]
    # still unparseable with the same text (whitespace aside): nothing more
    assert diff_pages(broken, unparseable(v1, READ_ONLY, "  " + BROKEN.replace(" ", "\n  "))) == []


def test_an_unparseable_policy_whose_text_changes_is_parse_failed_again_but_never_actions_removed() -> None:
    v1 = fixture_page("page-v1")
    other = BROKEN + ', "rekognition:DetectText"'
    assert diff_pages(unparseable(v1, READ_ONLY, BROKEN), unparseable(v1, READ_ONLY, other)) == [
        Change(ChangeKind.PARSE_FAILED, READ_ONLY, detail={"text_hash": text_hash(other)})
    ]


def test_recovering_from_unparseable_adds_no_actions_when_the_old_side_has_none() -> None:
    v1 = fixture_page("page-v1")
    broken = unparseable(v1, READ_ONLY, BROKEN)
    assert policy_of(broken, READ_ONLY).actions is None
    assert diff_pages(broken, v1) == []


def test_a_new_policy_that_is_unparseable_is_added_without_grants() -> None:
    v1 = fixture_page("page-v1")
    new = replace(
        v1, policies=(*v1.policies, replace(policy_of(unparseable(v1, READ_ONLY, BROKEN), READ_ONLY), name="X"))
    )
    assert diff_pages(v1, new) == [Change(ChangeKind.POLICY_ADDED, "X", (), {"status": "unparseable"})]


@pytest.mark.parametrize(
    ("old_status", "old_defects", "old_text", "new_defects", "new_text", "reported"),
    [
        (PolicyStatus.OK, (), "a", ("missing_comma",), "b", True),  # becomes repaired
        (PolicyStatus.REPAIRED, ("missing_comma",), "a", ("missing_comma",), "b", False),  # same defects, other text
        (PolicyStatus.REPAIRED, ("missing_comma",), "a", ("missing_comma",), "a", False),  # nothing changed
        (PolicyStatus.REPAIRED, ("missing_comma",), "a", ("missing_comma", "trailing_comma"), "b", True),
        (PolicyStatus.REPAIRED, ("missing_comma", "trailing_comma"), "a", ("missing_comma",), "b", True),
        # the same defects met in another order in another text are the same defects
        (
            PolicyStatus.REPAIRED,
            ("trailing_comma", "missing_comma"),
            "a",
            ("missing_comma", "trailing_comma"),
            "b",
            False,
        ),
        (PolicyStatus.UNPARSEABLE, ("invalid_json",), "a", ("missing_comma",), "b", True),
    ],
    ids=[
        "ok-to-repaired",
        "same-defects-other-text",
        "unchanged",
        "defect-added",
        "defect-gone",
        "same-defects-other-order",
        "unparseable-to-repaired",
    ],
)
def test_a_repaired_policy_is_reported_once_per_distinct_set_of_defects(
    old_status: PolicyStatus,
    old_defects: tuple[str, ...],
    old_text: str,
    new_defects: tuple[str, ...],
    new_text: str,
    reported: bool,
) -> None:
    base = policy(READ_ONLY, allow("rekognition:DetectText"))
    old = replace(base, status=old_status, defects=old_defects, raw_json=old_text)
    if old_status is PolicyStatus.UNPARSEABLE:
        old = replace(old, document=None, actions=None)
    new = replace(base, status=PolicyStatus.REPAIRED, defects=new_defects, raw_json=new_text)
    want = (
        [
            Change(
                ChangeKind.PARSE_REPAIRED,
                READ_ONLY,
                detail={"defects": list(new_defects), "text_hash": text_hash(new_text)},
            )
        ]
        if reported
        else []
    )
    assert diff_pages(page_of(old), page_of(new)) == want


def test_a_policy_that_becomes_repaired_reports_parse_repaired_beside_its_action_changes() -> None:
    old = policy(READ_ONLY, allow("rekognition:DetectText"))
    new = replace(
        policy(READ_ONLY, allow(["rekognition:DetectText", "rekognition:DetectFaces"])),
        status=PolicyStatus.REPAIRED,
        defects=("missing_comma",),
        raw_json="x",
    )
    assert summary(diff_pages(page_of(old), page_of(new))) == [
        (ChangeKind.PARSE_REPAIRED, READ_ONLY, ()),
        (ChangeKind.ACTIONS_ADDED, READ_ONLY, (("Allow", "rekognition:DetectFaces"),)),
    ]


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


# ---------------------------------------------------------------------------------------------------------------------
# Update rows and feed items
# ---------------------------------------------------------------------------------------------------------------------


def test_two_identical_update_rows_are_two_keys() -> None:
    same = row("Tagging update", "2021-04-02")
    keys = update_row_keys([same, same])
    assert len(set(keys)) == 2
    assert keys[0] == update_row_keys([same])[0]


@pytest.mark.parametrize(
    ("old", "new", "added"),
    [
        pytest.param([], [row("A", "2021-04-02")], [0], id="a-first-row"),
        pytest.param([row("A", "2021-04-02")], [row("A", "2021-04-02"), row("A", "2021-04-02")], [1], id="a-twin"),
        pytest.param(
            [row("A", "2021-04-02"), row("A", "2021-04-02")],
            [row("A", "2021-04-02"), row("A", "2021-04-02")],
            [],
            id="twins-already-known",
        ),
        pytest.param([row("A", "2021-04-02")], [row("A", "2022-07-21")], [0], id="same-change-another-date"),
        pytest.param([row("A", "2021-04-02")], [row("B", "2021-04-02")], [0], id="another-change-same-date"),
        pytest.param(
            [row("A", "2021-04-02", description="old text")],
            [row("A", "2021-04-02", description="new text")],
            [],
            id="an-edited-description-is-the-same-row",
        ),
        pytest.param([row("A  b", "2021-04-02")], [row("A\n b", "2021-04-02")], [], id="whitespace-does-not-count"),
        pytest.param(
            [row("A", None, date_raw="Sometime in 2021")],
            [row("A", None, date_raw="Sometime  in\n2021")],
            [],
            id="an-undated-row-is-keyed-by-its-raw-date",
        ),
        pytest.param(
            [row("A", "2021-04-02"), row("B", "2021-04-02"), row("C", "2022-07-21")],
            [row("C", "2022-07-21"), row("A", "2021-04-02"), row("B", "2021-04-02")],
            [],
            id="reordering-rows-adds-nothing",
        ),
    ],
)
def test_update_rows_are_keyed_by_change_and_date_with_their_occurrence(
    old: list[UpdateRow], new: list[UpdateRow], added: list[int]
) -> None:
    got = new_update_rows(new, set(update_row_keys(old)))
    assert got == [(update_row_keys(new)[i], new[i]) for i in added]


def test_reordering_the_fixture_rows_adds_nothing() -> None:
    v3 = fixture_page("page-v3")
    assert diff_pages(v3, replace(v3, updates=tuple(reversed(v3.updates)))) == []


def test_a_repeated_fixture_row_is_one_new_update_row() -> None:
    v1 = fixture_page("page-v1")
    changes = diff_pages(v1, replace(v1, updates=(v1.updates[0], *v1.updates)))
    assert summary(changes) == [(ChangeKind.UPDATE_ROW_ADDED, None, ())]
    assert changes[0].detail["key"] not in set(update_row_keys(v1.updates))
    assert changes[0].detail["policies"] == [CUSTOM_LABELS, FULL]  # two policies named: no single policy


NEW_GUID = "https://docs.aws.amazon.com/rekognition/latest/dg/#AWS_managed_policy_updates_2023-10-31"


def test_new_feed_items_adds_only_the_unknown_guid() -> None:
    known = {i.guid for i in fixture_feed("doc-history-v1").items}
    assert new_feed_items(fixture_feed("doc-history-v2").items, known) == [
        Change(
            ChangeKind.FEED_ITEM_ADDED,
            detail={
                "guid": NEW_GUID,
                "title": "AWS managed policy updates",
                "link": "https://docs.aws.amazon.com/rekognition/latest/dg/security-iam-awsmanpol.html",
                "published": "2023-10-31",
                "summary": fixture_feed("doc-history-v2").items[0].summary,
            },
        )
    ]


def test_new_feed_items_adds_nothing_when_every_guid_is_known() -> None:
    items = fixture_feed("doc-history-v2").items
    assert new_feed_items(items, {i.guid for i in items}) == []
    assert new_feed_items((), set()) == []


def test_a_guid_repeated_in_one_feed_is_added_once() -> None:
    first = FeedItem(guid="g", title="First", link=None, published="2024-01-01", summary="")
    again = replace(first, title="Again")
    other = replace(first, guid="h", title="Other")
    got = new_feed_items([first, again, other], set())
    assert [(c.detail["guid"], c.detail["title"]) for c in got] == [("g", "First"), ("h", "Other")]


# ---------------------------------------------------------------------------------------------------------------------
# Property: the order of policies is never a change
# ---------------------------------------------------------------------------------------------------------------------


@st.composite
def reordered_fixture_pages(draw: st.DrawFn) -> tuple[Page, Page]:
    page = fixture_page(draw(st.sampled_from(PAGES)))
    order = draw(st.permutations(page.policies))
    return page, replace(page, policies=tuple(order))


@settings(max_examples=60, deadline=None)
@given(reordered_fixture_pages())
def test_reordering_policies_is_never_a_change(pages: tuple[Page, Page]) -> None:
    page, reordered = pages
    assert diff_pages(page, page) == []
    assert diff_pages(reordered, reordered) == []
    assert diff_pages(page, reordered) == []
    assert diff_pages(reordered, page) == []
    assert diff_policies(page, reordered) == []
