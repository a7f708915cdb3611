"""What ``enqueue`` writes to the outbox for new events (DESIGN §5, issue 6): routing by severity, the daily
digest and quiet hours.

Per channel, the events it accepts (``accepts``: kinds, services, policies, ``min_severity``) are split in two:

- immediate: operator alerts, change events at or above ``immediate_severity``, and everything when
  ``digest = "none"``. One delivery, due now; during the channel's quiet hours it waits until they end, unless it
  holds a critical event. Operator alerts never wait: in quiet hours they go in a delivery of their own.
- daily (``digest = "daily"``): the other change events, attached to the channel's open daily digest, one
  delivery per channel and digest time whatever the sources and checks its events come from.

The daily digest of a channel for the UTC time ``at`` has the key ``daily_key(channel, at)``; the unique
constraint on (channel, digest_key) makes it one row however many writers attach to it, and the primary key of
``delivery_events`` makes an event attach once. A digest due within ``MARGIN`` (or no longer pending) is never
attached to: a deliverer may claim and send it while this transaction is still open, so the events go to the next.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from watcher.db.models import Delivery, DeliveryEvent, Event, Source
from watcher.notify.digest import DAILY_PREFIX
from watcher.notify.model import OPERATOR_KINDS
from watcher.notify.routing import accepts
from watcher.notify.schedule import in_quiet_hours, next_digest_at, quiet_end
from watcher.notify.settings import ChannelSettings
from watcher.risk.levels import Severity, at_least

MARGIN = dt.timedelta(minutes=5)
"""A daily digest due sooner than this is left alone: the events go to the following one."""
_TRIES = 10
"""Digest times tried before giving up (each one skipped was sent early, by hand, or is due within ``MARGIN``)."""


def digest_key(channel: str, event_ids: Iterable[int]) -> str:
    """The idempotency key of an immediate delivery: its channel and events."""
    data = f"{channel}|{','.join(str(i) for i in sorted(event_ids))}"
    return hashlib.sha256(data.encode()).hexdigest()[:32]


def daily_key(channel: str, at: dt.datetime) -> str:
    """The key of ``channel``'s daily digest due at ``at``: readable (``daily-20260106T0900Z-…``), unique per channel
    and time, and the same for every writer (so also a stable idempotency key: email Message-ID, webhook header)."""
    when = at.astimezone(dt.UTC)
    tag = hashlib.sha256(f"{channel}|daily|{when.isoformat()}".encode()).hexdigest()[:16]
    return f"{DAILY_PREFIX}{when:%Y%m%dT%H%MZ}-{tag}"


def severity_of(event: Event) -> str | None:
    """The event's ``payload["severity"]`` (None when missing: counts as info)."""
    value = event.payload.get("severity") if isinstance(event.payload, dict) else None
    return value if isinstance(value, str) else None


def enqueue(
    session: Session,
    events: list[Event],
    channels: Iterable[ChannelSettings],
    now: dt.datetime,
    *,
    exclude: str | None = None,
) -> list[Delivery]:
    """The deliveries for ``events`` on every channel that wants any (never an empty one), in this transaction.

    Immediate events make one delivery per channel (two in quiet hours when operator alerts go at once and the
    rest waits); daily ones are attached to the channel's daily digest, which is returned too (once per call).
    """
    if not events:
        return []
    sources = {e.source_id: session.get(Source, e.source_id) for e in events}
    out: list[Delivery] = []
    for channel in channels:
        if channel.name == exclude:
            continue
        wanted = []
        for e in events:
            src = sources[e.source_id]
            if accepts(channel, e.kind, src.service if src else None, e.policy, severity_of(e)):
                wanted.append(e)
        if not wanted:
            continue
        immediate = [e for e in wanted if _is_immediate(channel, e)]
        daily = [e for e in wanted if not _is_immediate(channel, e)]
        for group, due in _immediate_groups(channel, immediate, now):
            out.append(_add_delivery(session, channel.name, group, due, now))
        if daily:
            out.append(_attach_daily(session, channel, daily, now))
    return out


def _is_immediate(channel: ChannelSettings, event: Event) -> bool:
    return (
        channel.digest == "none"
        or event.kind in OPERATOR_KINDS
        or at_least(severity_of(event), channel.immediate_severity)
    )


