"""Durations in settings (``interval``, ``jitter``, ``misfire_grace``): parsing, and how messages show them.

A duration is whole seconds (``90``) or a string with a unit: ``"90s"``, ``"30m"``, ``"1h"``, ``"1d"``.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator

_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION_RE = re.compile(r"\s*(\d+)\s*([smhd]?)\s*", re.IGNORECASE)
DURATION_FIELDS = frozenset({"interval", "jitter", "misfire_grace"})
"""The settings that are durations, by key name."""


def parse_duration(value: object) -> object:
    """``90`` or ``"90s"``/``"30m"``/``"1h"``/``"1d"`` -> seconds; other types are left to pydantic."""
    match = _DURATION_RE.fullmatch(value) if isinstance(value, str) else None
    if match is not None:
        return int(match.group(1)) * _DURATION_UNITS[match.group(2).lower()]
    if isinstance(value, str | bool):
        raise ValueError(f"{show(value)} is not a duration; use seconds (90) or a string such as '30m', '1h' or '1d'")
    return value


Duration = Annotated[int, BeforeValidator(parse_duration)]
"""Seconds; accepts ``90`` or ``"90s"``, ``"30m"``, ``"1h"``, ``"1d"``."""


def as_seconds(value: object) -> int | None:
    """``value`` as a duration in seconds, or ``None`` when it is not one."""
    try:
        parsed = parse_duration(value)
    except ValueError:
        return None
    return parsed if isinstance(parsed, int) and not isinstance(parsed, bool) else None


class Seconds(int):
    """A duration in messages: ``1 second``, ``10 seconds``."""

    def __repr__(self) -> str:
        return f"{int(self)} second{'' if self == 1 else 's'}"

    __str__ = __repr__


def show(value: object) -> str:
    """A value as a message quotes it: its repr (booleans as TOML spells them), at most 60 characters."""
    text = repr(value)
    if isinstance(value, bool):
        text = str(value).lower()
    return text if len(text) <= 60 else text[:57] + "..."
