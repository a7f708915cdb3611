"""One check of one configured source: lease, fetch, then record (not modified, unchanged, ingested or failed).

The flow stays one way: ``fetch`` talks HTTP, ``pipeline.ingest`` parses and writes, and everything a
check writes (check row, validators, health, events, lease release) is in one transaction. A check that finds
nothing new (a 304 or the same bytes, no health event) costs two short transactions: the claim, one UPDATE …
RETURNING, and the record, one INSERT and one UPDATE (``watcher.store.checks``).

A page whose policies link to the AWS Managed Policy Reference instead of embedding their JSON is followed
(``http.follow_references``): after the page's own check, each linked reference page is checked as a
*derived source* ``<page>/<Policy>`` through the very same path (lease, conditional GET with its own
validators, ingest, events, health). The derived sources live in the database only: which ones a page links
is written in the page check's transaction, read from each new body of the page (and once per process from
its stored body, so that a page already seen before following was on is followed too; not when its stored
policies show that it links nowhere). A new accepted version
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
from dataclasses import replace
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from watcher.config import Settings, SourceSettings
from watcher.db.models import Event, Source
from watcher.diff import Change
from watcher.feed_hints import FeedHints
from watcher.fetch import Fetcher, FetchResult
from watcher.health import Health, after_failure, after_success
from watcher.outage import is_unavailable
from watcher.outcome import CheckOutcome
from watcher.parse_pool import parse_here
from watcher.references import Found, derived_name, read_references
from watcher.store.checks import (
    Claimed,
    Config,
    claim_synced,
    lease_ttl,
    record_quiet_check,
    release_claim,
    transaction,
)
from watcher.store.events import add_events
from watcher.store.link_memory import LinkMemory, Probe
from watcher.store.quiet import QuietBatch
from watcher.store.sources import (
    CheckRecord,
    add_check,
    due_derived_sources,
    latest_body,
    release_lease,
    sync_derived_sources,
    sync_source,
    sync_sources,
    take_lease,
)

if TYPE_CHECKING:
    from watcher.model import Parsed
    from watcher.pipeline import IngestResult

log = logging.getLogger("watcher.checker")


def replica_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


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
        parser: Callable[[bytes, str | None], Parsed] = parse_here,
        batch_quiet: int = 0,
    ) -> None:
        self.settings = settings
        self.quiet = QuietBatch(sessions, batch_quiet) if batch_quiet > 1 else None
        """Quiet checks written in batches (``flush`` writes what is pending); None: each at once."""
        self.parser = parser
        """Parses a new body: in this process by default, in worker processes with ``ParsePool.parse``."""
        self.sessions = sessions
        self.fetcher = fetcher
        self.owner = owner or replica_id()
        self.clock = clock
        # Fetches overlap freely; parsing and writing two at a time is as fast on 2 cores and keeps memory low.
        self._ingests = threading.BoundedSemaphore(2)
        self._configured = frozenset(s.name for s in settings.sources)
        """Configured sources are never treated as derived ones, whatever their name."""
        self._feeds = FeedHints(settings.sources)
        self._lease_ttl = lease_ttl(settings.http)
        self._known = LinkMemory()
        """Whose reference links were read in this process (from a body fetched or stored), who has no derived
        source to check."""

    def _claim(self, config: SourceSettings, now: dt.datetime, force: bool, probe: Probe | None) -> Claimed | None:
        """Take the source's lease and read its validators and health; ``None`` when another replica has it.

        A row already in line with the config is claimed in one statement (and probed, see ``claim_synced``); a
        new source, a changed config or a lease that is not free take the ORM path (create or update the row,
        then try the lease), which probes nothing.
        """
        fresh_for = None if force else dt.timedelta(seconds=self.settings.interval_of(config) / 2)
        synced = Config(config.name, config.kind, config.url, config.service, config.guide)
        with transaction(self.sessions) as conn:
            claimed = claim_synced(
                conn, synced, self.owner, now, self._lease_ttl, fresh_for,
                probe_links=probe is not None and probe.links, probe_derived=probe is not None and probe.derived,
            )  # fmt: skip
        if claimed is not None:
            return claimed
        with self.sessions.begin() as session:
            source = sync_source(
                session, name=config.name, kind=config.kind, url=config.url, service=config.service,
                guide=config.guide, now=now,
            )  # fmt: skip
            session.flush()
            if not take_lease(session, source.id, self.owner, now, self._lease_ttl, fresh_for):
                return None
            health = Health(source.consecutive_failures, source.failing, source.failing_since)
            return Claimed(source.id, source.etag, source.last_modified, source.last_body_sha256, health)

    def sync_all(self, configs: list[SourceSettings]) -> None:
        """Create the rows of these configured sources at once (their first claims are then the lean ones)."""
        with self.sessions.begin() as session:
            sync_sources(session, configs, self.clock())

    def flush(self) -> int:
        """Write the quiet checks gathered so far (with ``batch_quiet``); how many."""
        return self.quiet.flush() if self.quiet is not None else 0

    def check(self, config: SourceSettings, *, force: bool = False, dry_run: bool = False) -> CheckOutcome:
        """Check ``config``; a page then checks the reference pages it links to (``CheckOutcome.derived``).

        The derived checks run after the page's transaction, one by one; a page check that was skipped or
        failed checks none of them.
        """
        follow = config.kind == "page" and self.settings.http.follow_references
        outcome, found, body_sha256 = self._check(config, force, dry_run, follow)
        if not follow or outcome.outcome in ("skipped", "error"):
            return outcome
        due = self._due(config, found, dry_run, body_sha256)
        return replace(outcome, derived=tuple(self._check_derived(d, force, dry_run) for d in due))

    def _check(
        self, config: SourceSettings, force: bool, dry_run: bool, follow: bool
    ) -> tuple[CheckOutcome, Found | None, str | None]:
        """One source's check, (``follow``) the reference links read from its body if one was read, and the
        sha256 of the body the source now has (``None`` if unknown)."""
        now = self.clock()
        probe = self._known.probe(config.name) if follow and not dry_run else None
        # A dry run fetches unconditionally and takes no lease: it writes nothing at all.
        claimed = None if dry_run else self._claim(config, now, force, probe)
        if claimed is None and not dry_run:
            return CheckOutcome(config.name, "skipped"), None, None
        etag, last_modified, stored_sha256 = (
            (claimed.etag, claimed.last_modified, claimed.body_sha256) if claimed else (None, None, None)
        )
        result = self.fetcher.get(config.url, etag=etag, last_modified=last_modified)
        if result.cancelled:  # stopping: no answer about the source, so no check row and no failure counted
            if claimed is not None:
                with transaction(self.sessions) as conn:
                    release_claim(conn, claimed.source_id, self.owner)
            return CheckOutcome(config.name, "skipped", error=result.error), None, None
        body_sha256 = hashlib.sha256(result.body).hexdigest() if result.ok and result.body is not None else None
        fresh = body_sha256 is not None and body_sha256 != stored_sha256
        found = self._read_links(config, result, fresh, claimed) if follow else None
        none_derived = False
        if fresh:
            outcome, none_derived = self._ingest(config, result, now, dry_run, found)
        else:
            outcome = self._record(config, result, now, dry_run, found, claimed)
        if found is not None and not dry_run and outcome.outcome != "error":
            self._known.read(config.name, written=fresh or bool(found.references))
            if none_derived and body_sha256 is not None:  # saves _due its query: it just disabled them all
                self._known.no_derived(config.name, body_sha256, self._known.writes(config.name))
        current_sha256 = body_sha256 or stored_sha256
        if probe is not None and probe.derived and claimed is not None and not claimed.derived and current_sha256:
            self._known.no_derived(config.name, current_sha256, probe.writes)
        return outcome, found, current_sha256

    def _read_links(
        self, config: SourceSettings, result: FetchResult, fresh: bool, claimed: Claimed | None
    ) -> Found | None:
        """The reference links of the page as fetched; ``None`` when the stored ones are current.

        A new body is always read. A body seen before (304, or the same bytes) is read once per process, from
        the stored snapshot if the server sent none, so that a page first seen with following off is followed;
        a stored snapshot whose stored policies link nowhere is not read (it has no links: ``Found()``).
        """
        if not result.ok:
            return None
        if not fresh and self._known.links_read(config.name):
            return None
        body = result.body
        if body is None:
            if claimed is not None and not claimed.stored_links:
                return Found()
            with self.sessions() as session:
                body = latest_body(session, config.name)
        return None if body is None else read_references(body, config.name, config.url)

    def _sync_links(
        self, session: Session, config: SourceSettings, found: Found, now: dt.datetime, *, disable_others: bool
    ) -> bool:
        """Write the page's reference links; whether any derived source of it may be enabled (see
        ``sync_derived_sources``)."""
        urls = {derived_name(config.name, r.policy): r.url for r in found.references}
        return sync_derived_sources(
            session, config.name, urls, service=config.service or found.service, guide=config.guide, now=now,
            disable_others=disable_others, exclude=self._configured,
        )  # fmt: skip

    def _due(
        self, config: SourceSettings, found: Found | None, dry_run: bool, body_sha256: str | None
    ) -> list[SourceSettings]:
        """The derived sources to check now: the enabled ones checked longest ago, up to the limit.

        A dry run wrote nothing, so it takes the links of the body it just read, in page order. A page found
        without any at the same body (``body_sha256``) is not looked up again until this checker writes its links.
        """
        limit = self.settings.http.max_reference_pages
        if dry_run:
            refs = found.references[:limit] if found is not None else ()
            service = config.service or (found.service if found is not None else None)
            return [_derived(config, derived_name(config.name, r.policy), r.url, service) for r in refs]
        if self._known.knows_no_derived(config.name, body_sha256):
            return []
        writes = self._known.writes(config.name)
        with self.sessions() as session:
            rows = due_derived_sources(session, config.name, limit, exclude=self._configured)
            due = [_derived(config, row.name, row.url, row.service) for row in rows]
        if not due and body_sha256 is not None:
            self._known.no_derived(config.name, body_sha256, writes)
        return due

    def _check_derived(self, config: SourceSettings, force: bool, dry_run: bool) -> CheckOutcome:
        """A derived source's check; an unexpected error is its own, never the page's or its siblings'."""
        try:
            return self._check(config, force, dry_run, follow=False)[0]
        except Exception as exc:
            if is_unavailable(exc):
                raise  # the database is down: the service tells that once (``watcher.outage``)
            log.exception("check of %s failed unexpectedly", config.name)
            return CheckOutcome(config.name, "error", error="internal error (see log)")

    def _after(self, source: Source, result: FetchResult, now: dt.datetime, session: Session) -> list[Event]:
        """Validators, health and lease, inside the check's transaction; the health events written."""
        state = Health(source.consecutive_failures, source.failing, source.failing_since)
        validators = _validators(result)
        if validators is not None:
            source.etag, source.last_modified, sha256 = validators
            if sha256 is not None:
                source.last_body_sha256 = sha256
        state, change = self._health(state, result, now)
        source.consecutive_failures, source.failing, source.failing_since = (
            state.consecutive_failures, state.failing, state.failing_since,
        )  # fmt: skip
        release_lease(source, self.owner)
        if change is None:
            return []
        since = change.detail["since"]
        return add_events(session, source, None, [change], since, now)

    def _health(self, state: Health, result: FetchResult, now: dt.datetime) -> tuple[Health, Change | None]:
        if result.ok:
            return after_success(state, now)
        threshold = self.settings.defaults.failure_threshold
        return after_failure(state, now, threshold, result.error or "unknown error")

    def _notify(self, session: Session, events: list[Event], now: dt.datetime) -> None:
        """The outbox rows for these events, in the same transaction (nothing lost, nothing sent twice)."""
        if not events:
            return
        from watcher.outbox import enqueue  # loaded when there is something to tell, not for every 304

        enqueue(session, events, self.settings.channels, now)

    def _ingest(
        self, config: SourceSettings, result: FetchResult, now: dt.datetime, dry_run: bool, found: Found | None
    ) -> tuple[CheckOutcome, bool]:
        """The check of a new body, and whether it left the page certainly without an enabled derived source."""
        assert result.body is not None
        # The parser (bs4, lxml, feedparser) loads with the first new body: a cycle of 304s never needs it.
        from watcher.pipeline import IngestResult, ingest

        derived_left = True  # whether a derived source of the page may be enabled after this check

        def after_write(session: Session, source: Source, ingested: IngestResult) -> IngestResult:
            nonlocal derived_left
            if found is not None and ingested.outcome != "error":
                # Only a new accepted version of the page says a link is gone; a suspect one only adds.
                disable = ingested.outcome in ("baseline", "changed")
                derived_left = self._sync_links(session, config, found, now, disable_others=disable)
            health = self._after(source, result, now, session)
            self._notify(session, [*ingested.written, *health], now)
            return IngestResult(
                ingested.source, ingested.outcome, ingested.content_hash, ingested.snapshot_id,
                ingested.events + [e.kind for e in health], ingested.error,
            )  # fmt: skip

        # Parsed before taking an ingest slot: with worker processes, every core parses while two threads write.
        parsed = self.parser(result.body, config.url if "://" in config.url else None)
        with self._ingests:
            ingested = ingest(
                self.sessions, config.name, result.body, url=config.url, now=now, http_status=result.status,
                after_write=after_write, dry_run=dry_run, risk=self.settings.risk, parsed=parsed,
            )  # fmt: skip
        warnings = () if ingested.outcome == "unchanged" else tuple(w.code for w in parsed.warnings)
        if hint := self._feeds.hint(config, parsed, ingested.outcome):
            log.info(hint)
        outcome = CheckOutcome(
            config.name, ingested.outcome, result.status, result.elapsed_ms, len(result.body),
            ingested.events, ingested.error, warnings,
        )  # fmt: skip
        return outcome, not derived_left

    def _record(
        self,
        config: SourceSettings,
        result: FetchResult,
        now: dt.datetime,
        dry_run: bool,
        found: Found | None,
        claimed: Claimed | None = None,
    ) -> CheckOutcome:
        """A check that ingests nothing: 304, a body identical to the last one, or a failure.

        Without links to write nor a health event, it is one INSERT and one UPDATE (``record_quiet_check``).
        """
        outcome = "not_modified" if result.not_modified else "unchanged" if result.ok else "error"
        size = len(result.body) if result.body is not None else 0
        record = CheckRecord(outcome, now, result.elapsed_ms, result.status, size, result.error)
        if claimed is not None and not dry_run and (found is None or not found.references):
            state, change = self._health(claimed.health, result, now)
            if change is None and outcome != "error" and self.quiet is not None:
                self.quiet.add(claimed.source_id, record, state, self.owner, _validators(result))
                return CheckOutcome(config.name, outcome, result.status, result.elapsed_ms, size, [], result.error)
            if change is None:
                with transaction(self.sessions) as conn:
                    record_quiet_check(conn, claimed.source_id, record, state, self.owner, _validators(result))
                return CheckOutcome(config.name, outcome, result.status, result.elapsed_ms, size, [], result.error)
        with self.sessions() as session:
            loaded = session.get(Source, claimed.source_id) if claimed is not None else None
            source = loaded or sync_source(
                session, name=config.name, kind=config.kind, url=config.url, service=config.service,
                guide=config.guide, now=now,
            )  # fmt: skip
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


def _validators(result: FetchResult) -> tuple[str | None, str | None, str | None] | None:
    """The validators a check stores: those of a body received (etag, last modified, sha256), else ``None``.

    A body-less 200 keeps the stored sha256 (``None`` in that place).
    """
    if not result.ok or result.not_modified:
        return None
    sha256 = hashlib.sha256(result.body).hexdigest() if result.body is not None else None
    return result.etag, result.last_modified, sha256


def _derived(page: SourceSettings, name: str, url: str, service: str | None) -> SourceSettings:
    """A derived source of ``page``: its reference page, checked like a page of the same guide and service."""
    return SourceSettings(name=name, url=url, kind="page", service=service, guide=page.guide, interval=page.interval)
