"""SQLite transactions in one process queue on a lock and hand over as soon as one ends (no lock left behind)."""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from watcher.db import engine as engine_module
from watcher.db.engine import make_engine, session_factory
from watcher.health import Health
from watcher.store.quiet import QuietBatch
from watcher.store.sources import CheckRecord

WAIT = 30.0


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    made = make_engine(f"sqlite:///{tmp_path}/w.db")
    with made.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    return made


def test_a_second_threads_transaction_starts_only_once_the_first_has_ended(engine: Engine) -> None:
    order: list[str] = []
    first_in, second_trying = threading.Event(), threading.Event()

    def first() -> None:
        with engine.begin() as conn:
            first_in.set()
            assert second_trying.wait(WAIT)
            conn.execute(text("INSERT INTO t VALUES (1)"))
            order.append("first commits")

    def second() -> None:
        assert first_in.wait(WAIT)
        second_trying.set()
        with engine.begin() as conn:
            order.append("second begins")
            conn.execute(text("INSERT INTO t VALUES (2)"))

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert order == ["first commits", "second begins"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 2


def test_a_transaction_rolled_back_by_an_error_leaves_no_lock_behind(engine: Engine) -> None:
    with pytest.raises(RuntimeError), engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        raise RuntimeError("boom")
    sessions = session_factory(engine)
    with pytest.raises(RuntimeError), sessions.begin() as session:
        session.execute(text("INSERT INTO t VALUES (2)"))
        raise RuntimeError("boom")
    done = threading.Event()

    def later() -> None:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (3)"))
        done.set()

    threading.Thread(target=later).start()
    assert done.wait(WAIT)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT x FROM t")).scalars().all() == [3]


def test_a_database_locked_by_another_process_fails_as_sqlalchemys_operational_error_and_keeps_no_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "BUSY_TIMEOUT", 0.05)  # read when a connection opens
    locked = make_engine(f"sqlite:///{tmp_path}/locked.db")
    with locked.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    other = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)  # stands in for another process
    other.execute("BEGIN EXCLUSIVE")
    with pytest.raises(OperationalError, match="database is locked"), locked.begin():
        pass
    other.execute("ROLLBACK")
    other.close()
    written = threading.Event()

    def write() -> None:  # another thread: the lock is reentrant, so only another thread sees one left behind
        with locked.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
        written.set()

    threading.Thread(target=write, daemon=True).start()
    assert written.wait(WAIT)


def test_quiet_checks_that_meet_the_database_down_are_one_warning_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "watcher.db").mkdir()  # a directory where the database file should be: SQLite cannot open it
    batch = QuietBatch(session_factory(make_engine(f"sqlite:///{tmp_path / 'watcher.db'}")))
    now = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
    batch.add(1, CheckRecord("not_modified", now, 3, 304, 0), Health(0, False, None), "test", None)
    with caplog.at_level(logging.WARNING, logger="watcher"):
        assert batch.flush() == 0
    assert [(r.levelname, r.getMessage(), r.exc_info) for r in caplog.records] == [
        ("WARNING", "1 quiet check rows could not be written: database unavailable", None)
    ]
