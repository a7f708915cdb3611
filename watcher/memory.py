"""Keep a long-running service's memory down (glibc only; elsewhere every function does nothing).

Parsing a few hundred pages allocates and frees tens of MB across the check threads. glibc gives each thread
its own arena and keeps freed pages mapped, so the idle service stays at its peak. ``limit_arenas`` (before
any thread starts) caps the arenas at two, as ``MALLOC_ARENA_MAX=2`` would, unless that variable is set;
``Quiesce`` returns freed pages to the system (``malloc_trim``) each time the last check in flight ends.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger("watcher.memory")
_M_ARENA_MAX = -8


@functools.cache
def _libc() -> Any | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None
    except OSError:
        return None


def limit_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas (call before threads start); True if it was applied."""
    libc = _libc()
    if libc is None or "MALLOC_ARENA_MAX" in os.environ:
        return False
    return bool(libc.mallopt(_M_ARENA_MAX, arenas))


def release() -> bool:
    """Give freed heap pages back to the system; True if some were."""
    libc = _libc()
    return bool(libc.malloc_trim(0)) if libc is not None else False


class Quiesce:
    """Counts the checks in flight; when the last one ends, freed memory goes back to the system if any of them
    handled a body (``heavy``). A burst of 304s allocates little: it ends without ``malloc_trim``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._busy = 0
        self._heavy = False
        self.releases = 0
        self.on_idle: list[Callable[[], object]] = []
        """Called first each time the last check in flight ends (the parse workers are told to stop)."""

    def heavy(self) -> None:
        """A check of this burst read a body (or failed unexpectedly): trim when the burst ends."""
        with self._lock:
            self._heavy = True

    @contextmanager
    def busy(self) -> Iterator[None]:
        with self._lock:
            self._busy += 1
        try:
            yield
        except BaseException:
            self.heavy()
            raise
        finally:
            with self._lock:
                self._busy -= 1
                last = self._busy == 0
                trim = last and self._heavy
                if last:
                    self._heavy = False
            if last:
                for callback in self.on_idle:
                    callback()
            if trim:
                release()
                self.releases += 1
