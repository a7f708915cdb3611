"""``watcher outbox`` through the CLI, against a real loopback webhook receiver.

The tests run on SQLite and PostgreSQL (``db_url``): the ``queued`` fixture ingests page v1 and v2, queues
their three events for four channels and runs one real delivery round against a loopback receiver that
checks the HMAC signature, which leaves one row ``sent``, one ``retrying`` (HTTP 500), one ``dead``
(HTTP 404) and one ``pending`` (a channel the deliverer does not serve). The receiver's answers echo the
webhook URL, its token and the HMAC secret, so every ``last_error`` has had something to hide.

Secrets are only ever in the environment given to the command; every output is checked for them. Nothing
sleeps and nothing is mocked.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from tests.cli_notify_helpers import HMAC_SECRET, TOKEN, assert_shows_no_secret, echo_of, hidden_in, run, write_config
from tests.history_helpers import ingest_fixture
from tests.loopback import Reply
from tests.test_notify_webhook import receiver
from watcher.config import load_settings
from watcher.db.models import Delivery, Event
from watcher.notify.channels import build_all
from watcher.notify.settings import Secrets
from watcher.outbox import Deliverer, enqueue

DOCUMENTED_COLUMNS = ["id", "channel", "status", "attempts", "events", "next_attempt_at", "last_error"]
JSON_KEYS = {*DOCUMENTED_COLUMNS, "created_at", "sent_at"}


QUEUE_CHANNELS = """
[[channels]]
name = "hook-ok"
type = "webhook"
url_env = "TEST_HOOK_OK_URL"
secret_env = "TEST_HOOK_SECRET"

[[channels]]
name = "hook-retry"
type = "webhook"
url_env = "TEST_HOOK_RETRY_URL"
secret_env = "TEST_HOOK_SECRET"

[[channels]]
name = "hook-dead"
type = "webhook"
url_env = "TEST_HOOK_DEAD_URL"
secret_env = "TEST_HOOK_SECRET"

