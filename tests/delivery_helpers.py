"""Shared pieces of the delivery reliability tests (tests/test_delivery_*.py): the project root, the HMAC key,
the subprocess environment, an injected clock, and the outbox rows and events as stored.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.history_helpers import T0
from watcher.db.models import Delivery, Event

ROOT = Path(__file__).resolve().parent.parent
SECRET = "hmac-key-reliability-7Qx"
TIMEOUT = 60.0
"""Longest wait for a subprocess to say something (a safety net: the tests wait on what they print)."""


def _child_env(**secrets: str) -> dict[str, str]:
    """The environment of a subprocess: this one's without WATCHER_* overrides, loopback unproxied, the secrets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHER_")}
    return {**env, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1", **secrets}


class Clock:
    def __init__(self, start: dt.datetime = T0) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


def _rows(sessions: sessionmaker[Session]) -> list[Delivery]:
    with sessions() as session:
        rows = list(session.scalars(select(Delivery).order_by(Delivery.id)))
        session.expunge_all()
        return rows


def _event_ids(sessions: sessionmaker[Session]) -> list[int]:
    with sessions() as session:
        return list(session.scalars(select(Event.id).order_by(Event.id)))
