"""Semantic diff of update rows (keyed by change, date and occurrence) and feed items (keyed by guid)."""

from __future__ import annotations

from dataclasses import replace
from functools import cache

import pytest

from tests.conftest import REKOGNITION
from tests.diff_helpers import CUSTOM_LABELS, FULL, fixture_page, summary
from watcher.diff import Change, ChangeKind, diff_pages, new_feed_items, new_update_rows, update_row_keys
from watcher.model import Feed, FeedItem, UpdateRow
from watcher.parse import parse


@cache
def fixture_feed(name: str) -> Feed:
    parsed = parse((REKOGNITION / f"{name}.rss").read_bytes())
    assert isinstance(parsed, Feed)
    return parsed


def row(change: str, date: str | None, description: str = "", date_raw: str | None = None) -> UpdateRow:
    return UpdateRow(change=change, description=description or change, date=date, date_raw=date_raw or date)


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
