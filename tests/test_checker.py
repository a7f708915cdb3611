"""One check of a configured source against a real loopback server and a real database (both backends)."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import REKOGNITION
from tests.history_helpers import count
from tests.loopback import Close, Hang, Loopback, Reply, Step, loopback
from watcher.checker import Checker
from watcher.config import HttpSettings, Settings, SourceSettings
from watcher.db.models import Check, Event, Snapshot, Source
from watcher.fetch import Fetcher
from watcher.store.checks import lease_ttl

V1 = (REKOGNITION / "page-v1.html").read_bytes()
V2 = (REKOGNITION / "page-v2.html").read_bytes()


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, hours: float) -> None:
        self.now += dt.timedelta(hours=hours)


@pytest.fixture
def server() -> Iterator[Loopback]:
    with loopback() as s:
        yield s


def _settings(server: Loopback) -> Settings:
    return Settings.model_validate(
        {
            "http": {"retries": 0, "per_host_min_interval": 0},
            "defaults": {"interval": 3600, "failure_threshold": 3},
            "sources": [{"name": "rekognition", "url": server.url("/page.html"), "kind": "page"}],
        }
    )


@pytest.fixture
def checker(sessions: sessionmaker[Session], server: Loopback) -> Iterator[tuple[Checker, Clock, SourceSettings]]:
    settings = _settings(server)
    clock = Clock()
    with Fetcher(settings.http) as fetcher:
        yield Checker(settings, sessions, fetcher, owner="test", clock=clock), clock, settings.sources[0]


def _outcomes(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(Check.outcome).order_by(Check.id)))


def test_a_304_is_not_modified_and_adds_only_a_check_row(
    checker: tuple[Checker, Clock, SourceSettings], server: Loopback, sessions: sessionmaker[Session]
) -> None:
    check, clock, source = checker
    server.script("/page.html", Reply(200, V1, headers={"ETag": '"v1"'}), Reply(304, headers={"ETag": '"v1"'}))
    assert check.check(source).outcome == "baseline"
    clock.advance(1)
    result = check.check(source)
    assert (result.outcome, result.status) == ("not_modified", 304)
    assert server.requests[-1].header("If-None-Match") == '"v1"'
    assert (count(sessions, Snapshot), count(sessions, Event), _outcomes(sessions)) == (
        1,
        1,
        ["baseline", "not_modified"],
    )


def test_an_identical_body_is_not_parsed_again(
    checker: tuple[Checker, Clock, SourceSettings], server: Loopback, sessions: sessionmaker[Session]
) -> None:
    check, clock, source = checker
    server.script("/page.html", Reply(200, V1))
    check.check(source)
    clock.advance(1)
    assert check.check(source).outcome == "unchanged"
    assert _outcomes(sessions) == ["baseline", "unchanged"]


def test_a_last_modified_date_is_sent_back_and_a_304_is_not_modified(
    checker: tuple[Checker, Clock, SourceSettings], server: Loopback, sessions: sessionmaker[Session]
) -> None:
    check, clock, source = checker
    modified = {"Last-Modified": "Mon, 05 Jan 2026 08:00:00 GMT"}
    server.script("/page.html", Reply(200, V1, headers=modified), Reply(304))
    check.check(source)
    clock.advance(1)
    assert check.check(source).outcome == "not_modified"
    seen = server.requests[-1]
    assert (seen.header("If-Modified-Since"), seen.header("If-None-Match")) == (modified["Last-Modified"], None)
    assert (count(sessions, Snapshot), _outcomes(sessions)) == (1, ["baseline", "not_modified"])


def test_a_change_is_ingested_with_its_events(checker: tuple[Checker, Clock, SourceSettings], server: Loopback) -> None:
    check, clock, source = checker
    server.script("/page.html", Reply(200, V1), Reply(200, V2))
    check.check(source)
    clock.advance(1)
    result = check.check(source)
    assert (result.outcome, result.events) == ("changed", ["actions_added", "update_row_added"])


def test_failures_alert_once_after_the_threshold_and_recovery_once(
    checker: tuple[Checker, Clock, SourceSettings], server: Loopback, sessions: sessionmaker[Session]
) -> None:
    check, clock, source = checker
    server.script("/page.html", Reply(200, V1), Reply(503), Reply(503), Reply(503), Reply(503), Close(), Reply(200, V1))
    events = []
    for _ in range(7):
        events.append(check.check(source).events)
        clock.advance(1)
    assert events == [["baseline"], [], [], ["source_failing"], [], [], ["source_recovered"]]
    assert _outcomes(sessions) == ["baseline", "error", "error", "error", "error", "error", "unchanged"]
    with sessions() as session:
        src = session.scalars(select(Source)).one()
        assert (src.consecutive_failures, src.failing, src.failing_since) == (0, False, None)
    assert "removed" not in str(events)


def test_a_failure_is_never_an_actions_removed_alert(
    checker: tuple[Checker, Clock, SourceSettings], server: Loopback, sessions: sessionmaker[Session]
) -> None:
    check, clock, source = checker
    server.script("/page.html", Reply(200, V1), Reply(200, b"<html><body>Service Unavailable</body></html>"))
    check.check(source)
    clock.advance(1)
    result = check.check(source)
    assert result.events == ["layout_suspect"]


def test_a_source_leased_by_another_replica_is_skipped(
    checker: tuple[Checker, Clock, SourceSettings], server: Loopback, sessions: sessionmaker[Session]
) -> None:
    check, clock, source = checker
    server.script("/page.html", Reply(200, V1))
    other = Checker(check.settings, sessions, check.fetcher, owner="other", clock=clock)
    with sessions.begin() as session:
        session.add(
            Source(
                name="rekognition", kind="page", url=source.url, created_at=clock.now,
                lease_owner="other", lease_until=clock.now + dt.timedelta(minutes=5),
            )
        )  # fmt: skip
    assert check.check(source).outcome == "skipped"
    assert server.count("/page.html") == 0
    assert other.check(source).outcome == "baseline"  # the holder checks, and releases the lease
    clock.advance(0.1)
    assert check.check(source).outcome == "skipped"  # just checked by the other replica
    assert check.check(source, force=True).outcome == "unchanged"


def test_a_dry_run_writes_nothing(
    checker: tuple[Checker, Clock, SourceSettings], server: Loopback, sessions: sessionmaker[Session]
) -> None:
    check, _, source = checker
    server.script("/page.html", Reply(200, V1))
    result = check.check(source, dry_run=True)
    assert (result.outcome, result.events) == ("baseline", ["baseline"])
    assert (count(sessions, Source), count(sessions, Check), count(sessions, Snapshot)) == (0, 0, 0)


def test_a_check_whose_retry_wait_is_cut_short_by_shutdown_is_skipped_and_counts_no_failure(
    sessions: sessionmaker[Session], server: Loopback
) -> None:
    settings = Settings.model_validate(
        {
            "http": {"retries": 3, "backoff": 600, "backoff_max": 600, "per_host_min_interval": 0},
            "sources": [{"name": "rekognition", "url": server.url("/page.html"), "kind": "page"}],
        }
    )
    server.script("/page.html", Reply(503))
    with Fetcher(settings.http) as fetcher:
        fetcher.stop()  # the service is stopping: the first retry wait ends at once
        outcome = Checker(settings, sessions, fetcher, owner="test", clock=Clock()).check(settings.sources[0])
    assert (outcome.outcome, outcome.error) == (
        "skipped",
        "stopping: retry abandoned after HTTP 503 Service Unavailable",
    )
    with sessions() as session:
        source = session.scalars(select(Source)).one()
        assert (source.lease_owner, source.consecutive_failures, source.last_checked_at) == (None, 0, None)
    assert (_outcomes(sessions), server.count("/page.html")) == ([], 1)


def test_quiet_checks_are_written_in_batches_and_on_flush_and_failures_at_once(
    sessions: sessionmaker[Session], server: Loopback
) -> None:
    settings = Settings.model_validate(
        {
            "http": {"retries": 0, "per_host_min_interval": 0},
            "defaults": {"interval": 3600},
            "sources": [
                {"name": name, "url": server.url(f"/{name}.html"), "kind": "page"} for name in ("a", "b", "c", "d")
            ],
        }
    )
    for name in "abc":
        server.script(f"/{name}.html", Reply(200, V1, headers={"ETag": '"v1"'}), Reply(304, headers={"ETag": '"v1"'}))
    server.script("/d.html", Reply(200, V1, headers={"ETag": '"v1"'}), Reply(500))
    clock = Clock()
    with Fetcher(settings.http) as fetcher:
        check = Checker(settings, sessions, fetcher, owner="test", clock=clock, batch_quiet=2)
        assert [check.check(s).outcome for s in settings.sources] == ["baseline"] * 4  # written with their ingest
        clock.advance(1)
        first, second, third, failed = (check.check(s) for s in settings.sources)
        assert [o.outcome for o in (first, second, third, failed)] == ["not_modified"] * 3 + ["error"]
        # a and b went together when the batch was full; the failure at once; c waits for the flush
        assert _outcomes(sessions).count("not_modified") == 2 and "error" in _outcomes(sessions)
        with sessions() as session:
            held = session.scalars(select(Source.name).where(Source.lease_owner.is_not(None))).all()
        assert held == ["c"]  # its lease is released with its row
        assert check.flush() == 1 and check.flush() == 0
    assert _outcomes(sessions).count("not_modified") == 3
    with sessions() as session:
        assert session.scalars(select(Source.name).where(Source.lease_owner.is_not(None))).all() == []


def test_sync_all_creates_the_configured_sources_rows_and_brings_changed_ones_in_line(
    sessions: sessionmaker[Session], server: Loopback
) -> None:
    def settings(url_b: str) -> Settings:
        return Settings.model_validate(
            {
                "sources": [
                    {"name": "a", "url": server.url("/a.html"), "kind": "page", "service": "Amazon S3"},
                    {"name": "b", "url": url_b, "kind": "feed"},
                ]
            }
        )

    first = settings(server.url("/b.rss"))
    with Fetcher(first.http) as fetcher:
        Checker(first, sessions, fetcher, owner="test", clock=Clock()).sync_all(first.sources)
        Checker(first, sessions, fetcher, owner="test", clock=Clock()).sync_all(first.sources)  # twice: no change
        with sessions.begin() as session:
            session.execute(update(Source).where(Source.name == "b").values(etag='"old"'))
        moved = settings(server.url("/moved.rss"))
        Checker(moved, sessions, fetcher, owner="test", clock=Clock()).sync_all(moved.sources)
    with sessions() as session:
        rows = {s.name: (s.kind, s.url, s.service, s.etag) for s in session.scalars(select(Source))}
    assert rows == {
        "a": ("page", server.url("/a.html"), "Amazon S3", None),
        "b": ("feed", server.url("/moved.rss"), None, None),  # another URL: the old validators are dropped
    }


def test_a_recorded_body_reports_its_parse_warnings_and_the_same_content_again_does_not(
    checker: tuple[Checker, Clock, SourceSettings], server: Loopback
) -> None:
    check, clock, source = checker
    # page-v1 as AWS published it: AmazonRekognitionCustomLabelsFullAccess's JSON misses a comma (repaired).
    server.script("/page.html", Reply(200, V1), Reply(200, V1 + b"<!-- served again -->"))
    first = check.check(source)
    clock.advance(1)
    again = check.check(source)  # another body, parsed: the same content, whose warnings were counted
    assert [(o.outcome, o.warnings) for o in (first, again)] == [("baseline", ("repaired_json",)), ("unchanged", ())]


PDF = b"%PDF-1.4\n" + b"0" * 1000


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (Reply(429, headers={"Retry-After": "0"}), "HTTP 429 Too Many Requests"),
        (Reply(500), "HTTP 500 Internal Server Error"),
        (Close(), "connection failed: RemoteDisconnected"),
        (Hang(), "read timeout (0.2 s)"),
        (Reply(200, V1[:1000], length=len(V1)), "truncated body"),
        (Reply(200, V1 * 8), "larger than 100000 bytes"),
        (Reply(302, headers={"Location": "/page.html"}), "redirect loop"),
        (Reply(200, PDF, content_type="application/pdf"), "unexpected content type 'application/pdf'"),
    ],
    ids=["429", "500", "reset", "read-timeout", "truncated", "over-cap", "redirect-loop", "pdf"],
)
def test_a_failed_fetch_is_an_error_with_no_snapshot_and_no_alert_and_the_next_good_one_is_unchanged(
    answer: Step, error: str, server: Loopback, sessions: sessionmaker[Session]
) -> None:
    http = _settings(server).http.model_copy(update={"read_timeout": 0.2, "max_bytes": 100_000})
    settings = _settings(server).model_copy(update={"http": http})
    clock = Clock()
    server.script("/page.html", Reply(200, V1), answer, Reply(200, V1))
    with Fetcher(settings.http) as fetcher:
        check = Checker(settings, sessions, fetcher, owner="test", clock=clock)
        results = []
        for _ in range(3):
            results.append(check.check(settings.sources[0]))
            clock.advance(1)
    failed = results[1]
    assert (failed.outcome, failed.events) == ("error", [])
    assert failed.error is not None and failed.error.startswith(error), failed.error
    assert [(r.outcome, r.events) for r in (results[0], results[2])] == [("baseline", ["baseline"]), ("unchanged", [])]
    assert (count(sessions, Snapshot), count(sessions, Event)) == (1, 1)


def test_a_page_whose_guide_feed_no_source_watches_says_so_once_naming_the_feed(
    checker: tuple[Checker, Clock, SourceSettings], server: Loopback, caplog: pytest.LogCaptureFixture
) -> None:
    check, clock, source = checker
    server.script("/page.html", Reply(200, V1), Reply(200, V2))
    with caplog.at_level(logging.INFO, logger="watcher.checker"):
        check.check(source)
        clock.advance(1)
        assert check.check(source).outcome == "changed"
    feed = server.url("/rekognition-document-history.rss")  # page-v1's <meta name="rss">, resolved
    assert [r.getMessage() for r in caplog.records if "guide announces" in r.getMessage()] == [
        f"rekognition: its guide announces changes in {feed}, which no source watches; add it to the config as a "
        '[[sources]] entry with kind = "feed" to have the guide\'s pages checked as soon as it changes'
    ]


def test_a_page_whose_guide_feed_is_watched_says_nothing_of_it(
    server: Loopback, sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    feed = {"name": "history", "url": server.url("/rekognition-document-history.rss"), "kind": "feed"}
    settings = Settings.model_validate(
        {**_settings(server).model_dump(), "sources": [*_settings(server).model_dump()["sources"], feed]}
    )
    server.script("/page.html", Reply(200, V1))
    with Fetcher(settings.http) as fetcher, caplog.at_level(logging.INFO, logger="watcher.checker"):
        Checker(settings, sessions, fetcher, owner="test", clock=Clock()).check(settings.sources[0])
    assert not [r for r in caplog.records if "guide announces" in r.getMessage()]


@pytest.mark.parametrize(
    ("http", "minutes"),
    [
        ({}, 26.0),  # the defaults: 4 attempts of 6 hops x 25 s + a 120 s body, 3 waits of 60 s, then 5 minutes
        ({"retries": 0, "max_redirects": 0, "read_timeout": 10, "body_timeout": 30}, 15.0),  # never under 15
        ({"retries": 10, "backoff_max": 600}, 11 * 270 / 60 + 10 * 10 + 5),
    ],
)
def test_the_lease_outlasts_the_longest_fetch_the_http_settings_allow(http: dict[str, float], minutes: float) -> None:
    assert lease_ttl(HttpSettings.model_validate(http)) == dt.timedelta(minutes=minutes)


def test_a_check_holds_its_lease_for_the_lease_ttl_of_its_settings(
    checker: tuple[Checker, Clock, SourceSettings], server: Loopback, sessions: sessionmaker[Session]
) -> None:
    check, clock, source = checker
    gate = threading.Event()
    server.script("/page.html", Reply(200, V1, gate=gate))
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(check.check, source)
        assert server.wait_in_flight(1)  # the fetch is waiting for its answer: the lease is held
        with sessions() as session:
            lease = session.scalars(select(Source.lease_until)).one()
        gate.set()
        assert running.result().outcome == "baseline"
    assert lease == clock.now + lease_ttl(check.settings.http)
