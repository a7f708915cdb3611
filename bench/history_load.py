"""The history bench's databases: bulk loading the generated rows, and the two backends it measures.

SQLite is a temporary file loaded with SQLAlchemy Core executemany; PostgreSQL is a fresh database
``watcher_bench_<random>`` loaded with COPY. Both are migrated with ``watcher.db.migrate.upgrade`` first.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, insert, text

from bench.history_rows import COLUMNS, JSON_COLUMNS, LOAD_ORDER
from watcher.db.engine import make_engine
from watcher.db.migrate import upgrade
from watcher.db.models import Base

PG_HOST = os.environ.get("WATCHER_TEST_PG_HOST", "127.0.0.1")
PG_ADMIN_DSN = f"host={PG_HOST} port=5432 user=postgres dbname=postgres connect_timeout=3"

# ---------------------------------------------------------------------------------------------------------------
# Loading


def _chunks(rows: list[list[Any]], size: int = 20_000) -> Iterator[list[list[Any]]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def load_sqlite(engine: Engine, rows: dict[str, list[list[Any]]]) -> None:
    """Core executemany, lists of dicts, one transaction: the column types format values as the app would."""
    tables = Base.metadata.tables
    with engine.begin() as conn:
        for name in LOAD_ORDER:
            columns = COLUMNS[name]
            for chunk in _chunks(rows[name]):
                conn.execute(insert(tables[name]), [dict(zip(columns, row, strict=True)) for row in chunk])


def load_postgres(dsn: str, rows: dict[str, list[list[Any]]]) -> None:
    """COPY per table, then the id sequences moved past the copied ids, then ANALYZE (autovacuum would)."""
    with psycopg.connect(dsn) as conn:
        with conn.cursor() as cur:
            for name in LOAD_ORDER:
                columns = COLUMNS[name]
                json_at = [columns.index(c) for c in JSON_COLUMNS.get(name, ())]
                with cur.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows[name]:
                        if json_at:
                            row = list(row)
                            for i in json_at:
                                row[i] = json.dumps(row[i])
                        copy.write_row(row)
            for name in LOAD_ORDER:
                if "id" in COLUMNS[name]:
                    cur.execute(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))")
        conn.commit()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


# ---------------------------------------------------------------------------------------------------------------
# The two backends


@dataclass
class Backend:
    name: str
    url: str
    engine: Engine
    load_note: str
    size: Callable[[], int]
    """Database size in bytes (SQLite: file plus WAL after a checkpoint)."""
    checks_size: Callable[[], int]
    """Bytes to compare before and after unchanged checks."""
    table_sizes: Callable[[], dict[str, int]]
    """Bytes per table, indexes included (empty if the backend cannot tell)."""
    close: Callable[[bool], None]
    """Dispose of the engine and drop the database, unless asked to keep it."""
    page_bytes: int
    """Files and relations grow by whole pages: the resolution of a size difference."""


def sqlite_backend(rows: dict[str, list[list[Any]]]) -> Backend:
    directory = Path(tempfile.mkdtemp(prefix="watcher-bench-"))
    path = directory / "history.db"
    url = f"sqlite:///{path}"
    engine = make_engine(url)

    def size() -> int:
        # Outside any transaction: the engine begins every transaction with BEGIN IMMEDIATE, inside which a
        # checkpoint is refused ("database table is locked").
        raw = engine.raw_connection()
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()
        wal = Path(f"{path}-wal")
        return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)

    def table_sizes() -> dict[str, int]:
        out: dict[str, int] = {}
        with engine.connect() as conn:
            owners: dict[str, str] = {
                str(n): str(t) for n, t in conn.exec_driver_sql("SELECT name, tbl_name FROM sqlite_master")
            }
            try:
                stats = conn.exec_driver_sql("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").all()
            except Exception:  # dbstat is a compile-time option of SQLite
                return {}
        for name, bytes_ in stats:
            table = owners.get(name, name)
            out[table] = out.get(table, 0) + int(bytes_)
        return out

    def close(keep: bool) -> None:
        engine.dispose()
        if keep:
            print(f"kept: {url}")
        else:
            shutil.rmtree(directory, ignore_errors=True)

    started = time.perf_counter()
    try:
        upgrade(engine)
        load_sqlite(engine, rows)
    except BaseException:
        close(False)
        raise
    with engine.connect() as conn:
        page = int(conn.exec_driver_sql("PRAGMA page_size").scalar_one())
    note = f"{sqlite3.sqlite_version}, {path}, loaded in {time.perf_counter() - started:.1f} s (Core executemany)"
    return Backend("SQLite", url, engine, note, size, size, table_sizes, close, page)


def postgres_backend(rows: dict[str, list[list[Any]]]) -> Backend | None:
    try:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        print(f"PostgreSQL skipped: not reachable at {PG_HOST}:5432 ({str(exc).strip().splitlines()[0]})")
        return None
    name = f"watcher_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@{PG_HOST}:5432/{name}"
    engine = make_engine(url)

    def scalar(sql: str) -> int:
        with engine.connect() as conn:
            return int(conn.execute(text(sql)).scalar_one())

    def table_sizes() -> dict[str, int]:
        return {table: scalar(f"SELECT pg_total_relation_size('{table}')") for table in COLUMNS}

    def close(keep: bool) -> None:
        engine.dispose()
        if keep:
            print(f"kept: {url}")
            return
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    started = time.perf_counter()
    try:
        upgrade(engine)
        load_postgres(f"host={PG_HOST} port=5432 user=postgres dbname={name}", rows)
    except BaseException:
        close(False)
        raise
    version = scalar("SHOW server_version_num")
    note = (
        f"{version // 10000}.{version % 10000}, database {name}, loaded in {time.perf_counter() - started:.1f} s"
        " (COPY, then VACUUM ANALYZE)"
    )
    return Backend(
        "PostgreSQL",
        url,
        engine,
        note,
        lambda: scalar("SELECT pg_database_size(current_database())"),
        lambda: scalar("SELECT pg_total_relation_size('checks')"),
        table_sizes,
        close,
        scalar("SHOW block_size"),
    )
