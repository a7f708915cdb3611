"""The fetcher's URLs and redirects against real HTTP servers on 127.0.0.1 (tests/loopback.py).

Refused schemes, malformed URLs, redirect chains and loops, and errors that keep URL secrets to themselves.
"""

from __future__ import annotations

import pytest

from tests.fetch_helpers import PAGE, Make, _page
from tests.fetch_helpers import _loopback_is_never_proxied as _loopback_is_never_proxied
from tests.fetch_helpers import fake as fake
from tests.fetch_helpers import make as make
from tests.fetch_helpers import server as server
from tests.loopback import Loopback, Reply, free_port

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
