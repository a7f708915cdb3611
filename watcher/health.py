"""Source health (DESIGN §3 rule 4): one ``source_failing`` after N failures in a row, one ``source_recovered``.

Pure: given the stored state and the outcome of a check, say what the state becomes and which
change, if any, to report. Nothing is reported in between.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from watcher.diff import Change, ChangeKind


@dataclass(frozen=True)
class Health:
    consecutive_failures: int = 0
    failing: bool = False
    failing_since: dt.datetime | None = None


def after_failure(state: Health, now: dt.datetime, threshold: int, error: str) -> tuple[Health, Change | None]:
    failures = state.consecutive_failures + 1
    since = state.failing_since or now
    if failures >= threshold and not state.failing:
        change = Change(
            ChangeKind.SOURCE_FAILING,
            detail={"failures": failures, "since": since.isoformat(), "error": error},
        )
        return Health(failures, True, since), change
    return Health(failures, state.failing, since), None


def after_success(state: Health, now: dt.datetime) -> tuple[Health, Change | None]:
    if state.failing:
        since = state.failing_since or now
        detail = {"failures": state.consecutive_failures, "since": since.isoformat(), "recovered_at": now.isoformat()}
        return Health(), Change(ChangeKind.SOURCE_RECOVERED, detail=detail)
    return Health(), None
