"""The severity rules (pure): the ``[risk]`` table of config/watcher.toml, and the severity of a grant and an event.

A grant is rated by the rules: each rule names a severity and what it matches (every key it gives must match),
and the highest severity among the rules that match wins; a grant no rule matches is ``info``. An event is at
least its kind's floor (``kinds``); the grants an event adds raise it, the grants it removes do not (a removal
narrows access).

```toml
[risk]
documentation_grace_days = 7

[[risk.rules]]                       # the rules replace the built-in ones: list every rule you want
severity = "critical"
flags = ["privilege_escalation"]

[[risk.rules]]
severity = "high"
access_levels = ["Write", "Permissions management"]

[risk.kinds]                         # merged over the built-in floors
statement_changed = "high"
```
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from watcher.risk.levels import ORDER, Severity

# The settings load at every start: what validation needs from watcher.actions (whose package imports the index
# module), watcher.diff and watcher.notify is imported when a [risk] table is validated, not with this module.

EFFECTS = ("Allow", "Deny", "NotAction")
"""A grant's effect, as ``watcher.diff`` spells it (``NotAction``: an entry of a statement's ``NotAction``)."""
REMOVAL_KINDS = frozenset({"actions_removed", "policy_removed"})
"""Kinds whose grants are taken away: the rules rate those grants but never raise the event above its floor."""
_RANK: dict[Severity, int] = {severity: rank for rank, severity in enumerate(ORDER)}


def _levels() -> tuple[str, ...]:
    from watcher.actions.codes import LEVELS

    return LEVELS


def _flags() -> tuple[str, ...]:
    from watcher.actions.codes import FLAG_NAMES

    return tuple(FLAG_NAMES.values())


def _operator_kinds() -> frozenset[str]:
    from watcher.notify.model import OPERATOR_KINDS

    return OPERATOR_KINDS


def assessed_kinds() -> tuple[str, ...]:
    """The kinds that carry a severity: every change kind, not the operator kinds."""
    from watcher.diff import ChangeKind

    return tuple(kind.value for kind in ChangeKind if kind.value not in _operator_kinds())


def _one_of(allowed: Iterable[str]) -> str:
    names = [repr(name) for name in allowed]
    return f"{', '.join(names[:-1])} or {names[-1]}" if len(names) > 1 else names[0]


def _as_severity(value: object) -> Severity:
    if isinstance(value, Severity):
        return value
    if isinstance(value, str):
        try:
            return Severity(value.strip().lower())
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not a severity; use {_one_of(s.value for s in ORDER)}")


SeverityName = Annotated[Severity, BeforeValidator(_as_severity)]
"""A severity written in any case (``"High"``); anything else is an error that lists the levels."""


def _spelt(values: list[str], allowed: tuple[str, ...], what: str) -> list[str]:
    """``values`` in the spelling of ``allowed`` (compared case-insensitively), or a ValueError naming the bad one."""
    if not values:
        raise ValueError(f"an empty list matches nothing; give at least one of {_one_of(allowed)}, or leave it out")
    by_lower = {name.lower(): name for name in allowed}
    out: list[str] = []
    for value in values:
        name = by_lower.get(value.strip().lower())
        if name is None:
            raise ValueError(f"{value!r} is not {what}; use {_one_of(allowed)}")
        if name not in out:
            out.append(name)
    return out


class SeverityRule(BaseModel):
    """One ``[[risk.rules]]`` entry: a severity, and what a grant must be for it to apply.

    Every match key given must match (a list matches when any of its values does); a rule without match keys
    applies to every grant of its ``effects``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    severity: SeverityName
    flags: list[str] | None = None
    """Any of these risk flags (of the action, or of any action a pattern names)."""
    access_levels: list[str] | None = None
    """Any of these access levels (a pattern's is the highest among the actions it names)."""
    on_all_resources: bool | None = None
    """The grant's statement has ``Resource: "*"`` or uses ``NotResource``; always false for a removed grant."""
    unknown: bool | None = None
    """The dataset knows no action the grant names (misspelt, new, or a pattern matching nothing)."""
    effects: list[str] = ["Allow", "NotAction"]
    """The grant's effect: ``Allow``, ``Deny`` or ``NotAction``. By default a Deny added is not a risk."""

    @field_validator("flags")
    @classmethod
    def _known_flags(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _spelt(value, _flags(), "a risk flag")

    @field_validator("access_levels")
    @classmethod
    def _known_levels(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _spelt(value, _levels(), "an access level")

    @field_validator("effects")
    @classmethod
    def _known_effects(cls, value: list[str]) -> list[str]:
        return _spelt(value, EFFECTS, "an effect")

    def matches(self, classified: Mapping[str, Any], on_all_resources: bool) -> bool:
        """Does this rule apply to a grant classified by ``watcher.actions.classify.classify_grant``?"""
        if classified["effect"] not in self.effects:
            return False
        if self.unknown is not None and classified["unknown"] is not self.unknown:
            return False
        if self.on_all_resources is not None and on_all_resources is not self.on_all_resources:
            return False
        if self.access_levels is not None and classified["access_level"] not in self.access_levels:
            return False
        flags = self.flags
        return flags is None or any(flag in flags for flag in classified["flags"])


def _rule(severity: Severity, **match: Any) -> SeverityRule:
    return SeverityRule.model_construct(severity=severity, **match)  # valid: tests/test_risk.py validates them


DEFAULT_RULES: tuple[SeverityRule, ...] = (
    _rule(Severity.CRITICAL, flags=["privilege_escalation"]),
    _rule(Severity.CRITICAL, access_levels=["Permissions management"], on_all_resources=True),
    _rule(Severity.HIGH, access_levels=["Permissions management", "Write"]),
    _rule(Severity.HIGH, flags=["credentials_exposure", "resource_exposure"]),
    _rule(Severity.MEDIUM, unknown=True),
    _rule(Severity.LOW, access_levels=["List", "Read", "Tagging"]),
)
"""The built-in rules, riskiest first."""

DEFAULT_KINDS: dict[str, Severity] = {
    "baseline": Severity.INFO,
    "policy_added": Severity.LOW,
    "actions_added": Severity.LOW,
    "actions_removed": Severity.MEDIUM,
    "policy_removed": Severity.MEDIUM,
    "statement_changed": Severity.MEDIUM,
    "document_moved": Severity.LOW,
    "update_row_added": Severity.LOW,
    "feed_item_added": Severity.LOW,
    "parse_repaired": Severity.LOW,
}
"""The built-in floor of each change kind."""


class RiskSettings(BaseModel):
    """The ``[risk]`` table: how severe a change is."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: list[SeverityRule] = Field(default_factory=lambda: list(DEFAULT_RULES))
    """Evaluated per grant; the highest matching severity wins. Given in the file, they replace the built-in ones."""
    kinds: dict[str, SeverityName] = Field(default_factory=lambda: dict(DEFAULT_KINDS))
    """The floor of each event kind: its severity when no grant rule raises it. Merged over the built-in floors."""
    documentation_grace_days: int = Field(7, ge=1)
    """Days a change may wait for its line in the page's updates table before it counts as undocumented."""

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, value: dict[str, Severity]) -> dict[str, Severity]:
        for kind in value:
            if kind in _operator_kinds():
                raise ValueError(f"{kind!r} is an operator alert, which carries no severity; leave it out")
            if kind not in assessed_kinds():
                raise ValueError(f"{kind!r} is not an event kind; use {_one_of(assessed_kinds())}")
        return {**DEFAULT_KINDS, **value}

    def floor(self, kind: str) -> Severity:
        """The severity of a ``kind`` event when no grant raises it (info for a kind without a floor)."""
        return self.kinds.get(kind, Severity.INFO)


def grant_severity(classified: Mapping[str, Any], on_all_resources: bool, rules: Iterable[SeverityRule]) -> Severity:
    """The highest severity among the ``rules`` that match this classified grant; info when none does."""
    best, rank = Severity.INFO, 0
    for rule in rules:
        severity = rule.severity
        if _RANK[severity] > rank and rule.matches(classified, on_all_resources):
            best, rank = severity, _RANK[severity]
    return best


def grant_rater(rules: Iterable[SeverityRule]) -> Callable[[Mapping[str, Any], bool], Severity]:
    """``grant_severity`` over ``rules``, remembered per distinct (effect, unknown, access level, flags, on all
    resources): the only things a rule looks at. Rating 93,000 grants then costs a few hundred rule evaluations."""
    rules = tuple(rules)
    seen: dict[tuple[Any, ...], Severity] = {}

    def rate(classified: Mapping[str, Any], on_all_resources: bool) -> Severity:
        key = (
            classified["effect"],
            classified["unknown"],
            classified["access_level"],
            tuple(classified["flags"]),
            on_all_resources,
        )
        severity = seen.get(key)
        if severity is None:
            severity = seen[key] = grant_severity(classified, on_all_resources, rules)
        return severity

    return rate


def event_severity(kind: str, grant_severities: Iterable[Severity], settings: RiskSettings) -> Severity:
    """An event's severity: its kind's floor, raised by the grants it adds (a removal stays at its floor)."""
    floor = settings.floor(kind)
    if kind in REMOVAL_KINDS:
        return floor
    return max([floor, *grant_severities], key=_RANK.__getitem__)
