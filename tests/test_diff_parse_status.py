"""Semantic diff: unparseable is unknown, not empty (DESIGN §3.5), and repaired JSON is reported once per defects."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.diff_helpers import READ_ONLY, allow, fixture_page, page_of, policy, policy_of, summary, with_policy
from watcher.diff import Change, ChangeKind, diff_pages, text_hash
from watcher.model import Page, PolicyStatus


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
