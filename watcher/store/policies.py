"""Policy versions (one row per distinct state) and action grant intervals.

A policy's open intervals (``granted_to`` null) are the last *known* actions: an unparseable or
linked-only version leaves them open, because unknown is not empty.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.orm import Session

from watcher.db.models import Policy as PolicyRow
from watcher.db.models import PolicyAction, PolicyVersion, Snapshot, Source, table_of
from watcher.diff import Grant, grants_of
from watcher.model import ActionSet, Kind, Page, Policy, PolicyStatus


def doc_hash(policy: Policy) -> str:
    raw = " ".join(policy.raw_json.split()) if policy.document is None and policy.raw_json else None
    data = [policy.status.value, policy.document, raw, policy.document_link]
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


AnyRow = Row[*tuple[Any, ...]]
"""A Core row of any shape (attributes by column name)."""
POLICIES = table_of(PolicyRow)
VERSIONS = table_of(PolicyVersion)
GRANTS = table_of(PolicyAction)
# Read and written as Core rows (attribute access like the ORM's objects): a page whose policies grant thousands of
# actions would otherwise load thousands of ORM objects, and every UPDATE would be checked against them all.


def _policy_rows(session: Session, source_id: int) -> dict[str, AnyRow]:
    """(id, name, removed_at) of every policy of the source, by name, in id order."""
    p = POLICIES.c
    stmt = select(p.id, p.name, p.removed_at).where(p.source_id == source_id).order_by(p.id)
    return {row.name: row for row in session.execute(stmt)}


def _current_versions(session: Session, policy_ids: list[int]) -> dict[int, AnyRow]:
    if not policy_ids:
        return {}
    v = VERSIONS.c
    stmt = select(VERSIONS).where(v.policy_id.in_(policy_ids), v.valid_to.is_(None))
    return {row.policy_id: row for row in session.execute(stmt)}


def _open_grants(session: Session, policy_ids: list[int]) -> dict[int, list[AnyRow]]:
    """(id, policy_id, effect, action, action_lc) of the open grants, by policy id."""
    out: dict[int, list[AnyRow]] = defaultdict(list)
    if policy_ids:
        g = GRANTS.c
        stmt = select(g.id, g.policy_id, g.effect, g.action, g.action_lc).where(
            g.policy_id.in_(policy_ids), g.granted_to.is_(None)
        )
        for row in session.execute(stmt):
            out[row.policy_id].append(row)
    return out


def _known_ever(session: Session, policy_ids: list[int]) -> set[int]:
    if not policy_ids:
        return set()
    stmt = select(PolicyVersion.policy_id).where(
        PolicyVersion.policy_id.in_(policy_ids), PolicyVersion.action_count.is_not(None)
    )
    return set(session.scalars(stmt))


def _action_set(grants: list[AnyRow]) -> ActionSet:
    by_effect: dict[str, list[str]] = defaultdict(list)
    for g in grants:
        by_effect[g.effect].append(g.action)
    return ActionSet(
        allow=tuple(sorted(by_effect["Allow"])),
        deny=tuple(sorted(by_effect["Deny"])),
        not_actions=tuple(sorted(by_effect["NotAction"])),
    )


def _policy_of(name: str, version: PolicyVersion | AnyRow, actions: ActionSet | None) -> Policy:
    """A stored version as the parser's ``Policy``, with ``actions`` (``None``: unknown)."""
    return Policy(
        name=name,
        anchor=version.anchor,
        description=version.description,
        status=PolicyStatus(version.status),
        defects=tuple(version.defects),
        raw_json=version.raw_json,
        document=version.document,
        document_link=version.document_link,
        actions=actions,
    )


@dataclass
class Stored:
    """A source's stored policies, read once per ingest: the old side of the diff and what ``apply_page`` updates."""

    rows: dict[str, AnyRow]
    """(id, name, removed_at) of every policy row of the source (removed ones too), by name, in id order."""
    versions: dict[int, AnyRow] = field(default_factory=dict)
    """The open (current) version of each policy, by policy id."""
    grants: dict[int, list[AnyRow]] = field(default_factory=lambda: defaultdict(list))
    """The open grant rows of each policy, by policy id."""
    known: set[int] = field(default_factory=set)
    """Policies that ever had a version whose actions were known."""


def load_stored(session: Session, source_id: int) -> Stored:
    """Four statements for a source with policies, one for a source without (a first check)."""
    rows = _policy_rows(session, source_id)
    ids = [r.id for r in rows.values()]
    if not ids:
        return Stored(rows)
    return Stored(rows, _current_versions(session, ids), _open_grants(session, ids), _known_ever(session, ids))


def current_page(session: Session, source: Source, snapshot: Snapshot, stored: Stored | None = None) -> Page:
    """The stored state of ``source`` as a Page: the old side of the next diff."""
    stored = load_stored(session, source.id) if stored is None else stored
    policies = []
    for row in stored.rows.values():
        v = stored.versions.get(row.id)
        if row.removed_at is not None or v is None:
            continue
        actions = _action_set(stored.grants[row.id]) if row.id in stored.known else None
        policies.append(_policy_of(row.name, v, actions))
    return Page(kind=Kind.SERVICE_PAGE, url=source.url, title=snapshot.title, policies=tuple(policies))


