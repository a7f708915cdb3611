"""Shared pieces of the reference-following tests (tests/test_reference_*.py): the pages and the checker.

The pages are built from tests/fixtures/rekognition/page-v2.html with a policy's JSON replaced by a link, the
reference pages from tests/fixtures/reference/. ``World`` is a checker over a loopback server and the test's
database with an injected clock; a test module imports the fixtures it uses (``world`` needs ``new_world``,
which needs ``server``).
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import FIXTURES, REKOGNITION
from tests.loopback import Loopback, Reply, loopback
from watcher.checker import Checker
from watcher.config import Settings, SourceSettings
from watcher.db.models import Event, Source
from watcher.fetch import Fetcher
from watcher.model import Page
from watcher.outcome import CheckOutcome
from watcher.parse import parse

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
