"""What every channel renders and how every channel answers.

A ``Digest`` is the events of one check that pass a channel's filters, as ``Notice`` values (plain data
taken from the stored events, never ORM objects). ``send`` returns a ``SendResult``; it never raises for
a channel's answer or a network error.

``ActionNote`` is what every channel says about one granted action, from the event's
``details["classification"]``: its access level and risk flags, what a wildcard expands to, or that the
action is unknown. Its texts are plain and unescaped: each channel escapes them as it does page text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from watcher.risk.levels import Severity, highest, parse_severity

OPERATOR_KINDS = frozenset(
    {
        "source_failing",
        "source_recovered",
        "layout_suspect",
        "parse_failed",
        "delivery_dead",
        "undocumented_change",
        "documentation_mismatch",
    }
)
"""Events about the watcher's own health, and the reconciliation of what AWS said with what it did: routed to
channels with ``operator = true``."""


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
    severity: str | None = None
    """info, low, medium, high or critical (``payload["severity"]``); None for events stored without one."""

    @property
    def level(self) -> Severity | None:
        """``severity`` as a ``Severity``; None when missing or not a level (then nothing is shown)."""
        return _level(self.severity)

    def action_notes(self) -> dict[tuple[str, str], ActionNote]:
        """(effect, action) -> what the classification says about that grant; empty without one."""
        return action_notes(self.details.get("classification"))


@dataclass(frozen=True)
class Digest:
    """One message: the notices of one check for one channel."""

    key: str
    """Idempotency key: the same on every retry (webhook ``X-Watcher-Delivery``, email ``Message-ID``)."""
    notices: tuple[Notice, ...]
    title: str = "Policy Watcher"

    @property
    def level(self) -> Severity | None:
        """The highest severity of its notices; None when none has one."""
        return highest_level(n.level for n in self.notices)

    @property
    def alarming(self) -> Severity | None:
        """The highest severity when it is high or critical (a message's headline then leads with it), else None."""
        level = self.level
        return level if level is not None and level.rank >= Severity.HIGH.rank else None


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


# --- what a channel says about a severity and a granted action ---------------------------------------------------


def _level(value: object) -> Severity | None:
    if not isinstance(value, str) or not value.strip():
        return None
    level = parse_severity(value.strip(), Severity.INFO)
    return level if level.value == value.strip().lower() else None


def highest_level(levels: Iterable[Severity | None]) -> Severity | None:
    """The highest of ``levels`` ignoring None; None when all are None."""
    present = [level for level in levels if level is not None]
    return highest(present) if present else None


RISKIEST_SHOWN = 3
"""Riskiest members of a wildcard named in a message."""


@dataclass(frozen=True)
class ActionNote:
    """What a message says about one granted action (plain text, unescaped)."""

    summary: str
    """``Write``; ``grants 54 actions (Read 54)``; ``unknown action (new API or typo)``; or empty."""
    flags: tuple[str, ...] = ()
    """Risk flags in words, riskiest first: ``privilege escalation``, ``credentials exposure``, ..."""
    on_all_resources: bool = False
    """Granted on ``Resource: *``."""
    riskiest: tuple[str, ...] = ()
    """For a wildcard, its riskiest members (at most ``RISKIEST_SHOWN``)."""
    more_riskiest: bool = False
    """The wildcard names more members than ``riskiest``."""

    def text(self) -> str:
        """``Write · privilege escalation · on *``; ``...; riskiest: s3:GetObject, s3:PutObject, ...``."""
        parts = [p for p in (self.summary, *self.flags) if p]
        if self.on_all_resources:
            parts.append("on *")
        out = " · ".join(parts)
        if self.riskiest:
            out += f"; riskiest: {', '.join(self.riskiest)}" + (", ..." if self.more_riskiest else "")
        return out


def _words(value: object) -> str:
    return " ".join(str(value).replace("_", " ").split()) if value is not None else ""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def action_note(entry: Mapping[str, Any]) -> ActionNote:
    """The note of one classified grant (an item of ``classification["grants"]``)."""
    flags = tuple(w for f in entry.get("flags") or () if (w := _words(f)))
    on_all = entry.get("on_all_resources") is True
    count = entry.get("expands_to_count")
    count = count if isinstance(count, int) and not isinstance(count, bool) else 0
    everything_but = entry.get("grants_all_except")
    if isinstance(everything_but, list) and everything_but:
        # A NotAction entry of an Allow statement: the statement allows every action but those it lists.
        shown_but = everything_but[:RISKIEST_SHOWN]
        but = ", ".join(str(a) for a in shown_but) + (", …" if len(everything_but) > len(shown_but) else "")
        lead = f"the statement allows every action except {but}: {_plural(count, 'action')}"
        return _summary_note(entry, lead, flags, on_all, count)
    if entry.get("wildcard"):
        if entry.get("unknown") or count == 0:
            return ActionNote("matches no known action (new API or typo)", on_all_resources=on_all)
        return _summary_note(entry, f"grants {_plural(count, 'action')}", flags, on_all, count)
    if entry.get("unknown"):
        return ActionNote("unknown action (new API or typo)", on_all_resources=on_all)
    return ActionNote(_words(entry.get("access_level")), flags, on_all)


def _summary_note(entry: Mapping[str, Any], lead: str, flags: tuple[str, ...], on_all: bool, count: int) -> ActionNote:
    """The note of a grant standing for many actions: how many per access level, and the riskiest of them."""
    levels = entry.get("levels")
    shown = ", ".join(f"{_words(level)} {n}" for level, n in (levels.items() if isinstance(levels, Mapping) else ()))
    members = [m for m in entry.get("riskiest") or () if isinstance(m, Mapping) and m.get("action")]
    return ActionNote(
        lead + (f" ({shown})" if shown else ""),
        flags,
        on_all,
        tuple(str(m["action"]) for m in members[:RISKIEST_SHOWN]),
        count > min(len(members), RISKIEST_SHOWN),
    )


def action_notes(classification: object) -> dict[tuple[str, str], ActionNote]:
    """(effect, action) -> its note, for every grant ``classification`` describes (empty when it is not one)."""
    if not isinstance(classification, Mapping):
        return {}
    out: dict[tuple[str, str], ActionNote] = {}
    for entry in classification.get("grants") or ():
        if isinstance(entry, Mapping) and entry.get("action") is not None:
            out.setdefault((str(entry.get("effect")), str(entry["action"])), action_note(entry))
    return out
