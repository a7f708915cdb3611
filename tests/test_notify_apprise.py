"""The optional Apprise channel, with Apprise really installed, posting to a loopback receiver (``json://``)."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest

from tests.loopback import Reply, free_port
from tests.notify_risk_samples import hostile_risk_digest, reconciliation_digest, risk_digest
from tests.notify_samples import hostile_digest, v2_digest, v3_digest
from tests.test_notify_webhook import receiver
from watcher.notify import apprise_channel, console

needs_apprise = pytest.mark.skipif(
    importlib.util.find_spec("apprise") is None,
    reason="apprise is not installed: pip install 'policy-watcher[apprise]'",
)


def json_url(base: str, path: str = "/notify") -> str:
    return base.replace("http://", "json://", 1) + path


def test_render_is_the_summary_and_the_console_body() -> None:
    title, body = apprise_channel.render(v3_digest())
    assert title == "Policy Watcher: 1 new policy, 1 policy with actions removed, 2 AWS updates"
    assert body == console.body(v3_digest())
    assert console.render(v3_digest()) == f"{title}\n\n{body}\n"


def test_render_keeps_page_controls_out() -> None:
    for digest in (hostile_digest(), hostile_risk_digest()):
        title, body = apprise_channel.render(digest)
        assert "\r" not in title + body and "\n" not in title
        assert "\x1b" not in title + body  # plain text: colours are for terminals only


@pytest.mark.parametrize(
    "part, text",
    [
        (0, "[critical] Policy Watcher: 1 policy with actions added"),
        (1, "[CRITICAL] AmazonRekognitionFullAccess: actions added\n"),
        (1, "\n  + Allow iam:PassRole  Write · privilege escalation · on *\n"),
        (1, "\n  + Allow s3:Get*  grants 54 actions (Read 54) · resource exposure · on *; riskiest: s3:GetObject"),
        (1, "\n  + Allow rekognition:DoTheThing  unknown action (new API or typo)\n"),
        (1, "\n  note: AWS states that it does not remove permissions"),
    ],
)
def test_render_carries_severities_levels_flags_and_notes(part: int, text: str) -> None:
    assert text in apprise_channel.render(risk_digest())[part]


def test_render_carries_the_reconciliation_alerts() -> None:
    title, body = apprise_channel.render(reconciliation_digest())
    assert title == "Policy Watcher: 1 undocumented change, 1 documentation mismatch"
    assert body.startswith("Undocumented change: AmazonRekognitionFullAccess: actions added on ")
    assert "\nDocumentation mismatch: AmazonRekognitionReadOnlyAccess: " in body


@needs_apprise
def test_it_delivers_title_and_body_through_apprise() -> None:
    title, body = apprise_channel.render(v2_digest())
    with receiver() as hook:
        hook.script("/notify", Reply(200, b"{}", content_type="application/json"))
        result = apprise_channel.send(json_url(hook.base), title, body)
        (seen,), (sent,) = hook.requests, hook.bodies
    assert result.ok and result.detail == "delivered by Apprise"
    assert seen.method == "POST"
    payload = json.loads(sent)
    assert (payload["title"], payload["message"]) == (title, body)


@needs_apprise
def test_a_failed_notify_is_temporary_and_does_not_name_the_url() -> None:
    with receiver() as hook:
        hook.script("/notify", Reply(500, b"down"))
        url = json_url(hook.base.replace("http://", "http://watcher:s3cret-pass@"), "/notify?token=t0ken")
        result = apprise_channel.send(url, "title", "body")
        assert hook.count("/notify") == 1
    assert not result.ok and not result.permanent
    for secret in ("s3cret-pass", "t0ken", hook.base.removeprefix("http://")):
        assert secret not in result.detail


@needs_apprise
def test_an_unreachable_endpoint_is_temporary() -> None:
    result = apprise_channel.send(f"json://127.0.0.1:{free_port()}/notify", "title", "body")
    assert not result.ok and not result.permanent


@needs_apprise
@pytest.mark.parametrize("url", ["nosuchscheme://host/path", "not a url", ""])
def test_an_invalid_url_is_permanent(url: str) -> None:
    result = apprise_channel.send(url, "title", "body")
    assert not result.ok and result.permanent
    assert result.detail == "invalid Apprise URL (Apprise does not recognise it)"


def test_without_apprise_the_channel_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "apprise", None)  # import apprise now raises ImportError
    result = apprise_channel.send("json://127.0.0.1/notify", "title", "body")
    assert not result.ok and result.permanent
    assert result.detail == "apprise is not installed: pip install 'policy-watcher[apprise]'"
