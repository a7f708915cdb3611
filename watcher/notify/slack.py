"""Slack incoming webhook: a digest as Block Kit blocks (``render``, pure) and one POST (``send``).

Everything taken from a page, a feed or an event is escaped for mrkdwn (``&``, ``<``, ``>``), so page text such
as ``<!channel>`` or ``<http://evil|click>`` is shown as text and never pings anyone or becomes a link; text
objects are ``verbatim`` (Slack does not auto-link or parse mentions) and links are only made from http(s)
URLs with ``|``, ``<``, ``>`` and whitespace percent-encoded. Slack's limits are kept: at most 50 blocks,
3000 characters per section, 150 per header; long action lists end with "… and N more", long digests with
"… and N more changes".

``send`` never raises and never puts the webhook URL (a secret) in its answer.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import math
import re
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import requests

from watcher.fetch import USER_AGENT
from watcher.notify.model import Digest, Notice, SendResult

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

POLICY_KINDS = (
    "policy_added",
    "policy_removed",
    "actions_added",
    "actions_removed",
    "statement_changed",
    "document_moved",
    "parse_repaired",
    "parse_failed",
    "update_row_added",
)
"""Kinds shown under their policy (when the notice names one), in this order."""

PERMANENT_ANSWERS = frozenset(
    {
        "no_service",
        "invalid_token",
        "channel_is_archived",
        "invalid_payload",
        "no_text",
        "no_team",
        "no_active_hooks",
        "team_disabled",
        "action_prohibited",
        "posting_to_general_channel_denied",
        "channel_not_found",
        "user_not_found",
        "too_many_attachments",
    }
)
"""Slack's error bodies that no retry will fix."""


# --- text helpers ------------------------------------------------------------------------------------------------


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


def code(action: object) -> str:
    """An action as inline code (a backtick cannot be escaped in mrkdwn: it is replaced)."""
    return "`" + escape(action, MAX_NAME).replace("`", "ˋ") + "`"


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


# --- blocks ------------------------------------------------------------------------------------------------------


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _section(text: str) -> dict[str, Any]:
    if len(text) > MAX_SECTION:  # a last guard: the parts are budgeted, this should not happen
        text = text[: MAX_SECTION - 1].rsplit("\n", 1)[0] + "\n…"
    return {"type": "section", "text": _mrkdwn(text)}


def _context(notice: Notice) -> dict[str, Any]:
    parts = [escape(notice.source, MAX_NAME)]
    if notice.service:
        parts.append(escape(notice.service, MAX_NAME))
    parts.append(f"detected {when(notice.detected_at)}")
    return {"type": "context", "elements": [_mrkdwn(" · ".join(parts))]}  # at most ~450 characters


@dataclass
class _Item:
    """What one section shows: a policy's notices, or one other notice."""

    first: Notice
    notices: list[Notice] = field(default_factory=list)

    @property
    def policy(self) -> str | None:
        return self.first.policy if self.first.kind in POLICY_KINDS else None


def _items(notices: Iterable[Notice]) -> list[_Item]:
    """Notices grouped by (source, policy) for the policy kinds, in order of first appearance; others alone."""
    items: list[_Item] = []
    groups: dict[tuple[str, str], _Item] = {}
    for notice in notices:
        if notice.kind in POLICY_KINDS and notice.policy is not None:
            key = (notice.source, notice.policy)
            if key not in groups:
                groups[key] = _Item(notice)
                items.append(groups[key])
            groups[key].notices.append(notice)
        else:
            items.append(_Item(notice, [notice]))
    order = {kind: i for i, kind in enumerate(POLICY_KINDS)}
    for item in items:
        item.notices.sort(key=lambda n: order.get(n.kind, len(order)))
        # The best link for a policy: the one with its anchor (an updates row links the page only).
        with_anchor = [n for n in item.notices if n.url and "#" in n.url]
        if with_anchor and item.policy is not None:
            item.first = with_anchor[0]
    return items


