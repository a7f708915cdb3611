"""A guide announces its changes in a document-history feed, which its pages name (``<meta name="rss">``). When no
configured source watches that feed, say so once, naming the feed: watched, it has the page checked as soon as
the feed changes instead of at the page's next interval."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from urllib.parse import urljoin

from watcher.config import SourceSettings
from watcher.model import Page, Parsed


class FeedHints:
    def __init__(self, sources: Iterable[SourceSettings]) -> None:
        self._watched = {s.url for s in sources if s.kind == "feed"}
        self._told: set[str] = set()
        self._lock = threading.Lock()

    def hint(self, source: SourceSettings, parsed: Parsed, outcome: str) -> str | None:
        """What to tell of the feed a page names, after a check recorded it (``baseline`` or ``changed``): once per
        feed, and only if no source watches it."""
        if outcome not in ("baseline", "changed") or not isinstance(parsed, Page) or not parsed.feed_url:
            return None
        feed = urljoin(source.url, parsed.feed_url)
        with self._lock:
            if feed in self._watched or feed in self._told:
                return None
            self._told.add(feed)
        return (
            f"{source.name}: its guide announces changes in {feed}, which no source watches; add it to the config as "
            'a [[sources]] entry with kind = "feed" to have the guide\'s pages checked as soon as it changes'
        )
