"""The questions people ask of the history, on SQLite and PostgreSQL, over the fixture sequence."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from tests.history_helpers import T0, at, ingest_fixture
from watcher import queries

README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.fixture
def history_db(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """v1 at T0, v2 an hour later, v3 two hours later, v4 three hours later; the feeds beside them."""
    for i, name in enumerate(["page-v1.html", "page-v2.html", "page-v3.html", "page-v4.html"]):
        ingest_fixture(sessions, "rekognition", name, hours=i)
    ingest_fixture(sessions, "rekognition-feed", "doc-history-v1.rss", hours=0)
    ingest_fixture(sessions, "rekognition-feed", "doc-history-v2.rss", hours=1)
    return sessions


def test_changes_carry_kind_source_policy_actions_and_time(history_db: sessionmaker[Session]) -> None:
    with history_db() as session:
        rows = queries.changes(session, kind="actions_added")
    assert len(rows) == 1
    row = rows[0]
    assert {k: row[k] for k in ("kind", "source", "policy", "actions", "detected_at")} == {
        "kind": "actions_added",
        "source": "rekognition",
        "policy": "AmazonRekognitionReadOnlyAccess",
        "actions": ["rekognition:GetMediaAnalysisJob", "rekognition:ListMediaAnalysisJobs"],
        "detected_at": at(1).isoformat(),
    }
    assert row["service"] == "Amazon Rekognition"


@pytest.mark.parametrize(
    ("filters", "kinds"),
    [
        ({}, ["baseline", "baseline", "actions_added", "update_row_added", "feed_item_added", "actions_removed",
              "policy_added", "update_row_added", "update_row_added"]),
        ({"since": T0 + dt.timedelta(hours=2)}, ["actions_removed", "policy_added", "update_row_added",
                                                  "update_row_added"]),
        ({"action": "rekognition:*FaceLiveness*"}, ["policy_added"]),
        ({"action": "REKOGNITION:distributedatasetentries"}, ["actions_removed"]),
        ({"policy": "amazonrekognitionreadonlyaccess"}, ["actions_added", "update_row_added"]),
        ({"service": "rekognition"}, ["baseline", "actions_added", "update_row_added", "actions_removed",
                                      "policy_added", "update_row_added", "update_row_added"]),
        ({"kind": "feed_item_added"}, ["feed_item_added"]),
    ],
)  # fmt: skip
def test_changes_filter_by_time_action_policy_service_and_kind(
    history_db: sessionmaker[Session], filters: dict[str, object], kinds: list[str]
) -> None:
    with history_db() as session:
        assert [r["kind"] for r in queries.changes(session, **filters)] == kinds  # type: ignore[arg-type]


def test_history_shows_each_version_with_what_it_added_and_removed(history_db: sessionmaker[Session]) -> None:
    with history_db() as session:
        rows = queries.history(session, "AmazonRekognitionCustomLabelsFullAccess")
    assert [(r["valid_from"], r["valid_to"], r["status"], r["action_count"]) for r in rows] == [
        (at(0).isoformat(), at(2).isoformat(), "repaired", 32),
        (at(2).isoformat(), None, "repaired", 31),
    ]
    assert rows[1]["removed"] == [["Allow", "rekognition:DistributeDatasetEntries"]]
    assert rows[1]["added"] == []


def test_when_tells_which_policies_grant_an_action_since_when_and_until_when(
    history_db: sessionmaker[Session],
) -> None:
    with history_db() as session:
        rows = queries.when(session, "rekognition:DistributeDatasetEntries")
    summary = [(r["policy"], r["action"], r["via_wildcard"], r["since"], r["until"]) for r in rows]
    assert summary == [
        ("AmazonRekognitionCustomLabelsFullAccess", "rekognition:DistributeDatasetEntries", False,
         at(0).isoformat(), at(2).isoformat()),
        ("AmazonRekognitionFullAccess", "rekognition:*", True, at(0).isoformat(), None),
    ]  # fmt: skip


def test_when_accepts_a_pattern(history_db: sessionmaker[Session]) -> None:
    with history_db() as session:
        rows = queries.when(session, "kinesis*:*")
    assert sorted(r["action"] for r in rows) == [
        "kinesis:PutRecord",
        "kinesis:PutRecords",
        "kinesisvideo:GetDataEndpoint",
        "kinesisvideo:GetMedia",
    ]


def test_show_gives_the_document_as_it_stood_then(history_db: sessionmaker[Session]) -> None:
    with history_db() as session:
        before = queries.show(session, "AmazonRekognitionReadOnlyAccess", at(0.5))
        now = queries.show(session, "AmazonRekognitionReadOnlyAccess")
        missing = queries.show(session, "AmazonRekognitionFaceLivenessAccess", at(1))

    def actions(row: dict[str, object]) -> list[str]:
        document = row["document"]
        assert isinstance(document, dict)
        return list(document["Statement"][0]["Action"])

    assert len(actions(before[0])) == 30
    assert len(actions(now[0])) == 32
    assert now[0]["url"].endswith("#security-iam-awsmanpol-AmazonRekognitionReadOnlyAccess")
    assert missing == []


def _readme_queries() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_documents_example_queries() -> None:
    assert len(_readme_queries()) >= 4


@pytest.mark.parametrize("index", range(len(_readme_queries())))
def test_every_readme_example_query_runs_and_returns_rows(history_db: sessionmaker[Session], index: int) -> None:
    examples = _readme_queries()
    with history_db() as session:
        rows = session.execute(text(examples[index])).all()
    assert rows, examples[index]


def test_the_action_changes_view_lists_each_action_change(history_db: sessionmaker[Session]) -> None:
    with history_db() as session:
        rows = session.execute(
            text("SELECT policy, action, effect, change FROM action_changes ORDER BY event_id, action")
        ).all()
    assert [tuple(r) for r in rows] == [
        ("AmazonRekognitionReadOnlyAccess", "rekognition:GetMediaAnalysisJob", "Allow", "added"),
        ("AmazonRekognitionReadOnlyAccess", "rekognition:ListMediaAnalysisJobs", "Allow", "added"),
        ("AmazonRekognitionCustomLabelsFullAccess", "rekognition:DistributeDatasetEntries", "Allow", "removed"),
        ("AmazonRekognitionFaceLivenessAccess", "rekognition:CreateFaceLivenessSession", "Allow", "added"),
        ("AmazonRekognitionFaceLivenessAccess", "rekognition:GetFaceLivenessSessionResults", "Allow", "added"),
        ("AmazonRekognitionFaceLivenessAccess", "rekognition:StartFaceLivenessSession", "Allow", "added"),
    ]
