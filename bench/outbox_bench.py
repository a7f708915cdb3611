"""Outbox throughput: 10,000 queued deliveries sent to a loopback webhook receiver, on SQLite and PostgreSQL.

For each backend the rows are bulk-inserted (SQLAlchemy Core, after ``watcher.db.migrate.upgrade``): sources,
snapshots, policies with an anchored version, 1 to 3 events per delivery and the deliveries with their
``delivery_events``. Then ``Deliverer.run_once(limit=200)`` runs in a loop until nothing is due, once with
one deliverer and once (the same rows put back to ``pending``) with 4 deliverer threads sharing the table,
each with its own lease owner. The receiver (a ThreadingHTTPServer on 127.0.0.1, in a child process so that
it does not compete with the deliverer for the GIL) answers 200 at once and counts requests and distinct
``X-Watcher-Delivery`` keys; each run must end with exactly one request per row.

Prints rows/s, seconds, the receiver's count, SQL statements per row and where the time goes (claim, digest
building, the HTTP send, marking the row). It never asserts timings.

Run with ``.venv/bin/python -m bench.outbox_bench``. Options: ``--no-postgres``, ``--rows N``, ``--profile``
(cProfile of a single-deliverer run per backend instead of the timed runs), ``--add-snapshot-index``.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import hashlib
import json
import multiprocessing
import os
import pstats
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any, cast

import psycopg
import requests
from sqlalchemy import Engine, event, func, insert, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from watcher.db.engine import make_engine, session_factory
from watcher.db.migrate import upgrade
from watcher.db.models import Base, Delivery
from watcher.notify import webhook
from watcher.notify.channels import WebhookChannel
from watcher.notify.model import Digest, SendResult
from watcher.notify.settings import ChannelSettings, WebhookSettings
from watcher.outbox import Deliverer, DeliveryOutcome, digest_key

PG_HOST = os.environ.get("WATCHER_TEST_PG_HOST", "127.0.0.1")
PG_ADMIN_DSN = f"host={PG_HOST} port=5432 user=postgres dbname=postgres connect_timeout=3"
SEED = 20261130
ROWS = 10_000
BATCH = 200
THREADS = 4
SOURCES = 50
POLICIES_PER_SOURCE = 10
CHANNEL = "bench-hook"
HMAC_KEY = "bench-hmac-key"
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

# ---------------------------------------------------------------------------------------------------------------
# The receiver: a child process answering 200 to every POST, counting them.


class _CountingServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _CountingHandler)
        self.lock = threading.Lock()
        self.requests = 0
        self.keys: set[str] = set()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients closing their connection are expected: keep the output clean."""


