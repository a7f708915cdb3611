"""Alembic migrations: they build exactly the models' schema and upgrade databases that hold data."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, select, text
from sqlalchemy.orm import Session, sessionmaker

from tests.history_helpers import count, ingest_fixture
from watcher.db.migrate import current, downgrade, upgrade
from watcher.db.models import Base, Event, Snapshot, Source

HEAD = "0006"


def test_the_migrations_build_exactly_the_models_schema(engine: Engine) -> None:
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
    assert current(engine) == HEAD


def test_the_views_exist(engine: Engine) -> None:
    assert {"action_changes", "policy_timeline"} <= set(inspect(engine).get_view_names())


def test_upgrading_a_database_that_holds_data_keeps_it(engine: Engine, sessions: sessionmaker[Session]) -> None:
    ingest_fixture(sessions, "rekognition", "page-v1.html")
    ingest_fixture(sessions, "rekognition", "page-v2.html", hours=1)
    upgrade(engine)
    assert (count(sessions, Snapshot), count(sessions, Event)) == (2, 3)


def test_the_schema_downgrades_and_upgrades_again(engine: Engine) -> None:
    downgrade(engine, "base")
    assert current(engine) is None
    assert "sources" not in inspect(engine).get_table_names()
    upgrade(engine)
    assert current(engine) == HEAD


def test_the_service_columns_are_added_to_a_database_that_holds_version_0001_data(engine: Engine) -> None:
    downgrade(engine, "0001")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO sources (name, kind, url, service, enabled, consecutive_failures, failing, created_at)"
                " VALUES ('rekognition', 'page', 'https://docs.example.test/p.html', 'Amazon Rekognition',"
                " true, 2, false, '2026-01-05 09:00:00')"
            )
        )
    upgrade(engine)
    with Session(engine) as session:
        source = session.scalars(select(Source)).one()
    assert (source.name, source.consecutive_failures, source.lease_owner, source.guide) == (
        "rekognition",
        2,
        None,
        None,
    )


def test_the_head_read_from_the_scripts_is_alembics_head() -> None:
    from alembic.script import ScriptDirectory

    from watcher.db.migrate import alembic_config, script_head

    assert script_head() == ScriptDirectory.from_config(alembic_config(create_engine("sqlite://"))).get_current_head()


def test_a_database_is_at_head_only_once_upgraded(engine: Engine) -> None:
    from watcher.db.migrate import at_head, script_head

    assert at_head(engine)
    downgrade(engine, "0004")
    assert not at_head(engine)
    upgrade(engine)
    assert current(engine) == script_head()
    assert not at_head(create_engine("sqlite://"))
