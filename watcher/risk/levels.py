"""Severity levels, lowest first (pure). Every change event carries one in ``payload["severity"]``."""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return ORDER.index(self)


ORDER: tuple[Severity, ...] = tuple(Severity)
"""Lowest first."""


def parse_severity(value: str | None, default: Severity = Severity.INFO) -> Severity:
    """``value`` as a ``Severity`` (case-insensitive); ``default`` when it is missing or not a level."""
    try:
        return Severity((value or "").lower())
    except ValueError:
        return default


def at_least(value: str | None, minimum: Severity) -> bool:
    """Is the severity ``value`` (missing counts as info) at or above ``minimum``?"""
    return parse_severity(value).rank >= minimum.rank


def highest(values: list[Severity]) -> Severity:
    """The highest of ``values``; info when there are none."""
    return max(values, key=lambda s: s.rank, default=Severity.INFO)
