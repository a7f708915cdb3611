"""The history bench's rows: the tables and their columns, and how each kind of row is written.

Rows are lists in ``COLUMNS`` order with their ids assigned, kept per table, so that they can be bulk
loaded (``bench.history_load``) in ``LOAD_ORDER``. ``RowWriter`` writes snapshots, checks, events, updates
rows, grants and policy versions; ``bench.history_generator.Generator`` decides when.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import zlib
from dataclasses import dataclass, field
from typing import Any

from bench.history_workload import FIXTURES, MONTHS, SEED, PolicyPlan, SourcePlan, words

# ---------------------------------------------------------------------------------------------------------------
# The tables, their columns in row order, and the order they are loaded in.

COLUMNS: dict[str, tuple[str, ...]] = {
    "sources": words(
        "id name kind url service enabled etag last_modified last_checked_at last_success_at "
        "consecutive_failures failing created_at"
    ),
    "blobs": ("sha256", "size", "data"),
    "snapshots": (
        "id",
        "source_id",
        "fetched_at",
        "content_hash",
        "blob_sha256",
        "parser_version",
        "accepted",
        "title",
    ),
    "policies": ("id", "source_id", "name", "first_seen_at", "removed_at"),
    "policy_versions": words(
        "id policy_id snapshot_id valid_from valid_to status defects doc_hash document raw_json anchor "
        "document_link description action_count"
    ),
    "policy_actions": ("id", "policy_id", "action", "action_lc", "service", "effect", "granted_from", "granted_to"),
    "update_rows": words(
        "id source_id row_key change description date date_raw actions policies first_seen_at baseline"
    ),
    "checks": (
        "id",
        "source_id",
        "started_at",
        "duration_ms",
        "http_status",
        "outcome",
        "bytes",
        "error",
        "snapshot_id",
    ),
    "events": ("id", "source_id", "snapshot_id", "kind", "policy", "payload", "detected_at", "dedupe_key"),
    "event_actions": ("id", "event_id", "action", "action_lc", "effect"),
}
JSON_COLUMNS = {
    "policy_versions": ("defects", "document"),
    "update_rows": ("actions", "policies"),
    "events": ("payload",),
}
LOAD_ORDER = tuple(COLUMNS)

# ---------------------------------------------------------------------------------------------------------------
# Writing rows: the state of each source and policy, and a row per table for each thing that happens.


@dataclass
class PolicyState:
    plan: PolicyPlan
    id: int
    grants: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    """(effect, action_lc) -> the open policy_actions row."""
    resources: list[str] = field(default_factory=lambda: ["*"])
    version: list[Any] | None = None
    row: list[Any] | None = None
    versions: int = 0
    remaining: list[str] = field(default_factory=list)
    """The pool, shuffled, less what was drawn: what the policy may be granted next."""


@dataclass
class SourceState:
    plan: SourcePlan
    id: int
    body: bytes
    live: list[PolicyState] = field(default_factory=list)
    pending: list[PolicyPlan] = field(default_factory=list)
    snapshots: int = 0
    row: list[Any] | None = None


_VARIANTS: dict[int, bytes] = {}


def zlib_variant(source: SourceState) -> bytes:
    """The page body of ``source``, compressed once per source (compressing every snapshot would take minutes)."""
    if source.id not in _VARIANTS:
        _VARIANTS[source.id] = zlib.compress(source.body, 6)
    return _VARIANTS[source.id]


def clear_variants() -> None:
    """Forget the compressed bodies, once the rows are generated."""
    _VARIANTS.clear()


class RowWriter:
    """The rows of every table, and the writing of each kind of row; ``Generator`` runs the timeline."""

    def __init__(self, rng: random.Random, plans: list[SourcePlan]) -> None:
        self.rng = rng
        self.plans = plans
        self.rows: dict[str, list[list[Any]]] = {t: [] for t in COLUMNS}
        self.base_body = (FIXTURES / "page-v3.html").read_text()

    def next_id(self, table: str) -> int:
        return len(self.rows[table]) + 1

    def add(self, table: str, row: list[Any]) -> list[Any]:
        self.rows[table].append(row)
        return row

    # -- rows --------------------------------------------------------------------------------------------------

    def snapshot(self, source: SourceState, t: dt.datetime, outcome: str) -> int:
        source.snapshots += 1
        digest = hashlib.sha256(f"{source.id}:{source.snapshots}".encode()).hexdigest()
        self.add("blobs", [digest, len(source.body) + 40 * source.snapshots, zlib_variant(source)])
        sid = self.next_id("snapshots")
        title = f"AWS managed policies for {source.plan.title}"
        self.add(
            "snapshots", [sid, source.id, t, hashlib.sha256(digest.encode()).hexdigest(), digest, "1", True, title]
        )
        ms = self.rng.randint(150, 1500)
        size = len(source.body) + self.rng.randint(0, 4000)
        self.add("checks", [self.next_id("checks"), source.id, t, ms, 200, outcome, size, None, sid])
        assert source.row is not None
        source.row[8] = source.row[9] = t
        return sid

    def unchanged_check(self, source: SourceState, t: dt.datetime) -> None:
        r = self.rng.random()
        if r < 0.8:
            row = [source.id, t, self.rng.randint(40, 250), 304, "not_modified", None, None, None]
        elif r < 0.985:
            row = [source.id, t, self.rng.randint(150, 900), 200, "unchanged", len(source.body), None, None]
        else:
            error = self.rng.choice(["timeout after 30s", "HTTP 503 Service Unavailable", "connection reset by peer"])
            row = [source.id, t, self.rng.randint(3000, 30000), None, "error", None, error, None]
        self.add("checks", [self.next_id("checks"), *row])
        assert source.row is not None
        source.row[8] = t
        if row[4] != "error":
            source.row[9] = t

    def event(
        self, source: SourceState, sid: int, t: dt.datetime, kind: str, policy: str | None, payload: dict[str, Any]
    ) -> None:
        eid = self.next_id("events")
        key = hashlib.sha256(f"{SEED}:{eid}".encode()).hexdigest()
        self.add("events", [eid, source.id, sid, kind, policy, payload, t, key])
        for effect, action in payload["grants"]:
            self.add("event_actions", [self.next_id("event_actions"), eid, action, action.lower(), effect])

    def update_row(
        self, source: SourceState, sid: int, t: dt.datetime, policy: str, change: str, actions: list[str]
    ) -> None:
        shown = sorted(actions)[:10]
        verb = "added" if "added" in change.lower() else "changed"
        description = (
            f"{source.plan.title} {verb} the following permissions to the {policy} managed policy: "
            + ", ".join(a.split(":", 1)[1] for a in shown)
        )
        date = t.date().isoformat()
        date_raw = f"{MONTHS[t.month - 1]} {t.day}, {t.year}"
        key = hashlib.md5(f"{source.id}:{t.isoformat()}:{policy}".encode()).hexdigest()
        row_change = f"{change} – AWS managed policy: {policy}"
        self.add(
            "update_rows",
            [
                self.next_id("update_rows"),
                source.id,
                key,
                row_change,
                description,
                date,
                date_raw,
                shown,
                [policy],
                t,
                False,
            ],
        )
        detail = {
            "key": key,
            "change": row_change,
            "description": description,
            "date": date,
            "date_raw": date_raw,
            "actions": shown,
            "policies": [policy],
            "anchor": "security-iam-awsmanpol-updates",
        }
        self.event(source, sid, t, "update_row_added", policy, {"grants": [], **detail})

    # -- policies ----------------------------------------------------------------------------------------------

    def grant(self, policy: PolicyState, effect: str, action: str, t: dt.datetime) -> bool:
        key = (effect, action.lower())
        if key in policy.grants:
            return False
        lc = key[1]
        service = lc.split(":", 1)[0] if ":" in lc else lc
        row = [self.next_id("policy_actions"), policy.id, action, lc, service, effect, t, None]
        policy.grants[key] = self.add("policy_actions", row)
        return True

    def revoke(self, policy: PolicyState, key: tuple[str, str], t: dt.datetime) -> tuple[str, str]:
        row = policy.grants.pop(key)
        row[7] = t
        policy.remaining.insert(self.rng.randrange(len(policy.remaining) + 1), row[2])
        return (row[5], row[2])

    def draw(self, policy: PolicyState, k: int, t: dt.datetime) -> list[tuple[str, str]]:
        """Grant up to ``k`` actions of the policy's pool that it does not grant yet."""
        added: list[tuple[str, str]] = []
        while len(added) < k and policy.remaining:
            action = policy.remaining.pop()
            if self.grant(policy, "Allow", action, t):
                added.append(("Allow", action))
        return added

    def new_version(self, source: SourceState, policy: PolicyState, sid: int, t: dt.datetime) -> None:
        if policy.version is not None:
            policy.version[4] = t
        by_effect: dict[str, list[str]] = {"Allow": [], "Deny": [], "NotAction": []}
        for row in policy.grants.values():
            by_effect[row[5]].append(row[2])
        statements: list[dict[str, Any]] = []
        if by_effect["Allow"]:
            allow = sorted(by_effect["Allow"], key=str.lower)
            statements.append({"Action": allow, "Effect": "Allow", "Resource": sorted(policy.resources)})
        if by_effect["Deny"]:
            statements.append({"Action": sorted(by_effect["Deny"], key=str.lower), "Effect": "Deny", "Resource": ["*"]})
        if by_effect["NotAction"]:
            not_actions = sorted(by_effect["NotAction"], key=str.lower)
            statements.append({"Effect": "Allow", "NotAction": not_actions, "Resource": ["*"]})
        document = {"Statement": statements, "Version": "2012-10-17"}
        policy.versions += 1
        name = policy.plan.name
        repaired = self.rng.random() < 0.01
        policy.version = self.add(
            "policy_versions",
            [
                self.next_id("policy_versions"),
                policy.id,
                sid,
                t,
                None,
                "repaired" if repaired else "ok",
                ["missing_comma"] if repaired else [],
                hashlib.sha256(f"{policy.id}:{policy.versions}".encode()).hexdigest(),
                document,
                None,
                f"security-iam-awsmanpol-{name}",
                None,
                f"{name} grants what {source.plan.title} needs. You can attach {name} to your IAM identities.",
                len(policy.grants),
            ],
        )

    def add_policy(self, source: SourceState, plan: PolicyPlan, sid: int, t: dt.datetime) -> PolicyState:
        policy = PolicyState(plan, self.next_id("policies"), remaining=list(dict.fromkeys(plan.pool)))
        self.rng.shuffle(policy.remaining)
        policy.row = self.add("policies", [policy.id, source.id, plan.name, t, None])
        for action in plan.wildcards:
            self.grant(policy, "Allow", action, t)
        for action in plan.not_actions:
            self.grant(policy, "NotAction", action, t)
        for action in plan.deny:
            self.grant(policy, "Deny", action, t)
        self.draw(policy, plan.initial, t)
        self.new_version(source, policy, sid, t)
        source.live.append(policy)
        return policy
