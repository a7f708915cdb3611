"""Shared helpers for the semantic diff tests (tests/test_diff_*.py): Rekognition fixture pages and small pages.

Pages are built from the fixtures with ``dataclasses.replace`` or from small documents; the diff is pure, no
database.
"""

from __future__ import annotations

import json
from dataclasses import replace
from functools import cache
from typing import Any

from tests.conftest import REKOGNITION
from watcher.canonical import actions_of, canonical_policy
from watcher.diff import Change, ChangeKind, Grant
from watcher.model import Kind, Page, Policy, PolicyStatus, UpdateRow
from watcher.parse import parse

FULL = "AmazonRekognitionFullAccess"
READ_ONLY = "AmazonRekognitionReadOnlyAccess"
SERVICE_ROLE = "AmazonRekognitionServiceRole"
CUSTOM_LABELS = "AmazonRekognitionCustomLabelsFullAccess"
FACE_LIVENESS = "AmazonRekognitionFaceLivenessAccess"

Summary = tuple[ChangeKind, str | None, tuple[Grant, ...]]


@cache
def fixture_page(name: str) -> Page:
    parsed = parse((REKOGNITION / f"{name}.html").read_bytes())
    assert isinstance(parsed, Page)
    return parsed


def summary(changes: list[Change]) -> list[Summary]:
    return [(c.kind, c.policy, c.grants) for c in changes]


def policy_of(page: Page, name: str) -> Policy:
    (found,) = [p for p in page.policies if p.name == name]
    return found


def with_policy(page: Page, name: str, **changes: Any) -> Page:
    """``page`` with the policy ``name`` replaced by ``dataclasses.replace(policy, **changes)``."""
    return replace(page, policies=tuple(replace(p, **changes) if p.name == name else p for p in page.policies))


def policy(name: str, *statements: dict[str, Any], status: PolicyStatus = PolicyStatus.OK) -> Policy:
    """A policy as the parser would produce it from a document with ``statements``."""
    document = canonical_policy({"Version": "2012-10-17", "Statement": list(statements)})
    return Policy(
        name=name,
        anchor=f"security-iam-awsmanpol-{name}",
        description=f"{name} grants things.",
        status=status,
        raw_json=json.dumps(document, indent=4),
        document=document,
        actions=actions_of(document),
        json_blocks=1,
        document_block_index=0,
    )


def page_of(*policies: Policy, updates: tuple[UpdateRow, ...] = ()) -> Page:
    return Page(
        kind=Kind.SERVICE_PAGE,
        url="https://docs.aws.amazon.com/example/latest/dg/security-iam-awsmanpol.html",
        title="AWS managed policies for Example",
        service="Example",
        policies=policies,
        updates=updates,
    )


def allow(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}
