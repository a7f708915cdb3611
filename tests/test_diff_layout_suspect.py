"""Semantic diff: a broken or re-laid-out page is layout suspect or document moved, not a removal (DESIGN §3.3)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.diff_helpers import CUSTOM_LABELS, FULL, READ_ONLY, SERVICE_ROLE, fixture_page, policy_of, with_policy
from watcher.diff import Change, ChangeKind, diff_pages, layout_suspect
from watcher.model import Page, PolicyStatus


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
