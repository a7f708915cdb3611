"""The pipeline on a real database (SQLite and PostgreSQL): snapshots, versions, events, DESIGN §3 rules."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import REKOGNITION
from tests.history_helpers import at, count, ingest_fixture
from watcher.db.models import Check, Event, EventAction, FeedItemRecord, PolicyVersion, Snapshot, UpdateRowRecord
from watcher.model import Page
from watcher.parse import parse
from watcher.pipeline import ingest

PAGES = ["page-v1.html", "page-v2.html", "page-v3.html", "page-v4.html"]


def _events(sessions: sessionmaker[Session]) -> list[tuple[str, str | None, list[str]]]:
    with sessions() as session:
        rows = session.scalars(select(Event).order_by(Event.id)).all()
        return [(e.kind, e.policy, [g[1] for g in e.payload["grants"]]) for e in rows]


def test_the_fixture_sequence_produces_exactly_the_expected_events(sessions: sessionmaker[Session]) -> None:
    results = [ingest_fixture(sessions, "rekognition", name, hours=i) for i, name in enumerate(PAGES)]
    assert [r.outcome for r in results] == ["baseline", "changed", "changed", "unchanged"]
    assert [r.events for r in results] == [
        ["baseline"],
        ["actions_added", "update_row_added"],
        ["actions_removed", "policy_added", "update_row_added", "update_row_added"],
        [],
    ]
    events = _events(sessions)
    assert events[1] == (
        "actions_added",
        "AmazonRekognitionReadOnlyAccess",
        ["rekognition:GetMediaAnalysisJob", "rekognition:ListMediaAnalysisJobs"],
    )
    assert events[3] == (
        "actions_removed",
        "AmazonRekognitionCustomLabelsFullAccess",
        ["rekognition:DistributeDatasetEntries"],
    )
    assert events[4][0:2] == ("policy_added", "AmazonRekognitionFaceLivenessAccess")
    assert count(sessions, Snapshot) == 3
    assert count(sessions, Check) == 4


def test_first_sight_is_a_silent_baseline_that_records_existing_rows_as_history(
    sessions: sessionmaker[Session],
) -> None:
    result = ingest_fixture(sessions, "rekognition", "page-v1.html")
    assert result.events == ["baseline"]
    assert count(sessions, EventAction) == 0
    with sessions() as session:
        rows = session.scalars(select(UpdateRowRecord)).all()
        assert len(rows) == 5
        assert all(r.baseline for r in rows)
        baseline = session.scalars(select(Event)).one()
        assert baseline.payload["policies"] == 4
        assert baseline.payload["repaired"] == ["AmazonRekognitionCustomLabelsFullAccess"]


def test_reingesting_versions_already_seen_adds_no_snapshot_and_no_event(sessions: sessionmaker[Session]) -> None:
    for i, name in enumerate(PAGES):
        ingest_fixture(sessions, "rekognition", name, hours=i)
    snapshots, events = count(sessions, Snapshot), count(sessions, Event)
    again = [ingest_fixture(sessions, "rekognition", name, hours=10 + i).outcome for i, name in enumerate(PAGES)]
    assert again == ["unchanged"] * 4
    assert (count(sessions, Snapshot), count(sessions, Event)) == (snapshots, events)


def test_an_unchanged_check_adds_one_check_row_and_nothing_else(sessions: sessionmaker[Session]) -> None:
    ingest_fixture(sessions, "rekognition", "page-v3.html")
    before = {m: count(sessions, m) for m in (Snapshot, Event, PolicyVersion, UpdateRowRecord)}
    assert ingest_fixture(sessions, "rekognition", "page-v4.html", hours=1).outcome == "unchanged"
    assert {m: count(sessions, m) for m in before} == before
    assert count(sessions, Check) == 2


@pytest.mark.parametrize(("old", "new"), [("page-v3.html", "page-v4.html"), ("page-v1.html", "page-legacy.html")])
def test_chrome_is_not_change(sessions: sessionmaker[Session], old: str, new: str) -> None:
    ingest_fixture(sessions, "rekognition", old)
    assert ingest_fixture(sessions, "rekognition", new, hours=1).outcome == "unchanged"


def _page_bytes_without(names: set[str], source: str = "page-v3.html") -> bytes:
    """page-v3 with the named policy sections cut out of the HTML."""
    html = (REKOGNITION / source).read_text()
    for name in names:
        start = html.index(f">AWS managed policy: {name}</h2>")
        start = html.rindex("<h2", 0, start)
        end = html.index("<h2", start + 3)
        html = html[:start] + html[end:]
    return html.encode()


def test_a_page_that_loses_most_policies_is_suspect_and_removes_nothing(sessions: sessionmaker[Session]) -> None:
    ingest_fixture(sessions, "rekognition", "page-v3.html")
    gone = {"AmazonRekognitionFullAccess", "AmazonRekognitionReadOnlyAccess", "AmazonRekognitionServiceRole"}
    broken = _page_bytes_without(gone)
    result = ingest_fixture(sessions, "rekognition", "broken.html", hours=1, body=broken)
    assert (result.outcome, result.events) == ("suspect", ["layout_suspect"])
    again = ingest_fixture(sessions, "rekognition", "broken.html", hours=2, body=broken)
    assert (again.outcome, again.events) == ("unchanged", [])  # alerted once
    back = ingest_fixture(sessions, "rekognition", "page-v4.html", hours=3)
    assert (back.outcome, back.events) == ("unchanged", [])  # the baseline was kept
    assert "policy_removed" not in [e[0] for e in _events(sessions)]


def test_a_page_with_no_policies_is_suspect(sessions: sessionmaker[Session]) -> None:
    ingest_fixture(sessions, "rekognition", "page-v1.html")
    empty = (
        b"<html><body><div id='main-col-body'><h1>AWS managed policies for Amazon Rekognition</h1></div></body></html>"
    )
    result = ingest_fixture(sessions, "rekognition", "empty.html", hours=1, body=empty)
    assert result.events == ["layout_suspect"]


def test_a_real_removal_of_one_policy_still_alerts(sessions: sessionmaker[Session]) -> None:
    ingest_fixture(sessions, "rekognition", "page-v3.html")
    body = _page_bytes_without({"AmazonRekognitionServiceRole"})
    result = ingest_fixture(sessions, "rekognition", "minus-one.html", hours=1, body=body)
    assert result.events == ["policy_removed"]
    assert _events(sessions)[-1][0:2] == ("policy_removed", "AmazonRekognitionServiceRole")


def test_json_moved_to_the_reference_guide_is_document_moved_not_removal(sessions: sessionmaker[Session]) -> None:
    ingest_fixture(sessions, "rekognition", "page-v1.html")
    html = (REKOGNITION / "page-v1.html").read_text()
    link = (
        '<p>See <a href="https://docs.aws.amazon.com/aws-managed-policy/latest/reference/X.html">the reference</a></p>'
    )
    moved = html.replace("<awsdocs-tabs>", link + "<awsdocs-tabs hidden>").replace(
        '<code class="json ">', '<code class="json ">// moved\n'
    )
    result = ingest_fixture(sessions, "rekognition", "moved.html", hours=1, body=moved.encode())
    assert result.events == ["layout_suspect"]
    assert not [e for e in _events(sessions) if e[0] in ("actions_removed", "policy_removed")]


def test_an_unparseable_policy_is_never_diffed_as_empty(sessions: sessionmaker[Session]) -> None:
    ingest_fixture(sessions, "rekognition", "page-v1.html")
    html = (REKOGNITION / "page-v1.html").read_text()
    start = html.index('"rekognition:CompareFaces"')
    broken = html[:start] + '"rekognition:CompareFaces" }}}' + html[start + len('"rekognition:CompareFaces"') :]
    result = ingest_fixture(sessions, "rekognition", "broken-json.html", hours=1, body=broken.encode())
    assert result.events == ["parse_failed"]
    recovered = ingest_fixture(sessions, "rekognition", "page-v2.html", hours=2)
    # compared with the last known actions, not with "nothing": exactly the two real additions
    assert recovered.events == ["actions_added", "update_row_added"]
    assert _events(sessions)[2][2] == ["rekognition:GetMediaAnalysisJob", "rekognition:ListMediaAnalysisJobs"]


def test_a_repaired_policy_is_reported_once_not_on_every_check(sessions: sessionmaker[Session]) -> None:
    ingest_fixture(sessions, "rekognition", "page-v1.html")
    for i, name in enumerate(["page-v2.html", "page-v3.html", "page-v4.html"], start=1):
        ingest_fixture(sessions, "rekognition", name, hours=i)
    assert [e for e in _events(sessions) if e[0] == "parse_repaired"] == []  # reported in the baseline summary


def test_the_feed_v2_adds_exactly_one_item(sessions: sessionmaker[Session]) -> None:
    first = ingest_fixture(sessions, "rekognition-feed", "doc-history-v1.rss")
    second = ingest_fixture(sessions, "rekognition-feed", "doc-history-v2.rss", hours=1)
    third = ingest_fixture(sessions, "rekognition-feed", "doc-history-v2.rss", hours=2)
    assert (first.events, second.events, third.events) == (["baseline"], ["feed_item_added"], [])
    assert count(sessions, FeedItemRecord) == 11
    with sessions() as session:
        event = session.scalars(select(Event).where(Event.kind == "feed_item_added")).one()
        assert event.payload["guid"].endswith("#AWS_managed_policy_updates_2023-10-31")


def test_an_unrecognised_body_is_an_error_check_without_snapshot(sessions: sessionmaker[Session]) -> None:
    result = ingest(sessions, "junk", b"\x00\x01\x02", url="https://docs.example.test/junk", now=at(0))
    assert result.outcome == "error"
    assert count(sessions, Snapshot) == 0
    with sessions() as session:
        check = session.scalars(select(Check)).one()
        assert check.outcome == "error" and "binary" in (check.error or "")


def test_events_are_written_in_the_same_transaction_as_their_snapshot(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_fixture(sessions, "rekognition", "page-v1.html")

    def fail(*_args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("watcher.pipeline.add_check", fail)
    with pytest.raises(RuntimeError):
        ingest_fixture(sessions, "rekognition", "page-v2.html", hours=1)
    assert (count(sessions, Snapshot), count(sessions, Event), count(sessions, UpdateRowRecord)) == (1, 1, 5)
    monkeypatch.undo()
    assert ingest_fixture(sessions, "rekognition", "page-v2.html", hours=2).events == [
        "actions_added",
        "update_row_added",
    ]


def test_policy_versions_are_written_only_for_policies_that_changed(sessions: sessionmaker[Session]) -> None:
    for i, name in enumerate(PAGES):
        ingest_fixture(sessions, "rekognition", name, hours=i)
    with sessions() as session:
        versions = session.scalars(select(PolicyVersion)).all()
    # 4 at baseline, ReadOnlyAccess in v2, CustomLabels and the new policy in v3
    assert len(versions) == 7
    assert sum(1 for v in versions if v.valid_to is None) == 5


def test_a_parsed_page_round_trips_through_the_stored_state(sessions: sessionmaker[Session]) -> None:
    from watcher.store.policies import current_page
    from watcher.store.sources import baseline, find_source

    ingest_fixture(sessions, "rekognition", "page-v3.html")
    parsed = parse((REKOGNITION / "page-v3.html").read_bytes())
    assert isinstance(parsed, Page)
    with sessions() as session:
        source = find_source(session, "rekognition")
        assert source is not None
        snapshot = baseline(session, source.id)
        assert snapshot is not None
        stored = current_page(session, source, snapshot)
    strip = [dataclasses.replace(p, json_blocks=0, document_block_index=None) for p in parsed.policies]
    assert [(p.name, p.status, p.actions, p.document) for p in stored.policies] == [
        (p.name, p.status, p.actions, p.document) for p in strip
    ]
