"""``send``: one message to an SMTP server, the server's answer as a ``SendResult`` (I/O)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from typing import Any

from watcher.notify.email.text import _cut, one_line
from watcher.notify.model import SendResult
from watcher.notify.settings import EmailSettings

DETAIL_MAX = 300
"""Longest ``SendResult.detail``."""


class _SMTP(smtplib.SMTP):
    """Keeps the server's answer to DATA (``sendmail`` drops it): the ``250 ...`` of ``SendResult.detail``."""

    data_reply: tuple[int, bytes] | None = None

    def data(self, msg: Any) -> tuple[int, bytes]:
        self.data_reply = super().data(msg)
        return self.data_reply


class _SMTP_SSL(smtplib.SMTP_SSL):
    data_reply: tuple[int, bytes] | None = None

    def data(self, msg: Any) -> tuple[int, bytes]:
        self.data_reply = super().data(msg)
        return self.data_reply


def _reply(code: int, text: bytes | str) -> str:
    decoded = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return one_line(f"{code} {decoded}")


def _detail(text: str, password: str | None) -> str:
    line = one_line(text)
    if password:
        line = line.replace(password, "***")
    return _cut(line, DETAIL_MAX)


def _answer(code: int, what: str, password: str | None) -> SendResult:
    return SendResult(ok=False, detail=_detail(what, password), permanent=500 <= code < 600)


def _classify(error: BaseException, password: str | None, timeout: float) -> SendResult:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        refused = error.recipients
        text = "; ".join(f"{address} {_reply(code, msg)}" for address, (code, msg) in refused.items())
        every_5xx = bool(refused) and all(500 <= code < 600 for code, _ in refused.values())
        return SendResult(ok=False, detail=_detail(f"recipients refused: {text}", password), permanent=every_5xx)
    if isinstance(error, smtplib.SMTPSenderRefused):
        return _answer(error.smtp_code, f"sender refused: {_reply(error.smtp_code, error.smtp_error)}", password)
    if isinstance(error, smtplib.SMTPDataError):
        return _answer(error.smtp_code, f"message refused: {_reply(error.smtp_code, error.smtp_error)}", password)
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return _answer(error.smtp_code, f"authentication failed: {_reply(error.smtp_code, error.smtp_error)}", password)
    if isinstance(error, smtplib.SMTPResponseException):
        return _answer(error.smtp_code, f"server answered {_reply(error.smtp_code, error.smtp_error)}", password)
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return SendResult(ok=False, detail=_detail(f"not supported by the server: {error}", password), permanent=True)
    if isinstance(error, TimeoutError) or isinstance(error.__context__, TimeoutError):
        # smtplib reports a read that timed out as "Connection unexpectedly closed: timed out".
        return SendResult(ok=False, detail=f"timed out: no answer from the server within {timeout:g} s")
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return SendResult(ok=False, detail=_detail(f"disconnected: {error}", password))
    if isinstance(error, ssl.SSLError | ssl.CertificateError):
        return SendResult(ok=False, detail=_detail(f"TLS error: {error}", password))
    if isinstance(error, OSError):
        return SendResult(ok=False, detail=_detail(f"connection failed: {type(error).__name__}: {error}", password))
    return SendResult(ok=False, detail=_detail(f"SMTP error: {error}", password))


def _close(client: smtplib.SMTP, polite: bool) -> None:
    """QUIT after a delivery (its answer changes nothing: the message was accepted); just close after an error."""
    if polite:
        try:
            client.quit()
            return
        except (smtplib.SMTPException, OSError):
            pass
    client.close()


def send(
    settings: EmailSettings,
    password: str | None,
    message: EmailMessage,
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> SendResult:
    """Deliver ``message`` to the server of ``settings``; never raises for the server's answer or the network.

    ``ssl_context`` replaces the default context (system CA store, hostname checked), e.g. to trust a test
    certificate. With ``security = "starttls"``, a server that does not offer STARTTLS gets nothing (permanent:
    the configuration or the server must change).
    """
    if settings.username and password is None:
        return SendResult(ok=False, detail="a username is set but the SMTP password is missing", permanent=True)
    context = ssl_context or ssl.create_default_context()
    client: _SMTP | _SMTP_SSL | None = None
    delivered = False
    try:
        if settings.security == "tls":
            client = _SMTP_SSL(settings.host, settings.port, timeout=settings.timeout, context=context)
        else:
            client = _SMTP(settings.host, settings.port, timeout=settings.timeout)
        if settings.security == "starttls":
            client.ehlo()
            if not client.has_extn("starttls"):
                return SendResult(
                    ok=False,
                    detail="the server does not offer STARTTLS: not sending in clear",
                    permanent=True,
                )
            client.starttls(context=context)  # raises on any answer but 220
            client.ehlo()
        if settings.username:
            client.login(settings.username, password or "")
        refused = client.send_message(message)
        delivered = True
        code, reply = client.data_reply or (250, b"")
        detail = _reply(code, reply)
        if refused:
            detail += " (refused: " + "; ".join(f"{a} {_reply(c, m)}" for a, (c, m) in refused.items()) + ")"
        return SendResult(ok=True, detail=_detail(detail, password))
    except (smtplib.SMTPException, OSError) as error:
        return _classify(error, password, settings.timeout)
    finally:
        if client is not None:
            _close(client, polite=delivered)