def _by_effect(grants: Sequence[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    effects: dict[str, list[str]] = {}
    for effect, action in grants:
        effects.setdefault(str(effect), []).append(action)
    order = {"Allow": 0, "Deny": 1, "NotAction": 2}
    return sorted(effects.items(), key=lambda kv: order.get(kv[0], 3))


def _grant_lines(label: str, grants: Sequence[tuple[str, str]], budget: int) -> list[str]:
    """``*Added:* `a`, `b``` or, when other effects appear, one line per effect (``*Added (Deny):* ...``)."""
    groups = _by_effect(grants)
    mixed = len(groups) > 1 or any(effect != "Allow" for effect, _ in groups)
    lines = []
    for effect, actions in groups:
        head = f"*{label} ({escape(effect, 20)}):* " if mixed else f"*{label}:* "
        lines.append(head + code_list(actions, max(budget // len(groups) - len(head), 80)))
    return lines


def _row_key(row: dict[str, Any]) -> tuple[str, str]:
    return squash(row.get("change")), squash(row.get("date"))


def _row_line(row: dict[str, Any]) -> str:
    date = escape(row.get("date") or row.get("date_raw"), 40)
    head = f"*Updates table, {date}:* " if date else "*Updates table:* "
    return head + escape(row.get("change"))


def _list_details(label: str, values: object, budget: int) -> list[str]:
    if not isinstance(values, list | tuple) or not values:
        return []
    head = f"{label}: "
    return [head + code_list(list(values), max(budget - len(head), 80))]


def _rows(item: _Item) -> list[dict[str, Any]]:
    """The updates-table rows about this policy, each once: those attached to its changes, then new rows."""
    rows = [n.update_row for n in item.notices if n.update_row]
    rows += [n.details for n in item.notices if n.kind == "update_row_added"]
    seen: set[tuple[str, str]] = set()
    out = []
    for row in rows:
        if _row_key(row) not in seen:
            seen.add(_row_key(row))
            out.append(row)
    return out


def _policy_text(item: _Item) -> str:
    head = f"*{link(item.first.url, escape(item.policy, MAX_NAME))}*"
    rows = _rows(item)
    tail = [_row_line(row) for row in rows[:MAX_ROWS]]
    if len(rows) > MAX_ROWS:
        tail.append(f"… and {plural(len(rows) - MAX_ROWS, 'more updates-table row')}")
    lists = sum(3 if n.kind == "statement_changed" else 1 for n in item.notices if n.grants or n.details)
    fixed = len(head) + sum(len(line) + 1 for line in tail) + 150 * len(item.notices)
    budget = max((MAX_SECTION - fixed) // max(lists, 1), 100)
    lines = [head]
    for n in item.notices:
        if n.kind == "policy_added":
            if n.grants:
                lines.append(f"*New policy* with {plural(len(n.grants), 'action')}:")
                lines += _grant_lines("Grants", n.grants, budget)
            else:
                lines.append("*New policy* (its document is not on the page)")
        elif n.kind == "policy_removed":
            lines.append("*Policy removed from the page*" + (":" if n.grants else ""))
            if n.grants:
                lines += _grant_lines("It granted", n.grants, budget)
        elif n.kind == "actions_added":
            lines += _grant_lines("Added", n.grants, budget)
        elif n.kind == "actions_removed":
            lines += _grant_lines("Removed", n.grants, budget)
        elif n.kind == "statement_changed":
            d = n.details
            lines.append("*Statements changed* (resources or conditions):")
            for label, key in (
                ("Resources added", "resources_added"),
                ("Resources removed", "resources_removed"),
                ("Conditions added", "conditions_added"),
                ("Conditions removed", "conditions_removed"),
                ("Actions affected", "actions_affected"),
            ):
                lines += _list_details(label, d.get(key), budget * 3 // 5)
        elif n.kind == "document_moved":
            target = n.details.get("document_link")
            shown = link(target, escape(target, 300)) if target else "another page"
            lines.append(f"*Document moved:* the policy document is no longer on this page; see {shown}")
        elif n.kind == "parse_repaired":
            defects = ", ".join(escape(d, 40) for d in (n.details.get("defects") or [])[:5]) or "unknown"
            lines.append(f"*Malformed policy JSON*, read leniently (defects: {defects})")
        elif n.kind == "parse_failed":
            lines.append("*Policy JSON could not be parsed*: its actions are unknown until the page is fixed")
    return "\n".join(lines + tail)


def _other_text(n: Notice) -> str:
    d = n.details
    source = link(n.url, escape(n.source, MAX_NAME))
    if n.kind == "feed_item_added":
        title = escape(d.get("title"), MAX_NAME) or "(untitled)"
        text = f"*New documentation update:* {link(d.get('link'), title)}"
        if d.get("published"):
            text += f" ({escape(d.get('published'), 40)})"
        return text
    if n.kind == "update_row_added":
        return _row_line(d) + (f"\n{escape(d.get('description'))}" if d.get("description") else "")
    if n.kind == "layout_suspect":
        return (
            f":warning: *{source} looks broken or re-laid-out*; its changes are held back "
            f"until it parses again.\nReason: {escape(d.get('reason'))}"
        )
    if n.kind == "source_failing":
        text = f":rotating_light: *{source} is failing*"
        if d.get("since"):
            text += f" since {when(d.get('since'))}"
        return text + (f"\nLast error: {escape(d.get('error'))}" if d.get("error") else "")
    if n.kind == "source_recovered":
        text = f":white_check_mark: *{source} recovered*"
        return text + (f" (failing since {when(d.get('since'))})" if d.get("since") else "")
    if n.kind == "delivery_dead":
        channel = escape(d.get("channel"), MAX_NAME) or "a channel"
        text = f":x: *A message to {channel} was given up*"
        return text + (f"\nLast answer: {escape(d.get('error'))}" if d.get("error") else "")
    if n.kind == "parse_repaired":
        return "*Malformed policy JSON*, read leniently on " + source
    if n.kind == "parse_failed":
        return "*Policy JSON could not be parsed* on " + source
    label = escape(n.kind.replace("_", " "), 60).capitalize()
    return f"*{label}*" + (f": {escape(n.policy, MAX_NAME)}" if n.policy else "")


# --- summary -----------------------------------------------------------------------------------------------------


def _policy_summary(item: _Item) -> str:
    kinds = [n.kind for n in item.notices]
    added = sum(len(n.grants) for n in item.notices if n.kind == "actions_added")
    removed = sum(len(n.grants) for n in item.notices if n.kind == "actions_removed")
    parts: list[str] = []
    if "policy_added" in kinds:
        count = sum(len(n.grants) for n in item.notices if n.kind == "policy_added")
        parts.append(f"new policy ({plural(count, 'action')})" if count else "new policy")
    if "policy_removed" in kinds:
        parts.append("policy removed")
    if added and removed:
        parts.append(f"+{added} −{removed} actions")
    elif added:
        parts.append(f"+{plural(added, 'action')}")
    elif removed:
        parts.append(f"−{plural(removed, 'action')}")
    for kind, text in (
        ("statement_changed", "statements changed"),
        ("document_moved", "document moved"),
        ("parse_repaired", "malformed JSON"),
        ("parse_failed", "unparseable JSON"),
    ):
        if kind in kinds:
            parts.append(text)
    return ", ".join(parts) or "new updates-table row"


_OTHER_LABELS = {
    "feed_item_added": "New documentation update",
    "update_row_added": "New updates-table row",
    "layout_suspect": "Page looks broken",
    "source_failing": "Source failing",
    "source_recovered": "Source recovered",
    "delivery_dead": "Delivery given up",
}


def summary(items: Sequence[_Item], limit: int = MAX_HEADER) -> str:
    """The headline, escaped and at most ``limit`` characters: one policy's change, or how many changed."""
    policies = [item for item in items if item.policy is not None]
    if len(policies) == 1:
        what = _policy_summary(policies[0])
        room = limit - len(what) - 2
        return f"{escape(policies[0].policy, room)}: {what}"
    if policies:
        return f"{len(policies)} policies changed"
    if len(items) == 1:
        n = items[0].first
        label = _OTHER_LABELS.get(n.kind, n.kind.replace("_", " ").capitalize())
        return f"{label}: {escape(n.source, limit - len(label) - 2)}"
    return f"{len(items)} changes"


# --- render ------------------------------------------------------------------------------------------------------


def render(digest: Digest) -> dict[str, Any]:
    """The webhook payload for ``digest``: Block Kit blocks and a plain fallback ``text``. Pure."""
    if not digest.notices:
        raise ValueError("a digest without notices has nothing to say")
    items = _items(digest.notices)
    head = summary(items)
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": head, "emoji": True}}]
    fallback = [f"{escape(digest.title, MAX_NAME)}: {head}"]
    for i, item in enumerate(items):
        left = len(items) - i
        room = MAX_BLOCKS - len(blocks) - (1 if left > 1 else 0)
        if room < 2:
            blocks.append(_section(f"… and {plural(left, 'more change')}"))
            fallback.append(f"… and {plural(left, 'more change')}")
            break
        if item.policy is not None:
            text = _policy_text(item)
            fallback.append(f"• {escape(item.policy, MAX_NAME)}: {_policy_summary(item)}")
        else:
            text = _other_text(item.first)
            fallback.append("• " + text.split("\n", 1)[0])
        blocks += [_section(text), _context(item.first)]
    return {
        "text": _lines_within(fallback, MAX_FALLBACK),
        "blocks": blocks,
        "unfurl_links": False,
        "unfurl_media": False,
    }


def _lines_within(lines: Sequence[str], limit: int) -> str:
    """As many whole lines as fit in ``limit`` characters (never a cut link or entity), then "…"."""
    out: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 > limit - 2:
            out.append("…")
            break
        out.append(line)
        used += len(line) + 1
    return "\n".join(out)


# --- send --------------------------------------------------------------------------------------------------------


def send(
    url: str, payload: dict[str, Any], *, key: str, timeout: float, session: requests.Session | None = None
) -> SendResult:
    """POST ``payload`` to the webhook ``url``; Slack's answer as a ``SendResult``. Never raises.

    ``session`` keeps the connection alive between messages (one per channel); without it each call opens its own.
    Redirects are never followed, either way.
    """
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "X-Watcher-Delivery": re.sub(r"[^\x21-\x7e]", "", key)[:200],
    }
    try:
        with nullcontext(session) if session is not None else requests.Session() as http:
            response = http.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False, stream=True)
            with response:
                excerpt = next(response.iter_content(1024), b"")
                return _answer(response.status_code, response.headers.get("Retry-After"), excerpt, url)
    except requests.Timeout:
        return SendResult(False, f"timeout after {timeout:g} s")
    except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema):
        return SendResult(False, "the webhook URL is not a valid http(s) URL", permanent=True)
    except requests.exceptions.SSLError:
        return SendResult(False, "TLS error")
    except requests.ConnectionError:
        return SendResult(False, "connection failed")
    except (requests.RequestException, OSError, ValueError) as exc:
        return SendResult(False, f"request failed ({type(exc).__name__})")


def _answer(status: int, retry_after: str | None, excerpt: bytes, url: str) -> SendResult:
    answer = _scrub(squash(excerpt.decode("utf-8", "replace")), url)
    detail = cut(f"HTTP {status} {answer}".strip(), 300)
    if status == 200 and answer == "ok":
        return SendResult(True, detail)
    if status == 429:
        return SendResult(False, detail, retry_after=_retry_after(retry_after))
    if status >= 500 or status == 408 or 200 <= status < 300:
        # 2xx without "ok" is not Slack's acceptance: retry (at least once) rather than lose the message.
        return SendResult(False, detail, permanent=answer in PERMANENT_ANSWERS)
    if answer in PERMANENT_ANSWERS or 300 <= status < 500:
        return SendResult(False, detail, permanent=True)
    return SendResult(False, detail)


def _scrub(text: str, url: str) -> str:
    """``text`` without the webhook URL or its path (the secret part), should a server echo them."""
    rest = url.split("://", 1)[-1]
    path = rest.partition("/")[2]
    for secret in (url, rest, "/" + path, path):
        if len(secret) > 3:
            text = text.replace(secret, "[webhook]")
    return text


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        when_ = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when_.tzinfo is None:
        when_ = when_.replace(tzinfo=dt.UTC)
    return max((when_ - dt.datetime.now(dt.UTC)).total_seconds(), 0.0)
