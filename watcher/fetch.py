"""The only module that talks HTTP (DESIGN.md §6): a polite ``Fetcher`` for the service, ``get_once`` for the CLI.

``Fetcher.get`` never raises: every failure comes back as ``FetchResult.error``, one line, without URL
credentials or query strings. One ``requests.Session`` per fetcher (connections are reused), TLS always
verified, redirects followed by hand (each hop is checked and counts against the per-host limits).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import functools
import os
import random
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter

from watcher import __version__
from watcher.config import HttpSettings
from watcher.fetch_text import describe, one_line, phrase, redact

USER_AGENT = f"policy-watcher/{__version__} (+https://github.com/policy-watcher/policy-watcher)"
MAX_BYTES = 10 * 1024 * 1024
CONTENT_TYPES = frozenset(
    "text/html application/xhtml+xml text/xml application/xml application/rss+xml application/atom+xml"
    " text/plain text/markdown".split()
)
"""Accepted media types of a 200 (a missing Content-Type is accepted too)."""
REDIRECTS = frozenset({301, 302, 303, 307, 308})
PREPARED = 1024
"""Prepared requests kept (one per URL fetched; the oldest goes first)."""
_CHUNK = 64 * 1024
_DRAIN = 64 * 1024
"""Bodies of redirects and errors up to this size are read so that the connection can be reused."""


class FetchError(Exception):
    """A URL could not be fetched; the message says why in one line."""


@dataclass(frozen=True)
class FetchResult:
    url: str
    """The URL that answered last (after redirects)."""
    status: int | None
    """The final HTTP status, None if there was no response."""
    body: bytes | None
    """None on 304 or error."""
    etag: str | None
    """On a 304 without an ETag header, the ETag that was sent (still current)."""
    last_modified: str | None
    """On a 304 without a Last-Modified header, the date that was sent."""
    content_type: str | None
    not_modified: bool
    error: str | None
    """One line, no secrets; None on success and on 304."""
    attempts: int
    """Tries made (1 + retries used; redirect hops are part of one try; 0 if the URL was refused)."""
    elapsed_ms: int
    """By the fetcher's clock, waits and backoff included."""
    cancelled: bool = False
    """The fetcher was stopped while waiting to retry: not an answer about the source (the check is skipped)."""

    @property
    def ok(self) -> bool:
        return self.error is None and (self.not_modified or (self.status == 200 and self.body is not None))


class _Failure(Exception):
    def __init__(
        self, message: str, url: str, *, retry: bool = False, status: int | None = None, wait: float | None = None
    ) -> None:
        super().__init__(message)
        self.message, self.url, self.retry, self.status, self.wait = message, url, retry, status, wait


@dataclass
class _Host:
    """Requests to one host: a semaphore of ``per_host_concurrency`` slots and when the last one started."""

    slots: threading.Semaphore
    last_start: float | None = None


