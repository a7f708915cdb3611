"""The routing keys of a channel (issue 6): min_severity, immediate_severity, digest, digest_time,
quiet_hours and timezone, their defaults and their error messages.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from watcher.config import ConfigError, Settings, load_settings
from watcher.notify.settings import ConsoleSettings
from watcher.risk.levels import Severity

# -------------------------------------------------------------------------------------- configuration


def channel_config(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "watcher.toml"
    path.write_text(f'[[channels]]\nname = "ops"\ntype = "console"\n{extra}\n', encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    return str(caught.value)


def test_the_new_keys_have_their_defaults() -> None:
    channel = ConsoleSettings(type="console", name="c")
    assert (channel.min_severity, channel.immediate_severity, channel.digest) == ("info", "high", "none")
    assert (channel.digest_time, channel.quiet_hours, channel.timezone) == ("09:00", None, "UTC")


def test_the_new_keys_load_from_the_file(tmp_path: Path) -> None:
    path = channel_config(
        tmp_path,
        'min_severity = "Low"\nimmediate_severity = "critical"\ndigest = "daily"\ndigest_time = "17:45"\n'
        'quiet_hours = "22:00-07:00"\ntimezone = "Europe/Berlin"',
    )
    (channel,) = load_settings(path, env={}).channels
    assert (channel.min_severity, channel.immediate_severity) == (Severity.LOW, Severity.CRITICAL)
    assert (channel.digest, channel.digest_time, channel.quiet_hours, channel.timezone) == (
        "daily",
        "17:45",
        "22:00-07:00",
        "Europe/Berlin",
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            'timezone = "Mars/Olympus_Mons"',
            "channels[0].timezone: 'Mars/Olympus_Mons' is not a time zone; use an IANA name such as 'UTC' or "
            "'Europe/Berlin'",
        ),
        (
            'quiet_hours = "22-7"',
            "channels[0].quiet_hours: '22-7' is not a range of hours; use HH:MM-HH:MM on a 24-hour clock, such as "
            "'22:00-07:00'",
        ),
        (
            'quiet_hours = "22:00-24:00"',
            "channels[0].quiet_hours: '22:00-24:00' is not a range of hours; use HH:MM-HH:MM on a 24-hour clock, "
            "such as '22:00-07:00'",
        ),
        (
            'quiet_hours = "07:00-07:00"',
            "channels[0].quiet_hours: '07:00-07:00' starts and ends at the same time; give two different times, "
            "such as '22:00-07:00'",
        ),
        (
            'digest_time = "9am"',
            "channels[0].digest_time: '9am' is not a time of day; use HH:MM on a 24-hour clock, such as '09:00'",
        ),
        (
            'min_severity = "urgent"',
            "channels[0].min_severity: 'urgent' is not a severity; use info, low, medium, high or critical",
        ),
        ('digest = "weekly"', "channels[0].digest: 'weekly' is not allowed; use 'none' or 'daily'"),
    ],
)
def test_a_bad_value_names_the_key_and_what_to_write(tmp_path: Path, extra: str, message: str) -> None:
    path = channel_config(tmp_path, extra)
    assert error_of(path) == f"{path}: {message}"


def test_the_shipped_config_still_loads() -> None:
    shipped = Path(__file__).resolve().parents[1] / "config" / "watcher.toml"
    settings = load_settings(shipped, env={})
    assert isinstance(settings, Settings) and all(c.digest == "none" for c in settings.channels)
