"""``render``: a digest as a multipart text + HTML message (pure)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

from watcher.notify.email.content import _Para, _Section, _sections
from watcher.notify.email.headers import MESSAGE_ID_DOMAIN, POLICY, _address, _header_value, _message_id_left
from watcher.notify.email.subject_line import body_title, subject
from watcher.notify.email.text import _when, one_line
from watcher.notify.model import ActionNote, Digest
from watcher.risk.levels import Severity

_COLOURS = {
    Severity.CRITICAL: ("#b00020", "#ffffff"),
    Severity.HIGH: ("#d9480f", "#ffffff"),
    Severity.MEDIUM: ("#f59f00", "#000000"),
    Severity.LOW: ("#1c7ed6", "#ffffff"),
    Severity.INFO: ("#868e96", "#ffffff"),
}
"""Background and text colour of each severity label in the HTML part."""


def _tag(level: Severity | None) -> str:
    return f"[{level.value.upper()}] " if level is not None else ""


def _items(para: _Para) -> list[tuple[str, ActionNote | None]]:
    """(item, its note or None) for each item of ``para``."""
    return [(item, para.notes[i] if i < len(para.notes) else None) for i, item in enumerate(para.items)]


def _text(digest: Digest, title: str, sections: Sequence[_Section]) -> str:
    lines = [title, ""]
    for section in sections:
        lines += [section.title, "=" * len(section.title), ""]
        for entry in section.entries:
            lines.append(f"* {_tag(entry.severity)}{entry.heading}")
            if entry.url:
                lines.append(f"  {entry.url}")
            for para in entry.paras:
                lines.append(f"      {para.text}" if para.sub else f"  {_tag(para.severity)}{para.text}")
                lines += [
                    f"    {para.marker} {item}" + (f"  {one_line(note.text())}" if note else "")
                    for item, note in _items(para)
                ]
            lines += [f"  {entry.meta}", ""]
    lines += ["-- ", f"Sent by {one_line(digest.title) or 'Policy Watcher'}; message {one_line(digest.key)}."]
    return "\n".join(lines) + "\n"


def _h(text: str) -> str:
    return html.escape(text, quote=True)


def _note(note: ActionNote) -> str:
    """An action's note in HTML: its risk flags in bold red."""
    parts = [_h(one_line(note.summary))] if note.summary else []
    parts += [f'<strong style="color: #b00020">{_h(one_line(flag))}</strong>' for flag in note.flags]
    if note.on_all_resources:
        parts.append("on <code>*</code>")
    out = " · ".join(parts)
    if note.riskiest:
        names = ", ".join(f"<code>{_h(one_line(a))}</code>" for a in note.riskiest)
        out += f"; riskiest: {names}" + (", ..." if note.more_riskiest else "")
    return out


def _label(level: Severity | None) -> str:
    """A coloured severity label, or nothing."""
    if level is None:
        return ""
    background, colour = _COLOURS[level]
    return (
        f'<span style="background: {background}; color: {colour}; font-weight: bold; font-size: 0.8em; '
        f'padding: 0.1em 0.4em; border-radius: 3px">{_h(level.value.upper())}</span> '
    )


def _html(digest: Digest, title: str, sections: Sequence[_Section]) -> str:
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        '<head><meta charset="utf-8"><meta name="viewport" content="width=device-width">'
        f"<title>{_h(title)}</title></head>",
        '<body style="font-family: sans-serif; line-height: 1.4">',
        f'<h1 style="font-size: 1.2em">{_h(title)}</h1>',
    ]
    for section in sections:
        out.append(f'<h2 style="font-size: 1.1em">{_h(section.title)}</h2>')
        for entry in section.entries:
            heading = _h(entry.heading)
            if entry.url:
                heading = f'<a href="{_h(entry.url)}">{heading}</a>'
            out.append(f'<h3 style="font-size: 1em; margin-bottom: 0.2em">{_label(entry.severity)}{heading}</h3>')
            for para in entry.paras:
                if para.sub:
                    out.append(f'<blockquote style="margin: 0 0 0.5em 1.5em; color: #444">{_h(para.text)}</blockquote>')
                else:
                    out.append(f'<p style="margin: 0.3em 0">{_label(para.severity)}{_h(para.text)}</p>')
                if para.items:
                    items = "".join(
                        f"<li>{_h(para.marker)} <code>{_h(item)}</code>"
                        + (f' <span style="color: #555">{_note(note)}</span>' if note else "")
                        + "</li>"
                        for item, note in _items(para)
                    )
                    out.append(f'<ul style="margin: 0.2em 0">{items}</ul>')
            out.append(f'<p style="margin: 0.3em 0 1em; color: #666; font-size: 0.9em">{_h(entry.meta)}</p>')
    out += [
        f'<p style="color: #888; font-size: 0.8em">Sent by {_h(one_line(digest.title) or "Policy Watcher")}; '
        f"message {_h(one_line(digest.key))}.</p>",
        "</body>",
        "</html>",
    ]
    return "\n".join(out) + "\n"


def _date(digest: Digest) -> datetime:
    moments = [m for n in digest.notices if (m := _when(n.detected_at)) is not None]
    return max(moments) if moments else datetime.now(UTC)


def render(digest: Digest, *, sender: str, recipients: list[str]) -> EmailMessage:
    """The message of ``digest``: multipart/alternative, plain text then HTML.

    Raises ``ValueError`` for an empty digest (never an empty message) and for an address that is empty or
    holds control characters.
    """
    if not digest.notices:
        raise ValueError("an empty digest makes no message")
    if not recipients:
        raise ValueError("a message needs at least one recipient")
    title = subject(digest)
    shown = body_title(digest)
    sections = _sections(digest)
    message = EmailMessage(policy=POLICY)
    message["Subject"] = _header_value(title)
    message["From"] = _address(sender)
    message["To"] = ", ".join(_address(r) for r in recipients)
    message["Date"] = format_datetime(_date(digest))
    message["Message-ID"] = f"<{_message_id_left(digest.key)}@{MESSAGE_ID_DOMAIN}>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(_text(digest, shown, sections), cte="quoted-printable")
    message.add_alternative(_html(digest, shown, sections), subtype="html", cte="quoted-printable")
    return message
