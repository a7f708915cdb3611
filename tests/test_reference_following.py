"""Policies whose page section links to the AWS Managed Policy Reference are checked on that reference page.

A real loopback server serves the pages (built from tests/fixtures/rekognition/page-v2.html, with a policy's
JSON replaced by a link) and the reference pages (tests/fixtures/reference/); every storage test runs on
SQLite and PostgreSQL. Nothing sleeps: the clock is injected and the fetcher keeps no spacing.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from click.testing import CliRunner
from prometheus_client import generate_latest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import FIXTURES, REKOGNITION
from tests.history_helpers import count
from tests.loopback import Loopback, Reply, loopback
from watcher.checker import Checker, CheckOutcome
from watcher.cli import main
from watcher.config import Settings, SourceSettings
from watcher.db.models import Check, Event, Policy, PolicyVersion, Snapshot, Source
from watcher.fetch import Fetcher
from watcher.model import Kind, Page, PolicyStatus
from watcher.model import Policy as ParsedPolicy
from watcher.observe import Metrics
from watcher.parse import parse
from watcher.queries import history, when
from watcher.references import Reference, reference_url, references
from watcher.service import Service

PAGE_PATH = "/rekognition/latest/dg/security-iam-awsmanpol.html"
REFERENCE_DIR = "/aws-managed-policy/latest/reference/"
READ_ONLY = "AmazonRekognitionReadOnlyAccess"
CUSTOM_LABELS = "AmazonRekognitionCustomLabelsFullAccess"
FULL_ACCESS = "AmazonRekognitionFullAccess"
DERIVED = f"rekognition/{READ_ONLY}"
V2 = (REKOGNITION / "page-v2.html").read_text()


def stand_in(name: str, page: str) -> bytes:
    """A reference page for ``name`` (no fixture of it): the read-only one renamed, holding the document ``page``
    embeds for ``name``, so that the move itself changes nothing."""
    reference = (FIXTURES / "reference" / f"{READ_ONLY}.html").read_text().replace(READ_ONLY, name)
    parsed = parse(page.encode())
    assert isinstance(parsed, Page)
    document = next(p.document for p in parsed.policies if p.name == name)
    start = reference.index('<code class="json ">') + len('<code class="json ">')
    end = reference.index("</code></pre>", start)
    return (reference[:start] + html.escape(json.dumps(document, indent=4)) + reference[end:]).encode()


REFERENCE_PAGES = {
    READ_ONLY: (FIXTURES / "reference" / f"{READ_ONLY}.html").read_bytes(),
    CUSTOM_LABELS: (FIXTURES / "reference" / f"{CUSTOM_LABELS}.html").read_bytes(),
    FULL_ACCESS: stand_in(FULL_ACCESS, V2),
}
NEW_ACTION = "rekognition:DescribeMediaAnalysisJob"
READ_ONLY_V2 = REFERENCE_PAGES[READ_ONLY].replace(
    b"&quot;rekognition:ListMediaAnalysisJobs&quot;",
    f"&quot;rekognition:ListMediaAnalysisJobs&quot;,\n        &quot;{NEW_ACTION}&quot;".encode(),
)
CONSOLE_LINK = "https://console.aws.amazon.com/iam/home#/policies/arn:aws:iam::aws:policy/" + READ_ONLY


def ref_path(policy: str) -> str:
    return f"{REFERENCE_DIR}{policy}.html"


def linked(links: dict[str, str], html: str = V2) -> bytes:
    """``html`` with each named policy's JSON block replaced by a paragraph linking to ``links[policy]``."""
    for policy, href in links.items():
        start = html.index(f"AWS managed policy: {policy}</h2>")
        tabs = html.index("<awsdocs-tabs>", start)
        end = html.index("</awsdocs-tabs>", tabs) + len("</awsdocs-tabs>")
        paragraph = (
            f'<p>To view the permissions for this policy, see <a href="{href}" rel="noopener noreferrer" '
            f'target="_blank">{policy}</a> in the <i>AWS Managed Policy Reference</i>.</p>'
        )
        html = html[:tabs] + paragraph + html[end:]
    return html.encode()


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, hours: float = 1) -> None:
        self.now += dt.timedelta(hours=hours)


