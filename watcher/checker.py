"""One check of one configured source: lease, fetch, then record (not modified, unchanged, ingested or failed).

The flow stays one way: ``fetch`` talks HTTP, ``pipeline.ingest`` parses and writes, and everything a
check writes (check row, validators, health, events, lease release) is in one transaction.

A page whose policies link to the AWS Managed Policy Reference instead of embedding their JSON is followed
(``http.follow_references``): after the page's own check, each linked reference page is checked as a
*derived source* ``<page>/<Policy>`` through the very same path (lease, conditional GET with its own
validators, ingest, events, health). The derived sources live in the database only: which ones a page links
is written in the page check's transaction, read from each new body of the page (and once per process from
its stored body, so that a page already seen before following was on is followed too). A new accepted version
of the page that no longer links a policy disables that policy's derived source (kept, unchecked); a suspect
or repeated version only adds. At most ``http.max_reference_pages`` are checked per page per check, the ones
checked longest ago first.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from watcher.config import Settings, SourceSettings
from watcher.db.models import Event, Source
from watcher.fetch import Fetcher, FetchResult
from watcher.health import Health, after_failure, after_success
from watcher.outbox import enqueue
from watcher.pipeline import IngestResult, ingest
from watcher.references import Found, derived_name, read_references
from watcher.store.events import add_events
from watcher.store.sources import (
    CheckRecord,
    add_check,
    due_derived_sources,
    latest_body,
    release_lease,
    sync_derived_sources,
    sync_source,
    take_lease,
)

LEASE_TTL = dt.timedelta(minutes=15)
log = logging.getLogger("watcher.checker")


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
    derived: tuple[CheckOutcome, ...] = ()
    """The checks of the reference pages this page links to (its derived sources), in the order they ran."""

    def checks(self) -> list[CheckOutcome]:
        """This check, then the derived ones: one log line each."""
        return [self, *self.derived]


@dataclass(frozen=True)
class Validators:
    etag: str | None
    last_modified: str | None
    body_sha256: str | None
    source_id: int | None = None


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
        # Fetches overlap freely; parsing and writing two at a time is as fast on 2 cores and keeps memory low.
        self._ingests = threading.BoundedSemaphore(2)
        self._configured = frozenset(s.name for s in settings.sources)
        """Configured sources are never treated as derived ones, whatever their name."""
        self._links_read: set[str] = set()
        """Pages whose reference links were read in this process (from a body fetched or stored)."""
        self._links_lock = threading.Lock()

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
            return Validators(source.etag, source.last_modified, source.last_body_sha256, source.id)

    def check(self, config: SourceSettings, *, force: bool = False, dry_run: bool = False) -> CheckOutcome:
        """Check ``config``; a page then checks the reference pages it links to (``CheckOutcome.derived``).

        The derived checks run after the page's transaction, one by one; a page check that was skipped or
        failed checks none of them.
        """
        follow = config.kind == "page" and self.settings.http.follow_references
        outcome, found = self._check(config, force, dry_run, follow)
        if not follow or outcome.outcome in ("skipped", "error"):
            return outcome
        due = self._due(config, found, dry_run)
        return replace(outcome, derived=tuple(self._check_derived(d, force, dry_run) for d in due))

    def _check(
        self, config: SourceSettings, force: bool, dry_run: bool, follow: bool
    ) -> tuple[CheckOutcome, Found | None]:
        """One source's check, and (``follow``) the reference links read from its body if one was read."""
        now = self.clock()
        # A dry run fetches unconditionally and takes no lease: it writes nothing at all.
        validators = Validators(None, None, None) if dry_run else self._claim(config, now, force)
        if validators is None:
            return CheckOutcome(config.name, "skipped"), None
        result = self.fetcher.get(config.url, etag=validators.etag, last_modified=validators.last_modified)
        fresh = (
            result.ok and result.body is not None and hashlib.sha256(result.body).hexdigest() != validators.body_sha256
        )
        found = self._links(config, result, fresh) if follow else None
        if fresh:
            outcome = self._ingest(config, result, now, dry_run, found)
        else:
            outcome = self._record(config, result, now, dry_run, found, validators.source_id)
        if found is not None and not dry_run and outcome.outcome != "error":
            with self._links_lock:
                self._links_read.add(config.name)
        return outcome, found

    def _links(self, config: SourceSettings, result: FetchResult, fresh: bool) -> Found | None:
        """The reference links of the page as fetched; ``None`` when the stored ones are current.

        A new body is always read. A body seen before (304, or the same bytes) is read once per process, from
        the stored snapshot if the server sent none, so that a page first seen with following off is followed.
        """
        if not result.ok:
            return None
        if not fresh:
            with self._links_lock:
                if config.name in self._links_read:
                    return None
        body = result.body
        if body is None:
            with self.sessions() as session:
                body = latest_body(session, config.name)
        return None if body is None else read_references(body, config.name, config.url)

    def _sync_links(
        self, session: Session, config: SourceSettings, found: Found, now: dt.datetime, *, disable_others: bool
    ) -> None:
        urls = {derived_name(config.name, r.policy): r.url for r in found.references}
        sync_derived_sources(
            session, config.name, urls, service=config.service or found.service, guide=config.guide, now=now,
            disable_others=disable_others, exclude=self._configured,
        )  # fmt: skip

    def _due(self, config: SourceSettings, found: Found | None, dry_run: bool) -> list[SourceSettings]:
        """The derived sources to check now: the enabled ones checked longest ago, up to the limit.

        A dry run wrote nothing, so it takes the links of the body it just read, in page order.
        """
        limit = self.settings.http.max_reference_pages
        if dry_run:
            refs = found.references[:limit] if found is not None else ()
            service = config.service or (found.service if found is not None else None)
            return [_derived(config, derived_name(config.name, r.policy), r.url, service) for r in refs]
        with self.sessions() as session:
            rows = due_derived_sources(session, config.name, limit, exclude=self._configured)
            return [_derived(config, row.name, row.url, row.service) for row in rows]

    def _check_derived(self, config: SourceSettings, force: bool, dry_run: bool) -> CheckOutcome:
        """A derived source's check; an unexpected error is its own, never the page's or its siblings'."""
        try:
            return self._check(config, force, dry_run, follow=False)[0]
        except Exception:
            log.exception("check of %s failed unexpectedly", config.name)
            return CheckOutcome(config.name, "error", error="internal error (see log)")

    def _after(self, source: Source, result: FetchResult, now: dt.datetime, session: Session) -> list[Event]:
        """Validators, health and lease, inside the check's transaction; the health events written."""
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
        return add_events(session, source, None, [change], since, now)

    def _notify(self, session: Session, events: list[Event], now: dt.datetime) -> None:
        """The outbox rows for these events, in the same transaction (nothing lost, nothing sent twice)."""
        enqueue(session, events, self.settings.channels, now)

    def _ingest(
        self, config: SourceSettings, result: FetchResult, now: dt.datetime, dry_run: bool, found: Found | None
    ) -> CheckOutcome:
        assert result.body is not None

        def after_write(session: Session, source: Source, ingested: IngestResult) -> IngestResult:
            if found is not None and ingested.outcome != "error":
                # Only a new accepted version of the page says a link is gone; a suspect one only adds.
                disable = ingested.outcome in ("baseline", "changed")
                self._sync_links(session, config, found, now, disable_others=disable)
            health = self._after(source, result, now, session)
            written = (
                list(session.scalars(select(Event).where(Event.snapshot_id == ingested.snapshot_id).order_by(Event.id)))
                if ingested.snapshot_id is not None
                else []
            )
            self._notify(session, written + health, now)
            return IngestResult(
                ingested.source, ingested.outcome, ingested.content_hash, ingested.snapshot_id,
                ingested.events + [e.kind for e in health], ingested.error,
            )  # fmt: skip

        with self._ingests:
            ingested = ingest(
                self.sessions, config.name, result.body, url=config.url, now=now, http_status=result.status,
                after_write=after_write, dry_run=dry_run,
            )  # fmt: skip
        return CheckOutcome(
            config.name, ingested.outcome, result.status, result.elapsed_ms, len(result.body),
            ingested.events, ingested.error,
        )  # fmt: skip

    def _record(
        self,
        config: SourceSettings,
        result: FetchResult,
        now: dt.datetime,
        dry_run: bool,
        found: Found | None,
        source_id: int | None = None,
    ) -> CheckOutcome:
        """A check that ingests nothing: 304, a body identical to the last one, or a failure."""
        outcome = "not_modified" if result.not_modified else "unchanged" if result.ok else "error"
        size = len(result.body) if result.body is not None else 0
        with self.sessions() as session:
            claimed = session.get(Source, source_id) if source_id is not None else None
            source = claimed or sync_source(
                session, name=config.name, kind=config.kind, url=config.url, service=config.service,
                guide=config.guide, now=now,
            )  # fmt: skip
            record = CheckRecord(outcome, now, result.elapsed_ms, result.status, size, result.error)
            add_check(session, source, record)
            if found is not None:
                self._sync_links(session, config, found, now, disable_others=False)
            health = self._after(source, result, now, session)
            self._notify(session, health, now)
            events = [e.kind for e in health]
            if dry_run:
                session.rollback()
            else:
                session.commit()
        return CheckOutcome(config.name, outcome, result.status, result.elapsed_ms, size, events, result.error)


def _derived(page: SourceSettings, name: str, url: str, service: str | None) -> SourceSettings:
    """A derived source of ``page``: its reference page, checked like a page of the same guide and service."""
    return SourceSettings(name=name, url=url, kind="page", service=service, guide=page.guide, interval=page.interval)
