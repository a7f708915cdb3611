"""The fetcher over TLS: a loopback HTTPS server with a self-signed certificate made by the openssl command."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fetch_helpers import PAGE, Make, _page
from tests.fetch_helpers import _loopback_is_never_proxied as _loopback_is_never_proxied
from tests.fetch_helpers import fake as fake
from tests.fetch_helpers import make as make
from tests.loopback import Loopback, loopback

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
