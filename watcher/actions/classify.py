"""Pure helpers over an ``ActionIndex``: classify grants for event payloads, and a document's effective actions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from watcher.actions.index import LEVELS, ActionIndex, is_wildcard
from watcher.canonical import statements

RISKIEST = 5
"""How many riskiest members a wildcard grant lists."""


def classify_grant(index: ActionIndex, effect: str, action: str, *, top: int = RISKIEST) -> dict[str, Any]:
    """What one ``(effect, action)`` grant names, as plain JSON.

    - ``canonical``: the dataset's spelling of a known plain action (``s3:getobject`` → ``s3:GetObject``), else null;
    - ``wildcard``: the action is a pattern (``*`` or ``?``);
    - ``unknown``: the dataset knows no action it names (a misspelt, new or removed action, or a pattern matching
      nothing); ``access_level`` is then null and ``flags`` empty;
    - ``access_level``: the action's level, or for a pattern the highest level among the actions it names;
    - ``flags``: ``privilege_escalation``, ``credentials_exposure``, ``resource_exposure`` (any member's, for a
      pattern), riskiest first;
    - ``expands_to_count``: how many known actions it names (1 for a known plain action);
    - ``levels``: for a pattern, how many of them at each access level, highest first;
    - ``riskiest``: for a pattern, its ``top`` riskiest members (flags first, then access level).

    A ``NotAction`` grant is described by the actions it names, which its statement excludes; what the statement
    grants depends on its other ``NotAction`` entries: see ``effective_actions``.
    """
    if not is_wildcard(action):
        info = index.classify(action)
        return {
            "effect": effect,
            "action": action,
            "canonical": info.action if info else None,
            "wildcard": False,
            "unknown": info is None,
            "access_level": info.access_level if info else None,
            "flags": list(info.flags) if info else [],
            "expands_to_count": 0 if info is None else 1,
            "levels": {},
            "riskiest": [],
        }
    summary = index.summarize(action, top)
    return {
        "effect": effect,
        "action": action,
        "canonical": None,
        "wildcard": True,
        "unknown": summary.count == 0,
        "access_level": summary.access_level,
        "flags": list(summary.flags),
        "expands_to_count": summary.count,
        "levels": dict(summary.levels),
        "riskiest": [info.as_dict() for info in summary.riskiest],
    }


def classify_grants(
    index: ActionIndex, grants: Iterable[tuple[str, str]], *, top: int = RISKIEST
) -> list[dict[str, Any]]:
    """``classify_grant`` for each ``(effect, action)``, in order."""
    return [classify_grant(index, effect, action, top=top) for effect, action in grants]


def classification(index: ActionIndex, grants: Iterable[tuple[str, str]], *, top: int = RISKIEST) -> dict[str, Any]:
    """What an event payload records: the dataset's version and each grant's classification."""
    return {"dataset": index.version, "grants": classify_grants(index, grants, top=top)}


@dataclass
class Effective:
    """What a policy document grants, as concrete actions of the dataset."""

    allowed: dict[str, list[str]] = field(default_factory=dict)
    """Each allowed action → the patterns (as published) that grant it; ``NotAction [a, b]`` for a complement."""
    denied: dict[str, list[str]] = field(default_factory=dict)
    """Each action a Deny statement names → its patterns. Allowed actions denied unconditionally are dropped."""
    unknown: list[tuple[str, str]] = field(default_factory=list)
    """(effect, pattern) naming no known action: effect ``Allow``, ``Deny`` or ``NotAction``."""


def _strings(value: Any) -> list[str]:
    return [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str)]


def _unconditional(statement: dict[str, Any]) -> bool:
    """A statement on every resource without a condition: its Deny removes the action outright."""
    return (
        "Condition" not in statement and "NotResource" not in statement and "*" in _strings(statement.get("Resource"))
    )


def effective_actions(index: ActionIndex, document: dict[str, Any]) -> Effective:
    """The concrete actions ``document`` allows and denies, statement by statement.

    ``Action`` patterns expand to the actions they name; ``NotAction`` to every action except those its patterns
    name (all of that statement's ``NotAction`` entries together). Resources and conditions are not evaluated,
    except that an allowed action denied on ``*`` without a condition is not allowed.
    """
    out = Effective()
    removed: set[str] = set()
    seen_unknown: set[tuple[str, str]] = set()
    for st in statements(document):
        deny = str(st.get("Effect", "")).lower() == "deny"
        target = out.denied if deny else out.allowed
        grants: list[tuple[str, list[str]]] = []
        for pattern in _strings(st.get("Action")):
            names = index.expand(pattern)
            grants.append((pattern, names))
            if not names:
                seen_unknown.add(("Deny" if deny else "Allow", pattern))
        not_actions = _strings(st.get("NotAction"))
        if not_actions:
            for pattern in not_actions:
                if not index.count(pattern):
                    seen_unknown.add(("NotAction", pattern))
            grants.append((f"NotAction [{', '.join(not_actions)}]", index.expand_not_action(not_actions)))
        for label, names in grants:
            for name in names:
                by = target.setdefault(name, [])
                if label not in by:
                    by.append(label)
            if deny and _unconditional(st):
                removed.update(names)
    for name in removed:
        out.allowed.pop(name, None)
    out.unknown = sorted(seen_unknown, key=lambda g: (g[0], g[1].lower()))
    return out


def _level_rank(level: str | None) -> int:
    return -1 if level is None else LEVELS.index(level)


def explain_rows(index: ActionIndex, document: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per effective action: Allow then Deny, each by access level (riskiest first) and name; then the
    unknown actions (``access_level`` null, ``unknown`` true)."""
    effective = effective_actions(index, document)
    rows: list[dict[str, Any]] = []
    for effect, actions in (("Allow", effective.allowed), ("Deny", effective.denied)):
        group: list[dict[str, Any]] = []
        for name, patterns in actions.items():
            info = index.classify(name)
            assert info is not None  # expansions only yield known actions
            group.append(
                {
                    "effect": effect,
                    "access_level": info.access_level,
                    "action": name,
                    "flags": list(info.flags),
                    "granted_by": patterns,
                    "unknown": False,
                }
            )
        group.sort(key=lambda r: (-_level_rank(r["access_level"]), r["action"].lower()))
        rows.extend(group)
    rows.extend(
        {
            "effect": effect,
            "access_level": None,
            "action": pattern,
            "flags": [],
            "granted_by": [pattern],
            "unknown": True,
        }
        for effect, pattern in effective.unknown
    )
    return rows
