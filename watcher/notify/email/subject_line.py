"""The one-line Subject of a digest (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from watcher.notify.email.content import _OPERATOR_LABELS, POLICY_KINDS
from watcher.notify.email.text import _cut, _plural, one_line
from watcher.notify.model import OPERATOR_KINDS, Digest, Notice

SUBJECT_MAX = 180
"""Longest subject (characters, prefix included); a longer one is cut and ends with an ellipsis."""


_MINUS = "\u2212"


def _policy_summary(notices: Sequence[Notice]) -> str:
    kinds = {n.kind for n in notices}
    parts: list[str] = []
    if "policy_added" in kinds:
        parts.append("new policy")
    if "policy_removed" in kinds:
        parts.append("policy removed")
    added = sum(len(n.grants) for n in notices if n.kind == "actions_added")
    removed = sum(len(n.grants) for n in notices if n.kind == "actions_removed")
    if added or removed:
        counts = ([f"+{added}"] if added else []) + ([f"{_MINUS}{removed}"] if removed else [])
        parts.append(f"{' '.join(counts)} {'action' if added + removed == 1 else 'actions'}")
    for kind, words in (
        ("statement_changed", "statements changed"),
        ("document_moved", "document moved"),
        ("parse_repaired", "text repaired"),
    ):
        if kind in kinds:
            parts.append(words)
    return ", ".join(parts) or "changed"


def _services(notices: Iterable[Notice]) -> str:
    names = list(dict.fromkeys(one_line(n.service) for n in notices if n.service and one_line(n.service)))
    return f" ({', '.join(names)})" if names else ""


def _lead(digest: Digest) -> str:
    """``[critical] `` when the digest's highest severity is high or critical, else nothing."""
    alarm = digest.alarming
    return f"[{alarm.value}] " if alarm is not None else ""


def subject(digest: Digest) -> str:
    """The one-line subject: the highest severity when it is high or critical, the title, then what changed, or
    which source is unwell when nothing else is in the digest."""
    prefix = f"{_lead(digest)}[{one_line(digest.title) or 'Policy Watcher'}] "
    return _cut(one_line(prefix + _what(digest)), SUBJECT_MAX)


def body_title(digest: Digest) -> str:
    """The heading of the message's body: the subject without the title in brackets (not cut)."""
    return _cut(one_line(_lead(digest) + _what(digest)), SUBJECT_MAX)


def _what(digest: Digest) -> str:
    changes = [n for n in digest.notices if n.kind not in OPERATOR_KINDS]
    operator = [n for n in digest.notices if n.kind in OPERATOR_KINDS]
    by_policy: dict[str, list[Notice]] = {}
    for n in changes:
        if n.kind in POLICY_KINDS and n.policy is not None:
            by_policy.setdefault(one_line(n.policy), []).append(n)
    if len(by_policy) == 1:
        [(name, group)] = by_policy.items()
        text = f"{name}: {_policy_summary(group)}"
    elif by_policy:
        grouped = [n for group in by_policy.values() for n in group]
        text = f"{len(by_policy)} policies changed{_services(grouped)}"
    elif changes:
        rows = sum(n.kind == "update_row_added" for n in changes)
        items = sum(n.kind == "feed_item_added" for n in changes)
        baselines = list(dict.fromkeys(one_line(n.source) for n in changes if n.kind == "baseline"))
        rest = len(changes) - rows - items - sum(n.kind == "baseline" for n in changes)
        parts = []
        if rows:
            parts.append(_plural(rows, "new updates-table row"))
        if items:
            parts.append(_plural(items, "new feed item"))
        if baselines:
            parts.append(
                f"now watching {baselines[0]}" if len(baselines) == 1 else f"now watching {len(baselines)} sources"
            )
        if rest:
            parts.append(_plural(rest, "other change"))
        text = ", ".join(parts) + _services(changes)
    else:
        alerts = list(
            dict.fromkeys(
                f"{_OPERATOR_LABELS.get(n.kind, n.kind.replace('_', ' '))}: {one_line(_named(n))}" for n in operator
            )
        )
        text = "; ".join(alerts)
    if changes and operator:
        text += f" (+{_plural(len(operator), 'watcher alert')})"
    return text


def _named(notice: Notice) -> str | None:
    """What an operator alert is about: its policy for the reconciliation kinds, else its source."""
    if notice.kind in ("undocumented_change", "documentation_mismatch") and notice.policy:
        return notice.policy
    return notice.source
