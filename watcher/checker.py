"""One check of one configured source: lease, fetch, then record (not modified, unchanged, ingested or failed).

The flow stays one way: ``fetch`` talks HTTP, ``pipeline.ingest`` parses and writes, and everything a
check writes (check row, validators, health, events, lease release) is in one transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from watcher.config import Settings, SourceSettings
from watcher.db.models import Source
from watcher.fetch import Fetcher, FetchResult
from watcher.health import Health, after_failure, after_success
from watcher.pipeline import IngestResult, ingest
from watcher.store.events import add_events
from watcher.store.sources import CheckRecord, add_check, release_lease, sync_source, take_lease

LEASE_TTL = dt.timedelta(minutes=15)


def replica_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class CheckOutcome:
    source: str
    outcome: str  # not_modified | unchanged | changed | baseline | suspect | error | skipped
    status: int | None = None
    ms: int = 0
    bytes: int = 0
    events: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class Validators:
    etag: str | None
    last_modified: str | None
    body_sha256: str | None


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Checker:
    """Checks configured sources against the history database; safe to share between scheduler threads."""

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        fetcher: Fetcher,
        *,
        owner: str | None = None,
        clock: Callable[[], dt.datetime] = _utcnow,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.fetcher = fetcher
        self.owner = owner or replica_id()
        self.clock = clock

    def _claim(self, config: SourceSettings, now: dt.datetime, force: bool) -> Validators | None:
        """Take the source's lease and read its validators; ``None`` when another replica has it."""
        fresh_for = None if force else dt.timedelta(seconds=self.settings.interval_of(config) / 2)
        with self.sessions.begin() as session:
            source = sync_source(
                session, name=config.name, kind=config.kind, url=config.url, service=config.service,
                guide=config.guide, now=now,
            )  # fmt: skip
            session.flush()
            if not take_lease(session, source.id, self.owner, now, LEASE_TTL, fresh_for):
                return None
            return Validators(source.etag, source.last_modified, source.last_body_sha256)

    def check(self, config: SourceSettings, *, force: bool = False, dry_run: bool = False) -> CheckOutcome:
        now = self.clock()
        # A dry run fetches unconditionally and takes no lease: it writes nothing at all.
        validators = Validators(None, None, None) if dry_run else self._claim(config, now, force)
        if validators is None:
            return CheckOutcome(config.name, "skipped")
        result = self.fetcher.get(config.url, etag=validators.etag, last_modified=validators.last_modified)
        if result.ok and result.body is not None and hashlib.sha256(result.body).hexdigest() != validators.body_sha256:
            return self._ingest(config, result, now, dry_run)
        return self._record(config, result, now, dry_run)

    def _after(self, source: Source, result: FetchResult, now: dt.datetime, session: Session) -> list[str]:
        """Validators, health and lease, inside the check's transaction; the kinds of health events written."""
        state = Health(source.consecutive_failures, source.failing, source.failing_since)
        if result.ok:
            if not result.not_modified:
                source.etag, source.last_modified = result.etag, result.last_modified
                if result.body is not None:
                    source.last_body_sha256 = hashlib.sha256(result.body).hexdigest()
            state, change = after_success(state, now)
        else:
            threshold = self.settings.defaults.failure_threshold
            state, change = after_failure(state, now, threshold, result.error or "unknown error")
        source.consecutive_failures, source.failing, source.failing_since = (
            state.consecutive_failures, state.failing, state.failing_since,
        )  # fmt: skip
        release_lease(source, self.owner)
        if change is None:
            return []
        since = change.detail["since"]
        return [e.kind for e in add_events(session, source, None, [change], since, now)]

    def _ingest(self, config: SourceSettings, result: FetchResult, now: dt.datetime, dry_run: bool) -> CheckOutcome:
        assert result.body is not None

        def after_write(session: Session, source: Source, ingested: IngestResult) -> IngestResult:
            health = self._after(source, result, now, session)
            return IngestResult(
                ingested.source, ingested.outcome, ingested.content_hash, ingested.snapshot_id,
                ingested.events + health, ingested.error,
            )  # fmt: skip

        ingested = ingest(
            self.sessions, config.name, result.body, url=config.url, now=now, http_status=result.status,
            after_write=after_write, dry_run=dry_run,
        )  # fmt: skip
        return CheckOutcome(
            config.name, ingested.outcome, result.status, result.elapsed_ms, len(result.body),
            ingested.events, ingested.error,
        )  # fmt: skip

    def _record(self, config: SourceSettings, result: FetchResult, now: dt.datetime, dry_run: bool) -> CheckOutcome:
        """A check that parses nothing: 304, a body identical to the last one, or a failure."""
        outcome = "not_modified" if result.not_modified else "unchanged" if result.ok else "error"
        size = len(result.body) if result.body is not None else 0
        with self.sessions() as session:
            source = sync_source(
                session, name=config.name, kind=config.kind, url=config.url, service=config.service,
                guide=config.guide, now=now,
            )  # fmt: skip
            record = CheckRecord(outcome, now, result.elapsed_ms, result.status, size, result.error)
            add_check(session, source, record)
            events = self._after(source, result, now, session)
            if dry_run:
                session.rollback()
            else:
                session.commit()
        return CheckOutcome(config.name, outcome, result.status, result.elapsed_ms, size, events, result.error)
