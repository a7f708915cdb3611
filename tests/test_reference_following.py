"""Policies whose page section links to the AWS Managed Policy Reference are checked on that reference page.

A real loopback server serves the pages (built from tests/fixtures/rekognition/page-v2.html, with a policy's
JSON replaced by a link) and the reference pages (tests/fixtures/reference/); every storage test runs on
SQLite and PostgreSQL. Nothing sleeps: the clock is injected and the fetcher keeps no spacing. Which links
are followed, and the service and ``watcher check``, are in tests/test_reference_*.py.
"""

from __future__ import annotations

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from tests.history_helpers import count
from tests.loopback import Loopback, Reply
from tests.reference_helpers import (
    CONSOLE_LINK,
    CUSTOM_LABELS,
    DERIVED,
    FULL_ACCESS,
    NEW_ACTION,
    PAGE_PATH,
    READ_ONLY,
    READ_ONLY_V2,
    REFERENCE_PAGES,
    V2,
    Clock,
    World,
    WorldFactory,
    linked,
    ref_path,
    removals,
    summary,
)
from tests.reference_helpers import new_world as new_world
from tests.reference_helpers import server as server
from tests.reference_helpers import world as world
from watcher.checker import Checker
from watcher.config import Settings
from watcher.db.models import Check, Event, Policy, PolicyVersion, Snapshot, Source
from watcher.fetch import Fetcher
from watcher.queries import history, when

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


def test_a_new_version_without_links_looks_up_the_pages_derived_sources_once_and_a_new_link_is_still_followed(
    world: World, server: Loopback, sessions: sessionmaker[Session]
) -> None:
    """The lookup that disables a page's derived sources answers ``_due`` too: one query per new version, not two."""
    lookups: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().startswith("SELECT") and "FROM sources" in statement and "LIKE" in statement:
            lookups.append(statement)

    engine = sessions.kw["bind"]
    server.script(PAGE_PATH, Reply(200, V2.encode()), Reply(200, linked({READ_ONLY: server.url(ref_path(READ_ONLY))})))
    world.serve_references(READ_ONLY)
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert summary(world.check()) == [("rekognition", "baseline", ["baseline"])]
        assert len(lookups) == 1
        moved = summary(world.check())
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert moved[1] == (DERIVED, "baseline", ["baseline"])
