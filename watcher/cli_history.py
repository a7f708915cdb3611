"""``watcher db``, ``ingest``, ``changes``, ``history``, ``when``, ``show``, ``export``: the history commands."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from watcher import queries
from watcher.db.engine import DEFAULT_URL, cannot_open, make_engine, session_factory, shown_url
from watcher.db.migrate import current, upgrade
from watcher.fetch import FetchError, get_once
from watcher.output import FORMATS, render, to_csv
from watcher.pipeline import ingest as run_ingest
from watcher.risk.levels import Severity

database_option = click.option(
    "--database-url",
    envvar="WATCHER_DATABASE_URL",
    default=DEFAULT_URL,
    show_default=True,
    help="SQLAlchemy URL of the history database (env WATCHER_DATABASE_URL).",
)
format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="json",
    show_default=True,
    help="json for scripts, table for people, csv for spreadsheets.",
)
EVENT_COLUMNS = ("detected_at", "kind", "severity", "source", "policy", "actions")


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def _engine(url: str, *, migrate: bool) -> Engine:
    engine = make_engine(url)
    try:
        if migrate:
            upgrade(engine)
        elif current(engine) is None:
            _fail(f"the database at {shown_url(url)} has no schema yet: run `watcher db upgrade`")
    except OperationalError as exc:
        _fail(cannot_open(url, exc))
    return engine


@contextmanager
def _session(url: str) -> Iterator[Session]:
    with session_factory(_engine(url, migrate=False))() as session:
        yield session


def _when(value: str | None) -> dt.datetime | None:
    """An ISO date or datetime; naive values are UTC."""
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        _fail(f"{value!r} is not an ISO date or datetime (e.g. 2024-03-04 or 2024-03-04T12:00:00Z)")
        raise
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed


@click.group()
def db() -> None:
    """Manage the history database schema."""


@db.command("upgrade")
@database_option
def db_upgrade(database_url: str) -> None:
    """Create or migrate the schema to the newest revision. Example: watcher db upgrade"""
    engine = _engine(database_url, migrate=True)
    click.echo(f"database at revision {current(engine)}")


@click.command()
@click.argument("source")
@click.argument("file_or_url")
@click.option("--at", "at", help="When this version was fetched (ISO; default now).")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Rate the changes with this file's [risk] rules (default: the built-in rules).",
)
@database_option
def ingest(source: str, file_or_url: str, at: str | None, config_path: Path | None, database_url: str) -> None:
    """Feed one saved or fetched version of a page or feed into the history.

    SOURCE is created on first use. Example: watcher ingest rekognition page-v2.html
    """
    risk = None
    if config_path is not None:
        from watcher.cli_service import load_or_exit

        risk = load_or_exit(config_path).risk
    try:
        if "://" in file_or_url:
            body, url = get_once(file_or_url), file_or_url
        else:
            body, url = Path(file_or_url).read_bytes(), Path(file_or_url).resolve().as_uri()
    except (OSError, FetchError) as exc:
        _fail(f"cannot read {file_or_url}: {getattr(exc, 'strerror', None) or exc}")
    sessions = session_factory(_engine(database_url, migrate=True))
    now = _when(at) or dt.datetime.now(dt.UTC)
    result = run_ingest(sessions, source, body, url=url, now=now, risk=risk)
    click.echo(json.dumps({"source": result.source, "outcome": result.outcome, "events": result.events}))
    if result.outcome == "error":
        _fail(result.error or "the body could not be parsed")


@click.command()
@click.option("--since", help="Only events detected at or after this ISO date.")
@click.option("--service", help="Only sources whose service contains this text.")
@click.option("--policy", help="Only this policy (case-insensitive).")
@click.option("--action", "action", help="Only events naming an action matching this glob, e.g. 's3:Put*'.")
@click.option("--kind", help="Only this event kind, e.g. actions_added.")
@click.option(
    "--min-severity",
    type=click.Choice([level.value for level in Severity]),
    help="Only change events at or above this severity.",
)
@format_option
@database_option
def changes(
    since: str | None,
    service: str | None,
    policy: str | None,
    action: str | None,
    kind: str | None,
    min_severity: str | None,
    fmt: str,
    database_url: str,
) -> None:
    """What changed, oldest first. Example: watcher changes --since 2024-01-01 --action 's3:*' --min-severity high"""
    level = Severity(min_severity) if min_severity else None
    with _session(database_url) as session:
        rows = queries.changes(
            session, since=_when(since), service=service, policy=policy, action=action, kind=kind, min_severity=level
        )
    click.echo(render(rows, fmt, EVENT_COLUMNS, "changes"), nl=False)


@click.command()
@click.argument("policy")
@format_option
@database_option
def history(policy: str, fmt: str, database_url: str) -> None:
    """The versions of a policy, with what each added and removed. Example: watcher history AmazonS3ReadOnlyAccess"""
    with _session(database_url) as session:
        rows = queries.history(session, policy)
    columns = ("valid_from", "valid_to", "source", "status", "action_count", "added", "removed")
    click.echo(render(rows, fmt, columns, policy), nl=False)


@click.command()
@click.argument("action")
@format_option
@database_option
def when(action: str, fmt: str, database_url: str) -> None:
    """Which policies grant an action, since when, and since when not. Example: watcher when s3:PutObject"""
    with _session(database_url) as session:
        rows = queries.when(session, action)
    columns = ("policy", "effect", "action", "since", "until", "source")
    click.echo(render(rows, fmt, columns, action), nl=False)


@click.command()
@click.argument("policy")
@click.option("--at", "at", help="Show the document as it stood at this ISO date or datetime.")
@format_option
@database_option
def show(policy: str, at: str | None, fmt: str, database_url: str) -> None:
    """A policy's document as it stands (or stood). Example: watcher show AmazonS3ReadOnlyAccess --at 2024-01-01"""
    with _session(database_url) as session:
        rows = queries.show(session, policy, _when(at))
    if not rows:
        _fail(f"no version of {policy} {'at ' + at if at else 'is current'} in the history")
    click.echo(
        render(rows, fmt, ("policy", "source", "valid_from", "valid_to", "status", "document"), policy), nl=False
    )


@click.command()
@click.option(
    "--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True, help="json or csv."
)
@database_option
def export(fmt: str, database_url: str) -> None:
    """Every event (JSON), or one row per event and action (CSV). Example: watcher export --format csv > changes.csv"""
    with _session(database_url) as session:
        rows = queries.changes(session)
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    flat = [
        {**row, **_classified(row, effect, action), "effect": effect, "action": action}
        for row in rows
        for effect, action in (row["grants"] or [["", ""]])
    ]
    columns = (
        "detected_at", "kind", "severity", "source", "service", "policy", "effect", "action",
        "access_level", "flags", "action_severity", "url", "id",
    )  # fmt: skip
    click.echo(to_csv(flat, columns), nl=False)


def _classified(row: dict[str, Any], effect: str, action: str) -> dict[str, Any]:
    """The access level, flags and severity the event recorded for one of its grants (empty when none)."""
    for grant in (row["details"].get("classification") or {}).get("grants", []):
        if grant.get("effect") == effect and grant.get("action") == action:
            flags = " ".join(grant.get("flags") or [])
            return {"access_level": grant.get("access_level"), "flags": flags, "action_severity": grant.get("severity")}
    return {}


COMMANDS = [db, ingest, changes, history, when, show, export]