[[channels]]
name = "held"
type = "console"
"""


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ---------------------------------------------------------------------------------------------------- outbox


@dataclass(frozen=True)
class Queued:
    config: Path
    env: dict[str, str | None]
    """The secrets, as the service would have them; the outbox commands run with them set."""
    hidden: list[str]
    ids: dict[str, int]
    """Delivery id by channel name."""


@pytest.fixture
def queued(db_url: str, sessions: sessionmaker[Session], tmp_path: Path) -> Iterator[Queued]:
    with receiver(secret=HMAC_SECRET) as hook:
        urls = {kind: hook.url(f"/{kind}/{TOKEN}?token={TOKEN}") for kind in ("ok", "retry", "dead")}
        hook.script(f"/ok/{TOKEN}", Reply(200, b"ok", content_type="text/plain"))
        hook.script(f"/retry/{TOKEN}", Reply(500, echo_of(hook, urls["retry"]), content_type="text/plain"))
        hook.script(f"/dead/{TOKEN}", Reply(404, echo_of(hook, urls["dead"]), content_type="text/plain"))
        env: dict[str, str | None] = {f"TEST_HOOK_{kind.upper()}_URL": url for kind, url in urls.items()}
        env["TEST_HOOK_SECRET"] = HMAC_SECRET
        config = write_config(tmp_path, QUEUE_CHANNELS, db_url)
        channels = load_settings(config, env={}).channels
        ingest_fixture(sessions, "rekognition", "page-v1.html")
        ingest_fixture(sessions, "rekognition", "page-v2.html", hours=1)
        with sessions.begin() as session:
            deliveries = enqueue(session, list(session.scalars(select(Event).order_by(Event.id))), channels, now())
            ids = {d.channel: d.id for d in deliveries}
        secrets = Secrets({k: v for k, v in env.items() if v is not None})
        senders = build_all([c for c in channels if c.name != "held"], secrets)
        outcomes = Deliverer(sessions, senders, owner="test", clock=now).run_once()
        assert sorted((o.channel, o.status) for o in outcomes) == [
            ("hook-dead", "dead"),
            ("hook-ok", "sent"),
            ("hook-retry", "retrying"),
        ]
        assert len(hook.bodies) == 3  # hook-ok's 200 means its signature checked out
        hidden = hidden_in(hook, list(urls.values()))
    yield Queued(config, env, hidden, ids)


def outbox_json(queued: Queued, *args: str) -> list[dict[str, object]]:
    result = run("outbox", "--config", str(queued.config), "--format", "json", *args, env=queued.env)
    assert result.exit_code == 0, result.output
    rows: list[dict[str, object]] = json.loads(result.stdout)
    return rows


def test_the_outbox_lists_pending_retrying_and_dead_rows_newest_first(queued: Queued) -> None:
    rows = outbox_json(queued)
    assert [(r["id"], r["channel"], r["status"], r["attempts"], r["events"]) for r in rows] == [
        (queued.ids["held"], "held", "pending", 0, 3),
        (queued.ids["hook-dead"], "hook-dead", "dead", 1, 3),
        (queued.ids["hook-retry"], "hook-retry", "retrying", 1, 3),
    ]
    assert all(set(r) == JSON_KEYS for r in rows)
    pending, dead, retrying = rows
    assert pending["last_error"] is None and pending["sent_at"] is None
    assert dead["next_attempt_at"] is None  # nothing more will be tried
    assert dt.datetime.fromisoformat(str(retrying["next_attempt_at"])) > dt.datetime.fromisoformat(
        str(retrying["created_at"])
    )
    assert str(retrying["last_error"]).startswith("HTTP 500 Internal Server Error: you sent [redacted]")
    assert str(dead["last_error"]).startswith("HTTP 404 Not Found: you sent [redacted]")


def test_the_outbox_as_csv_has_the_documented_columns(queued: Queued) -> None:
    result = run("outbox", "--config", str(queued.config), "--format", "csv", env=queued.env)
    assert result.exit_code == 0, result.output
    reader = csv.DictReader(io.StringIO(result.stdout))
    assert reader.fieldnames == DOCUMENTED_COLUMNS
    rows = list(reader)
    assert [(r["channel"], r["status"], r["attempts"], r["events"]) for r in rows] == [
        ("held", "pending", "0", "3"),
        ("hook-dead", "dead", "1", "3"),
        ("hook-retry", "retrying", "1", "3"),
    ]
    assert rows[0]["last_error"] == "" and rows[1]["next_attempt_at"] == ""
    assert "[redacted]" in rows[2]["last_error"]


def test_the_outbox_as_a_table_has_the_documented_columns(queued: Queued) -> None:
    result = run("outbox", "--config", str(queued.config), "--format", "table", env=queued.env)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].strip() == "outbox"
    header = next(line for line in lines if "channel" in line)
    assert [cell.strip() for cell in header.strip("┃ ").split("┃")] == DOCUMENTED_COLUMNS
    body = [[cell.strip() for cell in line.split("│")[2:4]] for line in lines if line.startswith("│")]
    assert body == [["held", "pending"], ["hook-dead", "dead"], ["hook-retry", "retrying"]]


def test_the_table_shows_a_channels_answer_as_plain_text(queued: Queued, sessions: sessionmaker[Session]) -> None:
    answer = "HTTP 500 Internal Server Error: [/] [bold]shouting[/bold]"
    with sessions.begin() as session:
        session.execute(update(Delivery).where(Delivery.id == queued.ids["hook-retry"]).values(last_error=answer))
    result = run("outbox", "--config", str(queued.config), "--format", "table", env=queued.env)
    assert result.exit_code == 0, result.output
    assert answer in result.stdout
    assert "you sent [redacted]" in result.stdout  # the dead row's answer, as stored


@pytest.mark.parametrize(
    "args",
    [
        ["--format", "json"],
        ["--format", "csv"],
        ["--format", "table"],
        ["--status", "sent", "--format", "json"],
        ["--status", "dead", "--format", "table"],
        ["--status", "retrying", "--status", "dead", "--format", "csv"],
    ],
)
def test_no_outbox_output_shows_the_webhook_url_its_token_or_the_hmac_secret(queued: Queued, args: list[str]) -> None:
    result = run("outbox", "--config", str(queued.config), *args, env=queued.env)
    assert result.exit_code == 0, result.output
    assert "hook-" in result.stdout  # something was listed
    assert_shows_no_secret(result, queued.hidden)


def test_status_sent_lists_only_the_sent_row(queued: Queued) -> None:
    (row,) = outbox_json(queued, "--status", "sent")
    assert (row["id"], row["channel"], row["status"], row["attempts"]) == (queued.ids["hook-ok"], "hook-ok", "sent", 1)
    assert row["last_error"] is None and row["next_attempt_at"] is None
    assert dt.datetime.fromisoformat(str(row["sent_at"])) >= dt.datetime.fromisoformat(str(row["created_at"]))


def test_retry_requeues_the_named_rows(queued: Queued) -> None:
    dead, retrying = queued.ids["hook-dead"], queued.ids["hook-retry"]
    result = run("outbox", "retry", str(dead), str(retrying), "--config", str(queued.config), env=queued.env)
    assert (result.exit_code, result.output) == (0, "requeued 2 deliveries\n")
    rows = {r["channel"]: r for r in outbox_json(queued)}
    assert [(rows[c]["status"], rows[c]["attempts"]) for c in ("hook-dead", "hook-retry")] == [
        ("pending", 0),
        ("pending", 0),
    ]
    assert rows["hook-retry"]["next_attempt_at"] is not None


def test_retry_never_requeues_a_sent_row(queued: Queued) -> None:
    result = run("outbox", "retry", str(queued.ids["hook-ok"]), "--config", str(queued.config), env=queued.env)
    assert (result.exit_code, result.output) == (0, "requeued 0 deliveries\n")
    (row,) = outbox_json(queued, "--status", "sent")
    assert (row["channel"], row["status"], row["attempts"]) == ("hook-ok", "sent", 1)
    assert [r["channel"] for r in outbox_json(queued, "--status", "pending")] == ["held"]


def test_retry_dead_requeues_every_dead_row_and_nothing_else(queued: Queued) -> None:
    result = run("outbox", "retry", "--dead", "--config", str(queued.config), env=queued.env)
    assert (result.exit_code, result.output) == (0, "requeued 1 deliveries\n")
    every = [f"--status={status}" for status in ("pending", "retrying", "sent", "dead")]
    statuses = {r["channel"]: r["status"] for r in outbox_json(queued, *every)}
    assert statuses == {"held": "pending", "hook-dead": "pending", "hook-retry": "retrying", "hook-ok": "sent"}


def test_retry_without_ids_or_dead_fails_with_one_line(queued: Queued) -> None:
    result = run("outbox", "retry", "--config", str(queued.config), env=queued.env)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == "error: name delivery ids or give --dead\n"
