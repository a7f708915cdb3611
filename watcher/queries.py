"""The questions people ask of the history, as plain rows (lists of dicts) for any output format."""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections import defaultdict
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, literal_column, or_, select
from sqlalchemy.orm import Session, defer

from watcher.db.models import Event, EventAction, PolicyAction, PolicyVersion, Source
from watcher.db.models import Policy as PolicyRow
from watcher.risk.levels import ORDER, Severity


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _like(pattern: str) -> str:
    escaped = pattern.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


CHANGE_COLUMNS = (
    Event.id,
    Event.kind,
    Event.policy,
    Event.payload,
    Event.detected_at,
    Source.name,
    Source.service,
    Source.url,
    Event.severity,
)


def _change_row(row: Any) -> dict[str, Any]:
    payload = dict(row[3])
    grants = payload.pop("grants", [])
    payload.pop("severity", None)  # a column of its own
    return {
        "id": row[0],
        "kind": row[1],
        "source": row[5],
        "service": row[6],
        "policy": row[2],
        "severity": row[8],
        "actions": [action for _, action in grants],
        "grants": grants,
        "detected_at": _iso(row[4]),
        "url": row[7],
        "details": payload,
    }


def _changes_query(
    since: dt.datetime | None,
    service: str | None,
    policy: str | None,
    action: str | None,
    kind: str | None,
    min_severity: Severity | None = None,
) -> Any:
    stmt = select(*CHANGE_COLUMNS).join(Source, Source.id == Event.source_id)
    if since is not None:
        stmt = stmt.where(Event.detected_at >= since)
    if service:
        stmt = stmt.where(func.lower(Source.service).like(f"%{_like(service)}%", escape="\\"))
    if policy:
        stmt = stmt.where(func.lower(Event.policy) == policy.lower())
    if kind:
        stmt = stmt.where(Event.kind == kind)
    if min_severity is not None:
        stmt = stmt.where(Event.severity.in_([level.value for level in ORDER if level.rank >= min_severity.rank]))
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
    min_severity: Severity | None = None,
) -> list[dict[str, Any]]:
    """Events, oldest first, filtered; ``action`` is a glob (``s3:Put*``), case-insensitive; ``min_severity`` keeps
    change events at or above that level (operator events, which have none, are left out)."""
    stmt = _changes_query(since, service, policy, action, kind, min_severity)
    return [_change_row(r) for r in session.execute(stmt)]


def when(session: Session, action: str) -> list[dict[str, Any]]:
    """Which policies grant ``action`` (or a wildcard that covers it), since when, and since when not."""
    wanted = action.lower()
    condition: ColumnElement[bool]
    if "*" in wanted or "?" in wanted:
        condition = PolicyAction.action_lc.like(_like(wanted), escape="\\")
    else:
        service = wanted.split(":", 1)[0]
        # a literal pattern, so that the partial index ix_policy_actions_wildcard applies (a bound one never does)
        wildcard = and_(PolicyAction.service.in_([service, "*"]), PolicyAction.action_lc.like(literal_column("'%*%'")))
        condition = or_(PolicyAction.action_lc == wanted, wildcard)
    stmt = (
        select(PolicyAction, PolicyRow, Source)
        .join(PolicyRow, PolicyRow.id == PolicyAction.policy_id)
        .join(Source, Source.id == PolicyRow.source_id)
        .where(condition)
        .order_by(PolicyRow.name, PolicyAction.granted_from, PolicyAction.action_lc, PolicyAction.id)
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
    return _merge_moved(rows)


def _merge_moved(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per grant of a policy whose JSON moved to the AWS Managed Policy Reference.

    The page keeps such a policy's last known grants open (unknown is not empty) while its derived source
    ``<page>/<Policy>`` follows the reference page: the derived source's row stands for both, since the earlier
    of the two, and the page's open row is dropped.
    """
    derived = {
        (r["source"], r["effect"], r["action"].lower()): r for r in rows if r["source"].endswith("/" + r["policy"])
    }
    out = []
    for row in rows:
        twin = derived.get((f"{row['source']}/{row['policy']}", row["effect"], row["action"].lower()))
        if twin is not None and row["current"]:
            if row["since"] is not None and (twin["since"] is None or row["since"] < twin["since"]):
                twin["since"] = row["since"]
            continue
        out.append(row)
    return out


def _versions(
    session: Session, policy: str, *, documents: bool = True
) -> list[tuple[PolicyVersion, PolicyRow, Source]]:
    stmt = (
        select(PolicyVersion, PolicyRow, Source)
        .join(PolicyRow, PolicyRow.id == PolicyVersion.policy_id)
        .join(Source, Source.id == PolicyRow.source_id)
        .where(func.lower(PolicyRow.name) == policy.lower())
        .order_by(Source.name, PolicyVersion.valid_from, PolicyVersion.id)
    )
    if not documents:
        stmt = stmt.options(defer(PolicyVersion.document), defer(PolicyVersion.raw_json))
    return [(v, p, s) for v, p, s in session.execute(stmt)]


def _grant_rows(session: Session, policy_ids: list[int]) -> dict[int, list[tuple[dt.datetime, bool, tuple[str, str]]]]:
    """Per policy: (time, opens, (effect, action)) for every start and end of a grant interval, in time order."""
    out: dict[int, list[tuple[dt.datetime, bool, tuple[str, str]]]] = defaultdict(list)
    stmt = select(
        PolicyAction.policy_id,
        PolicyAction.effect,
        PolicyAction.action,
        PolicyAction.granted_from,
        PolicyAction.granted_to,
    ).where(PolicyAction.policy_id.in_(policy_ids))
    for policy_id, effect, action, start, end in session.execute(stmt):
        out[policy_id].append((start, True, (effect, action)))
        if end is not None:
            out[policy_id].append((end, False, (effect, action)))
    for changes in out.values():
        changes.sort(key=lambda c: c[0])
    return out


def history(session: Session, policy: str) -> list[dict[str, Any]]:
    """The versions of ``policy`` (on every source that has it), each with what it added and removed.

    What a version grants is read from the grant intervals open at its ``valid_from``, not from its document.
    """
    versions = _versions(session, policy, documents=False)
    changes = _grant_rows(session, sorted({row.id for _, row, _ in versions}))
    out: list[dict[str, Any]] = []
    state: dict[int, set[tuple[str, str]]] = defaultdict(set)
    touched: dict[int, dict[tuple[str, str], bool]] = defaultdict(dict)
    position: dict[int, int] = defaultdict(int)
    known: set[int] = set()
    for version, row, source in versions:
        pending, grants, seen = changes.get(row.id, []), state[row.id], touched[row.id]
        i = position[row.id]
        while i < len(pending) and pending[i][0] <= version.valid_from:
            _, opens, grant = pending[i]
            seen.setdefault(grant, grant in grants)
            if opens:
                grants.add(grant)
            else:
                grants.discard(grant)
            i += 1
        position[row.id] = i
        added: list[tuple[str, str]] = []
        removed: list[tuple[str, str]] = []
        first = False
        if version.action_count is not None:
            if row.id in known:
                added = sorted(g for g, was in seen.items() if not was and g in grants)
                removed = sorted(g for g, was in seen.items() if was and g not in grants)
            else:
                first = True
                known.add(row.id)
            seen.clear()
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
                "first": first,
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
