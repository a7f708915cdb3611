"""Rate the changes of one check before they are stored (pure, given the action index).

Every change event gains ``detail["severity"]`` (operator alerts do not: they are about the watcher itself). A
change with grants also gains ``detail["classification"]``: the dataset's version and, per grant, what
``classify_grant`` says plus its ``severity`` and ``on_all_resources``. A removal gains a ``note``.

The index is loaded only when some change has grants: a baseline or a feed item never loads it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from watcher.actions.classify import classify_grant
from watcher.actions.index import ActionIndex
from watcher.canonical import statements
from watcher.diff import Change
from watcher.model import Page
from watcher.notify.model import OPERATOR_KINDS
from watcher.risk.levels import Severity
from watcher.risk.rules import REMOVAL_KINDS, RiskSettings, event_severity, grant_rater

log = logging.getLogger("watcher.risk")

REMOVAL_NOTE = (
    "AWS documents that services do not remove permissions from AWS managed policies, so this removal is unusual: "
    "check what relied on these actions."
)


def _strings(value: Any) -> list[str]:
    return [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str)]


def resource_scopes(document: dict[str, Any] | None) -> dict[tuple[str, str], bool]:
    """(effect, lower-cased action or pattern) → is it granted on all resources in some statement of ``document``?

    On all resources: the statement's ``Resource`` holds ``"*"`` or it uses ``NotResource``. Effects are spelt as
    ``watcher.diff`` spells a grant's: ``Allow``, ``Deny``, or ``NotAction`` for an entry of a ``NotAction``.
    """
    scopes: dict[tuple[str, str], bool] = {}
    for st in statements(document or {}):
        effect = "Deny" if str(st.get("Effect", "")).lower() == "deny" else "Allow"
        wide = "NotResource" in st or "*" in _strings(st.get("Resource"))
        for key, grant_effect in (("Action", effect), ("NotAction", "NotAction")):
            for action in _strings(st.get(key)):
                grant = (grant_effect, action.strip().lower())
                scopes[grant] = scopes.get(grant, False) or wide
    return scopes


def allowed_complements(document: dict[str, Any] | None) -> dict[str, list[str]]:
    """Lower-cased ``NotAction`` entry of an Allow statement → all that statement's ``NotAction`` entries.

    Such a statement allows every action *except* those entries: what a new entry there grants is the
    complement, not the action it names.
    """
    out: dict[str, list[str]] = {}
    for st in statements(document or {}):
        if str(st.get("Effect", "")).lower() == "deny":
            continue
        entries = _strings(st.get("NotAction"))
        for entry in entries:
            out.setdefault(entry.strip().lower(), entries)
    return out


def _complement(index: ActionIndex, classified: dict[str, Any], entries: list[str]) -> dict[str, Any]:
    """``classified`` for a NotAction entry, re-described by what its Allow statement grants (the complement)."""
    summary = index.summarize_not_action(entries)
    return {
        **classified,
        "grants_all_except": entries,
        "access_level": summary.access_level,
        "flags": list(summary.flags),
        "expands_to_count": summary.count,
        "levels": dict(summary.levels),
        "riskiest": [info.as_dict() for info in summary.riskiest],
    }


def _load(index_loader: Callable[[], ActionIndex]) -> ActionIndex | None:
    try:
        return index_loader()
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        # Alerts without a classification beat no alerts: the events keep their kind's floor.
        log.warning("the action index could not be loaded (%s): changes are rated by their kind only", exc)
        return None


def assess(
    changes: list[Change],
    page: Page | None,
    index_loader: Callable[[], ActionIndex],
    settings: RiskSettings,
) -> list[Change]:
    """The ``changes`` with their severity (and their grants' classification), in order; ``page`` is the new
    version (``None`` for a feed), whose documents say which added grants apply to all resources."""
    rated = [c for c in changes if c.kind.value not in OPERATOR_KINDS]
    index = _load(index_loader) if any(c.grants for c in rated) else None
    documents = {p.name: p.document for p in page.policies} if page is not None else {}
    rate = grant_rater(settings.rules)
    out: list[Change] = []
    for change in changes:
        kind = change.kind.value
        if kind in OPERATOR_KINDS:
            out.append(change)
            continue
        removal = kind in REMOVAL_KINDS
        severities: list[Severity] = []
        classification: dict[str, Any] | None = None
        if change.grants and index is not None:
            document = None if removal else documents.get(change.policy or "")
            scopes = resource_scopes(document)
            complements = allowed_complements(document)
            grants: list[dict[str, Any]] = []
            for effect, action in change.grants:
                classified = classify_grant(index, effect, action)
                if effect == "NotAction" and (entries := complements.get(action.strip().lower())):
                    classified = _complement(index, classified, entries)
                on_all = scopes.get((effect, action.strip().lower()), False)
                severity = rate(classified, on_all)
                classified["severity"] = severity.value
                classified["on_all_resources"] = on_all
                grants.append(classified)
                severities.append(severity)
            classification = {"dataset": index.version, "grants": grants}
        detail = {**change.detail, "severity": event_severity(kind, severities, settings).value}
        if removal:
            detail["note"] = REMOVAL_NOTE
        if classification is not None:
            detail["classification"] = classification
        out.append(dataclasses.replace(change, detail=detail))
    return out
