from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
REKOGNITION = FIXTURES / "rekognition"


@pytest.fixture
def rekognition() -> Path:
    return REKOGNITION


@pytest.fixture(scope="session", autouse=True)
def _private_action_index_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The action index is built once per test run into a private directory, never into ~/.cache."""
    before = os.environ.get("WATCHER_CACHE_DIR")
    os.environ["WATCHER_CACHE_DIR"] = str(tmp_path_factory.mktemp("watcher-cache"))
    yield
    if before is None:
        os.environ.pop("WATCHER_CACHE_DIR", None)
    else:
        os.environ["WATCHER_CACHE_DIR"] = before


pytest_plugins = ["tests.db_fixtures"]
