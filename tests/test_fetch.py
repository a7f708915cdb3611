"""The polite fetcher against real HTTP servers on 127.0.0.1 (tests/loopback.py): requests is not mocked.

Here: what an answer brings back (validators, proxies, the User-Agent) and which bodies are accepted.
Retries, URLs and redirects, TLS and politeness are in tests/test_fetch_*.py, the fixtures in
tests/fetch_helpers.py. Time is injected: nothing really waits.
"""

from __future__ import annotations

import pytest

from tests.fetch_helpers import PAGE, Make, _page
from tests.fetch_helpers import _loopback_is_never_proxied as _loopback_is_never_proxied
from tests.fetch_helpers import fake as fake
from tests.fetch_helpers import make as make
from tests.fetch_helpers import server as server
from tests.loopback import Loopback, Reply, free_port
from watcher import __version__
from watcher.fetch import USER_AGENT, FetchResult

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