def _immediate_groups(
    channel: ChannelSettings, events: list[Event], now: dt.datetime
) -> list[tuple[list[Event], dt.datetime]]:
    """(events, due) of each immediate delivery: one due now, or in quiet hours the operator alerts now and the
    rest at their end (all of it now when it holds a critical change)."""
    if not events:
        return []
    if not in_quiet_hours(now, channel.quiet_hours, channel.timezone):
        return [(events, now)]
    operators = [e for e in events if e.kind in OPERATOR_KINDS]
    changes = [e for e in events if e.kind not in OPERATOR_KINDS]
    if any(at_least(severity_of(e), Severity.CRITICAL) for e in changes):
        return [(events, now)]
    groups = [(operators, now)] if operators else []
    if changes:
        groups.append((changes, quiet_end(now, channel.quiet_hours, channel.timezone)))
    return groups


def _add_delivery(
    session: Session, channel: str, events: Sequence[Event], due: dt.datetime, now: dt.datetime
) -> Delivery:
    delivery = Delivery(
        channel=channel,
        digest_key=digest_key(channel, [e.id for e in events]),
        source_id=events[0].source_id,
        status="pending",
        attempts=0,
        next_attempt_at=due,
        created_at=now,
    )
    session.add(delivery)
    session.flush()
    session.add_all(DeliveryEvent(delivery_id=delivery.id, event_id=e.id) for e in events)
    return delivery


def _attach_daily(session: Session, channel: ChannelSettings, events: list[Event], now: dt.datetime) -> Delivery:
    """Attach ``events`` to the channel's next daily digest that is still open, creating it if needed."""
    after = now + MARGIN
    for _ in range(_TRIES):
        at = next_digest_at(after, channel.digest_time, channel.timezone, channel.quiet_hours)
        delivery_id = _open_digest(session, channel.name, daily_key(channel.name, at), at, events[0].source_id, now)
        if delivery_id is not None:
            rows = [{"delivery_id": delivery_id, "event_id": e.id} for e in events]
            session.execute(_insert_ignoring(session, DeliveryEvent, rows, ["delivery_id", "event_id"]))
            delivery = session.get(Delivery, delivery_id)
            assert delivery is not None
            return delivery
        after = at
    raise RuntimeError(f"channel {channel.name!r}: no open daily digest in {_TRIES} tries")


def _open_digest(
    session: Session, channel: str, key: str, at: dt.datetime, source_id: int, now: dt.datetime
) -> int | None:
    """The id of the daily digest (channel, key), created due at ``at`` if missing; None when it exists but may be
    claimed before this transaction ends (sent, being sent, or due within ``MARGIN``)."""
    row: dict[str, Any] = {
        "channel": channel,
        "digest_key": key,
        # Only the operators' delivery_dead alert reads it (it needs a source to hang the alert on): the digest's
        # first source; its events may come from any number of sources and checks.
        "source_id": source_id,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": at,
        "created_at": now,
    }
    insert = _insert_ignoring(session, Delivery, [row], ["channel", "digest_key"]).returning(Delivery.id)
    created = session.execute(insert).scalar_one_or_none()
    if created is not None:
        return int(created)
    # It exists (perhaps just committed by another writer: ON CONFLICT waited for it). FOR SHARE keeps a deliverer
    # from claiming it (its FOR UPDATE SKIP LOCKED skips the row) until this transaction ends; SQLite transactions
    # are serialised by BEGIN IMMEDIATE.
    stmt = (
        select(Delivery.id)
        .where(
            Delivery.channel == channel,
            Delivery.digest_key == key,
            Delivery.status == "pending",
            Delivery.next_attempt_at > now + MARGIN,
        )
        .with_for_update(read=True)
    )
    found = session.execute(stmt).scalar_one_or_none()
    return None if found is None else int(found)


def _insert_ignoring(
    session: Session, model: type[Delivery] | type[DeliveryEvent], rows: list[dict[str, Any]], keys: list[str]
) -> postgresql.Insert | sqlite.Insert:
    """``INSERT ... ON CONFLICT (keys) DO NOTHING`` in the session's dialect (PostgreSQL or SQLite)."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(model).values(rows).on_conflict_do_nothing(index_elements=keys)
    if name == "sqlite":
        return sqlite.insert(model).values(rows).on_conflict_do_nothing(index_elements=keys)
    raise NotImplementedError(f"the outbox supports PostgreSQL and SQLite, not {name}")
