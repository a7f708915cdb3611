"""Shared pieces of the fetcher tests (tests/test_fetch*.py): the page, the fake clock and the fixtures.

Time is injected: the fetcher's clock and sleep are a fake that records every wait, so backoff, Retry-After
and per-host spacing are asserted exactly and nothing really waits. A test module imports the fixtures it uses
(``make`` needs ``fake``), and ``_loopback_is_never_proxied``, which keeps any proxy away from 127.0.0.1.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.loopback import Loopback, Reply, loopback
from watcher.config import HttpSettings
from watcher.fetch import Fetcher

PAGE = b"<html><body><h1>AmazonRekognitionFullAccess</h1></body></html>"
BASE: dict[str, Any] = {
    "connect_timeout": 2.0,
    "read_timeout": 5.0,
    "retries": 2,
    "backoff": 1.0,
    "backoff_max": 8.0,
    "per_host_min_interval": 0.0,
}
"""Test defaults: no spacing unless a test asks for it, so the recorded sleeps are backoff only."""


class FakeTime:
    """A clock that only moves when the fetcher sleeps (or a test moves it); every sleep is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class NoJitter(random.Random):
    def random(self) -> float:
        return 0.0


class FullJitter(random.Random):
    def random(self) -> float:
        return 1.0


Make = Callable[..., Fetcher]


@pytest.fixture(autouse=True)
def _loopback_is_never_proxied(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(key, "127.0.0.1,localhost")


@pytest.fixture
def server() -> Iterator[Loopback]:
    with loopback() as served:
        yield served


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


@pytest.fixture
def make(fake: FakeTime) -> Iterator[Make]:
    made: list[Fetcher] = []

    def make(rng: random.Random | None = None, **overrides: Any) -> Fetcher:
        settings = HttpSettings.model_validate({**BASE, **overrides})
        made.append(Fetcher(settings, clock=fake.clock, sleep=fake.sleep, rng=rng or NoJitter()))
        return made[-1]

    yield make
    for fetcher in made:
        fetcher.close()


def _page(*headers: tuple[str, str]) -> Reply:
    return Reply(200, PAGE, headers=dict(headers))