@pytest.fixture
def server() -> Iterator[Loopback]:
    with loopback() as s:
        yield s


def settings_for(server: Loopback, **http: object) -> Settings:
    return Settings.model_validate(
        {
            "http": {"retries": 0, "per_host_min_interval": 0, **http},
            "defaults": {"interval": 3600, "failure_threshold": 3},
            "sources": [{"name": "rekognition", "url": server.url(PAGE_PATH), "kind": "page"}],
        }
    )


class World:
    """A checker over the loopback server and the test's database, with its clock."""

    def __init__(self, server: Loopback, sessions: sessionmaker[Session], **http: object) -> None:
        self.server, self.sessions, self.clock = server, sessions, Clock()
        self.settings = settings_for(server, **http)
        self.fetcher = Fetcher(self.settings.http)
        self.checker = Checker(self.settings, sessions, self.fetcher, owner="test", clock=self.clock)

    @property
    def page(self) -> SourceSettings:
        return self.settings.sources[0]

    def check(self, **kwargs: bool) -> CheckOutcome:
        outcome = self.checker.check(self.page, **kwargs)
        self.clock.advance()
        return outcome

    def serve_references(self, *policies: str) -> None:
        for policy in policies:
            self.server.script(ref_path(policy), Reply(200, REFERENCE_PAGES[policy], headers={"ETag": f'"{policy}"'}))

    def source(self, name: str) -> Source | None:
        with self.sessions() as session:
            return session.scalars(select(Source).where(Source.name == name)).one_or_none()

    def events(self, kind: str | None = None) -> list[tuple[str, str, str | None]]:
        """(kind, source, policy) of every event, in order."""
        with self.sessions() as session:
            stmt = select(Event.kind, Source.name, Event.policy).join(Source).order_by(Event.id)
            return [(k, s, p) for k, s, p in session.execute(stmt) if kind is None or k == kind]


WorldFactory = Callable[..., World]


@pytest.fixture
def new_world(server: Loopback, sessions: sessionmaker[Session]) -> Iterator[WorldFactory]:
    """``new_world(**http_settings)``: another checker (another process) on the same server and database."""
    made: list[World] = []

    def make(**http: object) -> World:
        made.append(World(server, sessions, **http))
        return made[-1]

    yield make
    for w in made:
        w.fetcher.close()


@pytest.fixture
def world(new_world: WorldFactory) -> World:
    return new_world()


def summary(outcome: CheckOutcome) -> list[tuple[str, str, list[str]]]:
    return [(o.source, o.outcome, o.events) for o in outcome.checks()]


def removals(world: World) -> list[tuple[str, str, str | None]]:
    return [e for e in world.events() if e[0] in ("actions_removed", "policy_removed")]


# --- which links are followed (pure) -----------------------------------------------------------------


def test_a_relative_link_is_resolved_against_the_page_url_without_query_or_fragment() -> None:
    page = "https://docs.aws.amazon.com/rekognition/latest/dg/security-iam-awsmanpol.html"
    expected = f"https://docs.aws.amazon.com{ref_path(READ_ONLY)}"
    assert reference_url(f"../../..{ref_path(READ_ONLY)}#policy-json", page) == expected
    assert reference_url(f"{ref_path(READ_ONLY)}?src=rek", page) == expected
    assert reference_url(expected, None) == expected
    localized = f"https://docs.aws.amazon.com/de_de{ref_path(READ_ONLY)}"
    assert reference_url(localized, page) == localized


@pytest.mark.parametrize(
    "href",
    [
        CONSOLE_LINK,
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-vs-inline.html",
        "https://docs.aws.amazon.com/aws-managed-policy/latest/reference/",
        f"https://docs.aws.amazon.com/aws-managed-policy/latest/reference/sub/{READ_ONLY}.html",
        f"ftp://docs.aws.amazon.com{ref_path(READ_ONLY)}",
        ref_path(READ_ONLY),  # relative, and no page URL to resolve it against
    ],
)
def test_links_that_are_no_reference_page_are_not_followed(href: str) -> None:
    assert reference_url(href, None) is None


