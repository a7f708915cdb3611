"""The content of a digest, once, for both parts of the message: sections of entries of paragraphs (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from watcher.notify.email.text import _http_url, _shown_time, _when, one_line
from watcher.notify.model import OPERATOR_KINDS, ActionNote, Digest, Notice
from watcher.risk.levels import Severity

POLICY_KINDS = (
    "policy_added",
    "policy_removed",
    "actions_added",
    "actions_removed",
    "statement_changed",
    "document_moved",
    "parse_repaired",
)
"""Kinds shown under their policy (one block per policy, in the order the policies first appear)."""

_OPERATOR_LABELS = {
    "source_failing": "source failing",
    "source_recovered": "source recovered",
    "layout_suspect": "layout suspect",
    "parse_failed": "parse failed",
    "delivery_dead": "delivery dead",
    "undocumented_change": "undocumented change",
    "documentation_mismatch": "documentation mismatch",
}


@dataclass(frozen=True)
class _Para:
    text: str
    items: tuple[str, ...] = ()
    """Bullets under ``text`` (shown as code: actions, resources, conditions)."""
    marker: str = "-"
    sub: bool = False
    """A quotation under the paragraph before (an updates-row description, a feed item summary)."""
    notes: tuple[ActionNote | None, ...] = ()
    """What the classification says of each item (access level, flags...), None for none; or empty."""
    severity: Severity | None = None
    """The severity of the change this paragraph begins."""


@dataclass(frozen=True)
class _Entry:
    heading: str
    url: str | None
    paras: tuple[_Para, ...]
    meta: str
    severity: Severity | None = None
    """The severity of the event (entries that are not policies)."""


@dataclass(frozen=True)
class _Section:
    title: str
    entries: tuple[_Entry, ...]


_EFFECT_ORDER = {"Allow": 0, "Deny": 1, "NotAction": 2}


def _grant_paras(
    label: str, grants: Iterable[tuple[str, str]], marker: str, notes: dict[tuple[str, str], ActionNote] | None = None
) -> list[_Para]:
    by_effect: dict[str, list[tuple[str, ActionNote | None]]] = {}
    for effect, action in grants:
        by_effect.setdefault(one_line(effect), []).append((one_line(action), (notes or {}).get((effect, action))))
    ordered = sorted(by_effect.items(), key=lambda kv: (_EFFECT_ORDER.get(kv[0], 3), kv[0]))
    return [
        _Para(
            f"{label} ({effect}):",
            tuple(a for a, _ in actions),
            marker,
            notes=tuple(n for _, n in actions) if notes else (),
        )
        for effect, actions in ordered
    ]


def _removal_note(notice: Notice) -> list[_Para]:
    """AWS's word on removals (``details["note"]``), when the event carries it."""
    note = one_line(notice.details.get("note"))
    return [_Para(f"Note: {note}")] if note else []


def _row_paras(row: dict[str, Any]) -> list[_Para]:
    date = one_line(row.get("date") or row.get("date_raw")) or "undated"
    paras = [_Para(f"AWS wrote ({date}): {one_line(row.get('change')) or '(no change text)'}")]
    description = one_line(row.get("description"))
    if description and description != one_line(row.get("change")):
        paras.append(_Para(description, sub=True))
    return paras


def _row_key(row: dict[str, Any]) -> tuple[str, str]:
    return one_line(row.get("change")), one_line(row.get("date") or row.get("date_raw"))


def _meta(notices: Sequence[Notice]) -> str:
    first = notices[0]
    parts = [f"Source: {one_line(first.source)}"]
    if first.service:
        parts.append(f"Service: {one_line(first.service)}")
    times = sorted({n.detected_at for n in notices}, key=lambda t: (_when(t) or datetime.max.replace(tzinfo=UTC), t))
    parts.append(f"Detected: {_shown_time(times[0])}")
    return " | ".join(parts)


def _listing(details: dict[str, Any], key: str) -> tuple[str, ...]:
    values = details.get(key) or []
    return tuple(one_line(v) for v in (values if isinstance(values, list | tuple) else [values]))


def _policy_paras(notice: Notice) -> list[_Para]:
    paras = _change_paras(notice)
    if paras and notice.level is not None:
        paras[0] = replace(paras[0], severity=notice.level)
    return paras


