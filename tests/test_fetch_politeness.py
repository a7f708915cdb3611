"""The fetcher's politeness against real HTTP servers on 127.0.0.1 (tests/loopback.py).

Per-host spacing (asserted on the fake clock of tests/fetch_helpers.py), connection reuse, and the bounds on
requests in flight per host and overall.
"""

from __future__ import annotations

import threading

import pytest

from tests.fetch_helpers import PAGE, FakeTime, Make, _page
from tests.fetch_helpers import _loopback_is_never_proxied as _loopback_is_never_proxied
from tests.fetch_helpers import fake as fake
from tests.fetch_helpers import make as make
from tests.fetch_helpers import server as server
from tests.loopback import Loopback, Reply
from watcher.fetch import FetchResult

# --- politeness --------------------------------------------------------------------------------------------------


def test_two_gets_to_one_host_are_spaced_by_the_minimum_interval(server: Loopback, make: Make, fake: FakeTime) -> None:
    server.script("/page.html", _page())
    fetcher = make(per_host_min_interval=5.0)
    assert fetcher.get(server.url("/page.html")).ok
    assert fake.sleeps == []
    assert fetcher.get(server.url("/page.html")).ok
    assert fake.sleeps == [pytest.approx(5.0)]
    fake.now += 3.0  # three seconds pass: two are left to wait
    assert fetcher.get(server.url("/page.html")).ok
    assert fake.sleeps == [pytest.approx(5.0), pytest.approx(2.0)]


def test_another_host_is_not_held_back_by_the_spacing(server: Loopback, make: Make, fake: FakeTime) -> None:
    server.script("/page.html", _page())
    fetcher = make(per_host_min_interval=5.0)
    assert fetcher.get(server.url("/page.html")).ok
    assert fetcher.get(server.url("/page.html").replace("127.0.0.1", "localhost")).ok
    assert fake.sleeps == []


def test_three_gets_reuse_one_tcp_connection(server: Loopback, make: Make) -> None:
    server.script("/page.html", _page())
    server.script("/missing.html", Reply(404, b"no such page"))
    fetcher = make()
    results = [fetcher.get(server.url(path)) for path in ("/page.html", "/missing.html", "/page.html")]
    assert [result.status for result in results] == [200, 404, 200]
    assert server.connections == 1


@pytest.mark.parametrize(("concurrency", "per_host", "peak"), [(4, 2, 2), (1, 2, 1)])
def test_requests_in_flight_are_bounded_per_host_and_globally(
    server: Loopback, make: Make, concurrency: int, per_host: int, peak: int
) -> None:
    gate = threading.Event()
    server.script("/page.html", Reply(200, PAGE, gate=gate))
    fetcher = make(concurrency=concurrency, per_host_concurrency=per_host)
    results: list[FetchResult] = []
    threads = [threading.Thread(target=lambda: results.append(fetcher.get(server.url("/page.html")))) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        assert server.wait_in_flight(peak)
        # a bounded look for one request too many (it would arrive at once if the limit did not hold)
        assert not server.wait_in_flight(peak + 1, timeout=0.3)
    finally:
        gate.set()
        for thread in threads:
            thread.join(timeout=10)
    assert [result.ok for result in results] == [True] * 4
    assert server.peak == peak
    assert server.count("/page.html") == 4
