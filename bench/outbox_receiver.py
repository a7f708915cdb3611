"""The outbox bench's receiver: a child process answering 200 to every POST, counting requests and keys."""

from __future__ import annotations

import json
import multiprocessing
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.queues import Queue
from typing import Any, cast

import requests

from bench.outbox_rows import CHANNEL
from watcher.notify import webhook


class _CountingServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _CountingHandler)
        self.lock = threading.Lock()
        self.requests = 0
        self.keys: set[str] = set()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients closing their connection are expected: keep the output clean."""


class _CountingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        server = cast(_CountingServer, self.server)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/reset":
            with server.lock:
                server.requests, server.keys = 0, set()
        else:
            with server.lock:
                server.requests += 1
                server.keys.add(self.headers.get(webhook.DELIVERY_HEADER) or "")
        self._answer(b"ok")

    def do_GET(self) -> None:
        server = cast(_CountingServer, self.server)
        with server.lock:
            counts = {"requests": server.requests, "keys": len(server.keys)}
        self._answer(json.dumps(counts).encode())

    def _answer(self, body: bytes) -> None:
        self.send_response_only(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


def _serve(ports: Queue[int]) -> None:
    server = _CountingServer()
    ports.put(server.server_address[1])
    server.serve_forever(poll_interval=0.1)


@dataclass(frozen=True)
class Receiver:
    base: str

    @property
    def hook(self) -> str:
        return f"{self.base}/hook/{CHANNEL}"

    def counts(self) -> tuple[int, int]:
        """Requests received and distinct delivery keys among them."""
        data = requests.get(f"{self.base}/count", timeout=10).json()
        return int(data["requests"]), int(data["keys"])

    def reset(self) -> None:
        requests.post(f"{self.base}/reset", timeout=10)


@contextmanager
def receiver() -> Iterator[Receiver]:
    context = multiprocessing.get_context("spawn")
    ports: Queue[int] = context.Queue()
    process = context.Process(target=_serve, args=(ports,), name="outbox-bench-receiver", daemon=True)
    process.start()
    try:
        yield Receiver(f"http://127.0.0.1:{ports.get(timeout=30)}")
    finally:
        process.terminate()
        process.join(timeout=10)