def test_only_policies_without_a_document_on_the_page_are_followed_once_each() -> None:
    link = f"https://docs.aws.amazon.com{ref_path(READ_ONLY)}"

    def policy(name: str, status: PolicyStatus, document_link: str | None) -> ParsedPolicy:
        return ParsedPolicy(name, None, "", status, document_link=document_link)

    page = Page(
        kind=Kind.SERVICE_PAGE,
        url=None,
        title="AWS managed policies for Amazon Rekognition",
        policies=(
            policy(FULL_ACCESS, PolicyStatus.OK, link),  # embeds its JSON and links too: the page is enough
            policy(READ_ONLY, PolicyStatus.NO_DOCUMENT, link),
            policy(READ_ONLY, PolicyStatus.NO_DOCUMENT, link),
            policy(CUSTOM_LABELS, PolicyStatus.NO_DOCUMENT, CONSOLE_LINK),
            policy("AmazonRekognitionServiceRole", PolicyStatus.NO_DOCUMENT, None),
        ),
    )
    assert references(page, "rekognition", None) == (Reference(READ_ONLY, link),)
    assert references(page, "r" * 170, None) == ()  # "<page>/<policy>" would not fit a source name


# --- checks -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["absolute", "root-relative"])
def test_a_policy_linked_to_the_reference_guide_is_checked_there_as_a_derived_source_with_a_silent_baseline(
    world: World, server: Loopback, form: str
) -> None:
    href = server.url(ref_path(READ_ONLY)) if form == "absolute" else ref_path(READ_ONLY)
    server.script(PAGE_PATH, Reply(200, linked({READ_ONLY: href})))
    world.serve_references(READ_ONLY)
    outcome = world.check()
    assert summary(outcome) == [("rekognition", "baseline", ["baseline"]), (DERIVED, "baseline", ["baseline"])]
    derived = world.source(DERIVED)
    assert derived is not None
    assert (derived.kind, derived.url, derived.service, derived.guide, derived.enabled) == (
        "page",
        server.url(ref_path(READ_ONLY)),
        "Amazon Rekognition",
        server.url("/rekognition/latest/dg/"),
        True,
    )
    with world.sessions() as session:
        stmt = (
            select(PolicyVersion.status, PolicyVersion.action_count)
            .join(Policy)
            .where(Policy.source_id == derived.id, Policy.name == READ_ONLY)
        )
        assert session.execute(stmt).all() == [("ok", 32)]


def test_a_later_version_of_the_reference_page_is_exactly_one_actions_added_event_of_the_derived_source(
    world: World, server: Loopback
) -> None:
    server.script(PAGE_PATH, Reply(200, linked({READ_ONLY: server.url(ref_path(READ_ONLY))}), headers={"ETag": '"p"'}))
    server.script(ref_path(READ_ONLY), Reply(200, REFERENCE_PAGES[READ_ONLY]), Reply(200, READ_ONLY_V2))
    world.check()
    outcome = world.check()
    assert summary(outcome) == [("rekognition", "unchanged", []), (DERIVED, "changed", ["actions_added"])]
    assert world.events("actions_added") == [("actions_added", DERIVED, READ_ONLY)]
    with world.sessions() as session:
        event = session.scalars(select(Event).where(Event.kind == "actions_added")).one()
        assert event.payload["grants"] == [["Allow", NEW_ACTION]]
    assert removals(world) == []


