"""The poll benchmark's docs site: 200 generated policy pages behind a loopback server with validators.

Each page is ``page-v3.html`` renamed to its own service, with 2-9 policy sections (the fixture's five,
renamed copies when more are needed) and its chrome (an inline script, a navigation list and footer links,
all outside ``#main-col-body``) padded so that sizes spread over 40-170 KB. Everything is seeded.

The server answers ``ETag``/``Last-Modified`` and ``If-None-Match`` (which wins when sent) or
``If-Modified-Since`` with a 304, over HTTP/1.1 keep-alive. Two control paths change what it serves:
``/_control/reset`` (every page at its first version) and ``/_control/change?round=N`` (a new version of
10 pages: one action added to one policy, new ETag, Last-Modified now).

Run as ``python -m bench.poll_pages`` it serves until stdin closes and prints one JSON line first:
``{"port": ..., "sizes": [...], "policies": [...]}``.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import random
import re
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

TEMPLATE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "rekognition" / "page-v3.html"
PAGES = 200
CHANGED = 10
MIN_BYTES, MAX_BYTES = 40 * 1024, 170 * 1024
FIRST_MODIFIED = email.utils.formatdate(1_700_000_000, usegmt=True)
WORDS = (
    "access analyzer bucket cluster console domain endpoint function gateway identity instance key layer "
    "model notebook pipeline queue replica role secret snapshot stream table topic volume workflow"
).split()


@dataclass
class Page:
    path: str
    body: bytes
    policies: int
    etag: str = ""
    modified: str = FIRST_MODIFIED


def page_path(index: int) -> str:
    return f"/svc{index:03d}/latest/dg/security-iam-awsmanpol.html"


def _split(html: str) -> tuple[str, list[str], str]:
    """The template before the first policy section, the policy sections, and the rest (updates table on)."""
    start = html.index('<h2 id="security-iam-awsmanpol-AmazonRekognitionFullAccess">')
    end = html.index('<h2 id="security-iam-awsmanpol-updates">')
    sections = [s for s in re.split(r'(?=<h2 id=")', html[start:end]) if s]
    return html[:start], sections, html[end:]


def _copy(section: str, n: int) -> str:
    """The n-th renamed copy of a policy section (n = 0 is the section itself)."""
    if n == 0:
        return section
    section = re.sub(r"(AmazonRekognition\w+)", rf"\g<1>Copy{n}", section)
    return re.sub(r'id="(security-iam-awsmanpol-[\w-]+)"', rf'id="\g<1>-copy{n}"', section)


def _chrome(rng: random.Random, index: int, size: int) -> tuple[str, str, str]:
    """Padding of about ``size`` bytes: an inline script (head), a navigation list and footer links."""

    def words(n: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(n))

    script, nav, footer = ["<script>"], ['<nav class="bench-toc"><ul>'], ['<div class="bench-footer">']
    parts = [(script, 0.3), (nav, 0.5), (footer, 0.2)]
    for lines, share in parts:
        filled, n = 0, 0
        while filled < size * share:
            n += 1
            if lines is script:
                line = f'window.__awsdocs_{n} = {{"id": "{rng.getrandbits(64):016x}", "label": "{words(6)}"}};'
            elif lines is nav:
                line = f'<li><a href="/svc{index:03d}/latest/dg/{words(1)}-{n}.html">{words(4).title()}</a></li>'
            else:
                line = f'<a class="footer-link" href="https://aws.amazon.com/{words(1)}/{n}/">{words(3)}</a>'
            lines.append(line)
            filled += len(line) + 1
    return "\n".join([*script, "</script>"]), "\n".join([*nav, "</ul></nav>"]), "\n".join([*footer, "</div>"])


def make_page(index: int, template: str) -> Page:
    rng = random.Random(f"poll-bench-page-{index}")
    head, sections, tail = _split(template)
    count = rng.randint(2, 9)
    picks = rng.sample(range(len(sections)), min(count, len(sections)))
    picks += rng.choices(range(len(sections)), k=count - len(picks))
    copies: dict[int, int] = {}
    body: list[str] = []
    for pick in picks:
        body.append(_copy(sections[pick], copies.get(pick, 0)))
        copies[pick] = copies.get(pick, 0) + 1
    html = (head + "".join(body) + tail).replace("Rekognition", f"Svc{index:03d}")
    html = html.replace("rekognition", f"svc{index:03d}")
    script, nav, footer = _chrome(rng, index, rng.randint(MIN_BYTES, MAX_BYTES) - len(html))
    html = html.replace("</head>", script + "</head>", 1)
    html = html.replace('<div id="main-column"', nav + '<div id="main-column"', 1)
    html = html.replace('<div id="tools-panel"', footer + '<div id="tools-panel"', 1)
    return Page(page_path(index), html.encode(), count)


def changed(page: Page, index: int, round_: int) -> bytes:
    """The page with one action added to its first policy."""
    html = page.body.decode()
    at = html.index('"Action": [', html.index('<h2 id="security-iam-awsmanpol-')) + len('"Action": [')
    return (html[:at] + f'\n                "svc{index:03d}:BenchAddedAction{round_}",' + html[at:]).encode()


def changed_indexes(round_: int) -> list[int]:
    return sorted(random.Random(f"poll-bench-change-{round_}").sample(range(PAGES), CHANGED))


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


class Site:
    """What the server serves; thread-safe."""

    def __init__(self, pages: list[Page]) -> None:
        self.first = pages
        self.lock = threading.Lock()
        self.current: dict[str, Page] = {}
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.current = {p.path: Page(p.path, p.body, p.policies, _etag(p.body)) for p in self.first}

    def change(self, round_: int) -> None:
        now = email.utils.formatdate(time.time(), usegmt=True)
        with self.lock:
            for index in changed_indexes(round_):
                first = self.first[index]
                body = changed(first, index, round_)
                self.current[first.path] = Page(first.path, body, first.policies, _etag(body), now)

    def get(self, path: str) -> Page | None:
        with self.lock:
            return self.current.get(path)


def not_modified(page: Page, if_none_match: str | None, if_modified_since: str | None) -> bool:
    """RFC 9110: If-None-Match decides when sent; else If-Modified-Since against Last-Modified."""
    if if_none_match is not None:
        tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
        return "*" in tags or page.etag in tags
    if if_modified_since:
        try:
            since = email.utils.parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        return email.utils.parsedate_to_datetime(page.modified) <= since
    return False


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # clients that connect for every request (urlwatch, 10 threads) must not overflow 5
    daemon_threads = True


def serve(site: Site, port: int = 0) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive for clients that reuse connections
        disable_nagle_algorithm = True  # else a keep-alive client waits for delayed ACKs between header and body

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path.startswith("/_control/"):
                if url.path == "/_control/reset":
                    site.reset()
                else:
                    site.change(int(parse_qs(url.query)["round"][0]))
                return self._send(200, b"ok\n", None)
            page = site.get(url.path)
            if page is None:
                return self._send(404, b"not found\n", None)
            if not_modified(page, self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")):
                return self._send(304, b"", page)
            return self._send(200, page.body, page)

        def _send(self, status: int, body: bytes, page: Page | None) -> None:
            self.send_response(status)
            if page is not None:
                self.send_header("ETag", page.etag)
                self.send_header("Last-Modified", page.modified)
            if status != 304:
                self.send_header("Content-Type", "text/html; charset=utf-8" if page else "text/plain")
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = _Server(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    template = TEMPLATE.read_text()
    pages = [make_page(i, template) for i in range(PAGES)]
    server = serve(Site(pages))
    info = {"port": server.server_address[1], "sizes": [len(p.body) for p in pages]}
    print(json.dumps({**info, "policies": [p.policies for p in pages]}), flush=True)
    sys.stdin.read()  # serve until the benchmark closes our stdin (or dies)
    server.shutdown()


if __name__ == "__main__":
    main()
