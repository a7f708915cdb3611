"""Settings durations: seconds or a number with a unit, where they apply, and the errors for malformed or
too short ones (asserted exactly).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.config_helpers import error_of, sources, write
from watcher.config import Defaults, load_settings, parse_duration

# -------------------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("given", "seconds"),
    [(90, 90), ("90", 90), ("90s", 90), ("30m", 1800), ("1h", 3600), ("1d", 86400), (" 2H ", 7200)],
)
def test_durations_are_seconds_or_a_number_with_a_unit(given: int | str, seconds: int) -> None:
    assert parse_duration(given) == seconds
    assert Defaults(interval=given).interval == seconds


def test_durations_apply_to_interval_jitter_misfire_grace_and_a_source_interval(tmp_path: Path) -> None:
    path = write(tmp_path, '[defaults]\ninterval = "2h"\njitter = "30s"\nmisfire_grace = "10m"\n' + sources("a"))
    text = path.read_text() + 'interval = "15m"\n'
    settings = load_settings(write(tmp_path, text), env={})
    assert (settings.defaults.interval, settings.defaults.jitter, settings.defaults.misfire_grace) == (7200, 30, 600)
    assert settings.sources[0].interval == 900


@pytest.mark.parametrize("given", ["1x", "1.5h", "h", "-5m", "1h30m"])
def test_a_malformed_duration_says_how_to_write_one(tmp_path: Path, given: str) -> None:
    path = write(tmp_path, f'[defaults]\ninterval = "{given}"\n')
    assert error_of(path) == (
        f"{path}: defaults.interval: {given!r} is not a duration; "
        "use seconds (90) or a string such as '30m', '1h' or '1d'"
    )


def test_a_boolean_is_not_a_duration(tmp_path: Path) -> None:
    path = write(tmp_path, "[defaults]\njitter = true\n")
    assert error_of(path) == (
        f"{path}: defaults.jitter: true is not a duration; use seconds (90) or a string such as '30m', '1h' or '1d'"
    )


def test_a_fractional_duration_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "[defaults]\ninterval = 90.5\n")
    assert error_of(path) == (
        f"{path}: defaults.interval: 90.5 is not a whole number; use an integer such as 10 or a duration such as '30m'"
    )


def test_a_too_short_interval_is_counted_in_seconds(tmp_path: Path) -> None:
    path = write(tmp_path, '[defaults]\ninterval = "5s"\nmisfire_grace = 0\n')
    assert error_of(path) == (
        f"{path}: defaults.interval: 5 seconds is too small; use at least 10 seconds\n"
        f"{path}: defaults.misfire_grace: 0 seconds is too small; use at least 1 second"
    )


def test_a_too_short_source_interval_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, sources("a") + 'interval = "9s"\n')
    assert error_of(path) == f"{path}: sources[0].interval: 9 seconds is too small; use at least 10 seconds"
