"""The lean statements of a check that ingests nothing (Core, no ORM objects): claim and record.

Most checks find nothing new (304, or the same bytes again): for those, claiming the source is one UPDATE … RETURNING
and recording the check one INSERT plus one UPDATE. Anything else (a source to create or bring in line with its
config, a health event to write, links to sync) goes through the ORM functions of ``watcher.store.sources``.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    Table,
    Update,
    and_,
    bindparam,
    case,
    exists,
    insert,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, sessionmaker

from watcher.db.models import Base
from watcher.health import Health
from watcher.model import PolicyStatus
from watcher.store.sources import PARSER_VERSION, CheckRecord

if TYPE_CHECKING:
    from watcher.config import HttpSettings

LEASE_TTL = dt.timedelta(minutes=15)
"""The shortest lease a check takes on its source (``lease_ttl``)."""


def lease_ttl(http: HttpSettings) -> dt.timedelta:
    """How long a check holds its source's lease: its longest fetch and 5 minutes more (waiting for a slot,
    writing), never less than ``LEASE_TTL``, so that no replica takes a source whose check is still going."""
    return max(LEASE_TTL, dt.timedelta(seconds=http.longest_fetch(), minutes=5))


SOURCES: Table = Base.metadata.tables["sources"]
CHECKS: Table = Base.metadata.tables["checks"]
SNAPSHOTS: Table = Base.metadata.tables["snapshots"]
POLICIES: Table = Base.metadata.tables["policies"]
VERSIONS: Table = Base.metadata.tables["policy_versions"]


@dataclass(frozen=True)
class Claimed:
    """A source's row as its lease was taken: what the conditional GET and the health rules need."""

    source_id: int
    etag: str | None
    last_modified: str | None
    body_sha256: str | None
    health: Health = field(default_factory=Health)
    stored_links: bool = True
    """False when asked (``probe_links``) and the newest snapshot cannot link to a reference page (its stored
    body need not be read)."""
    derived: bool = True
    """False when asked (``probe_derived``) and no enabled source is named like a derived source of it."""


@dataclass(frozen=True)
class Config:
    """What a configured source says of its row (``watcher.store.sources.sync_source`` writes it)."""

    name: str
    kind: str
    url: str
    service: str | None
    guide: str | None


@contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Connection]:
    """A connection in a transaction on the database of ``sessions``, committed unless an exception is raised:
    straight from the engine (a Session's bookkeeping costs more than these statements)."""
    bind = sessions.kw.get("bind")
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            yield conn
    else:
        with sessions.begin() as session:
            yield session.connection()


def _stored_links_absent() -> ColumnElement[bool]:
    """True when the newest snapshot of source ``p_id`` cannot link to a reference page; null if it has none.

    That is: it is accepted, parsed by this parser version, and none of the page's current policy versions is a
    policy without a document that links somewhere, so ``watcher.references.references`` would find nothing in
    its body (there is no need to read and decompress it).
    """
    s, p, v = SNAPSHOTS.c, POLICIES.c, VERSIONS.c
    linked = exists().where(
        p.source_id == bindparam("p_id"),
        p.removed_at.is_(None),
        v.policy_id == p.id,
        v.valid_to.is_(None),
        v.status == PolicyStatus.NO_DOCUMENT.value,
        v.document_link.is_not(None),
    )
    current = and_(s.accepted.is_(True), s.parser_version == PARSER_VERSION, ~linked)
    newest = select(current).where(s.source_id == bindparam("p_id")).order_by(s.id.desc()).limit(1)
    return newest.scalar_subquery()


def _derived_exist() -> ColumnElement[bool]:
    """Whether any enabled source's name starts with ``p_prefix`` (a LIKE pattern): a superset of the enabled
    derived sources of the page (SQLite's LIKE ignores case; configured sources are not left out)."""
    other = SOURCES.alias("other")
    return exists().where(other.c.name.like(bindparam("p_prefix"), escape="/"), other.c.enabled.is_(True))


@functools.cache
def _probe_statement(links: bool, derived: bool) -> Select[bool | None, bool | None]:
    """The probes of ``claim_synced`` (each a column, null if not asked), built once per shape."""
    return select(
        _stored_links_absent().label("stored_links_absent") if links else null().label("stored_links_absent"),
        _derived_exist().label("derived_exist") if derived else null().label("derived_exist"),
    )


@functools.cache
def _claim_statement(guide: bool, service: bool, fresh: bool) -> Update:
    """The claim of ``claim_synced``, built once per shape (whether the config names a guide and a service, and
    whether freshness counts): the same object each time, so SQLAlchemy compiles it once."""
    c = SOURCES.c
    conditions = [
        c.name == bindparam("p_name"),
        c.url == bindparam("p_url"),
        c.kind == bindparam("p_kind"),
        c.guide == bindparam("p_guide") if guide else c.guide.is_(None),
        or_(c.lease_until.is_(None), c.lease_until < bindparam("p_now"), c.lease_owner == bindparam("p_owner")),
    ]
    if service:
        conditions.append(c.service == bindparam("p_service"))
    if fresh:
        conditions.append(or_(c.last_checked_at.is_(None), c.last_checked_at <= bindparam("p_checked_before")))
    return (
        update(SOURCES)
        .where(*conditions)
        .values(lease_owner=bindparam("p_owner"), lease_until=bindparam("p_until"))
        .returning(
            c.id, c.etag, c.last_modified, c.last_body_sha256, c.consecutive_failures, c.failing, c.failing_since
        )
    )


