"""``watcher run`` (the service) and ``watcher check`` (one cycle now)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click
from sqlalchemy.exc import OperationalError

from watcher.checker import Checker
from watcher.config import ConfigError, Settings, load_settings
from watcher.db.engine import cannot_open, make_engine, session_factory
from watcher.db.migrate import at_head, upgrade
from watcher.fetch import Fetcher
from watcher.memory import limit_arenas
from watcher.notify.settings import SecretMissing, Secrets
from watcher.outcome import CheckOutcome
from watcher.parse_pool import ParsePool
from watcher.store.quiet import BATCH as QUIET_BATCH

if TYPE_CHECKING:
    from watcher.notify.channels import Sender

# Channels, the outbox, the status server and rich load only when a command needs them: a one-shot
# ``watcher check`` of sources that answer 304 starts in about half the time it took with everything imported.

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Settings file (default: config/watcher.toml).",
)


def load_or_exit(path: Path | None) -> Settings:
    try:
        return load_settings(path)
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


def senders_or_exit(settings: Settings) -> dict[str, Sender]:
    """The configured channels, with their secrets from the environment or WATCHER_SECRETS_FILE."""
    if not settings.channels:
        return {}
    from watcher.notify.channels import build_all

    try:
        return build_all(settings.channels, Secrets.load(os.environ))
    except (SecretMissing, OSError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


def migrate_in_child(url: str) -> None:
    """Bring the database to the newest revision in a child process, if it is not there yet.

    Alembic then never loads into the long-running service (about 10 MB it would keep for nothing). If the
    child fails, ``runtime`` migrates in this process and reports the error as usual.
    """
    engine = make_engine(url)
    try:
        if at_head(engine):
            return
    finally:
        engine.dispose()
    env = {**os.environ, "WATCHER_DATABASE_URL": url}  # in the environment, never on a command line
    # Quiet: if it fails, ``runtime`` tries again here and reports the error once.
    command = [sys.executable, "-m", "watcher", "db", "upgrade"]
    subprocess.run(command, env=env, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@dataclass
class Runtime:
    settings: Settings
    checker: Checker
    fetcher: Fetcher
    parsers: ParsePool


@contextmanager
def runtime(settings: Settings) -> Iterator[Runtime]:
    """Database migrated and a fetcher open, for as long as the command runs."""
    engine = make_engine(settings.database.url)
    try:
        upgrade(engine)
    except OperationalError as exc:
        click.echo(f"error: {cannot_open(settings.database.url, exc)}", err=True)
        sys.exit(2)
    fetcher = Fetcher(settings.http)
    parsers = ParsePool(settings.service.parse_workers)
    checker = Checker(settings, session_factory(engine), fetcher, parser=parsers.parse, batch_quiet=QUIET_BATCH)
    try:
        yield Runtime(settings, checker, fetcher, parsers)
    finally:
        checker.flush()
        parsers.close()
        fetcher.close()
        engine.dispose()


@click.command()
@config_option
@click.option("--log-format", type=click.Choice(["text", "json"]), help="Log lines as text or JSON (containers).")
def run(config_path: Path | None, log_format: str | None) -> None:
    """Start the watcher: check every source on its schedule until SIGTERM or Ctrl-C.

    Example: watcher run --config config/watcher.toml
    """
    from watcher.observe import Metrics, StatusServer, configure_logging
    from watcher.outbox import Deliverer
    from watcher.service import Service

    settings = load_or_exit(config_path)
    configure_logging(log_format or settings.service.log_format)
    limit_arenas()
    senders = senders_or_exit(settings)
    migrate_in_child(settings.database.url)
    with runtime(settings) as rt:
        metrics = Metrics()
        deliverer = Deliverer(
            rt.checker.sessions, senders, owner=rt.checker.owner, clock=rt.checker.clock,
            policy=settings.service.retry_policy(),
        )  # fmt: skip
        service = Service(settings, rt.checker.sessions, rt.checker, metrics, deliverer=deliverer)
        rt.checker.sync_all(settings.enabled_sources())
        service.quiesce.on_idle.append(rt.checker.flush)  # quiet checks are written once the checks are done
        service.quiesce.on_idle.append(rt.parsers.idle)  # and the parse workers stop
        host, port = settings.service.listen_host, settings.service.listen_port
        try:
            status = StatusServer(host, port, metrics, service.healthy)
        except OSError as exc:  # the port is taken (another watcher?), or the address is not this machine's
            click.echo(
                f"error: cannot serve /healthz and /metrics on {host}:{port} ({exc.strerror or exc}); set "
                "service.listen_port (WATCHER_LISTEN_PORT) to a free port, or 0 to take any",
                err=True,
            )
            sys.exit(2)
        status.start()
        # A log line, so that ``--log-format json`` gives nothing but JSON lines.
        logging.getLogger("watcher").info("status on http://%s:%s/healthz and /metrics", host, status.port)
        try:
            service.run_forever()
        finally:
            status.stop()


@contextmanager
def _progress(total: int) -> Iterator[Callable[[], None]]:
    """A progress bar on a terminal (rich); nothing, and nothing imported, otherwise."""
    if not sys.stderr.isatty():
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True)) as progress:
        task = progress.add_task("checking", total=total)
        yield lambda: progress.advance(task)


def _summary(outcomes: list[CheckOutcome]) -> str:
    counts = Counter(o.outcome for o in outcomes)
    changed = counts["changed"] + counts["baseline"] + counts["suspect"]
    parts = [
        f"checked {len(outcomes) - counts['skipped']}",
        f"not modified {counts['not_modified']}",
        f"unchanged {counts['unchanged']}",
        f"changed {changed}",
        f"errors {counts['error']}",
    ]
    return ", ".join(parts)


@click.command()
@config_option
@click.option("--source", "names", multiple=True, help="Check only this source (repeatable).")
@click.option("--dry-run", is_flag=True, help="Fetch and compare, but write nothing to the database.")
def check(config_path: Path | None, names: tuple[str, ...], dry_run: bool) -> None:
    """Check the configured sources once, now, and print a summary.

    Example: watcher check --source rekognition-policies --dry-run
    """
    settings = load_or_exit(config_path)
    sources = [s for s in settings.enabled_sources() if not names or s.name in names]
    unknown = set(names) - {s.name for s in settings.sources}
    if unknown:
        click.echo(f"error: no source named {', '.join(sorted(unknown))} in the config", err=True)
        sys.exit(2)
    outcomes: list[CheckOutcome] = []
    senders = senders_or_exit(settings)
    with runtime(settings) as rt, _progress(len(sources)) as advance:
        if not dry_run:
            rt.checker.sync_all(sources)
        with ThreadPoolExecutor(settings.http.concurrency) as pool:  # fetches overlap, as in the service
            futures = [pool.submit(rt.checker.check, source, force=True, dry_run=dry_run) for source in sources]
            for future in as_completed(futures):
                # A page's check includes the reference pages it links to: one line per check.
                for outcome in future.result().checks():
                    outcomes.append(outcome)
                    detail = f" {', '.join(outcome.events)}" if outcome.events else ""
                    error = f" ({outcome.error})" if outcome.error else ""
                    click.echo(f"{outcome.source}: {outcome.outcome}{detail}{error}")
                advance()
        if senders and not dry_run:  # what this cycle found goes out now, as the service would send it
            from watcher.outbox import Deliverer

            deliverer = Deliverer(
                rt.checker.sessions, senders, owner=rt.checker.owner, clock=rt.checker.clock,
                policy=settings.service.retry_policy(),
            )  # fmt: skip
            delivered = [o for batch in iter(deliverer.run_once, []) for o in batch]
            for d in delivered:
                click.echo(f"delivery {d.id} to {d.channel}: {d.status} ({d.detail})")
    click.echo(_summary(outcomes) + (" (dry run: nothing written)" if dry_run else ""))
    if outcomes and all(o.outcome == "error" for o in outcomes):
        sys.exit(1)
