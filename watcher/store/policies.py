"""Policy versions (one row per distinct state) and action grant intervals.

A policy's open intervals (``granted_to`` null) are the last *known* actions: an unparseable or
linked-only version leaves them open, because unknown is not empty.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from watcher.db.models import Policy as PolicyRow
from watcher.db.models import PolicyAction, PolicyVersion, Snapshot, Source
from watcher.diff import Grant, grants_of
from watcher.model import ActionSet, Kind, Page, Policy, PolicyStatus


def doc_hash(policy: Policy) -> str:
    raw = " ".join(policy.raw_json.split()) if policy.document is None and policy.raw_json else None
    data = [policy.status.value, policy.document, raw, policy.document_link]
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _policy_rows(session: Session, source_id: int) -> dict[str, PolicyRow]:
    rows = session.scalars(select(PolicyRow).where(PolicyRow.source_id == source_id).order_by(PolicyRow.id))
    return {row.name: row for row in rows}


def _current_versions(session: Session, policy_ids: list[int]) -> dict[int, PolicyVersion]:
    if not policy_ids:
        return {}
    stmt = select(PolicyVersion).where(PolicyVersion.policy_id.in_(policy_ids), PolicyVersion.valid_to.is_(None))
    return {v.policy_id: v for v in session.scalars(stmt)}


def _open_grants(session: Session, policy_ids: list[int]) -> dict[int, list[PolicyAction]]:
    out: dict[int, list[PolicyAction]] = defaultdict(list)
    if policy_ids:
        stmt = select(PolicyAction).where(PolicyAction.policy_id.in_(policy_ids), PolicyAction.granted_to.is_(None))
        for row in session.scalars(stmt):
            out[row.policy_id].append(row)
    return out


def _known_ever(session: Session, policy_ids: list[int]) -> set[int]:
    if not policy_ids:
        return set()
    stmt = select(PolicyVersion.policy_id).where(
        PolicyVersion.policy_id.in_(policy_ids), PolicyVersion.action_count.is_not(None)
    )
    return set(session.scalars(stmt))


def _action_set(grants: list[PolicyAction]) -> ActionSet:
    by_effect: dict[str, list[str]] = defaultdict(list)
    for g in grants:
        by_effect[g.effect].append(g.action)
    return ActionSet(
        allow=tuple(sorted(by_effect["Allow"])),
        deny=tuple(sorted(by_effect["Deny"])),
        not_actions=tuple(sorted(by_effect["NotAction"])),
    )


def current_page(session: Session, source: Source, snapshot: Snapshot) -> Page:
    """The stored state of ``source`` as a Page: the old side of the next diff."""
    rows = [r for r in _policy_rows(session, source.id).values() if r.removed_at is None]
    ids = [r.id for r in rows]
    versions = _current_versions(session, ids)
    grants = _open_grants(session, ids)
    known = _known_ever(session, ids)
    policies = []
    for row in rows:
        v = versions.get(row.id)
        if v is None:
            continue
        policies.append(
            Policy(
                name=row.name,
                anchor=v.anchor,
                description=v.description,
                status=PolicyStatus(v.status),
                defects=tuple(v.defects),
                raw_json=v.raw_json,
                document=v.document,
                document_link=v.document_link,
                actions=_action_set(grants[row.id]) if row.id in known else None,
            )
        )
    return Page(kind=Kind.SERVICE_PAGE, url=source.url, title=snapshot.title, policies=tuple(policies))


def _sync_grants(
    session: Session, policy_id: int, open_rows: list[PolicyAction], wanted: list[Grant], now: dt.datetime
) -> None:
    wanted_keys = {(effect, action.lower()): action for effect, action in wanted}
    have = {(r.effect, r.action_lc): r for r in open_rows}
    for key, row in have.items():
        if key not in wanted_keys:
            row.granted_to = now
    for (effect, action_lc), action in wanted_keys.items():
        if (effect, action_lc) not in have:
            session.add(
                PolicyAction(
                    policy_id=policy_id,
                    action=action,
                    action_lc=action_lc,
                    service=action_lc.split(":", 1)[0] if ":" in action_lc else action_lc,
                    effect=effect,
                    granted_from=now,
                    granted_to=None,
                )
            )


def _new_version(row: PolicyRow, policy: Policy, snapshot: Snapshot, now: dt.datetime) -> PolicyVersion:
    return PolicyVersion(
        policy_id=row.id,
        snapshot_id=snapshot.id,
        valid_from=now,
        valid_to=None,
        status=policy.status.value,
        defects=list(policy.defects),
        doc_hash=doc_hash(policy),
        document=policy.document,
        raw_json=policy.raw_json if policy.document is None else None,
        anchor=policy.anchor,
        document_link=policy.document_link,
        description=policy.description,
        action_count=None if policy.actions is None else policy.actions.count,
    )


def apply_page(session: Session, source: Source, snapshot: Snapshot, page: Page, now: dt.datetime) -> None:
    """Write what changed in ``page``'s policies: new versions, closed versions, grant intervals."""
    rows = _policy_rows(session, source.id)
    for policy in page.policies:
        if policy.name not in rows:
            row = PolicyRow(source_id=source.id, name=policy.name, first_seen_at=now)
            session.add(row)
            session.flush()
            rows[policy.name] = row
    ids = [r.id for r in rows.values()]
    versions = _current_versions(session, ids)
    grants = _open_grants(session, ids)
    present = set()
    for policy in page.policies:
        row = rows[policy.name]
        present.add(row.id)
        row.removed_at = None
        current = versions.get(row.id)
        if current is not None and current.doc_hash == doc_hash(policy):
            continue
        if current is not None:
            current.valid_to = now
        session.add(_new_version(row, policy, snapshot, now))
        if policy.actions is not None:
            _sync_grants(session, row.id, grants[row.id], grants_of(policy.actions), now)
    for row in rows.values():
        if row.id in present or row.removed_at is not None:
            continue
        row.removed_at = now
        if (current := versions.get(row.id)) is not None:
            current.valid_to = now
        _sync_grants(session, row.id, grants[row.id], [], now)
