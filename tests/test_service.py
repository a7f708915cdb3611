"""The scheduled service: job plans, APScheduler job settings, feed-triggered checks, /healthz and /metrics.

APScheduler runs paused here (jobs planned, nothing executed) and time is injected: nothing sleeps.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from apscheduler.schedulers.background import BackgroundScheduler
from prometheus_client import generate_latest
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from watcher.config import Settings, SourceSettings
from watcher.db.engine import make_engine, session_factory
from watcher.db.models import Delivery
from watcher.observe import Metrics, StatusServer
from watcher.outcome import CheckOutcome
from watcher.service import JobPlan, Service, pages_of_guide, plan_jobs

NOW = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC)
BASE = "https://docs.example.test/rekognition/latest/dg/"


def _settings() -> Settings:
    return Settings.model_validate(
        {
            "defaults": {"interval": 3600, "jitter": 60, "misfire_grace": 300},
            "sources": [
                {"name": "rek-page", "url": BASE + "security-iam-awsmanpol.html", "kind": "page"},
                {"name": "rek-other-page", "url": BASE + "other.html", "kind": "page", "interval": "30m"},
                {"name": "rek-feed", "url": BASE + "doc-history.rss", "kind": "feed"},
                {
                    "name": "s3-page",
                    "url": "https://docs.example.test/AmazonS3/latest/userguide/p.html",
                    "kind": "page",
                },
            ],
        }
    )


def test_sources_never_checked_or_overdue_run_at_start_and_the_rest_when_due() -> None:
    settings = _settings()
    last = {"rek-page": NOW - dt.timedelta(hours=2), "rek-other-page": NOW - dt.timedelta(minutes=10)}
    plans = plan_jobs(settings.sources, last, NOW, settings.interval_of)
    assert plans == [
        JobPlan("rek-page", 3600, NOW),
        JobPlan("rek-other-page", 1800, NOW + dt.timedelta(minutes=20)),
        JobPlan("rek-feed", 3600, NOW),
        JobPlan("s3-page", 3600, NOW),
    ]


def test_the_pages_of_a_feeds_guide_are_its_siblings_only() -> None:
    settings = _settings()
    feed = settings.sources[2]
    assert pages_of_guide(settings.sources, feed) == ["rek-page", "rek-other-page"]


class FakeChecker:
    """Answers checks from a table; records what was asked (the service's only collaborator)."""

    def __init__(self, outcomes: dict[str, CheckOutcome]) -> None:
        self.outcomes = outcomes
        self.calls: list[tuple[str, bool]] = []

    def clock(self) -> dt.datetime:
        return NOW

    def check(self, config: SourceSettings, *, force: bool = False, dry_run: bool = False) -> CheckOutcome:
        self.calls.append((config.name, force))
        return self.outcomes.get(config.name, CheckOutcome(config.name, "unchanged", 200))


@pytest.fixture
def paused() -> Iterator[BackgroundScheduler]:
    scheduler = BackgroundScheduler(timezone=dt.UTC)
    scheduler.start(paused=True)
    yield scheduler
    if scheduler.running:
        scheduler.shutdown(wait=False)


def _service(sessions: sessionmaker[Session], checker: FakeChecker, scheduler: BackgroundScheduler) -> Service:
    return Service(_settings(), sessions, checker, Metrics(), scheduler)  # type: ignore[arg-type]


def test_jobs_run_one_at_a_time_coalesce_and_tolerate_misfires(
    sessions: sessionmaker[Session], paused: BackgroundScheduler
) -> None:
    service = _service(sessions, FakeChecker({}), paused)
    service.install_jobs(NOW)
    jobs = {job.id: job for job in paused.get_jobs()}
    assert sorted(jobs) == ["reconcile", "rek-feed", "rek-other-page", "rek-page", "s3-page"]
    assert jobs["reconcile"].trigger.interval == dt.timedelta(hours=1)
    job = jobs["rek-other-page"]
    assert (job.max_instances, job.coalesce, job.misfire_grace_time) == (1, True, 300)
    assert (job.trigger.interval, job.trigger.jitter) == (dt.timedelta(minutes=30), 60)
    assert jobs["rek-page"].next_run_time == NOW  # never checked: catch up at once


def test_a_new_feed_item_checks_the_guides_pages_at_once(
    sessions: sessionmaker[Session], paused: BackgroundScheduler
) -> None:
    checker = FakeChecker({"rek-feed": CheckOutcome("rek-feed", "changed", 200, events=["feed_item_added"])})
    service = _service(sessions, checker, paused)
    service.install_jobs(NOW + dt.timedelta(hours=5))
    service.run_source("rek-feed")
    jobs = {job.id: job for job in paused.get_jobs()}
    assert jobs["rek-page"].next_run_time == NOW
    assert jobs["rek-other-page"].next_run_time == NOW
    assert jobs["s3-page"].next_run_time == NOW + dt.timedelta(hours=5)
    service.run_source("rek-page")
    service.run_source("rek-page")
    assert checker.calls == [("rek-feed", False), ("rek-page", True), ("rek-page", False)]  # forced once


def test_a_page_being_checked_when_a_feed_item_asks_for_it_is_checked_again_when_its_check_ends(
    sessions: sessionmaker[Session], paused: BackgroundScheduler
) -> None:
    later = NOW + dt.timedelta(hours=5)

    class FeedArrivesMidCheck(FakeChecker):
        def check(self, config: SourceSettings, *, force: bool = False, dry_run: bool = False) -> CheckOutcome:
            if not self.calls:  # the first check of rek-page is in flight when the feed's new item arrives
                service.trigger(["rek-page"])
                seen.append(paused.get_job("rek-page").next_run_time)
            return super().check(config, force=force, dry_run=dry_run)

    seen: list[dt.datetime] = []
    checker = FeedArrivesMidCheck({})
    service = _service(sessions, checker, paused)
    service.install_jobs(later)
    service.run_source("rek-page")
    assert seen == [later]  # not re-armed while in flight: APScheduler would skip a second instance
    assert paused.get_job("rek-page").next_run_time == NOW  # re-armed once the check ended
    paused.modify_job("rek-page", next_run_time=later)
    service.run_source("rek-page")
    assert checker.calls == [("rek-page", False), ("rek-page", True)]
    assert paused.get_job("rek-page").next_run_time == later  # nothing asked meanwhile: not re-armed


@pytest.mark.parametrize(
    ("outcome", "trims"), [("not_modified", 0), ("skipped", 0), ("unchanged", 1), ("changed", 1), ("error", 1)]
)
def test_memory_is_trimmed_after_a_check_that_handled_a_body_or_failed_and_not_after_a_304(
    sessions: sessionmaker[Session], paused: BackgroundScheduler, outcome: str, trims: int
) -> None:
    service = _service(sessions, FakeChecker({"rek-page": CheckOutcome("rek-page", outcome, 200)}), paused)
    service.run_source("rek-page")
    assert service.quiesce.releases == trims


def test_a_crashing_check_is_logged_and_counted_not_raised(
    sessions: sessionmaker[Session], paused: BackgroundScheduler, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(FakeChecker):
        def check(self, config: SourceSettings, *, force: bool = False, dry_run: bool = False) -> CheckOutcome:
            raise RuntimeError("boom")

    service = _service(sessions, Broken({}), paused)
    assert service.run_source("rek-page").outcome == "error"
    assert "check of rek-page failed unexpectedly" in caplog.text


DOWN = OperationalError("SELECT 1", {}, Exception("connection refused\n\tIs the server running?"))


def test_a_database_outage_is_one_warning_and_its_end_one_line_whatever_the_jobs_meet_meanwhile(
    sessions: sessionmaker[Session], paused: BackgroundScheduler, caplog: pytest.LogCaptureFixture
) -> None:
    class DatabaseDown(FakeChecker):
        down = True

        def check(self, config: SourceSettings, *, force: bool = False, dry_run: bool = False) -> CheckOutcome:
            if self.down:
                raise DOWN
            return super().check(config, force=force, dry_run=dry_run)

    class DeliveriesDown:
        def run_once(self) -> list[object]:
            raise DOWN

    checker = DatabaseDown({})
    service = Service(_settings(), sessions, checker, Metrics(), paused, deliverer=DeliveriesDown())  # type: ignore[arg-type]
    with caplog.at_level(logging.DEBUG, logger="watcher"):
        outcomes = [service.run_source("rek-page"), service.run_source("s3-page")]
        service.deliver()
        checker.down = False
        service.run_source("rek-page")
        service.run_source("rek-page")
    assert [(o.outcome, o.error) for o in outcomes] == [
        ("error", "database unavailable: connection refused Is the server running?")
    ] * 2
    assert [(r.levelname, r.getMessage()) for r in caplog.records if r.levelno >= logging.INFO][:2] == [
        (
            "WARNING",
            "database unavailable (connection refused Is the server running?): the check of rek-page and the jobs "
            "after it wait until it answers",
        ),
        ("INFO", "database available again (3 job(s) met it down)"),
    ]
    assert not any(r.exc_info for r in caplog.records)


def test_healthz_answers_200_while_the_scheduler_runs_and_the_database_answers(
    sessions: sessionmaker[Session], paused: BackgroundScheduler
) -> None:
    metrics = Metrics()
    service = Service(_settings(), sessions, FakeChecker({}), metrics, paused)  # type: ignore[arg-type]
    service.run_source("rek-page")
    status = StatusServer("127.0.0.1", 0, metrics, service.healthy)
    status.start()
    try:
        base = f"http://127.0.0.1:{status.port}"
        healthy = requests.get(base + "/healthz", timeout=5)
        assert (healthy.status_code, healthy.text) == (200, "ok\n")
        body = requests.get(base + "/metrics", timeout=5).text
        assert 'watcher_checks_total{outcome="unchanged",source="rek-page"} 1.0' in body
        assert 'watcher_consecutive_failures{source="rek-page"} 0.0' in body
        paused.shutdown(wait=False)
        down = requests.get(base + "/healthz", timeout=5)
        assert (down.status_code, down.text) == (503, "scheduler not running\n")
        assert requests.get(base + "/nope", timeout=5).status_code == 404
    finally:
        status.stop()


def test_healthz_answers_503_naming_the_database_when_it_does_not_answer(
    tmp_path: Path, paused: BackgroundScheduler
) -> None:
    (tmp_path / "watcher.db").mkdir()  # a directory where the database file should be: SQLite cannot open it
    unreachable = session_factory(make_engine(f"sqlite:///{tmp_path / 'watcher.db'}"))
    service = Service(_settings(), unreachable, FakeChecker({}), Metrics(), paused)  # type: ignore[arg-type]
    status = StatusServer("127.0.0.1", 0, service.metrics, service.healthy)
    status.start()
    try:
        answer = requests.get(f"http://127.0.0.1:{status.port}/healthz", timeout=5)
    finally:
        status.stop()
    assert (answer.status_code, answer.text) == (503, "database unavailable: OperationalError\n")


def test_metrics_count_parse_warnings_by_source_and_code() -> None:
    metrics = Metrics()
    metrics.record("rek-page", "changed", [], NOW, ["repaired_json", "repaired_json", "no_updates_table"])
    metrics.record("rek-page", "not_modified", [], NOW)
    body = generate_latest(metrics.registry).decode()
    assert 'watcher_parse_warnings_total{code="repaired_json",source="rek-page"} 2.0' in body
    assert 'watcher_parse_warnings_total{code="no_updates_table",source="rek-page"} 1.0' in body


def test_a_checks_parse_warnings_reach_the_metrics(
    sessions: sessionmaker[Session], paused: BackgroundScheduler
) -> None:
    found = CheckOutcome("rek-page", "baseline", 200, warnings=("unparseable_json",))
    service = _service(sessions, FakeChecker({"rek-page": found}), paused)
    service.run_source("rek-page")
    body = generate_latest(service.metrics.registry).decode()
    assert 'watcher_parse_warnings_total{code="unparseable_json",source="rek-page"} 1.0' in body


def test_the_deliverer_job_sets_the_outbox_depth_by_status(
    sessions: sessionmaker[Session], paused: BackgroundScheduler
) -> None:
    with sessions() as session:
        session.add_all(
            Delivery(channel="ops", digest_key=f"k{i}", status=status, next_attempt_at=NOW, created_at=NOW)
            for i, status in enumerate(["pending", "pending", "retrying", "dead", "sent"])
        )
        session.commit()

    class Idle:
        def run_once(self) -> list[object]:
            return []

    metrics = Metrics()
    service = Service(_settings(), sessions, FakeChecker({}), metrics, paused, deliverer=Idle())  # type: ignore[arg-type]
    service.deliver()
    body = generate_latest(metrics.registry).decode()
    depth = {s: f'watcher_outbox_rows{{status="{s}"}}' for s in ("pending", "sending", "retrying", "dead")}
    assert [line for line in body.splitlines() if line.startswith(tuple(depth.values()))] == [
        f"{depth['pending']} 2.0", f"{depth['sending']} 0.0", f"{depth['retrying']} 1.0", f"{depth['dead']} 1.0",
    ]  # fmt: skip


def test_after_sigterm_queued_checks_are_skipped_and_only_those_in_flight_finish(
    sessions: sessionmaker[Session], paused: BackgroundScheduler
) -> None:
    checker = FakeChecker({})
    service = _service(sessions, checker, paused)
    service.stop()
    assert service.run_source("rek-page").outcome == "skipped"
    assert checker.calls == []


def test_the_reconcile_job_reads_the_history_and_finds_nothing_in_an_empty_one(
    sessions: sessionmaker[Session], paused: BackgroundScheduler
) -> None:
    assert _service(sessions, FakeChecker({}), paused).reconcile() == 0
