"""Shared pieces of the settings tests (tests/test_config*.py): a config file written to tmp_path, the error
it is refused with, and ``[[sources]]`` tables to put in it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from watcher.config import ConfigError, load_settings

SOURCE = """
[[sources]]
name = "{name}"
url = "https://docs.aws.amazon.com/{name}/latest/dg/page.html"
kind = "page"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "watcher.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={} if env is None else env)
    return str(caught.value)


def sources(*names: str) -> str:
    return "".join(SOURCE.format(name=name) for name in names)
