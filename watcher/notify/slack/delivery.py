"""``send``: one POST to a Slack incoming webhook, Slack's answer as a ``SendResult`` (I/O)."""

from __future__ import annotations

import json
import re
from contextlib import nullcontext
from typing import Any

import requests

from watcher.fetch import USER_AGENT
from watcher.notify.answers import retry_after_seconds
from watcher.notify.model import SendResult
from watcher.notify.slack.text import cut, squash

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
        return SendResult(False, detail, retry_after=retry_after_seconds(retry_after))
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
