"""Quiet checks written in batches: many 304s, one transaction.

A check that finds nothing new and changes no health (a 304, or the same body again) writes only its ``checks``
row and its source's last check, validators and lease. The service and ``watcher check`` gather those and write
them together, ``size`` at a time and whenever no check is in flight (``flush``), instead of one transaction
each. Until then the source's lease stays taken by this replica (nobody else checks it meanwhile) and its
stored validators are the previous ones (the next conditional GET is then merely less precise). A crash before a
flush loses those few ``checks`` rows, never an event: failures and health changes are always written at once.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.orm import Session, sessionmaker

from watcher.health import Health
from watcher.outage import is_unavailable
from watcher.store.checks import Validators, quiet_params, record_quiet_checks, transaction
from watcher.store.sources import CheckRecord

log = logging.getLogger("watcher.checker")

BATCH = 50
"""Quiet checks written per transaction at most."""


class QuietBatch:
    def __init__(self, sessions: sessionmaker[Session], size: int = BATCH) -> None:
        self.sessions = sessions
        self.size = size
        self._lock = threading.Lock()
        self._params: list[tuple[dict[str, object], dict[str, object]]] = []
        self.written = 0
        """Quiet checks written so far (a test reads it)."""

    def add(
        self, source_id: int, record: CheckRecord, health: Health, owner: str, validators: Validators | None
    ) -> None:
        with self._lock:
            self._params.append(quiet_params(source_id, record, health, owner, validators))
            full = len(self._params) >= self.size
        if full:
            self.flush()

    def flush(self) -> int:
        """Write what was gathered; the number of checks written. A failure is logged: those rows are lost."""
        with self._lock:
            params, self._params = self._params, []
        if not params:
            return 0
        try:
            with transaction(self.sessions) as conn:
                record_quiet_checks(conn, params)
        except Exception as exc:
            if is_unavailable(exc):  # the service tells of the outage itself: one line here, no traceback
                log.warning("%d quiet check rows could not be written: database unavailable", len(params))
            else:
                log.exception("%d quiet check rows could not be written", len(params))
            return 0
        self.written += len(params)
        return len(params)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._params)
