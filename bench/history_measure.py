"""The history bench's measurements: sizes, ingest, unchanged checks, query latency and the CLI, printed.

``measure()`` prints one backend's section of the report; the inputs of the queries are drawn from the
generated rows (``Inputs.draw``) before those are freed.
"""

from __future__ import annotations

import datetime as dt
import gc
import math
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from bench.history_load import Backend
from bench.history_rows import COLUMNS
from bench.history_workload import END, FIXTURES, SEED
from watcher import queries
from watcher.db.engine import session_factory
from watcher.model import ActionSet, Page
from watcher.parse import parse
from watcher.pipeline import ingest

BIN = Path(sys.executable).parent
INGEST_RUNS = 7
UNCHANGED_CHECKS = 200
QUERY_RUNS = 50
TARGET_MS = 50.0
TARGET_CHECK_BYTES = 200

# ---------------------------------------------------------------------------------------------------------------
# Measuring


@dataclass(frozen=True)
class Inputs:
    """Query inputs drawn from the generated data (then the generated rows can be freed)."""

    actions: list[str]
    """Random policy_actions rows' actions (wildcards excluded): common actions come up more often."""
    policies: list[str]
    """Random policy names, uniformly."""
    common_action: str
    """The action granted by the most intervals."""
    largest_policy: str

    @staticmethod
    def draw(rows: dict[str, list[list[Any]]]) -> Inputs:
        rng = random.Random(SEED + 1)
        grants = rows["policy_actions"]
        actions = [a for a in (rng.choice(grants)[2] for _ in range(QUERY_RUNS * 3)) if "*" not in a][:QUERY_RUNS]
        policies = [row[2] for row in rows["policies"]]
        counts: dict[str, int] = {}
        for row in grants:
            counts[row[2]] = counts.get(row[2], 0) + 1
        versions: dict[int, int] = {}
        for row in rows["policy_versions"]:
            versions[row[1]] = versions.get(row[1], 0) + row[13]
        largest = max(versions, key=lambda pid: versions[pid])
        return Inputs(
            actions=actions,
            policies=rng.choices(policies, k=QUERY_RUNS),
            common_action=max((a for a in counts if "*" not in a), key=lambda a: counts[a]),
            largest_policy=rows["policies"][largest - 1][2],
        )


def mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p * len(ordered)) - 1))]


def print_sizes(backend: Backend) -> None:
    sizes = backend.table_sizes()
    print(f"  database size: {mb(backend.size())}")
    print(f"  {'table':<18}{'rows':>12}{'size (incl. indexes)':>24}")
    counts: dict[str, int] = {}
    with backend.engine.connect() as conn:
        for name in COLUMNS:
            counts[name] = int(conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one())
            size = f"{mb(sizes[name])}" if name in sizes else "n/a"
            print(f"  {name:<18}{counts[name]:>12,}{size:>24}")
    print(f"  policy_actions + event_actions: {counts['policy_actions'] + counts['event_actions']:,} rows")


def time_ingest(sessions: sessionmaker[Session], token: str) -> tuple[list[float], list[float], str]:
    """Seconds of the page-v1 baseline and of the page-v2 change, each on a fresh source; the last source."""
    v1 = (FIXTURES / "page-v1.html").read_bytes()
    v2 = (FIXTURES / "page-v2.html").read_bytes()
    first: list[float] = []
    second: list[float] = []
    name = ""
    for run in range(INGEST_RUNS):
        name = f"bench-ingest-{token}-{run}"
        now = END + dt.timedelta(days=1 + run)
        started = time.perf_counter()
        ingest(sessions, name, v1, url="https://docs.example.test/page-v1.html", now=now)
        first.append(time.perf_counter() - started)
        later = now + dt.timedelta(hours=1)
        started = time.perf_counter()
        result = ingest(sessions, name, v2, url="https://docs.example.test/page-v2.html", now=later)
        second.append(time.perf_counter() - started)
        assert result.outcome == "changed", result
    return first, second, name


LARGE_ACTIONS = 3000
"""Actions granted by each policy of the large-page ingest (ReadOnlyAccess-sized)."""


