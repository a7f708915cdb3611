"""The documented JSON interface of ``watcher parse`` (see README, "The parse JSON").

Stable: keys are only ever added. ``schema`` names the version of this shape.
"""

from __future__ import annotations

from typing import Any

from watcher.model import Feed, Page, Parsed, Policy

SCHEMA = "policy-watcher/parse/v1"


def _policy(policy: Policy) -> dict[str, Any]:
    actions = policy.actions
    return {
        "name": policy.name,
        "anchor": policy.anchor,
        "status": policy.status.value,
        "defects": list(policy.defects),
        "description": policy.description,
        "document_link": policy.document_link,
        "actions": None
        if actions is None
        else {
            "allow": list(actions.allow),
            "deny": list(actions.deny),
            "not_actions": list(actions.not_actions),
        },
        "action_count": None if actions is None else actions.count,
        "document": policy.document,
        "raw_json": policy.raw_json if policy.document is None else None,
        "json_blocks": policy.json_blocks,
        "arn": policy.arn,
        "version": policy.version,
        "created": policy.created,
        "edited": policy.edited,
    }


def to_json(parsed: Parsed) -> dict[str, Any]:
    """A plain-JSON dict of a parsed page or feed."""
    common = {
        "schema": SCHEMA,
        "kind": parsed.kind.value,
        "url": parsed.url,
        "title": parsed.title,
        "content_hash": parsed.content_hash,
        "warnings": [{"code": w.code, "message": w.message, "policy": w.policy} for w in parsed.warnings],
    }
    if isinstance(parsed, Feed):
        return {
            **common,
            "link": parsed.link,
            "last_build": parsed.last_build,
            "items": [
                {
                    "guid": i.guid,
                    "title": i.title,
                    "link": i.link,
                    "published": i.published,
                    "summary": i.summary,
                }
                for i in parsed.items
            ],
        }
    return {**common, **_page(parsed)}


def _page(page: Page) -> dict[str, Any]:
    return {
        "service": page.service,
        "feed_url": page.feed_url,
        "policies": [_policy(p) for p in page.policies],
        "updates": [
            {
                "change": u.change,
                "description": u.description,
                "date": u.date,
                "date_raw": u.date_raw,
                "actions": list(u.actions),
                "policies": list(u.policies),
                "anchor": u.anchor,
            }
            for u in page.updates
        ],
    }
