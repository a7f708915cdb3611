"""``watcher run`` as a real process: SIGTERM finishes the check in flight; replicas share one database.

Each process's log is read line by line from a thread into a queue, so the tests wait on what the
service says it did, never on the clock.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import REKOGNITION
from tests.history_helpers import count
from tests.loopback import Loopback, Reply, loopback
from watcher.db.models import Check, Event, Snapshot

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 60.0


class Running:
    """A ``watcher run`` subprocess whose stderr lines arrive in a queue."""

    def __init__(self, config: Path, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "watcher", "run", "--config", str(config), *args],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"},
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, text: str) -> str:
        """The first line said so far containing ``text``, or the next one; fails after TIMEOUT seconds."""
        for line in self.seen:
            if text in line:
                return line
        while True:
            try:
                line = self.lines.get(timeout=TIMEOUT)
            except queue.Empty:
                pytest.fail(f"the service never said {text!r}; it said: {self.seen[-20:]}")
            self.seen.append(line)
            if text in line:
                return line

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=TIMEOUT)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _config(tmp_path: Path, db_url: str, server: Loopback, names: list[str]) -> Path:
    sources = "\n".join(
        f'[[sources]]\nname = "{n}"\nurl = "{server.url("/" + n + ".html")}"\nkind = "page"\n' for n in names
    )
    text = f"""
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
{sources}
"""
    path = tmp_path / "watcher.toml"
    path.write_text(text)
    return path


@pytest.fixture
def server() -> Iterator[Loopback]:
    with loopback() as s:
        yield s


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_finishes_the_check_in_flight_and_exits_0(
    stop: signal.Signals, tmp_path: Path, db_url: str, sessions: sessionmaker[Session], server: Loopback
) -> None:
    gate = threading.Event()
    server.script("/rekognition.html", Reply(200, (REKOGNITION / "page-v1.html").read_bytes(), gate=gate))
    service = Running(_config(tmp_path, db_url, server, ["rekognition"]))
    try:
        service.wait_for("watching 1 sources")
        assert server.wait_in_flight(1)  # the check is in flight, its answer held back
        service.process.send_signal(stop)
        service.wait_for("stopping")
        service.seen.clear()
        gate.set()
        assert service.process.wait(timeout=TIMEOUT) == 0
    finally:
        gate.set()
        service.kill()
    assert "outcome=baseline" in " ".join(service.seen) or count(sessions, Snapshot) == 1
    assert (count(sessions, Snapshot), count(sessions, Check), count(sessions, Event)) == (1, 1, 1)


def test_json_logs_are_one_object_a_line_and_a_check_names_source_outcome_status_ms_and_bytes(
    tmp_path: Path, db_url: str, server: Loopback
) -> None:
    body = (REKOGNITION / "page-v1.html").read_bytes()
    server.script("/rekognition.html", Reply(200, body))
    secret = "not-this-s3cret"  # a database password (PostgreSQL trusts this client and ignores it)
    url = db_url.replace("postgres@", f"postgres:{secret}@", 1)
    service = Running(_config(tmp_path, url, server, ["rekognition"]), "--log-format", "json")
    try:
        service.wait_for('"outcome": "baseline"')
        assert service.stop() == 0
        service.wait_for('"message": "stopped"')
    finally:
        service.kill()
    records = [json.loads(line) for line in service.seen]
    check = next(r for r in records if r["message"].startswith("check "))
    assert {k: check[k] for k in ("level", "logger", "source", "outcome", "status", "bytes")} == {
        "level": "info", "logger": "watcher", "source": "rekognition", "outcome": "baseline", "status": 200,
        "bytes": len(body),
    }  # fmt: skip
    assert isinstance(check["ms"], int) and check["ms"] >= 0
    assert [r["message"] for r in records][-2:] == ["stopping: finishing the checks in flight", "stopped"]
    assert not any(secret in line for line in service.seen)


def test_a_status_port_in_use_exits_2_saying_which_setting_to_change(
    tmp_path: Path, db_url: str, server: Loopback
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = _config(tmp_path, db_url, server, ["rekognition"])
        config.write_text(config.read_text().replace("listen_port = 0", f"listen_port = {port}"))
        command = [sys.executable, "-m", "watcher", "run", "--config", str(config)]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT)
    assert (done.returncode, done.stderr) == (
        2,
        f"error: cannot serve /healthz and /metrics on 127.0.0.1:{port} (Address already in use); set "
        "service.listen_port (WATCHER_LISTEN_PORT) to a free port, or 0 to take any\n",
    )
    assert server.count("/rekognition.html") == 0


def test_sigterm_during_a_retry_backoff_exits_at_once_without_counting_a_failure(
    tmp_path: Path, db_url: str, sessions: sessionmaker[Session], server: Loopback
) -> None:
    server.script("/rekognition.html", Reply(503))
    config = _config(tmp_path, db_url, server, ["rekognition"])
    config.write_text(config.read_text().replace("retries = 0", "retries = 5\nbackoff = 600\nbackoff_max = 600"))
    service = Running(config)
    try:
        service.wait_for("watching 1 sources")
        assert server.wait_seen(1)  # the first answer was a 503: the check now waits ten minutes to retry
        assert service.stop() == 0
    finally:
        service.kill()
    assert "outcome=skipped" in service.wait_for("source=rekognition")
    assert (count(sessions, Check), server.count("/rekognition.html")) == (0, 1)


def test_two_replicas_on_one_database_check_each_source_once(
    tmp_path: Path, pg_url: str, db_url: str, sessions: sessionmaker[Session], server: Loopback
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("replicas share a PostgreSQL database")
    names = ["rekognition", "s3", "lambda"]
    # The pages answer once both replicas run: a replica that started after a source's check planned it an
    # interval later (correctly), and would never say it checked it.
    both_up = threading.Event()
    for name in names:
        server.script(f"/{name}.html", Reply(200, (REKOGNITION / "page-v1.html").read_bytes(), gate=both_up))
    config = _config(tmp_path, db_url, server, names)
    replicas = [Running(config), Running(config)]
    try:
        for replica in replicas:
            replica.wait_for(f"watching {len(names)} sources")
        both_up.set()
        for replica in replicas:
            for name in names:
                replica.wait_for(f"check source={name} ")
        assert [replica.stop() for replica in replicas] == [0, 0]
    finally:
        both_up.set()
        for replica in replicas:
            replica.kill()
    assert [server.count(f"/{n}.html") for n in names] == [1, 1, 1]
    assert (count(sessions, Snapshot), count(sessions, Event), count(sessions, Check)) == (3, 3, 3)
