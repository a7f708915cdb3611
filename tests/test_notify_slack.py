"""The Slack channel: how ``send`` reads the answers of a real loopback server standing in for Slack, and the
payload helpers (golden files, markup and limit checks) that the rendering tests share.

``slack_stand_in()`` is tests/loopback.py's scriptable server answering POST too: it keeps each body and, like
Slack, answers ``400 invalid_payload`` (or ``no_text``, ``invalid_blocks``) to a payload that breaks Slack's
rules before the script is consulted. The exact Block Kit payloads (golden files, rewritten with
``UPDATE_GOLDEN=1``), escaping and Slack's limits are tested in tests/test_notify_slack_render.py, severities,
classifications and reconciliation alerts in tests/test_notify_slack_risk.py.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import pytest

from tests.loopback import WAIT, Close, Hang, Loopback, Reply, _Handler, _Server, free_port
from tests.notify_samples import hostile_digest, long_digest, v2_digest, v3_digest
from watcher.fetch import USER_AGENT
from watcher.notify import slack
from watcher.notify.model import Digest, SendResult

GOLDEN = Path(__file__).parent / "golden" / "slack"
HOOK = "/services/T0SECRET1/B0SECRET2/xoxSecretToken42"
"""The path of a Slack webhook URL is its secret."""


# --- a stand-in for Slack ----------------------------------------------------------------------------------------


def slack_problem(body: bytes) -> str | None:
    """What Slack would refuse in ``body`` (its error word), or None."""
    try:
        payload = json.loads(body)
    except ValueError:
        return "invalid_payload"
    if not isinstance(payload, dict):
        return "invalid_payload"
    blocks = payload.get("blocks") or []
    if not payload.get("text") and not blocks:
        return "no_text"
    if len(blocks) > 50:
        return "invalid_blocks"
    for block in blocks:
        if block["type"] == "header":
            if block["text"]["type"] != "plain_text" or not 0 < len(block["text"]["text"]) <= 150:
                return "invalid_blocks"
        elif block["type"] == "section":
            if not 0 < len(block["text"]["text"]) <= 3000:
                return "invalid_blocks"
        elif block["type"] == "context":
            if not 0 < len(block["elements"]) <= 10 or any(len(e["text"]) > 3000 for e in block["elements"]):
                return "invalid_blocks"
        else:
            return "invalid_blocks"
    return None


class _StandIn(_Server):
    def __init__(self) -> None:
        super().__init__()
        self.RequestHandlerClass = _SlackHandler
        self.bodies: list[bytes] = []


class _SlackHandler(_Handler):
    def do_POST(self) -> None:
        server = cast(_StandIn, self.server)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with server.lock:
            server.bodies.append(body)
        problem = slack_problem(body)
        if problem is not None:
            self._reply(Reply(400, problem.encode(), content_type="text/plain"))
            return
        self.do_GET()  # the script answers


class StandIn(Loopback):
    @property
    def bodies(self) -> list[bytes]:
        server = cast(_StandIn, self._server)
        with server.lock:
            return list(server.bodies)


@contextmanager
def slack_stand_in() -> Iterator[StandIn]:
    """A Slack stand-in on 127.0.0.1 until the block ends (hanging requests are released)."""
    server = _StandIn()
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), name="loopback-slack", daemon=True)
    thread.start()
    try:
        yield StandIn(server, f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.released.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=WAIT)


def deliver(url: str, digest: Digest, *, timeout: float = 5.0) -> SendResult:
    result = slack.send(url, slack.render(digest), key=digest.key, timeout=timeout)
    assert "SECRET" not in result.detail and "xoxSecretToken42" not in result.detail, result.detail
    assert url not in result.detail and "\n" not in result.detail
    return result


def ok(body: bytes = b"ok") -> Reply:
    return Reply(200, body, content_type="text/html")


# --- helpers for payloads ----------------------------------------------------------------------------------------


def check_golden(name: str, payload: dict[str, Any]) -> None:
    actual = json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert actual == path.read_text(encoding="utf-8"), f"{name} differs: rerun with UPDATE_GOLDEN=1 if intended"


def mrkdwn_texts(payload: dict[str, Any]) -> list[str]:
    """Every text Slack parses for markup: the fallback ``text`` and every text object of every block."""
    texts = [payload["text"]]
    for block in payload["blocks"]:
        if "text" in block:
            texts.append(block["text"]["text"])
        texts += [e["text"] for e in block.get("elements", [])]
    return texts


def sections(payload: dict[str, Any]) -> list[str]:
    return [b["text"]["text"] for b in payload["blocks"] if b["type"] == "section"]


def header(payload: dict[str, Any]) -> str:
    first = payload["blocks"][0]
    assert first["type"] == "header"
    return cast(str, first["text"]["text"])


LINK = re.compile(r"<https?://[^\s<>|]+\|[^<>]*>")


def assert_safe_markup(text: str) -> None:
    """The only control sequences are http(s) links; every ``&`` starts an entity; no raw CR/LF in a line."""
    rest = LINK.sub("", text)
    assert "<" not in rest and ">" not in rest, text
    assert not re.search(r"&(?!amp;|lt;|gt;)", text), text
    assert "\r" not in text


def assert_within_limits(payload: dict[str, Any]) -> None:
    assert slack_problem(json.dumps(payload).encode()) is None
    assert len(payload["text"]) <= 3000


# --- send --------------------------------------------------------------------------------------------------------


def test_slack_receives_exactly_the_rendered_payload() -> None:
    digest = v3_digest()
    with slack_stand_in() as server:
        server.script(HOOK, ok())
        result = deliver(server.url(HOOK), digest)
        assert result == SendResult(True, "HTTP 200 ok")
        (body,) = server.bodies
        assert json.loads(body) == slack.render(digest)
        (seen,) = server.requests
        assert seen.method == "POST" and seen.path == HOOK
        assert seen.header("User-Agent") == USER_AGENT
        assert seen.header("X-Watcher-Delivery") == digest.key
        assert seen.header("Content-Type") == "application/json; charset=utf-8"


def test_a_long_digest_is_accepted_by_the_stand_in() -> None:
    with slack_stand_in() as server:
        server.script(HOOK, ok())
        assert deliver(server.url(HOOK), long_digest()).ok
        assert deliver(server.url(HOOK), hostile_digest()).ok


def test_the_stand_in_refuses_what_slack_refuses() -> None:
    with slack_stand_in() as server:
        server.script(HOOK, ok())
        too_many = {"text": "x", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}] * 51}
        result = slack.send(server.url(HOOK), too_many, key="k", timeout=5)
        assert result == SendResult(False, "HTTP 400 invalid_blocks", permanent=True)
        result = slack.send(server.url(HOOK), {"text": ""}, key="k", timeout=5)
        assert result == SendResult(False, "HTTP 400 no_text", permanent=True)


def test_a_500_is_temporary_and_the_retry_sends_the_same_payload() -> None:
    digest = v2_digest()
    with slack_stand_in() as server:
        server.script(HOOK, Reply(500, b"internal_error"), ok())
        first = deliver(server.url(HOOK), digest)
        assert first == SendResult(False, "HTTP 500 internal_error")
        second = deliver(server.url(HOOK), digest)
        assert second.ok
        assert server.count(HOOK) == 2
        assert server.bodies[0] == server.bodies[1]
        assert {seen.header("X-Watcher-Delivery") for seen in server.requests} == {digest.key}


def test_a_429_passes_on_retry_after() -> None:
    with slack_stand_in() as server:
        server.script(HOOK, Reply(429, b"ratelimited", headers={"Retry-After": "7"}))
        result = deliver(server.url(HOOK), v2_digest())
        assert result == SendResult(False, "HTTP 429 ratelimited", retry_after=7.0)


def test_a_retry_after_date_in_the_past_means_now() -> None:
    with slack_stand_in() as server:
        server.script(HOOK, Reply(429, b"ratelimited", headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}))
        assert deliver(server.url(HOOK), v2_digest()).retry_after == 0.0
        server.script(HOOK, Reply(429, b"ratelimited", headers={"Retry-After": "soon"}))
        assert deliver(server.url(HOOK), v2_digest()).retry_after is None


@pytest.mark.parametrize(
    "status, body, ok_, permanent",
    [
        (404, b"no_service", False, True),
        (403, b"invalid_token", False, True),
        (410, b"channel_is_archived", False, True),
        (400, b"invalid_payload", False, True),
        (400, b"no_text", False, True),
        (404, b"", False, True),
        (418, b"teapot", False, True),
        (302, b"", False, True),
        (500, b"no_service", False, True),
        (502, b"<html>bad gateway</html>", False, False),
        (503, b"", False, False),
        (408, b"", False, False),
        (200, b"not ok", False, False),
        (200, b"ok", True, False),
    ],
)
def test_slack_answers(status: int, body: bytes, ok_: bool, permanent: bool) -> None:
    with slack_stand_in() as server:
        server.script(HOOK, Reply(status, body))
        result = deliver(server.url(HOOK), v2_digest())
        assert (result.ok, result.permanent, result.retry_after) == (ok_, permanent, None)
        assert result.detail == f"HTTP {status} {body.decode()}".strip()


def test_a_404_no_service_is_permanent() -> None:
    with slack_stand_in() as server:
        server.script(HOOK, Reply(404, b"no_service"))
        assert deliver(server.url(HOOK), v2_digest()) == SendResult(False, "HTTP 404 no_service", permanent=True)
        server.script(HOOK, Reply(403, b"invalid_token"))
        assert deliver(server.url(HOOK), v2_digest()) == SendResult(False, "HTTP 403 invalid_token", permanent=True)


def test_a_silent_slack_is_a_temporary_timeout() -> None:
    with slack_stand_in() as server:
        server.script(HOOK, Hang())
        result = deliver(server.url(HOOK), v2_digest(), timeout=0.2)
        assert result == SendResult(False, "timeout after 0.2 s")


def test_network_failures_are_temporary() -> None:
    with slack_stand_in() as server:
        server.script(HOOK, Close())
        result = deliver(server.url(HOOK), v2_digest())
        assert (result.ok, result.permanent, result.detail) == (False, False, "connection failed")
    refused = deliver(f"http://127.0.0.1:{free_port()}{HOOK}", v2_digest())
    assert refused == SendResult(False, "connection failed")


def test_a_malformed_url_is_permanent_and_not_repeated() -> None:
    for url in (f"not a url{HOOK}", f"ftp://hooks.example{HOOK}", f"http://{HOOK}"):
        result = slack.send(url, slack.render(v2_digest()), key="k", timeout=1)
        assert not result.ok
        assert "SECRET" not in result.detail and url not in result.detail


def test_the_url_never_appears_in_the_detail_even_if_echoed() -> None:
    with slack_stand_in() as server:
        url = server.url(HOOK)
        server.script(HOOK, Reply(404, f"no hook at {url} ({HOOK})".encode()))
        result = deliver(url, v2_digest())
        assert result.permanent
        assert result.detail == "HTTP 404 no hook at [webhook] ([webhook])"


def test_a_long_or_multiline_answer_is_one_short_line() -> None:
    with slack_stand_in() as server:
        server.script(HOOK, Reply(503, b"upstream\r\nerror " + b"x" * 5000))
        result = deliver(server.url(HOOK), v2_digest())
        assert result.detail.startswith("HTTP 503 upstream error xxx") and len(result.detail) <= 300


def test_a_delivery_key_cannot_inject_headers() -> None:
    with slack_stand_in() as server:
        server.script(HOOK, ok())
        result = slack.send(server.url(HOOK), slack.render(v2_digest()), key="k-1\r\nX-Evil: 1", timeout=5)
        assert result.ok
        (seen,) = server.requests
        assert seen.header("X-Watcher-Delivery") == "k-1X-Evil:1"
        assert seen.header("X-Evil") is None
