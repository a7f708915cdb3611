"""The Block Kit sections of the Slack channel: notices grouped by policy, one section each (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from watcher.notify.model import ActionNote, Notice, highest_level
from watcher.notify.slack.text import (
    MAX_NAME,
    MAX_ROWS,
    MAX_SECTION,
    badge,
    code,
    code_list,
    escape,
    link,
    note_text,
    plural,
    squash,
    when,
)

POLICY_KINDS = (
    "policy_added",
    "policy_removed",
    "actions_added",
    "actions_removed",
    "statement_changed",
    "document_moved",
    "parse_repaired",
    "parse_failed",
    "update_row_added",
)
"""Kinds shown under their policy (when the notice names one), in this order."""


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _section(text: str) -> dict[str, Any]:
    if len(text) > MAX_SECTION:  # a last guard: the parts are budgeted, this should not happen
        text = text[: MAX_SECTION - 1].rsplit("\n", 1)[0] + "\n…"
    return {"type": "section", "text": _mrkdwn(text)}


def _context(notice: Notice) -> dict[str, Any]:
    parts = [escape(notice.source, MAX_NAME)]
    if notice.service:
        parts.append(escape(notice.service, MAX_NAME))
    parts.append(f"detected {when(notice.detected_at)}")
    return {"type": "context", "elements": [_mrkdwn(" · ".join(parts))]}  # at most ~450 characters


@dataclass
class _Item:
    """What one section shows: a policy's notices, or one other notice."""

    first: Notice
    notices: list[Notice] = field(default_factory=list)

    @property
    def policy(self) -> str | None:
        return self.first.policy if self.first.kind in POLICY_KINDS else None


def _items(notices: Iterable[Notice]) -> list[_Item]:
    """Notices grouped by (source, policy) for the policy kinds, in order of first appearance; others alone."""
    items: list[_Item] = []
    groups: dict[tuple[str, str], _Item] = {}
    for notice in notices:
        if notice.kind in POLICY_KINDS and notice.policy is not None:
            key = (notice.source, notice.policy)
            if key not in groups:
                groups[key] = _Item(notice)
                items.append(groups[key])
            groups[key].notices.append(notice)
        else:
            items.append(_Item(notice, [notice]))
    order = {kind: i for i, kind in enumerate(POLICY_KINDS)}
    for item in items:
        item.notices.sort(key=lambda n: order.get(n.kind, len(order)))
        # The best link for a policy: the one with its anchor (an updates row links the page only).
        with_anchor = [n for n in item.notices if n.url and "#" in n.url]
        if with_anchor and item.policy is not None:
            item.first = with_anchor[0]
    return items


