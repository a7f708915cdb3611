"""The generic webhook channel: exact signed bodies (golden files), and how it reads a real receiver's answers.

``receiver()`` is tests/loopback.py's scriptable server answering POST as well, keeping each body; given a
secret it checks ``X-Watcher-Signature`` with ``webhook.verify`` as a real receiver would, and answers 401
when it does not match. Rewrite the golden files with ``UPDATE_GOLDEN=1``.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import cast

import pytest

from tests.loopback import WAIT, Close, Hang, Loopback, Reply, _Handler, _Server, free_port
from tests.notify_risk_samples import REMOVAL_NOTE, RISKY_CLASSIFICATION, reconciliation_digest, risk_digest
from tests.notify_samples import HOSTILE_POLICY, all_kinds_digest, hostile_digest, v2_digest, v3_digest
from watcher.fetch import USER_AGENT
from watcher.notify import webhook
from watcher.notify.model import Digest, Notice, SendResult

GOLDEN = Path(__file__).parent / "golden" / "webhook"
SECRET = "hmac-key-Zq8wV1"
TOKEN_PATH = "/hooks/T0KEN-in-the-path"


class _Receiver(_Server):
    """loopback's server, also answering POST; keeps each POST body in ``bodies`` (in arrival order)."""

    def __init__(self, secret: str | None) -> None:
        super().__init__()
        self.RequestHandlerClass = _PostHandler
        self.secret = secret
        self.bodies: list[bytes] = []


class _PostHandler(_Handler):
    def do_POST(self) -> None:
        server = cast(_Receiver, self.server)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with server.lock:
            server.bodies.append(body)
        signature = self.headers.get(webhook.SIGNATURE_HEADER)
        if server.secret is not None and not (signature and webhook.verify(body, signature, server.secret)):
            self._reply(Reply(401, b"bad signature", content_type="text/plain"))
            return
        self.do_GET()


class Receiver(Loopback):
    @property
    def bodies(self) -> list[bytes]:
        server = cast(_Receiver, self._server)
        with server.lock:
            return list(server.bodies)


@contextmanager
def receiver(secret: str | None = None) -> Iterator[Receiver]:
    """A POST receiver on 127.0.0.1 until the block ends (hanging requests are released)."""
    server = _Receiver(secret)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), name="loopback-receiver", daemon=True)
    thread.start()
    try:
        yield Receiver(server, f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.released.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=WAIT)


def check_golden(name: str, actual: bytes) -> None:
    path = GOLDEN.parent / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(actual)
    assert actual == path.read_bytes(), f"{name} differs: rerun with UPDATE_GOLDEN=1 if the change is intended"


def post(url: str, digest: Digest, *, secret: str | None = SECRET, timeout: float = 5.0) -> SendResult:
    return webhook.send(url, webhook.render(digest), key=digest.key, secret=secret, timeout=timeout)


# render


@pytest.mark.parametrize(
    "name, digest",
    [("v2", v2_digest()), ("v3", v3_digest()), ("risk", risk_digest()), ("reconciliation", reconciliation_digest())],
)
def test_it_renders_the_golden_body(name: str, digest: Digest) -> None:
    check_golden(f"webhook/{name}.json", webhook.render(digest))


def test_the_body_is_compact_sorted_ascii_json_of_every_notice() -> None:
    digest = v3_digest()
    body = webhook.render(digest)
    data = json.loads(body)
    assert body == json.dumps(data, sort_keys=True, separators=(",", ":")).encode("ascii")
    assert data["schema"] == "policy-watcher/webhook/v1"
    assert data["delivery"] == "delivery-v3-0001"
    assert data["title"] == "Policy Watcher"
    assert data["summary"] == "Policy Watcher: 1 new policy, 1 policy with actions removed, 2 AWS updates"
    first = data["events"][0]
    assert first == {
        "id": 201,
        "kind": "policy_added",
        "source": "rekognition-policies",
        "service": "Amazon Rekognition",
        "policy": "AmazonRekognitionFaceLivenessAccess",
        "actions": [
            "rekognition:CreateFaceLivenessSession",
            "rekognition:GetFaceLivenessSessionResults",
            "rekognition:StartFaceLivenessSession",
        ],
        "grants": [
            ["Allow", "rekognition:CreateFaceLivenessSession"],
            ["Allow", "rekognition:GetFaceLivenessSessionResults"],
            ["Allow", "rekognition:StartFaceLivenessSession"],
        ],
        "links": {"page": digest.notices[0].url},
        "detected_at": "2026-01-05T10:00:00+00:00",
        "update_row": digest.notices[0].update_row,
        "severity": None,  # stored before severities
        "classification": None,
        "details": {"status": "ok"},
    }
    assert [e["id"] for e in data["events"]] == [201, 202, 203, 204]
    assert data["events"][2]["update_row"] is None


def test_the_module_docstring_documents_every_key() -> None:
    digest = Digest("k", (*all_kinds_digest().notices, *risk_digest().notices, *reconciliation_digest().notices))
    data = json.loads(webhook.render(digest))
    doc = webhook.__doc__ or ""
    for key in [*data, *data["events"][0], *data["events"][0]["links"]]:
        assert f'"{key}"' in doc, key
    for kind in {e["kind"] for e in data["events"]}:
        assert kind in doc, kind