def test_a_page_that_moves_one_policys_json_to_the_reference_guide_is_document_moved_and_the_history_continues(
    world: World, server: Loopback
) -> None:
    moved = linked({READ_ONLY: server.url(ref_path(READ_ONLY))})
    server.script(PAGE_PATH, Reply(200, V2.encode()), Reply(200, moved))
    server.script(ref_path(READ_ONLY), Reply(200, REFERENCE_PAGES[READ_ONLY]), Reply(200, READ_ONLY_V2))
    assert summary(world.check()) == [("rekognition", "baseline", ["baseline"])]
    assert summary(world.check()) == [
        ("rekognition", "changed", ["document_moved"]),
        (DERIVED, "baseline", ["baseline"]),
    ]
    assert summary(world.check())[1] == (DERIVED, "changed", ["actions_added"])
    assert removals(world) == []
    with world.sessions() as session:
        rows = history(session, READ_ONLY)
    assert [(r["source"], r["status"], r["action_count"], r["added"]) for r in rows] == [
        ("rekognition", "ok", 32, []),
        ("rekognition", "no_document", None, []),
        (DERIVED, "ok", 32, []),  # the reference page's document is the one the page last embedded
        (DERIVED, "ok", 33, [["Allow", NEW_ACTION]]),
    ]
    with world.sessions() as session:
        granted = when(session, "rekognition:CompareFaces")
        added = when(session, NEW_ACTION)
    # One row per grant: the reference page's, since the page first embedded it.
    assert [(r["policy"], r["source"], r["since"], r["current"]) for r in granted if r["policy"] == READ_ONLY] == [
        (READ_ONLY, DERIVED, rows[0]["valid_from"], True)
    ]
    assert [(r["source"], r["current"]) for r in added if r["policy"] == READ_ONLY] == [(DERIVED, True)]


def test_a_policy_that_moves_and_changes_at_once_is_document_moved_on_the_page_and_actions_added_on_the_reference(
    world: World, server: Loopback
) -> None:
    moved = linked({READ_ONLY: server.url(ref_path(READ_ONLY))})
    server.script(PAGE_PATH, Reply(200, V2.encode()), Reply(200, moved))
    server.script(ref_path(READ_ONLY), Reply(200, READ_ONLY_V2))  # one action more than the page embedded
    assert summary(world.check()) == [("rekognition", "baseline", ["baseline"])]
    assert summary(world.check()) == [
        ("rekognition", "changed", ["document_moved"]),
        (DERIVED, "baseline", ["baseline", "actions_added"]),
    ]
    with world.sessions() as session:
        added = session.scalars(select(Event).where(Event.kind == "actions_added")).one()
    assert (added.policy, added.payload["grants"]) == (READ_ONLY, [["Allow", NEW_ACTION]])
    assert removals(world) == []


def test_a_reference_page_identical_to_what_the_page_embedded_is_a_silent_baseline(
    world: World, server: Loopback
) -> None:
    moved = linked({READ_ONLY: server.url(ref_path(READ_ONLY))})
    server.script(PAGE_PATH, Reply(200, V2.encode()), Reply(200, moved))
    server.script(ref_path(READ_ONLY), Reply(200, REFERENCE_PAGES[READ_ONLY]))
    world.check()
    assert summary(world.check())[1] == (DERIVED, "baseline", ["baseline"])


def test_a_page_that_moves_most_policies_is_layout_suspect_never_a_removal_and_the_links_are_still_followed(
    world: World, server: Loopback
) -> None:
    moved = linked({p: server.url(ref_path(p)) for p in (FULL_ACCESS, READ_ONLY, CUSTOM_LABELS)})
    server.script(PAGE_PATH, Reply(200, V2.encode()), Reply(200, moved))
    world.serve_references(FULL_ACCESS, READ_ONLY, CUSTOM_LABELS)
    world.check()
    assert summary(world.check()) == [
        ("rekognition", "suspect", ["layout_suspect"]),
        (f"rekognition/{FULL_ACCESS}", "baseline", ["baseline"]),
        (DERIVED, "baseline", ["baseline"]),
        (f"rekognition/{CUSTOM_LABELS}", "baseline", ["baseline"]),
    ]
    assert summary(world.check())[0] == ("rekognition", "unchanged", [])  # the suspect body is not parsed again
    assert removals(world) == []


