"""Semantic diff over the fixture sequence v1 → v2 → v3 → v4 (and the legacy layout); policy order never counts."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.diff_helpers import CUSTOM_LABELS, FACE_LIVENESS, READ_ONLY, fixture_page, policy_of, summary
from watcher.diff import Change, ChangeKind, diff_pages, diff_policies, text_hash, update_row_keys
from watcher.model import Page, PolicyStatus

PAGES = ("page-v1", "page-v2", "page-v3", "page-v4", "page-legacy")


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
