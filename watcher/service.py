"""The long-running service: APScheduler 3 jobs, one per source, over the checker.

Jobs run at an interval with jitter, one instance at a time, coalescing missed runs. At start a
source whose last check is older than its interval runs at once. A new feed item checks the pages
of that guide at once. SIGTERM or SIGINT finishes the check in flight and returns.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import signal
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from watcher.checker import Checker
from watcher.config import Settings, SourceSettings
from watcher.db.models import Delivery, Source
from watcher.memory import Quiesce
from watcher.observe import Metrics, log_check
from watcher.outage import Outage, is_unavailable, reason
from watcher.outbox import Deliverer
from watcher.outcome import CheckOutcome

log = logging.getLogger("watcher.service")


@dataclass(frozen=True)
class JobPlan:
    name: str
    interval: int
    next_run_time: dt.datetime


def plan_jobs(
    sources: Iterable[SourceSettings],
    last_checked: Mapping[str, dt.datetime | None],
    now: dt.datetime,
    interval_of: Callable[[SourceSettings], int],
) -> list[JobPlan]:
    """When each source runs first: now if it is due (never checked, or older than its interval)."""
    plans = []
    for source in sources:
        interval = interval_of(source)
        last = last_checked.get(source.name)
        due = last is None or last + dt.timedelta(seconds=interval) <= now
        first = now if due or last is None else last + dt.timedelta(seconds=interval)
        plans.append(JobPlan(source.name, interval, first))
    return plans


def pages_of_guide(sources: Iterable[SourceSettings], feed: SourceSettings) -> list[str]:
    return [s.name for s in sources if s.kind == "page" and s.enabled and s.guide == feed.guide]


class Service:
    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        checker: Checker,
        metrics: Metrics,
        scheduler: BaseScheduler | None = None,
        deliverer: Deliverer | None = None,
    ) -> None:
        self.settings = settings
        self.deliverer = deliverer
        self.sessions = sessions
        self.checker = checker
        self.metrics = metrics
        self.sources = {s.name: s for s in settings.enabled_sources()}
        self.scheduler = scheduler or BlockingScheduler(
            executors={"default": ThreadPoolExecutor(settings.http.concurrency)}, timezone=dt.UTC
        )
        self._forced: set[str] = set()
        """Sources whose next check ignores freshness (a new feed item asked for it)."""
        self._running: set[str] = set()
        """Sources being checked now: a feed item that asks for one of them has it checked again when it ends."""
        self.quiesce = Quiesce()
        """Returns freed memory to the system whenever the last check in flight ends."""
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self.outage = Outage()
        """The database stopping and starting to answer, told once each."""

    def last_checked(self) -> dict[str, dt.datetime | None]:
        with self.sessions() as session:
            rows = session.execute(select(Source.name, Source.last_checked_at)).all()
        return {name: last for name, last in rows}

    def install_jobs(self, now: dt.datetime) -> list[JobPlan]:
        plans = plan_jobs(self.sources.values(), self.last_checked(), now, self.settings.interval_of)
        for plan in plans:
            self.scheduler.add_job(
                self.run_source,
                IntervalTrigger(seconds=plan.interval, jitter=self.settings.defaults.jitter, timezone=dt.UTC),
                args=[plan.name],
                id=plan.name,
                name=plan.name,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=self.settings.defaults.misfire_grace,
                next_run_time=plan.next_run_time,
                replace_existing=True,
            )
        self.scheduler.add_job(
            self.reconcile,
            IntervalTrigger(seconds=self.settings.service.reconcile_every, timezone=dt.UTC),
            id="reconcile",
            name="reconcile",
            max_instances=1,
            coalesce=True,
            next_run_time=now + dt.timedelta(seconds=self.settings.service.reconcile_every),
            replace_existing=True,
        )
        if self.deliverer is not None:
            # Its own thread, so notifications never wait behind slow checks (already there if installed twice).
            with contextlib.suppress(ValueError):
                self.scheduler.add_executor(ThreadPoolExecutor(1), "deliverer")
            self.scheduler.add_job(
                self.deliver,
                IntervalTrigger(seconds=self.settings.service.deliver_every, timezone=dt.UTC),
                executor="deliverer",
                id="deliverer",
                name="deliverer",
                max_instances=1,
                coalesce=True,
                next_run_time=now,
                replace_existing=True,
            )
        return plans

    def deliver(self) -> int:
        """The deliverer job: drain what is due in the outbox; returns how many rows it handled."""
        if self.deliverer is None:
            return 0
        handled = 0
        try:
            while outcomes := self.deliverer.run_once():
                handled += len(outcomes)
                for outcome in outcomes:
                    self.metrics.deliveries.labels(outcome.channel, outcome.status).inc()
            with self.sessions() as session:
                rows = session.execute(select(Delivery.status, func.count()).group_by(Delivery.status))
                depth = {status: count for status, count in rows}
            for status in ("pending", "sending", "retrying", "dead"):
                self.metrics.outbox.labels(status).set(depth.get(status, 0))
        except Exception as exc:
            self._job_failed("the deliverer", exc)
            return handled
        self.outage.answered()
        return handled

    def reconcile(self) -> int:
        """The reconciliation job: what AWS said against what AWS did (``watcher.store.reconcile``); never raises."""
        from watcher.store.reconcile import run_reconciliation

        try:
            found = run_reconciliation(self.sessions, self.settings, self.checker.clock())
        except Exception as exc:
            self._job_failed("reconciliation", exc)
            return 0
        self.outage.answered()
        if found:
            log.info("reconciliation: %d new finding(s) (undocumented change, documentation mismatch)", len(found))
        return len(found)

    def run_source(self, name: str) -> CheckOutcome:
        """The job: one check, logged and counted; a new feed item brings the guide's pages forward.

        A page's job also checks the reference pages it links to, one after the other (``outcome.derived``):
        each of those checks is logged and counted under its own source name.
        """
        config = self.sources[name]
        if self._stopping.is_set():
            return CheckOutcome(name, "skipped")  # queued before SIGTERM: only the checks in flight finish
        with self._lock:
            force = name in self._forced
            self._forced.discard(name)
            self._running.add(name)
        try:
            with self.quiesce.busy():
                outcome = self.checker.check(config, force=force)
                if any(one.outcome not in ("not_modified", "skipped") for one in outcome.checks()):
                    self.quiesce.heavy()
        except Exception as exc:
            self.metrics.record(name, "error", [], self.checker.clock())
            self._job_failed(f"the check of {name}", exc)
            why = f"database unavailable: {reason(exc)}" if is_unavailable(exc) else "internal error (see log)"
            return CheckOutcome(name, "error", error=why)
        finally:
            self._rearm_if_asked(name)
        self.outage.answered()
        for one in outcome.checks():
            log_check(one.source, one.outcome, one.status, one.ms, one.bytes, one.error)
            self.metrics.record(one.source, one.outcome, one.events, self.checker.clock(), one.warnings)
        if "feed_item_added" in outcome.events:
            self.trigger(pages_of_guide(self.sources.values(), config))
        return outcome

    def _job_failed(self, job: str, exc: Exception) -> None:
        """An exception out of a job: the database's outage is told once (``Outage``), anything else is logged with
        its traceback. The job runs again at its next time either way."""
        if is_unavailable(exc):
            self.outage.failed(job, exc)
        else:
            log.exception("%s failed unexpectedly; it runs again at its next interval", job)

    def trigger(self, names: Iterable[str]) -> None:
        """Check these sources now, ignoring freshness. One being checked is checked again once that check ends:
        it may have read the page before the change the feed announces (and APScheduler would skip a second
        instance of its job with a warning)."""
        now = self.checker.clock()
        for name in names:
            with self._lock:
                self._forced.add(name)
                running = name in self._running
            if running:
                log.info("new feed item: %s is being checked; checking it again when that check ends", name)
            elif self.scheduler.get_job(name) is not None:
                self.scheduler.modify_job(name, next_run_time=now)
                log.info("new feed item: checking %s now", name)

    def _rearm_if_asked(self, name: str) -> None:
        """At the end of a check: if a feed item asked for this source meanwhile, its job runs again now."""
        with self._lock:
            self._running.discard(name)
            again = name in self._forced and not self._stopping.is_set()
        if again and self.scheduler.get_job(name) is not None:
            self.scheduler.modify_job(name, next_run_time=self.checker.clock())
            log.info("new feed item: checking %s again now", name)

    def healthy(self) -> tuple[bool, str]:
        if not self.scheduler.running:
            return False, "scheduler not running"
        try:
            with self.sessions() as session:
                session.execute(text("SELECT 1"))
        except Exception as exc:  # the database is down: say so, never raise from the probe
            return False, f"database unavailable: {exc.__class__.__name__}"
        return True, "ok"

    def stop(self, *_: object) -> None:
        """Finish the check in flight, then stop (the signal handler)."""
        log.info("stopping: finishing the checks in flight")
        self._stopping.set()
        fetcher = getattr(self.checker, "fetcher", None)
        if fetcher is not None:
            fetcher.stop()  # a check waiting to retry gives up now instead of holding the shutdown for its backoff
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)

    def run_forever(self) -> None:
        def handler(signum: int, frame: FrameType | None) -> None:
            threading.Thread(target=self.stop, name="shutdown").start()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)
        self.install_jobs(self.checker.clock())
        log.info("watching %d sources", len(self.sources))
        self.scheduler.start()
        log.info("stopped")