def test_an_iam_console_link_is_not_followed(world: World, server: Loopback) -> None:
    server.script(PAGE_PATH, Reply(200, linked({READ_ONLY: CONSOLE_LINK})))
    outcome = world.check()
    assert summary(outcome) == [("rekognition", "baseline", ["baseline"])]
    assert world.source(DERIVED) is None
    assert {seen.path for seen in server.requests} == {PAGE_PATH}


def test_at_most_max_reference_pages_are_checked_per_check_and_the_rest_go_first_next_time(
    server: Loopback, new_world: WorldFactory
) -> None:
    world = new_world(max_reference_pages=2)
    policies = (FULL_ACCESS, READ_ONLY, CUSTOM_LABELS)
    server.script(PAGE_PATH, Reply(200, linked({p: server.url(ref_path(p)) for p in policies})))
    world.serve_references(*policies)
    first = [o.source for o in world.check().derived]
    second = [o.source for o in world.check().derived]
    assert first == [f"rekognition/{FULL_ACCESS}", DERIVED]
    assert second == [f"rekognition/{CUSTOM_LABELS}", f"rekognition/{FULL_ACCESS}"]
    assert [server.count(ref_path(p)) for p in policies] == [2, 1, 1]


def test_a_404_on_the_reference_page_is_a_failed_check_of_the_derived_source_not_of_the_page(
    world: World, server: Loopback
) -> None:
    server.script(PAGE_PATH, Reply(200, linked({READ_ONLY: server.url(ref_path(READ_ONLY))})))
    outcomes = [world.check() for _ in range(3)]
    assert [(o.outcome, o.derived[0].outcome, o.derived[0].status) for o in outcomes] == [
        ("baseline", "error", 404),
        ("unchanged", "error", 404),
        ("unchanged", "error", 404),
    ]
    page, derived = world.source("rekognition"), world.source(DERIVED)
    assert page is not None and derived is not None
    assert (page.consecutive_failures, page.failing) == (0, False)
    assert (derived.consecutive_failures, derived.failing) == (3, True)
    assert world.events("source_failing") == [("source_failing", DERIVED, None)]


def test_a_page_that_embeds_the_json_again_disables_the_derived_source_and_removes_nothing(
    world: World, server: Loopback
) -> None:
    moved = linked({READ_ONLY: server.url(ref_path(READ_ONLY))})
    server.script(PAGE_PATH, Reply(200, moved), Reply(200, V2.encode()), Reply(200, moved))
    world.serve_references(READ_ONLY)
    world.check()
    assert summary(world.check()) == [("rekognition", "changed", [])]
    derived = world.source(DERIVED)
    assert derived is not None and derived.enabled is False
    with world.sessions() as session:
        kept = session.scalars(select(PolicyVersion).join(Policy).where(Policy.source_id == derived.id)).all()
    assert len(kept) == 1  # its history stays
    assert server.count(ref_path(READ_ONLY)) == 1
    assert removals(world) == []
    # linked again: enabled and checked again (its body unchanged, so nothing new)
    assert summary(world.check())[1] == (DERIVED, "unchanged", [])
    assert (again := world.source(DERIVED)) is not None and again.enabled is True


def test_a_page_already_seen_before_following_was_on_is_followed_at_its_next_304(
    server: Loopback, new_world: WorldFactory
) -> None:
    body = linked({READ_ONLY: server.url(ref_path(READ_ONLY))})
    server.script(PAGE_PATH, Reply(200, body, headers={"ETag": '"p"'}), Reply(304, headers={"ETag": '"p"'}))
    before = new_world(follow_references=False)
    before.serve_references(READ_ONLY)
    assert summary(before.check()) == [("rekognition", "baseline", ["baseline"])]
    after = new_world()  # restarted with following on: the stored body is read once
    after.clock.advance()
    assert summary(after.check()) == [("rekognition", "not_modified", []), (DERIVED, "baseline", ["baseline"])]
    assert summary(after.check()) == [("rekognition", "not_modified", []), (DERIVED, "unchanged", [])]