@pytest.mark.parametrize(
    "index, severity, classification, details",
    [
        (0, "critical", RISKY_CLASSIFICATION, {}),
        (1, "low", risk_digest().notices[1].details["classification"], {"note": REMOVAL_NOTE}),
        (2, "medium", risk_digest().notices[2].details["classification"], {"note": REMOVAL_NOTE}),
        (3, "info", None, {k: v for k, v in risk_digest().notices[3].details.items()}),
    ],
)
def test_each_event_carries_its_severity_and_whole_classification(
    index: int, severity: str, classification: object, details: dict[str, object]
) -> None:
    event = json.loads(webhook.render(risk_digest()))["events"][index]
    assert event["severity"] == severity
    assert event["classification"] == classification
    assert event["details"] == details  # the classification is not repeated in the details


def test_the_summary_leads_with_a_high_or_critical_severity() -> None:
    assert json.loads(webhook.render(risk_digest()))["summary"] == (
        "[critical] Policy Watcher: 1 policy with actions added, 1 policy with actions removed, 1 removed policy, "
        "1 feed item"
    )


def test_reconciliation_alerts_keep_their_payload() -> None:
    undocumented, mismatch = json.loads(webhook.render(reconciliation_digest()))["events"]
    assert (undocumented["kind"], undocumented["policy"], undocumented["severity"]) == (
        "undocumented_change",
        "AmazonRekognitionFullAccess",
        None,
    )
    assert undocumented["grants"] == [["Allow", "iam:PassRole"], ["Allow", "s3:Get*"]]
    assert undocumented["details"]["change_kind"] == "actions_added" and undocumented["details"]["grace_days"] == 7
    assert mismatch["kind"] == "documentation_mismatch" and mismatch["details"]["missing"] == ["rekognition:Foo"]
    assert mismatch["details"]["row"]["date"] == "2023-10-31"


def test_a_notice_without_a_page_has_a_null_link() -> None:
    notice = Notice("source_failing", "s", None, None, (), "2026-01-05T10:00:00+00:00", None, {"error": "HTTP 503"})
    event = json.loads(webhook.render(Digest("k", (notice,))))["events"][0]
    assert event["links"] == {"page": None}
    assert event["service"] is None and event["policy"] is None and event["grants"] == [] and event["actions"] == []


def test_hostile_page_text_stays_data() -> None:
    digest = hostile_digest()
    body = webhook.render(digest)
    assert b"\r" not in body and b"\n" not in body  # CR/LF travel escaped...
    data = json.loads(body)
    assert data["events"][0]["policy"] == HOSTILE_POLICY  # ...and come back intact
    assert "\r\n" in data["events"][0]["policy"]
    assert data["events"][1]["details"] == digest.notices[1].details
    assert data["events"][0]["grants"] == [list(g) for g in digest.notices[0].grants]
    assert data["events"][0]["links"]["page"] == digest.notices[0].url


def test_verify_accepts_only_the_exact_body_and_secret() -> None:
    body = webhook.render(v2_digest())
    header = webhook.sign(body, SECRET)
    assert re.fullmatch(r"sha256=[0-9a-f]{64}", header)
    assert webhook.verify(body, header, SECRET)
    assert not webhook.verify(body + b" ", header, SECRET)
    assert not webhook.verify(body, header, SECRET + "x")
    assert not webhook.verify(body, header.removeprefix("sha256="), SECRET)
    assert not webhook.verify(body, "", SECRET)


# send


def test_it_delivers_a_signed_body_with_its_delivery_key() -> None:
    digest = v2_digest()
    with receiver(secret=SECRET) as hook:
        hook.script("/hook", Reply(200, b"ok", content_type="text/plain"))
        result = post(hook.url("/hook"), digest)
        (seen,), (body,) = hook.requests, hook.bodies
    assert result.ok and not result.permanent
    assert result.detail == "HTTP 200 OK: ok"
    assert seen.method == "POST"
    assert body == webhook.render(digest)
    assert seen.header("X-Watcher-Delivery") == "delivery-v2-0001"
    assert seen.header("Content-Type") == "application/json"
    assert seen.header("User-Agent") == USER_AGENT
    assert webhook.verify(body, seen.header("X-Watcher-Signature") or "", SECRET)


def test_a_receiver_with_another_secret_refuses_it_for_good() -> None:
    with receiver(secret="another-secret") as hook:
        hook.script("/hook", Reply(200))
        result = post(hook.url("/hook"), v2_digest())
    assert not result.ok and result.permanent
    assert result.detail == "HTTP 401 Unauthorized: bad signature"


def test_without_a_secret_there_is_no_signature() -> None:
    with receiver() as hook:
        hook.script("/hook", Reply(204, content_type=None))
        result = post(hook.url("/hook"), v3_digest(), secret=None)
        (seen,) = hook.requests
    assert result.ok and result.detail == "HTTP 204 No Content"
    assert seen.header("X-Watcher-Signature") is None
    assert seen.header("X-Watcher-Delivery") == "delivery-v3-0001"


