"""``watcher notify test`` through the CLI, against a real loopback webhook receiver that checks the HMAC
signature.

Secrets are only ever in the environment given to the command (or in a WATCHER_SECRETS_FILE); every output
is checked for them. Nothing sleeps and nothing is mocked. ``watcher outbox`` and the channel configuration
errors are in tests/test_cli_outbox.py and tests/test_cli_channel_config.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_notify_helpers import HMAC_SECRET, TOKEN, assert_shows_no_secret, echo_of, hidden_in, run, write_config
from tests.loopback import Reply
from tests.test_notify_webhook import Receiver, receiver
from watcher.notify import webhook

TEST_MESSAGE = "This is a test message from Policy Watcher: this channel works."


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