def _change_paras(notice: Notice) -> list[_Para]:
    d = notice.details
    notes = notice.action_notes()
    match notice.kind:
        case "policy_added":
            paras = [_Para("New policy.")]
            paras += _grant_paras("Actions", notice.grants, "+", notes)
            status = one_line(d.get("status"))
            if not notice.grants and status and status != "ok":
                paras.append(_Para(f"Its document could not be read ({status}): its actions are unknown."))
            return paras
        case "policy_removed":
            return [
                _Para("Policy removed from the page."),
                *_grant_paras("Actions it granted", notice.grants, "-", notes),
                *_removal_note(notice),
            ]
        case "actions_added":
            return _grant_paras("Actions added", notice.grants, "+", notes)
        case "actions_removed":
            return [*_grant_paras("Actions removed", notice.grants, "-", notes), *_removal_note(notice)]
        case "statement_changed":
            paras = [_Para("Statements changed (resources or conditions):")]
            for key, label, marker in (
                ("resources_added", "Resources added", "+"),
                ("resources_removed", "Resources removed", "-"),
                ("conditions_added", "Conditions added", "+"),
                ("conditions_removed", "Conditions removed", "-"),
                ("actions_affected", "Actions affected", "*"),
            ):
                if items := _listing(d, key):
                    paras.append(_Para(f"{label}:", items, marker))
            return paras
        case "document_moved":
            link = one_line(d.get("document_link")) or "(no link)"
            return [_Para(f"The policy document moved off the page: {link}")]
        case "parse_repaired":
            defects = ", ".join(_listing(d, "defects")) or "unknown defects"
            return [_Para(f"The published policy text is malformed ({defects}); it was read after repair.")]
    return [_Para(_generic(notice))]


def _generic(notice: Notice) -> str:
    details = "; ".join(
        f"{one_line(k)}: {one_line(v)}" for k, v in sorted(notice.details.items()) if k != "classification"
    )
    policy = f" {one_line(notice.policy)}" if notice.policy else ""
    return f"{one_line(notice.kind).replace('_', ' ')}{policy}" + (f" ({details})" if details else "")


def _policy_section(notices: Sequence[Notice]) -> tuple[_Section | None, set[tuple[str, str, tuple[str, str]]]]:
    """One entry per policy; also the (source, policy, row) shown, so ``update_row_added`` is not repeated."""
    groups: dict[tuple[str, str], list[Notice]] = {}
    for n in notices:
        if n.kind in POLICY_KINDS and n.policy is not None:
            groups.setdefault((n.source, n.policy), []).append(n)
    rows_by_group: dict[tuple[str, str], list[dict[str, Any]]] = {key: [] for key in groups}
    for n in notices:
        if n.kind == "update_row_added" and n.policy is not None and (n.source, n.policy) in groups:
            rows_by_group[(n.source, n.policy)].append(n.details)
    shown: set[tuple[str, str, tuple[str, str]]] = set()
    entries = []
    for (source, policy), group in groups.items():
        paras: list[_Para] = []
        for n in group:
            paras += _policy_paras(n)
        rows = [n.update_row for n in group if n.update_row] + rows_by_group[(source, policy)]
        for row in rows:
            if (source, policy, _row_key(row)) not in shown:
                shown.add((source, policy, _row_key(row)))
                paras += _row_paras(row)
        url = next((u for n in group if (u := _http_url(n.url))), None)
        entries.append(_Entry(one_line(policy), url, tuple(paras), _meta(group)))
    return (_Section("Policy changes", tuple(entries)) if entries else None), shown


def _other_entry(notice: Notice) -> _Entry:
    d = notice.details
    url = _http_url(notice.url)
    match notice.kind:
        case "update_row_added":
            paras = _row_paras(d)
            policies = _listing(d, "policies") or ((one_line(notice.policy),) if notice.policy else ())
            if policies:
                paras.append(_Para("Policies named:", policies, "*"))
            heading = "Updates table: new row"
        case "feed_item_added":
            published = one_line(d.get("published"))
            heading = (
                f"New feed item{f' ({published})' if published else ''}: {one_line(d.get('title')) or '(untitled)'}"
            )
            url = _http_url(d.get("link")) or url
            paras = [_Para(s, sub=True)] if (s := one_line(d.get("summary"))) else []
        case "baseline":
            heading = f"Now watching {one_line(notice.source)}"
            counts = [f"{k}: {one_line(d[k])}" for k in ("title", "policies", "updates", "items") if k in d]
            paras = [_Para("First sight, stored as the baseline (no alerts for what is already there).")]
            if counts:
                paras.append(_Para("; ".join(counts)))
        case _:
            heading, paras = _generic(notice), []
    return _Entry(heading, url, tuple(paras), _meta([notice]), notice.level)


