"""Two ``watcher run`` replicas on one PostgreSQL database send every outbox row exactly once.

The replicas are real subprocesses followed through what they print; the docs are a loopback server that
answers once both are up, the receiver a loopback webhook receiver (tests/receivers.py). Nothing sleeps.
"""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import REKOGNITION
from tests.delivery_helpers import ROOT, SECRET, TIMEOUT, _child_env, _event_ids, _rows
from tests.loopback import Reply, loopback
from tests.receivers import HOOK, webhook_receiver
from watcher.db.models import DeliveryEvent

# --- (3) two `watcher run` replicas on one PostgreSQL database ----------------------------------------------------


class Replicas:
    """``watcher run`` subprocesses whose stderr lines arrive in one queue, each tagged with its replica."""

    def __init__(self, count: int, config: Path, env: dict[str, str]) -> None:
        self.lines: queue.Queue[tuple[int, str | None]] = queue.Queue()
        self.seen: list[list[str]] = [[] for _ in range(count)]
        self.processes = [
            subprocess.Popen(
                [sys.executable, "-m", "watcher", "run", "--config", str(config)],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(count)
        ]
        for index, process in enumerate(self.processes):
            threading.Thread(target=self._read, args=(index, process), daemon=True).start()

    def _read(self, index: int, process: subprocess.Popen[str]) -> None:
        assert process.stderr is not None
        with process.stderr:
            for line in process.stderr:
                self.lines.put((index, line.rstrip("\n")))
        self.lines.put((index, None))

    def wait_until(self, done: Callable[[], bool], what: str) -> None:
        """Read lines until ``done()``; fails if a replica exits first or nothing is said for TIMEOUT seconds."""
        while not done():
            try:
                index, line = self.lines.get(timeout=TIMEOUT)
            except queue.Empty:
                pytest.fail(f"never saw {what}; the replicas said: {[s[-20:] for s in self.seen]}")
            if line is None:
                pytest.fail(f"replica {index} exited before {what}: {self.seen[index][-20:]}")
            self.seen[index].append(line)

    def matches(self, pattern: str) -> list[tuple[int, re.Match[str]]]:
        return [(i, m) for i, lines in enumerate(self.seen) for line in lines if (m := re.search(pattern, line))]

    def stop(self) -> list[int]:
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        return [process.wait(timeout=TIMEOUT) for process in self.processes]

    def kill(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()


FILES = ["page-v1.html", "page-v2.html", "page-v3.html", "page-v4.html", "doc-history-v1.rss", "doc-history-v2.rss"]


def _replica_config(tmp_path: Path, db_url: str, base: str) -> Path:
    sources = "".join(
        f'[[sources]]\nname = "{Path(f).stem}"\nurl = "{base}/rekognition/{f}"\n'
        f'kind = "{"feed" if f.endswith(".rss") else "page"}"\nservice = "Amazon Rekognition"\n\n'
        for f in FILES
    )
    path = tmp_path / "watcher.toml"
    path.write_text(
        f"""
[database]
url = "{db_url}"
[http]
retries = 0
per_host_min_interval = 0
[defaults]
interval = "1h"
jitter = 0
[service]
listen_port = 0
deliver_every = 1

{sources}
[[channels]]
type = "webhook"
name = "hook"
url_env = "RELIABILITY_HOOK_URL"
secret_env = "RELIABILITY_HOOK_SECRET"
"""
    )
    return path


def test_two_replicas_on_one_postgresql_database_deliver_every_row_exactly_once(
    tmp_path: Path, pg_url: str, db_url: str, sessions: sessionmaker[Session]
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("replicas share a PostgreSQL database")
    names = [Path(f).stem for f in FILES]
    both_up = threading.Event()  # the docs answer once both replicas run: they race for every lease and row
    with loopback() as docs, webhook_receiver(SECRET) as hook:
        for f in FILES:
            docs.script(f"/rekognition/{f}", Reply(200, (REKOGNITION / f).read_bytes(), gate=both_up))
        env = _child_env(RELIABILITY_HOOK_URL=hook.url(HOOK), RELIABILITY_HOOK_SECRET=SECRET)
        replicas = Replicas(2, _replica_config(tmp_path, db_url, docs.base), env)
        try:

            def said(pattern: str, index: int | None = None) -> list[str]:
                return [m[1] for i, m in replicas.matches(pattern) if index is None or i == index]

            def sent() -> set[str]:
                return set(said(r"delivery (\d+) channel=hook status=sent "))

            replicas.wait_until(lambda: all(said(r"(watching \d+ sources)", i) for i in (0, 1)), "both replicas up")
            both_up.set()
            replicas.wait_until(lambda: set(said(r"check source=(\S+) outcome=baseline ")) == set(names), "checks")
            replicas.wait_until(lambda: len(sent()) == len(names), f"{len(names)} deliveries sent")
            assert replicas.stop() == [0, 0]
        finally:
            both_up.set()
            replicas.kill()
        posts = hook.posts

    lines = replicas.matches(r"delivery (\d+) channel=(\S+) status=(\S+)")
    assert sorted(m[1] for _, m in lines) == sorted(sent())  # each row logged once, by one replica
    assert {(m[2], m[3]) for _, m in lines} == {("hook", "sent")}
    outcomes = Counter(said(r"check source=\S+ outcome=(\w+)"))
    assert outcomes["baseline"] == len(names) and set(outcomes) <= {"baseline", "skipped"}  # each checked once
    rows = _rows(sessions)
    keys = Counter(p.key for p in posts)
    assert [p.status for p in posts] == [200] * len(names)
    assert set(keys.values()) == {1}  # no key twice at the receiver
    assert set(keys) == {r.digest_key for r in rows if r.status == "sent"}
    assert len(rows) == len(names)  # one per check digest per channel: each source's baseline, to "hook"
    assert [(r.channel, r.status, r.attempts) for r in rows] == [("hook", "sent", 1)] * len(names)
    with sessions() as session:
        carried = list(session.scalars(select(DeliveryEvent.event_id).order_by(DeliveryEvent.event_id)))
    assert carried == _event_ids(sessions)
    assert sorted(i for p in posts for i in p.event_ids) == carried