class Fetcher:
    """Polite GETs: retries with backoff, conditional requests, size cap, per-host concurrency and spacing.

    Thread-safe: the service calls ``get`` from several threads; limits are shared by all its calls.
    """

    def __init__(
        self,
        settings: HttpSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self._stopped = threading.Event()
        self._clock, self._rng = clock, rng or random.Random()
        self._sleep = sleep if sleep is not time.sleep else self._wait
        self._lock = threading.Lock()
        self._hosts: dict[str, _Host] = {}
        self._requests: dict[str, requests.PreparedRequest] = {}
        self._global = threading.BoundedSemaphore(settings.concurrency)
        self._session = requests.Session()
        self._session.headers["User-Agent"] = settings.user_agent or USER_AGENT
        # The environment is read once, here, not on every request (requests re-reads every variable per call,
        # about a third of the client's CPU on a 304): proxies, NO_PROXY and the CA bundle. TLS is always verified;
        # REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE may only name another CA bundle.
        self._session.trust_env = False
        self._proxied = bool(urllib.request.getproxies())
        self._verify: bool | str = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        self._session.verify = self._verify
        self._timeout = (settings.connect_timeout, settings.read_timeout)
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=settings.concurrency, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    def stop(self) -> None:
        """Give up every wait for a retry now (the service is stopping): those fetches come back ``cancelled``."""
        self._stopped.set()

    def _wait(self, seconds: float) -> None:
        self._stopped.wait(seconds)

    def get(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> FetchResult:
        start = self._clock()
        attempts = 0

        def failed(message: str, at: str, status: int | None = None) -> FetchResult:
            ms = int((self._clock() - start) * 1000)
            error = one_line(message, (url, at))
            return FetchResult(at, status, None, None, None, None, False, error, attempts, ms)

        try:
            problem = _refuse(url)
            if problem:
                return failed(problem, url)
            headers: dict[str, str] = {}
            if etag:
                headers["If-None-Match"] = etag
            if last_modified:
                headers["If-Modified-Since"] = last_modified
            while True:
                attempts += 1
                try:
                    result = self._try(url, headers, etag, last_modified)
                    ms = int((self._clock() - start) * 1000)
                    return dataclasses.replace(result, attempts=attempts, elapsed_ms=ms)
                except _Failure as failure:
                    if not failure.retry or attempts > self.settings.retries:
                        after = f" (after {attempts} attempts)" if attempts > 1 else ""
                        return failed(failure.message + after, failure.url, failure.status)
                    self._sleep(self._backoff(attempts, failure.wait))
                    if self._stopped.is_set():
                        ms = int((self._clock() - start) * 1000)
                        error = one_line(f"stopping: retry abandoned after {failure.message}", (url, failure.url))
                        return FetchResult(failure.url, failure.status, None, None, None, None, False, error,
                                           attempts, ms, cancelled=True)  # fmt: skip
        except Exception as exc:  # errors never raise out of get()
            return failed(f"unexpected error: {type(exc).__name__}: {exc}", url)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        cap = self.settings.backoff_max
        if retry_after is not None:
            return min(retry_after, cap)
        delay = min(cap, self.settings.backoff * 2.0 ** (attempt - 1))
        return min(cap, delay + self._rng.uniform(0, delay / 4))

    def _try(self, url: str, headers: dict[str, str], etag: str | None, last_modified: str | None) -> FetchResult:
        """One try: follow redirects to a final answer, or raise ``_Failure``."""
        visited, current = {url}, url
        while True:
            with self._slot(urlsplit(current).hostname or ""):
                try:
                    response = self._send(current, headers)
                    try:
                        code = response.status_code
                        if code not in REDIRECTS:
                            return self._final(current, response, etag, last_modified)
                        location = response.headers.get("Location")
                        _drain(response)
                    finally:
                        response.close()
                except requests.RequestException as exc:
                    message, retry = describe(exc, self.settings)
                    raise _Failure(message, current, retry=retry) from exc
            if not location:
                raise _Failure(f"HTTP {code} without a Location", current, status=code)
            target = urljoin(current, location)
            problem = _refuse(target)
            if problem:
                raise _Failure(f"redirect refused: {problem}", current, status=code)
            if target in visited:
                raise _Failure("redirect loop", current, status=code)
            if len(visited) > self.settings.max_redirects:
                raise _Failure(f"too many redirects (more than {self.settings.max_redirects})", current, status=code)
            visited.add(target)
            current = target

    def _send(self, url: str, headers: dict[str, str]) -> requests.Response:
        """One GET through the session's adapter (its pooled connections), without the per-call merging of
        cookies, hooks and environment that ``Session.get`` does: redirects are followed by ``_try``, no cookie
        is ever needed, and the environment was read once in ``__init__``."""
        request = self._prepared(url).copy()
        request.headers.update(headers)
        proxies = requests.utils.get_environ_proxies(url) if self._proxied else {}
        adapter = self._session.get_adapter(url)
        return adapter.send(
            request, stream=True, timeout=self._timeout, verify=self._verify, cert=None, proxies=proxies
        )

    def _prepared(self, url: str) -> requests.PreparedRequest:
        """The GET of ``url`` with the session's headers, prepared once per URL (copied for each request)."""
        with self._lock:
            request = self._requests.get(url)
        if request is None:
            request = requests.Request("GET", url, headers=dict(self._session.headers)).prepare()
            with self._lock:
                if len(self._requests) >= PREPARED:
                    self._requests.pop(next(iter(self._requests)))
                self._requests[url] = request
        return request

    def _final(self, url: str, response: requests.Response, etag: str | None, last_modified: str | None) -> FetchResult:
        code, h = response.status_code, response.headers
        content_type = h.get("Content-Type") or None
        if code == 304:
            _drain(response)
            etag, last_modified = h.get("ETag") or etag, h.get("Last-Modified") or last_modified
            return FetchResult(url, 304, None, etag, last_modified, content_type, True, None, 0, 0)
        if code != 200:
            retry = code == 429 or code >= 500
            wait = _retry_after(response) if retry else None
            _drain(response)
            raise _Failure(f"HTTP {code} {phrase(code)}".rstrip(), url, retry=retry, status=code, wait=wait)
        media = (content_type or "").split(";")[0].strip().lower()
        if media and media not in CONTENT_TYPES:
            raise _Failure(f"unexpected content type {media[:80]!r}", url, status=code)
        body = self._read(url, response)
        return FetchResult(url, 200, body, h.get("ETag"), h.get("Last-Modified"), content_type, False, None, 0, 0)

    def _read(self, url: str, response: requests.Response) -> bytes:
        cap = self.settings.max_bytes
        declared = _int(response.headers.get("Content-Length"))
        if declared is not None and declared > cap:
            raise _Failure(f"larger than {cap} bytes (Content-Length {declared})", url, status=200)
        chunks: list[bytes] = []
        size = 0
        deadline = self._clock() + self.settings.body_timeout
        for chunk in response.iter_content(_CHUNK):
            size += len(chunk)
            if size > cap:
                raise _Failure(f"larger than {cap} bytes", url, status=200)
            if self._clock() > deadline:  # retried, as a read timeout is
                raise _Failure(f"body not read within {self.settings.body_timeout:g} s", url, retry=True, status=200)
            chunks.append(chunk)
        encoded = response.headers.get("Content-Encoding", "identity").lower() not in ("", "identity")
        if declared is not None and not encoded and size < declared:
            raise _Failure(f"truncated body ({size} of {declared} bytes)", url, retry=True, status=200)
        return b"".join(chunks)

    @contextmanager
    def _slot(self, host: str) -> Iterator[None]:
        """Hold a per-host and a global slot, starting at least ``per_host_min_interval`` after the last start."""
        with self._lock:
            state = self._hosts.get(host)
            if state is None:
                state = self._hosts[host] = _Host(threading.Semaphore(self.settings.per_host_concurrency))
        with state.slots, self._global:
            with self._lock:
                now = self._clock()
                earliest = now if state.last_start is None else state.last_start + self.settings.per_host_min_interval
                begin = state.last_start = max(now, earliest)
            if begin > now:
                self._sleep(begin - now)
            yield


@functools.lru_cache(maxsize=1024)
def _refuse(url: str) -> str | None:
    """Why ``url`` is not fetched, or None."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "not a valid URL"
    if parts.scheme.lower() not in ("http", "https"):
        return f"only http and https URLs are fetched, not {(parts.scheme or 'no scheme')[:20]!r}"
    if not parts.hostname:
        return "the URL has no host"
    return None


def _drain(response: requests.Response) -> None:
    """Read a small unwanted body so that the connection goes back to the pool; a large one is dropped."""
    size = 0
    try:
        for chunk in response.iter_content(_CHUNK):
            size += len(chunk)
            if size > _DRAIN:
                return
    except requests.RequestException:
        return


def _retry_after(response: requests.Response) -> float | None:
    """Retry-After in seconds (a number or an HTTP date), or None if absent or unreadable."""
    value = response.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return float(value)
    when, now = _http_date(value), _http_date(response.headers.get("Date", "")) or dt.datetime.now(dt.UTC)
    return None if when is None else max(0.0, (when - now).total_seconds())


def _http_date(value: str) -> dt.datetime | None:
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _int(value: str | None) -> int | None:
    return int(value) if value and value.strip().isdigit() else None


def get_once(url: str, timeout: float = 20.0, max_bytes: int = MAX_BYTES) -> bytes:
    """GET ``url`` (http or https) once, no retries; raise ``FetchError`` with a one-line reason."""
    settings = HttpSettings(read_timeout=timeout, max_bytes=max_bytes, retries=0, per_host_min_interval=0)
    with Fetcher(settings) as fetcher:
        result = fetcher.get(url)
    if result.error is not None or result.body is None:
        raise FetchError(f"{redact(url)} could not be fetched: {result.error}")
    return result.body