def _like_prefix(name: str) -> str:
    """The LIKE pattern of the names starting with ``name/`` (``/`` escapes)."""
    escaped = name.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"{escaped}//%"


def claim_synced(
    conn: Connection,
    config: Config,
    owner: str,
    now: dt.datetime,
    ttl: dt.timedelta,
    fresh_for: dt.timedelta | None,
    *,
    probe_links: bool = False,
    probe_derived: bool = False,
) -> Claimed | None:
    """Take the lease of ``config``'s row in one statement, if the row exists and is in line with ``config``:
    it already says what ``sync_source`` would write (so that would write nothing).

    The lease is taken only if no other replica holds it and, with ``fresh_for``, nobody checked the source that
    recently (as ``take_lease``). ``None`` says nothing more: no such row, a row to bring in line first, or a
    lease that is not free (the caller's ORM path tells these apart). The probes, if any, fill
    ``Claimed.stored_links`` and ``Claimed.derived`` with one SELECT more.
    """
    shape = (config.guide is not None, bool(config.service), fresh_for is not None)
    params: dict[str, object] = {
        "p_name": config.name, "p_url": config.url, "p_kind": config.kind, "p_guide": config.guide,
        "p_service": config.service, "p_now": now, "p_owner": owner, "p_until": now + ttl,
        "p_checked_before": None if fresh_for is None else now - fresh_for,
    }  # fmt: skip
    row = conn.execute(_claim_statement(*shape), params).first()
    if row is None:
        return None
    health = Health(row.consecutive_failures, row.failing, row.failing_since)
    claimed = Claimed(row.id, row.etag, row.last_modified, row.last_body_sha256, health)
    if not (probe_links or probe_derived):
        return claimed
    probe = {"p_id": row.id, "p_prefix": _like_prefix(config.name)}
    absent, derived = conn.execute(_probe_statement(probe_links, probe_derived), probe).one()
    return replace(claimed, stored_links=not (probe_links and absent), derived=not probe_derived or bool(derived))


INSERT_CHECK = insert(CHECKS).inline()
"""The columns come from the parameters; the new id is not fetched."""


@functools.cache
def _release_statement() -> Update:
    """The source's part of ``record_quiet_check``: the lease released if still ``p_owner``'s; the other columns
    set come from the parameters."""
    c = SOURCES.c
    mine = c.lease_owner == bindparam("p_owner")
    return (
        update(SOURCES)
        .where(c.id == bindparam("p_id"))
        .values(
            lease_owner=case((mine, None), else_=c.lease_owner), lease_until=case((mine, None), else_=c.lease_until)
        )
    )


def release_claim(conn: Connection, source_id: int, owner: str) -> None:
    """Give the source's lease back, if ``owner`` still holds it, and write nothing else (a check abandoned)."""
    conn.execute(
        update(SOURCES)
        .where(SOURCES.c.id == source_id, SOURCES.c.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
    )


Validators = tuple[str | None, str | None, str | None]
"""(etag, last modified, body sha256) of a successful fetch."""


def quiet_params(
    source_id: int, record: CheckRecord, health: Health, owner: str, validators: Validators | None
) -> tuple[dict[str, object], dict[str, object]]:
    """The parameters of a quiet check's two statements: its ``checks`` row, and its source's update."""
    check = {
        "source_id": source_id, "started_at": record.started_at, "duration_ms": record.duration_ms,
        "http_status": record.http_status, "outcome": record.outcome, "bytes": record.bytes, "error": record.error,
        "snapshot_id": record.snapshot_id,
    }  # fmt: skip
    values: dict[str, object] = {
        "p_id": source_id,
        "p_owner": owner,
        "last_checked_at": record.started_at,
        "consecutive_failures": health.consecutive_failures,
        "failing": health.failing,
        "failing_since": health.failing_since,
    }
    if record.outcome != "error":
        values["last_success_at"] = record.started_at
    if validators is not None:
        values["etag"], values["last_modified"], sha256 = validators
        if sha256 is not None:
            values["last_body_sha256"] = sha256
    return check, values


def record_quiet_checks(conn: Connection, params: list[tuple[dict[str, object], dict[str, object]]]) -> None:
    """Quiet checks (``quiet_params`` each): their rows in one INSERT, their sources' updates grouped by shape."""
    if not params:
        return
    conn.execute(INSERT_CHECK, [check for check, _ in params])
    shapes: dict[frozenset[str], list[dict[str, object]]] = {}
    for _, values in params:
        shapes.setdefault(frozenset(values), []).append(values)
    for rows in shapes.values():
        conn.execute(_release_statement(), rows)


def record_quiet_check(
    conn: Connection,
    source_id: int,
    record: CheckRecord,
    health: Health,
    owner: str,
    validators: Validators | None,
) -> None:
    """A check that wrote nothing else: its row, then the source's last check, validators, health and lease.

    ``validators`` (etag, last modified, body sha256) replace the stored ones when given (a ``None`` sha256 keeps
    the stored one); the lease is released only if ``owner`` still holds it.
    """
    record_quiet_checks(conn, [quiet_params(source_id, record, health, owner, validators)])
