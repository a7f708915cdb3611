"""``watcher check``: one cycle now, a line per check and a summary; ``--source`` and ``--dry-run``.

A real loopback server serves the fixture page and feed; the database is SQLite or PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import REKOGNITION
from tests.history_helpers import count
from tests.loopback import Loopback, Reply, loopback
from watcher.cli import main
from watcher.db.models import Check, Event, Snapshot, Source

PAGE = (REKOGNITION / "page-v1.html").read_bytes()
FEED = (REKOGNITION / "doc-history-v1.rss").read_bytes()


@pytest.fixture
def server() -> Iterator[Loopback]:
    with loopback() as s:
        yield s


@pytest.fixture
def config(tmp_path: Path, db_url: str, server: Loopback) -> Path:
    path = tmp_path / "watcher.toml"
    path.write_text(
        f'[database]\nurl = "{db_url}"\n[http]\nretries = 0\nper_host_min_interval = 0\n'
        f'[[sources]]\nname = "rek-page"\nkind = "page"\nurl = "{server.url("/page.html")}"\n'
        f'[[sources]]\nname = "rek-feed"\nkind = "feed"\nurl = "{server.url("/feed.rss")}"\n'
    )
    return path


def check(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["check", "--config", str(config), *args], env={"NO_PROXY": "127.0.0.1"})


def test_it_checks_every_source_prints_a_line_each_and_sums_up(config: Path, server: Loopback) -> None:
    server.script("/page.html", Reply(200, PAGE, headers={"ETag": '"p1"'}), Reply(304, headers={"ETag": '"p1"'}))
    server.script("/feed.rss", Reply(200, FEED, headers={"ETag": '"f1"'}), Reply(304, headers={"ETag": '"f1"'}))
    first, again = check(config), check(config)
    assert (first.exit_code, again.exit_code) == (0, 0)
    assert sorted(first.stdout.splitlines()[:2]) == ["rek-feed: baseline baseline", "rek-page: baseline baseline"]
    assert first.stdout.splitlines()[2:] == ["checked 2, not modified 0, unchanged 0, changed 2, errors 0"]
    assert sorted(again.stdout.splitlines()[:2]) == ["rek-feed: not_modified", "rek-page: not_modified"]
    assert again.stdout.splitlines()[2:] == ["checked 2, not modified 2, unchanged 0, changed 0, errors 0"]


def test_source_checks_only_the_sources_named(config: Path, server: Loopback, sessions: sessionmaker[Session]) -> None:
    server.script("/page.html", Reply(200, PAGE))
    result = check(config, "--source", "rek-page")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "rek-page: baseline baseline",
        "checked 1, not modified 0, unchanged 0, changed 1, errors 0",
    ]
    assert (server.count("/page.html"), server.count("/feed.rss"), count(sessions, Snapshot)) == (1, 0, 1)


def test_an_unknown_source_exits_2_naming_it(config: Path, server: Loopback) -> None:
    result = check(config, "--source", "rek-page", "--source", "nope")
    assert (result.exit_code, result.stderr) == (2, "error: no source named nope in the config\n")
    assert server.count("/page.html") == 0


def test_a_dry_run_fetches_and_compares_but_writes_nothing(
    config: Path, server: Loopback, sessions: sessionmaker[Session]
) -> None:
    server.script("/page.html", Reply(200, PAGE))
    server.script("/feed.rss", Reply(200, FEED))
    result = check(config, "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == (
        "checked 2, not modified 0, unchanged 0, changed 2, errors 0 (dry run: nothing written)"
    )
    assert [count(sessions, m) for m in (Source, Snapshot, Check, Event)] == [0, 0, 0, 0]


def test_it_exits_1_when_every_check_failed(config: Path, server: Loopback) -> None:
    server.script("/page.html", Reply(500))
    server.script("/feed.rss", Reply(404))
    result = check(config)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == "checked 2, not modified 0, unchanged 0, changed 0, errors 2"


def test_a_database_that_does_not_answer_exits_2_with_its_password_masked(tmp_path: Path, server: Loopback) -> None:
    path = tmp_path / "watcher.toml"
    path.write_text(
        '[database]\nurl = "postgresql+psycopg://watcher:s3cret@127.0.0.1:1/watcher"\n'
        f'[[sources]]\nname = "rek-page"\nkind = "page"\nurl = "{server.url("/page.html")}"\n'
    )
    result = check(path)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: cannot open the database at postgresql+psycopg://watcher:***@127.0.0.1:1/")
    assert (result.stderr.count("\n"), "s3cret" in result.output) == (1, False)
    assert server.count("/page.html") == 0
