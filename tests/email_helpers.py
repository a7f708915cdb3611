"""Helpers shared by the email channel tests: sample notices, rendering a digest, its parts and golden files.

Golden files live in tests/golden/email/; ``UPDATE_GOLDEN=1`` rewrites them.
"""

from __future__ import annotations

import os
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from tests.notify_samples import DETECTED_AT, PAGE, SERVICE, SOURCE, policy_url
from watcher.notify.email import render
from watcher.notify.model import Digest, Notice

GOLDEN = Path(__file__).parent / "golden" / "email"
SENDER = "Policy Watcher <watcher@example.com>"
RECIPIENTS = ["security@example.com", "platform@example.com"]
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
