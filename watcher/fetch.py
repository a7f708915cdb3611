"""The only module that talks HTTP. For now: one polite GET for ``watcher parse URL``.

The scheduled service (conditional GET, retries, per-host limits) grows here in a later issue.
"""

from __future__ import annotations

import requests

from watcher import __version__

USER_AGENT = f"policy-watcher/{__version__} (+https://github.com/policy-watcher)"
MAX_BYTES = 10 * 1024 * 1024


class FetchError(Exception):
    """A URL could not be fetched; the message says why in one line."""


def get_once(url: str, timeout: float = 20.0, max_bytes: int = MAX_BYTES) -> bytes:
    """GET ``url`` (http or https only), refusing bodies larger than ``max_bytes``."""
    if not url.lower().startswith(("http://", "https://")):
        raise FetchError(f"only http and https URLs are fetched, not {url!r}")
    try:
        with requests.get(url, timeout=(5.0, timeout), stream=True, headers={"User-Agent": USER_AGENT}) as r:
            if r.status_code >= 400:
                raise FetchError(f"{url} answered HTTP {r.status_code}")
            chunks: list[bytes] = []
            size = 0
            for chunk in r.iter_content(chunk_size=65536):
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(f"{url} is larger than {max_bytes} bytes")
                chunks.append(chunk)
            return b"".join(chunks)
    except requests.RequestException as exc:
        raise FetchError(f"{url} could not be fetched: {exc.__class__.__name__}: {exc}") from exc
