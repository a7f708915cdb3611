"""Email channel: ``send`` against real aiosmtpd servers.

Servers listen on 127.0.0.1 on a port the OS picks; TLS uses a self-signed certificate made at test time with
the ``openssl`` command. Nothing is mocked and nothing sleeps: the silent server of the timeout test waits on
an event that the test releases. ``render`` is tested in tests/test_notify_email_render.py and
tests/test_notify_email_risk.py.
"""

from __future__ import annotations

import asyncio
import email
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.email_helpers import RECIPIENTS, SENDER, STABLE_HEADERS, _part
from tests.notify_samples import v2_digest
from tests.tls_helpers import certificate as certificate
from watcher.notify.email import render, send
from watcher.notify.settings import EmailSettings

USER, PASSWORD = "watcher", "s3cr3t-Pa55word"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    tls: bool
    authenticated: bool

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.content, policy=email_policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Inbox:
    """An aiosmtpd handler that keeps what it accepts; scripted answers to MAIL, RCPT and DATA come first."""

    mail_answers: list[str] = field(default_factory=list)
    rcpt_answers: dict[str, str] = field(default_factory=dict)
    data_answers: list[str] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if self.mail_answers:
            return self.mail_answers.pop(0)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if address in self.rcpt_answers:
            return self.rcpt_answers[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_answers:
            return self.data_answers.pop(0)
        tls = server.transport.get_extra_info("ssl_object") is not None
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content, tls, bool(session.authenticated))
        )
        return f"250 2.0.0 OK queued as {len(self.received)}"


