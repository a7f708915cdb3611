"""Sources, checks, blobs and snapshots."""

from __future__ import annotations

import datetime as dt
import hashlib
import zlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert

from watcher.db.models import Blob, Check, Snapshot, Source, table_of

PARSER_VERSION = "1"


class SourceConfig(Protocol):
    """What a configured source says of its row (``watcher.config.SourceSettings`` is one)."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def service(self) -> str | None: ...
    @property
    def guide(self) -> str | None: ...


def get_or_create_source(
    session: Session, name: str, *, kind: str, url: str, service: str | None, now: dt.datetime
) -> Source:
    """The source called ``name``; created on first use (``watcher ingest`` of a new name)."""
    source = session.scalars(select(Source).where(Source.name == name)).one_or_none()
    if source is None:
        try:
            with session.begin_nested():  # another replica may create it at the same moment
                source = Source(name=name, kind=kind, url=url, service=service, created_at=now)
                session.add(source)
        except IntegrityError:
            source = session.scalars(select(Source).where(Source.name == name)).one()
    elif source.service is None and service:
        source.service = service
    return source


def find_source(session: Session, name: str) -> Source | None:
    return session.scalars(select(Source).where(Source.name == name)).one_or_none()


def snapshot_with_hash(session: Session, source_id: int, content_hash: str) -> Snapshot | None:
    stmt = select(Snapshot).where(Snapshot.source_id == source_id, Snapshot.content_hash == content_hash)
    return session.scalars(stmt).one_or_none()


def baseline(session: Session, source_id: int) -> Snapshot | None:
    """The newest accepted snapshot: what the next parse is compared with."""
    stmt = (
        select(Snapshot)
        .where(Snapshot.source_id == source_id, Snapshot.accepted.is_(True))
        .order_by(Snapshot.id.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


def insert_or_skip(session: Session, model: type[Blob] | type[Source], index: str) -> Insert:
    """``INSERT ... ON CONFLICT (index) DO NOTHING`` in the session's dialect (only that dialect's module loads)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(model).on_conflict_do_nothing(index_elements=[index])
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(model).on_conflict_do_nothing(index_elements=[index])


def store_blob(session: Session, body: bytes) -> str:
    """Store ``body`` once per sha256; concurrent checks of sources that serve the same body both succeed.

    One statement: a body stored before (rare: a page back at an old version) is compressed for nothing.
    """
    digest = hashlib.sha256(body).hexdigest()
    values = {"sha256": digest, "size": len(body), "data": zlib.compress(body, 3)}
    session.execute(insert_or_skip(session, Blob, "sha256").values(values))
    return digest


def read_blob(session: Session, digest: str) -> bytes | None:
    blob = session.get(Blob, digest)
    return None if blob is None else zlib.decompress(blob.data)


def add_snapshot(
    session: Session,
    source: Source,
    *,
    body: bytes,
    content_hash: str,
    title: str,
    fetched_at: dt.datetime,
    accepted: bool,
) -> int:
    """Store the body and a snapshot of it; the snapshot's id (one Core INSERT, no ORM object to flush)."""
    values = {
        "source_id": source.id,
        "fetched_at": fetched_at,
        "content_hash": content_hash,
        "blob_sha256": store_blob(session, body),
        "parser_version": PARSER_VERSION,
        "accepted": accepted,
        "title": title,
    }
    snapshots = table_of(Snapshot)
    return int(session.connection().execute(insert(snapshots).returning(snapshots.c.id), values).scalar_one())


@dataclass(frozen=True)
class CheckRecord:
    outcome: str
    started_at: dt.datetime
    duration_ms: int = 0
    http_status: int | None = None
    bytes: int | None = None
    error: str | None = None
    snapshot_id: int | None = None


def add_check(session: Session, source: Source, record: CheckRecord) -> None:
    """The check's row (one Core INSERT) and the source's last check and success."""
    values = {
        "source_id": source.id, "started_at": record.started_at, "duration_ms": record.duration_ms,
        "http_status": record.http_status, "outcome": record.outcome, "bytes": record.bytes, "error": record.error,
        "snapshot_id": record.snapshot_id,
    }  # fmt: skip
    session.connection().execute(insert(table_of(Check)), values)
    source.last_checked_at = record.started_at
    if record.outcome != "error":
        source.last_success_at = record.started_at


def sync_source(
    session: Session, *, name: str, kind: str, url: str, service: str | None, guide: str | None, now: dt.datetime
) -> Source:
    """The source row for a configured source: created, or brought in line with the config."""
    source = get_or_create_source(session, name, kind=kind, url=url, service=service, now=now)
    if source.url != url:
        source.url = url
        source.etag = source.last_modified = source.last_body_sha256 = None  # validators of another URL
    source.kind, source.guide = kind, guide
    if service:
        source.service = service
    return source


