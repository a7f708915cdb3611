"""Console channel: a digest as plain text on a terminal (standard output by default).

One header line with the summary (led by ``[critical]`` or ``[high]`` when the digest has such a change), then
a block per policy change (its severity as ``[CRITICAL]``, name, link, ``+``/``-`` grant lines with each
action's access level and risk flags, the updates row AWS wrote, source, service and time) and one line for
each other event. Every text that comes from a page or a feed goes through :func:`clean`: control characters
(C0, C1, DEL, bidi overrides) become spaces, so page text cannot move the cursor, recolour or retitle the
terminal; the only newlines are ours.

``render`` is plain text; ``send`` colours the severity words (with rich) only when writing to a terminal.
"""

from __future__ import annotations

import io
import os
import re
import sys
from collections.abc import Callable, Iterable
from typing import Any, TextIO

from rich.console import Console
from rich.text import Text

from watcher.notify.model import Digest, Notice, SendResult
from watcher.risk.levels import Severity

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

_LABELS: dict[str, tuple[str, str]] = {
    "policy_added": ("new policy", "new policies"),
    "policy_removed": ("removed policy", "removed policies"),
    "actions_added": ("policy with actions added", "policies with actions added"),
    "actions_removed": ("policy with actions removed", "policies with actions removed"),
    "statement_changed": ("policy with a changed statement", "policies with a changed statement"),
    "document_moved": ("moved policy document", "moved policy documents"),
    "update_row_added": ("AWS update", "AWS updates"),
    "feed_item_added": ("feed item", "feed items"),
    "parse_repaired": ("repaired policy text", "repaired policy texts"),
    "parse_failed": ("unreadable policy", "unreadable policies"),
    "layout_suspect": ("suspect page layout", "suspect page layouts"),
    "source_failing": ("failing source", "failing sources"),
    "source_recovered": ("recovered source", "recovered sources"),
    "delivery_dead": ("dead delivery", "dead deliveries"),
    "undocumented_change": ("undocumented change", "undocumented changes"),
    "documentation_mismatch": ("documentation mismatch", "documentation mismatches"),
}

_BLOCKS: dict[str, tuple[str, str]] = {
    "policy_added": ("new policy", "+"),
    "policy_removed": ("policy removed", "-"),
    "actions_added": ("actions added", "+"),
    "actions_removed": ("actions removed", "-"),
    "statement_changed": ("statement changed", "~"),
    "document_moved": ("policy document moved", "~"),
}
"""Kinds shown as a block per policy: (what happened, the mark of its grant lines)."""


def clean(text: object) -> str:
    """``text`` on one line: control characters replaced, runs of whitespace squashed to one space."""
    return " ".join(_CONTROL.sub(" ", str(text)).split())


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(clean(v) for v in value)
    return clean(value)


def summary(digest: Digest) -> str:
    """``Policy Watcher: 1 new policy, 2 AWS updates``: the counts by kind, in order of first appearance."""
    counts: dict[str, int] = {}
    for notice in digest.notices:
        counts[notice.kind] = counts.get(notice.kind, 0) + 1
    parts = []
    for kind, n in counts.items():
        one, many = _LABELS.get(kind, (kind.replace("_", " "), kind.replace("_", " ")))
        parts.append(f"{n} {one if n == 1 else many}")
    alarm = digest.alarming
    lead = f"[{alarm.value}] " if alarm is not None else ""
    return f"{lead}{clean(digest.title)}: {', '.join(parts) or 'nothing new'}"


def _tag(notice: Notice) -> str:
    """``[CRITICAL] `` for a notice with a severity, else nothing."""
    return f"[{notice.level.value.upper()}] " if notice.level is not None else ""


def _grant_lines(notice: Notice, mark: str, indent: str = "  ") -> list[str]:
    """``+ Allow iam:PassRole  Write · privilege escalation · on *`` per grant (the note when classified)."""
    notes = notice.action_notes()
    lines = []
    for effect, action in notice.grants:
        note = notes.get((effect, action))
        lines.append(f"{indent}{mark} {clean(effect)} {clean(action)}" + (f"  {clean(note.text())}" if note else ""))
    return lines


