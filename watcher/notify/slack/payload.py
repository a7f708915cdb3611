"""``render``: a digest as a Slack webhook payload, Block Kit blocks and a fallback text (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from watcher.notify.model import Digest
from watcher.notify.slack.blocks import _context, _items, _other_text, _policy_text, _section
from watcher.notify.slack.headline import _policy_summary, summary
from watcher.notify.slack.text import MAX_BLOCKS, MAX_FALLBACK, MAX_HEADER, MAX_NAME, escape, plural


def render(digest: Digest) -> dict[str, Any]:
    """The webhook payload for ``digest``: Block Kit blocks and a plain fallback ``text``. Pure."""
    if not digest.notices:
        raise ValueError("a digest without notices has nothing to say")
    items = _items(digest.notices)
    alarm = digest.alarming
    lead = f"[{alarm.value}] " if alarm is not None else ""  # a high or critical digest says so first
    head = summary(items, MAX_HEADER - len(lead))
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": lead + head, "emoji": True}}
    ]
    fallback = [f"{lead}{escape(digest.title, MAX_NAME)}: {head}"]
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