def test_a_dry_run_checks_the_linked_reference_pages_and_records_nothing(
    world: World, server: Loopback, sessions: sessionmaker[Session]
) -> None:
    server.script(PAGE_PATH, Reply(200, linked({READ_ONLY: server.url(ref_path(READ_ONLY))})))
    world.serve_references(READ_ONLY)
    outcome = world.check(dry_run=True)
    assert summary(outcome) == [("rekognition", "baseline", ["baseline"]), (DERIVED, "baseline", ["baseline"])]
    assert (count(sessions, Check), count(sessions, Snapshot), count(sessions, Event)) == (0, 0, 0)


def test_a_derived_source_named_like_a_configured_source_is_left_alone(
    server: Loopback, sessions: sessionmaker[Session]
) -> None:
    """A configured source called ``rekognition/…`` is not the page's derived source: never disabled."""
    settings = Settings.model_validate(
        {
            "http": {"retries": 0, "per_host_min_interval": 0},
            "sources": [
                {"name": "rekognition", "url": server.url(PAGE_PATH), "kind": "page"},
                {"name": f"rekognition/{CUSTOM_LABELS}", "url": server.url(ref_path(CUSTOM_LABELS)), "kind": "page"},
            ],
        }
    )
    server.script(PAGE_PATH, Reply(200, V2.encode()))
    server.script(ref_path(CUSTOM_LABELS), Reply(200, REFERENCE_PAGES[CUSTOM_LABELS]))
    with Fetcher(settings.http) as fetcher:
        checker = Checker(settings, sessions, fetcher, owner="test", clock=Clock())
        checker.check(settings.sources[1])
        assert checker.check(settings.sources[0]).derived == ()
    with sessions() as session:
        configured = session.scalars(select(Source).where(Source.name == f"rekognition/{CUSTOM_LABELS}")).one()
        assert configured.enabled is True


# --- the service and `watcher check` ----------------------------------------------------------------


def test_the_service_job_of_a_page_logs_and_counts_one_check_per_source(
    world: World, server: Loopback, caplog: pytest.LogCaptureFixture
) -> None:
    server.script(PAGE_PATH, Reply(200, linked({READ_ONLY: server.url(ref_path(READ_ONLY))})))
    world.serve_references(READ_ONLY)
    scheduler = BackgroundScheduler(timezone=dt.UTC)
    scheduler.start(paused=True)
    metrics = Metrics()
    try:
        service = Service(world.settings, world.sessions, world.checker, metrics, scheduler)
        with caplog.at_level(logging.INFO, logger="watcher"):
            outcome = service.run_source("rekognition")
    finally:
        scheduler.shutdown(wait=False)
    assert [o.source for o in outcome.checks()] == ["rekognition", DERIVED]
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("check ")]
    assert [line.split()[1] for line in lines] == ["source=rekognition", f"source={DERIVED}"]
    text = generate_latest(metrics.registry).decode()
    assert f'watcher_checks_total{{outcome="baseline",source="{DERIVED}"}} 1.0' in text


def test_watcher_check_prints_one_line_per_check_the_reference_pages_included(
    server: Loopback, db_url: str, tmp_path: Path
) -> None:
    server.script(PAGE_PATH, Reply(200, linked({READ_ONLY: server.url(ref_path(READ_ONLY))})))
    server.script(ref_path(READ_ONLY), Reply(200, REFERENCE_PAGES[READ_ONLY]))
    config = tmp_path / "watcher.toml"
    config.write_text(
        f'[database]\nurl = "{db_url}"\n[http]\nretries = 0\nper_host_min_interval = 0\n'
        f'[[sources]]\nname = "rekognition"\nkind = "page"\nurl = "{server.url(PAGE_PATH)}"\n'
    )
    result = CliRunner().invoke(main, ["check", "--config", str(config)], env={"NO_PROXY": "127.0.0.1"})
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "rekognition: baseline baseline",
        f"{DERIVED}: baseline baseline",
        "checked 2, not modified 0, unchanged 0, changed 2, errors 0",
    ]
