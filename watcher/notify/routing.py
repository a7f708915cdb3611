"""Which channel receives which event (pure): kinds, services, policies, only additions, severity, operator alerts."""

from __future__ import annotations

from watcher.notify.model import OPERATOR_KINDS
from watcher.notify.settings import ChannelSettings
from watcher.risk.levels import at_least

CHANGE_KINDS = frozenset(
    {
        "baseline",
        "policy_added",
        "policy_removed",
        "actions_added",
        "actions_removed",
        "statement_changed",
        "document_moved",
        "update_row_added",
        "feed_item_added",
        "parse_repaired",
    }
)
ADDITIONS = frozenset({"policy_added", "actions_added"})


def accepts(
    channel: ChannelSettings, kind: str, service: str | None, policy: str | None, severity: str | None = None
) -> bool:
    """Does ``channel`` want an event of this kind about this service and policy, of this severity?

    ``severity`` is the event's ``payload["severity"]``; a missing one counts as info. ``min_severity`` applies to
    change events only: operator alerts carry no severity and are never dropped by it.
    """
    if kind in OPERATOR_KINDS:
        return channel.operator  # operator alerts go where operators asked for them, whatever the kinds filter
    if channel.kinds is not None and kind not in channel.kinds:
        return False
    if channel.kinds is None and kind not in CHANGE_KINDS:
        return False
    if channel.only_additions and kind not in ADDITIONS:
        return False
    if not at_least(severity, channel.min_severity):
        return False
    if channel.services and not any(s.lower() in (service or "").lower() for s in channel.services):
        return False
    return not channel.policies or (policy is not None and policy in channel.policies)
