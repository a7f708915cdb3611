"""The outbox bench's queued rows: seeded sources, snapshots, policies, events and deliveries, bulk-inserted."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import time
import zlib
from typing import Any

from sqlalchemy import Engine, insert, text, update
from sqlalchemy.orm import Session, sessionmaker

from watcher.db.models import Base, Delivery
from watcher.outbox import digest_key

SEED = 20261130
SOURCES = 50
POLICIES_PER_SOURCE = 10
CHANNEL = "bench-hook"
LOAD_ORDER = (
    "sources",
    "blobs",
    "snapshots",
    "policies",
    "policy_versions",
    "events",
    "deliveries",
    "delivery_events",
)


def generate(rows: int, now: dt.datetime) -> dict[str, list[dict[str, Any]]]:
    """Seeded rows for LOAD_ORDER: one snapshot (one check) per delivery, 1 to 3 events each."""
    rng = random.Random(SEED)
    data: dict[str, list[dict[str, Any]]] = {name: [] for name in LOAD_ORDER}
    body = b"<html>bench</html>"
    blob = hashlib.sha256(body).hexdigest()
    data["blobs"].append({"sha256": blob, "size": len(body), "data": zlib.compress(body)})
    start = now - dt.timedelta(days=30)
    for s in range(1, SOURCES + 1):
        data["sources"].append(
            {
                "id": s,
                "name": f"service{s}-policies",
                "kind": "page",
                "url": f"https://docs.example.test/service{s}/latest/ug/security-iam-awsmanpol.html",
                "service": f"Amazon Service {s}",
                "enabled": True,
                "consecutive_failures": 0,
                "failing": False,
                "guide": f"https://docs.example.test/service{s}/latest/ug/",
                "created_at": start,
            }
        )
    for i in range(1, rows + 1):
        data["snapshots"].append(
            {
                "id": i,
                "source_id": 1 + i % SOURCES,
                "fetched_at": start + dt.timedelta(seconds=i),
                "content_hash": hashlib.sha256(str(i).encode()).hexdigest(),
                "blob_sha256": blob,
                "parser_version": "1",
                "accepted": True,
                "title": "",
            }
        )
    policy_id = 0
    for s in range(1, SOURCES + 1):
        for p in range(POLICIES_PER_SOURCE):
            policy_id += 1
            name = f"AmazonService{s}Policy{p}"
            data["policies"].append({"id": policy_id, "source_id": s, "name": name, "first_seen_at": start})
            data["policy_versions"].append(
                {
                    "id": policy_id,
                    "policy_id": policy_id,
                    "snapshot_id": s,  # any snapshot: only the anchor is read back
                    "valid_from": start,
                    "status": "ok",
                    "defects": [],
                    "doc_hash": hashlib.sha256(name.encode()).hexdigest(),
                    "anchor": f"security-iam-awsmanpol-{name}",
                    "description": "",
                    "action_count": 12,
                }
            )
    event_id = 0
    for i in range(1, rows + 1):
        source = 1 + i % SOURCES
        policy = f"AmazonService{source}Policy{rng.randrange(POLICIES_PER_SOURCE)}"
        detected = start + dt.timedelta(seconds=i)
        actions = [f"service{source}:Get{rng.choice('ABCDEFGH')}Thing{n}" for n in range(rng.randint(1, 5))]
        kinds = ["actions_added", "update_row_added", "policy_added"][: rng.randint(1, 3)]
        ids = []
        for kind in kinds:
            event_id += 1
            ids.append(event_id)
            payload: dict[str, Any] = {"grants": [["Allow", a] for a in actions] if kind != "update_row_added" else []}
            if kind == "update_row_added":
                payload |= {
                    "key": f"row{i}",
                    "change": f"{policy} – Update to an existing policy",
                    "description": f"Added {', '.join(actions)}.",
                    "date": "2026-10-31",
                    "date_raw": "October 31, 2026",
                    "policies": [policy],
                    "actions": actions,
                }
            data["events"].append(
                {
                    "id": event_id,
                    "source_id": source,
                    "snapshot_id": i,
                    "kind": kind,
                    "policy": None if kind == "update_row_added" else policy,
                    "payload": payload,
                    "detected_at": detected,
                    "dedupe_key": hashlib.sha256(f"{i}/{kind}".encode()).hexdigest(),
                }
            )
        data["deliveries"].append(
            {
                "id": i,
                "channel": CHANNEL,
                "digest_key": digest_key(CHANNEL, ids),
                "source_id": source,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now - dt.timedelta(minutes=1),
                "created_at": now - dt.timedelta(minutes=1),
            }
        )
        data["delivery_events"] += [{"delivery_id": i, "event_id": e} for e in ids]
    return data


def load(engine: Engine, data: dict[str, list[dict[str, Any]]], postgres: bool) -> float:
    """Core executemany in one transaction; on PostgreSQL the id sequences are moved on, then ANALYZE."""
    start = time.perf_counter()
    tables = Base.metadata.tables
    with engine.begin() as conn:
        for name in LOAD_ORDER:
            rows = data[name]
            for i in range(0, len(rows), 5000):
                conn.execute(insert(tables[name]), rows[i : i + 5000])
        if postgres:
            for name in LOAD_ORDER:
                if "id" in tables[name].c:
                    sequence = f"pg_get_serial_sequence('{name}', 'id')"
                    conn.execute(text(f"SELECT setval({sequence}, (SELECT max(id) FROM {name}))"))
    if postgres:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    return time.perf_counter() - start


def requeue_all(sessions: sessionmaker[Session], now: dt.datetime) -> None:
    """Every row back to ``pending``, due now, as freshly queued."""
    with sessions.begin() as session:
        session.execute(
            update(Delivery).values(
                status="pending", attempts=0, sent_at=None, last_error=None, lease_owner=None, lease_until=None,
                next_attempt_at=now - dt.timedelta(minutes=1),
            )
        )  # fmt: skip
