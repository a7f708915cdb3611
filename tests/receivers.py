"""A webhook receiver that keeps what it accepted, for delivery tests: real sockets, no mocks, no sleeping.

``webhook_receiver(SECRET)`` is tests/loopback.py's scriptable server answering POST: each POST takes the next
step of its path's script (``Reply`` or ``Close``; the last step repeats; an unscripted path answers 404) after
the signature was checked with ``webhook.verify`` as a real receiver would (a bad one answers 401). Every POST
is kept in ``posts`` with what it was answered; one answered 2xx is *accepted*, and recorded before the answer
goes out (a receiver stores, then acknowledges), so a client that got its 2xx always finds it in ``accepted``.
``deduplicated`` is what a receiver keeps that honours ``X-Watcher-Delivery``: the first body per key.

The Slack stand-in (``slack_stand_in``) and the SMTP server (``Inbox``, ``smtp_server``) live with their
channel tests, tests/test_notify_slack.py and tests/test_notify_email.py.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

from tests.loopback import WAIT, Close, Loopback, Reply, Seen, _Handler, _Server
from watcher.notify import webhook

HOOK = "/hooks/policy-watcher"


@dataclass(frozen=True)
class Post:
    """One POST as the receiver saw it, and what it answered (``None``: the connection was closed)."""

    key: str | None
    """The ``X-Watcher-Delivery`` header."""
    body: bytes
    status: int | None

    @property
    def accepted(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def json(self) -> dict[str, Any]:
        data = json.loads(self.body)
        assert isinstance(data, dict)
        return data

    @property
    def event_ids(self) -> list[int]:
        return [int(e["id"]) for e in self.json["events"]]


class _HookServer(_Server):
    def __init__(self, secret: str) -> None:
        super().__init__()
        self.RequestHandlerClass = _HookHandler
        self.secret = secret
        self.posts: list[Post] = []


class _HookHandler(_Handler):
    def do_POST(self) -> None:
        server = cast(_HookServer, self.server)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        step = server.next_step(Seen(self.command, self.path, headers))
        key = headers.get(webhook.DELIVERY_HEADER.lower())
        if not webhook.verify(body, headers.get(webhook.SIGNATURE_HEADER.lower(), ""), server.secret):
            step = Reply(401, b"bad signature", content_type="text/plain")
        if isinstance(step, Close):
            with server.lock:
                server.posts.append(Post(key, body, None))
            self.close_connection = True
            return
        assert not isinstance(step, Reply) or step.gate is None, "gated answers are not supported here"
        reply = step if isinstance(step, Reply) else Reply(404, b"not found", content_type="text/plain")
        with server.lock:
            server.posts.append(Post(key, body, reply.status))
        self._reply(reply)


class WebhookReceiver(Loopback):
    @property
    def posts(self) -> list[Post]:
        server = cast(_HookServer, self._server)
        with server.lock:
            return list(server.posts)

    @property
    def accepted(self) -> list[Post]:
        """The POSTs answered 2xx, in arrival order."""
        return [p for p in self.posts if p.accepted]

    def accepted_keys(self) -> Counter[str | None]:
        """How many times each delivery key was accepted."""
        return Counter(p.key for p in self.accepted)

    def deduplicated(self) -> dict[str | None, Post]:
        """The first accepted POST of each delivery key: what a receiver honouring the key keeps."""
        out: dict[str | None, Post] = {}
        for post in self.accepted:
            out.setdefault(post.key, post)
        return out


@contextmanager
def webhook_receiver(secret: str) -> Iterator[WebhookReceiver]:
    """A receiver on 127.0.0.1 accepting signed POSTs to ``HOOK`` (until scripted otherwise) until the block ends."""
    server = _HookServer(secret)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), name="loopback-webhook", daemon=True)
    thread.start()
    hook = WebhookReceiver(server, f"http://127.0.0.1:{server.server_address[1]}")
    hook.script(HOOK, Reply(200, b"ok", content_type="text/plain"))
    try:
        yield hook
    finally:
        server.released.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=WAIT)
