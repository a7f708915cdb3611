"""Slack's limits and the text helpers of the Slack channel: mrkdwn escaping, safe links, inline code."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from watcher.notify.model import ActionNote
from watcher.risk.levels import Severity

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_FALLBACK = 3000
"""Slack shows the top-level ``text`` in notifications; keep it short."""
MAX_NAME = 200
"""Longest policy name, title or source shown (before escaping)."""
MAX_PROSE = 600
"""Longest free text (an updates row, a reason, an error) shown (before escaping)."""
MAX_URL = 1000
MAX_ROWS = 3
"""Updates-table rows shown with one policy."""


def squash(text: object) -> str:
    """One line: every run of whitespace (CR/LF included) becomes one space; other control characters go."""
    s = "" if text is None else str(text)
    s = "".join(ch if ch.isprintable() or ch.isspace() else " " for ch in s)
    return " ".join(s.split())


def cut(text: str, limit: int) -> str:
    """``text`` at most ``limit`` characters, ending with "…" when it was longer."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)].rstrip() + "…"


_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def escape(text: object, limit: int = MAX_PROSE) -> str:
    """Page or event text for mrkdwn: one line, ``&``, ``<``, ``>`` escaped, at most ``limit`` characters once
    escaped (ending with "…" when cut)."""
    line = squash(text)
    out = "".join(_ENTITIES.get(ch, ch) for ch in line)
    if len(out) <= limit:
        return out
    parts: list[str] = []
    used = 0
    for ch in line:
        piece = _ENTITIES.get(ch, ch)
        if used + len(piece) > limit - 1:
            break
        parts.append(piece)
        used += len(piece)
    return "".join(parts).rstrip() + "…"


_URL_UNSAFE = re.compile(r"[\s<>|\"`\x00-\x1f\x7f]")


def safe_url(url: object) -> str | None:
    """``url`` fit for ``<url|text>``, or None when it is not a plain http(s) URL."""
    if not isinstance(url, str):
        return None
    url = url.strip()
    if not re.match(r"(?i)https?://[^/\s]", url) or len(url) > MAX_URL:
        return None
    url = _URL_UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), url)
    return url.replace("&", "&amp;")


def link(url: object, text: str) -> str:
    """``<url|text>`` with ``text`` already escaped; just ``text`` when the URL is unusable."""
    target = safe_url(url)
    return f"<{target}|{text}>" if target else text


def code(action: object, limit: int = MAX_NAME) -> str:
    """An action as inline code (a backtick cannot be escaped in mrkdwn: it is replaced)."""
    return "`" + escape(action, limit).replace("`", "ˋ") + "`"


def code_list(items: Sequence[object], budget: int) -> str:
    """Items as inline code, comma-separated, in at most ``budget`` characters ("… and N more" included)."""
    out: list[str] = []
    used = 0
    for i, item in enumerate(items):
        piece = code(item)
        rest = len(items) - i - 1
        reserve = len(f" … and {len(items)} more") if rest else 0
        if used + len(piece) + 2 + reserve > budget and out:
            break
        out.append(piece)
        used += len(piece) + 2
    text = ", ".join(out)
    if len(out) < len(items):
        text += f" … and {len(items) - len(out)} more"
    return text


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def when(iso: object) -> str:
    """``2026-01-05 10:00 UTC`` from an ISO 8601 time; the text itself (escaped) when it is not one."""
    try:
        t = dt.datetime.fromisoformat(str(iso))
    except ValueError:
        return escape(iso, 64)
    if t.tzinfo is not None:
        t = t.astimezone(dt.UTC)
    return t.strftime("%Y-%m-%d %H:%M UTC")


BADGES = {
    Severity.CRITICAL: ":rotating_light:",
    Severity.HIGH: ":red_circle:",
    Severity.MEDIUM: ":large_orange_circle:",
    Severity.LOW: ":large_yellow_circle:",
    Severity.INFO: ":information_source:",
}


def badge(level: Severity) -> str:
    """``:rotating_light: *critical*``: a severity as an emoji and a bold word."""
    return f"{BADGES[level]} *{level.value}*"


def note_text(note: ActionNote) -> str:
    """An action's note in mrkdwn: ``Write · privilege escalation · on `*```, riskiest members as code."""
    parts = [escape(p, 100) for p in (note.summary, *note.flags[:4]) if p]
    if note.on_all_resources:
        parts.append("on `*`")
    out = " · ".join(parts)  # at most ~530 characters, riskiest members included
    if note.riskiest:
        out += "; riskiest: " + ", ".join(code(a, 80) for a in note.riskiest) + (", …" if note.more_riskiest else "")
    return out