class _Controller(Controller):
    """aiosmtpd's threaded controller on a port the OS picks (it asks for the port before its first connection)."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


@contextmanager
def smtp_server(handler: Inbox, **kwargs: Any) -> Iterator[int]:
    controller = _Controller(handler, hostname="127.0.0.1", port=0, **kwargs)
    controller.start()
    try:
        yield int(controller.port)
    finally:
        controller.stop()


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


@pytest.fixture(scope="module")
def server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


@pytest.fixture(scope="module")
def client_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    """A client context that trusts the test certificate only (hostname checked, as by default)."""
    return ssl.create_default_context(cafile=str(certificate[0]))


def _settings(port: int, **overrides: Any) -> EmailSettings:
    values: dict[str, Any] = {
        "name": "mail",
        "type": "email",
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "sender": "watcher@example.com",
        "recipients": RECIPIENTS,
        "timeout": 5.0,
        **overrides,
    }
    return EmailSettings(**values)


def _message() -> EmailMessage:
    return render(v2_digest(), sender=SENDER, recipients=RECIPIENTS)


def test_plain_delivery_hands_the_server_exactly_one_message_with_both_parts() -> None:
    inbox = Inbox()
    message = _message()
    with smtp_server(inbox) as port:
        result = send(_settings(port), None, message)
    assert result.ok, result.detail
    assert result.detail == "250 2.0.0 OK queued as 1"
    assert not result.permanent
    assert len(inbox.received) == 1
    got = inbox.received[0]
    assert got.mail_from == "watcher@example.com"
    assert got.rcpt_tos == RECIPIENTS
    assert (got.tls, got.authenticated) == (False, False)
    delivered = got.message
    for name in STABLE_HEADERS:
        assert delivered[name] == message[name], name
    assert delivered["Message-ID"] == "<delivery-v2-0001@policy-watcher>"
    # On the wire lines end with CRLF.
    assert _part(delivered, "plain").replace("\r\n", "\n") == _part(message, "plain")
    assert _part(delivered, "html").replace("\r\n", "\n") == _part(message, "html")


def test_starttls_upgrades_before_sending_and_verifies_the_certificate(
    server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    inbox = Inbox()
    with smtp_server(inbox, tls_context=server_tls, require_starttls=True) as port:
        result = send(_settings(port, security="starttls"), None, _message(), ssl_context=client_tls)
    assert result.ok, result.detail
    assert [r.tls for r in inbox.received] == [True]


def test_starttls_with_an_untrusted_certificate_sends_nothing(server_tls: ssl.SSLContext) -> None:
    inbox = Inbox()
    with smtp_server(inbox, tls_context=server_tls, require_starttls=True) as port:
        result = send(_settings(port, security="starttls"), None, _message())  # the system CA store
    assert (result.ok, result.permanent) == (False, False)
    assert result.detail.startswith("TLS error: ")
    assert "certificate verify failed" in result.detail
    assert inbox.received == []


def test_starttls_asked_but_not_offered_never_sends_in_clear(client_tls: ssl.SSLContext) -> None:
    inbox = Inbox()
    with smtp_server(inbox) as port:
        result = send(_settings(port, security="starttls"), None, _message(), ssl_context=client_tls)
    assert (result.ok, result.permanent) == (False, True)
    assert "does not offer STARTTLS" in result.detail
    assert inbox.received == []


def test_implicit_tls_uses_smtp_over_ssl(server_tls: ssl.SSLContext, client_tls: ssl.SSLContext) -> None:
    inbox = Inbox()
    with smtp_server(inbox, ssl_context=server_tls) as port:
        result = send(_settings(port, security="tls"), None, _message(), ssl_context=client_tls)
    assert result.ok, result.detail
    assert [r.tls for r in inbox.received] == [True]


def test_implicit_tls_with_an_untrusted_certificate_is_a_temporary_tls_error(server_tls: ssl.SSLContext) -> None:
    inbox = Inbox()
    with smtp_server(inbox, ssl_context=server_tls) as port:
        result = send(_settings(port, security="tls"), None, _message())
    assert (result.ok, result.permanent) == (False, False)
    assert "certificate verify failed" in result.detail
    assert inbox.received == []


def test_auth_logs_in_with_the_username_and_password() -> None:
    inbox = Inbox()
    with smtp_server(inbox, authenticator=_authenticator, auth_require_tls=False) as port:
        result = send(_settings(port, username=USER), PASSWORD, _message())
    assert result.ok, result.detail
    assert [r.authenticated for r in inbox.received] == [True]
    assert PASSWORD not in result.detail


def test_a_wrong_password_is_a_permanent_535_without_the_password() -> None:
    inbox = Inbox()
    wrong = "wrong-Pa55word-123"
    with smtp_server(inbox, authenticator=_authenticator, auth_require_tls=False) as port:
        result = send(_settings(port, username=USER), wrong, _message())
    assert (result.ok, result.permanent) == (False, True)
    assert result.detail.startswith("authentication failed: 535")
    assert wrong not in result.detail
    assert "\n" not in result.detail
    assert inbox.received == []


def test_auth_over_starttls(server_tls: ssl.SSLContext, client_tls: ssl.SSLContext) -> None:
    inbox = Inbox()
    kwargs: dict[str, Any] = {"authenticator": _authenticator, "auth_required": True}
    with smtp_server(inbox, tls_context=server_tls, require_starttls=True, **kwargs) as port:
        result = send(_settings(port, security="starttls", username=USER), PASSWORD, _message(), ssl_context=client_tls)
    assert result.ok, result.detail
    assert [(r.tls, r.authenticated) for r in inbox.received] == [(True, True)]


def test_a_username_without_a_password_is_refused_before_connecting() -> None:
    result = send(_settings(1, username=USER), None, _message())
    assert (result.ok, result.permanent) == (False, True)
    assert "password" in result.detail


def test_451_then_250_is_temporary_then_ok() -> None:
    inbox = Inbox(data_answers=["451 try later"])
    with smtp_server(inbox) as port:
        first = send(_settings(port), None, _message())
        second = send(_settings(port), None, _message())
    assert (first.ok, first.permanent) == (False, False)
    assert first.detail == "message refused: 451 try later"
    assert second.ok, second.detail
    assert len(inbox.received) == 1


def test_550_no_such_user_is_permanent() -> None:
    inbox = Inbox(rcpt_answers=dict.fromkeys(RECIPIENTS, "550 no such user"))
    with smtp_server(inbox) as port:
        result = send(_settings(port), None, _message())
    assert (result.ok, result.permanent) == (False, True)
    assert result.detail == (
        "recipients refused: security@example.com 550 no such user; platform@example.com 550 no such user"
    )
    assert inbox.received == []


@pytest.mark.parametrize(
    ("inbox", "permanent", "detail"),
    [
        (Inbox(mail_answers=["553 5.7.1 sender not allowed"]), True, "sender refused: 553 5.7.1 sender not allowed"),
        (Inbox(mail_answers=["451 4.3.0 try later"]), False, "sender refused: 451 4.3.0 try later"),
        (Inbox(rcpt_answers=dict.fromkeys(RECIPIENTS, "450 mailbox busy")), False, "recipients refused: "),
        (Inbox(data_answers=["554 5.6.0 message rejected"]), True, "message refused: 554 5.6.0 message rejected"),
    ],
    ids=["mail-5xx", "mail-4xx", "rcpt-4xx", "data-5xx"],
)
def test_an_smtp_answer_is_permanent_only_when_it_is_5xx(inbox: Inbox, permanent: bool, detail: str) -> None:
    with smtp_server(inbox) as port:
        result = send(_settings(port), None, _message())
    assert (result.ok, result.permanent) == (False, permanent)
    assert result.detail.startswith(detail)
    assert inbox.received == []


def test_one_refused_recipient_among_accepted_ones_is_still_a_delivery() -> None:
    inbox = Inbox(rcpt_answers={"platform@example.com": "550 no such user"})
    with smtp_server(inbox) as port:
        result = send(_settings(port), None, _message())
    assert result.ok
    assert result.detail == "250 2.0.0 OK queued as 1 (refused: platform@example.com 550 no such user)"
    assert [r.rcpt_tos for r in inbox.received] == [["security@example.com"]]


def test_the_password_never_appears_in_the_detail_even_when_the_server_repeats_it() -> None:
    inbox = Inbox(data_answers=[f"554 rejected, your password is {PASSWORD}"])
    with smtp_server(inbox, authenticator=_authenticator, auth_require_tls=False) as port:
        result = send(_settings(port, username=USER), PASSWORD, _message())
    assert (result.ok, result.permanent) == (False, True)
    assert PASSWORD not in result.detail
    assert result.detail == "message refused: 554 rejected, your password is ***"


@contextmanager
def silent_server() -> Iterator[int]:
    """A TCP server that accepts a connection and never says a word until the test ends."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)  # a safety net: the thread never outlives a test that did not connect
    release = threading.Event()
    connections: list[socket.socket] = []

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        connections.append(conn)
        release.wait(10)
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        release.set()
        thread.join(15)
        listener.close()


