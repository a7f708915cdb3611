"""The action index's cache file: ``actions-index.json.gz`` in ``$WATCHER_CACHE_DIR`` (default
``$XDG_CACHE_HOME/policy-watcher``, i.e. ``~/.cache/policy-watcher``), read only when its key matches."""

from __future__ import annotations

import gzip
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger("watcher.actions")

CACHE_FILE = "actions-index.json.gz"


def cache_dir() -> Path:
    explicit = os.environ.get("WATCHER_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "policy-watcher"


def read_cache(path: Path, key: dict[str, Any]) -> dict[str, Any] | None:
    try:
        payload = json.loads(gzip.decompress(path.read_bytes()))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, EOFError) as exc:
        log.warning("action index cache %s is unreadable (%s): rebuilding it", path, exc)
        return None
    if not isinstance(payload, dict) or payload.get("key") != key:
        log.info("action index cache %s is out of date: rebuilding it", path)
        return None
    return payload


def write_cache(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".actions-index-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(gzip.compress(data, compresslevel=6, mtime=0))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        log.warning("cannot write the action index cache %s (%s): keeping it in memory only", path, exc)
