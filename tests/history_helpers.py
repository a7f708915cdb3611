"""Helpers for storage tests: ingest fixture files with an injected clock, count rows."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import REKOGNITION
from watcher.db.models import Base
from watcher.pipeline import IngestResult, ingest

T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)


def at(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def ingest_fixture(
    sessions: sessionmaker[Session], source: str, name: str, hours: float = 0, body: bytes | None = None
) -> IngestResult:
    data = body if body is not None else (REKOGNITION / name).read_bytes()
    return ingest(sessions, source, data, url=f"https://docs.example.test/{name}", now=at(hours))


def count(sessions: sessionmaker[Session], model: type[Base]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0
