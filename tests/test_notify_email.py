"""Email channel: ``render`` on its exact output (golden files), ``send`` against real aiosmtpd servers.

Servers listen on 127.0.0.1 on a port the OS picks; TLS uses a self-signed certificate made at test time with
the ``openssl`` command. Nothing is mocked and nothing sleeps: the silent server of the timeout test waits on
an event that the test releases. Golden files live in tests/golden/email/; ``UPDATE_GOLDEN=1`` rewrites them.
"""

from __future__ import annotations

import asyncio
import email
import os
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.notify_samples import (
    DETECTED_AT,
    HOSTILE_POLICY,
    HOSTILE_TEXTS,
    PAGE,
    REMOVAL_NOTE,
    SERVICE,
    SOURCE,
    all_kinds_digest,
    hostile_digest,
    hostile_risk_digest,
    long_digest,
    policy_url,
    reconciliation_digest,
    risk_digest,
    v2_digest,
    v3_digest,
)
from watcher.notify.email import render, send, subject
from watcher.notify.model import Digest, Notice
from watcher.notify.settings import EmailSettings

GOLDEN = Path(__file__).parent / "golden" / "email"
SENDER = "Policy Watcher <watcher@example.com>"
RECIPIENTS = ["security@example.com", "platform@example.com"]
USER, PASSWORD = "watcher", "s3cr3t-Pa55word"
STABLE_HEADERS = ("Subject", "From", "To", "Date", "Message-ID", "Auto-Submitted", "MIME-Version")


def _notice(kind: str, policy: str | None = None, grants: tuple[tuple[str, str], ...] = (), **details: Any) -> Notice:
    return Notice(
        kind=kind,
        source=SOURCE,
        service=SERVICE,
        policy=policy,
        grants=grants,
        detected_at=DETECTED_AT,
        url=policy_url(policy) if policy else PAGE,
        details=details,
    )


def _digest(*notices: Notice, key: str = "delivery-test-0001") -> Digest:
    return Digest(key=key, notices=notices)


def _render(digest: Digest) -> EmailMessage:
    return render(digest, sender=SENDER, recipients=RECIPIENTS)


def _part(message: EmailMessage, subtype: str) -> str:
    part = message.get_body((subtype,))
    assert part is not None, f"no text/{subtype} part"
    content = part.get_content()
    assert isinstance(content, str)
    return content


def _check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run the tests with UPDATE_GOLDEN=1 to write it"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file (UPDATE_GOLDEN=1 rewrites)"


def _golden_text(message: EmailMessage) -> str:
    headers = "".join(f"{name}: {message[name]}\n" for name in STABLE_HEADERS)
    return headers + "\n" + _part(message, "plain")


# --- render: golden files ----------------------------------------------------------------------------------------


def source_failing_digest() -> Digest:
    """Operator-only: one source failing."""
    return _digest(
        _notice("source_failing", error="HTTP 503 Service Unavailable", since=DETECTED_AT, failures=3),
        key="delivery-failing-0001",
    )


GOLDEN_CASES: dict[str, Callable[[], Digest]] = {
    "v2": v2_digest,
    "v3": v3_digest,
    "hostile": hostile_digest,
    "all_kinds": all_kinds_digest,
    "source_failing": source_failing_digest,
    "risk": risk_digest,
    "reconciliation": reconciliation_digest,
    "hostile_risk": hostile_risk_digest,
}


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_rendered_message_matches_its_golden_files(name: str) -> None:
    message = _render(GOLDEN_CASES[name]())
    _check_golden(f"{name}.txt", _golden_text(message))
    _check_golden(f"{name}.html", _part(message, "html"))


def test_render_is_pure_the_same_digest_gives_the_same_content() -> None:
    first, second = _render(v3_digest()), _render(v3_digest())
    assert _golden_text(first) == _golden_text(second)
    assert _part(first, "html") == _part(second, "html")


# --- render: headers and structure ---------------------------------------------------------------------------------


