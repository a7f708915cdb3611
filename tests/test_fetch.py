"""The polite fetcher against real HTTP servers on 127.0.0.1 (tests/loopback.py): requests is not mocked.

Time is injected: the fetcher's clock and sleep are a fake that records every wait, so backoff, Retry-After
and per-host spacing are asserted exactly and nothing really waits (only the 0.2 s read timeout is real).
"""

from __future__ import annotations

import random
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.loopback import Close, Hang, Loopback, Reply, free_port, loopback
from watcher import __version__
from watcher.config import HttpSettings
from watcher.fetch import USER_AGENT, Fetcher, FetchResult

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


# --- answers -------------------------------------------------------------------------------------------------


def test_a_page_comes_back_with_its_body_and_validators(server: Loopback, make: Make) -> None:
    server.script("/page.html", _page(("ETag", '"v1"'), ("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT")))
    result = make().get(server.url("/page.html"))
    assert result == FetchResult(
        url=server.url("/page.html"),
        status=200,
        body=PAGE,
        etag='"v1"',
        last_modified="Wed, 21 Oct 2015 07:28:00 GMT",
        content_type="text/html; charset=utf-8",
        not_modified=False,
        error=None,
        attempts=1,
        elapsed_ms=0,
    )
    assert result.ok
    assert server.requests[0].header("If-None-Match") is None
    assert server.requests[0].header("If-Modified-Since") is None


def test_an_etag_is_sent_back_as_if_none_match_and_a_304_is_not_modified(server: Loopback, make: Make) -> None:
    server.script("/page.html", _page(("ETag", '"v1"')), Reply(304, headers={"ETag": '"v1"'}, content_type=None))
    fetcher = make()
    first = fetcher.get(server.url("/page.html"))
    second = fetcher.get(server.url("/page.html"), etag=first.etag)
    assert server.requests[1].header("If-None-Match") == '"v1"'
    assert (second.status, second.not_modified, second.body, second.etag, second.error) == (
        304,
        True,
        None,
        '"v1"',
        None,
    )
    assert second.ok
    assert server.count("/page.html") == 2


def test_a_last_modified_date_is_sent_back_as_if_modified_since_and_a_304_is_not_modified(
    server: Loopback, make: Make
) -> None:
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    server.script("/page.html", _page(("Last-Modified", date)), Reply(304, content_type=None))
    fetcher = make()
    first = fetcher.get(server.url("/page.html"))
    second = fetcher.get(server.url("/page.html"), last_modified=first.last_modified)
    assert server.requests[1].header("If-Modified-Since") == date
    assert server.requests[1].header("If-None-Match") is None
    # the 304 names no date: the one that was sent is still current
    assert (second.status, second.not_modified, second.body, second.last_modified) == (304, True, None, date)
    assert second.ok
    assert server.count("/page.html") == 2


