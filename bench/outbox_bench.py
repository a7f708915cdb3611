"""Outbox throughput: 10,000 queued deliveries sent to a loopback webhook receiver, on SQLite and PostgreSQL.

For each backend the rows are bulk-inserted (SQLAlchemy Core, after ``watcher.db.migrate.upgrade``): sources,
snapshots, policies with an anchored version, 1 to 3 events per delivery and the deliveries with their
``delivery_events``. Then ``Deliverer.run_once(limit=200)`` runs in a loop until nothing is due, once with
one deliverer and once (the same rows put back to ``pending``) with 4 deliverer threads sharing the table,
each with its own lease owner. The receiver (a ThreadingHTTPServer on 127.0.0.1, in a child process so that
it does not compete with the deliverer for the GIL) answers 200 at once and counts requests and distinct
``X-Watcher-Delivery`` keys; each run must end with exactly one request per row.

Prints rows/s, seconds, the receiver's count, SQL statements per row and where the time goes (claim, digest
building, the HTTP send, marking the row). It never asserts timings.

Run with ``.venv/bin/python -m bench.outbox_bench``. Options: ``--no-postgres``, ``--rows N``, ``--profile``
(cProfile of a single-deliverer run per backend instead of the timed runs), ``--add-snapshot-index``.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import os
import pstats
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy import Engine, text

from bench.outbox_receiver import Receiver, receiver
from bench.outbox_rows import generate, load
from bench.outbox_runs import BATCH, Run, StatementCounter, deliver_all, post_cost, report
from watcher.db.engine import make_engine, session_factory
from watcher.db.migrate import upgrade

PG_HOST = os.environ.get("WATCHER_TEST_PG_HOST", "127.0.0.1")
PG_ADMIN_DSN = f"host={PG_HOST} port=5432 user=postgres dbname=postgres connect_timeout=3"
ROWS = 10_000
THREADS = 4

# ---------------------------------------------------------------------------------------------------------------
# Backends


@dataclass
class Backend:
    name: str
    engine: Engine
    close: Callable[[], None]


def sqlite_backend() -> Backend:
    directory = Path(tempfile.mkdtemp(prefix="watcher-outbox-bench-"))
    engine = make_engine(f"sqlite:///{directory / 'outbox.db'}")

    def close() -> None:
        engine.dispose()
        shutil.rmtree(directory, ignore_errors=True)

    return Backend("sqlite", engine, close)


def postgres_backend() -> Backend | None:
    try:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute("select 1")
    except psycopg.Error as exc:
        print(f"PostgreSQL not reachable at {PG_HOST}:5432 ({str(exc).strip().splitlines()[0]}): skipped")
        return None
    name = f"watcher_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(f"postgresql+psycopg://postgres@{PG_HOST}:5432/{name}")

    def close() -> None:
        engine.dispose()
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return Backend("postgresql", engine, close)


SNAPSHOT_INDEX = "CREATE INDEX ix_bench_events_snapshot_id ON events (snapshot_id)"
"""The index ``digest._rows_of_snapshot`` lacks (``--add-snapshot-index``: the effect of the recommended fix)."""


def bench_backend(backend: Backend, hook: Receiver, rows: int, profile: bool, snapshot_index: bool) -> list[Run]:
    upgrade(backend.engine)
    if snapshot_index:
        with backend.engine.begin() as conn:
            conn.execute(text(SNAPSHOT_INDEX))
    data = generate(rows, dt.datetime.now(dt.UTC))
    seconds = load(backend.engine, data, backend.name == "postgresql")
    events = len(data["events"])
    print(f"{backend.name}: loaded {rows} deliveries carrying {events} events in {seconds:.1f} s")
    sessions = session_factory(backend.engine)
    counter = StatementCounter(backend.engine)
    if profile:
        profiler = cProfile.Profile()
        profiler.runcall(deliver_all, backend.name, sessions, hook, counter, rows, 1)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        return []
    return [deliver_all(backend.name, sessions, hook, counter, rows, threads) for threads in (1, THREADS)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only.")
    parser.add_argument("--rows", type=int, default=ROWS, help=f"Queued deliveries (default {ROWS}).")
    parser.add_argument("--profile", action="store_true", help="cProfile one single-deliverer run per backend instead.")
    parser.add_argument(
        "--add-snapshot-index",
        action="store_true",
        help="Add an index on events.snapshot_id to the bench databases (not in the schema yet): the fix's effect.",
    )
    args = parser.parse_args()
    print(f"outbox bench: {args.rows} deliveries, run_once(limit={BATCH}); load average {os.getloadavg()[0]:.2f}")
    if args.add_snapshot_index:
        print(f"with {SNAPSHOT_INDEX} (not part of the watcher's schema)")
    with receiver() as hook:
        fresh, reused = post_cost(hook)
        print(f"one POST to the loopback receiver: {fresh:.2f} ms via webhook.send (new connection each), ", end="")
        print(f"{reused:.2f} ms on one keep-alive requests.Session")
        runs: list[Run] = []
        makers: list[Callable[[], Backend | None]] = [sqlite_backend]
        if not args.no_postgres:
            makers.append(postgres_backend)
        for make in makers:
            backend = make()
            if backend is None:
                continue
            try:
                runs += bench_backend(backend, hook, args.rows, args.profile, args.add_snapshot_index)
            finally:
                backend.close()
    if runs:
        print()
        print(f"{'backend':<11}{'mode':<13}{'rows':>7}{'seconds':>9}{'rows/s':>9}{'received':>10}{'SQL/row':>8}")
        for run in runs:
            report(run)
        print(f"(load average at the end: {os.getloadavg()[0]:.2f})")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
