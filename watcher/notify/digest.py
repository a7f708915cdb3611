"""Read deliveries' events back as ``Digest`` values of plain ``Notice`` values for the channels to render.

``build_digests`` reads any number of deliveries in a fixed number of queries: their events with their sources,
the updates rows of the snapshots those events came from, and the latest anchor of every (source, policy) named.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from watcher.db.models import Delivery, DeliveryEvent, Event, PolicyVersion, Source
from watcher.db.models import Policy as PolicyRow
from watcher.notify.model import Digest, Notice

POLICY_KINDS = frozenset(
    {"policy_added", "policy_removed", "actions_added", "actions_removed", "statement_changed", "document_moved"}
)
ROW_FIELDS = ("change", "description", "date", "date_raw")
DAILY_PREFIX = "daily-"
"""How the key of a daily digest starts (``watcher.outbox_routing.daily_key``)."""
DAILY_TITLE = "Policy Watcher daily digest"
CHUNK = 500
"""Values per ``IN (...)`` list: a large batch is read in several queries rather than one with too many parameters."""

_T = TypeVar("_T")


@dataclass(frozen=True)
class _Event:
    """What a notice needs of an event and its source (plain values read with one query, no ORM objects)."""

    id: int
    kind: str
    policy: str | None
    payload: dict[str, Any]
    detected_at: dt.datetime
    snapshot_id: int | None
    source_id: int
    source_name: str
    source_url: str
    source_service: str | None


def _chunks(values: Iterable[_T], size: int = CHUNK) -> Iterator[list[_T]]:
    items = list(values)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _events(session: Session, delivery_ids: Sequence[int]) -> dict[int, list[_Event]]:
    """Each delivery's events with their sources, in event id order."""
    out: dict[int, list[_Event]] = {i: [] for i in delivery_ids}
    for ids in _chunks(sorted(set(delivery_ids))):
        stmt = (
            select(
                DeliveryEvent.delivery_id,
                Event.id,
                Event.kind,
                Event.policy,
                Event.payload,
                Event.detected_at,
                Event.snapshot_id,
                Source.id,
                Source.name,
                Source.url,
                Source.service,
            )
            .join(Event, Event.id == DeliveryEvent.event_id)
            .join(Source, Source.id == Event.source_id)
            .where(DeliveryEvent.delivery_id.in_(ids))
            .order_by(DeliveryEvent.delivery_id, Event.id)
        )
        for delivery_id, *values in session.execute(stmt):
            out[delivery_id].append(_Event(*values))
    return out


def _rows_of_snapshots(session: Session, snapshot_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """The updates rows that each check found (what AWS wrote about its changes), in event order."""
    out: dict[int, list[dict[str, Any]]] = {}
    for ids in _chunks(sorted(set(snapshot_ids))):
        stmt = (
            select(Event.snapshot_id, Event.payload)
            .where(Event.snapshot_id.in_(ids), Event.kind == "update_row_added")
            .order_by(Event.id)
        )
        for snapshot_id, payload in session.execute(stmt):
            if snapshot_id is not None:
                out.setdefault(snapshot_id, []).append(dict(payload))
    return out


def _anchors(session: Session, pairs: Iterable[tuple[int, str]]) -> dict[tuple[int, str], str]:
    """The anchor of the latest anchored version of each (source id, policy name)."""
    wanted = set(pairs)
    out: dict[tuple[int, str], str] = {}
    latest: dict[tuple[int, str], tuple[dt.datetime, int]] = {}
    for source_ids in _chunks(sorted({s for s, _ in wanted})):
        for names in _chunks(sorted({n for _, n in wanted})):
            stmt = (
                select(
                    PolicyRow.source_id,
                    PolicyRow.name,
                    PolicyVersion.valid_from,
                    PolicyVersion.id,
                    PolicyVersion.anchor,
                )
                .join(PolicyVersion, PolicyVersion.policy_id == PolicyRow.id)
                .where(
                    PolicyRow.source_id.in_(source_ids),
                    PolicyRow.name.in_(names),
                    PolicyVersion.anchor.is_not(None),
                )
            )
            for source_id, name, valid_from, version_id, anchor in session.execute(stmt):
                key = (source_id, name)
                if (
                    key in wanted
                    and anchor is not None
                    and (key not in latest or latest[key] < (valid_from, version_id))
                ):
                    latest[key] = (valid_from, version_id)
                    out[key] = anchor
    return out


def _row_for(rows: list[dict[str, Any]], policy: str | None) -> dict[str, Any] | None:
    for row in rows:
        if policy is not None and policy in row.get("policies", []):
            return {k: row.get(k) for k in ROW_FIELDS}
    return None


def _notice(event: _Event, anchor: str | None, rows: list[dict[str, Any]]) -> Notice:
    details = dict(event.payload)
    grants = tuple((str(e), str(a)) for e, a in details.pop("grants", []))
    severity = details.pop("severity", None)  # the classification (and a removal's note) stay in details
    anchor = anchor or details.get("anchor")
    url = f"{event.source_url}#{anchor}" if anchor and event.kind != "feed_item_added" else event.source_url
    return Notice(
        kind=event.kind,
        source=event.source_name,
        service=event.source_service,
        policy=event.policy,
        grants=grants,
        detected_at=event.detected_at.isoformat(),
        url=url,
        details=details,
        update_row=_row_for(rows, event.policy) if event.kind in POLICY_KINDS else None,
        event_id=event.id,
        severity=severity if isinstance(severity, str) else None,
    )


def build_digests(session: Session, keys: Mapping[int, str]) -> dict[int, Digest]:
    """The digest of each delivery (delivery id -> its ``digest_key``), read in one go: a fixed number of queries
    however many deliveries and events there are (more only past ``CHUNK`` values in one list)."""
    if not keys:
        return {}
    events = _events(session, list(keys))
    every = [e for group in events.values() for e in group]
    rows = _rows_of_snapshots(session, {e.snapshot_id for e in every if e.snapshot_id is not None})
    named = {(e.source_id, e.policy) for e in every if e.policy is not None and e.kind != "feed_item_added"}
    anchors = _anchors(session, named)
    digests = {}
    for delivery_id, key in keys.items():
        notices = tuple(
            _notice(
                e,
                anchors.get((e.source_id, e.policy)) if e.policy is not None else None,
                rows.get(e.snapshot_id, []) if e.snapshot_id is not None else [],
            )
            for e in events[delivery_id]
        )
        title = DAILY_TITLE if key.startswith(DAILY_PREFIX) else "Policy Watcher"
        digests[delivery_id] = Digest(key=key, notices=notices, title=title)
    return digests


def build_digest(session: Session, delivery: Delivery) -> Digest:
    """The digest of one delivery."""
    return build_digests(session, {delivery.id: delivery.digest_key})[delivery.id]
