"""What AWS said against what AWS did (issue 6, pure): undocumented changes and documentation mismatches.

Inputs are plain dataclasses read by ``watcher.store.reconcile``; outputs are ``Change`` objects of the two
operator kinds, ready for ``add_events``.

- ``undocumented``: a JSON change (policy added or removed, actions added or removed) is documented by an updates
  row of the same service page, or a feed item, that names the policy and is dated within ``grace`` of the change
  (a day of slack either side: rows carry days, changes instants), or, unless it is baseline history, first seen
  within ``grace`` of it (a watcher that was down sees both at once). For added actions the row must also mention
  no action or at least one of the added ones. An addition is also documented by a row (or item) naming the
  policy and one of the added actions dated up to 30 days before it: AWS wrote first, the JSON followed late (that
  delay is the mismatch's business). A change still undocumented once ``grace`` has passed is reported.
- ``mismatches``: an updates row (not a baseline row) whose text says actions were added to a policy, while the
  policy's current JSON, ``grace`` after the row appeared, grants some of them neither literally nor through a
  wildcard. An action the policy granted after the row appeared and has lost since (an observed removal) is not
  missing; nor is a one-letter misspelling of an action an observed change added to that policy around the row's
  date (AWS's real 2023-10-31 Rekognition row writes ``ListMediaAnalysisJob`` for ``ListMediaAnalysisJobs``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any

from watcher.diff import Change, ChangeKind, Grant
from watcher.parse.mentions import mentioned_actions

POLICY_CHANGE_KINDS = frozenset({"policy_added", "actions_added", "actions_removed", "policy_removed"})
ADDITIONS = frozenset({"policy_added", "actions_added"})
REMOVALS = frozenset({"policy_removed", "actions_removed"})
SLACK = dt.timedelta(days=1)
"""Rows and feed items carry days: one day of slack on both sides of a comparison with an instant."""
EARLY_DOCS = dt.timedelta(days=30)
"""A row naming the policy and an added action documents an addition that reaches the JSON up to this much later."""


@dataclass(frozen=True)
class ObservedChange:
    """A policy change the diff observed (an event of one of ``POLICY_CHANGE_KINDS``)."""

    event_id: int
    source: str
    policy: str
    kind: str
    grants: tuple[Grant, ...]
    detected_at: dt.datetime

    @property
    def actions_lc(self) -> set[str]:
        return {action.lower() for _, action in self.grants}


@dataclass(frozen=True)
class DocRow:
    """An updates-table row as recorded (``baseline``: seen with the source's first snapshot, i.e. history)."""

    key: str
    source: str
    date: dt.date | None
    change: str
    description: str
    policies: tuple[str, ...]
    actions: tuple[str, ...]
    first_seen_at: dt.datetime
    baseline: bool = False

    @property
    def day(self) -> dt.date:
        return self.date or self.first_seen_at.date()

    @property
    def text(self) -> str:
        return f"{self.change}\n{self.description}"


@dataclass(frozen=True)
class DocItem:
    """A document-history feed item as recorded."""

    guid: str
    source: str
    published: dt.date | None
    title: str
    summary: str
    first_seen_at: dt.datetime
    baseline: bool = False

    @property
    def day(self) -> dt.date:
        return self.published or self.first_seen_at.date()

    @property
    def text(self) -> str:
        return f"{self.title}\n{self.summary}"


@dataclass(frozen=True)
class Documentation:
    """What AWS wrote: the updates rows of one service page (and its related pages), and feed items."""

    rows: tuple[DocRow, ...] = ()
    items: tuple[DocItem, ...] = ()


Documents = Mapping[str, frozenset[str] | None]
"""Policy name -> lower-cased actions and patterns its current JSON allows; ``None`` when unknown."""


# ------------------------------------------------------------------------------------------------ text matching


@lru_cache(maxsize=4096)
def _policy_pattern(policy: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w+=,.@-]){re.escape(policy)}(?![\w+=@-])", re.IGNORECASE)


