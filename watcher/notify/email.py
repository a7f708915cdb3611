"""Email over SMTP: ``render`` builds a multipart text + HTML message (pure), ``send`` hands it to a server.

Everything taken from pages and feeds is untrusted: it reaches a header only as one line without control
characters, the HTML part escapes it with ``html.escape``, and links are made only of http(s) URLs. The
``Message-ID`` is the digest's idempotency key, the same on every retry. ``Date`` is the latest detection time
of the digest, so that rendering the same digest twice gives the same message.

``send`` never sends in clear when STARTTLS or TLS was asked, verifies certificates against the system CA store,
and answers with a ``SendResult``: 250 is ``ok``; a 5xx answer is permanent; a 4xx answer, a lost connection, a
TLS failure or a timeout is temporary.
"""

from __future__ import annotations

import html
import re
import smtplib
import ssl
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import Header
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime
from typing import Any

from watcher.notify.model import OPERATOR_KINDS, Digest, Notice, SendResult
from watcher.notify.settings import EmailSettings

MESSAGE_ID_DOMAIN = "policy-watcher"
SUBJECT_MAX = 180
"""Longest subject (characters, prefix included); a longer one is cut and ends with an ellipsis."""
DETAIL_MAX = 300
"""Longest ``SendResult.detail``."""

POLICY_KINDS = (
    "policy_added",
    "policy_removed",
    "actions_added",
    "actions_removed",
    "statement_changed",
    "document_moved",
    "parse_repaired",
)
"""Kinds shown under their policy (one block per policy, in the order the policies first appear)."""