def _large(page: Page, version: int) -> Page:
    """``page`` with each policy granting ``LARGE_ACTIONS`` actions, one of which changes with ``version``."""
    actions = sorted([f"svc{i % 50}:Action{i}" for i in range(LARGE_ACTIONS - 1)] + [f"zz:Changed{version}"])
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
    policies = tuple(
        replace(p, document=document, actions=ActionSet(allow=tuple(actions), deny=(), not_actions=()))
        for p in page.policies
    )
    return replace(page, policies=policies, content_hash=f"large-{version}")


def time_large_ingest(sessions: sessionmaker[Session], token: str) -> tuple[int, list[float]]:
    """Seconds of each change of a page whose policies grant ``LARGE_ACTIONS`` actions (one added, one removed)."""
    base = parse((FIXTURES / "page-v2.html").read_bytes(), "https://docs.example.test/large.html")
    assert isinstance(base, Page)
    name, now = f"bench-large-{token}", END + dt.timedelta(days=400)
    ingest(sessions, name, b"large-0", url="https://docs.example.test/large.html", now=now, parsed=_large(base, 0))
    seconds: list[float] = []
    for version in range(1, INGEST_RUNS + 1):
        body = f"large-{version}".encode()
        started = time.perf_counter()
        result = ingest(
            sessions, name, body, url="https://docs.example.test/large.html",
            now=now + dt.timedelta(hours=version), parsed=_large(base, version),
        )  # fmt: skip
        seconds.append(time.perf_counter() - started)
        assert result.outcome == "changed", result
    return len(base.policies), seconds


def unchanged_check_bytes(backend: Backend, sessions: sessionmaker[Session], source: str) -> tuple[float, float]:
    """(bytes per unchanged check, seconds per unchanged check) over UNCHANGED_CHECKS ingests of the same body."""
    body = (FIXTURES / "page-v2.html").read_bytes()
    before = backend.checks_size()
    started = time.perf_counter()
    for n in range(UNCHANGED_CHECKS):
        now = END + dt.timedelta(days=30, hours=n)
        result = ingest(sessions, source, body, url="https://docs.example.test/page-v2.html", now=now)
        assert result.outcome == "unchanged", result
    elapsed = time.perf_counter() - started
    after = backend.checks_size()
    return (after - before) / UNCHANGED_CHECKS, elapsed / UNCHANGED_CHECKS


Query = Callable[[Session, Any], list[dict[str, Any]]]


@dataclass
class Latency:
    times: list[float] = field(default_factory=list)
    """Seconds per call."""
    rows: list[int] = field(default_factory=list)
    gc_pauses: list[float] = field(default_factory=list)
    """Seconds of each full (generation 2) garbage collection that ran during the calls."""

    def line(self, label: str, target: str = "") -> str:
        ms = [t * 1000 for t in self.times]
        gc_ms = f"{len(self.gc_pauses)} / {sum(self.gc_pauses) * 1000:.0f} ms"
        return (
            f"  {label:<40}{statistics.median(ms):>8.1f}ms{percentile(ms, 0.95):>8.1f}ms{max(ms):>8.1f}ms"
            f"{statistics.median(self.rows):>8.0f}{gc_ms:>16}{target}"
        )


def latency(sessions: sessionmaker[Session], query: Query, inputs: Sequence[Any]) -> Latency:
    """Each call in a fresh session (nothing cached in an identity map), timed with the full GCs it triggers."""
    out = Latency()
    started_gc = 0.0

    def on_gc(phase: str, info: dict[str, int]) -> None:
        nonlocal started_gc
        if info["generation"] == 2:
            if phase == "start":
                started_gc = time.perf_counter()
            else:
                out.gc_pauses.append(time.perf_counter() - started_gc)

    gc.callbacks.append(on_gc)
    try:
        for value in inputs:
            started = time.perf_counter()
            with sessions() as session:
                out.rows.append(len(query(session, value)))
            out.times.append(time.perf_counter() - started)
    finally:
        gc.callbacks.remove(on_gc)
    return out


def cli_seconds(args: list[str], url: str) -> tuple[float, str]:
    """Wall time of one ``watcher ...`` process (falling back to the click command if it is not wired in yet)."""
    command = [str(BIN / "watcher"), *args, "--database-url", url]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode == 0:
        return elapsed, ""
    if b"No such command" not in done.stderr:
        return elapsed, f"exit {done.returncode}: {done.stderr.decode(errors='replace').strip()[-200:]}"
    code = f"import sys; from watcher.cli_history import {args[0]} as c; c(sys.argv[1:], prog_name='watcher')"
    command = [sys.executable, "-c", code, *args[1:], "--database-url", url]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    note = "(via python -c: `watcher` has no such command yet)"
    return elapsed, note if done.returncode == 0 else f"exit {done.returncode} {note}"


