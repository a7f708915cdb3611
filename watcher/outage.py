"""The database's outages as the service's jobs meet them: one warning when it stops answering, one line when it
answers again, and nothing in between (a traceback per job every few seconds would bury everything else)."""

from __future__ import annotations

import logging
import threading

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

log = logging.getLogger("watcher")


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database does not answer (down, refusing connections, connection lost), rather
    than a bug in a query."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def reason(exc: BaseException) -> str:
    """The driver's words, on one line."""
    cause = exc.orig if isinstance(exc, DBAPIError) else exc
    return " ".join(str(cause).split()) or type(cause).__name__


class Outage:
    """Tells when the database stops answering and when it answers again, once each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failed = 0
        """Jobs that met the database down since it last answered (0: it is up)."""

    def failed(self, job: str, exc: BaseException) -> None:
        with self._lock:
            self._failed += 1
            first = self._failed == 1
        if first:
            log.warning("database unavailable (%s): %s and the jobs after it wait until it answers", reason(exc), job)
        else:
            log.debug("database still unavailable: %s waits", job)

    def answered(self) -> None:
        with self._lock:
            failed, self._failed = self._failed, 0
        if failed:
            log.info("database available again (%d job(s) met it down)", failed)
