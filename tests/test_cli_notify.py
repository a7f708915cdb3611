"""``watcher outbox`` and ``watcher notify test`` through the CLI, against real loopback webhook receivers.

The outbox tests run on SQLite and PostgreSQL (``db_url``): the ``queued`` fixture ingests page v1 and v2,
queues their three events for four channels and runs one real delivery round against a loopback receiver
that checks the HMAC signature, which leaves one row ``sent``, one ``retrying`` (HTTP 500), one ``dead``
(HTTP 404) and one ``pending`` (a channel the deliverer does not serve). The receiver's answers echo the
webhook URL, its token and the HMAC secret, so every ``last_error`` has had something to hide.

Secrets are only ever in the environment given to the command (or in a WATCHER_SECRETS_FILE); every output
is checked for them. Nothing sleeps and nothing is mocked.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from tests.history_helpers import ingest_fixture
from tests.loopback import Reply
from tests.test_notify_webhook import Receiver, receiver
from watcher.cli import main
from watcher.config import load_settings
from watcher.db.models import Delivery, Event
from watcher.notify import webhook
from watcher.notify.channels import build_all
from watcher.notify.settings import Secrets
from watcher.outbox import Deliverer, enqueue

TOKEN = "T0KEN-7f3a9c51"
HMAC_SECRET = "hmac-key-Qw3rTy-77"
DOCUMENTED_COLUMNS = ["id", "channel", "status", "attempts", "events", "next_attempt_at", "last_error"]
JSON_KEYS = {*DOCUMENTED_COLUMNS, "created_at", "sent_at"}
TEST_MESSAGE = "This is a test message from Policy Watcher: this channel works."
BASE_ENV: dict[str, str | None] = {
    "WATCHER_DATABASE_URL": None,
    "WATCHER_SECRETS_FILE": None,
    "COLUMNS": "1000",  # a table row on one line: a secret cannot hide by being wrapped
}
"""Every command runs without the caller's database override or secrets file."""

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

TEST_CHANNELS = """
[[channels]]
name = "hook"
type = "webhook"
url_env = "TEST_HOOK_URL"
secret_env = "TEST_HOOK_SECRET"

[[channels]]
name = "ops"
type = "console"
"""


