"""Parse one body (bytes) into a ``Page`` or ``Feed``. The kind is detected, never configured.

``parse`` never raises on bad input: a body that is no HTML, markdown or feed comes back as a
``Page`` of kind ``unknown`` with a warning saying why.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import replace

from watcher.canonical import content_hash
from watcher.model import Feed, Kind, Page, Parsed, ParseWarning
from watcher.parse.feed import looks_like_feed, parse_feed_result, read_feed
from watcher.parse.markdown import looks_like_markdown, render
from watcher.parse.markup import load
from watcher.parse.reference import is_reference_page, parse_reference_page
from watcher.parse.service_page import parse_service_page

# A comment cannot run past its first "-->": with ``.*?`` the regex took exponential time on ``<!---->`` * 30.
_FEED_START = re.compile(r"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--(?:(?!-->).)*-->\s*)*<(?:rss|feed|rdf:RDF)\b", re.S | re.I)
_HTML_HINT = re.compile(r"<(?:!doctype\s+html|html|head|body|div|p|h[1-6]|table|pre)\b", re.I)

INTERNAL_ERROR = "internal_error"
"""Warning code of a body the parser crashed on: a bug, reported instead of raised."""

__all__ = ["INTERNAL_ERROR", "parse"]


def decode(body: bytes) -> str:
    """UTF-8 (AWS serves UTF-8), honouring a BOM; undecodable bytes become U+FFFD, never an error."""
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if body.startswith(bom):
            return body.decode(encoding, errors="replace")
    return body.decode("utf-8", errors="replace")


def _unknown(url: str | None, why: str) -> Page:
    return Page(kind=Kind.UNKNOWN, url=url, title="", warnings=(ParseWarning("unrecognised", why),))


def _parse(body: bytes, url: str | None) -> Parsed:
    if _FEED_START.match(decode(body[:4096])):  # decoded: a BOM (UTF-8 or UTF-16) must not hide the <rss
        result = read_feed(body)
        if looks_like_feed(result):
            return parse_feed_result(result, url)
        return _unknown(url, "the body looks like XML but is not an RSS or Atom feed")
    text = decode(body)
    if "\x00" in text:
        return _unknown(url, "the body is binary, not HTML, markdown or a feed")
    if looks_like_markdown(text):
        return parse_service_page(render(text), text, url, Kind.MARKDOWN_PAGE)
    if _HTML_HINT.search(text[:65536]):
        soup = load(text)
        if is_reference_page(soup, url):
            return parse_reference_page(soup, url)
        return parse_service_page(soup, text, url, Kind.SERVICE_PAGE)
    return _unknown(url, "the body is not HTML, markdown or a feed")


def parse(body: bytes, url: str | None = None) -> Parsed:
    """Parse ``body`` (fetched from ``url``, if known) and stamp its content hash."""
    try:
        parsed = _parse(body, url)
    except RecursionError:
        return _unknown(url, "the body nests too deeply to parse")
    except Exception as exc:  # the contract is "never raises"; the tests assert this code never shows up
        why = f"the parser failed on this body ({type(exc).__name__}: {exc})"
        return Page(kind=Kind.UNKNOWN, url=url, title="", warnings=(ParseWarning(INTERNAL_ERROR, why[:300]),))
    if isinstance(parsed, Feed):
        return replace(parsed, content_hash=content_hash(parsed))
    if parsed.kind is Kind.UNKNOWN:
        return parsed
    return replace(parsed, content_hash=content_hash(parsed))
