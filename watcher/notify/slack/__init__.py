"""Slack incoming webhook: a digest as Block Kit blocks (``render``, pure) and one POST (``send``).

Everything taken from a page, a feed or an event is escaped for mrkdwn (``&``, ``<``, ``>``), so page text such
as ``<!channel>`` or ``<http://evil|click>`` is shown as text and never pings anyone or becomes a link; text
objects are ``verbatim`` (Slack does not auto-link or parse mentions) and links are only made from http(s)
URLs with ``|``, ``<``, ``>`` and whitespace percent-encoded. Slack's limits are kept: at most 50 blocks,
3000 characters per section, 150 per header; long action lists end with "… and N more", long digests with
"… and N more changes".

Severity (issue 6): each section leads with a badge (``:rotating_light: *critical*``), the header and fallback text
with ``[critical]`` or ``[high]`` when the digest has such a change; classified actions are one line each with their
access level, flags, ``on `*```, a wildcard's expansion, or "unknown action"; removals carry AWS's note.

``send`` never raises and never puts the webhook URL (a secret) in its answer.

Modules: ``text`` (limits, mrkdwn escaping, links), ``blocks`` (the sections), ``headline`` (``summary``),
``payload`` (``render``, pure) and ``delivery`` (``send``, the only I/O).
"""

from watcher.notify.slack.blocks import POLICY_KINDS
from watcher.notify.slack.delivery import PERMANENT_ANSWERS, send
from watcher.notify.slack.headline import summary
from watcher.notify.slack.payload import render
from watcher.notify.slack.text import (
    MAX_BLOCKS,
    MAX_FALLBACK,
    MAX_HEADER,
    MAX_NAME,
    MAX_PROSE,
    MAX_ROWS,
    MAX_SECTION,
    MAX_URL,
    code,
    code_list,
    cut,
    escape,
    link,
    plural,
    safe_url,
    squash,
    when,
)

__all__ = [
    "MAX_BLOCKS",
    "MAX_FALLBACK",
    "MAX_HEADER",
    "MAX_NAME",
    "MAX_PROSE",
    "MAX_ROWS",
    "MAX_SECTION",
    "MAX_URL",
    "PERMANENT_ANSWERS",
    "POLICY_KINDS",
    "code",
    "code_list",
    "cut",
    "escape",
    "link",
    "plural",
    "render",
    "safe_url",
    "send",
    "squash",
    "summary",
    "when",
]
