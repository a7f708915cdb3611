"""The one place that composes the steps: parse, compare with the stored baseline, write one transaction.

``ingest`` is what ``watcher ingest`` and (later) the scheduled service call with a fetched body.
Everything a check writes (check row, snapshot, policy versions, rows, items, events) is in one
transaction: if the process dies half-way, none of it exists and the next check redoes the work.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from watcher.actions import load_index
from watcher.db.models import Event, Source
from watcher.diff import (
    Change,
    ChangeKind,
    baseline_change,
    diff_moved,
    diff_policies,
    new_feed_items,
    new_update_rows,
    unknown_feed_items,
    update_row_change,
)
from watcher.model import Feed, Kind, Page, Parsed
from watcher.risk.assess import assess
from watcher.risk.rules import RiskSettings
from watcher.store.events import add_events
from watcher.store.policies import Stored, apply_page, current_page, last_embedded, load_stored
from watcher.store.records import add_feed_items, add_update_rows, known_guids, known_row_keys
from watcher.store.sources import (
    CheckRecord,
    add_check,
    add_snapshot,
    baseline,
    get_or_create_source,
    snapshot_with_hash,
)


@dataclass(frozen=True)
class IngestResult:
    source: str
    outcome: str  # baseline | changed | unchanged | suspect | error
    content_hash: str | None = None
    snapshot_id: int | None = None
    events: list[str] = field(default_factory=list)
    """Kinds of the events written, in order."""
    error: str | None = None
    written: tuple[Event, ...] = field(default=(), repr=False, compare=False)
    """The events written, in order (for ``after_write``, in the same session)."""


def _source_kind(parsed: Parsed) -> str:
    return "feed" if isinstance(parsed, Feed) else "page"


def _page_changes(session: Session, source: Source, page: Page, stored: Stored) -> tuple[str, list[Change]]:
    """(outcome, policy-level changes) for a page whose content hash is new."""
    base = baseline(session, source.id)
    if base is None:
        return "baseline", [baseline_change(page), *_moved_changes(session, source, page)]
    changes = diff_policies(current_page(session, source, base, stored), page)
    if changes and changes[0].kind is ChangeKind.LAYOUT_SUSPECT:
        return "suspect", changes
    return "changed", changes


def _moved_changes(session: Session, source: Source, page: Page) -> list[Change]:
    """For the first check of a derived source ``<page>/<Policy>`` (a policy whose JSON moved to the reference
    guide): what differs from the document the page embedded last, so a move and a change at once is no silent
    baseline."""
    page_source, _, name = source.name.rpartition("/")
    reference = next((p for p in page.policies if p.name == name), None)
    if not page_source or reference is None or reference.actions is None:
        return []
    embedded = last_embedded(session, page_source, name)
    return [] if embedded is None or embedded.actions is None else diff_moved(embedded, reference)


def _write_page(
    session: Session, source: Source, page: Page, body: bytes, now: dt.datetime, risk: RiskSettings
) -> IngestResult:
    stored = load_stored(session, source.id)
    outcome, changes = _page_changes(session, source, page, stored)
    snapshot_id = add_snapshot(
        session, source, body=body, content_hash=page.content_hash, title=page.title,
        fetched_at=now, accepted=outcome != "suspect",
    )  # fmt: skip
    if outcome != "suspect":
        # A suspect page keeps the previous baseline: nothing of it is recorded but the snapshot.
        apply_page(session, source, snapshot_id, page, now, stored)
        # No accepted snapshot before (a baseline) means no updates row was ever stored.
        known = set() if outcome == "baseline" else known_row_keys(session, source.id)
        rows = new_update_rows(page.updates, known)
        add_update_rows(session, source, rows, now, baseline=outcome == "baseline")
        if outcome == "changed":
            changes += [update_row_change(k, r) for k, r in rows]
    changes = assess(changes, page, load_index, risk)
    events = add_events(session, source, snapshot_id, changes, page.content_hash, now)
    kinds = [e.kind for e in events]
    return IngestResult(source.name, outcome, page.content_hash, snapshot_id, kinds, written=tuple(events))


def _write_feed(
    session: Session, source: Source, feed: Feed, body: bytes, now: dt.datetime, risk: RiskSettings
) -> IngestResult:
    first = baseline(session, source.id) is None
    guids = known_guids(session, source.id)
    fresh = unknown_feed_items(feed.items, guids)
    snapshot_id = add_snapshot(
        session, source, body=body, content_hash=feed.content_hash, title=feed.title, fetched_at=now, accepted=True
    )
    add_feed_items(session, source, fresh, now, baseline=first)
    if first:
        changes = [Change(ChangeKind.BASELINE, detail={"title": feed.title, "items": len(feed.items)})]
    else:
        changes = new_feed_items(fresh, guids)
    changes = assess(changes, None, load_index, risk)
    events = add_events(session, source, snapshot_id, changes, feed.content_hash, now)
    outcome = "baseline" if first else "changed"
    kinds = [e.kind for e in events]
    return IngestResult(source.name, outcome, feed.content_hash, snapshot_id, kinds, written=tuple(events))


AfterWrite = Callable[[Session, Source, "IngestResult"], "IngestResult"]
"""Runs inside the ingest transaction (the checker records validators, health and lease there)."""


def ingest(
    sessions: sessionmaker[Session],
    source_name: str,
    body: bytes,
    *,
    url: str,
    now: dt.datetime,
    http_status: int | None = None,
    after_write: AfterWrite | None = None,
    dry_run: bool = False,
    risk: RiskSettings | None = None,
    parsed: Parsed | None = None,
) -> IngestResult:
    """Feed one fetched body of ``source_name`` through the pipeline: one transaction, or none with ``dry_run``.

    Change events are rated by ``risk`` (the built-in rules when ``None``) before they are stored. ``parsed`` is
    ``body`` already parsed (the checker parses in worker processes); without it the body is parsed here.
    """
    risk = RiskSettings() if risk is None else risk
    started = time.perf_counter()
    if parsed is None:
        from watcher.parse import parse  # bs4 and lxml load with the first body parsed in this process

        parsed = parse(body, url if "://" in url else None)
    service = parsed.service if isinstance(parsed, Page) else None
    with sessions() as session:
        try:
            source = get_or_create_source(
                session, source_name, kind=_source_kind(parsed), url=url, service=service, now=now
            )
            if parsed.kind is Kind.UNKNOWN:
                result = IngestResult(source.name, "error", error=parsed.warnings[0].message)
            elif snapshot_with_hash(session, source.id, parsed.content_hash) is not None:
                result = IngestResult(source.name, "unchanged", parsed.content_hash)
            elif isinstance(parsed, Feed):
                result = _write_feed(session, source, parsed, body, now, risk)
            else:
                result = _write_page(session, source, parsed, body, now, risk)
            ms = int((time.perf_counter() - started) * 1000)
            check = CheckRecord(result.outcome, now, ms, http_status, len(body), result.error, result.snapshot_id)
            add_check(session, source, check)
            if after_write is not None:
                result = after_write(session, source, result)
            if dry_run:
                session.rollback()
            else:
                session.commit()
        except BaseException:
            session.rollback()
            raise
    return result
