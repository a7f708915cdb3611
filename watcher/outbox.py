"""The durable outbox (DESIGN §5): deliveries written with their events, claimed with a lease, sent once.

``enqueue`` (in watcher/outbox_routing.py: severity, daily digests, quiet hours) runs inside the transaction
that wrote the events. ``Deliverer.run_once`` claims due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; the
conditional UPDATE alone on SQLite), sends each digest, and marks it ``sent`` only after the channel accepted it;
temporary failures back off, permanent ones go ``dead`` at once and raise one ``delivery_dead`` alert on the other
operator channels.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from watcher.db.models import Delivery, DeliveryEvent, Source
from watcher.diff import Change, ChangeKind
from watcher.notify.digest import build_digests
from watcher.notify.model import Digest, SendResult
from watcher.notify.settings import ChannelSettings
from watcher.outbox_routing import digest_key as digest_key
from watcher.outbox_routing import enqueue as enqueue

log = logging.getLogger("watcher.outbox")
DUE = ("pending", "retrying", "sending")


class Sender(Protocol):
    """What the deliverer needs of a channel: its settings and a way to send a digest."""

    @property
    def settings(self) -> ChannelSettings: ...

    def deliver(self, digest: Digest) -> SendResult: ...


@dataclass(frozen=True)
class DeliveryOutcome:
    id: int
    channel: str
    status: str
    detail: str


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try."""

    max_attempts: int = 10
    lease: dt.timedelta = dt.timedelta(seconds=120)
    backoff: float = 30.0
    backoff_max: float = 3600.0


class Deliverer:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        senders: Mapping[str, Sender],
        *,
        owner: str,
        clock: Callable[[], dt.datetime],
        policy: RetryPolicy | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.sessions = sessions
        self.senders = senders
        self.owner = owner
        self.clock = clock
        self.policy = policy or RetryPolicy()
        self.rng = rng or random.Random()
        self._prepared: dict[int, tuple[str, Digest]] = {}
        """Digests read by ``run_once`` for its claimed rows, taken by ``_deliver``."""

    def claim(self, limit: int = 50) -> list[int]:
        """Take the lease on up to ``limit`` due rows; another deliverer skips them until it expires."""
        now = self.clock()
        free = or_(Delivery.lease_until.is_(None), Delivery.lease_until < now)
        due = (Delivery.status.in_(DUE), Delivery.next_attempt_at <= now, free, Delivery.channel.in_(self.senders))
        with self.sessions.begin() as session:
            candidates = list(
                session.scalars(
                    select(Delivery.id).where(*due).order_by(Delivery.id).limit(limit).with_for_update(skip_locked=True)
                )
            )
            if not candidates:
                return []
            stmt = (
                update(Delivery)
                .where(Delivery.id.in_(candidates), *due)
                .values(status="sending", lease_owner=self.owner, lease_until=now + self.policy.lease)
                .returning(Delivery.id)
            )
            return sorted(session.scalars(stmt.execution_options(synchronize_session=False)))

    def run_once(self, limit: int = 50) -> list[DeliveryOutcome]:
        """Claim due rows and deliver each; returns what happened to every claimed row.

        The claimed rows and their digests are read at once (one read session, a fixed number of queries); then
        each row is sent and marked in its own transaction, so that a crash costs at most one duplicate.
        """
        ids = self.claim(limit)
        if not ids:
            return []
        self._prepared.update(self._prepare(ids))
        try:
            return [self._deliver(delivery_id) for delivery_id in ids]
        finally:
            for delivery_id in ids:
                self._prepared.pop(delivery_id, None)

    def _prepare(self, ids: list[int]) -> dict[int, tuple[str, Digest]]:
        """Each claimed row's channel and digest, read in one session."""
        with self.sessions() as session:
            stmt = select(Delivery.id, Delivery.channel, Delivery.digest_key).where(Delivery.id.in_(ids))
            rows = {delivery_id: (channel, key) for delivery_id, channel, key in session.execute(stmt)}
            digests = build_digests(session, {delivery_id: key for delivery_id, (_, key) in rows.items()})
        return {delivery_id: (channel, digests[delivery_id]) for delivery_id, (channel, _) in rows.items()}

    def _deliver(self, delivery_id: int) -> DeliveryOutcome:
        prepared = self._prepared.pop(delivery_id, None)
        if prepared is None:  # not read by run_once (a caller delivering one row)
            prepared = self._prepare([delivery_id])[delivery_id]
        channel, digest = prepared
        sender = self.senders[channel]
        try:
            result = sender.deliver(digest)
        except Exception as exc:  # a channel bug must not stop the outbox
            log.exception("channel %s failed unexpectedly", channel)
            result = SendResult(False, f"internal error: {exc.__class__.__name__}")
        return self._mark(delivery_id, result)

    def _delay(self, attempts: int, result: SendResult) -> float:
        """The exponential backoff (with jitter), or the channel's ``Retry-After`` when that is longer.

        Retry-After says when to try again at the earliest; a short one ("1", "0", a date already past) answered
        throughout an outage must not spend every attempt within a minute and turn the outage into dead rows.
        """
        base: float = min(self.policy.backoff * 2.0 ** (attempts - 1), self.policy.backoff_max)
        backoff = base + self.rng.uniform(0, base / 4)
        if result.retry_after is not None and result.retry_after > backoff:
            return min(result.retry_after, self.policy.backoff_max)
        return backoff

    def _mark(self, delivery_id: int, result: SendResult) -> DeliveryOutcome:
        now = self.clock()
        if result.ok:
            sent = self._mark_sent(delivery_id, result, now)
            if sent is not None:
                return sent
            # Not ours any more (or gone): the path below reads the row and reports the lost lease.
        with self.sessions.begin() as session:
            delivery = session.get(Delivery, delivery_id, with_for_update=True)
            assert delivery is not None
            if delivery.lease_owner != self.owner:
                # Our lease expired and another deliverer took the row over: it sends and marks it (at most
                # one duplicate, with the same idempotency key); our answer must not overwrite its state.
                return DeliveryOutcome(delivery_id, delivery.channel, "lost_lease", result.detail)
            delivery.attempts += 1
            delivery.lease_owner = None
            delivery.lease_until = None
            delivery.last_error = None if result.ok else result.detail
            if result.ok:
                delivery.status, delivery.sent_at = "sent", now
            elif result.permanent or delivery.attempts >= self.policy.max_attempts:
                delivery.status = "dead"
                self._alert_dead(session, delivery, result, now)
            else:
                delivery.status = "retrying"
                delivery.next_attempt_at = now + dt.timedelta(seconds=self._delay(delivery.attempts, result))
            status = delivery.status
            log.log(
                logging.INFO if result.ok else logging.WARNING,
                "delivery %s channel=%s status=%s attempts=%s %s",
                delivery.id, delivery.channel, status, delivery.attempts, result.detail,
            )  # fmt: skip
            channel = delivery.channel
        return DeliveryOutcome(delivery_id, channel, status, result.detail)

    def _mark_sent(self, delivery_id: int, result: SendResult, now: dt.datetime) -> DeliveryOutcome | None:
        """The common case in one statement: ``sent``, only while the lease is still ours (None when it is not)."""
        stmt = (
            update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.lease_owner == self.owner)
            .values(
                status="sent",
                sent_at=now,
                attempts=Delivery.attempts + 1,
                lease_owner=None,
                lease_until=None,
                last_error=None,
            )
            .returning(Delivery.channel, Delivery.attempts)
        )
        with self.sessions.begin() as session:
            row = session.execute(stmt.execution_options(synchronize_session=False)).first()
        if row is None:
            return None
        channel, attempts = row
        log.info("delivery %s channel=%s status=sent attempts=%s %s", delivery_id, channel, attempts, result.detail)
        return DeliveryOutcome(delivery_id, channel, "sent", result.detail)

    def _alert_dead(self, session: Session, delivery: Delivery, result: SendResult, now: dt.datetime) -> None:
        """One ``delivery_dead`` event for the operators, on every other channel that takes operator alerts."""
        from watcher.store.events import add_events

        if delivery.source_id is None:
            return
        source = session.get(Source, delivery.source_id)
        assert source is not None
        change = Change(
            ChangeKind.DELIVERY_DEAD,
            detail={
                "delivery": delivery.id,
                "channel": delivery.channel,
                "error": result.detail,
                "since": str(delivery.id),
            },
        )
        events = add_events(session, source, None, [change], str(delivery.id), now)
        others = [s.settings for name, s in self.senders.items() if name != delivery.channel]
        enqueue(session, events, others, now, exclude=delivery.channel)


