"""Shared pieces of the ``watcher outbox`` and ``watcher notify test`` CLI tests (tests/test_cli_*.py).

A command runs through click's runner without the caller's database override or secrets file; the webhook
token and HMAC key are what no output may show, and a receiver's answer can echo them to make sure.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from click.testing import CliRunner, Result

from tests.test_notify_webhook import Receiver
from watcher.cli import main

TOKEN = "T0KEN-7f3a9c51"
HMAC_SECRET = "hmac-key-Qw3rTy-77"


BASE_ENV: dict[str, str | None] = {
    "WATCHER_DATABASE_URL": None,
    "WATCHER_SECRETS_FILE": None,
    "COLUMNS": "1000",  # a table row on one line: a secret cannot hide by being wrapped
}
"""Every command runs without the caller's database override or secrets file."""


def run(*args: str, env: Mapping[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env={**BASE_ENV, **(env or {})})


def write_config(tmp_path: Path, channels: str, db_url: str | None = None, name: str = "watcher.toml") -> Path:
    path = tmp_path / name
    url = db_url or f"sqlite:///{tmp_path / 'unused.db'}"
    path.write_text(f'[database]\nurl = "{url}"\n{channels}')
    return path


def echo_of(hook: Receiver, url: str) -> bytes:
    """A receiver's answer that repeats everything the channel must keep to itself."""
    return f"you sent {url} from {hook.base} token={TOKEN} signed with {HMAC_SECRET}".encode()


def hidden_in(hook: Receiver, urls: list[str]) -> list[str]:
    """What no output may contain: the URLs, their host:port, the token and the HMAC secret."""
    return [*urls, hook.base.removeprefix("http://"), TOKEN, HMAC_SECRET]


def assert_shows_no_secret(result: Result, hidden: list[str]) -> None:
    for secret in hidden:
        assert secret not in result.output, f"{secret!r} printed by {result.output!r}"