def _by_effect(grants: Sequence[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    effects: dict[str, list[str]] = {}
    for effect, action in grants:
        effects.setdefault(str(effect), []).append(action)
    order = {"Allow": 0, "Deny": 1, "NotAction": 2}
    return sorted(effects.items(), key=lambda kv: order.get(kv[0], 3))


def _grant_lines(
    label: str, grants: Sequence[tuple[str, str]], budget: int, notes: dict[tuple[str, str], ActionNote] | None = None
) -> list[str]:
    """``*Added:* `a`, `b``` or, when other effects appear, one line per effect (``*Added (Deny):* ...``).

    With ``notes`` (the event's classification), one line per action with its access level and flags instead."""
    groups = _by_effect(grants)
    mixed = len(groups) > 1 or any(effect != "Allow" for effect, _ in groups)
    lines = []
    for effect, actions in groups:
        head = f"*{label} ({escape(effect, 20)}):* " if mixed else f"*{label}:* "
        room = max(budget // len(groups) - len(head), 80)
        if notes:
            lines.append(head.rstrip())
            lines += _noted_lines(effect, actions, notes, room)
        else:
            lines.append(head + code_list(actions, room))
    return lines


def _noted_lines(
    effect: str, actions: Sequence[str], notes: dict[tuple[str, str], ActionNote], budget: int
) -> list[str]:
    """``• `iam:PassRole`  Write · privilege escalation · on `*``` per action, in at most ``budget`` characters
    ("… and N more" included; the first line is always shown)."""
    out: list[str] = []
    used = 0
    for i, action in enumerate(actions):
        note = notes.get((effect, action))
        line = f"• {code(action)}" + (f"  {note_text(note)}" if note else "")
        reserve = len(f"… and {len(actions)} more") + 1 if i < len(actions) - 1 else 0
        if out and used + len(line) + 1 + reserve > budget:
            break
        out.append(line)
        used += len(line) + 1
    if len(out) < len(actions):
        out.append(f"… and {len(actions) - len(out)} more")
    return out


def _grants(label: str, n: Notice, budget: int) -> list[str]:
    return _grant_lines(label, n.grants, budget, n.action_notes())


def _note_line(n: Notice) -> list[str]:
    """AWS's word on removals (``details["note"]``), when the event carries it."""
    note = n.details.get("note") if n.kind in ("actions_removed", "policy_removed") else None
    return [f"*Note:* {escape(note)}"] if note else []


def _badged(n: Notice, line: str, per_notice: bool) -> str:
    return f"{badge(n.level)} · {line}" if per_notice and n.level is not None else line


def _row_key(row: dict[str, Any]) -> tuple[str, str]:
    return squash(row.get("change")), squash(row.get("date"))


def _row_line(row: dict[str, Any]) -> str:
    date = escape(row.get("date") or row.get("date_raw"), 40)
    head = f"*Updates table, {date}:* " if date else "*Updates table:* "
    return head + escape(row.get("change"))


def _list_details(label: str, values: object, budget: int) -> list[str]:
    if not isinstance(values, list | tuple) or not values:
        return []
    head = f"{label}: "
    return [head + code_list(list(values), max(budget - len(head), 80))]


def _rows(item: _Item) -> list[dict[str, Any]]:
    """The updates-table rows about this policy, each once: those attached to its changes, then new rows."""
    rows = [n.update_row for n in item.notices if n.update_row]
    rows += [n.details for n in item.notices if n.kind == "update_row_added"]
    seen: set[tuple[str, str]] = set()
    out = []
    for row in rows:
        if _row_key(row) not in seen:
            seen.add(_row_key(row))
            out.append(row)
    return out


def _policy_text(item: _Item) -> str:
    head = f"*{link(item.first.url, escape(item.policy, MAX_NAME))}*"
    level = highest_level(n.level for n in item.notices)
    if level is not None:
        head = f"{badge(level)} · {head}"
    # Each change gets its own badge when the policy's changes differ in severity.
    per_notice = len({n.level for n in item.notices if n.kind != "update_row_added" and n.level}) > 1
    rows = _rows(item)
    tail = [_row_line(row) for row in rows[:MAX_ROWS]]
    if len(rows) > MAX_ROWS:
        tail.append(f"… and {plural(len(rows) - MAX_ROWS, 'more updates-table row')}")
    notes = [line for n in item.notices for line in _note_line(n)]
    lists = sum(3 if n.kind == "statement_changed" else 1 for n in item.notices if n.grants or n.details)
    fixed = len(head) + sum(len(line) + 1 for line in tail + notes) + (150 + 40 * per_notice) * len(item.notices)
    budget = max((MAX_SECTION - fixed) // max(lists, 1), 100)
    lines = [head]
    for n in item.notices:
        start = len(lines)
        if n.kind == "policy_added":
            if n.grants:
                lines.append(f"*New policy* with {plural(len(n.grants), 'action')}:")
                lines += _grants("Grants", n, budget)
            else:
                lines.append("*New policy* (its document is not on the page)")
        elif n.kind == "policy_removed":
            lines.append("*Policy removed from the page*" + (":" if n.grants else ""))
            if n.grants:
                lines += _grants("It granted", n, budget)
            lines += _note_line(n)
        elif n.kind == "actions_added":
            lines += _grants("Added", n, budget)
        elif n.kind == "actions_removed":
            lines += _grants("Removed", n, budget)
            lines += _note_line(n)
        elif n.kind == "statement_changed":
            d = n.details
            lines.append("*Statements changed* (resources or conditions):")
            for label, key in (
                ("Resources added", "resources_added"),
                ("Resources removed", "resources_removed"),
                ("Conditions added", "conditions_added"),
                ("Conditions removed", "conditions_removed"),
                ("Actions affected", "actions_affected"),
            ):
                lines += _list_details(label, d.get(key), budget * 3 // 5)
        elif n.kind == "document_moved":
            target = n.details.get("document_link")
            shown = link(target, escape(target, 300)) if target else "another page"
            lines.append(f"*Document moved:* the policy document is no longer on this page; see {shown}")
        elif n.kind == "parse_repaired":
            defects = ", ".join(escape(d, 40) for d in (n.details.get("defects") or [])[:5]) or "unknown"
            lines.append(f"*Malformed policy JSON*, read leniently (defects: {defects})")
        elif n.kind == "parse_failed":
            lines.append("*Policy JSON could not be parsed*: its actions are unknown until the page is fixed")
        if len(lines) > start:
            lines[start] = _badged(n, lines[start], per_notice)
    return "\n".join(lines + tail)


def _other_text(n: Notice) -> str:
    text = _other_body(n)
    return f"{badge(n.level)} · {text}" if n.level is not None else text


def _other_body(n: Notice) -> str:
    d = n.details
    source = link(n.url, escape(n.source, MAX_NAME))
    if n.kind == "feed_item_added":
        title = escape(d.get("title"), MAX_NAME) or "(untitled)"
        text = f"*New documentation update:* {link(d.get('link'), title)}"
        if d.get("published"):
            text += f" ({escape(d.get('published'), 40)})"
        return text
    if n.kind == "update_row_added":
        return _row_line(d) + (f"\n{escape(d.get('description'))}" if d.get("description") else "")
    if n.kind == "layout_suspect":
        return (
            f":warning: *{source} looks broken or re-laid-out*; its changes are held back "
            f"until it parses again.\nReason: {escape(d.get('reason'))}"
        )
    if n.kind == "source_failing":
        text = f":rotating_light: *{source} is failing*"
        if d.get("since"):
            text += f" since {when(d.get('since'))}"
        return text + (f"\nLast error: {escape(d.get('error'))}" if d.get("error") else "")
    if n.kind == "source_recovered":
        text = f":white_check_mark: *{source} recovered*"
        return text + (f" (failing since {when(d.get('since'))})" if d.get("since") else "")
    if n.kind == "delivery_dead":
        channel = escape(d.get("channel"), MAX_NAME) or "a channel"
        text = f":x: *A message to {channel} was given up*"
        return text + (f"\nLast answer: {escape(d.get('error'))}" if d.get("error") else "")
    if n.kind in ("undocumented_change", "documentation_mismatch"):
        return _reconciliation_text(n)
    if n.kind == "parse_repaired":
        return "*Malformed policy JSON*, read leniently on " + source
    if n.kind == "parse_failed":
        return "*Policy JSON could not be parsed* on " + source
    label = escape(n.kind.replace("_", " "), 60).capitalize()
    return f"*{label}*" + (f": {escape(n.policy, MAX_NAME)}" if n.policy else "")


_CHANGE_WORDS = {
    "policy_added": "new policy",
    "policy_removed": "policy removed",
    "actions_added": "actions added",
    "actions_removed": "actions removed",
    "statement_changed": "statements changed",
}


_CHANGE_LABELS = {
    "policy_added": "Grants",
    "policy_removed": "It granted",
    "actions_added": "Added",
    "actions_removed": "Removed",
}


def _reconciliation_text(n: Notice) -> str:
    """What AWS did and did not say: a change no documentation mentions, or an updates row the policy belies."""
    d = n.details
    policy = link(n.url, escape(n.policy or n.source, MAX_NAME))
    if n.kind == "undocumented_change":
        kind = str(d.get("change_kind") or "")
        what = escape(_CHANGE_WORDS.get(kind, kind.replace("_", " ")) or "changed", 60)
        text = f":mag: *Undocumented change to {policy}*: {what}"
        if d.get("changed_at"):
            text += f" on {when(d.get('changed_at'))}"
        days = d.get("grace_days")
        if isinstance(days, int) and not isinstance(days, bool):
            text += f", not documented within {plural(days, 'day')}"
        lines = [text]
        if d.get("reason"):
            lines.append(f"Reason: {escape(d.get('reason'))}")
        if n.grants:
            lines += _grants(_CHANGE_LABELS.get(kind, "Actions"), n, _room(lines))
        return "\n".join(lines)
    lines = [f":warning: *Documentation mismatch for {policy}*: AWS says it added actions the policy does not grant"]
    if d.get("reason"):
        lines.append(f"Reason: {escape(d.get('reason'))}")
    row = d.get("row")
    if isinstance(row, dict) and row.get("change"):
        lines.append(_row_line(row))
    missing = [a for _, a in n.grants] or [str(a) for a in d.get("missing") or []]
    if missing:
        lines.append("*Missing:* " + code_list(missing, _room(lines) - 12))
    return "\n".join(lines)


def _room(lines: Sequence[str]) -> int:
    """What is left of a section for a list after ``lines`` (and a severity badge)."""
    return max(MAX_SECTION - 60 - sum(len(line) + 1 for line in lines), 200)
