"""Reconciliation against the history DB: read what ``watcher.risk.reconcile`` needs, store its findings as events.

``run_reconciliation`` is the job the service runs periodically (and ``watcher reconcile`` by hand): one
transaction that reads a bounded window (``grace + lookback``, default 7 + 30 days), adds the new
``undocumented_change`` / ``documentation_mismatch`` events and their outbox rows. Running it again adds nothing:
an undocumented change is keyed by the event it is about, a mismatch by its updates row and policy.

Which documentation counts for a page source: the updates rows of its *related* page sources (itself, the page it
was derived from or derived from it (``<page>/<Policy>``), and pages of the same guide or the same service), and
the items of every feed (a feed item must name the policy anyway, and AWS managed policy names are unique).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from watcher.db.models import Event, FeedItemRecord, PolicyAction, PolicyVersion, Source, UpdateRowRecord
from watcher.db.models import Policy as PolicyRow
from watcher.diff import Change, ChangeKind
from watcher.outbox import enqueue
from watcher.risk.reconcile import (
    POLICY_CHANGE_KINDS,
    SLACK,
    DocItem,
    DocRow,
    Documentation,
    ObservedChange,
    claimed_additions,
    mismatches,
    undocumented,
)
from watcher.store.events import add_events

if TYPE_CHECKING:
    from watcher.config import Settings

log = logging.getLogger("watcher.reconcile")

LOOKBACK = dt.timedelta(days=30)
"""How far back (beyond the grace) changes and rows are reconciled: a finding older than this is not reported."""
UNKNOWN_STATUSES = frozenset({"unparseable", "no_document"})


def grace_of(settings: Settings) -> dt.timedelta:
    """``[risk] documentation_grace_days`` of ``settings``: how long AWS gets to document a change."""
    return dt.timedelta(days=settings.risk.documentation_grace_days)


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _guide(source: Source) -> str:
    if source.guide:
        return source.guide
    path = source.url.split("#", 1)[0].split("?", 1)[0]
    return path[: path.rfind("/") + 1]


def _family_keys(source: Source) -> set[tuple[str, str]]:
    keys = {("name", source.name.split("/", 1)[0]), ("guide", _guide(source))}
    if source.service:
        keys.add(("service", source.service.strip().lower()))
    return keys


def _families(pages: Iterable[Source]) -> dict[int, set[int]]:
    """Page source id -> ids of its related page sources (itself included)."""
    pages = list(pages)
    by_key: dict[tuple[str, str], set[int]] = defaultdict(set)
    for source in pages:
        for key in _family_keys(source):
            by_key[key].add(source.id)
    return {s.id: set().union(*(by_key[k] for k in _family_keys(s))) for s in pages}


def _observed(session: Session, start: dt.datetime, now: dt.datetime) -> list[tuple[int, ObservedChange]]:
    stmt = (
        select(Event.id, Event.source_id, Source.name, Event.policy, Event.kind, Event.payload, Event.detected_at)
        .join(Source, Source.id == Event.source_id)
        .where(
            Event.kind.in_(sorted(POLICY_CHANGE_KINDS)),
            Event.detected_at >= start,
            Event.detected_at <= now,
            Event.policy.is_not(None),
            Source.kind == "page",
        )
        .order_by(Event.detected_at, Event.id)
    )
    out = []
    for event_id, source_id, source, policy, kind, payload, detected_at in session.execute(stmt):
        grants = tuple((str(e), str(a)) for e, a in (payload or {}).get("grants", []))
        out.append((source_id, ObservedChange(event_id, source, policy, kind, grants, detected_at)))
    return out


def _rows(session: Session, start: dt.datetime, now: dt.datetime, grace: dt.timedelta) -> list[tuple[int, DocRow]]:
    """Rows dated near the window, or first seen in it (a late or undated row), as of ``now``."""
    earliest_day = (start - grace - SLACK).date().isoformat()
    stmt = (
        select(UpdateRowRecord, Source.name)
        .join(Source, Source.id == UpdateRowRecord.source_id)
        .where(
            or_(UpdateRowRecord.date >= earliest_day, UpdateRowRecord.first_seen_at >= start),
            UpdateRowRecord.first_seen_at <= now,
        )
        .order_by(UpdateRowRecord.id)
    )
    out = []
    for r, name in session.execute(stmt):
        row = DocRow(
            key=r.row_key, source=name, date=_date(r.date), change=r.change, description=r.description,
            policies=tuple(r.policies), actions=tuple(r.actions), first_seen_at=r.first_seen_at, baseline=r.baseline,
        )  # fmt: skip
        out.append((r.source_id, row))
    return out


def _items(session: Session, start: dt.datetime, now: dt.datetime, grace: dt.timedelta) -> tuple[DocItem, ...]:
    earliest_day = (start - grace - SLACK).date().isoformat()
    stmt = (
        select(FeedItemRecord, Source.name)
        .join(Source, Source.id == FeedItemRecord.source_id)
        .where(
            or_(FeedItemRecord.published >= earliest_day, FeedItemRecord.first_seen_at >= start),
            FeedItemRecord.first_seen_at <= now,
        )
        .order_by(FeedItemRecord.id)
    )
    return tuple(
        DocItem(i.guid, name, _date(i.published), i.title, i.summary, i.first_seen_at, i.baseline)
        for i, name in session.execute(stmt)
    )


def documents(session: Session, source_ids: Iterable[int], names: Iterable[str]) -> dict[str, frozenset[str] | None]:
    """Current Allow grants (lower-cased) of the named policies on these sources; ``None`` when unknown.

    Unknown: the current version is unparseable or only linked, or the policy uses ``NotAction`` (what it allows
    is then not a list). A policy on several related sources (a page and its reference page) merges what is known.
    """
    ids, lowered = sorted(set(source_ids)), sorted({n.lower() for n in names})
    if not ids or not lowered:
        return {}
    stmt = select(PolicyRow.id, PolicyRow.name).where(
        PolicyRow.source_id.in_(ids), func.lower(PolicyRow.name).in_(lowered), PolicyRow.removed_at.is_(None)
    )
    policy_names = dict(session.execute(stmt).all())
    if not policy_names:
        return {}
    statuses = dict(
        session.execute(
            select(PolicyVersion.policy_id, PolicyVersion.status).where(
                PolicyVersion.policy_id.in_(list(policy_names)), PolicyVersion.valid_to.is_(None)
            )
        ).all()
    )
    grants: dict[int, set[str]] = defaultdict(set)
    opaque: set[int] = set()
    stmt_grants = select(PolicyAction.policy_id, PolicyAction.effect, PolicyAction.action_lc).where(
        PolicyAction.policy_id.in_(list(policy_names)), PolicyAction.granted_to.is_(None)
    )
    for policy_id, effect, action_lc in session.execute(stmt_grants):
        if effect == "Allow":
            grants[policy_id].add(action_lc)
        elif effect == "NotAction":
            opaque.add(policy_id)
    out: dict[str, frozenset[str] | None] = {}
    for policy_id, name in sorted(policy_names.items()):
        status = statuses.get(policy_id)
        known = status is not None and status not in UNKNOWN_STATUSES and policy_id not in opaque
        before = out.get(name)
        if known:
            out[name] = frozenset(grants[policy_id]) | (before or frozenset())
        else:
            out.setdefault(name, None)
    return out


def _reported_mismatches(session: Session, start: dt.datetime) -> set[tuple[int, str, str]]:
    """(source id, row key, policy) of the mismatches already reported (whatever was missing then)."""
    stmt = select(Event.source_id, Event.policy, Event.payload).where(
        Event.kind == ChangeKind.DOCUMENTATION_MISMATCH.value, Event.detected_at >= start
    )
    out = set()
    for source_id, policy, payload in session.execute(stmt):
        row = (payload or {}).get("row") or {}
        out.add((source_id, str(row.get("key")), str(policy)))
    return out


def findings(
    session: Session, now: dt.datetime, grace: dt.timedelta, *, lookback: dt.timedelta = LOOKBACK
) -> list[tuple[Source, Change, str]]:
    """(source, finding, content hash for its dedupe key) for every page source, without writing anything."""
    start = now - grace - lookback
    pages = {s.id: s for s in session.scalars(select(Source).where(Source.kind == "page").order_by(Source.id))}
    observed = [(sid, c) for sid, c in _observed(session, start, now) if sid in pages]
    rows = [(sid, r) for sid, r in _rows(session, start, now, grace) if sid in pages]
    items = _items(session, start, now, grace)
    families = _families(pages.values())
    changes_by: dict[int, list[ObservedChange]] = defaultdict(list)
    for sid, change in observed:
        changes_by[sid].append(change)
    rows_by: dict[int, list[DocRow]] = defaultdict(list)
    for sid, row in rows:
        rows_by[sid].append(row)
    reported = _reported_mismatches(session, start) if rows else set()
    out: list[tuple[Source, Change, str]] = []
    for sid in sorted(set(changes_by) | set(rows_by)):
        source, family = pages[sid], families[sid]
        if changes_by[sid]:
            docs = Documentation(tuple(r for f in sorted(family) for r in rows_by.get(f, [])), items)
            for finding in undocumented(changes_by[sid], docs, now, grace):
                out.append((source, finding, f"reconcile:{finding.detail['event_id']}"))
        candidates = [r for r in rows_by.get(sid, []) if not r.baseline and start <= r.first_seen_at <= now - grace]
        claimed = {p for r in candidates for p in claimed_additions(r)}
        if not claimed:
            continue
        docs_now = documents(session, family, claimed)
        related = [c for f in sorted(family) for c in changes_by.get(f, [])]
        for finding in mismatches(candidates, docs_now, now, grace, related):
            key = finding.detail["row"]["key"]
            if (sid, key, str(finding.policy)) not in reported:
                out.append((source, finding, f"reconcile:{key}"))
    return out


def reconcile(
    session: Session, now: dt.datetime, grace: dt.timedelta, *, lookback: dt.timedelta = LOOKBACK
) -> list[Event]:
    """Add the new findings as events (in ``session``'s transaction; the caller commits) and return them."""
    events: list[Event] = []
    for source, change, content_hash in findings(session, now, grace, lookback=lookback):
        events.extend(add_events(session, source, None, [change], content_hash, now))
    return events


def run_reconciliation(
    sessions: sessionmaker[Session],
    settings: Settings,
    now: dt.datetime,
    grace: dt.timedelta | None = None,
    *,
    lookback: dt.timedelta = LOOKBACK,
) -> list[int]:
    """The periodic job: reconcile and enqueue the deliveries in one transaction; the ids of the new events.

    ``grace`` defaults to ``settings.risk.documentation_grace_days``. Another replica that stored the same findings
    first wins (unique dedupe key): this run then stores nothing and the next one finds nothing new.
    """
    grace = grace_of(settings) if grace is None else grace
    try:
        with sessions.begin() as session:
            events = reconcile(session, now, grace, lookback=lookback)
            enqueue(session, events, settings.channels, now)
            ids = [e.id for e in events]
    except IntegrityError:
        log.info("reconciliation raced another replica; its findings are stored, nothing added here")
        return []
    if ids:
        log.info("reconciliation added %d event(s)", len(ids))
    return ids