def measure(backend: Backend, inputs: Inputs) -> None:
    print(f"\n{backend.name} ({backend.load_note})")
    sessions = session_factory(backend.engine)
    print_sizes(backend)
    first, second, source = time_ingest(sessions, uuid.uuid4().hex[:8])
    print(
        f"  ingest page-v2 after page-v1 (changed, real pipeline): median {statistics.median(second) * 1000:.1f} ms"
        f" (min {min(second) * 1000:.1f}, max {max(second) * 1000:.1f}; {INGEST_RUNS} fresh sources);"
        f" the page-v1 baseline: median {statistics.median(first) * 1000:.1f} ms"
    )
    policies, large = time_large_ingest(sessions, uuid.uuid4().hex[:8])
    print(
        f"  ingest a change of a page whose {policies} policies grant {LARGE_ACTIONS:,} actions each (one added, one"
        f" removed): median {statistics.median(large) * 1000:.1f} ms (max {max(large) * 1000:.1f})"
    )
    per_check, seconds = unchanged_check_bytes(backend, sessions, source)
    what = "file size after checkpoint" if backend.name == "SQLite" else "pg_total_relation_size('checks')"
    verdict = "ok" if per_check < TARGET_CHECK_BYTES else "OVER TARGET"
    print(
        f"  unchanged check: {per_check:.0f} bytes each, ±{backend.page_bytes / UNCHANGED_CHECKS:.0f} ({what} over"
        f" {UNCHANGED_CHECKS} checks; target < {TARGET_CHECK_BYTES}: {verdict}); {seconds * 1000:.1f} ms each,"
        " parse included"
    )
    since = END - dt.timedelta(days=30)
    cases: list[tuple[str, Query, Sequence[Any]]] = [
        ("when(ACTION)", lambda s, a: queries.when(s, a), inputs.actions),
        (f"changes(since={since.date()})", lambda s, d: queries.changes(s, since=d), [since] * QUERY_RUNS),
        ("history(POLICY)", lambda s, p: queries.history(s, p), inputs.policies),
    ]
    header = f"{'median':>10}{'p95':>10}{'max':>10}{'rows':>8}{'full GCs':>16}"
    print(f"  {'query (' + str(QUERY_RUNS) + ' runs, fresh session each)':<40}{header}")
    for label, query, values in cases:
        result = latency(sessions, query, values)
        p95 = percentile(result.times, 0.95) * 1000
        verdict = "" if backend.name != "SQLite" else "  ok" if p95 < TARGET_MS else f"  OVER {TARGET_MS:.0f} ms TARGET"
        print(result.line(label, verdict))
    year = END - dt.timedelta(days=365)
    worst: list[tuple[str, Query, Any]] = [
        (f"when({inputs.common_action})", lambda s, a: queries.when(s, a), inputs.common_action),
        (f"history({inputs.largest_policy})", lambda s, p: queries.history(s, p), inputs.largest_policy),
        (f"changes(since={year.date()})", lambda s, d: queries.changes(s, since=d), year),
    ]
    print("  worst cases (5 runs):")
    for label, query, value in worst:
        print(latency(sessions, query, [value] * 5).line(label))
    print("  CLI, one process each (start-up included):")
    cli: list[tuple[str, list[str]]] = [
        ("watcher when " + inputs.actions[0], ["when", inputs.actions[0]]),
        (f"watcher changes --since {since.date()}", ["changes", "--since", since.date().isoformat()]),
        ("watcher history " + inputs.policies[0], ["history", inputs.policies[0]]),
    ]
    started = time.perf_counter()
    subprocess.run([str(BIN / "watcher"), "--version"], capture_output=True, check=False)
    print(f"  {'watcher --version (start-up only)':<60}{(time.perf_counter() - started) * 1000:>6.0f} ms")
    for label, args in cli:
        elapsed, note = cli_seconds(args, backend.url)
        print(f"  {label:<60}{elapsed * 1000:>6.0f} ms {note}")
