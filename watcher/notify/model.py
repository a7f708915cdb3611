"""What every channel renders and how every channel answers.

A ``Digest`` is the events of one check that pass a channel's filters, as ``Notice`` values (plain data
taken from the stored events, never ORM objects). ``send`` returns a ``SendResult``; it never raises for
a channel's answer or a network error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

OPERATOR_KINDS = frozenset({"source_failing", "source_recovered", "layout_suspect", "parse_failed", "delivery_dead"})
"""Events about the watcher's own health: routed to channels with ``operator = true``."""


@dataclass(frozen=True)
class Notice:
    """One event as a channel shows it."""

    kind: str
    source: str
    service: str | None
    policy: str | None
    grants: tuple[tuple[str, str], ...]
    """(effect, action) pairs; effect is Allow, Deny or NotAction."""
    detected_at: str
    """ISO 8601, UTC."""
    url: str | None
    """The page, with ``#anchor`` of the policy when known."""
    details: dict[str, Any] = field(default_factory=dict)
    """Kind-specific: an updates row (change, description, date), a feed item (title, link), a reason..."""
    update_row: dict[str, Any] | None = None
    """For policy changes: the updates-table row AWS wrote about this policy in the same check, if any."""
    event_id: int = 0


@dataclass(frozen=True)
class Digest:
    """One message: the notices of one check for one channel."""

    key: str
    """Idempotency key: the same on every retry (webhook ``X-Watcher-Delivery``, email ``Message-ID``)."""
    notices: tuple[Notice, ...]
    title: str = "Policy Watcher"


@dataclass(frozen=True)
class SendResult:
    ok: bool
    detail: str
    """The channel's answer in one line (status and body excerpt), never a secret."""
    permanent: bool = False
    """The channel will never accept this (Slack 404 / no_service, webhook 4xx, SMTP 5xx): dead at once."""
    retry_after: float | None = None
    """Seconds the channel asked us to wait (429 ``Retry-After``)."""


class Channel(Protocol):
    """A configured destination: renders a digest and sends it."""

    name: str

    def deliver(self, digest: Digest) -> SendResult: ...
