"""The poll benchmark's in-process service: a running service's pieces, one cycle at a time (bench.poll_bench)."""

from __future__ import annotations

import cProfile
import datetime as dt
import json
import logging
import os
import resource
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from apscheduler.schedulers.background import BackgroundScheduler

from watcher.checker import Checker
from watcher.config import DatabaseSettings, Settings
from watcher.db.engine import make_engine, session_factory
from watcher.db.migrate import upgrade
from watcher.fetch import Fetcher
from watcher.memory import limit_arenas
from watcher.observe import Metrics, configure_logging
from watcher.parse_pool import ParsePool
from watcher.service import Service
from watcher.store.quiet import BATCH as QUIET_BATCH

WORKERS = 10
"""Threads of a cycle (``ThreadPoolExecutor``), as many as ``[http] concurrency`` in the benchmark's config."""


@dataclass(frozen=True)
class Usage:
    wall: float
    cpu: float
    peak_mb: float | None = None
    workers_peak_mb: float | None = None
    """In-service cycles: the peak RSS of the largest parse worker of the cycle (none ran: ``None``)."""


class InService:
    """A running service's pieces in this process, over a fresh database per round; its clock jumps an hour a
    cycle, so that every source is due (the service skips those checked less than half an interval ago)."""

    def __init__(self, settings: Settings, database: Path) -> None:
        limit_arenas()  # as ``watcher run`` does first
        self.settings = settings.model_copy(update={"database": DatabaseSettings(url=f"sqlite:///{database}")})
        self.engine = make_engine(self.settings.database.url)
        upgrade(self.engine)
        sessions = session_factory(self.engine)
        self.fetcher = Fetcher(self.settings.http)
        self.offset = dt.timedelta(0)
        self.parsers = ParsePool(self.settings.service.parse_workers)  # as ``watcher run`` sets it up
        clock = lambda: dt.datetime.now(dt.UTC) + self.offset  # noqa: E731
        checker = Checker(
            self.settings, sessions, self.fetcher, clock=clock, parser=self.parsers.parse, batch_quiet=QUIET_BATCH
        )
        checker.sync_all(self.settings.enabled_sources())  # as ``watcher run`` does at start
        self.service = Service(self.settings, sessions, checker, Metrics(), BackgroundScheduler())
        self.service.quiesce.on_idle += [checker.flush, self.parsers.idle]

    def cycle(self, profiler: cProfile.Profile | None = None) -> tuple[Usage, str]:
        self.offset += dt.timedelta(hours=1)
        names = list(self.service.sources)
        _reset_peak()
        before, start = _cpu(), time.perf_counter()
        if profiler is not None:  # cProfile sees one thread only: run the cycle serially
            outcomes = profiler.runcall(lambda: [self.service.run_source(n) for n in names])
        else:
            with ThreadPoolExecutor(WORKERS) as pool:
                outcomes = list(pool.map(self.service.run_source, names))
        wall = time.perf_counter() - start
        workers = max(_workers_peak_mb(), default=None)
        self.parsers.close()  # the parse workers' CPU counts once they are reaped (RUSAGE_CHILDREN)
        cpu = _cpu() - before
        counts = Counter(o.outcome for o in outcomes)
        usage = Usage(wall, cpu, _status_mb(Path("/proc/self/status")), workers)
        return usage, ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))

    def close(self) -> None:
        self.parsers.close()
        self.fetcher.close()
        self.engine.dispose()


def _reset_peak() -> None:
    """Start this process's ``VmHWM`` again from its current RSS (Linux: ``5`` in ``/proc/self/clear_refs``)."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def _status_mb(status: Path) -> float:
    """A process's peak RSS (``VmHWM``) in MB; for this process, since ``_reset_peak``."""
    return int(status.read_text().split("VmHWM:")[1].split()[0]) / 1024


def _workers_peak_mb() -> list[float]:
    """The peak RSS of each parse worker of this process now running. Read from ``/proc``: ``ru_maxrss`` would count
    this process's memory in each, as Linux keeps a child's high-water mark from before its ``exec``."""
    peaks = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
            cmdline = (status.parent / "cmdline").read_bytes()
        except OSError:  # a process that ended meanwhile
            continue
        if f"\nPPid:\t{os.getpid()}\n" in text and b"spawn_main" in cmdline:
            peaks.append(_status_mb(status))
    return peaks


def _cpu() -> float:
    """User + system CPU of this process and of its children that ended (the parse workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@contextmanager
def quiet_logging() -> Iterator[IO[Any]]:
    """The service's own log configuration, its lines written (formatted) to /dev/null."""
    configure_logging("text")
    with open(os.devnull, "w") as sink:
        handler = logging.getLogger().handlers[0]
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(sink)
        yield sink


class ServiceProcess:
    """``InService`` in a child process (``python -m bench.poll_child``), driven one JSON line at a time.

    The parse workers a service spawns import their parent's main module: there, that is ``bench.poll_child``, which
    imports nothing at its top, as ``watcher run``'s script imports little, so their start-up costs what it costs in
    the service rather than the whole benchmark's imports.
    """

    def __init__(self, config: Path, database: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.poll_child", str(config), str(database)],
            cwd=Path(__file__).resolve().parent.parent,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def cycle(self) -> tuple[Usage, str]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("cycle\n")
        self.proc.stdin.flush()
        answer = json.loads(self.proc.stdout.readline())
        saw = answer.pop("saw")
        return Usage(**answer), saw

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=120)
