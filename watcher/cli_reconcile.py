"""``watcher reconcile``: cross-check what AWS documented against what its JSON did (issue 6)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
from sqlalchemy import select

from watcher.cli_history import _engine, _when
from watcher.cli_service import config_option, load_or_exit
from watcher.db.engine import session_factory
from watcher.db.models import Event, Source
from watcher.store.reconcile import grace_of, run_reconciliation
from watcher.store.reconcile import reconcile as reconcile_session


def _lines(events: list[Event], names: dict[int, str]) -> list[str]:
    return [
        f"{e.kind}\t{names.get(e.source_id, '?')}\t{e.policy or '-'}\t{e.payload.get('reason', '')}" for e in events
    ]


@click.command()
@config_option
@click.option(
    "--db", "database_url", help="SQLAlchemy URL of the history database (default: database.url of the config)."
)
@click.option("--now", "now_text", help="Reconcile as of this ISO date or datetime (default: now).")
@click.option(
    "--grace-days",
    type=click.IntRange(min=0),
    help="Days AWS gets to document a change or to update the JSON (default: risk.documentation_grace_days, 7).",
)
@click.option("--dry-run", is_flag=True, help="Print what would be reported, but write no event and no delivery.")
def reconcile(
    config_path: Path | None, database_url: str | None, now_text: str | None, grace_days: int | None, dry_run: bool
) -> None:
    """Report JSON changes AWS did not document, and documented additions the JSON lacks.

    New findings become undocumented_change / documentation_mismatch events for the operator channels; a finding
    is reported once. Example: watcher reconcile --grace-days 7 --dry-run
    """
    settings = load_or_exit(config_path)
    url = database_url or settings.database.url
    engine = _engine(url, migrate=False)
    sessions = session_factory(engine)
    now = _when(now_text) or dt.datetime.now(dt.UTC)
    grace = dt.timedelta(days=grace_days) if grace_days is not None else grace_of(settings)
    try:
        if dry_run:
            with sessions() as session:
                events = reconcile_session(session, now, grace)
                names = dict(session.execute(select(Source.id, Source.name)).all())
                lines = _lines(events, names)
                session.rollback()
        else:
            ids = run_reconciliation(sessions, settings, now, grace)
            with sessions() as session:
                events = list(session.scalars(select(Event).where(Event.id.in_(ids)).order_by(Event.id)))
                names = dict(session.execute(select(Source.id, Source.name)).all())
                lines = _lines(events, names)
    finally:
        engine.dispose()
    for line in lines:
        click.echo(line)
    suffix = " (dry run: nothing written)" if dry_run else ""
    click.echo(f"{len(lines)} new finding{'' if len(lines) == 1 else 's'} (grace {grace.days} days){suffix}")
