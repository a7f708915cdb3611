"""Channel configuration errors as ``watcher notify test`` and ``watcher outbox`` print them: one line each,
naming the key, and never the secret a channel was given in the file.
"""

from __future__ import annotations

from pathlib import Path

from tests.cli_notify_helpers import run, write_config

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