def test_the_message_is_multipart_alternative_with_plain_text_then_html() -> None:
    message = _render(v2_digest())
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)


def test_headers_carry_the_idempotency_key_the_date_and_the_addresses() -> None:
    message = _render(v2_digest())
    assert message["Message-ID"] == "<delivery-v2-0001@policy-watcher>"
    assert message["From"] == SENDER
    assert message["To"] == ", ".join(RECIPIENTS)
    assert message["Date"] == "Mon, 05 Jan 2026 10:00:00 +0000"
    assert message["Auto-Submitted"] == "auto-generated"


def test_the_date_is_the_latest_detection_time() -> None:
    early = replace(_notice("actions_added", "P1", (("Allow", "a:B"),)), detected_at="2026-01-05T08:00:00+00:00")
    late = replace(_notice("actions_added", "P2", (("Allow", "a:C"),)), detected_at="2026-01-05T11:30:00+01:00")
    assert _render(_digest(early, late))["Date"] == "Mon, 05 Jan 2026 10:30:00 +0000"


def test_a_key_that_is_not_a_dot_atom_is_percent_encoded_into_the_message_id() -> None:
    message = _render(_digest(_notice("actions_added", "P", (("Allow", "a:B"),)), key="ch 1\r\nBcc: x@evil"))
    assert message["Message-ID"] == "<ch%201%0D%0ABcc%3A%20x%40evil@policy-watcher>"
    assert message["Bcc"] is None


def test_the_body_lists_the_policy_its_link_grouped_actions_the_aws_row_and_where_it_came_from() -> None:
    text = _part(_render(v2_digest()), "plain")
    assert "* AmazonRekognitionReadOnlyAccess\n" in text
    assert f"  {policy_url('AmazonRekognitionReadOnlyAccess')}\n" in text
    assert (
        "  Actions added (Allow):\n    + rekognition:GetMediaAnalysisJob\n    + rekognition:ListMediaAnalysisJobs\n"
        in text
    )
    assert "  AWS wrote (2023-10-31): Actions involving media analysis jobs have been added" in text
    assert "  Source: rekognition-policies | Service: Amazon Rekognition | Detected: 2026-01-05 10:00 UTC\n" in text
    # The updates row AWS wrote is shown once, with its policy, not again as a separate row.
    assert text.count("Actions involving media analysis jobs") == 1
    assert "* New feed item (2023-10-31): AWS managed policy updates\n" in text


def test_actions_are_grouped_by_effect_allow_then_deny_then_notaction() -> None:
    grants = (("NotAction", "iam:*"), ("Allow", "s3:GetObject"), ("Deny", "s3:DeleteBucket"), ("Allow", "s3:List"))
    text = _part(_render(_digest(_notice("actions_removed", "P", grants))), "plain")
    assert (
        "  Actions removed (Allow):\n    - s3:GetObject\n    - s3:List\n"
        "  Actions removed (Deny):\n    - s3:DeleteBucket\n"
        "  Actions removed (NotAction):\n    - iam:*\n"
    ) in text


def test_an_updates_row_about_a_policy_without_other_changes_is_listed_on_its_own() -> None:
    row = _notice("update_row_added", "AmazonRekognitionServiceRole", change="Docs only", date="2024-01-01")
    text = _part(_render(_digest(row)), "plain")
    assert "* Updates table: new row\n" in text
    assert "  AWS wrote (2024-01-01): Docs only\n" in text
    assert "    * AmazonRekognitionServiceRole\n" in text


def test_an_empty_digest_is_never_a_message() -> None:
    with pytest.raises(ValueError, match="empty digest"):
        _render(_digest())


def test_an_address_with_a_line_break_is_refused() -> None:
    with pytest.raises(ValueError, match="control characters"):
        render(v2_digest(), sender=SENDER, recipients=["a@example.com\r\nBcc: evil@example.com"])
    with pytest.raises(ValueError, match="recipient"):
        render(v2_digest(), sender=SENDER, recipients=[])


