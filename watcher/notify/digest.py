"""Read a delivery's events back as a ``Digest`` of plain ``Notice`` values for the channels to render."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from watcher.db.models import Delivery, DeliveryEvent, Event, PolicyVersion, Source
from watcher.db.models import Policy as PolicyRow
from watcher.notify.model import Digest, Notice

POLICY_KINDS = frozenset(
    {"policy_added", "policy_removed", "actions_added", "actions_removed", "statement_changed", "document_moved"}
)
ROW_FIELDS = ("change", "description", "date", "date_raw")


def _anchor(session: Session, source_id: int, policy: str | None) -> str | None:
    if policy is None:
        return None
    stmt = (
        select(PolicyVersion.anchor)
        .join(PolicyRow, PolicyRow.id == PolicyVersion.policy_id)
        .where(PolicyRow.source_id == source_id, PolicyRow.name == policy, PolicyVersion.anchor.is_not(None))
        .order_by(PolicyVersion.valid_from.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


def _rows_of_snapshot(session: Session, snapshot_id: int | None) -> list[dict[str, Any]]:
    """The updates rows that the same check found (what AWS wrote about its changes)."""
    if snapshot_id is None:
        return []
    stmt = select(Event.payload).where(Event.snapshot_id == snapshot_id, Event.kind == "update_row_added")
    return [dict(p) for p in session.scalars(stmt)]


def _row_for(rows: list[dict[str, Any]], policy: str | None) -> dict[str, Any] | None:
    for row in rows:
        if policy is not None and policy in row.get("policies", []):
            return {k: row.get(k) for k in ROW_FIELDS}
    return None


def notice_of(session: Session, event: Event, source: Source, rows: list[dict[str, Any]]) -> Notice:
    details = dict(event.payload)
    grants = tuple((str(e), str(a)) for e, a in details.pop("grants", []))
    anchor = _anchor(session, source.id, event.policy) or details.get("anchor")
    url = f"{source.url}#{anchor}" if anchor and event.kind != "feed_item_added" else source.url
    return Notice(
        kind=event.kind,
        source=source.name,
        service=source.service,
        policy=event.policy,
        grants=grants,
        detected_at=event.detected_at.isoformat(),
        url=url,
        details=details,
        update_row=_row_for(rows, event.policy) if event.kind in POLICY_KINDS else None,
        event_id=event.id,
    )


def build_digest(session: Session, delivery: Delivery) -> Digest:
    stmt = (
        select(Event, Source)
        .join(DeliveryEvent, DeliveryEvent.event_id == Event.id)
        .join(Source, Source.id == Event.source_id)
        .where(DeliveryEvent.delivery_id == delivery.id)
        .order_by(Event.id)
    )
    pairs = [(event, source) for event, source in session.execute(stmt)]
    rows_by_snapshot: dict[int | None, list[dict[str, Any]]] = {}
    notices = []
    for event, source in pairs:
        if event.snapshot_id not in rows_by_snapshot:
            rows_by_snapshot[event.snapshot_id] = _rows_of_snapshot(session, event.snapshot_id)
        notices.append(notice_of(session, event, source, rows_by_snapshot[event.snapshot_id]))
    return Digest(key=delivery.digest_key, notices=tuple(notices))
