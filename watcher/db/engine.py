"""Engines and sessions. Nothing here runs at import time: callers pass the URL in."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from watcher.outage import reason

DEFAULT_URL = "sqlite:///data/watcher.db"
BUSY_TIMEOUT = 30.0
"""Seconds a transaction waits for another to end before it fails."""
_HOLDS = "watcher_write_lock"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The sqlite3 module's own transaction handling breaks SAVEPOINTs (a rolled-back session could keep
    # rows written in a nested transaction): turn it off and let SQLAlchemy's "begin" event start them.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")
    cursor.close()


def _begin_immediate(connection: Any) -> None:
    """``BEGIN IMMEDIATE`` on the driver's connection: a third of the CPU of ``exec_driver_sql``, which is a fifth
    of a quiet check's database work. Its errors are raised as SQLAlchemy's, as ``exec_driver_sql`` would."""
    try:
        connection.connection.driver_connection.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        raise DBAPIError.instance("BEGIN IMMEDIATE", (), exc, sqlite3.Error) from exc


class _Writers:
    """One transaction at a time per engine, queued on a Python lock before ``BEGIN IMMEDIATE``.

    SQLite makes a blocked writer poll: its busy handler sleeps 1, 2, 5, 10, 15, 20, 25... ms between tries, so
    ten threads of short transactions spend most of their time asleep after the lock is free again. A lock in
    this process hands over at once; other processes (the CLI beside the service) still queue on busy_timeout.
    Reentrant, so a thread that opens a second transaction meanwhile meets SQLite's own lock as before.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()

    def begin(self, connection: Any) -> None:
        # IMMEDIATE: take the write lock at the start, so two writers queue (busy_timeout) instead of one
        # failing when both try to upgrade a read lock; WAL readers outside transactions are not held up.
        if not self.lock.acquire(timeout=BUSY_TIMEOUT):
            raise TimeoutError(f"no database transaction could start within {BUSY_TIMEOUT:g} s")
        try:
            _begin_immediate(connection)
        except BaseException:
            self.lock.release()
            raise
        connection.info[_HOLDS] = connection.info.get(_HOLDS, 0) + 1

    def end(self, connection: Any) -> None:
        if connection.info.get(_HOLDS, 0) > 0:
            connection.info[_HOLDS] -= 1
            self.lock.release()


def shown_url(url: str) -> str:
    """``url`` as it may be shown in a message: its password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy reads: show nothing of it (it may still hold a password)
        return "(the configured database URL)"


def cannot_open(url: str, exc: OperationalError) -> str:
    """The one line that says why the database at ``url`` did not open (its password masked)."""
    why = reason(exc)  # one line: psycopg adds a hint on a line of its own
    if make_url(url).get_backend_name() == "sqlite":
        why += " (the file's directory must exist or be one the watcher can create, and be writable)"
    return f"cannot open the database at {shown_url(url)}: {why}"


def make_engine(url: str) -> Engine:
    """An engine for ``url``: SQLite in WAL mode with foreign keys on, or PostgreSQL via psycopg 3."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            # If this fails, SQLite cannot open the file either, and that is the error reported (``cannot_open``).
            with contextlib.suppress(OSError):
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
        writers = _Writers()
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", writers.begin)
        event.listen(engine, "commit", writers.end)
        event.listen(engine, "rollback", writers.end)
        return engine
    if parsed.drivername == "postgresql":
        url = str(parsed.set(drivername="postgresql+psycopg"))
    return create_engine(url, pool_pre_ping=True)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
