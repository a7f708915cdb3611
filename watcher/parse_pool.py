"""Parse fetched bodies in worker processes, started when a body needs parsing and stopped when the work is done.

Parsing (bs4 with lxml) is most of the CPU of a first check and holds the GIL: in worker processes it uses every
core while the service's threads fetch and write, and the service process itself never loads bs4 and lxml nor
keeps the memory a few hundred parse trees leave behind. A cycle of 304s starts no worker at all.

``ParsePool(workers)``: ``parse(body, url)`` answers like ``watcher.parse.parse`` (which never raises). The workers
are spawned on demand: one with the first body, another (up to ``workers``) only once a burst has sent
``grow_after`` bodies and every worker is busy, since starting one costs as much CPU as parsing about 40 pages.
``idle()`` (the service calls it when its last check in flight ends) stops them after ``linger`` seconds without
work. With ``workers = 0``, or when a worker dies or a result cannot come back, the body is parsed in this process
instead, and the failure is logged once per pool.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from watcher.model import Parsed

log = logging.getLogger("watcher.parse_pool")

LINGER = 5.0
"""Seconds the workers stay after the last check in flight ended (a burst of checks keeps them)."""
GROW_AFTER = 16
"""Bodies a burst sends to the first worker before a second may start: a few changed pages need only one."""


def auto_workers() -> int:
    """Two workers on a machine with several cores; none (parse in the service process) on a single core."""
    return 2 if (os.cpu_count() or 1) > 1 else 0


def _worker_started() -> None:
    """Ctrl-C and a SIGTERM sent to the whole process group are for the service, which finishes its checks and
    then stops the workers: a worker must not die under a check in flight."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def parse_here(body: bytes, url: str | None) -> Parsed:
    from watcher.parse import parse  # bs4 and lxml load with the first body parsed in this process

    return parse(body, url)


class ParsePool:
    def __init__(
        self,
        workers: int,
        *,
        linger: float = LINGER,
        grow_after: int = GROW_AFTER,
        target: Callable[[bytes, str | None], Parsed] = parse_here,
    ) -> None:
        self.workers = workers
        self.linger = linger
        self.grow_after = grow_after
        self._target = target
        """What a worker runs (a module-level function: spawned workers import it by name)."""
        self.stopped = threading.Event()
        """Set each time the workers are stopped."""
        self._lock = threading.Lock()
        self._pending: dict[ProcessPoolExecutor, int] = {}
        """One single-process executor per worker, with the bodies it is parsing now."""
        self._sent = 0
        """Bodies sent since the workers started."""
        self._timer: threading.Timer | None = None
        self._warned = False
        self.started = 0
        """How many times workers were started after none ran (a test and the benchmark read it)."""

    def parse(self, body: bytes, url: str | None) -> Parsed:
        if self.workers < 1:
            return parse_here(body, url)
        try:
            executor = self._take()
        except Exception as exc:  # no process can be started here (no /dev/shm, a process limit...)
            log.warning("parse workers cannot start (%s: %s): parsing in this process", type(exc).__name__, exc)
            self.workers = 0
            return parse_here(body, url)
        try:
            return executor.submit(self._target, body, url).result()
        except Exception as exc:  # a worker died (BrokenProcessPool), or the result could not be pickled
            self._discard(executor, exc)
            return parse_here(body, url)
        finally:
            with self._lock:
                if executor in self._pending:
                    self._pending[executor] -= 1

    @property
    def running_workers(self) -> int:
        with self._lock:
            return len(self._pending)

    def _take(self) -> ProcessPoolExecutor:
        """The least busy worker, started (or another one added) when needed; counted as busy with one more body."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if not self._pending:
                self._sent = 0
                self._pending[self._spawn()] = 0
                self.stopped.clear()
                self.started += 1
            self._sent += 1
            executor = min(self._pending, key=self._pending.__getitem__)
            grow = len(self._pending) < self.workers and self._sent > self.grow_after
            if self._pending[executor] > 0 and grow:
                executor = self._spawn()
                self._pending[executor] = 0
            self._pending[executor] += 1
            return executor

    @staticmethod
    def _spawn() -> ProcessPoolExecutor:
        # spawn: a fresh interpreter that imports only the parser (forking a threaded service is unsafe).
        context = multiprocessing.get_context("spawn")
        return ProcessPoolExecutor(1, mp_context=context, initializer=_worker_started)

    def _discard(self, executor: ProcessPoolExecutor, exc: BaseException) -> None:
        with self._lock:
            self._pending.pop(executor, None)
            warn, self._warned = not self._warned, True
        if warn:
            log.warning("a parse worker failed (%s: %s): parsing in the service process", type(exc).__name__, exc)
        executor.shutdown(wait=False, cancel_futures=True)

    def idle(self) -> None:
        """No check is in flight: stop the workers unless one needs them again within ``linger`` seconds."""
        with self._lock:
            if not self._pending or self._timer is not None:
                return
            timer = threading.Timer(self.linger, lambda: self._stop_if_unused(timer))
            timer.daemon = True
            self._timer = timer
            timer.start()

    def _stop_if_unused(self, timer: threading.Timer) -> None:
        with self._lock:
            if self._timer is not timer:  # a parse came in meanwhile and cancelled this stop
                return
            self._timer = None
            executors, self._pending = list(self._pending), {}
        for executor in executors:
            executor.shutdown(wait=True)
        self.stopped.set()

    def close(self) -> None:
        """Stop the workers now and wait for them (the end of ``watcher check``, a service stopping)."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            executors, self._pending = list(self._pending), {}
        for executor in executors:
            executor.shutdown(wait=True)
        self.stopped.set()

    @property
    def running(self) -> bool:
        with self._lock:
            return bool(self._pending)
