"""Severity and routing (issue 6): min_severity, the daily digest and quiet hours, in the outbox.

The outbox tests run on SQLite and PostgreSQL with an injected clock and a recording sender (one through a
real webhook channel on a loopback receiver). Nothing sleeps and nothing reads the wall clock. The schedule,
concurrent writers and the configuration are in tests/test_routing_*.py, shared helpers in
tests/routing_helpers.py.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.receivers import HOOK, webhook_receiver
from tests.routing_helpers import Clock, Recorder, _write, alert, change, check, deliveries, kinds, utc
from watcher.db.models import Event
from watcher.notify.channels import build
from watcher.notify.routing import accepts
from watcher.notify.settings import ConsoleSettings, Secrets, WebhookSettings
from watcher.outbox import Deliverer, enqueue, requeue
from watcher.outbox_routing import daily_key
from watcher.risk.levels import Severity

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
