"""Run by test_crash_safety in a subprocess: ingest one file, then stop dead just before the commit.

Usage: python -m tests.crash_child DATABASE_URL SOURCE FILE. It prints READY once every row of the
check has been written inside the open transaction, then waits on stdin until it is killed.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import watcher.pipeline
from watcher.db.engine import make_engine, session_factory
from watcher.pipeline import ingest

_original = watcher.pipeline.add_check  # type: ignore[attr-defined]


def _add_check_then_hang(session: Any, *args: Any) -> None:
    _original(session, *args)
    session.flush()
    print("READY", flush=True)
    sys.stdin.readline()  # the parent kills us here, mid-transaction


def main() -> None:
    url, source, path = sys.argv[1:4]
    setattr(watcher.pipeline, "add_check", _add_check_then_hang)  # noqa: B010
    sessions = session_factory(make_engine(url))
    now = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)
    ingest(sessions, source, Path(path).read_bytes(), url=f"https://docs.example.test/{Path(path).name}", now=now)


if __name__ == "__main__":
    main()
