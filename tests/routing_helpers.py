"""Shared pieces of the routing tests (tests/test_routing_*.py): UTC times, an injected clock, a recording
channel, and checks that write events and their deliveries the way the checker does.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from watcher.db.models import Delivery, DeliveryEvent, Source
from watcher.diff import Change, ChangeKind
from watcher.notify.model import Digest, SendResult
from watcher.notify.settings import ChannelSettings
from watcher.outbox import enqueue
from watcher.store.events import add_events


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)


class Clock:
    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class Recorder:
    settings: ChannelSettings
    got: list[Digest] = field(default_factory=list)

    def deliver(self, digest: Digest) -> SendResult:
        self.got.append(digest)
        return SendResult(True, "HTTP 200")


def change(severity: str | None, policy: str | None = None) -> Change:
    """An actions_added event of this severity, about the policy named after it unless told."""
    detail = {} if severity is None else {"severity": severity}
    name = policy or str(severity)
    return Change(ChangeKind.ACTIONS_ADDED, name, (("Allow", f"s3:Get{name}"),), detail)


def alert(error: str = "HTTP 503") -> Change:
    return Change(ChangeKind.SOURCE_FAILING, detail={"error": error, "since": error})


def check(
    sessions: sessionmaker[Session],
    source: str,
    changes: list[Change],
    now: dt.datetime,
    channels: list[ChannelSettings],
) -> list[Delivery]:
    """One check of ``source`` at ``now``: its events and their deliveries, written in one transaction."""
    with sessions.begin() as session:
        return _write(session, source, changes, now, channels)


def _write(
    session: Session, source: str, changes: list[Change], now: dt.datetime, channels: list[ChannelSettings]
) -> list[Delivery]:
    row = session.scalars(select(Source).where(Source.name == source)).one_or_none()
    if row is None:
        row = Source(name=source, kind="page", url=f"https://docs.example.test/{source}.html", created_at=now)
        row.service = f"Amazon {source.title()}"
        session.add(row)
        session.flush()
    events = add_events(session, row, None, changes, f"{source}@{now.isoformat()}", now)
    return enqueue(session, events, channels, now)


def kinds(digest: Digest) -> list[tuple[str, str]]:
    """(source, policy) of each notice, or (source, kind) for one about no policy."""
    return [(n.source, n.policy or n.kind) for n in digest.notices]


def deliveries(sessions: sessionmaker[Session]) -> list[tuple[str, dt.datetime, int]]:
    """(channel, due, number of events) of every row, in id order."""
    with sessions() as session:
        count = select(func.count()).where(DeliveryEvent.delivery_id == Delivery.id).scalar_subquery()
        stmt = select(Delivery.channel, Delivery.next_attempt_at, count).order_by(Delivery.id)
        return [(channel, due, n) for channel, due, n in session.execute(stmt)]