def test_a_500_is_retried_and_the_retry_carries_the_same_key_and_body() -> None:
    digest = v2_digest()
    with receiver(secret=SECRET) as hook:
        hook.script("/hook", Reply(500, b"oops", content_type="text/plain"), Reply(200))
        first = post(hook.url("/hook"), digest)
        second = post(hook.url("/hook"), digest)
        keys = [s.header("X-Watcher-Delivery") for s in hook.requests]
        bodies = hook.bodies
    assert not first.ok and not first.permanent and first.retry_after is None
    assert first.detail == "HTTP 500 Internal Server Error: oops"
    assert second.ok
    assert keys == ["delivery-v2-0001", "delivery-v2-0001"]
    assert bodies[0] == bodies[1]


def test_a_429_passes_on_retry_after() -> None:
    with receiver() as hook:
        hook.script("/hook", Reply(429, b"slow down", headers={"Retry-After": "3"}))
        result = post(hook.url("/hook"), v2_digest(), secret=None)
    assert not result.ok and not result.permanent
    assert result.retry_after == 3.0


@pytest.mark.parametrize(
    "value, seconds",
    [("Wed, 21 Oct 2015 07:28:00 GMT", 0.0), ("-5", 0.0), ("1.5", 1.5), ("inf", None), ("soon", None), ("", None)],
)
def test_retry_after_of_a_503(value: str, seconds: float | None) -> None:
    with receiver() as hook:
        hook.script("/hook", Reply(503, headers={"Retry-After": value} if value else {}))
        result = post(hook.url("/hook"), v2_digest(), secret=None)
    assert not result.ok and not result.permanent and result.retry_after == seconds


@pytest.mark.parametrize(
    "status, ok, permanent",
    [
        (200, True, False),
        (201, True, False),
        (202, True, False),
        (204, True, False),
        (301, False, True),
        (307, False, True),
        (400, False, True),
        (401, False, True),
        (403, False, True),
        (404, False, True),
        (408, False, False),
        (410, False, True),
        (413, False, True),
        (422, False, True),
        (429, False, False),
        (500, False, False),
        (502, False, False),
        (503, False, False),
        (504, False, False),
    ],
)
def test_status_codes(status: int, ok: bool, permanent: bool) -> None:
    headers = {"Location": "http://127.0.0.1:1/elsewhere"} if 300 <= status < 400 else {}
    with receiver() as hook:
        hook.script("/hook", Reply(status, b"", headers=headers, content_type=None))
        result = post(hook.url("/hook"), v2_digest(), secret=None)
        assert hook.count("/hook") == 1  # a redirect is not followed
    assert (result.ok, result.permanent) == (ok, permanent)
    assert result.detail.startswith(f"HTTP {status}")


def test_a_timeout_is_temporary() -> None:
    with receiver() as hook:
        hook.script("/hook", Hang())
        result = post(hook.url("/hook"), v2_digest(), timeout=0.2)
    assert not result.ok and not result.permanent
    assert result.detail == "timed out after 0.2 s"


def test_a_closed_connection_is_temporary() -> None:
    with receiver() as hook:
        hook.script("/hook", Close())
        result = post(hook.url("/hook"), v2_digest())
    assert not result.ok and not result.permanent
    assert result.detail.startswith("connection failed")


def test_a_refused_connection_is_temporary_and_does_not_name_the_url() -> None:
    port = free_port()
    result = post(f"http://127.0.0.1:{port}{TOKEN_PATH}?token=abc", v2_digest())
    assert not result.ok and not result.permanent
    assert result.detail == "connection failed: ConnectionRefusedError: Connection refused"


@pytest.mark.parametrize("url", ["not a url", "ftp://127.0.0.1/hook", "http://"])
def test_an_invalid_url_is_permanent(url: str) -> None:
    result = post(url, v2_digest())
    assert not result.ok and result.permanent
    assert result.detail == "invalid webhook URL"


def test_the_url_and_the_secret_never_reach_the_detail() -> None:
    with receiver() as hook:
        url = hook.url(f"{TOKEN_PATH}?sig=query-secret")
        echo = f"you sent {url} signed with {SECRET}\r\nhost {hook.base} path {TOKEN_PATH}\x1b[31m".encode()
        hook.script(TOKEN_PATH, Reply(500, echo, content_type="text/plain"), Reply(200, echo), Hang())
        results = [post(url, v2_digest(), timeout=0.2) for _ in range(3)]
    results.append(post(f"http://127.0.0.1:{free_port()}{TOKEN_PATH}?sig=query-secret", v2_digest()))
    port = url.split(":")[2].split("/")[0]
    for result in results:
        for secret in (url, TOKEN_PATH, "query-secret", SECRET, hook.base, port):
            assert secret not in result.detail
        assert "\n" not in result.detail and "\r" not in result.detail and "\x1b" not in result.detail
    assert [r.ok for r in results] == [False, True, False, False]
    assert results[0].detail == (
        "HTTP 500 Internal Server Error: you sent [redacted] signed with [redacted] host http://[redacted] "
        "path [redacted] [31m"
    )
