"""Document-history feeds (RSS 2.0 / Atom) read with feedparser."""

from __future__ import annotations

import codecs
import io
import re
import time
from typing import Any

from bs4 import BeautifulSoup

from watcher.model import Feed, FeedItem, ParseWarning
from watcher.parse.markup import block_text
from watcher.parse.text import squash

_CHARREF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));")
_DECLARATION = re.compile(rb"^\s*<\?xml\b[^>]*>")
_DECLARED_ENCODING = re.compile(rb"""\bencoding\s*=\s*["']([A-Za-z][\w.:-]{0,39})["']""")
_TEXT_DECLARATION = re.compile(r"^\s*<\?xml\b[^>]*>")
_UTF8_DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>'


def _iso_date(parsed: Any) -> str | None:
    if not parsed:
        return None
    return time.strftime("%Y-%m-%d", parsed)


def _own(d: Any, key: str) -> Any:
    """``d[key]`` without feedparser's deprecated ``updated`` -> ``published`` fallback (and its warning)."""
    return dict.get(d, key)


def _text(html: str) -> str:
    if "<" not in html and "&" not in html:
        return squash(html)
    return block_text(BeautifulSoup(html, "html.parser"))


def parse_feed_result(result: Any, url: str | None) -> Feed:
    """Turn a ``feedparser`` result into a ``Feed`` (items in feed order)."""
    warnings: list[ParseWarning] = []
    if result.get("bozo"):
        reason = result.get("bozo_exception")
        warnings.append(ParseWarning("malformed_feed", f"the feed is not well-formed: {reason}"))
    items: list[FeedItem] = []
    for entry in result.entries:
        link = entry.get("link")
        guid = entry.get("id") or link or squash(entry.get("title", ""))
        if not guid:
            warnings.append(ParseWarning("feed_item_without_id", "a feed item has no guid, link or title"))
            continue
        items.append(
            FeedItem(
                guid=guid,
                title=squash(entry.get("title", "")),
                link=link,
                published=_iso_date(_own(entry, "published_parsed") or _own(entry, "updated_parsed")),
                summary=_text(entry.get("summary", "")),
            )
        )
    channel = result.feed
    return Feed(
        url=url,
        title=squash(channel.get("title", "")),
        link=channel.get("link"),
        last_build=_own(channel, "updated") or _own(channel, "published"),
        items=tuple(items),
        warnings=tuple(warnings),
    )


def _valid_charref(m: re.Match[bytes]) -> bytes:
    digits, base = (m[1], 16) if m[1] is not None else (m[2], 10)
    digits = digits.lstrip(b"0") or b"0"
    code = int(digits, base) if len(digits) <= 8 else -1
    return m[0] if 0 <= code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else b"&#xFFFD;"


def _declared_text(body: bytes) -> str:
    """``body`` decoded as its XML declaration says, if that is an ASCII-compatible text encoding, else as UTF-8."""
    declaration = _DECLARATION.match(body)
    named = _DECLARED_ENCODING.search(declaration[0]) if declaration else None
    if named:
        encoding = named[1].decode("ascii")
        try:
            # Not utf-16 (the bytes were read as ASCII to get here), not rot13/hex/zlib (no text encodings).
            if "<?xml".encode(encoding) == b"<?xml":
                return body.decode(encoding)
        except (LookupError, ValueError, TypeError):  # UnicodeError is a ValueError
            pass
    return body.decode("utf-8", "replace")


def _as_utf8(body: bytes) -> bytes:
    """The feed re-encoded as UTF-8 under a declaration that says so.

    A BOM wins, then the declared encoding (see ``_declared_text``), else UTF-8 with undecodable bytes
    as U+FFFD. feedparser decodes with whatever the declaration names and raises on some names
    (``encoding="\\0UTF-8"``, ``"undefined"``, ``"punycode"``); this never does.
    """
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if body.startswith(bom):
            text = body.decode(encoding, "replace")
            break
    else:
        text = _declared_text(body)
    return _UTF8_DECLARATION + _TEXT_DECLARATION.sub("", text, count=1).encode("utf-8", "replace")


def read_feed(body: bytes) -> Any:
    """Run feedparser on bytes (wrapped in a stream: feedparser would open a bytes value as a path).

    A character reference to a surrogate or beyond U+10FFFF (``&#xd800;``) crashes feedparser's loose
    parser; it becomes U+FFFD first and the feed counts as malformed.
    """
    import feedparser  # ~0.2 s: loaded with the first feed, not by every parse worker that reads pages only

    utf8 = _as_utf8(body)
    cleaned = _CHARREF.sub(_valid_charref, utf8)
    result = feedparser.parse(io.BytesIO(cleaned))
    if cleaned != utf8 and not result.get("bozo"):
        result["bozo"] = 1
        result["bozo_exception"] = "invalid character reference replaced by U+FFFD"
    return result


def looks_like_feed(result: Any) -> bool:
    return bool(result.entries) or (result.get("version", "") not in ("", None) and bool(result.feed))
