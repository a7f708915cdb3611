"""When a channel may speak (pure): quiet hours and the daily digest time, in the channel's time zone.

Times of day are wall-clock times (``"HH:MM"``) in an IANA time zone; every function takes ``now`` as an aware
datetime and returns aware UTC datetimes. Days are counted on the local calendar, so a DST change day has a
digest at the same wall-clock time as any other day (a time that does not exist that day, inside the spring-forward
gap, is read with the offset before the change: 02:30 in a 02:00-03:00 gap is 03:30 new time).
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
Zone = str | dt.tzinfo


def parse_time_of_day(text: str) -> dt.time:
    """``"09:00"`` -> ``time(9, 0)``; a ValueError naming the expected format otherwise."""
    match = _HHMM.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a time of day; use HH:MM on a 24-hour clock, such as '09:00'")
    return dt.time(int(match[1]), int(match[2]))


def parse_quiet_hours(text: str) -> tuple[dt.time, dt.time]:
    """``"22:00-07:00"`` -> (start, end); the end may be before the start (the hours wrap midnight)."""
    start, sep, end = text.partition("-")
    hint = "use HH:MM-HH:MM on a 24-hour clock, such as '22:00-07:00'"
    if not sep or not _HHMM.fullmatch(start.strip()) or not _HHMM.fullmatch(end.strip()):
        raise ValueError(f"{text!r} is not a range of hours; {hint}")
    first, last = parse_time_of_day(start), parse_time_of_day(end)
    if first == last:
        raise ValueError(f"{text!r} starts and ends at the same time; give two different times, such as '22:00-07:00'")
    return first, last


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; a ValueError saying so when there is no such zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not a time zone; use an IANA name such as 'UTC' or 'Europe/Berlin'") from None


def _tz(tz: Zone) -> dt.tzinfo:
    return zone(tz) if isinstance(tz, str) else tz


def _check(now: dt.datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime (UTC)")


def _at(day: dt.date, time: dt.time, tz: dt.tzinfo) -> dt.datetime:
    """The wall-clock ``time`` on the local ``day``, in UTC."""
    return dt.datetime.combine(day, time, tzinfo=tz).astimezone(dt.UTC)


def in_quiet_hours(now: dt.datetime, quiet: str | None, tz: Zone) -> bool:
    """Is ``now`` inside the quiet hours (start included, end excluded)? Never when ``quiet`` is None."""
    _check(now)
    if not quiet:
        return False
    start, end = parse_quiet_hours(quiet)
    local = now.astimezone(_tz(tz)).time().replace(tzinfo=None)
    if start < end:
        return start <= local < end
    return local >= start or local < end  # wraps midnight


def quiet_end(now: dt.datetime, quiet: str | None, tz: Zone) -> dt.datetime:
    """When the quiet hours around ``now`` end (UTC); ``now`` itself (in UTC) when it is not quiet now."""
    if not in_quiet_hours(now, quiet, tz):
        return now.astimezone(dt.UTC)
    assert quiet is not None
    start, end = parse_quiet_hours(quiet)
    zone_ = _tz(tz)
    local = now.astimezone(zone_)
    day = local.date()
    if start > end and local.time().replace(tzinfo=None) >= start:
        day += dt.timedelta(days=1)  # quiet since this evening: it ends tomorrow morning
    end_at = _at(day, end, zone_)
    # An end inside a spring-forward gap maps after the gap; never earlier than now in any case.
    return max(end_at, now.astimezone(dt.UTC))


def next_digest_at(now: dt.datetime, digest_time: str, tz: Zone, quiet: str | None = None) -> dt.datetime:
    """The first daily digest strictly after ``now`` (UTC): ``digest_time`` on the local calendar, or the end of
    the quiet hours when that time falls inside them."""
    _check(now)
    at = parse_time_of_day(digest_time)
    zone_ = _tz(tz)
    today = now.astimezone(zone_).date()
    candidates = []
    for offset in range(-1, 3):  # quiet hours can push yesterday's digest past now (at most by a day)
        nominal = _at(today + dt.timedelta(days=offset), at, zone_)
        when = quiet_end(nominal, quiet, zone_)
        if when > now:
            candidates.append(when)
    return min(candidates)
