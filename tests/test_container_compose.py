"""docker-compose.yml, read as YAML: a healthy-before-start database, named volumes, no secret written into the
file, a port published on localhost only, and the Dockerfile's healthcheck. No Docker engine runs here.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import yaml

from tests.container_helpers import COMPOSE, _dockerfile_healthcheck, _env_example

# ${POSTGRES_PASSWORD}, ${POSTGRES_PASSWORD:?message}, ${POSTGRES_PASSWORD-default} and the like.
PASSWORD_REFERENCE = r"\$\{POSTGRES_PASSWORD(?::?[?+-][^}]*)?\}"
REFERENCE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::?[?+-][^}]*)?\}")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|WEBHOOK|API_?KEY|PRIVATE_?KEY", re.IGNORECASE)
USERINFO_PASSWORD = re.compile(r"://[^:/@\s]+:(?P<password>.+?)@[^@]*$")


# --- docker-compose.yml ------------------------------------------------------------------------------------


@cache
def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _service(name: str) -> dict[str, Any]:
    service = _compose()["services"][name]
    assert isinstance(service, dict)
    return service


def _environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's ``environment`` in either the mapping or the ``KEY=VALUE`` list form."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        return dict(str(item).partition("=")[::2] for item in raw)
    return {str(key): "" if value is None else str(value) for key, value in raw.items()}


def _volume_sources(service: dict[str, Any]) -> dict[str, str]:
    """target -> source of a service's volumes, short (``src:dst[:mode]``) or long syntax."""
    mounts: dict[str, str] = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            mounts[str(volume["target"])] = str(volume.get("source", ""))
        else:
            source, _, rest = str(volume).partition(":")
            mounts[rest.split(":")[0]] = source
    return mounts


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in [*_strings(key), *_strings(value)]]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    return []


def _healthcheck_test(service: dict[str, Any]) -> list[str]:
    test = service["healthcheck"]["test"]
    if isinstance(test, str):
        return ["CMD-SHELL", test]
    return [str(word) for word in test]


def test_compose_defines_the_db_and_watcher_services() -> None:
    assert set(_compose()["services"]) == {"db", "watcher"}
    assert "version" not in _compose(), "the top-level version key is obsolete"


def test_the_db_runs_postgres_16_and_is_checked_with_pg_isready() -> None:
    db = _service("db")
    assert db["image"] == "postgres:16-alpine"
    env = _environment(db)
    assert env["POSTGRES_DB"] == "watcher"
    assert env["POSTGRES_USER"] == "watcher"
    test = " ".join(_healthcheck_test(db)[1:])
    assert re.search(r"\bpg_isready\b", test)
    assert re.search(r"-U\s+watcher\b", test)
    assert re.search(r"-d\s+watcher\b", test)


def test_the_db_password_comes_only_from_the_environment_and_is_required() -> None:
    password = _environment(_service("db"))["POSTGRES_PASSWORD"]
    assert re.fullmatch(r"\$\{POSTGRES_PASSWORD:\?[^}]+\}", password), password


def test_the_db_publishes_no_port() -> None:
    assert "ports" not in _service("db")


def test_the_watcher_starts_only_after_the_db_is_healthy() -> None:
    depends_on = _service("watcher")["depends_on"]
    assert isinstance(depends_on, dict), "the list form of depends_on cannot wait for health"
    assert depends_on["db"]["condition"] == "service_healthy"


def test_the_named_volumes_pgdata_and_watcher_data_are_declared_and_mounted() -> None:
    declared = _compose().get("volumes") or {}
    assert {"pgdata", "watcher-data"} <= set(declared)
    assert _volume_sources(_service("db"))["/var/lib/postgresql/data"] == "pgdata"
    assert _volume_sources(_service("watcher"))["/app/data"] == "watcher-data"


def test_the_watcher_database_url_uses_psycopg_and_the_db_host() -> None:
    url = _environment(_service("watcher"))["WATCHER_DATABASE_URL"]
    assert re.fullmatch(rf"postgresql\+psycopg://watcher:{PASSWORD_REFERENCE}@db:5432/watcher", url), url


def test_no_secret_is_written_into_the_compose_file() -> None:
    compose = _compose()
    for name, service in compose["services"].items():
        for key, value in _environment(service).items():
            if SECRET_NAME.search(key):
                assert REFERENCE.fullmatch(value), f"{name}: {key} must come from .env, not be written here"
    for text in _strings(compose):
        match = USERINFO_PASSWORD.search(text)
        if match:
            assert REFERENCE.fullmatch(match["password"]), f"a password is written into the URL {text!r}"
    example_password = _env_example()["POSTGRES_PASSWORD"].value
    assert example_password not in COMPOSE.read_text(encoding="utf-8")


def test_the_watcher_port_is_published_on_localhost_only() -> None:
    ports = [str(port) for port in _service("watcher")["ports"]]
    assert ports == ["127.0.0.1:9108:9108"]


def test_the_watcher_reads_its_secrets_from_an_optional_env_file() -> None:
    env_file = _service("watcher")["env_file"]
    assert env_file == [{"path": ".env", "required": False}]


def test_the_watcher_mounts_the_config_read_only_and_restarts_unless_stopped() -> None:
    watcher = _service("watcher")
    assert "./config:/app/config:ro" in watcher["volumes"]
    assert watcher["restart"] == "unless-stopped"
    assert watcher["build"] in (".", {"context": "."})


def test_the_watcher_healthcheck_in_compose_is_the_one_in_the_dockerfile() -> None:
    test = _healthcheck_test(_service("watcher"))
    assert test[0] == "CMD"
    assert test[1:] == _dockerfile_healthcheck()
