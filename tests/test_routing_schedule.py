"""The routing schedule (issue 6): quiet hours and the next daily digest, pure and table-driven.

Midnight wraps and DST change days included; nothing sleeps and nothing reads the wall clock.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.routing_helpers import utc
from watcher.notify.schedule import in_quiet_hours, next_digest_at, parse_quiet_hours, quiet_end

# -------------------------------------------------------------------------------------- the schedule (pure)


@pytest.mark.parametrize(
    ("quiet", "tz", "now", "expected"),
    [
        (None, "UTC", utc(2026, 1, 5, 23, 0), False),
        ("12:00-14:00", "UTC", utc(2026, 1, 5, 11, 59), False),
        ("12:00-14:00", "UTC", utc(2026, 1, 5, 12, 0), True),  # the start is quiet
        ("12:00-14:00", "UTC", utc(2026, 1, 5, 13, 59), True),
        ("12:00-14:00", "UTC", utc(2026, 1, 5, 14, 0), False),  # the end is not
        ("22:00-07:00", "UTC", utc(2026, 1, 5, 21, 59), False),
        ("22:00-07:00", "UTC", utc(2026, 1, 5, 22, 0), True),
        ("22:00-07:00", "UTC", utc(2026, 1, 5, 23, 59), True),  # wraps midnight
        ("22:00-07:00", "UTC", utc(2026, 1, 6, 0, 0), True),
        ("22:00-07:00", "UTC", utc(2026, 1, 6, 6, 59), True),
        ("22:00-07:00", "UTC", utc(2026, 1, 6, 7, 0), False),
        ("22:00-07:00", "Europe/Berlin", utc(2026, 1, 5, 21, 30), True),  # 22:30 CET
        ("22:00-07:00", "Europe/Berlin", utc(2026, 7, 5, 20, 30), True),  # 22:30 CEST
        ("22:00-07:00", "Europe/Berlin", utc(2026, 7, 5, 5, 30), False),  # 07:30 CEST
        ("22:00-07:00", "America/New_York", utc(2026, 1, 6, 3, 0), True),  # 22:00 EST the day before
    ],
)
def test_in_quiet_hours(quiet: str | None, tz: str, now: dt.datetime, expected: bool) -> None:
    assert in_quiet_hours(now, quiet, tz) is expected


@pytest.mark.parametrize(
    ("quiet", "tz", "now", "expected"),
    [
        ("22:00-07:00", "UTC", utc(2026, 1, 5, 23, 0), utc(2026, 1, 6, 7, 0)),  # in the evening: tomorrow
        ("22:00-07:00", "UTC", utc(2026, 1, 6, 3, 0), utc(2026, 1, 6, 7, 0)),  # after midnight: today
        ("22:00-07:00", "UTC", utc(2026, 1, 6, 12, 0), utc(2026, 1, 6, 12, 0)),  # not quiet: now
        ("12:00-14:00", "UTC", utc(2026, 1, 6, 12, 30), utc(2026, 1, 6, 14, 0)),
        # Spring forward in Berlin (2026-03-29 02:00 CET -> 03:00 CEST): 07:00 CEST is 05:00 UTC.
        ("22:00-07:00", "Europe/Berlin", utc(2026, 3, 28, 22, 0), utc(2026, 3, 29, 5, 0)),
        # Fall back in Berlin (2026-10-25 03:00 CEST -> 02:00 CET): 07:00 CET is 06:00 UTC.
        ("22:00-07:00", "Europe/Berlin", utc(2026, 10, 24, 22, 0), utc(2026, 10, 25, 6, 0)),
        # An end inside New York's spring-forward gap (02:00-03:00 on 2026-03-08) is after the gap.
        ("01:00-02:30", "America/New_York", utc(2026, 3, 8, 6, 30), utc(2026, 3, 8, 7, 30)),
    ],
)
def test_quiet_end(quiet: str, tz: str, now: dt.datetime, expected: dt.datetime) -> None:
    end = quiet_end(now, quiet, tz)
    assert end == expected and end.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize(
    ("digest_time", "tz", "quiet", "now", "expected"),
    [
        ("09:00", "UTC", None, utc(2026, 1, 5, 8, 0), utc(2026, 1, 5, 9, 0)),
        ("09:00", "UTC", None, utc(2026, 1, 5, 9, 0), utc(2026, 1, 6, 9, 0)),  # strictly after now
        ("09:00", "UTC", None, utc(2026, 1, 5, 10, 0), utc(2026, 1, 6, 9, 0)),
        ("09:00", "America/New_York", None, utc(2026, 1, 5, 9, 0), utc(2026, 1, 5, 14, 0)),  # 04:00 EST
        ("09:00", "Asia/Tokyo", None, utc(2026, 1, 5, 9, 0), utc(2026, 1, 6, 0, 0)),  # 18:00 JST
        # DST change days: the same wall-clock time, 23 and 25 hours after the day before's.
        ("09:00", "America/New_York", None, utc(2026, 3, 7, 15, 0), utc(2026, 3, 8, 13, 0)),
        ("09:00", "Europe/Berlin", None, utc(2026, 3, 28, 9, 0), utc(2026, 3, 29, 7, 0)),
        ("09:00", "Europe/Berlin", None, utc(2026, 10, 24, 8, 0), utc(2026, 10, 25, 8, 0)),
        # A digest time that does not exist that day (inside the gap) is read with the offset before it.
        ("02:30", "America/New_York", None, utc(2026, 3, 8, 5, 0), utc(2026, 3, 8, 7, 30)),
        # Inside quiet hours: at their end.
        ("09:00", "UTC", "08:00-10:00", utc(2026, 1, 5, 7, 0), utc(2026, 1, 5, 10, 0)),
        ("23:00", "UTC", "22:00-07:00", utc(2026, 1, 5, 12, 0), utc(2026, 1, 6, 7, 0)),
        ("23:00", "UTC", "22:00-07:00", utc(2026, 1, 6, 6, 0), utc(2026, 1, 6, 7, 0)),  # yesterday's, pushed
        ("23:00", "UTC", "22:00-07:00", utc(2026, 1, 6, 7, 30), utc(2026, 1, 7, 7, 0)),
        ("09:00", "Europe/Berlin", "22:00-09:30", utc(2026, 3, 28, 9, 0), utc(2026, 3, 29, 7, 30)),
        ("09:00", "UTC", "10:00-12:00", utc(2026, 1, 5, 8, 0), utc(2026, 1, 5, 9, 0)),  # outside: unchanged
    ],
)
def test_next_digest_at(digest_time: str, tz: str, quiet: str | None, now: dt.datetime, expected: dt.datetime) -> None:
    at = next_digest_at(now, digest_time, tz, quiet)
    assert at == expected and at.utcoffset() == dt.timedelta(0)


def test_the_schedule_wants_an_aware_now() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_digest_at(dt.datetime(2026, 1, 5, 9, 0), "09:00", "UTC")


def test_quiet_hours_parse_with_spaces_and_wrap() -> None:
    assert parse_quiet_hours(" 22:00 - 07:00 ") == (dt.time(22), dt.time(7))
