"""Run by test_delivery_reliability in a subprocess: claim the due rows, send the first, stop dead before marking it.

Usage: python -m tests.deliver_child DATABASE_URL NOW. The channel is ``CHANNEL``, a webhook whose URL and HMAC
key come from the environment (WATCHER_WEBHOOK_URL, WATCHER_WEBHOOK_SECRET), built as ``watcher run`` builds it.
The deliverer's clock stands still at NOW (ISO 8601). Once the channel has answered the first send the child
prints READY, then waits on stdin until it is killed: the row is sent but never marked.
"""

from __future__ import annotations

import datetime as dt
import os
import sys

from watcher.db.engine import make_engine, session_factory
from watcher.notify.channels import build
from watcher.notify.model import SendResult
from watcher.notify.settings import Secrets, WebhookSettings
from watcher.outbox import Deliverer

CHANNEL = WebhookSettings(type="webhook", name="hook", timeout=10)
OWNER = "doomed-deliverer"


def _hang_before_marking(delivery_id: int, result: SendResult) -> None:
    print("READY", flush=True)
    sys.stdin.readline()  # the parent kills us here, before the row is marked


def main() -> None:
    url, now = sys.argv[1], dt.datetime.fromisoformat(sys.argv[2])
    senders = {CHANNEL.name: build(CHANNEL, Secrets.load(os.environ))}
    deliverer = Deliverer(session_factory(make_engine(url)), senders, owner=OWNER, clock=lambda: now)
    setattr(deliverer, "_mark", _hang_before_marking)  # noqa: B010
    deliverer.run_once()


if __name__ == "__main__":
    main()
