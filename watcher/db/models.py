"""Tables of the history database (DESIGN §4). Schema changes go through Alembic migrations.

Write only on change: an unchanged check adds one ``checks`` row and nothing else.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from watcher.db.types import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}  # noqa: RUF012


def table_of(model: type[Base]) -> Table:
    """The Core table of a mapped class, for bulk statements that skip the ORM's per-row bookkeeping."""
    return Base.metadata.tables[model.__tablename__]


class Source(Base):
    """A page or feed to watch, with its conditional-GET validators and health."""

    __tablename__ = "sources"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # page | feed
    url: Mapped[str] = mapped_column(Text)
    service: Mapped[str | None] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    last_checked_at: Mapped[dt.datetime | None]
    last_success_at: Mapped[dt.datetime | None]
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    failing: Mapped[bool] = mapped_column(Boolean, default=False)
    failing_since: Mapped[dt.datetime | None]
    """Start of the current run of failures (the key of its one ``source_failing`` event)."""
    last_body_sha256: Mapped[str | None] = mapped_column(String(64))
    """A body identical to the last one fetched is not parsed again."""
    guide: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[dt.datetime | None]
    """Replicas sharing a database check a source only while they hold its lease."""
    created_at: Mapped[dt.datetime]


class Check(Base):
    """One attempt to check a source. Kept small: an unchanged check adds only this row."""

    __tablename__ = "checks"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    started_at: Mapped[dt.datetime]
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    http_status: Mapped[int | None] = mapped_column(SmallInteger)
    outcome: Mapped[str] = mapped_column(String(20))  # not_modified unchanged changed baseline suspect error
    bytes: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("snapshots.id"))
    __table_args__ = (Index("ix_checks_source_started", "source_id", "started_at"),)


class Blob(Base):
    """A raw body, zlib-compressed, stored once per sha256 and only with a new snapshot."""

    __tablename__ = "blobs"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Snapshot(Base):
    """A distinct parse of a source. ``accepted`` is false for a suspect layout (kept, not the baseline)."""

    __tablename__ = "snapshots"
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    fetched_at: Mapped[dt.datetime]
    content_hash: Mapped[str] = mapped_column(String(64))
    blob_sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    parser_version: Mapped[str] = mapped_column(String(20))
    accepted: Mapped[bool] = mapped_column(Boolean, default=True)
    title: Mapped[str] = mapped_column(Text, default="")
    __table_args__ = (UniqueConstraint("source_id", "content_hash", name="uq_snapshots_source_hash"),)


class Policy(Base):
    """A managed policy as seen on one source."""

    __tablename__ = "policies"
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200), index=True)
    first_seen_at: Mapped[dt.datetime]
    removed_at: Mapped[dt.datetime | None]
    versions: Mapped[list[PolicyVersion]] = relationship(back_populates="policy", order_by="PolicyVersion.valid_from")
    __table_args__ = (UniqueConstraint("source_id", "name", name="uq_policies_source_name"),)


class PolicyVersion(Base):
    """One distinct state of a policy, valid from ``valid_from`` until ``valid_to`` (null: current)."""

    __tablename__ = "policy_versions"
    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id", ondelete="CASCADE"))
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshots.id"))
    valid_from: Mapped[dt.datetime]
    valid_to: Mapped[dt.datetime | None]
    status: Mapped[str] = mapped_column(String(20))
    defects: Mapped[list[Any]] = mapped_column(default=list)
    doc_hash: Mapped[str] = mapped_column(String(64))
    document: Mapped[dict[str, Any] | None]
    raw_json: Mapped[str | None] = mapped_column(Text)
    anchor: Mapped[str | None] = mapped_column(String(300))
    document_link: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    action_count: Mapped[int | None] = mapped_column(Integer)
    policy: Mapped[Policy] = relationship(back_populates="versions")
    __table_args__ = (Index("ix_policy_versions_policy_valid", "policy_id", "valid_from"),)


WILDCARD = text("action_lc LIKE '%*%'")
"""The rows ``when`` looks up by service: few, so a partial index finds them without reading the service's others."""


class PolicyAction(Base):
    """An interval during which a policy grants (or denies) an action: ``granted_to`` null means still."""

    __tablename__ = "policy_actions"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(300))
    action_lc: Mapped[str] = mapped_column(String(300))
    service: Mapped[str] = mapped_column(String(100))
    effect: Mapped[str] = mapped_column(String(10))  # Allow | Deny | NotAction
    granted_from: Mapped[dt.datetime]
    granted_to: Mapped[dt.datetime | None]
    __table_args__ = (
        Index("ix_policy_actions_action_lc", "action_lc"),
        Index("ix_policy_actions_service", "service"),
        Index("ix_policy_actions_policy_open", "policy_id", "granted_to"),
        Index("ix_policy_actions_wildcard", "service", sqlite_where=WILDCARD, postgresql_where=WILDCARD),
    )


class UpdateRowRecord(Base):
    """A row of a page's updates table, recorded the first time it is seen."""

    __tablename__ = "update_rows"
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    row_key: Mapped[str] = mapped_column(String(32))
    change: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    date: Mapped[str | None] = mapped_column(String(10))
    date_raw: Mapped[str | None] = mapped_column(Text)
    actions: Mapped[list[Any]] = mapped_column(default=list)
    policies: Mapped[list[Any]] = mapped_column(default=list)
    first_seen_at: Mapped[dt.datetime]
    baseline: Mapped[bool] = mapped_column(Boolean, default=False)
    __table_args__ = (UniqueConstraint("source_id", "row_key", name="uq_update_rows_source_key"),)


class FeedItemRecord(Base):
    __tablename__ = "feed_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    guid: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(Text)
    published: Mapped[str | None] = mapped_column(String(10))
    summary: Mapped[str] = mapped_column(Text, default="")
    first_seen_at: Mapped[dt.datetime]
    baseline: Mapped[bool] = mapped_column(Boolean, default=False)
    __table_args__ = (UniqueConstraint("source_id", "guid", name="uq_feed_items_source_guid"),)


class Event(Base):
    """Something worth telling people, stored with the snapshot that caused it."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("snapshots.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30), index=True)
    policy: Mapped[str | None] = mapped_column(String(200), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    detected_at: Mapped[dt.datetime] = mapped_column(index=True)
    dedupe_key: Mapped[str] = mapped_column(String(64), unique=True)
    severity: Mapped[str | None] = mapped_column(String(10), index=True)
    """``payload["severity"]`` (info, low, medium, high, critical); null for operator alerts and older events."""


class EventAction(Base):
    """The actions an event names, one row each, so views and filters need no JSON functions."""

    __tablename__ = "event_actions"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(300))
    action_lc: Mapped[str] = mapped_column(String(300), index=True)
    effect: Mapped[str] = mapped_column(String(10))


class Delivery(Base):
    """One message to one channel: the digest of one check's events (DESIGN §5, the outbox).

    ``sent`` only after the channel accepted it; ``sending`` rows whose lease expired are claimed again.
    """

    __tablename__ = "deliveries"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(100))
    digest_key: Mapped[str] = mapped_column(String(64))
    """The idempotency key every attempt carries (webhook header, email Message-ID)."""
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending sending retrying sent dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime]
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    sent_at: Mapped[dt.datetime | None]
    __table_args__ = (
        UniqueConstraint("channel", "digest_key", name="uq_deliveries_channel_digest"),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
    )


class DeliveryEvent(Base):
    """The events a delivery carries."""

    __tablename__ = "delivery_events"
    delivery_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("deliveries.id", ondelete="CASCADE"), primary_key=True
    )
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
