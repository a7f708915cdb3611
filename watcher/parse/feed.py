"""Document-history feeds (RSS 2.0 / Atom) read with feedparser."""

from __future__ import annotations

import io
import time
from typing import Any

import feedparser
from bs4 import BeautifulSoup

from watcher.model import Feed, FeedItem, ParseWarning
from watcher.parse.markup import block_text
from watcher.parse.text import squash


def _iso_date(parsed: Any) -> str | None:
    if not parsed:
        return None
    return time.strftime("%Y-%m-%d", parsed)


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
                published=_iso_date(entry.get("published_parsed") or entry.get("updated_parsed")),
                summary=_text(entry.get("summary", "")),
            )
        )
    channel = result.feed
    return Feed(
        url=url,
        title=squash(channel.get("title", "")),
        link=channel.get("link"),
        last_build=channel.get("updated"),
        items=tuple(items),
        warnings=tuple(warnings),
    )


def read_feed(body: bytes) -> Any:
    """Run feedparser on bytes (wrapped in a stream: feedparser would open a bytes value as a path)."""
    return feedparser.parse(io.BytesIO(body))


def looks_like_feed(result: Any) -> bool:
    return bool(result.entries) or (result.get("version", "") not in ("", None) and bool(result.feed))
