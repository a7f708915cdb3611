"""Every fixture page and feed against its expected JSON (tests/fixtures/README.md states the facts)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REKOGNITION
from watcher.model import Feed, Kind, Page, PolicyStatus
from watcher.parse import parse

PAGES = ["page-v1", "page-v2", "page-v3", "page-v4", "page-legacy"]
FEEDS = ["doc-history-v1", "doc-history-v2"]


def _page(name: str) -> Page:
    parsed = parse((REKOGNITION / f"{name}.html").read_bytes())
    assert isinstance(parsed, Page)
    return parsed


def _expected(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((REKOGNITION / f"{name}.expected.json").read_text())
    return data


@pytest.mark.parametrize("name", PAGES)
def test_it_finds_the_expected_policies_in_page_order(name: str) -> None:
    page = _page(name)
    assert page.kind is Kind.SERVICE_PAGE
    assert [p.name for p in page.policies] == _expected(name)["policy_names_in_order"]


@pytest.mark.parametrize("name", PAGES)
def test_it_extracts_exactly_the_expected_actions(name: str) -> None:
    policies = {p.name: p for p in _page(name).policies}
    for policy_name, want in _expected(name)["policies"].items():
        got = policies[policy_name]
        assert got.actions is not None
        assert list(got.actions.allow) == want["actions_allow"]
        assert list(got.actions.deny) == want["actions_deny"]
        assert list(got.actions.not_actions) == want["not_actions"]
        assert got.actions.count == want["action_count"]
        assert got.json_blocks == want["json_blocks_in_section"]
        assert got.document_block_index == want["document_block_index"]


@pytest.mark.parametrize("name", PAGES)
def test_it_flags_repaired_json_with_its_defects(name: str) -> None:
    policies = {p.name: p for p in _page(name).policies}
    for policy_name, want in _expected(name)["policies"].items():
        got = policies[policy_name]
        if want["strict_json_valid"]:
            assert got.status is PolicyStatus.OK
            assert got.defects == ()
        else:
            assert got.status is PolicyStatus.REPAIRED
            assert list(got.defects) == want["json_defects"]


@pytest.mark.parametrize("name", PAGES)
def test_it_reads_every_updates_row_with_iso_dates(name: str) -> None:
    got = [{"change": u.change, "date": u.date, "date_raw": u.date_raw} for u in _page(name).updates]
    assert got == _expected(name)["updates"]


@pytest.mark.parametrize(
    ("name", "policies", "rows", "read_only"),
    [
        ("page-v1", 4, 5, 30),
        ("page-v2", 4, 6, 32),
        ("page-v3", 5, 8, 32),
        ("page-v4", 5, 8, 32),
        ("page-legacy", 4, 5, 30),
    ],
)
def test_the_readme_facts_hold(name: str, policies: int, rows: int, read_only: int) -> None:
    page = _page(name)
    assert len(page.policies) == policies
    assert len(page.updates) == rows
    by_name = {p.name: p for p in page.policies}
    actions = by_name["AmazonRekognitionReadOnlyAccess"].actions
    assert actions is not None and len(actions.allow) == read_only


def test_the_page_title_service_and_feed_are_read() -> None:
    page = _page("page-v1")
    assert page.title == "AWS managed policies for Amazon Rekognition"
    assert page.service == "Amazon Rekognition"
    assert page.feed_url is not None and page.feed_url.endswith("rekognition-document-history.rss")
    assert page.policies[0].anchor == "security-iam-awsmanpol-AmazonRekognitionFullAccess"
    assert page.policies[0].description.startswith("AmazonRekognitionFullAccess grants full access")


def test_updates_rows_name_the_actions_and_policies_they_mention() -> None:
    newest = _page("page-v2").updates[0]
    assert newest.policies == ("AmazonRekognitionReadOnlyAccess",)
    # the description really lists the typo "ListMediaAnalysisJob": it is kept as written
    assert newest.actions == ("rekognition:GetMediaAnalysisJob", "rekognition:ListMediaAnalysisJob")
    assert newest.anchor == "security-iam-awsmanpol-updates"


@pytest.mark.parametrize(("a", "b"), [("page-v3", "page-v4"), ("page-v1", "page-legacy")])
def test_pages_that_differ_only_in_chrome_hash_equal(a: str, b: str) -> None:
    assert _page(a).content_hash == _page(b).content_hash


@pytest.mark.parametrize(("a", "b"), [("page-v1", "page-v2"), ("page-v2", "page-v3")])
def test_pages_with_new_content_hash_differently(a: str, b: str) -> None:
    assert _page(a).content_hash != _page(b).content_hash


def test_the_markdown_source_gives_the_same_policies_and_actions_as_the_html() -> None:
    md = parse((REKOGNITION / "seed.md").read_bytes())
    html = _page("page-v1")
    assert isinstance(md, Page)
    assert md.kind is Kind.MARKDOWN_PAGE
    assert [(p.name, p.anchor, p.status, p.actions) for p in md.policies] == [
        (p.name, p.anchor, p.status, p.actions) for p in html.policies
    ]
    assert [p.document for p in md.policies] == [p.document for p in html.policies]
    assert [(u.date, u.date_raw) for u in md.updates] == [(u.date, u.date_raw) for u in html.updates]
    assert md.title == html.title


@pytest.mark.parametrize("name", FEEDS)
def test_it_reads_every_feed_item(name: str) -> None:
    parsed = parse((REKOGNITION / f"{name}.rss").read_bytes())
    want = _expected(name)
    assert isinstance(parsed, Feed)
    assert parsed.title == want["channel_title"]
    assert parsed.last_build == want["last_build_date"]
    got = [
        {
            "title": i.title,
            "link": i.link,
            "pub_date": i.published,
            "guid": i.guid,
            "description_text": i.summary,
        }
        for i in parsed.items
    ]
    assert got == [{k: item[k] for k in got[0]} for item in want["items"]]
    assert len(parsed.items) == want["item_count"]


def test_the_second_feed_adds_exactly_one_guid() -> None:
    def guids(name: str) -> set[str]:
        parsed = parse((REKOGNITION / f"{name}.rss").read_bytes())
        assert isinstance(parsed, Feed)
        return {i.guid for i in parsed.items}

    assert guids("doc-history-v2") - guids("doc-history-v1") == {
        "https://docs.aws.amazon.com/rekognition/latest/dg/#AWS_managed_policy_updates_2023-10-31"
    }
    assert guids("doc-history-v1") <= guids("doc-history-v2")


def test_every_fixture_file_is_covered() -> None:
    covered = {f"{n}.html" for n in PAGES} | {f"{n}.rss" for n in FEEDS} | {"seed.md"}
    files = {p.name for p in Path(REKOGNITION).iterdir() if not p.name.endswith(".expected.json")}
    assert files == covered