def _row_lines(row: dict[str, Any], indent: str) -> list[str]:
    date = row.get("date") or row.get("date_raw") or "undated"
    lines = [f"{indent}AWS update of {clean(date)}: {clean(row.get('change') or '')}".rstrip()]
    if row.get("description"):
        lines.append(f"{indent}  {clean(row['description'])}")
    return lines


def _block(notice: Notice) -> list[str]:
    what, mark = _BLOCKS[notice.kind]
    lines = [f"{_tag(notice)}{clean(notice.policy)}: {what}"]
    if notice.url:
        lines.append(f"  {clean(notice.url)}")
    lines += _grant_lines(notice, mark)
    d = notice.details
    if d.get("note") and notice.kind in ("actions_removed", "policy_removed"):
        lines.append(f"  note: {clean(d['note'])}")
    for key, sign in (("resources", "resource"), ("conditions", "condition")):
        lines += [f"  + {sign} {clean(v)}" for v in d.get(f"{key}_added") or []]
        lines += [f"  - {sign} {clean(v)}" for v in d.get(f"{key}_removed") or []]
    if d.get("actions_affected"):
        lines.append(f"  actions affected: {_text(d['actions_affected'])}")
    if d.get("document_link"):
        lines.append(f"  document now at {clean(d['document_link'])}")
    if notice.update_row:
        lines += _row_lines(notice.update_row, "  ")
    service = f" | service: {clean(notice.service)}" if notice.service else ""
    lines.append(f"  source: {clean(notice.source)}{service} | detected: {clean(notice.detected_at)}")
    return lines


def _subject(notice: Notice) -> str:
    return f"{clean(notice.policy)}: " if notice.policy else ""


def _update_row(n: Notice) -> str:
    date = clean(n.details.get("date") or n.details.get("date_raw") or "undated")
    return f"AWS update of {date}: {clean(n.details.get('change') or '')}"


def _feed_item(n: Notice) -> str:
    d = n.details
    published = f" ({clean(d['published'])})" if d.get("published") else ""
    link = f" {clean(d['link'])}" if d.get("link") else ""
    return f"Feed item: {clean(d.get('title') or d.get('guid') or '')}{published}{link}"


def _layout(n: Notice) -> str:
    return f"Page layout suspect: {clean(n.details.get('reason') or 'the page no longer looks as expected')}"


def _failing(n: Notice) -> str:
    d = n.details
    since = f", since {clean(d['since'])}" if d.get("since") else ""
    failures = f" ({clean(d['failures'])} failures{since})" if d.get("failures") else since
    return f"Source failing: {clean(d.get('error') or 'unreachable')}{failures}"


def _recovered(n: Notice) -> str:
    since = n.details.get("since")
    return f"Source recovered (failing since {clean(since)})" if since else "Source recovered"


def _dead(n: Notice) -> str:
    d = n.details
    digest = f" (digest {clean(d['digest'])})" if d.get("digest") else ""
    return f"Delivery dead: channel {clean(d.get('channel') or '?')}: {clean(d.get('error') or 'gave up')}{digest}"


def _generic(n: Notice) -> str:
    label = clean(n.kind).replace("_", " ").capitalize()
    details = "; ".join(
        f"{clean(k)}: {_text(v)}"
        for k, v in sorted(n.details.items())
        if v not in (None, "", [], {}) and k != "classification"
    )
    return f"{label}: {_subject(n)}{details}".rstrip(": ")


def _actions(n: Notice) -> str:
    notes = n.action_notes()
    shown = []
    for effect, action in n.grants:
        note = notes.get((effect, action))
        shown.append(f"{clean(effect)} {clean(action)}" + (f" ({clean(note.text())})" if note else ""))
    return ", ".join(shown)


def _undocumented(n: Notice) -> str:
    d = n.details
    what = clean(d.get("change_kind") or "changed").replace("_", " ")
    when = f" on {clean(d['changed_at'])}" if d.get("changed_at") else ""
    days = d.get("grace_days")
    reason = clean(d.get("reason") or (f"not documented within {clean(days)} days" if days is not None else ""))
    actions = f"; actions: {_actions(n)}" if n.grants else ""
    return f"Undocumented change: {_subject(n)}{what}{when}" + (f": {reason}" if reason else "") + actions


