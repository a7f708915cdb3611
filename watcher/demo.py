"""``make demo``: replay the Rekognition fixture history through a loopback docs server and watch it.

A server on 127.0.0.1 serves page v1, v2, v3 and v4 in turn (one new version per check, with ETags and
304s) and the document-history feed (v2 once the page reached v2); the real service checks it every
two seconds, and a third source on a closed port shows how failures are reported. It stops by itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tempfile
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from rich.console import Console

from watcher import queries
from watcher.checker import Checker
from watcher.config import Defaults, Settings, SourceSettings
from watcher.db.engine import make_engine, session_factory
from watcher.db.migrate import upgrade
from watcher.fetch import Fetcher
from watcher.notify.channels import build_all
from watcher.notify.settings import Secrets
from watcher.observe import Metrics, configure_logging
from watcher.outbox import Deliverer
from watcher.output import to_table
from watcher.service import Service

PAGE = "/rekognition/latest/dg/security-iam-awsmanpol.html"
FEED = "/rekognition/latest/dg/rekognition-document-history.rss"


@dataclass
class Replay:
    """The fixture versions and how far the replay has got."""

    pages: list[bytes]
    feeds: list[bytes]
    index: int = -1
    done: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def page(self, etag: str | None) -> tuple[int, bytes, str]:
        with self.lock:
            current = self.pages[self.index] if self.index >= 0 else b""
            if etag == _etag(current) and self.index == len(self.pages) - 1:
                self.done.set()  # the last version was seen and confirmed with a 304
                return 304, b"", etag
            self.index = min(self.index + 1, len(self.pages) - 1)
            body = self.pages[self.index]
            return 200, body, _etag(body)

    def feed(self) -> bytes:
        with self.lock:
            return self.feeds[1 if self.index >= 1 else 0]


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:16] + '"'


def serve(replay: Replay) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == PAGE:
                status, body, etag = replay.page(self.headers.get("If-None-Match"))
                self._send(status, body, "text/html; charset=utf-8", etag)
            elif self.path == FEED:
                body = replay.feed()
                self._send(200, body, "application/rss+xml", _etag(body))
            else:
                self._send(404, b"not found", "text/plain", None)

        def _send(self, status: int, body: bytes, content_type: str, etag: str | None) -> None:
            self.send_response(status)
            if etag:
                self.send_header("ETag", etag)
            if status != 304:
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 304:
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def demo_settings(base: str, database_url: str, interval: int = 2) -> Settings:
    """Checks every ``interval`` seconds (below the minimum a real config may set), no jitter."""
    sources = [
        SourceSettings(name="rekognition-policies", url=base + PAGE, kind="page", service="Amazon Rekognition"),
        SourceSettings(name="rekognition-history", url=base + FEED, kind="feed", service="Amazon Rekognition"),
        SourceSettings(name="offline-example", url="http://127.0.0.1:9/policies.html", kind="page"),
    ]
    http = {"retries": 0, "per_host_min_interval": 0}
    console = {"type": "console", "name": "console", "operator": True}
    service = {"deliver_every": 1}
    settings = Settings.model_validate(
        {"database": {"url": database_url}, "http": http, "service": service, "sources": [], "channels": [console]}
    )
    defaults = Defaults.model_construct(interval=interval, jitter=0, failure_threshold=3, misfire_grace=30)
    return settings.model_copy(update={"sources": sources, "defaults": defaults})


def main(fixtures: Path = Path("tests/fixtures/rekognition"), timeout: float = 60.0, interval: int = 2) -> int:
    console = Console(width=max(Console().width, 150))
    configure_logging("text")
    replay = Replay(
        pages=[(fixtures / f"page-v{i}.html").read_bytes() for i in range(1, 5)],
        feeds=[(fixtures / f"doc-history-v{i}.rss").read_bytes() for i in (1, 2)],
    )
    server = serve(replay)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    with tempfile.TemporaryDirectory() as tmp:
        settings = demo_settings(base, f"sqlite:///{tmp}/demo.db", interval)
        engine = make_engine(settings.database.url)
        upgrade(engine)
        sessions = session_factory(engine)
        fetcher = Fetcher(settings.http)
        console.rule(f"Policy Watcher demo: replaying page v1 → v4 and its feed from {base}")
        checker = Checker(settings, sessions, fetcher)
        senders = build_all(settings.channels, Secrets({}))
        deliverer = Deliverer(sessions, senders, owner=checker.owner, clock=checker.clock)
        console.rule("Console notifications, as Slack, email and webhooks would get them")
        service = Service(settings, sessions, checker, Metrics(), BackgroundScheduler(), deliverer=deliverer)
        service.install_jobs(dt.datetime.now(dt.UTC))
        service.scheduler.start()
        finished = replay.done.wait(timeout)
        service.scheduler.shutdown(wait=True)
        service.deliver()  # what the last checks found
        fetcher.close()
        server.shutdown()
        with sessions() as session:
            rows = queries.changes(session)
        columns = ("detected_at", "kind", "severity", "source", "policy", "actions")
        console.print(to_table(rows, columns, "What the watcher recorded (watcher changes --format table)"))
        engine.dispose()
    console.print("replay complete" if finished else f"replay did not finish within {timeout:.0f} s")
    return 0 if finished else 1


if __name__ == "__main__":
    raise SystemExit(main())
