"""Shared pieces of the severity tests (tests/test_risk*.py): the built-in risk settings, a grant's rating,
and loaders of the action index that count or refuse the load.
"""

from __future__ import annotations

from collections.abc import Callable

from watcher.actions.classify import classify_grant
from watcher.actions.index import ActionIndex
from watcher.risk.rules import RiskSettings, grant_severity

DEFAULTS = RiskSettings()


def rate(index: ActionIndex, effect: str, action: str, on_all: bool = False, settings: RiskSettings = DEFAULTS) -> str:
    return grant_severity(classify_grant(index, effect, action), on_all, settings.rules).value


def loader_of(index: ActionIndex, calls: list[str] | None = None) -> Callable[[], ActionIndex]:
    def load() -> ActionIndex:
        (calls if calls is not None else []).append("load")
        return index

    return load


def never_loaded() -> ActionIndex:
    raise AssertionError("the action index was loaded")