def test_a_proxy_named_in_the_environment_carries_the_request(
    server: Loopback, make: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", server.base)
    monkeypatch.delenv("NO_PROXY")
    monkeypatch.delenv("no_proxy")
    server.script("/page", _page())
    result = make().get("http://docs.example.invalid/page")
    assert result.body == PAGE
    assert [seen.target for seen in server.requests] == ["http://docs.example.invalid/page"]


def test_a_host_in_no_proxy_is_fetched_directly(server: Loopback, make: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    server.script("/page", _page())
    assert make().get(server.url("/page")).body == PAGE


def test_the_user_agent_names_the_project(server: Loopback, make: Make) -> None:
    server.script("/page.html", _page())
    make().get(server.url("/page.html"))
    expected = f"policy-watcher/{__version__} (+https://github.com/policy-watcher/policy-watcher)"
    assert expected == USER_AGENT
    assert server.requests[0].header("User-Agent") == expected


def test_a_configured_user_agent_replaces_the_default(server: Loopback, make: Make) -> None:
    server.script("/page.html", _page())
    make(user_agent="acme-audit/2.0 (security@example.com)").get(server.url("/page.html"))
    assert server.requests[0].header("User-Agent") == "acme-audit/2.0 (security@example.com)"


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


def test_a_server_that_never_answers_is_a_read_timeout(server: Loopback, make: Make) -> None:
    server.script("/page.html", Hang())
    result = make(read_timeout=0.2, retries=1).get(server.url("/page.html"))
    assert result.error == "read timeout (0.2 s) (after 2 attempts)"
    assert (result.status, result.body, result.attempts) == (None, None, 2)
    assert server.count("/page.html") == 2


# --- bodies ----------------------------------------------------------------------------------------------------


def test_a_body_shorter_than_its_content_length_is_an_error_not_a_page(server: Loopback, make: Make) -> None:
    server.script("/page.html", Reply(200, PAGE, length=len(PAGE) + 100))
    result = make(retries=0).get(server.url("/page.html"))
    assert result.error is not None
    assert result.error.startswith("truncated body")
    assert (result.ok, result.body, result.attempts) == (False, None, 1)


def test_a_body_over_the_cap_is_refused_from_its_content_length(server: Loopback, make: Make) -> None:
    server.script("/big.html", Reply(200, b"x" * 2000))
    result = make(max_bytes=1000).get(server.url("/big.html"))
    assert result.error == "larger than 1000 bytes (Content-Length 2000)"
    assert (result.ok, result.status, result.body, result.attempts) == (False, 200, None, 1)


def test_a_body_over_the_cap_without_content_length_is_cut_off_while_streaming(server: Loopback, make: Make) -> None:
    server.script("/big.html", Reply(200, b"x" * 500_000, length=None))
    result = make(max_bytes=1000).get(server.url("/big.html"))
    assert result.error == "larger than 1000 bytes"
    assert (result.ok, result.body, result.attempts) == (False, None, 1)


def test_a_body_exactly_at_the_cap_is_accepted(server: Loopback, make: Make) -> None:
    server.script("/page.html", Reply(200, b"x" * 1000, length=None))
    result = make(max_bytes=1000).get(server.url("/page.html"))
    assert (result.ok, result.body) == (True, b"x" * 1000)


@pytest.mark.parametrize("content_type", ["image/png", "application/json", "application/octet-stream"])
def test_a_content_type_that_is_not_a_document_is_an_error(server: Loopback, make: Make, content_type: str) -> None:
    server.script("/page.html", Reply(200, PAGE, content_type=content_type))
    result = make().get(server.url("/page.html"))
    assert result.error == f"unexpected content type {content_type!r}"
    assert (result.ok, result.body, result.attempts) == (False, None, 1)


@pytest.mark.parametrize(
    "content_type",
    ["application/xhtml+xml", "text/xml", "application/rss+xml; charset=UTF-8", "text/markdown", "TEXT/PLAIN", None],
)
def test_documents_and_a_missing_content_type_are_accepted(
    server: Loopback, make: Make, content_type: str | None
) -> None:
    server.script("/page.html", Reply(200, PAGE, content_type=content_type))
    result = make().get(server.url("/page.html"))
    assert (result.ok, result.body, result.content_type) == (True, PAGE, content_type)


# --- URLs and redirects ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["ftp", "file"])
def test_a_url_that_is_not_http_is_refused_without_any_request(server: Loopback, make: Make, scheme: str) -> None:
    url = server.url("/page.html").replace("http", scheme, 1)
    result = make().get(url)
    assert result.error == f"only http and https URLs are fetched, not {scheme!r}"
    assert (result.status, result.attempts) == (None, 0)
    assert server.connections == 0


@pytest.mark.parametrize(
    ("url", "error"), [("http://[::1/", "not a valid URL"), ("http:///page", "the URL has no host")]
)
def test_a_malformed_url_is_an_error_not_an_exception(make: Make, url: str, error: str) -> None:
    assert make().get(url).error == error


def test_a_redirect_chain_within_the_limit_ends_at_the_final_url(server: Loopback, make: Make) -> None:
    server.script("/r1", Reply(301, headers={"Location": "/r2"}))
    server.script("/r2", Reply(302, headers={"Location": server.url("/r3")}))
    server.script("/r3", Reply(307, headers={"Location": "final.html"}))
    server.script("/final.html", _page())
    result = make(max_redirects=3).get(server.url("/r1"))
    assert (result.ok, result.status, result.url, result.body, result.attempts) == (
        True,
        200,
        server.url("/final.html"),
        PAGE,
        1,
    )
    assert [seen.path for seen in server.requests] == ["/r1", "/r2", "/r3", "/final.html"]
    assert server.connections == 1


def test_a_redirect_chain_over_the_limit_is_an_error(server: Loopback, make: Make) -> None:
    server.script("/r1", Reply(301, headers={"Location": "/r2"}))
    server.script("/r2", Reply(301, headers={"Location": "/r3"}))
    server.script("/r3", Reply(301, headers={"Location": "/final.html"}))
    result = make(max_redirects=2).get(server.url("/r1"))
    assert result.error == "too many redirects (more than 2)"
    assert (result.ok, result.status, result.url) == (False, 301, server.url("/r3"))
    assert server.count("/final.html") == 0


def test_a_redirect_loop_is_an_error(server: Loopback, make: Make) -> None:
    server.script("/a", Reply(302, headers={"Location": "/b"}))
    server.script("/b", Reply(302, headers={"Location": "/a"}))
    result = make().get(server.url("/a"))
    assert result.error == "redirect loop"
    assert (result.ok, result.status, result.attempts) == (False, 302, 1)
    assert [seen.path for seen in server.requests] == ["/a", "/b"]


def test_a_redirect_to_another_scheme_is_refused(server: Loopback, make: Make) -> None:
    server.script("/a", Reply(302, headers={"Location": "file:///etc/passwd"}))
    result = make().get(server.url("/a"))
    assert result.error == "redirect refused: only http and https URLs are fetched, not 'file'"


def test_errors_are_one_line_without_url_credentials_or_query_secrets(server: Loopback, make: Make) -> None:
    refused = make(retries=0).get(f"http://alice:hunter2@127.0.0.1:{free_port()}/page.html?token=s3cr3t")
    server.script("/a", Reply(302, headers={"Location": "/missing?api_key=s3cr3t"}))
    missing = make().get(server.url("/a"))
    assert missing.error == "HTTP 404 Not Found"
    for result in (refused, missing):
        assert result.error is not None
        assert "\n" not in result.error
        for secret in ("alice", "hunter2", "s3cr3t", "token", "api_key"):
            assert secret not in result.error


# --- TLS ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (made with the openssl command) and its key."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_server(certificate: tuple[Path, Path]) -> Iterator[Loopback]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    with loopback(tls=context) as served:
        served.script("/page.html", _page())
        yield served


def test_a_certificate_that_is_not_trusted_is_a_tls_error_without_retries(tls_server: Loopback, make: Make) -> None:
    result = make(retries=2).get(tls_server.url("/page.html"))
    assert result.error is not None
    assert result.error.startswith("TLS error: ")
    assert "certificate verify failed" in result.error
    assert (result.status, result.attempts) == (None, 1)
    assert tls_server.requests == []


def test_https_works_with_a_ca_bundle_that_trusts_the_certificate(
    tls_server: Loopback, make: Make, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate[0]))
    result = make().get(tls_server.url("/page.html"))
    assert (result.ok, result.status, result.body) == (True, 200, PAGE)


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
