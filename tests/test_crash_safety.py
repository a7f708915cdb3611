"""A process killed (SIGKILL) in the middle of ingesting leaves nothing half-written behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import REKOGNITION
from tests.history_helpers import count, ingest_fixture
from watcher.db.models import Check, Event, Snapshot

ROOT = Path(__file__).resolve().parent.parent


def test_a_killed_ingest_is_redone_exactly_once(db_url: str, sessions: sessionmaker[Session]) -> None:
    ingest_fixture(sessions, "rekognition", "page-v1.html")
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.crash_child", db_url, "rekognition", str(REKOGNITION / "page-v2.html")],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "READY"  # everything written, nothing committed
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
    assert (count(sessions, Snapshot), count(sessions, Event), count(sessions, Check)) == (1, 1, 1)

    redo = ingest_fixture(sessions, "rekognition", "page-v2.html", hours=1)
    assert redo.events == ["actions_added", "update_row_added"]
    again = ingest_fixture(sessions, "rekognition", "page-v2.html", hours=2)
    assert again.events == []
    assert (count(sessions, Snapshot), count(sessions, Event)) == (2, 3)