def run(*args: str, env: Mapping[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env={**BASE_ENV, **(env or {})})


def write_config(tmp_path: Path, channels: str, db_url: str | None = None, name: str = "watcher.toml") -> Path:
    path = tmp_path / name
    url = db_url or f"sqlite:///{tmp_path / 'unused.db'}"
    path.write_text(f'[database]\nurl = "{url}"\n{channels}')
    return path


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def echo_of(hook: Receiver, url: str) -> bytes:
    """A receiver's answer that repeats everything the channel must keep to itself."""
    return f"you sent {url} from {hook.base} token={TOKEN} signed with {HMAC_SECRET}".encode()


def hidden_in(hook: Receiver, urls: list[str]) -> list[str]:
    """What no output may contain: the URLs, their host:port, the token and the HMAC secret."""
    return [*urls, hook.base.removeprefix("http://"), TOKEN, HMAC_SECRET]


def assert_shows_no_secret(result: Result, hidden: list[str]) -> None:
    for secret in hidden:
        assert secret not in result.output, f"{secret!r} printed by {result.output!r}"


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


# ---------------------------------------------------------------------------------------------------- notify test


@pytest.fixture
def hook() -> Iterator[Receiver]:
    """A receiver that checks the HMAC signature (401 when it does not match) as a real one would."""
    with receiver(secret=HMAC_SECRET) as server:
        yield server


def hook_env(hook: Receiver) -> dict[str, str | None]:
    return {"TEST_HOOK_URL": hook.url(f"/hooks/{TOKEN}?token={TOKEN}"), "TEST_HOOK_SECRET": HMAC_SECRET}


def test_notify_test_posts_a_signed_test_message_and_says_accepted(hook: Receiver, tmp_path: Path) -> None:
    hook.script(f"/hooks/{TOKEN}", Reply(200, b"ok", content_type="text/plain"))
    config = write_config(tmp_path, TEST_CHANNELS)
    result = run("notify", "test", "hook", "--config", str(config), env=hook_env(hook))
    assert (result.exit_code, result.output) == (0, "hook: accepted: HTTP 200 OK: ok\n")
    (seen,), (body,) = hook.requests, hook.bodies
    assert webhook.verify(body, seen.header(webhook.SIGNATURE_HEADER) or "", HMAC_SECRET)
    data = json.loads(body)
    assert data["schema"] == "policy-watcher/webhook/v1"
    assert data["delivery"] == seen.header(webhook.DELIVERY_HEADER)
    assert [(e["kind"], e["details"]["message"]) for e in data["events"]] == [("test", TEST_MESSAGE)]


def test_notify_test_says_failed_and_exits_1_when_the_receiver_answers_500(hook: Receiver, tmp_path: Path) -> None:
    env = hook_env(hook)
    hook.script(f"/hooks/{TOKEN}", Reply(500, echo_of(hook, str(env["TEST_HOOK_URL"])), content_type="text/plain"))
    config = write_config(tmp_path, TEST_CHANNELS)
    result = run("notify", "test", "hook", "--config", str(config), env=env)
    assert result.exit_code == 1
    assert result.output.startswith("hook: FAILED: HTTP 500 Internal Server Error: you sent [redacted]")
    assert len(result.output.splitlines()) == 1
    assert_shows_no_secret(result, hidden_in(hook, [str(env["TEST_HOOK_URL"])]))


def test_notify_test_of_a_console_channel_prints_the_test_message(tmp_path: Path) -> None:
    config = write_config(tmp_path, TEST_CHANNELS)
    result = run("notify", "test", "ops", "--config", str(config), env={"TEST_HOOK_URL": None})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "Policy Watcher test: 1 test"
    assert any(TEST_MESSAGE in line for line in lines)
    assert lines[-1].startswith("ops: accepted: written (")
    assert result.stderr == ""


def test_notify_test_of_an_unknown_channel_names_the_configured_ones(tmp_path: Path) -> None:
    config = write_config(tmp_path, TEST_CHANNELS)
    result = run("notify", "test", "security-slack", "--config", str(config))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == "error: no channel named 'security-slack' (channels: hook, ops)\n"


def test_notify_test_without_any_channel_says_none_is_configured(tmp_path: Path) -> None:
    config = write_config(tmp_path, "")
    result = run("notify", "test", "hook", "--config", str(config))
    assert result.exit_code == 2
    assert result.stderr == "error: no channel named 'hook' (channels: none configured)\n"


def test_a_missing_secret_exits_2_naming_the_variable(hook: Receiver, tmp_path: Path) -> None:
    config = write_config(tmp_path, TEST_CHANNELS)
    result = run("notify", "test", "hook", "--config", str(config), env={"TEST_HOOK_URL": None})
    assert result.exit_code == 2
    assert result.stderr == (
        "error: channel 'hook' needs the secret TEST_HOOK_URL: set it in the environment or in WATCHER_SECRETS_FILE\n"
    )
    assert hook.requests == []


def test_the_secrets_file_holds_the_url_and_the_hmac_key(hook: Receiver, tmp_path: Path) -> None:
    hook.script(f"/hooks/{TOKEN}", Reply(204, content_type=None))
    values = hook_env(hook)
    secrets = tmp_path / "secrets.env"
    secrets.write_text(
        "# written by the operator\n\n"
        f"TEST_HOOK_URL = {values['TEST_HOOK_URL']}\n"
        f"TEST_HOOK_SECRET={values['TEST_HOOK_SECRET']}\n"
    )
    config = write_config(tmp_path, TEST_CHANNELS)
    env = {"WATCHER_SECRETS_FILE": str(secrets), "TEST_HOOK_URL": None, "TEST_HOOK_SECRET": None}
    result = run("notify", "test", "hook", "--config", str(config), env=env)
    assert (result.exit_code, result.output) == (0, "hook: accepted: HTTP 204 No Content\n")
    (seen,), (body,) = hook.requests, hook.bodies
    assert webhook.verify(body, seen.header(webhook.SIGNATURE_HEADER) or "", HMAC_SECRET)


def test_the_environment_wins_over_the_secrets_file(hook: Receiver, tmp_path: Path) -> None:
    hook.script(f"/hooks/{TOKEN}", Reply(200))
    secrets = tmp_path / "secrets.env"
    secrets.write_text(f"TEST_HOOK_URL=http://127.0.0.1:9/nowhere\nTEST_HOOK_SECRET={HMAC_SECRET}\n")
    config = write_config(tmp_path, TEST_CHANNELS)
    env = {"WATCHER_SECRETS_FILE": str(secrets), "TEST_HOOK_URL": hook_env(hook)["TEST_HOOK_URL"]}
    result = run("notify", "test", "hook", "--config", str(config), env=env)
    assert (result.exit_code, result.output) == (0, "hook: accepted: HTTP 200 OK\n")
    assert hook.count(f"/hooks/{TOKEN}") == 1


def test_an_unreadable_secrets_file_is_one_error_line_naming_it(tmp_path: Path) -> None:
    config = write_config(tmp_path, TEST_CHANNELS)
    missing = tmp_path / "no-such-secrets.env"
    result = run("notify", "test", "hook", "--config", str(config), env={"WATCHER_SECRETS_FILE": str(missing)})
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and str(missing) in result.stderr
    assert len(result.stderr.splitlines()) == 1


# ---------------------------------------------------------------------------------------------------- config errors

UNKNOWN_TYPE = """
[[channels]]
name = "ops"
type = "console"

[[channels]]
name = "pager"
type = "sms"
"""

DUPLICATE_NAME = """
[[channels]]
name = "ops"
type = "console"

[[channels]]
name = "ops"
type = "webhook"
"""

URL_IN_THE_FILE = """
[[channels]]
name = "hook"
type = "webhook"
url = "https://hooks.example.test/T0KEN"
"""


def config_error(tmp_path: Path, channels: str) -> tuple[Path, str]:
    """The one error line that ``watcher notify test`` and ``watcher outbox`` print for this config."""
    config = write_config(tmp_path, channels)
    lines = set()
    for args in (["notify", "test", "ops"], ["outbox"]):
        result = run(*args, "--config", str(config))
        assert result.exit_code == 2, result.output
        assert result.stdout == ""
        assert len(result.stderr.splitlines()) == 1, result.stderr
        lines.add(result.stderr)
    (line,) = lines
    assert line.startswith(f"error: {config}: ")
    return config, line


def test_an_unknown_channel_type_is_one_line_naming_the_channel_and_the_types(tmp_path: Path) -> None:
    _, line = config_error(tmp_path, UNKNOWN_TYPE)
    assert "channels[1]" in line and "'sms'" in line
    for allowed in ("slack", "email", "webhook", "console", "apprise"):
        assert allowed in line


def test_an_unknown_channel_type_names_the_type_key(tmp_path: Path) -> None:
    config, line = config_error(tmp_path, UNKNOWN_TYPE)
    assert line == (
        f"error: {config}: channels[1].type: 'sms' is not allowed; "
        "use 'slack', 'email', 'webhook', 'console' or 'apprise'\n"
    )


def test_a_duplicate_channel_name_is_one_line_naming_the_name(tmp_path: Path) -> None:
    _, line = config_error(tmp_path, DUPLICATE_NAME)
    assert "'ops' is already used by channels[0]" in line


def test_a_duplicate_channel_name_names_the_key(tmp_path: Path) -> None:
    config, line = config_error(tmp_path, DUPLICATE_NAME)
    assert line.startswith(f"error: {config}: channels[1].name: 'ops' is already used by channels[0]")
    assert "{" not in line


def test_a_url_written_in_a_channel_names_the_key_and_the_env_key(tmp_path: Path) -> None:
    config, line = config_error(tmp_path, URL_IN_THE_FILE)
    assert line == f"error: {config}: channels[0].url: unknown key (did you mean url_env?)\n"
    assert "T0KEN" not in line
