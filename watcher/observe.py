"""What the running service shows: Prometheus metrics, ``/healthz`` and ``/metrics`` on a small port, log lines."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, generate_latest

log = logging.getLogger("watcher")


class Metrics:
    """The service's metrics, in a registry of their own (no global state)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.checks = Counter(
            "watcher_checks", "Checks by source and outcome.", ["source", "outcome"], registry=self.registry
        )
        self.last_success = Gauge(
            "watcher_last_success_timestamp_seconds", "Last successful check per source.", ["source"],
            registry=self.registry,
        )  # fmt: skip
        self.failures = Gauge(
            "watcher_consecutive_failures", "Failed checks in a row per source.", ["source"], registry=self.registry
        )
        self.events = Counter("watcher_events", "Events written by kind.", ["kind"], registry=self.registry)
        self.deliveries = Counter(
            "watcher_deliveries", "Delivery attempts by channel and resulting status.", ["channel", "status"],
            registry=self.registry,
        )  # fmt: skip
        self.outbox = Gauge("watcher_outbox_rows", "Outbox rows by status.", ["status"], registry=self.registry)
        self.parse_warnings = Counter(
            "watcher_parse_warnings",
            "Parser warnings about newly recorded bodies (repaired or unreadable JSON, no updates table...), by source "
            "and warning code.",
            ["source", "code"],
            registry=self.registry,
        )

    def record(
        self, source: str, outcome: str, events: list[str], now: dt.datetime, warnings: Iterable[str] = ()
    ) -> None:
        self.checks.labels(source, outcome).inc()
        for code in warnings:
            self.parse_warnings.labels(source, code).inc()
        if outcome == "error":
            self.failures.labels(source).inc()
        elif outcome != "skipped":
            self.failures.labels(source).set(0)
            self.last_success.labels(source).set(now.timestamp())
        for kind in events:
            self.events.labels(kind).inc()


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for containers."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update(getattr(record, "fields", {}))
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def configure_logging(fmt: str, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter() if fmt == "json" else logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("apscheduler", "urllib3", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def log_check(source: str, outcome: str, status: int | None, ms: int, size: int, error: str | None) -> None:
    """One line per check: source, outcome, status, ms, bytes (and the error, never a secret)."""
    fields = {"source": source, "outcome": outcome, "status": status, "ms": ms, "bytes": size}
    if error:
        fields["error"] = error
    text = " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
    log.log(logging.WARNING if outcome == "error" else logging.INFO, "check %s", text, extra={"fields": fields})


class StatusServer:
    """``/healthz`` (200 while ``healthy()`` is true, else 503) and ``/metrics``, in a daemon thread."""

    def __init__(self, host: str, port: int, metrics: Metrics, healthy: Callable[[], tuple[bool, str]]) -> None:
        metrics_ref, healthy_ref = metrics, healthy

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/healthz":
                    ok, why = healthy_ref()
                    self._send(200 if ok else 503, "text/plain; charset=utf-8", (why + "\n").encode())
                elif self.path == "/metrics":
                    self._send(200, CONTENT_TYPE_LATEST, generate_latest(metrics_ref.registry))
                else:
                    self._send(404, "text/plain; charset=utf-8", b"not found\n")

            def _send(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="status-server", daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