# --- render: subjects ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("notices", "expected"),
    [
        (v2_digest().notices, "[Policy Watcher] AmazonRekognitionReadOnlyAccess: +2 actions"),
        (v3_digest().notices, "[Policy Watcher] 2 policies changed (Amazon Rekognition)"),
        (
            (
                _notice("actions_added", "P", (("Allow", "a:B"), ("Allow", "a:C"))),
                _notice("actions_removed", "P", (("Deny", "a:D"),)),
            ),
            "[Policy Watcher] P: +2 −1 actions",
        ),
        ((_notice("actions_removed", "P", (("Allow", "a:B"),)),), "[Policy Watcher] P: −1 action"),
        ((_notice("policy_added", "P", (("Allow", "a:B"),)),), "[Policy Watcher] P: new policy"),
        ((_notice("policy_removed", "P", (("Allow", "a:B"),)),), "[Policy Watcher] P: policy removed"),
        (
            tuple(_notice("actions_added", f"P{i}", (("Allow", "a:B"),)) for i in range(3)),
            "[Policy Watcher] 3 policies changed (Amazon Rekognition)",
        ),
        ((_notice("source_failing", error="HTTP 503"),), "[Policy Watcher] source failing: rekognition-policies"),
        (
            (_notice("layout_suspect", reason="gone"), _notice("source_recovered")),
            "[Policy Watcher] layout suspect: rekognition-policies; source recovered: rekognition-policies",
        ),
        (
            (_notice("update_row_added", change="x", date="2024-01-01"), _notice("feed_item_added", title="t")),
            "[Policy Watcher] 1 new updates-table row, 1 new feed item (Amazon Rekognition)",
        ),
        (
            (_notice("actions_added", "P", (("Allow", "a:B"),)), _notice("source_failing", error="x")),
            "[Policy Watcher] P: +1 action (+1 watcher alert)",
        ),
        (long_digest().notices, "[Policy Watcher] 121 policies changed (Amazon Rekognition)"),
    ],
)
def test_the_subject_summarises_the_digest(notices: tuple[Notice, ...], expected: str) -> None:
    digest = _digest(*notices)
    assert subject(digest) == expected
    assert _render(digest)["Subject"] == expected


def test_a_long_subject_is_cut_with_an_ellipsis() -> None:
    name = "P" * 400
    title = subject(_digest(_notice("policy_added", name)))
    assert len(title) == 180
    assert title.endswith("…")


# --- render: hostile page text --------------------------------------------------------------------------------------


def _raw_header_lines(message: EmailMessage) -> list[bytes]:
    raw = message.as_bytes()
    head = raw.split(b"\n\n", 1)[0]
    return head.split(b"\n")


def test_no_header_line_break_comes_from_page_text_only_folding() -> None:
    message = _render(hostile_digest())
    lines = _raw_header_lines(message)
    assert not any(b"\r" in line for line in lines)
    for line in lines:
        # Every line starts a header or continues one (folding starts with white space).
        assert line[:1] in (b" ", b"\t") or b":" in line.split(b" ", 1)[0], line
    names = [line.split(b":", 1)[0].decode() for line in lines if line[:1] not in (b" ", b"\t")]
    assert sorted(names) == sorted([*STABLE_HEADERS, "Content-Type"])
    parsed = email.message_from_bytes(message.as_bytes(), policy=email_policy.default)
    assert parsed["Subject"] == "[Policy Watcher] Evil<!channel> Policy & </script><http://evil|click>: +3 actions " + (
        "(+1 watcher alert)"
    )
    assert all("\r" not in str(v) and "\n" not in str(v) for v in parsed.values())


def test_a_title_that_tries_to_inject_a_header_stays_in_the_subject() -> None:
    digest = Digest(
        key="k1",
        notices=(_notice("policy_added", "P\u2028Q\x00R\x1b[31m"),),
        title="Watcher\r\nBcc: evil@example.com\r\n\r\nbody",
    )
    parsed = email.message_from_bytes(_render(digest).as_bytes(), policy=email_policy.default)
    assert parsed["Bcc"] is None
    assert parsed["Subject"] == "[Watcher Bcc: evil@example.com body] P Q R [31m: new policy"


