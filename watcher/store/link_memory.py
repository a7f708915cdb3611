"""What a checker knows, in this process, of the stored reference links of each page (thread-safe).

It saves the database work of a page check that finds nothing new: the stored body of a page is read for its links
once per process (``links_read``), and a page known to have no derived source at the body it has is not looked up
again (``knows_no_derived``) until this checker writes its links. Each write of a page's links bumps a counter: a
finding taken before a write (``writes``) is not remembered after it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Probe:
    """What a page's claim asks the database, and the page's link writes when it asked."""

    links: bool
    """Whether its stored body may link to reference pages (its links were not read in this process yet)."""
    derived: bool
    """Whether any derived source of it is enabled (none known absent yet)."""
    writes: int


class LinkMemory:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._read: set[str] = set()
        self._no_derived: dict[str, str] = {}
        """Page -> the sha256 of the body at which it was found to have no derived source to check."""
        self._writes: dict[str, int] = {}

    def probe(self, page: str) -> Probe:
        with self._lock:
            return Probe(page not in self._read, page not in self._no_derived, self._writes.get(page, 0))

    def links_read(self, page: str) -> bool:
        with self._lock:
            return page in self._read

    def read(self, page: str, *, written: bool) -> None:
        """The links of ``page`` were read (and, ``written``, written), in a transaction now committed."""
        with self._lock:
            self._read.add(page)
            if written:
                self._writes[page] = self._writes.get(page, 0) + 1
                self._no_derived.pop(page, None)

    def writes(self, page: str) -> int:
        with self._lock:
            return self._writes.get(page, 0)

    def no_derived(self, page: str, body_sha256: str, writes: int) -> None:
        """``page`` has no derived source to check at this body, as found before its ``writes``-th link write."""
        with self._lock:
            if self._writes.get(page, 0) == writes:
                self._no_derived[page] = body_sha256

    def knows_no_derived(self, page: str, body_sha256: str | None) -> bool:
        with self._lock:
            return body_sha256 is not None and self._no_derived.get(page) == body_sha256
