"""Events, stored in the same transaction as the snapshot that caused them, each with a dedupe key."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from watcher.db.models import Event, EventAction, Source, table_of
from watcher.diff import Change, ChangeKind


def dedupe_key(source: str, change: Change, content_hash: str) -> str:
    """Equal for the same change seen again, so re-ingesting a version adds no event.

    Rows, feed items and repairs are keyed by what they are; policy and action changes by the
    content they lead to.
    """
    detail = change.detail
    identity: list[Any]
    if change.kind is ChangeKind.UPDATE_ROW_ADDED:
        identity = [detail["key"]]
    elif change.kind is ChangeKind.FEED_ITEM_ADDED:
        identity = [detail["guid"]]
    elif change.kind is ChangeKind.BASELINE:
        identity = []
    elif change.kind in (ChangeKind.SOURCE_FAILING, ChangeKind.SOURCE_RECOVERED, ChangeKind.DELIVERY_DEAD):
        identity = [detail["since"]]  # one of each per run of failures
    elif change.kind in (ChangeKind.PARSE_REPAIRED, ChangeKind.PARSE_FAILED):
        identity = [detail.get("text_hash"), detail.get("defects")]
    else:
        identity = [content_hash, sorted(change.grants)]
    data = json.dumps([source, change.kind.value, change.policy, identity], sort_keys=True)
    return hashlib.sha256(data.encode()).hexdigest()


def add_events(
    session: Session,
    source: Source,
    snapshot_id: int | None,
    changes: list[Change],
    content_hash: str,
    now: dt.datetime,
) -> list[Event]:
    """Insert the changes as events, skipping any whose dedupe key is already stored."""
    keyed = {dedupe_key(source.name, c, content_hash): c for c in changes}
    if not keyed:
        return []
    existing = set(session.scalars(select(Event.dedupe_key).where(Event.dedupe_key.in_(list(keyed)))))
    events: list[Event] = []
    for key, change in keyed.items():
        if key in existing:
            continue
        payload: dict[str, Any] = {
            "grants": [list(g) for g in change.grants],
            **change.detail,
        }
        event = Event(
            source_id=source.id,
            snapshot_id=snapshot_id,
            kind=change.kind.value,
            policy=change.policy,
            payload=payload,
            severity=change.detail.get("severity"),
            detected_at=now,
            dedupe_key=key,
        )
        session.add(event)
        events.append(event)
    session.flush()
    actions = [
        {"event_id": event.id, "action": action, "action_lc": action.lower(), "effect": effect}
        for event in events
        for effect, action in keyed[event.dedupe_key].grants
    ]
    if actions:  # one executemany: a policy added with thousands of actions is not thousands of ORM objects
        session.connection().execute(insert(table_of(EventAction)), actions)
    return events
