"""A scriptable HTTP/1.1 server on 127.0.0.1 (port chosen by the OS) for fetcher tests: real sockets, no mocks.

    with loopback() as server:
        server.script("/page", Reply(500), Reply(200, b"<html></html>", headers={"ETag": '"v1"'}))
        fetcher.get(server.url("/page"))
        assert server.count("/page") == 2

Each request to a scripted path takes the next step of its script; the last step repeats. Steps:
``Reply`` answers (optionally after waiting for a test's ``threading.Event``), ``Close`` closes the socket
without answering, ``Hang`` never answers until the ``with`` block ends. Unscripted paths answer 404.
Keep-alive works (HTTP/1.1 with Content-Length); ``connections`` counts accepted TCP connections and
``peak`` the most requests that were in flight at once. Nothing sleeps: waits are on events, with timeouts.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, cast
from urllib.parse import urlsplit

WAIT = 10.0
"""Longest a server thread waits for a test's event (a safety net; tests release their events)."""


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str | None = "text/html; charset=utf-8"
    length: int | Literal["auto"] | None = "auto"
    """``"auto"``: Content-Length is ``len(body)``. ``None``: no Content-Length, the connection closes after
    the body. A number: that Content-Length is declared; if it is not ``len(body)`` the connection closes
    after the body (a larger number is a truncated response)."""
    gate: threading.Event | None = None
    """If set, the answer waits for this event."""


@dataclass(frozen=True)
class Close:
    """Close the connection without answering (the client sees a reset / remote disconnect)."""


@dataclass(frozen=True)
class Hang:
    """Read the request and never answer, until the server shuts down."""


Step = Reply | Close | Hang


@dataclass(frozen=True)
class Seen:
    method: str
    target: str
    """The request target as sent: path and query."""
    headers: Mapping[str, str]
    """Lower-case names."""

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Condition()
        self.scripts: dict[str, list[Step]] = {}
        self.seen: list[Seen] = []
        self.connections = 0
        self.in_flight = 0
        self.peak = 0
        self.released = threading.Event()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.lock:
            self.connections += 1
        super().process_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up early (size caps, timeouts) are expected: keep the test output clean."""

    def next_step(self, seen: Seen) -> Step | None:
        with self.lock:
            self.seen.append(seen)
            self.lock.notify_all()
            script = self.scripts.get(seen.path)
            if not script:
                return None
            return script.pop(0) if len(script) > 1 else script[0]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        server = cast(_Server, self.server)
        headers = {name.lower(): value for name, value in self.headers.items()}
        step = server.next_step(Seen(self.command, self.path, headers))
        if isinstance(step, Close):
            self.close_connection = True
        elif isinstance(step, Hang):
            server.released.wait(WAIT)
            self.close_connection = True
        else:
            with server.lock:
                server.in_flight += 1
                server.peak = max(server.peak, server.in_flight)
                server.lock.notify_all()
            try:
                self._reply(step or Reply(404, b"not found", content_type="text/plain"))
            finally:
                with server.lock:
                    server.in_flight -= 1

    def _reply(self, reply: Reply) -> None:
        if reply.gate is not None:
            reply.gate.wait(WAIT)
        self.log_request(reply.status)
        self.send_response_only(reply.status)
        if not any(name.lower() == "date" for name in reply.headers):
            self.send_header("Date", self.date_time_string())
        if reply.content_type is not None:
            self.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        length = len(reply.body) if reply.length == "auto" else reply.length
        if length is None:
            self.send_header("Connection", "close")
        elif reply.status != 304 or reply.body:
            self.send_header("Content-Length", str(length))
        if length != len(reply.body):
            self.close_connection = True
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output clean."""


@dataclass(frozen=True)
class Loopback:
    _server: _Server
    base: str
    """``http://127.0.0.1:<port>``, without a trailing slash."""

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}"

    def script(self, path: str, *steps: Step) -> None:
        """Answer requests to ``path`` with ``steps`` in order; the last one repeats."""
        with self._server.lock:
            self._server.scripts[path] = list(steps)

    @property
    def requests(self) -> list[Seen]:
        with self._server.lock:
            return list(self._server.seen)

    def count(self, path: str) -> int:
        return sum(1 for seen in self.requests if seen.path == path)

    @property
    def connections(self) -> int:
        with self._server.lock:
            return self._server.connections

    @property
    def peak(self) -> int:
        with self._server.lock:
            return self._server.peak

    def wait_seen(self, n: int, timeout: float = WAIT) -> bool:
        """Block until at least ``n`` requests have arrived (True), or ``timeout`` passes."""
        with self._server.lock:
            return self._server.lock.wait_for(lambda: len(self._server.seen) >= n, timeout)

    def wait_in_flight(self, n: int, timeout: float = WAIT) -> bool:
        """Block until at least ``n`` requests are being answered at once (True), or ``timeout`` passes."""
        with self._server.lock:
            return self._server.lock.wait_for(lambda: self._server.in_flight >= n, timeout)


def free_port() -> int:
    """A port nothing listens on (connections are refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def loopback(tls: ssl.SSLContext | None = None) -> Iterator[Loopback]:
    """Serve scripts on 127.0.0.1 (over TLS with ``tls``) until the block ends; hanging requests are released."""
    server = _Server()
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), name="loopback-script", daemon=True)
    thread.start()
    try:
        yield Loopback(server, f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}")
    finally:
        server.released.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=WAIT)