def _operator_entry(notice: Notice) -> _Entry:
    d = notice.details
    source = one_line(notice.source)
    label = _OPERATOR_LABELS.get(notice.kind, one_line(notice.kind).replace("_", " "))
    heading = f"{label[:1].upper()}{label[1:]}: {source}"
    match notice.kind:
        case "source_failing":
            text = f"{one_line(d.get('failures', '?'))} failures in a row since {_shown_time(str(d.get('since', '?')))}"
            paras = [_Para(text), _Para(f"Last error: {one_line(d.get('error')) or '(none recorded)'}")]
        case "source_recovered":
            paras = [_Para(f"It works again (failing since {_shown_time(str(d.get('since', '?')))}).")]
        case "layout_suspect":
            paras = [
                _Para(f"Reason: {one_line(d.get('reason')) or '(none given)'}"),
                _Para("The previous snapshot stays the baseline; no removals are reported from this page."),
            ]
        case "parse_failed":
            policy = one_line(notice.policy) or "(unnamed policy)"
            heading = f"Parse failed: {policy}"
            paras = [_Para(f"The document of {policy} could not be parsed: its actions are unknown, not empty.")]
        case "delivery_dead":
            heading = f"Delivery dead: channel {one_line(d.get('channel')) or '?'}"
            paras = [_Para(f"Error: {one_line(d.get('error')) or '?'}")]
            if d.get("digest"):
                paras.append(_Para(f"Message: {one_line(d.get('digest'))}"))
        case "undocumented_change" | "documentation_mismatch":
            heading, paras = reconciliation(notice)
        case _:
            paras = [_Para(_generic(notice))]
    return _Entry(heading, _http_url(notice.url), tuple(paras), _meta([notice]), notice.level)


_CHANGES = {
    "policy_added": ("New policy", "Actions", "+"),
    "policy_removed": ("Policy removed", "Actions it granted", "-"),
    "actions_added": ("Actions added", "Actions added", "+"),
    "actions_removed": ("Actions removed", "Actions removed", "-"),
    "statement_changed": ("Statements changed", "Actions affected", "*"),
}


def reconciliation(notice: Notice) -> tuple[str, list[_Para]]:
    """The heading and paragraphs of an undocumented change or a documentation mismatch."""
    d = notice.details
    policy = one_line(notice.policy) or "(unnamed policy)"
    reason = _Para(f"Reason: {one_line(d.get('reason')) or '(none given)'}")
    if notice.kind == "undocumented_change":
        kind = one_line(d.get("change_kind"))
        words = kind.replace("_", " ")
        what, label, marker = _CHANGES.get(kind, (words[:1].upper() + words[1:] or "Changed", "Actions", "*"))
        when = f" on {_shown_time(str(d['changed_at']))}" if d.get("changed_at") else ""
        event = f" (event {one_line(d['event_id'])})" if d.get("event_id") is not None else ""
        days = d.get("grace_days")
        within = f" within {one_line(days)} days" if days is not None else ""
        text = f"{what}{when}{event}; AWS documented nothing about it{within}."
        grants = _grant_paras(label, notice.grants, marker, notice.action_notes())
        return f"Undocumented change: {policy}", [_Para(text), reason, *grants]
    paras = [_Para("AWS's updates table says actions were added that the policy does not grant."), reason]
    row = d.get("row")
    if isinstance(row, dict):
        paras += _row_paras(row)
    missing = tuple(one_line(a) for _, a in notice.grants) or _listing(d, "missing")
    if missing:
        paras.append(_Para("Actions AWS names that the policy lacks:", missing, "-"))
    return f"Documentation mismatch: {policy}", paras


def _sections(digest: Digest) -> list[_Section]:
    notices = digest.notices
    policy_section, shown = _policy_section(notices)
    sections = [policy_section] if policy_section else []
    others = [
        _other_entry(n)
        for n in notices
        if n.kind not in OPERATOR_KINDS
        and n.kind not in POLICY_KINDS
        and not (
            n.kind == "update_row_added" and n.policy is not None and (n.source, n.policy, _row_key(n.details)) in shown
        )
    ]
    others += [_other_entry(n) for n in notices if n.kind in POLICY_KINDS and n.policy is None]
    if others:
        sections.append(_Section("Other updates", tuple(others)))
    operator = [_operator_entry(n) for n in notices if n.kind in OPERATOR_KINDS]
    if operator:
        sections.append(_Section("Watcher alerts", tuple(operator)))
    return sections
