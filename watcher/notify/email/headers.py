"""Header values of the email channel: Message-ID, addresses, and a Subject that reads back as rendered."""

from __future__ import annotations

import re
from email.header import Header
from email.policy import EmailPolicy

from watcher.notify.email.text import one_line

MESSAGE_ID_DOMAIN = "policy-watcher"


_ATEXT = re.compile(r"[A-Za-z0-9!#$&'*+\-/=?^_`{|}~]")
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$&'*+\-/=?^_`{|}~]+(\.[A-Za-z0-9!#$&'*+\-/=?^_`{|}~]+)*")


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