def names_policy(text: str, policy: str) -> bool:
    """Does ``text`` name ``policy`` as a whole word (case-insensitive)?"""
    return _policy_pattern(policy).search(text) is not None


@lru_cache(maxsize=4096)
def _action_pattern(action: str) -> re.Pattern[str]:
    service, _, name = action.partition(":")
    return re.compile(rf"(?<![\w:*?-])(?:{re.escape(service)}:)?{re.escape(name)}(?![\w*?])", re.IGNORECASE)


def mentions_action(text: str, action: str) -> bool:
    """Does ``text`` mention ``service:Name``, qualified or by its bare name (case-insensitive)?"""
    return _action_pattern(action).search(text) is not None


def _row_names(row: DocRow, policy: str) -> bool:
    return any(p.lower() == policy.lower() for p in row.policies) or names_policy(row.text, policy)


def _one_edit(a: str, b: str) -> bool:
    """At most one insertion, deletion, substitution or swap of neighbours turns ``a`` into ``b``."""
    a, b = (a, b) if len(a) <= len(b) else (b, a)
    i = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), len(a))
    if len(a) == len(b):
        return a[i + 1 :] == b[i + 1 :] or (a[i + 2 :] == b[i + 2 :] and a[i : i + 2] == b[i : i + 2][::-1])
    return len(b) - len(a) == 1 and a[i:] == b[i + 1 :]


def near_miss(a: str, b: str) -> bool:
    """Two different action names of one service, one letter apart (a misspelling), wildcards excluded."""
    sa, _, na = a.lower().partition(":")
    sb, _, nb = b.lower().partition(":")
    if sa != sb or na == nb or "*" in na + nb or "?" in na + nb or min(len(na), len(nb)) < 6:
        return False
    return _one_edit(na, nb)


def allows(grants: Iterable[str], action: str) -> bool:
    """Do ``grants`` (lower-cased, wildcards allowed) cover ``action`` (a claimed pattern covers what it names)?"""
    wanted = action.lower()
    return any(g == wanted or fnmatchcase(wanted, g) or fnmatchcase(g, wanted) for g in grants)


def _days(grace: dt.timedelta) -> int:
    return max(0, math.ceil(grace / dt.timedelta(days=1)))


def _within(day: dt.date, instant: dt.datetime, grace: dt.timedelta) -> bool:
    return abs((day - instant.astimezone(dt.UTC).date()).days) <= _days(grace) + SLACK.days


def _near(doc: DocRow | DocItem, instant: dt.datetime, grace: dt.timedelta) -> bool:
    """Is ``doc`` dated, or (unless it is baseline history) first seen, within ``grace`` of ``instant``?"""
    if _within(doc.day, instant, grace):
        return True
    return not doc.baseline and _within(doc.first_seen_at.astimezone(dt.UTC).date(), instant, grace)


# ------------------------------------------------------------------------------------------------ undocumented


def _announced(day: dt.date, change: ObservedChange) -> bool:
    """Dated up to ``EARLY_DOCS`` before an addition: AWS documented it first and the JSON followed late."""
    lag = change.detected_at.astimezone(dt.UTC).date() - day
    return change.kind in ADDITIONS and dt.timedelta(0) <= lag <= EARLY_DOCS


def _row_documents(row: DocRow, change: ObservedChange, grace: dt.timedelta) -> bool:
    if not _row_names(row, change.policy):
        return False
    added = [action for _, action in change.grants]
    named = any(allows([a.lower()], m) or near_miss(m, a) for m in row.actions for a in added)
    if _near(row, change.detected_at, grace):
        return change.kind != "actions_added" or not row.actions or named
    return named and _announced(row.day, change)