def _mismatch(n: Notice) -> str:
    d = n.details
    missing = ", ".join(clean(a) for _, a in n.grants) or _text(d.get("missing") or [])
    reason = clean(d.get("reason") or "AWS says it added actions the policy does not grant")
    row: dict[str, Any] = d["row"] if isinstance(d.get("row"), dict) else {}
    date = clean(row.get("date") or row.get("date_raw") or "undated")
    said = f"; AWS update of {date}: {clean(row['change'])}" if row.get("change") else ""
    return f"Documentation mismatch: {_subject(n)}{reason}" + (f"; missing: {missing}" if missing else "") + said


_LINES: dict[str, Callable[[Notice], str]] = {
    "update_row_added": _update_row,
    "feed_item_added": _feed_item,
    "layout_suspect": _layout,
    "source_failing": _failing,
    "source_recovered": _recovered,
    "delivery_dead": _dead,
    "undocumented_change": _undocumented,
    "documentation_mismatch": _mismatch,
}
"""One-line events; any other kind (and a policy kind without a policy) is shown by ``_generic``."""


def _line(notice: Notice) -> str:
    text = _LINES.get(notice.kind, _generic)(notice)
    return f"{_tag(notice)}{text} [{clean(notice.source)}, {clean(notice.detected_at)}]"


def _shown_rows(notices: Iterable[Notice]) -> set[tuple[str, str]]:
    return {(clean(n.update_row.get("change")), clean(n.update_row.get("date"))) for n in notices if n.update_row}


def body(digest: Digest) -> str:
    """The digest without its header line: policy blocks, then one line per other event."""
    shown = _shown_rows(n for n in digest.notices if n.kind in _BLOCKS and n.policy)
    blocks: list[list[str]] = []
    lines: list[str] = []
    for notice in digest.notices:
        if notice.kind in _BLOCKS and notice.policy:
            blocks.append(_block(notice))
        elif notice.kind == "update_row_added" and (
            (clean(notice.details.get("change")), clean(notice.details.get("date"))) in shown
        ):
            continue  # already shown under its policy
        else:
            lines.append(_line(notice))
    parts = ["\n".join(b) for b in blocks]
    if lines:
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def render(digest: Digest) -> str:
    """The whole message: the summary line, a blank line, the body (pure)."""
    text = body(digest)
    return f"{summary(digest)}\n\n{text}\n" if text else f"{summary(digest)}\n"


_STYLES = {
    Severity.CRITICAL.value: "bold white on red",
    Severity.HIGH.value: "bold red",
    Severity.MEDIUM.value: "bold yellow",
    Severity.LOW.value: "cyan",
    Severity.INFO.value: "dim",
}
_SEVERITY_TAG = re.compile(r"(?im)^\[(" + "|".join(_STYLES) + r")\](?= )")
"""A severity tag where ``render`` puts one: at the start of a line (page text never starts a line but a policy
name, which AWS spells with letters, digits, ``-`` and ``_``)."""


def colour(text: str) -> str:
    """``text`` with its severity tags coloured by rich (ANSI escapes); the characters are otherwise unchanged."""
    styled = Text(text)
    for match in _SEVERITY_TAG.finditer(text):
        styled.stylize(_STYLES[match.group(1).lower()], match.start(), match.end())
    buffer = io.StringIO()
    terminal = Console(
        file=buffer,
        force_terminal=True,
        color_system="standard",
        no_color=False,
        highlight=False,
        markup=False,
        emoji=False,
        soft_wrap=True,
        width=1_000_000,
    )
    terminal.print(styled, end="")
    return buffer.getvalue()


def _wants_colour(stream: TextIO) -> bool:
    """A terminal, and neither ``NO_COLOR`` set nor ``TERM=dumb``."""
    return stream.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def send(text: str, stream: TextIO | None = None, *, colours: bool | None = None) -> SendResult:
    """Write ``text`` to ``stream`` (default: ``sys.stdout`` at the time of the call); never raises.

    Severity tags are coloured when ``colours`` is true, or (by default) when the stream is a terminal."""
    stream = sys.stdout if stream is None else stream
    try:
        out = text if text.endswith("\n") else text + "\n"
        if _wants_colour(stream) if colours is None else colours:
            out = colour(out)
        stream.write(out)
        stream.flush()
    except (OSError, ValueError) as exc:
        return SendResult(False, f"console write failed: {type(exc).__name__}")
    return SendResult(True, f"written ({len(text)} characters)")
