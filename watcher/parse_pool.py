"""Parse fetched bodies in worker processes, started when a body needs parsing and stopped when the work is done.

Parsing (bs4 with lxml) is most of the CPU of a first check and holds the GIL: in worker processes it uses every
core while the service's threads fetch and write, and the service process itself never loads bs4 and lxml nor
keeps the memory a few hundred parse trees leave behind. A cycle of 304s starts no worker at all.

``ParsePool(workers)``: ``parse(body, url)`` answers like ``watcher.parse.parse`` (which never raises). The workers
are spawned on demand (at most ``workers``); ``idle()`` (the service calls it when its last check in flight ends)
stops them after ``linger`` seconds without work. With ``workers = 0``, or when a worker dies or a result cannot
come back, the body is parsed in this process instead, and the failure is logged once per pool.
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
        target: Callable[[bytes, str | None], Parsed] = parse_here,
    ) -> None:
        self.workers = workers
        self.linger = linger
        self._target = target
        """What a worker runs (a module-level function: spawned workers import it by name)."""
        self.stopped = threading.Event()
        """Set each time the workers are stopped."""
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._timer: threading.Timer | None = None
        self._warned = False
        self.started = 0
        """How many times workers were started (a test and the benchmark read it)."""

    def parse(self, body: bytes, url: str | None) -> Parsed:
        if self.workers < 1:
            return parse_here(body, url)
        try:
            executor = self._running()
        except Exception as exc:  # no process can be started here (no /dev/shm, a process limit...)
            log.warning("parse workers cannot start (%s: %s): parsing in this process", type(exc).__name__, exc)
            self.workers = 0
            return parse_here(body, url)
        try:
            return executor.submit(self._target, body, url).result()
        except Exception as exc:  # a worker died (BrokenProcessPool), or the result could not be pickled
            self._discard(executor, exc)
            return parse_here(body, url)

    def _running(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._executor is None:
                # spawn: a fresh interpreter that imports only the parser (forking a threaded service is unsafe).
                context = multiprocessing.get_context("spawn")
                self._executor = ProcessPoolExecutor(self.workers, mp_context=context, initializer=_worker_started)
                self.stopped.clear()
                self.started += 1
            return self._executor

    def _discard(self, executor: ProcessPoolExecutor, exc: BaseException) -> None:
        with self._lock:
            if self._executor is executor:
                self._executor = None
            warn, self._warned = not self._warned, True
        if warn:
            log.warning("a parse worker failed (%s: %s): parsing in the service process", type(exc).__name__, exc)
        executor.shutdown(wait=False, cancel_futures=True)

    def idle(self) -> None:
        """No check is in flight: stop the workers unless one needs them again within ``linger`` seconds."""
        with self._lock:
            if self._executor is None or self._timer is not None:
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
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
        self.stopped.set()

    def close(self) -> None:
        """Stop the workers now and wait for them (the end of ``watcher check``, a service stopping)."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
        self.stopped.set()

    @property
    def running(self) -> bool:
        with self._lock:
            return self._executor is not None
