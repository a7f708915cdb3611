"""``watcher outbox`` (what is queued, retrying or dead) and ``watcher notify test CHANNEL``."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import click

from watcher.cli_service import config_option, load_or_exit
from watcher.db.engine import make_engine, session_factory
from watcher.db.migrate import upgrade
from watcher.notify.channels import build
from watcher.notify.model import Digest, Notice
from watcher.notify.settings import SecretMissing, Secrets
from watcher.outbox import list_rows, requeue
from watcher.output import FORMATS, render

OUTBOX_COLUMNS = ("id", "channel", "status", "attempts", "events", "next_attempt_at", "last_error")


@click.group(invoke_without_command=True)
@config_option
@click.option(
    "--status", "statuses", multiple=True, help="Only rows in this status: pending, sending, retrying, sent, dead."
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True, help="Output format.")
@click.pass_context
def outbox(ctx: click.Context, config_path: Path | None, statuses: tuple[str, ...], fmt: str) -> None:
    """List the outbox: pending, retrying and dead deliveries (sent ones with --status sent).

    Example: watcher outbox --status dead
    """
    if ctx.invoked_subcommand is not None:
        return
    settings = load_or_exit(config_path)
    engine = make_engine(settings.database.url)
    upgrade(engine)
    with session_factory(engine)() as session:
        rows = list_rows(session, statuses or ("pending", "sending", "retrying", "dead"))
    click.echo(render(rows, fmt, OUTBOX_COLUMNS, "outbox"), nl=False)


@outbox.command("retry")
@config_option
@click.argument("ids", nargs=-1, type=int)
@click.option("--dead", is_flag=True, help="Requeue every dead delivery.")
def outbox_retry(config_path: Path | None, ids: tuple[int, ...], dead: bool) -> None:
    """Put deliveries back in the queue (sent ones are never sent again). Example: watcher outbox retry --dead"""
    if not ids and not dead:
        click.echo("error: name delivery ids or give --dead", err=True)
        sys.exit(2)
    settings = load_or_exit(config_path)
    engine = make_engine(settings.database.url)
    upgrade(engine)
    with session_factory(engine).begin() as session:
        count = requeue(session, dt.datetime.now(dt.UTC), ids, dead=dead)
    click.echo(f"requeued {count} deliveries")


def test_digest(now: dt.datetime) -> Digest:
    notice = Notice(
        kind="test",
        source="policy-watcher",
        service=None,
        policy=None,
        grants=(),
        detected_at=now.isoformat(),
        url=None,
        details={"message": "This is a test message from Policy Watcher: this channel works."},
    )
    return Digest(key=f"test-{now.strftime('%Y%m%dT%H%M%S')}", notices=(notice,), title="Policy Watcher test")


@click.group()
def notify() -> None:
    """Notification channels."""


@notify.command("test")
@config_option
@click.argument("channel")
def notify_test(config_path: Path | None, channel: str) -> None:
    """Send a test message to CHANNEL and print its answer (exit 1 if it did not accept it).

    Example: watcher notify test security-slack
    """
    settings = load_or_exit(config_path)
    configured = {c.name: c for c in settings.channels}
    if channel not in configured:
        names = ", ".join(sorted(configured)) or "none configured"
        click.echo(f"error: no channel named {channel!r} (channels: {names})", err=True)
        sys.exit(2)
    try:
        sender = build(configured[channel], Secrets.load(os.environ))
    except (SecretMissing, OSError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    result = sender.deliver(test_digest(dt.datetime.now(dt.UTC)))
    click.echo(f"{channel}: {'accepted' if result.ok else 'FAILED'}: {result.detail}")
    if not result.ok:
        sys.exit(1)
