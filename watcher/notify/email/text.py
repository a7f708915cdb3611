"""Text hygiene for the email channel: page text as one line, http(s) links, times."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Any


def one_line(value: Any) -> str:
    """``value`` as one line: control characters (CR, LF, NUL, ESC...) and line separators become spaces,
    runs of whitespace collapse to one space."""
    text = "" if value is None else str(value)
    cleaned = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in text)
    return " ".join(cleaned.split())


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n} {word if n == 1 else (words or word + 's')}"


def _http_url(value: Any) -> str | None:
    """``value`` as a link target when it is an http(s) URL (one line), else ``None``: ``javascript:`` and the
    like never become links."""
    url = one_line(value)
    return url if re.match(r"https?://[^\s]+$", url, re.IGNORECASE) else None


def _when(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _shown_time(value: str) -> str:
    moment = _when(value)
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else one_line(value)
