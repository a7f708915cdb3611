"""The fetcher's retries and backoff against real HTTP servers on 127.0.0.1 (tests/loopback.py).

The fetcher's clock and sleep are a fake that records every wait (tests/fetch_helpers.py), so backoff and
Retry-After are asserted exactly and nothing really waits (only the 0.2 s read timeout is real).
"""

from __future__ import annotations

import threading
import time

from tests.fetch_helpers import BASE, PAGE, FakeTime, FullJitter, Make, NoJitter, _page
from tests.fetch_helpers import _loopback_is_never_proxied as _loopback_is_never_proxied
from tests.fetch_helpers import fake as fake
from tests.fetch_helpers import make as make
from tests.fetch_helpers import server as server
from tests.loopback import Close, Hang, Loopback, Reply, free_port
from watcher.config import HttpSettings
from watcher.fetch import Fetcher, FetchResult

# --- retries and backoff ---------------------------------------------------------------------------------------


def test_a_429_with_retry_after_2_waits_2_seconds_then_succeeds(server: Loopback, make: Make, fake: FakeTime) -> None:
    server.script("/page.html", Reply(429, headers={"Retry-After": "2"}), _page())
    started = time.monotonic()
    result = make().get(server.url("/page.html"))
    assert time.monotonic() - started < 1.0  # the wait was recorded, not slept
    assert fake.sleeps == [2.0]
    assert (result.ok, result.status, result.body, result.attempts, result.elapsed_ms) == (True, 200, PAGE, 2, 2000)
    assert server.count("/page.html") == 2


def test_a_retry_after_http_date_is_counted_from_the_server_date(server: Loopback, make: Make, fake: FakeTime) -> None:
    headers = {"Date": "Wed, 21 Oct 2015 07:28:00 GMT", "Retry-After": "Wed, 21 Oct 2015 07:28:30 GMT"}
    server.script("/page.html", Reply(503, headers=headers), _page())
    assert make(backoff_max=60.0).get(server.url("/page.html")).ok
    assert fake.sleeps == [30.0]


def test_a_retry_after_longer_than_backoff_max_is_capped(server: Loopback, make: Make, fake: FakeTime) -> None:
    server.script("/page.html", Reply(429, headers={"Retry-After": "3600"}), _page())
    assert make(backoff_max=8.0).get(server.url("/page.html")).ok
    assert fake.sleeps == [8.0]


def test_a_500_is_retried_once_after_the_first_backoff(server: Loopback, make: Make, fake: FakeTime) -> None:
    server.script("/page.html", Reply(500), _page())
    result = make(backoff=0.5).get(server.url("/page.html"))
    assert (result.ok, result.status, result.attempts) == (True, 200, 2)
    assert fake.sleeps == [0.5]
    assert server.count("/page.html") == 2


def test_a_persistent_503_fails_after_retries_plus_one_attempts_with_doubling_capped_backoff(
    server: Loopback, make: Make, fake: FakeTime
) -> None:
    server.script("/page.html", Reply(503))
    result = make(retries=3, backoff=1.0, backoff_max=3.0).get(server.url("/page.html"))
    assert result.error == "HTTP 503 Service Unavailable (after 4 attempts)"
    assert (result.ok, result.status, result.body, result.attempts) == (False, 503, None, 4)
    assert fake.sleeps == [1.0, 2.0, 3.0]
    assert server.count("/page.html") == 4


def test_jitter_adds_at_most_a_quarter_of_the_backoff(server: Loopback, make: Make, fake: FakeTime) -> None:
    server.script("/page.html", Reply(502))
    make(rng=FullJitter(), retries=2, backoff=1.0, backoff_max=8.0).get(server.url("/page.html"))
    assert fake.sleeps == [1.25, 2.5]


