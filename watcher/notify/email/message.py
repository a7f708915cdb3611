"""``render``: a digest as a multipart text + HTML message (pure)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

from watcher.notify.email.content import _Section, _sections
from watcher.notify.email.headers import MESSAGE_ID_DOMAIN, POLICY, _address, _header_value, _message_id_left
from watcher.notify.email.subject_line import subject
from watcher.notify.email.text import _when, one_line
from watcher.notify.model import Digest


def _text(digest: Digest, title: str, sections: Sequence[_Section]) -> str:
    lines = [title, ""]
    for section in sections:
        lines += [section.title, "=" * len(section.title), ""]
        for entry in section.entries:
            lines.append(f"* {entry.heading}")
            if entry.url:
                lines.append(f"  {entry.url}")
            for para in entry.paras:
                lines.append(f"      {para.text}" if para.sub else f"  {para.text}")
                lines += [f"    {para.marker} {item}" for item in para.items]
            lines += [f"  {entry.meta}", ""]
    lines += ["-- ", f"Sent by {one_line(digest.title) or 'Policy Watcher'}; message {one_line(digest.key)}."]
    return "\n".join(lines) + "\n"


def _h(text: str) -> str:
    return html.escape(text, quote=True)


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
            out.append(f'<h3 style="font-size: 1em; margin-bottom: 0.2em">{heading}</h3>')
            for para in entry.paras:
                if para.sub:
                    out.append(f'<blockquote style="margin: 0 0 0.5em 1.5em; color: #444">{_h(para.text)}</blockquote>')
                else:
                    out.append(f'<p style="margin: 0.3em 0">{_h(para.text)}</p>')
                if para.items:
                    items = "".join(f"<li>{_h(para.marker)} <code>{_h(item)}</code></li>" for item in para.items)
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
    sections = _sections(digest)
    message = EmailMessage(policy=POLICY)
    message["Subject"] = _header_value(title)
    message["From"] = _address(sender)
    message["To"] = ", ".join(_address(r) for r in recipients)
    message["Date"] = format_datetime(_date(digest))
    message["Message-ID"] = f"<{_message_id_left(digest.key)}@{MESSAGE_ID_DOMAIN}>"
    message["Auto-Submitted"] = "auto-generated"
    body_title = title.split("] ", 1)[1] if title.startswith("[") and "] " in title else title
    message.set_content(_text(digest, body_title, sections), cte="quoted-printable")
    message.add_alternative(_html(digest, body_title, sections), subtype="html", cte="quoted-printable")
    return message
