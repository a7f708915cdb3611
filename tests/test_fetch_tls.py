"""The fetcher over TLS: a loopback HTTPS server with a self-signed certificate made by the openssl command."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fetch_helpers import PAGE, Make, _page
from tests.fetch_helpers import _loopback_is_never_proxied as _loopback_is_never_proxied
from tests.fetch_helpers import fake as fake
from tests.fetch_helpers import make as make
from tests.loopback import Loopback, loopback
from tests.tls_helpers import certificate as certificate

# --- TLS ------------------------------------------------------------------------------------------------------


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
