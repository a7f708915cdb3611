"""Canonical forms: the same policy or page always serialises to the same bytes.

Statement is always a list; Action/NotAction/Resource/NotResource are sorted lists without
duplicates (actions de-duplicated case-insensitively, shown as published); keys are sorted. The page
hash covers content only: chrome, whitespace and build-generated ids never count.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from watcher.model import ActionSet, Feed, Page

_ACTION_KEYS = ("Action", "NotAction")
_LIST_KEYS = ("Action", "NotAction", "Resource", "NotResource")


def _sort_key(value: Any) -> tuple[int, str]:
    """Strings sort as themselves, before anything else; other values by their JSON (``1`` is not ``"1"``)."""
    return (0, value) if isinstance(value, str) else (1, json.dumps(value, sort_keys=True))


def _sorted_unique(values: Any, fold_case: bool) -> list[Any]:
    items = [_canonical_value(v) for v in (values if isinstance(values, list) else [values])]
    seen: set[tuple[int, str]] = set()
    out: list[Any] = []
    for v in sorted(items, key=_sort_key):
        kind, key = _sort_key(v)
        key = key.lower() if fold_case and kind == 0 else key
        if (kind, key) not in seen:
            seen.add((kind, key))
            out.append(v)
    return out


def _canonical_value(value: Any) -> Any:
    """Sort dict keys recursively; sort lists of strings (order never matters in a policy)."""
    if isinstance(value, dict):
        return {k: _canonical_value(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        items = [_canonical_value(v) for v in value]
        return _sorted_unique(items, fold_case=False) if all(isinstance(v, str) for v in items) else items
    return value


def canonical_statement(statement: Any) -> Any:
    if not isinstance(statement, dict):
        return _canonical_value(statement)
    out: dict[str, Any] = {}
    for key in sorted(statement):
        value = statement[key]
        if key in _LIST_KEYS:
            out[key] = _sorted_unique(value, fold_case=key in _ACTION_KEYS)
        else:
            out[key] = _canonical_value(value)
    return out


def canonical_policy(document: dict[str, Any]) -> dict[str, Any]:
    """Return the canonical form of a policy document (idempotent)."""
    out: dict[str, Any] = {}
    for key in sorted(document):
        value = document[key]
        if key == "Statement":
            statements = value if isinstance(value, list) else [value]
            out[key] = sorted((canonical_statement(s) for s in statements), key=_sort_key)
        else:
            out[key] = _canonical_value(value)
    return out


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    value = document.get("Statement", [])
    items = value if isinstance(value, list) else [value]
    return [s for s in items if isinstance(s, dict)]


def actions_of(document: dict[str, Any]) -> ActionSet:
    """Allowed, denied and NotAction names of a document, sorted and de-duplicated case-insensitively."""
    allow: list[Any] = []
    deny: list[Any] = []
    not_actions: list[Any] = []
    for st in statements(document):
        effect = str(st.get("Effect", "")).lower()
        if "Action" in st:
            target = deny if effect == "deny" else allow
            value = st["Action"]
            target.extend(value if isinstance(value, list) else [value])
        if "NotAction" in st:
            value = st["NotAction"]
            not_actions.extend(value if isinstance(value, list) else [value])

    def clean(values: list[Any]) -> tuple[str, ...]:
        return tuple(_sorted_unique([v for v in values if isinstance(v, str)], fold_case=True))

    return ActionSet(allow=clean(allow), deny=clean(deny), not_actions=clean(not_actions))


def is_trust_policy(document: dict[str, Any]) -> bool:
    """A trust policy: every statement names a Principal."""
    sts = statements(document)
    return bool(sts) and all("Principal" in s or "NotPrincipal" in s for s in sts)


def _digest(value: Any) -> str:
    data = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # JSON text may spell a lone surrogate ("\ud800"); hash it rather than fail on it.
    return hashlib.sha256(data.encode("utf-8", "surrogatepass")).hexdigest()


def page_content(page: Page) -> dict[str, Any]:
    """The part of a page that is content: what the hash covers and what diffs compare."""
    return {
        "kind": "page",
        "title": page.title,
        "policies": [
            {
                "name": p.name,
                "status": p.status.value,
                "document": p.document,
                "raw": " ".join(p.raw_json.split()) if p.document is None and p.raw_json else None,
                "document_link": p.document_link,
                "arn": p.arn,
                "version": p.version,
            }
            for p in page.policies
        ],
        "updates": [[u.change, u.description, u.date_raw] for u in page.updates],
    }


def feed_content(feed: Feed) -> dict[str, Any]:
    return {
        "kind": "feed",
        "title": feed.title,
        "items": [[i.guid, i.title, i.link, i.published, i.summary] for i in feed.items],
    }


def content_hash(parsed: Page | Feed) -> str:
    """sha256 over the canonical content; equal for pages that differ only in chrome."""
    return _digest(page_content(parsed) if isinstance(parsed, Page) else feed_content(parsed))
