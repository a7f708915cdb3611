from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
REKOGNITION = FIXTURES / "rekognition"


@pytest.fixture
def rekognition() -> Path:
    return REKOGNITION


pytest_plugins = ["tests.db_fixtures"]
