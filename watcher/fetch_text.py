"""One-line, secret-free words for what went wrong with a fetch (``watcher.fetch`` uses them; pure)."""

from __future__ import annotations

import http
import re
from urllib.parse import urlsplit, urlunsplit

import requests
from urllib3.exceptions import IncompleteRead, ReadTimeoutError

from watcher.config import HttpSettings


def describe(exc: requests.RequestException, settings: HttpSettings) -> tuple[str, bool]:
    """A one-line reason for ``exc``, and whether another try may help."""
    causes = chain(exc)
    if isinstance(exc, requests.ConnectTimeout):
        return f"connect timeout ({settings.connect_timeout:g} s)", True
    if isinstance(exc, requests.ReadTimeout) or any(isinstance(e, ReadTimeoutError) for e in causes):
        return f"read timeout ({settings.read_timeout:g} s)", True
    if any(isinstance(e, IncompleteRead) for e in causes):
        return "truncated body (the connection closed before Content-Length bytes)", True
    root = next((e for e in reversed(causes) if isinstance(e, OSError)), causes[-1])
    reason = root.strerror if isinstance(root, OSError) and root.strerror else str(root) or type(root).__name__
    if isinstance(exc, requests.exceptions.SSLError):
        return f"TLS error: {reason}", False
    if isinstance(exc, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
        return f"connection failed: {type(root).__name__}: {reason}", True
    return f"request failed: {type(exc).__name__}: {reason}", False


def chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what caused it (``__cause__``, ``__context__``, urllib3's ``reason`` and wrapped args)."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 20:
        e = todo.pop(0)
        if any(e is s for s in seen):
            continue
        seen.append(e)
        causes = (getattr(e, "reason", None), e.__cause__, e.__context__, *e.args)
        todo += [x for x in causes if isinstance(x, BaseException)]
    return seen


def phrase(code: int) -> str:
    try:
        return http.HTTPStatus(code).phrase
    except ValueError:
        return ""


def redact(url: str) -> str:
    """``url`` without user info, query or fragment (safe to show)."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc.rpartition("@")[2]
        return urlunsplit((parts.scheme, netloc, parts.path, "REDACTED" if parts.query else "", ""))
    except ValueError:
        return "<invalid URL>"


def one_line(message: str, urls: tuple[str, ...]) -> str:
    """Collapse ``message`` to one short line without the user info or query of ``urls`` (or of any URL)."""
    for url in urls:
        try:
            parts = urlsplit(url)
        except ValueError:
            continue
        for secret in (parts.query, parts.fragment, parts.netloc.rpartition("@")[0]):
            if secret:
                message = message.replace(secret, "REDACTED")
    message = re.sub(r"//[^/\s@]*@", "//", message)
    message = re.sub(r"\?[^\s'\")]+", "?REDACTED", message)
    return " ".join(message.split())[:300]
