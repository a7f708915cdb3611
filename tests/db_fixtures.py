"""Storage fixtures: every storage test runs on SQLite and on PostgreSQL (127.0.0.1:5432).

Without a reachable PostgreSQL the PostgreSQL variants are skipped with a reason in the summary,
unless WATCHER_REQUIRE_POSTGRES=1 (set by .ci/run), which turns that into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from watcher.db.engine import make_engine, session_factory
from watcher.db.migrate import upgrade
from watcher.db.models import Base

PG_HOST = os.environ.get("WATCHER_TEST_PG_HOST", "127.0.0.1")
PG_ADMIN_DSN = f"host={PG_HOST} port=5432 user=postgres dbname=postgres connect_timeout=3"


def _pg_problem() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute("select 1")
    except psycopg.Error as exc:
        return f"PostgreSQL not reachable at {PG_HOST}:5432 ({str(exc).strip().splitlines()[0]})"
    return None


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated once, dropped at the end."""
    problem = _pg_problem()
    if problem is not None:
        if os.environ.get("WATCHER_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{problem}; WATCHER_REQUIRE_POSTGRES=1 demands it")
        pytest.skip(f"{problem}: PostgreSQL storage tests skipped")
    name = f"watcher_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@{PG_HOST}:5432/{name}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _truncate(engine: Engine) -> None:
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database URL on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'watcher.db'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        return
    url = request.getfixturevalue("pg_url")
    engine = make_engine(url)
    _truncate(engine)
    engine.dispose()
    yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)