def _item_documents(item: DocItem, change: ObservedChange, grace: dt.timedelta) -> bool:
    text = item.text
    if not names_policy(text, change.policy):
        return False
    named = any(mentions_action(text, a) for _, a in change.grants)
    if _near(item, change.detected_at, grace):
        return change.kind != "actions_added" or named or not mentioned_actions(text)
    return named and _announced(item.day, change)


def documented_by(change: ObservedChange, docs: Documentation, grace: dt.timedelta) -> list[str]:
    """Keys of the rows and guids of the feed items that document ``change``."""
    rows = [r.key for r in docs.rows if _row_documents(r, change, grace)]
    return rows + [i.guid for i in docs.items if _item_documents(i, change, grace)]


def _what(change: ObservedChange) -> str:
    n = len(change.grants)
    plural = "action" if n == 1 else "actions"
    return {
        "policy_added": f"the policy {change.policy} appeared",
        "policy_removed": f"the policy {change.policy} disappeared",
        "actions_added": f"{n} {plural} were added to {change.policy}",
        "actions_removed": f"{n} {plural} were removed from {change.policy}",
    }.get(change.kind, f"{change.policy} changed ({change.kind})")


def undocumented(
    changes: Iterable[ObservedChange], docs: Documentation, now: dt.datetime, grace: dt.timedelta
) -> list[Change]:
    """One ``undocumented_change`` per policy change that no row or feed item documented within ``grace``.

    Changes younger than ``grace`` yield nothing yet: AWS may still document them.
    """
    out: list[Change] = []
    for change in sorted(changes, key=lambda c: (c.detected_at, c.event_id)):
        if change.kind not in POLICY_CHANGE_KINDS or now - change.detected_at < grace:
            continue
        if documented_by(change, docs, grace):
            continue
        day = change.detected_at.astimezone(dt.UTC).date()
        span = dt.timedelta(days=_days(grace) + SLACK.days)
        window = {"from": (day - span).isoformat(), "to": (day + span).isoformat()}
        reason = (
            f"The JSON shows that {_what(change)} on {day.isoformat()}, but no updates row or feed item naming "
            f"{change.policy} is dated between {window['from']} and {window['to']}."
        )
        detail: dict[str, Any] = {
            "change_kind": change.kind,
            "event_id": change.event_id,
            "changed_at": change.detected_at.isoformat(),
            "grace_days": _days(grace),
            "window": window,
            "reason": reason,
        }
        out.append(Change(ChangeKind.UNDOCUMENTED_CHANGE, change.policy, change.grants, detail))
    return out


# ------------------------------------------------------------------------------------------------ mismatches

_ADDED = re.compile(
    r"\b(?:add(?:ed|s|ing)|new\s+(?:permissions?|actions?|operations?|polic(?:y|ies))|now\s+(?:includes?|grants?|"
    r"allows?|contains?)|grants?\s+(?:access|permissions?)|(?:includes?|contains?)\s+(?:the\s+)?(?:following\s+)?"
    r"(?:new\s+)?(?:permissions?|actions?))\b",
    re.IGNORECASE,
)
_REMOVED = re.compile(
    r"\b(?:remov(?:ed|es|ing|al)|delet(?:ed|es|ing)|no\s+longer|revok(?:ed|es|ing)|deprecat(?:ed|es|ing)|"
    r"withdr[ae]wn?|dropp(?:ed|ing))\b",
    re.IGNORECASE,
)
_CLAUSE = re.compile(r"(?<=[.;!?])\s+|\n+")


def claimed_additions(row: DocRow) -> dict[str, list[str]]:
    """Policy -> the actions (as the row writes them) the row says were added to it.

    Read clause by clause: a clause with addition wording and no removal wording claims the row's actions it
    mentions for the row's policies it names (all the row's policies when it names none). A clause that both adds
    and removes is ambiguous and claims nothing.
    """
    claims: dict[str, list[str]] = {}
    if not row.policies or not row.actions:
        return claims
    for clause in _CLAUSE.split(row.text):
        if not _ADDED.search(clause) or _REMOVED.search(clause):
            continue
        actions = [a for a in row.actions if mentions_action(clause, a)]
        if not actions:
            continue
        policies = [p for p in row.policies if names_policy(clause, p)] or list(row.policies)
        for policy in policies:
            listed = claims.setdefault(policy, [])
            listed.extend(a for a in actions if a not in listed)
    return claims


