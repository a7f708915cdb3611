"""Severity and routing (issue 6): min_severity, the daily digest, quiet hours, and their configuration.

The schedule is pure and table-driven (midnight wrap, DST change days); the outbox tests run on SQLite and
PostgreSQL with an injected clock and a recording sender (one through a real webhook channel on a loopback
receiver). Nothing sleeps and nothing reads the wall clock.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from tests.receivers import HOOK, webhook_receiver
from watcher.config import ConfigError, Settings, load_settings
from watcher.db.models import Delivery, DeliveryEvent, Event, Source
from watcher.diff import Change, ChangeKind
from watcher.notify.channels import build
from watcher.notify.model import Digest, SendResult
from watcher.notify.routing import accepts
from watcher.notify.schedule import in_quiet_hours, next_digest_at, parse_quiet_hours, quiet_end
from watcher.notify.settings import ChannelSettings, ConsoleSettings, Secrets, WebhookSettings
from watcher.outbox import Deliverer, enqueue, requeue
from watcher.outbox_routing import daily_key
from watcher.risk.levels import Severity
from watcher.store.events import add_events


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)


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


# -------------------------------------------------------------------------------------- routing (pure)


def test_min_severity_drops_change_events_below_it_but_never_operator_alerts() -> None:
    channel = ConsoleSettings(type="console", name="c", min_severity=Severity.MEDIUM, operator=True)
    assert not accepts(channel, "actions_added", None, "P", "low")
    assert not accepts(channel, "actions_added", None, "P", None)  # missing counts as info
    assert not accepts(channel, "actions_added", None, "P")  # callers that do not pass it: info
    assert accepts(channel, "actions_added", None, "P", "medium")
    assert accepts(channel, "actions_added", None, "P", "CRITICAL")
    assert accepts(channel, "source_failing", None, None)
    assert accepts(ConsoleSettings(type="console", name="d"), "actions_added", None, "P")  # default: info


# -------------------------------------------------------------------------------------- the outbox (storage)


class Clock:
    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class Recorder:
    settings: ChannelSettings
    got: list[Digest] = field(default_factory=list)

    def deliver(self, digest: Digest) -> SendResult:
        self.got.append(digest)
        return SendResult(True, "HTTP 200")


def change(severity: str | None, policy: str | None = None) -> Change:
    """An actions_added event of this severity, about the policy named after it unless told."""
    detail = {} if severity is None else {"severity": severity}
    name = policy or str(severity)
    return Change(ChangeKind.ACTIONS_ADDED, name, (("Allow", f"s3:Get{name}"),), detail)


def alert(error: str = "HTTP 503") -> Change:
    return Change(ChangeKind.SOURCE_FAILING, detail={"error": error, "since": error})


def check(
    sessions: sessionmaker[Session],
    source: str,
    changes: list[Change],
    now: dt.datetime,
    channels: list[ChannelSettings],
) -> list[Delivery]:
    """One check of ``source`` at ``now``: its events and their deliveries, written in one transaction."""
    with sessions.begin() as session:
        return _write(session, source, changes, now, channels)


def _write(
    session: Session, source: str, changes: list[Change], now: dt.datetime, channels: list[ChannelSettings]
) -> list[Delivery]:
    row = session.scalars(select(Source).where(Source.name == source)).one_or_none()
    if row is None:
        row = Source(name=source, kind="page", url=f"https://docs.example.test/{source}.html", created_at=now)
        row.service = f"Amazon {source.title()}"
        session.add(row)
        session.flush()
    events = add_events(session, row, None, changes, f"{source}@{now.isoformat()}", now)
    return enqueue(session, events, channels, now)


def kinds(digest: Digest) -> list[tuple[str, str]]:
    """(source, policy) of each notice, or (source, kind) for one about no policy."""
    return [(n.source, n.policy or n.kind) for n in digest.notices]


def deliveries(sessions: sessionmaker[Session]) -> list[tuple[str, dt.datetime, int]]:
    """(channel, due, number of events) of every row, in id order."""
    with sessions() as session:
        count = select(func.count()).where(DeliveryEvent.delivery_id == Delivery.id).scalar_subquery()
        stmt = select(Delivery.channel, Delivery.next_attempt_at, count).order_by(Delivery.id)
        return [(channel, due, n) for channel, due, n in session.execute(stmt)]


def test_min_severity_drops_low_events_and_keeps_operator_alerts(sessions: sessionmaker[Session]) -> None:
    ops = Recorder(ConsoleSettings(type="console", name="ops", min_severity=Severity.MEDIUM, operator=True))
    now = utc(2026, 1, 5, 12, 0)
    check(sessions, "s3", [change("low"), change(None), change("medium"), alert()], now, [ops.settings])
    check(sessions, "kms", [change("low")], now, [ops.settings])  # nothing left: no delivery at all
    assert [o.status for o in Deliverer(sessions, {"ops": ops}, owner="a", clock=Clock(now)).run_once()] == ["sent"]
    assert [kinds(d) for d in ops.got] == [[("s3", "medium"), ("s3", "source_failing")]]


def test_a_low_event_waits_for_the_daily_digest_while_a_high_one_goes_at_once(sessions: sessionmaker[Session]) -> None:
    daily = Recorder(WebhookSettings(type="webhook", name="daily", digest="daily", timezone="America/New_York"))
    now = utc(2026, 1, 5, 9, 0)  # 04:00 in New York
    check(sessions, "s3", [change("low"), change("high")], now, [daily.settings])
    assert deliveries(sessions) == [("daily", now, 1), ("daily", utc(2026, 1, 5, 14, 0), 1)]  # 09:00 EST
    clock = Clock(now)
    deliverer = Deliverer(sessions, {"daily": daily}, owner="a", clock=clock)
    assert [o.status for o in deliverer.run_once()] == ["sent"]
    assert [kinds(d) for d in daily.got] == [[("s3", "high")]]
    clock.now = utc(2026, 1, 5, 13, 59, 59)
    assert deliverer.run_once() == []
    clock.now = utc(2026, 1, 5, 14, 0)
    assert [o.status for o in deliverer.run_once()] == ["sent"]
    assert [kinds(d) for d in daily.got[1:]] == [[("s3", "low")]]
    assert daily.got[1].key == daily_key("daily", utc(2026, 1, 5, 14, 0))
    assert daily.got[1].key.startswith("daily-20260105T1400Z-")


def test_two_checks_low_events_share_one_daily_digest_sent_once_as_one_message(
    sessions: sessionmaker[Session],
) -> None:
    settings = WebhookSettings(type="webhook", name="hook", digest="daily", immediate_severity=Severity.CRITICAL)
    check(sessions, "s3", [change("low"), change("medium")], utc(2026, 1, 5, 1, 0), [settings])
    check(sessions, "kms", [change("high")], utc(2026, 1, 5, 2, 0), [settings])  # below critical: waits too
    check(sessions, "s3", [change("info")], utc(2026, 1, 5, 3, 0), [settings])
    assert deliveries(sessions) == [("hook", utc(2026, 1, 5, 9, 0), 4)]
    with webhook_receiver("k3y") as hook:
        sender = build(settings, Secrets({"WATCHER_WEBHOOK_URL": hook.url(HOOK), "WATCHER_WEBHOOK_SECRET": "k3y"}))
        clock = Clock(utc(2026, 1, 5, 9, 0))
        deliverer = Deliverer(sessions, {"hook": sender}, owner="a", clock=clock)
        assert [o.status for o in deliverer.run_once()] == ["sent"]
        clock.now += dt.timedelta(days=2)
        assert deliverer.run_once() == []
        posts = hook.accepted
    assert len(posts) == 1
    body = posts[0].json
    assert [(e["source"], e["policy"]) for e in body["events"]] == [
        ("s3", "low"),
        ("s3", "medium"),
        ("kms", "high"),
        ("s3", "info"),
    ]
    assert posts[0].key == body["delivery"] == daily_key("hook", utc(2026, 1, 5, 9, 0))
    assert body["title"] == "Policy Watcher daily digest"


def test_quiet_hours_hold_a_high_event_while_critical_and_operator_alerts_go_at_once(
    sessions: sessionmaker[Session],
) -> None:
    quiet = ConsoleSettings(
        type="console", name="quiet", operator=True, quiet_hours="22:00-07:00", timezone="Europe/Berlin"
    )
    now = utc(2026, 1, 5, 23, 30)  # 00:30 in Berlin: quiet until 07:00 CET, 06:00 UTC
    check(sessions, "s3", [change("high")], now, [quiet])
    check(sessions, "kms", [change("critical"), change("low")], now, [quiet])  # one critical: all goes
    check(sessions, "iam", [alert()], now, [quiet])
    check(sessions, "ec2", [change("high"), alert("HTTP 500")], now, [quiet])  # the alert goes, the change waits
    end = utc(2026, 1, 6, 6, 0)
    assert deliveries(sessions) == [
        ("quiet", end, 1),
        ("quiet", now, 2),
        ("quiet", now, 1),
        ("quiet", now, 1),
        ("quiet", end, 1),
    ]
    recorder = Recorder(quiet)
    clock = Clock(now)
    deliverer = Deliverer(sessions, {"quiet": recorder}, owner="a", clock=clock)
    assert len(deliverer.run_once()) == 3
    assert [kinds(d) for d in recorder.got] == [
        [("kms", "critical"), ("kms", "low")],
        [("iam", "source_failing")],
        [("ec2", "source_failing")],
    ]
    clock.now = end - dt.timedelta(seconds=1)
    assert deliverer.run_once() == []
    clock.now = end
    assert len(deliverer.run_once()) == 2
    assert [kinds(d) for d in recorder.got[3:]] == [[("s3", "high")], [("ec2", "high")]]


def test_outside_quiet_hours_a_high_event_goes_at_once(sessions: sessionmaker[Session]) -> None:
    quiet = ConsoleSettings(type="console", name="quiet", quiet_hours="22:00-07:00", timezone="Europe/Berlin")
    now = utc(2026, 1, 5, 6, 0)  # 07:00 in Berlin: the end is not quiet
    check(sessions, "s3", [change("high")], now, [quiet])
    assert deliveries(sessions) == [("quiet", now, 1)]


def test_an_event_two_minutes_before_the_digest_time_goes_to_the_next_days_digest(
    sessions: sessionmaker[Session],
) -> None:
    daily = Recorder(ConsoleSettings(type="console", name="daily", digest="daily"))
    check(sessions, "s3", [change("low")], utc(2026, 1, 5, 8, 0), [daily.settings])
    check(sessions, "kms", [change("low")], utc(2026, 1, 5, 8, 54, 59), [daily.settings])  # just in time
    check(sessions, "iam", [change("low")], utc(2026, 1, 5, 8, 58), [daily.settings])
    check(sessions, "ec2", [change("low")], utc(2026, 1, 5, 8, 55), [daily.settings])  # 5 minutes: too late too
    assert deliveries(sessions) == [("daily", utc(2026, 1, 5, 9, 0), 2), ("daily", utc(2026, 1, 6, 9, 0), 2)]
    clock = Clock(utc(2026, 1, 5, 9, 0))
    deliverer = Deliverer(sessions, {"daily": daily}, owner="a", clock=clock)
    assert len(deliverer.run_once()) == 1
    clock.now = utc(2026, 1, 6, 9, 0)
    assert len(deliverer.run_once()) == 1
    assert [kinds(d) for d in daily.got] == [[("s3", "low"), ("kms", "low")], [("iam", "low"), ("ec2", "low")]]


def test_a_digest_sent_early_by_hand_takes_no_more_events(sessions: sessionmaker[Session]) -> None:
    daily = Recorder(ConsoleSettings(type="console", name="daily", digest="daily"))
    (first,) = check(sessions, "s3", [change("low")], utc(2026, 1, 5, 6, 0), [daily.settings])
    with sessions.begin() as session:
        assert requeue(session, utc(2026, 1, 5, 6, 30), [first.id]) == 1  # ``watcher outbox retry``
    deliverer = Deliverer(sessions, {"daily": daily}, owner="a", clock=Clock(utc(2026, 1, 5, 6, 30)))
    assert [o.status for o in deliverer.run_once()] == ["sent"]
    (second,) = check(sessions, "kms", [change("low")], utc(2026, 1, 5, 7, 0), [daily.settings])
    assert second.id != first.id and second.next_attempt_at == utc(2026, 1, 6, 9, 0)


def test_an_event_is_attached_to_a_digest_once(sessions: sessionmaker[Session]) -> None:
    daily = ConsoleSettings(type="console", name="daily", digest="daily")
    now = utc(2026, 1, 5, 6, 0)
    with sessions.begin() as session:
        _write(session, "s3", [change("low")], now, [daily])
        again = list(session.scalars(select(Event)))
        enqueue(session, again, [daily, daily], now)  # the same events, twice more
    assert deliveries(sessions) == [("daily", utc(2026, 1, 5, 9, 0), 1)]


def test_each_channel_has_its_own_daily_digest(sessions: sessionmaker[Session]) -> None:
    one = ConsoleSettings(type="console", name="one", digest="daily")
    two = ConsoleSettings(type="console", name="two", digest="daily", digest_time="18:30", timezone="Asia/Tokyo")
    everything = ConsoleSettings(type="console", name="all")
    check(sessions, "s3", [change("low")], utc(2026, 1, 5, 6, 0), [one, two, everything])
    assert deliveries(sessions) == [
        ("one", utc(2026, 1, 5, 9, 0), 1),
        ("two", utc(2026, 1, 5, 9, 30), 1),
        ("all", utc(2026, 1, 5, 6, 0), 1),
    ]


# -------------------------------------------------------------------------------------- concurrent writers (PostgreSQL)


def _postgresql_only(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite transactions start with BEGIN IMMEDIATE: writers never overlap")


@contextmanager
def _in_thread(target: Any) -> Iterator[list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target()
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield errors
    finally:
        thread.join(30)
        assert not thread.is_alive()


def _wait_for_a_lock_wait(engine: Engine) -> None:
    """Until another connection of this database waits on a row or transaction lock (a bounded poll)."""
    deadline = time.monotonic() + 20
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.execute(query).scalar():
                return
        threading.Event().wait(0.01)
    raise AssertionError("the second writer never waited for the first")


def test_two_writers_at_once_create_one_daily_digest(sessions: sessionmaker[Session], engine: Engine) -> None:
    _postgresql_only(engine)
    daily = ConsoleSettings(type="console", name="daily", digest="daily")
    check(sessions, "s3", [], utc(2026, 1, 5, 6, 0), [daily])  # the sources exist beforehand
    check(sessions, "kms", [], utc(2026, 1, 5, 6, 0), [daily])
    with sessions.begin() as first:
        _write(first, "s3", [change("low")], utc(2026, 1, 5, 6, 0), [daily])  # creates the digest, uncommitted
        with _in_thread(lambda: check(sessions, "kms", [change("low")], utc(2026, 1, 5, 6, 1), [daily])) as errors:
            _wait_for_a_lock_wait(engine)  # the second one's INSERT ... ON CONFLICT waits for our row
            first.commit()
    assert errors == []
    assert deliveries(sessions) == [("daily", utc(2026, 1, 5, 9, 0), 2)]


def test_a_deliverer_skips_a_digest_while_a_writer_attaches_to_it(
    sessions: sessionmaker[Session], engine: Engine
) -> None:
    _postgresql_only(engine)
    daily = Recorder(ConsoleSettings(type="console", name="daily", digest="daily"))
    check(sessions, "s3", [change("low")], utc(2026, 1, 5, 6, 0), [daily.settings])
    deliverer = Deliverer(sessions, {"daily": daily}, owner="a", clock=Clock(utc(2026, 1, 5, 9, 0)))
    with sessions.begin() as writer:
        _write(writer, "kms", [change("low")], utc(2026, 1, 5, 8, 0), [daily.settings])  # holds FOR SHARE
        assert deliverer.run_once() == []  # FOR UPDATE SKIP LOCKED: not now
    assert [o.status for o in deliverer.run_once()] == ["sent"]
    assert [kinds(d) for d in daily.got] == [[("s3", "low"), ("kms", "low")]]


# -------------------------------------------------------------------------------------- configuration


def channel_config(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "watcher.toml"
    path.write_text(f'[[channels]]\nname = "ops"\ntype = "console"\n{extra}\n', encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    return str(caught.value)


def test_the_new_keys_have_their_defaults() -> None:
    channel = ConsoleSettings(type="console", name="c")
    assert (channel.min_severity, channel.immediate_severity, channel.digest) == ("info", "high", "none")
    assert (channel.digest_time, channel.quiet_hours, channel.timezone) == ("09:00", None, "UTC")


def test_the_new_keys_load_from_the_file(tmp_path: Path) -> None:
    path = channel_config(
        tmp_path,
        'min_severity = "Low"\nimmediate_severity = "critical"\ndigest = "daily"\ndigest_time = "17:45"\n'
        'quiet_hours = "22:00-07:00"\ntimezone = "Europe/Berlin"',
    )
    (channel,) = load_settings(path, env={}).channels
    assert (channel.min_severity, channel.immediate_severity) == (Severity.LOW, Severity.CRITICAL)
    assert (channel.digest, channel.digest_time, channel.quiet_hours, channel.timezone) == (
        "daily",
        "17:45",
        "22:00-07:00",
        "Europe/Berlin",
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            'timezone = "Mars/Olympus_Mons"',
            "channels[0].timezone: 'Mars/Olympus_Mons' is not a time zone; use an IANA name such as 'UTC' or "
            "'Europe/Berlin'",
        ),
        (
            'quiet_hours = "22-7"',
            "channels[0].quiet_hours: '22-7' is not a range of hours; use HH:MM-HH:MM on a 24-hour clock, such as "
            "'22:00-07:00'",
        ),
        (
            'quiet_hours = "22:00-24:00"',
            "channels[0].quiet_hours: '22:00-24:00' is not a range of hours; use HH:MM-HH:MM on a 24-hour clock, "
            "such as '22:00-07:00'",
        ),
        (
            'quiet_hours = "07:00-07:00"',
            "channels[0].quiet_hours: '07:00-07:00' starts and ends at the same time; give two different times, "
            "such as '22:00-07:00'",
        ),
        (
            'digest_time = "9am"',
            "channels[0].digest_time: '9am' is not a time of day; use HH:MM on a 24-hour clock, such as '09:00'",
        ),
        (
            'min_severity = "urgent"',
            "channels[0].min_severity: 'urgent' is not a severity; use info, low, medium, high or critical",
        ),
        ('digest = "weekly"', "channels[0].digest: 'weekly' is not allowed; use 'none' or 'daily'"),
    ],
)
def test_a_bad_value_names_the_key_and_what_to_write(tmp_path: Path, extra: str, message: str) -> None:
    path = channel_config(tmp_path, extra)
    assert error_of(path) == f"{path}: {message}"


def test_the_shipped_config_still_loads() -> None:
    shipped = Path(__file__).resolve().parents[1] / "config" / "watcher.toml"
    settings = load_settings(shipped, env={})
    assert isinstance(settings, Settings) and all(c.digest == "none" for c in settings.channels)
