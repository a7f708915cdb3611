"""The semantic diff: what changed between two parses of a source (pure, no I/O).

Rules that keep alerts honest (DESIGN §3) live here: a broken page is not a removal, unknown is not
empty, a repaired policy is reported once per distinct text.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from watcher.canonical import statements
from watcher.model import ActionSet, FeedItem, Page, Policy, PolicyStatus, UpdateRow


class ChangeKind(StrEnum):
    BASELINE = "baseline"
    POLICY_ADDED = "policy_added"
    POLICY_REMOVED = "policy_removed"
    ACTIONS_ADDED = "actions_added"
    ACTIONS_REMOVED = "actions_removed"
    STATEMENT_CHANGED = "statement_changed"
    DOCUMENT_MOVED = "document_moved"
    UPDATE_ROW_ADDED = "update_row_added"
    FEED_ITEM_ADDED = "feed_item_added"
    PARSE_REPAIRED = "parse_repaired"
    PARSE_FAILED = "parse_failed"
    LAYOUT_SUSPECT = "layout_suspect"
    SOURCE_FAILING = "source_failing"
    SOURCE_RECOVERED = "source_recovered"
    DELIVERY_DEAD = "delivery_dead"
    UNDOCUMENTED_CHANGE = "undocumented_change"
    DOCUMENTATION_MISMATCH = "documentation_mismatch"


Grant = tuple[str, str]
"""(effect, action): effect is ``Allow``, ``Deny`` or ``NotAction``."""


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    policy: str | None = None
    grants: tuple[Grant, ...] = ()
    detail: dict[str, Any] = field(default_factory=dict, hash=False, compare=True)

    @property
    def actions(self) -> tuple[str, ...]:
        return tuple(action for _, action in self.grants)


def grants_of(actions: ActionSet) -> list[Grant]:
    return (
        [("Allow", a) for a in actions.allow]
        + [("Deny", a) for a in actions.deny]
        + [("NotAction", a) for a in actions.not_actions]
    )


def _grant_diff(old: ActionSet, new: ActionSet) -> tuple[tuple[Grant, ...], tuple[Grant, ...]]:
    """Added and removed grants, comparing action names case-insensitively."""
    old_keys = {(e, a.lower()) for e, a in grants_of(old)}
    new_keys = {(e, a.lower()) for e, a in grants_of(new)}
    added = tuple(g for g in grants_of(new) if (g[0], g[1].lower()) not in old_keys)
    removed = tuple(g for g in grants_of(old) if (g[0], g[1].lower()) not in new_keys)
    return added, removed


def _squash(text: str | None) -> str:
    return " ".join((text or "").split())


def text_hash(text: str | None) -> str:
    return hashlib.sha256(_squash(text).encode()).hexdigest()[:16]


def _resources(policy: Policy) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for st in statements(policy.document or {}):
        for key in ("Resource", "NotResource"):
            values = st.get(key, [])
            for v in values if isinstance(values, list) else [values]:
                out.add((key, json.dumps(v) if not isinstance(v, str) else v))
    return out


def _conditions(policy: Policy) -> set[str]:
    return {
        json.dumps(st["Condition"], sort_keys=True) for st in statements(policy.document or {}) if "Condition" in st
    }


def _scope_groups(policy: Policy) -> dict[tuple[str, str], set[str]]:
    """The lower-cased actions of each (effect, scope): a scope is the rest of a statement, ``Sid`` aside, and the
    effect of a ``NotAction`` entry is ``NotAction``.

    Two policies with the same actions and the same set of resources can still differ: a resource or condition
    moved from one statement to another changes what each action reaches.
    """
    out: dict[tuple[str, str], set[str]] = {}
    for st in statements(policy.document or {}):
        scope = json.dumps({k: v for k, v in st.items() if k not in ("Sid", "Action", "NotAction")}, sort_keys=True)
        effect = "Deny" if str(st.get("Effect", "")).lower() == "deny" else "Allow"
        for key in ("Action", "NotAction"):
            values = st.get(key, [])
            actions = out.setdefault(("NotAction" if key == "NotAction" else effect, scope), set())
            actions.update(a.lower() for a in (values if isinstance(values, list) else [values]) if isinstance(a, str))
    return out


def _rescoped(old: Policy, new: Policy) -> list[str]:
    """Actions (as published in ``new``) granted on both sides whose resources or conditions changed.

    A grant's scopes are those of the groups holding it. They differ exactly when some group holds it on one side
    only, so only the groups' symmetric differences are looked at (a policy of thousands of actions that changed
    one is a few set operations, not a set of scopes per action).
    """
    old_groups, new_groups = _scope_groups(old), _scope_groups(new)
    moved: set[Grant] = set()
    for key in old_groups.keys() | new_groups.keys():
        changed = old_groups.get(key, set()) ^ new_groups.get(key, set())
        moved.update((key[0], action) for action in changed)
    if not moved:
        return []

    def granted(groups: dict[tuple[str, str], set[str]]) -> set[Grant]:
        return {(effect, action) for (effect, _), actions in groups.items() for action in actions}

    both = moved & granted(old_groups) & granted(new_groups)
    names = {(e, a.lower()): a for e, a in grants_of(new.actions or ActionSet())}
    return sorted({names.get(g, g[1]) for g in both}, key=lambda action: (action.lower(), action))


def layout_suspect(old: Page, new: Page) -> str | None:
    """Why ``new`` looks like a broken or re-laid-out page rather than a real change, if it does."""
    if not old.policies:
        return None
    if not new.policies:
        return f"the page parses to no policies (it had {len(old.policies)})"
    new_names = {p.name for p in new.policies}
    gone = [p.name for p in old.policies if p.name not in new_names]
    if len(gone) * 2 > len(old.policies):
        return f"{len(gone)} of {len(old.policies)} policies vanished at once"
    documented = {p.name for p in old.policies if p.actions is not None}
    moved = [p.name for p in new.policies if p.name in documented and p.status is PolicyStatus.NO_DOCUMENT]
    if documented and len(moved) * 2 > len(documented):
        return f"{len(moved)} of {len(documented)} policy documents were replaced by links (document moved)"
    return None


def _policy_changes(old: Policy, new: Policy) -> list[Change]:
    changes: list[Change] = []
    name = new.name
    if new.status is PolicyStatus.UNPARSEABLE and (
        old.status is not PolicyStatus.UNPARSEABLE or text_hash(old.raw_json) != text_hash(new.raw_json)
    ):
        changes.append(Change(ChangeKind.PARSE_FAILED, name, detail={"text_hash": text_hash(new.raw_json)}))
    if new.status is PolicyStatus.REPAIRED and (
        old.status is not PolicyStatus.REPAIRED or set(old.defects) != set(new.defects)
    ):
        # Reported when the policy becomes malformed or its defects change, not each time its text changes
        # (another text can meet the same defects in another order).
        detail = {"defects": list(new.defects), "text_hash": text_hash(new.raw_json)}
        changes.append(Change(ChangeKind.PARSE_REPAIRED, name, detail=detail))
    if new.status is PolicyStatus.NO_DOCUMENT and old.actions is not None:
        changes.append(Change(ChangeKind.DOCUMENT_MOVED, name, detail={"document_link": new.document_link}))
    if old.actions is None or new.actions is None:
        return changes  # unknown is not empty: no action diff without both documents
    added, removed = _grant_diff(old.actions, new.actions)
    if added:
        changes.append(Change(ChangeKind.ACTIONS_ADDED, name, added))
    if removed:
        changes.append(Change(ChangeKind.ACTIONS_REMOVED, name, removed))
    if old.document is None or new.document is None:
        return changes  # the statements of an unknown document are unknown too
    old_res, new_res = _resources(old), _resources(new)
    old_cond, new_cond = _conditions(old), _conditions(new)
    rescoped = _rescoped(old, new)
    if old_res != new_res or old_cond != new_cond or rescoped:
        detail = {
            "resources_added": sorted(f"{k}:{v}" for k, v in new_res - old_res),
            "resources_removed": sorted(f"{k}:{v}" for k, v in old_res - new_res),
            "conditions_added": sorted(new_cond - old_cond),
            "conditions_removed": sorted(old_cond - new_cond),
            "actions_affected": rescoped,
        }
        changes.append(Change(ChangeKind.STATEMENT_CHANGED, name, detail=detail))
    return changes


def diff_policies(old: Page, new: Page) -> list[Change]:
    """Policy-level changes from ``old`` to ``new``; a suspect layout yields only ``layout_suspect``."""
    reason = layout_suspect(old, new)
    if reason is not None:
        return [Change(ChangeKind.LAYOUT_SUSPECT, detail={"reason": reason})]
    old_by_name = {p.name: p for p in old.policies}
    new_names = {p.name for p in new.policies}
    changes: list[Change] = []
    for policy in new.policies:
        before = old_by_name.get(policy.name)
        if before is None:
            grants = tuple(grants_of(policy.actions)) if policy.actions else ()
            changes.append(Change(ChangeKind.POLICY_ADDED, policy.name, grants, {"status": policy.status.value}))
        else:
            changes.extend(_policy_changes(before, policy))
    for policy in old.policies:
        if policy.name not in new_names:
            grants = tuple(grants_of(policy.actions)) if policy.actions else ()
            changes.append(Change(ChangeKind.POLICY_REMOVED, policy.name, grants))
    return changes


MOVED_KINDS = frozenset({ChangeKind.ACTIONS_ADDED, ChangeKind.ACTIONS_REMOVED, ChangeKind.STATEMENT_CHANGED})


def diff_moved(embedded: Policy, reference: Policy) -> list[Change]:
    """What changed in a policy's document as it moved from its page to the AWS Managed Policy Reference: the
    actions and statements only (the page reports the move itself, ``document_moved``)."""
    return [c for c in _policy_changes(embedded, reference) if c.kind in MOVED_KINDS]


def update_row_keys(rows: Iterable[UpdateRow]) -> list[str]:
    """A natural key per row: (change, date) plus its occurrence, since identical rows do happen."""
    seen: dict[str, int] = {}
    keys: list[str] = []
    for row in rows:
        base = f"{_squash(row.change)}|{row.date or _squash(row.date_raw)}"
        n = seen.get(base, 0)
        seen[base] = n + 1
        keys.append(hashlib.sha256(f"{base}|{n}".encode()).hexdigest()[:32])
    return keys


def new_update_rows(rows: Iterable[UpdateRow], known_keys: set[str]) -> list[tuple[str, UpdateRow]]:
    """(key, row) for the rows whose key is not known yet, in table order."""
    rows = list(rows)
    return [(k, r) for k, r in zip(update_row_keys(rows), rows, strict=True) if k not in known_keys]


def update_row_change(key: str, row: UpdateRow) -> Change:
    detail = {
        "key": key,
        **row.record(),
        "anchor": row.anchor,
    }
    policy = row.policies[0] if len(row.policies) == 1 else None
    return Change(ChangeKind.UPDATE_ROW_ADDED, policy, detail=detail)


def unknown_feed_items(items: Iterable[FeedItem], known_guids: set[str]) -> list[FeedItem]:
    """The items whose guid is not known yet, in feed order; a guid repeated in one feed counts once (the first)."""
    seen = set(known_guids)
    out: list[FeedItem] = []
    for item in items:
        if item.guid not in seen:
            seen.add(item.guid)
            out.append(item)
    return out


def new_feed_items(items: Iterable[FeedItem], known_guids: set[str]) -> list[Change]:
    return [
        Change(
            ChangeKind.FEED_ITEM_ADDED,
            detail={"guid": i.guid, "title": i.title, "link": i.link, "published": i.published, "summary": i.summary},
        )
        for i in unknown_feed_items(items, known_guids)
    ]


def diff_pages(old: Page | None, new: Page) -> list[Change]:
    """Every change from ``old`` to ``new`` (``None``: first sight, a silent baseline)."""
    if old is None:
        return [baseline_change(new)]
    changes = diff_policies(old, new)
    if changes and changes[0].kind is ChangeKind.LAYOUT_SUSPECT:
        return changes
    known = set(update_row_keys(old.updates))
    return changes + [update_row_change(k, r) for k, r in new_update_rows(new.updates, known)]


def baseline_change(page: Page) -> Change:
    detail = {
        "title": page.title,
        "policies": len(page.policies),
        "updates": len(page.updates),
        "repaired": [p.name for p in page.policies if p.status is PolicyStatus.REPAIRED],
        "unparseable": [p.name for p in page.policies if p.status is PolicyStatus.UNPARSEABLE],
        "no_document": [p.name for p in page.policies if p.status is PolicyStatus.NO_DOCUMENT],
    }
    return Change(ChangeKind.BASELINE, detail=detail)