def test_stopping_the_fetcher_ends_a_wait_for_a_retry_at_once(server: Loopback) -> None:
    server.script("/page", Reply(503))
    settings = HttpSettings.model_validate({**BASE, "backoff": 600, "backoff_max": 600})
    fetcher = Fetcher(settings)  # the real clock and wait: a backoff of ten minutes
    results: list[FetchResult] = []
    worker = threading.Thread(target=lambda: results.append(fetcher.get(server.url("/page"))))
    worker.start()
    assert server.wait_seen(1)
    fetcher.stop()
    worker.join(timeout=30)
    fetcher.close()
    [result] = results
    assert (result.cancelled, result.attempts, result.status) == (True, 1, 503)
    assert result.error is not None and result.error.startswith("stopping: retry abandoned after HTTP 503")
    assert server.count("/page") == 1


def test_a_404_is_final_after_exactly_one_attempt(server: Loopback, make: Make, fake: FakeTime) -> None:
    result = make().get(server.url("/missing.html"))
    assert result.error == "HTTP 404 Not Found"
    assert (result.ok, result.status, result.body, result.attempts) == (False, 404, None, 1)
    assert fake.sleeps == []
    assert server.count("/missing.html") == 1


def test_a_connection_closed_without_an_answer_is_retried_then_fails(
    server: Loopback, make: Make, fake: FakeTime
) -> None:
    server.script("/page.html", Close())
    result = make(retries=2).get(server.url("/page.html"))
    assert result.error is not None
    assert result.error.startswith("connection failed: ")
    assert result.error.endswith("(after 3 attempts)")
    assert (result.status, result.body, result.attempts) == (None, None, 3)
    assert fake.sleeps == [1.0, 2.0]
    assert server.count("/page.html") == 3


def test_a_connection_closed_once_is_retried_and_the_page_arrives(server: Loopback, make: Make) -> None:
    server.script("/page.html", Close(), _page())
    result = make().get(server.url("/page.html"))
    assert (result.ok, result.body, result.attempts) == (True, PAGE, 2)


def test_a_refused_connection_fails_without_an_http_status(make: Make) -> None:
    result = make(retries=0).get(f"http://127.0.0.1:{free_port()}/page.html")
    assert result.error is not None
    assert result.error.startswith("connection failed: ConnectionRefusedError")
    assert (result.status, result.attempts) == (None, 1)


class Ticking(FakeTime):
    """A clock that moves 50 s each time it is read: every chunk of a body seems to take that long to arrive."""

    def clock(self) -> float:
        self.now += 50.0
        return self.now


def test_a_body_that_takes_longer_than_body_timeout_is_an_error_retried_like_a_read_timeout(
    server: Loopback,
) -> None:
    body = b"<html>" + b"x" * (300 * 1024) + b"</html>"  # five chunks of 64 KB: 250 s by the ticking clock
    server.script("/slow.html", Reply(200, body), Reply(200, body))
    ticking = Ticking()
    settings = HttpSettings.model_validate({**BASE, "retries": 1, "body_timeout": 120.0})
    with Fetcher(settings, clock=ticking.clock, sleep=ticking.sleep, rng=NoJitter()) as fetcher:
        result = fetcher.get(server.url("/slow.html"))
    assert (result.ok, result.body, result.error) == (False, None, "body not read within 120 s (after 2 attempts)")
    assert (server.count("/slow.html"), ticking.sleeps) == (2, [1.0])


def test_a_body_read_within_body_timeout_is_fetched(server: Loopback) -> None:
    body = b"<html>" + b"x" * (300 * 1024) + b"</html>"
    server.script("/slow.html", Reply(200, body))
    ticking = Ticking()
    settings = HttpSettings.model_validate({**BASE, "body_timeout": 600.0})
    with Fetcher(settings, clock=ticking.clock, sleep=ticking.sleep, rng=NoJitter()) as fetcher:
        assert fetcher.get(server.url("/slow.html")).body == body


def test_a_server_that_never_answers_is_a_read_timeout(server: Loopback, make: Make) -> None:
    server.script("/page.html", Hang())
    result = make(read_timeout=0.2, retries=1).get(server.url("/page.html"))
    assert result.error == "read timeout (0.2 s) (after 2 attempts)"
    assert (result.status, result.body, result.attempts) == (None, None, 2)
    assert server.count("/page.html") == 2