class _CountingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        server = cast(_CountingServer, self.server)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/reset":
            with server.lock:
                server.requests, server.keys = 0, set()
        else:
            with server.lock:
                server.requests += 1
                server.keys.add(self.headers.get(webhook.DELIVERY_HEADER) or "")
        self._answer(b"ok")

    def do_GET(self) -> None:
        server = cast(_CountingServer, self.server)
        with server.lock:
            counts = {"requests": server.requests, "keys": len(server.keys)}
        self._answer(json.dumps(counts).encode())

    def _answer(self, body: bytes) -> None:
        self.send_response_only(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


def _serve(ports: Queue[int]) -> None:
    server = _CountingServer()
    ports.put(server.server_address[1])
    server.serve_forever(poll_interval=0.1)


@dataclass(frozen=True)
class Receiver:
    base: str

    @property
    def hook(self) -> str:
        return f"{self.base}/hook/{CHANNEL}"

    def counts(self) -> tuple[int, int]:
        """Requests received and distinct delivery keys among them."""
        data = requests.get(f"{self.base}/count", timeout=10).json()
        return int(data["requests"]), int(data["keys"])

    def reset(self) -> None:
        requests.post(f"{self.base}/reset", timeout=10)


@contextmanager
def receiver() -> Iterator[Receiver]:
    context = multiprocessing.get_context("spawn")
    ports: Queue[int] = context.Queue()
    process = context.Process(target=_serve, args=(ports,), name="outbox-bench-receiver", daemon=True)
    process.start()
    try:
        yield Receiver(f"http://127.0.0.1:{ports.get(timeout=30)}")
    finally:
        process.terminate()
        process.join(timeout=10)


# ---------------------------------------------------------------------------------------------------------------
# The queued rows


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


# ---------------------------------------------------------------------------------------------------------------
# Deliverers that time their phases (the library's own code, measured from outside)


@dataclass
class Phases:
    claim: float = 0.0
    deliver: float = 0.0
    """All of ``_deliver``: digest building, the send and the mark."""
    send: float = 0.0
    mark: float = 0.0
    claims: list[float] = field(default_factory=list)
    delivered: int = 0

    def add(self, other: Phases) -> None:
        self.claim += other.claim
        self.deliver += other.deliver
        self.send += other.send
        self.mark += other.mark
        self.claims += other.claims
        self.delivered += other.delivered


@dataclass(frozen=True)
class TimedSender:
    inner: WebhookChannel
    phases: Phases

    @property
    def settings(self) -> ChannelSettings:
        return self.inner.settings

    def deliver(self, digest: Digest) -> SendResult:
        start = time.perf_counter()
        try:
            return self.inner.deliver(digest)
        finally:
            self.phases.send += time.perf_counter() - start


class TimedDeliverer(Deliverer):
    def __init__(self, sessions: sessionmaker[Session], url: str, owner: str) -> None:
        self.phases = Phases()
        channel = WebhookChannel(WebhookSettings(type="webhook", name=CHANNEL), url, HMAC_KEY)
        super().__init__(
            sessions, {CHANNEL: TimedSender(channel, self.phases)}, owner=owner, clock=lambda: dt.datetime.now(dt.UTC)
        )

    def claim(self, limit: int = 50) -> list[int]:
        start = time.perf_counter()
        try:
            return super().claim(limit)
        finally:
            elapsed = time.perf_counter() - start
            self.phases.claim += elapsed
            self.phases.claims.append(elapsed)

    def _deliver(self, delivery_id: int) -> DeliveryOutcome:
        start = time.perf_counter()
        try:
            outcome = super()._deliver(delivery_id)
        finally:
            self.phases.deliver += time.perf_counter() - start
        if outcome.status == "sent":
            self.phases.delivered += 1
        return outcome

    def _mark(self, delivery_id: int, result: SendResult) -> DeliveryOutcome:
        start = time.perf_counter()
        try:
            return super()._mark(delivery_id, result)
        finally:
            self.phases.mark += time.perf_counter() - start


# ---------------------------------------------------------------------------------------------------------------
# Runs


@dataclass
class Run:
    backend: str
    mode: str
    rows: int
    seconds: float
    received: int
    keys: int
    sent: int
    statements: int
    phases: Phases
    per_thread: list[int]


class StatementCounter:
    def __init__(self, engine: Engine) -> None:
        self.count = 0
        self.lock = threading.Lock()
        event.listen(engine, "before_cursor_execute", self._on_execute)

    def _on_execute(self, *_args: Any) -> None:
        with self.lock:
            self.count += 1


def drain(deliverer: Deliverer) -> None:
    while deliverer.run_once(limit=BATCH):
        pass


def deliver_all(
    backend: str, sessions: sessionmaker[Session], hook: Receiver, counter: StatementCounter, rows: int, threads: int
) -> Run:
    hook.reset()
    requeue_all(sessions, dt.datetime.now(dt.UTC))
    run_id = uuid.uuid4().hex[:8]
    deliverers = [TimedDeliverer(sessions, hook.hook, owner=f"bench-{run_id}-{n}") for n in range(threads)]
    errors: list[BaseException] = []

    def work(deliverer: Deliverer) -> None:
        try:
            drain(deliverer)
        except BaseException as exc:  # reported below, the run goes on
            errors.append(exc)

    statements = counter.count
    start = time.perf_counter()
    if threads == 1:
        work(deliverers[0])
    else:
        workers = [threading.Thread(target=work, args=(d,), name=f"deliverer-{n}") for n, d in enumerate(deliverers)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    seconds = time.perf_counter() - start
    statements = counter.count - statements
    for exc in errors:
        print(f"!!! a deliverer thread failed: {type(exc).__name__}: {exc}")
    received, keys = hook.counts()
    with sessions() as session:
        sent = session.scalar(select(func.count()).select_from(Delivery).where(Delivery.status == "sent")) or 0
    phases = Phases()
    for d in deliverers:
        phases.add(d.phases)
    mode = "1 deliverer" if threads == 1 else f"{threads} threads"
    per_thread = [d.phases.delivered for d in deliverers]
    return Run(backend, mode, rows, seconds, received, keys, sent, statements, phases, per_thread)


def report(run: Run) -> None:
    rate = run.rows / run.seconds
    print(
        f"{run.backend:<11}{run.mode:<13}{run.rows:>7}{run.seconds:>9.1f}{rate:>9.0f}{run.received:>10}"
        f"{run.statements / run.rows:>8.1f}"
    )
    p = run.phases
    other = p.deliver - p.send - p.mark
    ms = 1000 / run.rows
    claims = p.claims or [0.0]
    print(
        f"{'':<24}per row, thread-ms: claim {p.claim * ms:.2f} (first batch {claims[0] * 1000:.0f} ms, last "
        f"{claims[-1] * 1000:.0f} ms), digest {other * ms:.2f}, send {p.send * ms:.2f}, mark {p.mark * ms:.2f}"
    )
    if len(run.per_thread) > 1:
        print(f"{'':<24}rows per thread: {', '.join(str(n) for n in run.per_thread)}")
    if run.received != run.rows or run.keys != run.rows or run.sent != run.rows:
        print(
            f"!!! {run.backend} {run.mode}: the receiver got {run.received} requests ({run.keys} distinct keys) and "
            f"{run.sent} rows are sent, for {run.rows} queued rows: EXPECTED EXACTLY ONE EACH !!!"
        )


def post_cost(hook: Receiver, n: int = 300) -> tuple[float, float]:
    """Milliseconds per POST: ``webhook.send`` (a new requests.Session, so a new connection, per call) against
    one keep-alive ``requests.Session`` reused for every POST."""
    body = b'{"schema":"policy-watcher/webhook/v1","events":[]}'
    start = time.perf_counter()
    for i in range(n):
        webhook.send(hook.hook, body, key=f"cost-a-{i}", secret=HMAC_KEY, timeout=10)
    fresh = (time.perf_counter() - start) * 1000 / n
    start = time.perf_counter()
    with requests.Session() as session:
        for i in range(n):
            headers = {webhook.DELIVERY_HEADER: f"cost-b-{i}", webhook.SIGNATURE_HEADER: webhook.sign(body, HMAC_KEY)}
            session.post(hook.hook, data=body, headers=headers, timeout=10).close()
    reused = (time.perf_counter() - start) * 1000 / n
    return fresh, reused


# ---------------------------------------------------------------------------------------------------------------
# Backends


@dataclass
class Backend:
    name: str
    engine: Engine
    close: Callable[[], None]


def sqlite_backend() -> Backend:
    directory = Path(tempfile.mkdtemp(prefix="watcher-outbox-bench-"))
    engine = make_engine(f"sqlite:///{directory / 'outbox.db'}")

    def close() -> None:
        engine.dispose()
        shutil.rmtree(directory, ignore_errors=True)

    return Backend("sqlite", engine, close)


def postgres_backend() -> Backend | None:
    try:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute("select 1")
    except psycopg.Error as exc:
        print(f"PostgreSQL not reachable at {PG_HOST}:5432 ({str(exc).strip().splitlines()[0]}): skipped")
        return None
    name = f"watcher_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(f"postgresql+psycopg://postgres@{PG_HOST}:5432/{name}")

    def close() -> None:
        engine.dispose()
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return Backend("postgresql", engine, close)


SNAPSHOT_INDEX = "CREATE INDEX ix_bench_events_snapshot_id ON events (snapshot_id)"
"""The index ``digest._rows_of_snapshot`` lacks (``--add-snapshot-index``: the effect of the recommended fix)."""


def bench_backend(backend: Backend, hook: Receiver, rows: int, profile: bool, snapshot_index: bool) -> list[Run]:
    upgrade(backend.engine)
    if snapshot_index:
        with backend.engine.begin() as conn:
            conn.execute(text(SNAPSHOT_INDEX))
    data = generate(rows, dt.datetime.now(dt.UTC))
    seconds = load(backend.engine, data, backend.name == "postgresql")
    events = len(data["events"])
    print(f"{backend.name}: loaded {rows} deliveries carrying {events} events in {seconds:.1f} s")
    sessions = session_factory(backend.engine)
    counter = StatementCounter(backend.engine)
    if profile:
        profiler = cProfile.Profile()
        profiler.runcall(deliver_all, backend.name, sessions, hook, counter, rows, 1)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        return []
    return [deliver_all(backend.name, sessions, hook, counter, rows, threads) for threads in (1, THREADS)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only.")
    parser.add_argument("--rows", type=int, default=ROWS, help=f"Queued deliveries (default {ROWS}).")
    parser.add_argument("--profile", action="store_true", help="cProfile one single-deliverer run per backend instead.")
    parser.add_argument(
        "--add-snapshot-index",
        action="store_true",
        help="Add an index on events.snapshot_id to the bench databases (not in the schema yet): the fix's effect.",
    )
    args = parser.parse_args()
    print(f"outbox bench: {args.rows} deliveries, run_once(limit={BATCH}); load average {os.getloadavg()[0]:.2f}")
    if args.add_snapshot_index:
        print(f"with {SNAPSHOT_INDEX} (not part of the watcher's schema)")
    with receiver() as hook:
        fresh, reused = post_cost(hook)
        print(f"one POST to the loopback receiver: {fresh:.2f} ms via webhook.send (new connection each), ", end="")
        print(f"{reused:.2f} ms on one keep-alive requests.Session")
        runs: list[Run] = []
        makers: list[Callable[[], Backend | None]] = [sqlite_backend]
        if not args.no_postgres:
            makers.append(postgres_backend)
        for make in makers:
            backend = make()
            if backend is None:
                continue
            try:
                runs += bench_backend(backend, hook, args.rows, args.profile, args.add_snapshot_index)
            finally:
                backend.close()
    if runs:
        print()
        print(f"{'backend':<11}{'mode':<13}{'rows':>7}{'seconds':>9}{'rows/s':>9}{'received':>10}{'SQL/row':>8}")
        for run in runs:
            report(run)
        print(f"(load average at the end: {os.getloadavg()[0]:.2f})")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
