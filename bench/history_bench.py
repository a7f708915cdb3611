"""History database at scale: a generated five-year history on SQLite and PostgreSQL, then what it costs.

Prints, per backend: load time, database size (total and per table), row counts, the time to ingest one
changed page through the real pipeline, the bytes an unchanged check adds, and the latency (median, p95)
of ``when``, ``changes`` and ``history`` plus one run of each through the CLI. It never asserts timings.

Run with ``make bench`` or ``.venv/bin/python -m bench.history_bench``. Options: ``--no-postgres``,
``--keep`` (keep the SQLite file and the PostgreSQL database and print where they are).

The history is bulk-inserted (SQLAlchemy Core executemany on SQLite, COPY on PostgreSQL) after
``watcher.db.migrate.upgrade``, in the chronological order the watcher itself would have written it.
It is generated once (seeded, so every run has the same data) and loaded into each backend.

The parts: ``bench.history_workload`` (sizes, vocabulary, the plan), ``bench.history_rows`` and
``bench.history_generator`` (the rows, generated), ``bench.history_load`` (loading, the backends) and
``bench.history_measure`` (the measurements and their report).
"""

from __future__ import annotations

import argparse
import gc
import os
import time
from typing import Any

from bench.history_generator import generate
from bench.history_load import Backend, postgres_backend, sqlite_backend
from bench.history_measure import Inputs, measure
from bench.history_workload import END, HOURLY_CHECK_DAYS, SEED, SOURCES, START


def checks_note(rows: dict[str, list[list[Any]]]) -> str:
    hourly = SOURCES * 24 * (END - START).days
    return (
        f"checks are a sample: {len(rows['checks']):,} rows, one per baseline and change plus hourly checks of"
        f" every source for the last {HOURLY_CHECK_DAYS} days; five years of hourly checks would be"
        f" ~{hourly / 1e6:.1f}M rows (multiply by the bytes per unchanged check below)."
    )


def load() -> str:
    return " ".join(f"{n:.2f}" for n in os.getloadavg())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--no-postgres", action="store_true", help="measure SQLite only")
    parser.add_argument("--keep", action="store_true", help="keep the databases and print where they are")
    parser.add_argument(
        "--no-freeze-gc",
        action="store_true",
        help="measure without the gc.freeze() that the watcher command does at start-up (full collections then walk "
        "every object of start-up)",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows, seconds = generate()
    gc.collect()
    gc.freeze()  # millions of generated rows: a full collection would pause for about a second
    print(f"Generated {SOURCES} sources, {len(rows['policies']):,} policies, {START.date()} .. {END.date()}")
    print(f"in {seconds:.1f} s (seed {SEED}); {checks_note(rows)}")
    print(f"{os.cpu_count()} CPUs, load average {load()} (other work on the machine shows up in the p95)")
    backends: list[Backend] = []
    try:
        backends.append(sqlite_backend(rows))
        if not args.no_postgres and (postgres := postgres_backend(rows)) is not None:
            backends.append(postgres)
        inputs = Inputs.draw(rows)
        del rows  # measure in a process of ordinary size
        gc.unfreeze()
        gc.collect()
        if args.no_freeze_gc:
            print("no gc.freeze(): full collections walk every object of start-up, unlike in the watcher command")
        else:
            gc.freeze()  # as ``watcher`` does once its command is imported (watcher.cli.main)
        for backend in backends:
            measure(backend, inputs)
    finally:
        for backend in backends:
            backend.close(args.keep)
    print(f"\nTotal run time: {time.perf_counter() - started:.0f} s; load average {load()}")


if __name__ == "__main__":
    main()