def test_the_html_part_escapes_everything_from_pages() -> None:
    page = _part(_render(hostile_digest()), "html")
    assert "&lt;!channel&gt;" in page
    assert "</script>" not in page
    for hostile in HOSTILE_TEXTS:
        assert hostile not in page
    assert "Evil&lt;!channel&gt; Policy &amp; &lt;/script&gt;&lt;http://evil|click&gt;" in page
    assert '<a href="https://docs.aws.amazon.com/x.html#a|b&gt;c&lt;!channel&gt;">' in page


def test_the_plain_text_part_keeps_page_text_on_one_line() -> None:
    text = _part(_render(hostile_digest()), "plain")
    assert "\r" not in text
    assert f"* {' '.join(HOSTILE_POLICY.split())}\n" in text
    assert "* New feed item (2026-01-04): <http://evil|click> & <!channel> </script>\n" in text


def test_only_http_links_become_links() -> None:
    item = _notice("feed_item_added", title="t", link="javascript:alert(1)")
    bad_page = replace(_notice("actions_added", "P", (("Allow", "a:B"),)), url="javascript:alert(2)")
    page = _part(_render(_digest(replace(item, url=None), bad_page)), "html")
    assert "javascript:" not in page
    assert "<a " not in page


# --- render: severity, access levels and flags (issue 6) ----------------------------------------------------------


@pytest.mark.parametrize(
    "fragment",
    [
        "* AmazonRekognitionFullAccess\n",
        "  [CRITICAL] Actions added (Allow):\n    + iam:PassRole  Write · privilege escalation · on *\n",
        "    + s3:Get*  grants 54 actions (Read 54) · resource exposure · on *; "
        "riskiest: s3:GetObject, s3:GetBucketPolicy, s3:GetObjectAcl, ...\n",
        "    + rekognition:DoTheThing  unknown action (new API or typo)\n",
        "  [LOW] Actions removed (Allow):\n    - rekognition:DistributeDatasetEntries  Write · on *\n"
        f"  Note: {REMOVAL_NOTE}\n  AWS wrote (2024-03-04):",
        "  [MEDIUM] Policy removed from the page.\n  Actions it granted (Allow):\n"
        "    - rekognition:DetectFaces  Read · on *\n  Actions it granted (Deny):\n"
        f"    - rekognition:DeleteCollection  Write · on *\n  Note: {REMOVAL_NOTE}\n",
        "* [INFO] New feed item (2026-01-04): AWS managed policy updates\n",
    ],
)
def test_the_text_part_shows_severities_levels_flags_and_the_removal_note(fragment: str) -> None:
    assert fragment in _part(_render(risk_digest()), "plain")


