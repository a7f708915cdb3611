"""Apprise channel (optional, ``pip install 'policy-watcher[apprise]'``): any service Apprise knows, from one URL.

The title is the digest's summary line and the body the console text (:mod:`watcher.notify.console`), so
page text arrives without control characters. Apprise is imported when a message is sent, never at start:
without it the channel answers a permanent error saying how to install it.
"""

from __future__ import annotations

from watcher.notify import console
from watcher.notify.model import Digest, SendResult

NOT_INSTALLED = "apprise is not installed: pip install 'policy-watcher[apprise]'"


def render(digest: Digest) -> tuple[str, str]:
    """(title, body) as plain text (pure)."""
    return console.summary(digest), console.body(digest) or console.summary(digest)


def send(url: str, title: str, body: str) -> SendResult:
    """Notify through Apprise; never raises, and the detail never shows the URL (it holds the credentials)."""
    try:
        import apprise  # type: ignore[import-not-found, import-untyped, unused-ignore]  # optional, maybe untyped
    except ImportError:
        return SendResult(False, NOT_INSTALLED, permanent=True)
    try:
        notifier = apprise.Apprise()
        if not notifier.add(url):
            return SendResult(False, "invalid Apprise URL (Apprise does not recognise it)", permanent=True)
        if not notifier.notify(title=title, body=body):
            return SendResult(False, "Apprise could not deliver the notification (its log says why)")
    except Exception as exc:  # send never raises
        return SendResult(False, f"Apprise failed: {type(exc).__name__}")
    return SendResult(True, "delivered by Apprise")