_OPERATOR_LABELS = {
    "source_failing": "source failing",
    "source_recovered": "source recovered",
    "layout_suspect": "layout suspect",
    "parse_failed": "parse failed",
    "delivery_dead": "delivery dead",
}
_MINUS = "\u2212"
_ATEXT = re.compile(r"[A-Za-z0-9!#$&'*+\-/=?^_`{|}~]")
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$&'*+\-/=?^_`{|}~]+(\.[A-Za-z0-9!#$&'*+\-/=?^_`{|}~]+)*")


# --- text hygiene ----------------------------------------------------------------------------------------------


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


def _message_id_left(key: str) -> str:
    """The idempotency key as the left part of a Message-ID: unchanged when it is a dot-atom without ``%``,
    else every other character percent-encoded (injective: only the encoded form contains ``%``)."""
    if not key:
        raise ValueError("the digest has no idempotency key")
    if "%" not in key and _DOT_ATOM.fullmatch(key):
        return key
    return "".join(c if _ATEXT.fullmatch(c) else "".join(f"%{b:02X}" for b in c.encode()) for c in key)


def _address(value: str) -> str:
    if value != one_line(value) or not value:
        raise ValueError(f"invalid email address {value!r}: empty, or contains control characters")
    return value


def _when(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _shown_time(value: str) -> str:
    moment = _when(value)
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else one_line(value)


# --- the content, once, for both parts --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Para:
    text: str
    items: tuple[str, ...] = ()
    """Bullets under ``text`` (shown as code: actions, resources, conditions)."""
    marker: str = "-"
    sub: bool = False
    """A quotation under the paragraph before (an updates-row description, a feed item summary)."""


@dataclass(frozen=True)
class _Entry:
    heading: str
    url: str | None
    paras: tuple[_Para, ...]
    meta: str


@dataclass(frozen=True)
class _Section:
    title: str
    entries: tuple[_Entry, ...]


_EFFECT_ORDER = {"Allow": 0, "Deny": 1, "NotAction": 2}


def _grant_paras(label: str, grants: Iterable[tuple[str, str]], marker: str) -> list[_Para]:
    by_effect: dict[str, list[str]] = {}
    for effect, action in grants:
        by_effect.setdefault(one_line(effect), []).append(one_line(action))
    ordered = sorted(by_effect.items(), key=lambda kv: (_EFFECT_ORDER.get(kv[0], 3), kv[0]))
    return [_Para(f"{label} ({effect}):", tuple(actions), marker) for effect, actions in ordered]


def _row_paras(row: dict[str, Any]) -> list[_Para]:
    date = one_line(row.get("date") or row.get("date_raw")) or "undated"
    paras = [_Para(f"AWS wrote ({date}): {one_line(row.get('change')) or '(no change text)'}")]
    description = one_line(row.get("description"))
    if description and description != one_line(row.get("change")):
        paras.append(_Para(description, sub=True))
    return paras


def _row_key(row: dict[str, Any]) -> tuple[str, str]:
    return one_line(row.get("change")), one_line(row.get("date") or row.get("date_raw"))


def _meta(notices: Sequence[Notice]) -> str:
    first = notices[0]
    parts = [f"Source: {one_line(first.source)}"]
    if first.service:
        parts.append(f"Service: {one_line(first.service)}")
    times = sorted({n.detected_at for n in notices}, key=lambda t: (_when(t) or datetime.max.replace(tzinfo=UTC), t))
    parts.append(f"Detected: {_shown_time(times[0])}")
    return " | ".join(parts)


def _listing(details: dict[str, Any], key: str) -> tuple[str, ...]:
    values = details.get(key) or []
    return tuple(one_line(v) for v in (values if isinstance(values, list | tuple) else [values]))


def _policy_paras(notice: Notice) -> list[_Para]:
    d = notice.details
    match notice.kind:
        case "policy_added":
            paras = [_Para("New policy.")]
            paras += _grant_paras("Actions", notice.grants, "+")
            status = one_line(d.get("status"))
            if not notice.grants and status and status != "ok":
                paras.append(_Para(f"Its document could not be read ({status}): its actions are unknown."))
            return paras
        case "policy_removed":
            return [_Para("Policy removed from the page."), *_grant_paras("Actions it granted", notice.grants, "-")]
        case "actions_added":
            return _grant_paras("Actions added", notice.grants, "+")
        case "actions_removed":
            return _grant_paras("Actions removed", notice.grants, "-")
        case "statement_changed":
            paras = [_Para("Statements changed (resources or conditions):")]
            for key, label, marker in (
                ("resources_added", "Resources added", "+"),
                ("resources_removed", "Resources removed", "-"),
                ("conditions_added", "Conditions added", "+"),
                ("conditions_removed", "Conditions removed", "-"),
                ("actions_affected", "Actions affected", "*"),
            ):
                if items := _listing(d, key):
                    paras.append(_Para(f"{label}:", items, marker))
            return paras
        case "document_moved":
            link = one_line(d.get("document_link")) or "(no link)"
            return [_Para(f"The policy document moved off the page: {link}")]
        case "parse_repaired":
            defects = ", ".join(_listing(d, "defects")) or "unknown defects"
            return [_Para(f"The published policy text is malformed ({defects}); it was read after repair.")]
    return [_Para(_generic(notice))]


def _generic(notice: Notice) -> str:
    details = "; ".join(f"{one_line(k)}: {one_line(v)}" for k, v in sorted(notice.details.items()))
    policy = f" {one_line(notice.policy)}" if notice.policy else ""
    return f"{one_line(notice.kind).replace('_', ' ')}{policy}" + (f" ({details})" if details else "")


def _policy_section(notices: Sequence[Notice]) -> tuple[_Section | None, set[tuple[str, str, tuple[str, str]]]]:
    """One entry per policy; also the (source, policy, row) shown, so ``update_row_added`` is not repeated."""
    groups: dict[tuple[str, str], list[Notice]] = {}
    for n in notices:
        if n.kind in POLICY_KINDS and n.policy is not None:
            groups.setdefault((n.source, n.policy), []).append(n)
    rows_by_group: dict[tuple[str, str], list[dict[str, Any]]] = {key: [] for key in groups}
    for n in notices:
        if n.kind == "update_row_added" and n.policy is not None and (n.source, n.policy) in groups:
            rows_by_group[(n.source, n.policy)].append(n.details)
    shown: set[tuple[str, str, tuple[str, str]]] = set()
    entries = []
    for (source, policy), group in groups.items():
        paras: list[_Para] = []
        for n in group:
            paras += _policy_paras(n)
        rows = [n.update_row for n in group if n.update_row] + rows_by_group[(source, policy)]
        for row in rows:
            if (source, policy, _row_key(row)) not in shown:
                shown.add((source, policy, _row_key(row)))
                paras += _row_paras(row)
        url = next((u for n in group if (u := _http_url(n.url))), None)
        entries.append(_Entry(one_line(policy), url, tuple(paras), _meta(group)))
    return (_Section("Policy changes", tuple(entries)) if entries else None), shown


def _other_entry(notice: Notice) -> _Entry:
    d = notice.details
    url = _http_url(notice.url)
    match notice.kind:
        case "update_row_added":
            paras = _row_paras(d)
            policies = _listing(d, "policies") or ((one_line(notice.policy),) if notice.policy else ())
            if policies:
                paras.append(_Para("Policies named:", policies, "*"))
            heading = "Updates table: new row"
        case "feed_item_added":
            published = one_line(d.get("published"))
            heading = (
                f"New feed item{f' ({published})' if published else ''}: {one_line(d.get('title')) or '(untitled)'}"
            )
            url = _http_url(d.get("link")) or url
            paras = [_Para(s, sub=True)] if (s := one_line(d.get("summary"))) else []
        case "baseline":
            heading = f"Now watching {one_line(notice.source)}"
            counts = [f"{k}: {one_line(d[k])}" for k in ("title", "policies", "updates", "items") if k in d]
            paras = [_Para("First sight, stored as the baseline (no alerts for what is already there).")]
            if counts:
                paras.append(_Para("; ".join(counts)))
        case _:
            heading, paras = _generic(notice), []
    return _Entry(heading, url, tuple(paras), _meta([notice]))


def _operator_entry(notice: Notice) -> _Entry:
    d = notice.details
    source = one_line(notice.source)
    label = _OPERATOR_LABELS.get(notice.kind, one_line(notice.kind).replace("_", " "))
    heading = f"{label[:1].upper()}{label[1:]}: {source}"
    match notice.kind:
        case "source_failing":
            text = f"{one_line(d.get('failures', '?'))} failures in a row since {_shown_time(str(d.get('since', '?')))}"
            paras = [_Para(text), _Para(f"Last error: {one_line(d.get('error')) or '(none recorded)'}")]
        case "source_recovered":
            paras = [_Para(f"It works again (failing since {_shown_time(str(d.get('since', '?')))}).")]
        case "layout_suspect":
            paras = [
                _Para(f"Reason: {one_line(d.get('reason')) or '(none given)'}"),
                _Para("The previous snapshot stays the baseline; no removals are reported from this page."),
            ]
        case "parse_failed":
            policy = one_line(notice.policy) or "(unnamed policy)"
            heading = f"Parse failed: {policy}"
            paras = [_Para(f"The document of {policy} could not be parsed: its actions are unknown, not empty.")]
        case "delivery_dead":
            heading = f"Delivery dead: channel {one_line(d.get('channel')) or '?'}"
            paras = [_Para(f"Error: {one_line(d.get('error')) or '?'}")]
            if d.get("digest"):
                paras.append(_Para(f"Message: {one_line(d.get('digest'))}"))
        case _:
            paras = [_Para(_generic(notice))]
    return _Entry(heading, _http_url(notice.url), tuple(paras), _meta([notice]))


def _sections(digest: Digest) -> list[_Section]:
    notices = digest.notices
    policy_section, shown = _policy_section(notices)
    sections = [policy_section] if policy_section else []
    others = [
        _other_entry(n)
        for n in notices
        if n.kind not in OPERATOR_KINDS
        and n.kind not in POLICY_KINDS
        and not (
            n.kind == "update_row_added" and n.policy is not None and (n.source, n.policy, _row_key(n.details)) in shown
        )
    ]
    others += [_other_entry(n) for n in notices if n.kind in POLICY_KINDS and n.policy is None]
    if others:
        sections.append(_Section("Other updates", tuple(others)))
    operator = [_operator_entry(n) for n in notices if n.kind in OPERATOR_KINDS]
    if operator:
        sections.append(_Section("Watcher health", tuple(operator)))
    return sections


# --- subject -------------------------------------------------------------------------------------------------


def _policy_summary(notices: Sequence[Notice]) -> str:
    kinds = {n.kind for n in notices}
    parts: list[str] = []
    if "policy_added" in kinds:
        parts.append("new policy")
    if "policy_removed" in kinds:
        parts.append("policy removed")
    added = sum(len(n.grants) for n in notices if n.kind == "actions_added")
    removed = sum(len(n.grants) for n in notices if n.kind == "actions_removed")
    if added or removed:
        counts = ([f"+{added}"] if added else []) + ([f"{_MINUS}{removed}"] if removed else [])
        parts.append(f"{' '.join(counts)} {'action' if added + removed == 1 else 'actions'}")
    for kind, words in (
        ("statement_changed", "statements changed"),
        ("document_moved", "document moved"),
        ("parse_repaired", "text repaired"),
    ):
        if kind in kinds:
            parts.append(words)
    return ", ".join(parts) or "changed"


def _services(notices: Iterable[Notice]) -> str:
    names = list(dict.fromkeys(one_line(n.service) for n in notices if n.service and one_line(n.service)))
    return f" ({', '.join(names)})" if names else ""


def subject(digest: Digest) -> str:
    """The one-line subject: what changed, or which source is unwell when nothing else is in the digest."""
    changes = [n for n in digest.notices if n.kind not in OPERATOR_KINDS]
    operator = [n for n in digest.notices if n.kind in OPERATOR_KINDS]
    by_policy: dict[str, list[Notice]] = {}
    for n in changes:
        if n.kind in POLICY_KINDS and n.policy is not None:
            by_policy.setdefault(one_line(n.policy), []).append(n)
    if len(by_policy) == 1:
        [(name, group)] = by_policy.items()
        text = f"{name}: {_policy_summary(group)}"
    elif by_policy:
        grouped = [n for group in by_policy.values() for n in group]
        text = f"{len(by_policy)} policies changed{_services(grouped)}"
    elif changes:
        rows = sum(n.kind == "update_row_added" for n in changes)
        items = sum(n.kind == "feed_item_added" for n in changes)
        baselines = list(dict.fromkeys(one_line(n.source) for n in changes if n.kind == "baseline"))
        rest = len(changes) - rows - items - sum(n.kind == "baseline" for n in changes)
        parts = []
        if rows:
            parts.append(_plural(rows, "new updates-table row"))
        if items:
            parts.append(_plural(items, "new feed item"))
        if baselines:
            parts.append(
                f"now watching {baselines[0]}" if len(baselines) == 1 else f"now watching {len(baselines)} sources"
            )
        if rest:
            parts.append(_plural(rest, "other change"))
        text = ", ".join(parts) + _services(changes)
    else:
        alerts = list(
            dict.fromkeys(
                f"{_OPERATOR_LABELS.get(n.kind, n.kind.replace('_', ' '))}: {one_line(n.source)}" for n in operator
            )
        )
        text = "; ".join(alerts)
    if changes and operator:
        text += f" (+{_plural(len(operator), 'watcher alert')})"
    return _cut(one_line(f"[{one_line(digest.title) or 'Policy Watcher'}] {text}"), SUBJECT_MAX)


# --- the Subject header --------------------------------------------------------------------------------------------


class _Policy(EmailPolicy):
    """``email.policy.default``, except that the Subject is written so that it reads back exactly as rendered.

    The default folding (78 characters) moves a subject of 70 to 77 characters whole onto a continuation line
    (``Subject:`` CRLF SP ``[Policy Watcher] ...``), which reads back with a leading space; it can double a space
    next to an encoded word; and on Python 3.11.7 (before the CVE-2024-6923 fix) it writes a CR LF that came from
    decoding an encoded word as it is, i.e. a new header. Here a subject of printable ASCII without ``=?``
    (``SUBJECT_MAX`` characters at most) stays on its one line, within RFC 5322's 998; any other is written whole
    as RFC 2047 encoded words of at most 75 characters, one per folded line, which a reader decodes to exactly the
    text. Other headers and the body are as by default.
    """

    def fold(self, name: str, value: str) -> str:
        if name.lower() == "subject":
            return self._fold_subject(name, value)
        return str(super().fold(name, value))

    def fold_binary(self, name: str, value: str) -> bytes:
        if name.lower() == "subject":
            return self._fold_subject(name, value).encode("utf-8" if self.utf8 else "ascii")
        return super().fold_binary(name, value)

    def _fold_subject(self, name: str, value: str) -> str:
        text = str(value)
        plain = (text.isascii() or self.utf8) and text.isprintable() and "=?" not in text
        if plain and len(name) + 2 + len(text) <= 998:
            return f"{name}: {text}{self.linesep}"
        encoded = Header(text, "utf-8", maxlinelen=76, header_name=name).encode(linesep=self.linesep)
        return f"{name}: {encoded}{self.linesep}"


def _header_value(text: str) -> str:
    """``text`` as a header value that the email package stores as it is: it decodes whatever looks like an
    encoded word (``=?utf-8?q?=0D=0A?=`` from a page would become a line break), so such text goes in encoded."""
    return Header(text, "utf-8").encode(maxlinelen=0) if "=?" in text else text


POLICY = _Policy()
"""The policy of every rendered message."""


# --- the two parts -------------------------------------------------------------------------------------------------


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


# --- sending ---------------------------------------------------------------------------------------------------


class _SMTP(smtplib.SMTP):
    """Keeps the server's answer to DATA (``sendmail`` drops it): the ``250 ...`` of ``SendResult.detail``."""

    data_reply: tuple[int, bytes] | None = None

    def data(self, msg: Any) -> tuple[int, bytes]:
        self.data_reply = super().data(msg)
        return self.data_reply


class _SMTP_SSL(smtplib.SMTP_SSL):
    data_reply: tuple[int, bytes] | None = None

    def data(self, msg: Any) -> tuple[int, bytes]:
        self.data_reply = super().data(msg)
        return self.data_reply


def _reply(code: int, text: bytes | str) -> str:
    decoded = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return one_line(f"{code} {decoded}")


def _detail(text: str, password: str | None) -> str:
    line = one_line(text)
    if password:
        line = line.replace(password, "***")
    return _cut(line, DETAIL_MAX)


def _answer(code: int, what: str, password: str | None) -> SendResult:
    return SendResult(ok=False, detail=_detail(what, password), permanent=500 <= code < 600)


def _classify(error: BaseException, password: str | None, timeout: float) -> SendResult:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        refused = error.recipients
        text = "; ".join(f"{address} {_reply(code, msg)}" for address, (code, msg) in refused.items())
        every_5xx = bool(refused) and all(500 <= code < 600 for code, _ in refused.values())
        return SendResult(ok=False, detail=_detail(f"recipients refused: {text}", password), permanent=every_5xx)
    if isinstance(error, smtplib.SMTPSenderRefused):
        return _answer(error.smtp_code, f"sender refused: {_reply(error.smtp_code, error.smtp_error)}", password)
    if isinstance(error, smtplib.SMTPDataError):
        return _answer(error.smtp_code, f"message refused: {_reply(error.smtp_code, error.smtp_error)}", password)
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return _answer(error.smtp_code, f"authentication failed: {_reply(error.smtp_code, error.smtp_error)}", password)
    if isinstance(error, smtplib.SMTPResponseException):
        return _answer(error.smtp_code, f"server answered {_reply(error.smtp_code, error.smtp_error)}", password)
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return SendResult(ok=False, detail=_detail(f"not supported by the server: {error}", password), permanent=True)
    if isinstance(error, TimeoutError) or isinstance(error.__context__, TimeoutError):
        # smtplib reports a read that timed out as "Connection unexpectedly closed: timed out".
        return SendResult(ok=False, detail=f"timed out: no answer from the server within {timeout:g} s")
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return SendResult(ok=False, detail=_detail(f"disconnected: {error}", password))
    if isinstance(error, ssl.SSLError | ssl.CertificateError):
        return SendResult(ok=False, detail=_detail(f"TLS error: {error}", password))
    if isinstance(error, OSError):
        return SendResult(ok=False, detail=_detail(f"connection failed: {type(error).__name__}: {error}", password))
    return SendResult(ok=False, detail=_detail(f"SMTP error: {error}", password))


def _close(client: smtplib.SMTP, polite: bool) -> None:
    """QUIT after a delivery (its answer changes nothing: the message was accepted); just close after an error."""
    if polite:
        try:
            client.quit()
            return
        except (smtplib.SMTPException, OSError):
            pass
    client.close()


def send(
    settings: EmailSettings,
    password: str | None,
    message: EmailMessage,
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> SendResult:
    """Deliver ``message`` to the server of ``settings``; never raises for the server's answer or the network.

    ``ssl_context`` replaces the default context (system CA store, hostname checked), e.g. to trust a test
    certificate. With ``security = "starttls"``, a server that does not offer STARTTLS gets nothing (permanent:
    the configuration or the server must change).
    """
    if settings.username and password is None:
        return SendResult(ok=False, detail="a username is set but the SMTP password is missing", permanent=True)
    context = ssl_context or ssl.create_default_context()
    client: _SMTP | _SMTP_SSL | None = None
    delivered = False
    try:
        if settings.security == "tls":
            client = _SMTP_SSL(settings.host, settings.port, timeout=settings.timeout, context=context)
        else:
            client = _SMTP(settings.host, settings.port, timeout=settings.timeout)
        if settings.security == "starttls":
            client.ehlo()
            if not client.has_extn("starttls"):
                return SendResult(
                    ok=False,
                    detail="the server does not offer STARTTLS: not sending in clear",
                    permanent=True,
                )
            client.starttls(context=context)  # raises on any answer but 220
            client.ehlo()
        if settings.username:
            client.login(settings.username, password or "")
        refused = client.send_message(message)
        delivered = True
        code, reply = client.data_reply or (250, b"")
        detail = _reply(code, reply)
        if refused:
            detail += " (refused: " + "; ".join(f"{a} {_reply(c, m)}" for a, (c, m) in refused.items()) + ")"
        return SendResult(ok=True, detail=_detail(detail, password))
    except (smtplib.SMTPException, OSError) as error:
        return _classify(error, password, settings.timeout)
    finally:
        if client is not None:
            _close(client, polite=delivered)
