"""The typed domain model that every parser produces and every later step consumes.

Everything here is immutable and free of I/O. ``Page`` and ``Feed`` are what ``watcher.parse.parse``
returns; ``watcher.render.to_json`` turns them into the documented JSON interface.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """What a body turned out to be (detected, never configured)."""

    SERVICE_PAGE = "service_page"
    MARKDOWN_PAGE = "markdown_page"
    REFERENCE_PAGE = "reference_page"
    FEED = "feed"
    UNKNOWN = "unknown"


class PolicyStatus(StrEnum):
    """How trustworthy a policy's document is.

    ``ok``: strict JSON. ``repaired``: malformed JSON that was repaired safely (``defects`` says how).
    ``unparseable``: the raw text is kept but the actions are unknown, never empty.
    ``no_document``: the page links to the document instead of embedding it (``document_link``).
    """

    OK = "ok"
    REPAIRED = "repaired"
    UNPARSEABLE = "unparseable"
    NO_DOCUMENT = "no_document"


@dataclass(frozen=True)
class ParseWarning:
    """Something the parser noticed and wants a person to know; never fatal."""

    code: str
    message: str
    policy: str | None = None


@dataclass(frozen=True)
class ActionSet:
    """Sorted, de-duplicated (case-insensitively) action names, as published."""

    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        return len(self.allow) + len(self.deny) + len(self.not_actions)


@dataclass(frozen=True)
class Policy:
    """One managed policy as a page presents it."""

    name: str
    anchor: str | None
    description: str
    status: PolicyStatus
    defects: tuple[str, ...] = ()
    raw_json: str | None = None
    document: dict[str, Any] | None = None
    """The canonical document (see ``watcher.canonical``); ``None`` unless status is ok or repaired."""
    document_link: str | None = None
    actions: ActionSet | None = None
    """``None`` when the actions are unknown (unparseable or no document)."""
    json_blocks: int = 0
    document_block_index: int | None = None
    arn: str | None = None
    version: str | None = None
    created: str | None = None
    edited: str | None = None


@dataclass(frozen=True)
class UpdateRow:
    """A row of the "<Service> updates to AWS managed policies" table."""

    change: str
    description: str
    date: str | None
    date_raw: str | None
    actions: tuple[str, ...] = ()
    """``service:Action`` names the row's text mentions, sorted."""
    policies: tuple[str, ...] = ()
    """Policy names the row's text mentions, sorted."""
    anchor: str | None = None

    def record(self) -> dict[str, Any]:
        """What the history keeps of the row (its ``update_rows`` columns and its event's detail), as plain JSON."""
        return {
            "change": self.change,
            "description": self.description,
            "date": self.date,
            "date_raw": self.date_raw,
            "actions": list(self.actions),
            "policies": list(self.policies),
        }


@dataclass(frozen=True)
class FeedItem:
    guid: str
    title: str
    link: str | None
    published: str | None
    """ISO date (``YYYY-MM-DD``) of the item's publication, or ``None``."""
    summary: str


@dataclass(frozen=True)
class Page:
    """A parsed service page, markdown source or policy reference page."""

    kind: Kind
    url: str | None
    title: str
    service: str | None = None
    policies: tuple[Policy, ...] = ()
    updates: tuple[UpdateRow, ...] = ()
    warnings: tuple[ParseWarning, ...] = ()
    feed_url: str | None = None
    content_hash: str = ""


@dataclass(frozen=True)
class Feed:
    """A parsed document-history feed."""

    url: str | None
    title: str
    link: str | None
    last_build: str | None
    items: tuple[FeedItem, ...] = ()
    warnings: tuple[ParseWarning, ...] = ()
    content_hash: str = ""
    kind: Kind = field(default=Kind.FEED)


Parsed = Page | Feed
