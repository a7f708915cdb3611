"""Reference pages through the service job and ``watcher check``: one log line, one metric and one printed
line per check, the derived sources' included. A real loopback server serves the pages; SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from click.testing import CliRunner
from prometheus_client import generate_latest

from tests.loopback import Loopback, Reply
from tests.reference_helpers import DERIVED, PAGE_PATH, READ_ONLY, REFERENCE_PAGES, World, linked, ref_path
from tests.reference_helpers import new_world as new_world
from tests.reference_helpers import server as server
from tests.reference_helpers import world as world
from watcher.cli import main
from watcher.observe import Metrics
from watcher.service import Service

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