@pytest.mark.parametrize(
    "fragment",
    [
        '<p style="margin: 0.3em 0"><span style="background: #b00020; color: #ffffff; font-weight: bold; '
        'font-size: 0.8em; padding: 0.1em 0.4em; border-radius: 3px">CRITICAL</span> Actions added (Allow):</p>',
        '<li>+ <code>iam:PassRole</code> <span style="color: #555">Write · '
        '<strong style="color: #b00020">privilege escalation</strong> · on <code>*</code></span></li>',
        "grants 54 actions (Read 54) · <strong",
        "; riskiest: <code>s3:GetObject</code>, <code>s3:GetBucketPolicy</code>, <code>s3:GetObjectAcl</code>, ...",
        '<code>rekognition:DoTheThing</code> <span style="color: #555">unknown action (new API or typo)</span>',
        "#1c7ed6; color: #ffffff",  # low
        "#f59f00; color: #000000",  # medium
        '<h3 style="font-size: 1em; margin-bottom: 0.2em"><span style="background: #868e96',  # info, on a feed item
        f'<p style="margin: 0.3em 0">Note: {REMOVAL_NOTE}</p>',
    ],
)
def test_the_html_part_shows_coloured_severities_levels_flags_and_the_removal_note(fragment: str) -> None:
    assert fragment in _part(_render(risk_digest()), "html")


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        ("critical", "[critical] [Policy Watcher] AmazonRekognitionReadOnlyAccess: +2 actions"),
        ("high", "[high] [Policy Watcher] AmazonRekognitionReadOnlyAccess: +2 actions"),
        ("medium", "[Policy Watcher] AmazonRekognitionReadOnlyAccess: +2 actions"),
        ("low", "[Policy Watcher] AmazonRekognitionReadOnlyAccess: +2 actions"),
        ("info", "[Policy Watcher] AmazonRekognitionReadOnlyAccess: +2 actions"),
        (None, "[Policy Watcher] AmazonRekognitionReadOnlyAccess: +2 actions"),
    ],
)
def test_the_subject_leads_with_a_high_or_critical_severity(severity: str | None, expected: str) -> None:
    digest = _digest(replace(v2_digest().notices[0], severity=severity))
    message = _render(digest)
    assert subject(digest) == message["Subject"] == expected
    text = _part(message, "plain")
    assert text.startswith(expected.replace("[Policy Watcher] ", "") + "\n")
    tag = f"  [{severity.upper()}] Actions added (Allow):\n" if severity else "  Actions added (Allow):\n"
    assert tag in text


def test_the_subject_of_a_mixed_digest_takes_the_highest_severity() -> None:
    digest = _digest(*risk_digest().notices, *reconciliation_digest().notices)
    assert subject(digest) == "[critical] [Policy Watcher] 3 policies changed (Amazon Rekognition) (+2 watcher alerts)"
    assert subject(reconciliation_digest()) == (
        "[Policy Watcher] undocumented change: AmazonRekognitionFullAccess; "
        "documentation mismatch: AmazonRekognitionReadOnlyAccess"
    )


@pytest.mark.parametrize(
    "fragment",
    [
        "Watcher alerts\n==============\n\n* Undocumented change: AmazonRekognitionFullAccess\n",
        "  Actions added on 2026-11-20 10:00 UTC (event 12); AWS documented nothing about it within 7 days.\n"
        "  Reason: no updates-table row or feed item mentions AmazonRekognitionFullAccess within 7 days of the change\n"
        "  Actions added (Allow):\n    + iam:PassRole\n    + s3:Get*\n",
        "* Documentation mismatch: AmazonRekognitionReadOnlyAccess\n",
        "  Reason: the updates row of 2023-10-31 says rekognition:Foo was added; the policy does not grant it\n"
        "  AWS wrote (2023-10-31): Actions added to the following managed policy",
        "  Actions AWS names that the policy lacks:\n    - rekognition:Foo\n",
    ],
)
def test_reconciliation_alerts_go_with_the_watcher_alerts(fragment: str) -> None:
    assert fragment in _part(_render(reconciliation_digest()), "plain")


def test_hostile_text_in_classifications_notes_and_alerts_is_escaped_and_stays_out_of_headers() -> None:
    message = _render(hostile_risk_digest())
    page = _part(message, "html")
    for hostile in HOSTILE_TEXTS:
        assert hostile not in page
    assert "&lt;!channel&gt; &amp; &lt;/script&gt;" in page
    text = _part(message, "plain")
    assert "\r" not in text and "\nX-Evil" not in text
    parsed = email.message_from_bytes(message.as_bytes(), policy=email_policy.default)
    assert parsed["X-Evil"] is None
    assert parsed["Subject"].startswith("[high] [Policy Watcher] Evil<!channel> & </script><http://evil|click> X-Evil")


# --- send: real SMTP servers ---------------------------------------------------------------------------------------


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
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (made with the openssl command) and its key."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    folder = tmp_path_factory.mktemp("smtp-tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return cert, key


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