def last_embedded(session: Session, page_source: str, policy: str) -> Policy | None:
    """The last version of ``policy`` whose document ``page_source`` embedded, with its last known grants (kept
    open since, as unknown is not empty); ``None`` when the page never embedded it."""
    stmt = (
        select(PolicyVersion, PolicyRow.id)
        .join(PolicyRow, PolicyRow.id == PolicyVersion.policy_id)
        .join(Source, Source.id == PolicyRow.source_id)
        .where(Source.name == page_source, PolicyRow.name == policy, PolicyVersion.action_count.is_not(None))
        .order_by(PolicyVersion.valid_from.desc(), PolicyVersion.id.desc())
        .limit(1)
    )
    found = session.execute(stmt).first()
    if found is None:
        return None
    version, policy_id = found
    return _policy_of(policy, version, _action_set(_open_grants(session, [policy_id])[policy_id]))


def _grant_values(policy_id: int, grants: list[tuple[str, str, str]], now: dt.datetime) -> list[dict[str, Any]]:
    return [
        {
            "policy_id": policy_id,
            "action": action,
            "action_lc": action_lc,
            "service": action_lc.split(":", 1)[0] if ":" in action_lc else action_lc,
            "effect": effect,
            "granted_from": now,
            "granted_to": None,
        }
        for effect, action_lc, action in grants
    ]


def _grant_changes(
    policy_id: int, open_rows: list[AnyRow], wanted: list[Grant], now: dt.datetime
) -> tuple[list[int], list[dict[str, Any]]]:
    """(ids of open grant rows to close, values of grant rows to open) to bring a policy to ``wanted``."""
    wanted_keys = {(effect, action.lower()): action for effect, action in wanted}
    have = {(r.effect, r.action_lc): r for r in open_rows}
    closed = [row.id for key, row in have.items() if key not in wanted_keys]
    opened = [(effect, lc, action) for (effect, lc), action in wanted_keys.items() if (effect, lc) not in have]
    return closed, _grant_values(policy_id, opened, now)


def _version_values(policy_id: int, policy: Policy, snapshot_id: int, now: dt.datetime) -> dict[str, Any]:
    return {
        "policy_id": policy_id,
        "snapshot_id": snapshot_id,
        "valid_from": now,
        "valid_to": None,
        "status": policy.status.value,
        "defects": list(policy.defects),
        "doc_hash": doc_hash(policy),
        "document": policy.document,
        "raw_json": policy.raw_json if policy.document is None else None,
        "anchor": policy.anchor,
        "document_link": policy.document_link,
        "description": policy.description,
        "action_count": None if policy.actions is None else policy.actions.count,
    }


def _ensure_rows(session: Session, source: Source, page: Page, stored: Stored, now: dt.datetime) -> None:
    """Add the page's new policies to ``stored.rows``, inserted in one statement that returns them."""
    new = [
        {"source_id": source.id, "name": name, "first_seen_at": now}
        for name in dict.fromkeys(p.name for p in page.policies)
        if name not in stored.rows
    ]
    if new:
        p = POLICIES.c
        inserted = session.execute(insert(POLICIES).returning(p.id, p.name, p.removed_at), new).all()  # any order
        stored.rows.update((row.name, row) for row in sorted(inserted, key=lambda row: row.id))


def apply_page(
    session: Session, source: Source, snapshot_id: int, page: Page, now: dt.datetime, stored: Stored | None = None
) -> None:
    """Write what changed in ``page``'s policies: new versions, closed versions, grant intervals.

    ``stored`` is the source's state as read before this page (``load_stored``); it is read here when not given.
    Rows are written in a few bulk statements per page (not one ORM object per grant): a first check of a
    page with nine policies and hundreds of actions is a handful of statements.
    """
    stored = load_stored(session, source.id) if stored is None else stored
    _ensure_rows(session, source, page, stored, now)
    rows, versions, grants = stored.rows, stored.versions, stored.grants
    present: set[int] = set()
    closed_versions: list[int] = []
    closed_grants: list[int] = []
    new_versions: list[dict[str, Any]] = []
    new_grants: list[dict[str, Any]] = []
    for policy in page.policies:
        row = rows[policy.name]
        present.add(row.id)
        current = versions.get(row.id)
        if current is not None and current.doc_hash == doc_hash(policy):
            continue
        if current is not None:
            closed_versions.append(current.id)
        new_versions.append(_version_values(row.id, policy, snapshot_id, now))
        if policy.actions is not None:
            closed, opened = _grant_changes(row.id, grants[row.id], grants_of(policy.actions), now)
            closed_grants += closed
            new_grants += opened
    back = [row.id for row in rows.values() if row.id in present and row.removed_at is not None]
    gone = [row.id for row in rows.values() if row.id not in present and row.removed_at is None]
    for policy_id in gone:
        if (current := versions.get(policy_id)) is not None:
            closed_versions.append(current.id)
        closed_grants += [g.id for g in grants[policy_id]]
    # Plain Core statements (no ORM bookkeeping per row): a first check inserts hundreds of grants.
    connection = session.connection()
    if back:
        connection.execute(update(POLICIES).where(POLICIES.c.id.in_(back)).values(removed_at=None))
    if gone:
        connection.execute(update(POLICIES).where(POLICIES.c.id.in_(gone)).values(removed_at=now))
    if closed_versions:
        connection.execute(update(VERSIONS).where(VERSIONS.c.id.in_(closed_versions)).values(valid_to=now))
    if closed_grants:
        connection.execute(update(GRANTS).where(GRANTS.c.id.in_(closed_grants)).values(granted_to=now))
    if new_versions:
        connection.execute(insert(VERSIONS), new_versions)
    if new_grants:
        connection.execute(insert(GRANTS), new_grants)