def _document(documents: Documents, policy: str) -> tuple[bool, frozenset[str] | None]:
    """(known policy, its grants) with a case-insensitive fallback on the name."""
    if policy in documents:
        return True, documents[policy]
    lowered = policy.lower()
    for name, grants in documents.items():
        if name.lower() == lowered:
            return True, grants
    return False, None


def _removed_since(action: str, policy: str, row: DocRow, changes: Sequence[ObservedChange]) -> bool:
    """Was ``action`` taken from ``policy`` after the row appeared (so the policy granted it then)?"""
    since = row.first_seen_at - SLACK
    return any(
        c.kind in REMOVALS and c.policy.lower() == policy.lower() and c.detected_at >= since and action in c.actions_lc
        for c in changes
    )


def _misspelling_of(
    action: str, policy: str, row: DocRow, changes: Sequence[ObservedChange], grace: dt.timedelta
) -> str | None:
    """The action (as published) an observed addition to ``policy`` around the row's date spells one letter apart."""
    for c in changes:
        if c.kind in ADDITIONS and c.policy.lower() == policy.lower() and _near(row, c.detected_at, grace):
            for _, added in c.grants:
                if near_miss(action, added):
                    return added
    return None


def mismatches(
    rows: Iterable[DocRow],
    documents: Documents,
    now: dt.datetime,
    grace: dt.timedelta,
    changes: Sequence[ObservedChange] = (),
) -> list[Change]:
    """One ``documentation_mismatch`` per (row, policy) whose claimed added actions the current JSON lacks.

    Baseline rows are history and never reconciled; a row is judged once ``grace`` has passed since it appeared
    (AWS may publish the text before the JSON). A policy whose document is unknown (``None``) or absent from
    ``documents`` is skipped. ``changes`` (the observed policy changes) excuse removals since the row and
    misspellings of observed additions.
    """
    out: list[Change] = []
    for row in sorted(rows, key=lambda r: (r.first_seen_at, r.source, r.key)):
        if row.baseline or now - row.first_seen_at < grace:
            continue
        for policy, claimed in sorted(claimed_additions(row).items()):
            known, grants = _document(documents, policy)
            if not known or grants is None:
                continue
            missing: list[str] = []
            typos: dict[str, str] = {}
            for action in claimed:
                if allows(grants, action) or _removed_since(action.lower(), policy, row, changes):
                    continue
                fixed = _misspelling_of(action, policy, row, changes, grace)
                if fixed is not None:
                    typos[action] = fixed
                else:
                    missing.append(action)
            if not missing:
                continue
            when = row.date.isoformat() if row.date else "(undated)"
            reason = (
                f"The updates row of {when} says {', '.join(claimed)} "
                f"{'was' if len(claimed) == 1 else 'were'} added to {policy}, but {_days(grace)} days after the row "
                f"appeared its JSON does not grant {', '.join(missing)}."
            )
            detail: dict[str, Any] = {
                "row": {
                    "key": row.key,
                    "change": row.change,
                    "description": row.description,
                    "date": row.date.isoformat() if row.date else None,
                },
                "claimed": list(claimed),
                "missing": missing,
                "row_first_seen_at": row.first_seen_at.isoformat(),
                "grace_days": _days(grace),
                "reason": reason,
            }
            if typos:
                detail["misspelled"] = typos
            grants_missing = tuple(("Allow", a) for a in missing)
            out.append(Change(ChangeKind.DOCUMENTATION_MISMATCH, policy, grants_missing, detail))
    return out
