"""Updates-table rows and feed items: recorded once, on first sight, each batch in one bulk statement."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from watcher.db.models import FeedItemRecord, Source, UpdateRowRecord, table_of
from watcher.model import FeedItem, UpdateRow


def known_row_keys(session: Session, source_id: int) -> set[str]:
    return set(session.scalars(select(UpdateRowRecord.row_key).where(UpdateRowRecord.source_id == source_id)))


def add_update_rows(
    session: Session, source: Source, rows: list[tuple[str, UpdateRow]], now: dt.datetime, *, baseline: bool
) -> None:
    values = [
        {
            "source_id": source.id,
            "row_key": key,
            **row.record(),
            "first_seen_at": now,
            "baseline": baseline,
        }
        for key, row in rows
    ]
    if values:
        session.connection().execute(insert(table_of(UpdateRowRecord)), values)


def known_guids(session: Session, source_id: int) -> set[str]:
    return set(session.scalars(select(FeedItemRecord.guid).where(FeedItemRecord.source_id == source_id)))


def add_feed_items(
    session: Session, source: Source, items: list[FeedItem], now: dt.datetime, *, baseline: bool
) -> None:
    values = [
        {
            "source_id": source.id,
            "guid": item.guid,
            "title": item.title,
            "link": item.link,
            "published": item.published,
            "summary": item.summary,
            "first_seen_at": now,
            "baseline": baseline,
        }
        for item in items
    ]
    if values:
        session.connection().execute(insert(table_of(FeedItemRecord)), values)
