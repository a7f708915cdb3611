"""The questions people ask of the history, as plain rows (lists of dicts) for any output format."""

from __future__ import annotations

import datetime as dt
import fnmatch
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from watcher.canonical import actions_of
from watcher.db.models import Event, EventAction, PolicyAction, PolicyVersion, Source
from watcher.db.models import Policy as PolicyRow
from watcher.diff import grants_of


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _like(pattern: str) -> str:
    escaped = pattern.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


def event_row(event: Event, source: Source) -> dict[str, Any]:
    payload = dict(event.payload)
    grants = payload.pop("grants", [])
    return {
        "id": event.id,
        "kind": event.kind,
        "source": source.name,
        "service": source.service,
        "policy": event.policy,
        "actions": [action for _, action in grants],
        "grants": grants,
        "detected_at": _iso(event.detected_at),
        "url": source.url,
        "details": payload,
    }


def _changes_query(
    since: dt.datetime | None, service: str | None, policy: str | None, action: str | None, kind: str | None
) -> Any:
    stmt = select(Event, Source).join(Source, Source.id == Event.source_id)
    if since is not None:
        stmt = stmt.where(Event.detected_at >= since)
    if service:
        stmt = stmt.where(func.lower(Source.service).like(f"%{_like(service)}%", escape="\\"))
    if policy:
        stmt = stmt.where(func.lower(Event.policy) == policy.lower())
    if kind:
        stmt = stmt.where(Event.kind == kind)
    if action:
        condition = EventAction.action_lc.like(_like(action), escape="\\")
        stmt = stmt.where(exists().where(EventAction.event_id == Event.id, condition))
    return stmt.order_by(Event.detected_at, Event.id)


def changes(
    session: Session,
    *,
    since: dt.datetime | None = None,
    service: str | None = None,
    policy: str | None = None,
    action: str | None = None,
    kind: str | None = None,
) -> list[dict[str, Any]]:
    """Events, oldest first, filtered; ``action`` is a glob (``s3:Put*``), case-insensitive."""
    return [event_row(e, s) for e, s in session.execute(_changes_query(since, service, policy, action, kind))]


def when(session: Session, action: str) -> list[dict[str, Any]]:
    """Which policies grant ``action`` (or a wildcard that covers it), since when, and since when not."""
    wanted = action.lower()
    condition: ColumnElement[bool]
    if "*" in wanted or "?" in wanted:
        condition = PolicyAction.action_lc.like(_like(wanted), escape="\\")
    else:
        service = wanted.split(":", 1)[0]
        wildcard = and_(PolicyAction.service.in_([service, "*"]), PolicyAction.action_lc.contains("*"))
        condition = or_(PolicyAction.action_lc == wanted, wildcard)
    stmt = (
        select(PolicyAction, PolicyRow, Source)
        .join(PolicyRow, PolicyRow.id == PolicyAction.policy_id)
        .join(Source, Source.id == PolicyRow.source_id)
        .where(condition)
        .order_by(PolicyRow.name, PolicyAction.granted_from)
    )
    rows = []
    for grant, policy, source in session.execute(stmt):
        via = grant.action_lc != wanted and not ("*" in wanted or "?" in wanted)
        if via and not fnmatch.fnmatchcase(wanted, grant.action_lc):
            continue
        rows.append(
            {
                "policy": policy.name,
                "source": source.name,
                "service": source.service,
                "effect": grant.effect,
                "action": grant.action,
                "via_wildcard": via,
                "since": _iso(grant.granted_from),
                "until": _iso(grant.granted_to),
                "current": grant.granted_to is None,
            }
        )
    return rows


def _versions(session: Session, policy: str) -> list[tuple[PolicyVersion, PolicyRow, Source]]:
    stmt = (
        select(PolicyVersion, PolicyRow, Source)
        .join(PolicyRow, PolicyRow.id == PolicyVersion.policy_id)
        .join(Source, Source.id == PolicyRow.source_id)
        .where(func.lower(PolicyRow.name) == policy.lower())
        .order_by(Source.name, PolicyVersion.valid_from, PolicyVersion.id)
    )
    return [(v, p, s) for v, p, s in session.execute(stmt)]


def history(session: Session, policy: str) -> list[dict[str, Any]]:
    """The versions of ``policy`` (on every source that has it), each with what it added and removed."""
    out: list[dict[str, Any]] = []
    previous: dict[str, set[tuple[str, str]]] = {}
    for version, row, source in _versions(session, policy):
        grants = set(grants_of(actions_of(version.document))) if version.document is not None else None
        before = previous.get(source.name)
        added = sorted(grants - before) if grants is not None and before is not None else []
        removed = sorted(before - grants) if grants is not None and before is not None else []
        if grants is not None:
            previous[source.name] = grants
        out.append(
            {
                "policy": row.name,
                "source": source.name,
                "valid_from": _iso(version.valid_from),
                "valid_to": _iso(version.valid_to),
                "status": version.status,
                "defects": version.defects,
                "action_count": version.action_count,
                "added": [list(g) for g in added],
                "removed": [list(g) for g in removed],
                "first": before is None and grants is not None,
            }
        )
    return out


def show(session: Session, policy: str, at: dt.datetime | None = None) -> list[dict[str, Any]]:
    """The document of ``policy`` as it stood at ``at`` (default: now), per source."""
    out = []
    for version, row, source in _versions(session, policy):
        if at is not None and (version.valid_from > at or (version.valid_to is not None and version.valid_to <= at)):
            continue
        if at is None and version.valid_to is not None:
            continue
        out.append(
            {
                "policy": row.name,
                "source": source.name,
                "valid_from": _iso(version.valid_from),
                "valid_to": _iso(version.valid_to),
                "status": version.status,
                "document": version.document,
                "raw_json": version.raw_json,
                "document_link": version.document_link,
                "url": f"{source.url}#{version.anchor}" if version.anchor else source.url,
            }
        )
    return out
