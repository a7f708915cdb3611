"""Email over SMTP: ``render`` builds a multipart text + HTML message (pure), ``send`` hands it to a server.

Everything taken from pages and feeds is untrusted: it reaches a header only as one line without control
characters, the HTML part escapes it with ``html.escape``, and links are made only of http(s) URLs. The
``Message-ID`` is the digest's idempotency key, the same on every retry. ``Date`` is the latest detection time
of the digest, so that rendering the same digest twice gives the same message. The Subject starts with
``[critical]`` or ``[high]`` when the digest has such a change; each change shows its severity (``[CRITICAL]`` in
text, a coloured label in HTML) and each classified action its access level and risk flags.

``send`` never sends in clear when STARTTLS or TLS was asked, verifies certificates against the system CA store,
and answers with a ``SendResult``: 250 is ``ok``; a 5xx answer is permanent; a 4xx answer, a lost connection, a
TLS failure or a timeout is temporary.

Modules: ``text`` (one-line text, links, times), ``headers`` (Message-ID, addresses, the Subject's folding),
``content`` (the sections shown in both parts), ``subject_line`` (``subject``), ``message`` (``render``, pure)
and ``smtp`` (``send``, the only I/O).
"""

from watcher.notify.email.content import POLICY_KINDS
from watcher.notify.email.headers import MESSAGE_ID_DOMAIN, POLICY
from watcher.notify.email.message import render
from watcher.notify.email.smtp import DETAIL_MAX, send
from watcher.notify.email.subject_line import SUBJECT_MAX, subject
from watcher.notify.email.text import one_line

__all__ = [
    "DETAIL_MAX",
    "MESSAGE_ID_DOMAIN",
    "POLICY",
    "POLICY_KINDS",
    "SUBJECT_MAX",
    "one_line",
    "render",
    "send",
    "subject",
]