def list_rows(session: Session, statuses: Iterable[str] | None = None, limit: int = 200) -> list[dict[str, object]]:
    """Rows for ``watcher outbox``: no secrets (channel names and the channels' one-line answers only)."""
    stmt = select(Delivery).order_by(Delivery.id.desc()).limit(limit)
    if statuses:
        stmt = stmt.where(Delivery.status.in_(list(statuses)))
    rows = []
    for d in session.scalars(stmt):
        count = len(list(session.scalars(select(DeliveryEvent.event_id).where(DeliveryEvent.delivery_id == d.id))))
        rows.append(
            {
                "id": d.id,
                "channel": d.channel,
                "status": d.status,
                "attempts": d.attempts,
                "events": count,
                "next_attempt_at": d.next_attempt_at.isoformat() if d.status not in ("sent", "dead") else None,
                "last_error": d.last_error,
                "created_at": d.created_at.isoformat(),
                "sent_at": d.sent_at.isoformat() if d.sent_at else None,
            }
        )
    return rows


def requeue(session: Session, now: dt.datetime, ids: Iterable[int] = (), *, dead: bool = False) -> int:
    """Put rows back in the queue (``watcher outbox retry``); sent rows are never sent again."""
    condition = Delivery.status == "dead" if dead else Delivery.id.in_(list(ids))
    stmt = (
        update(Delivery)
        .where(condition, Delivery.status != "sent")
        .values(status="pending", next_attempt_at=now, lease_owner=None, lease_until=None, attempts=0)
    )
    result = session.execute(stmt.execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0))
