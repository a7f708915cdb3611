"""A real HTTP server on 127.0.0.1 (port chosen by the OS) for tests that fetch URLs: no mocks, no internet.

``serve({"/rekognition/": REKOGNITION})`` serves the files of a folder under a URL prefix; any other
path answers 404. The server runs in a background thread and is shut down when the ``with`` block ends.
The socket listens as soon as the server is constructed, so a test can connect at once (no sleep).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

_TYPES = {".html": "text/html; charset=utf-8", ".rss": "application/rss+xml", ".md": "text/markdown"}


@dataclass(frozen=True)
class Served:
    base: str
    """``http://127.0.0.1:<port>``, without a trailing slash."""

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}"


def _handler(routes: Mapping[str, Path]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = unquote(urlsplit(self.path).path)
            for prefix, folder in routes.items():
                if not path.startswith(prefix):
                    continue
                file = (folder / path[len(prefix) :]).resolve()
                if file.is_file() and file.is_relative_to(folder.resolve()):
                    body = file.read_bytes()
                    self.send_response(200)
                    self.send_header("Content-Type", _TYPES.get(file.suffix, "application/octet-stream"))
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
            self.send_error(404, "Not Found")

        def log_message(self, format: str, *args: object) -> None:
            """Keep the test output clean."""

    return Handler


@contextmanager
def serve(routes: Mapping[str, Path]) -> Iterator[Served]:
    """Serve ``routes`` (URL prefix -> folder) on 127.0.0.1 until the block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(dict(routes)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="loopback-http", daemon=True)
    thread.start()
    try:
        yield Served(f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
