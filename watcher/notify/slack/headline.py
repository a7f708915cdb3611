"""The headline of a Slack message: one policy's change, or how many changed (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from watcher.notify.slack.blocks import _Item
from watcher.notify.slack.text import MAX_HEADER, escape, plural


def _policy_summary(item: _Item) -> str:
    kinds = [n.kind for n in item.notices]
    added = sum(len(n.grants) for n in item.notices if n.kind == "actions_added")
    removed = sum(len(n.grants) for n in item.notices if n.kind == "actions_removed")
    parts: list[str] = []
    if "policy_added" in kinds:
        count = sum(len(n.grants) for n in item.notices if n.kind == "policy_added")
        parts.append(f"new policy ({plural(count, 'action')})" if count else "new policy")
    if "policy_removed" in kinds:
        parts.append("policy removed")
    if added and removed:
        parts.append(f"+{added} −{removed} actions")
    elif added:
        parts.append(f"+{plural(added, 'action')}")
    elif removed:
        parts.append(f"−{plural(removed, 'action')}")
    for kind, text in (
        ("statement_changed", "statements changed"),
        ("document_moved", "document moved"),
        ("parse_repaired", "malformed JSON"),
        ("parse_failed", "unparseable JSON"),
    ):
        if kind in kinds:
            parts.append(text)
    return ", ".join(parts) or "new updates-table row"


_OTHER_LABELS = {
    "feed_item_added": "New documentation update",
    "update_row_added": "New updates-table row",
    "layout_suspect": "Page looks broken",
    "source_failing": "Source failing",
    "source_recovered": "Source recovered",
    "delivery_dead": "Delivery given up",
    "undocumented_change": "Undocumented change",
    "documentation_mismatch": "Documentation mismatch",
}
_NAMED_BY_POLICY = frozenset({"undocumented_change", "documentation_mismatch"})
"""Kinds whose headline names the policy rather than the source."""


def summary(items: Sequence[_Item], limit: int = MAX_HEADER) -> str:
    """The headline, escaped and at most ``limit`` characters: one policy's change, or how many changed."""
    policies = [item for item in items if item.policy is not None]
    if len(policies) == 1:
        what = _policy_summary(policies[0])
        room = limit - len(what) - 2
        return f"{escape(policies[0].policy, room)}: {what}"
    if policies:
        return f"{len(policies)} policies changed"
    if len(items) == 1:
        n = items[0].first
        label = _OTHER_LABELS.get(n.kind, n.kind.replace("_", " ").capitalize())
        name = n.policy if n.kind in _NAMED_BY_POLICY and n.policy else n.source
        return f"{label}: {escape(name, limit - len(label) - 2)}"
    return f"{len(items)} changes"
