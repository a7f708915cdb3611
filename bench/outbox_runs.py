"""The outbox bench's runs: deliverers that time their phases (the library's own code, measured from outside),
a run over every queued row with one or several deliverer threads, its report, and the cost of one POST.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import requests
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from bench.outbox_receiver import Receiver
from bench.outbox_rows import CHANNEL, requeue_all
from watcher.db.models import Delivery
from watcher.notify import webhook
from watcher.notify.channels import WebhookChannel
from watcher.notify.model import Digest, SendResult
from watcher.notify.settings import ChannelSettings, WebhookSettings
from watcher.outbox import Deliverer, DeliveryOutcome

BATCH = 200
HMAC_KEY = "bench-hmac-key"

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
