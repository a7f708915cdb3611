"""Daily digests under concurrent writers (issue 6): two transactions at once on PostgreSQL.

On SQLite the tests skip: its transactions start with BEGIN IMMEDIATE, so writers never overlap.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from tests.routing_helpers import Clock, Recorder, _write, change, check, deliveries, kinds, utc
from watcher.notify.settings import ConsoleSettings
from watcher.outbox import Deliverer

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