def sync_sources(session: Session, configs: Collection[SourceConfig], now: dt.datetime) -> None:
    """The rows of many configured sources, created in one statement or brought in line: each one's first claim is
    then the lean one (``watcher.store.checks.claim_synced``). Another replica creating some at the same moment is
    fine: their rows are left as it wrote them."""
    existing: dict[str, Source] = {}
    names = [c.name for c in configs]
    for start in range(0, len(names), 500):
        stmt = select(Source).where(Source.name.in_(names[start : start + 500]))
        existing.update((source.name, source) for source in session.scalars(stmt))
    rows = [
        {"name": c.name, "kind": c.kind, "url": c.url, "service": c.service, "guide": c.guide, "created_at": now}
        for c in configs
        if c.name not in existing
    ]
    if rows:
        session.execute(insert_or_skip(session, Source, "name").values(rows))
    for c in configs:
        source = existing.get(c.name)
        if source is not None and (source.url, source.kind, source.guide) != (c.url, c.kind, c.guide):
            sync_source(session, name=c.name, kind=c.kind, url=c.url, service=c.service, guide=c.guide, now=now)
        elif source is not None and c.service and source.service != c.service:
            source.service = c.service


def take_lease(
    session: Session, source_id: int, owner: str, now: dt.datetime, ttl: dt.timedelta, fresh_for: dt.timedelta | None
) -> bool:
    """Claim the right to check a source (conditional UPDATE, so it works on SQLite and PostgreSQL).

    Fails while another replica holds an unexpired lease, or, with ``fresh_for``, while the source was
    checked more recently than that (another replica just did it).
    """
    free = or_(Source.lease_until.is_(None), Source.lease_until < now, Source.lease_owner == owner)
    conditions = [Source.id == source_id, free]
    if fresh_for is not None:
        conditions.append(or_(Source.last_checked_at.is_(None), Source.last_checked_at <= now - fresh_for))
    stmt = update(Source).where(*conditions).values(lease_owner=owner, lease_until=now + ttl)
    result = session.execute(stmt.execution_options(synchronize_session=False))
    return bool(getattr(result, "rowcount", 0) == 1)


def release_lease(source: Source, owner: str) -> None:
    if source.lease_owner == owner:
        source.lease_owner = None
        source.lease_until = None


def derived_sources(session: Session, page: str, *, exclude: Collection[str] = ()) -> list[Source]:
    """The sources checked on behalf of page source ``page``: named ``<page>/<Policy>``, oldest first.

    ``exclude`` names configured sources that merely look derived; they are never touched.
    """
    prefix = f"{page}/"
    stmt = select(Source).where(Source.name.startswith(prefix, autoescape=True)).order_by(Source.id)
    with session.no_autoflush:  # only names are compared, and new rows are flushed when created: no UPDATE first
        found = session.scalars(stmt).all()
    return [  # SQLite's LIKE ignores case: the prefix is compared again here
        s for s in found if s.name.startswith(prefix) and "/" not in s.name[len(prefix) :] and s.name not in exclude
    ]


def sync_derived_sources(
    session: Session,
    page: str,
    urls: Mapping[str, str],
    *,
    service: str | None,
    guide: str | None,
    now: dt.datetime,
    disable_others: bool,
    exclude: Collection[str] = (),
) -> bool:
    """Create or re-enable the derived sources named in ``urls`` (name -> URL) of ``page``; whether any of its
    derived sources may now be enabled (``False`` is certain: there are none, or all were just disabled).

    With ``disable_others``, the page's other derived sources are disabled (kept, with their history, unchecked).
    """
    for name, url in urls.items():
        source = sync_source(session, name=name, kind="page", url=url, service=service, guide=guide, now=now)
        source.enabled = True
    if not disable_others:
        return True
    for source in derived_sources(session, page, exclude=exclude):
        if source.name not in urls:
            source.enabled = False
    return bool(urls)


def due_derived_sources(session: Session, page: str, limit: int, *, exclude: Collection[str] = ()) -> list[Source]:
    """Up to ``limit`` enabled derived sources of ``page``: never checked first, then the longest unchecked."""
    enabled = [s for s in derived_sources(session, page, exclude=exclude) if s.enabled]
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
    enabled.sort(key=lambda s: (s.last_checked_at is not None, s.last_checked_at or epoch, s.id))
    return enabled[:limit]


def latest_body(session: Session, source_name: str) -> bytes | None:
    """The body of the newest snapshot of ``source_name`` (accepted or not), if any."""
    stmt = (
        select(Snapshot.blob_sha256)
        .join(Source, Source.id == Snapshot.source_id)
        .where(Source.name == source_name)
        .order_by(Snapshot.id.desc())
        .limit(1)
    )
    digest = session.scalars(stmt).first()
    return None if digest is None else read_blob(session, digest)
