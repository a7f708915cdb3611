"""Shared pieces of the property tests (tests/test_properties*.py): the hypothesis settings and the fixture
bodies they start from.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

from tests.conftest import REKOGNITION

FAST = settings(max_examples=200, deadline=None)
SLOW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

FIXTURES = {
    name: (REKOGNITION / name).read_bytes()
    for name in ("page-v1.html", "page-legacy.html", "seed.md", "doc-history-v1.rss")
}
PAGE_V1 = FIXTURES["page-v1.html"].decode("utf-8")