def test_a_server_that_never_answers_is_a_temporary_timeout() -> None:
    with silent_server() as port:
        result = send(_settings(port, timeout=0.3), None, _message())
    assert (result.ok, result.permanent) == (False, False)
    assert result.detail == "timed out: no answer from the server within 0.3 s"


def test_a_refused_connection_is_temporary() -> None:
    with socket.create_server(("127.0.0.1", 0)) as placeholder:
        port = placeholder.getsockname()[1]
    result = send(_settings(port), None, _message())
    assert (result.ok, result.permanent) == (False, False)
    assert result.detail.startswith("connection failed: ConnectionRefusedError")


def test_an_encoded_word_in_page_text_never_becomes_a_header_of_its_own() -> None:
    """A policy name such as ``=?utf-8?q?P=0D=0ABcc:...?=`` once decoded into a real Bcc header (CVE-2024-6923)."""
    trap = "=?utf-8?q?P=0D=0ABcc:_evil@example.com?="
    notice = replace(v2_digest().notices[0], policy=trap)
    message = render(replace(v2_digest(), notices=(notice,)), sender="w@example.com", recipients=["s@example.com"])
    raw = message.as_bytes()
    parsed = email.message_from_bytes(raw, policy=email_policy.default)
    assert parsed["Bcc"] is None
    assert b"\nBcc:" not in raw and b"\r\nBcc:" not in raw
    assert trap in str(parsed["Subject"])
