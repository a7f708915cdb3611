"""The container files: Dockerfile, .dockerignore, docker-compose.yml, .env.example and .gitignore.

No Docker engine runs here, so these tests read the files as text and YAML and check what a reviewer
would check: two stages, a non-root final image without build tools, a healthy-before-start database,
named volumes, no secret written into the compose file, a port published on localhost only, and a build
context that keeps .env and local state out.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
GITIGNORE = ROOT / ".gitignore"

HEALTHZ = "http://127.0.0.1:9108/healthz"
# ${POSTGRES_PASSWORD}, ${POSTGRES_PASSWORD:?message}, ${POSTGRES_PASSWORD-default} and the like.
PASSWORD_REFERENCE = r"\$\{POSTGRES_PASSWORD(?::?[?+-][^}]*)?\}"
REFERENCE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::?[?+-][^}]*)?\}")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|WEBHOOK|API_?KEY|PRIVATE_?KEY", re.IGNORECASE)
USERINFO_PASSWORD = re.compile(r"://[^:/@\s]+:(?P<password>.+?)@[^@]*$")
BUILD_TOOLS = re.compile(
    r"\b(gcc|g\+\+|cc|clang|make|cmake|build-essential|libpq-dev|python3-dev|apt-get\s+install|apk\s+add)\b"
)


# --- Dockerfile ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str


def _dockerfile_instructions(text: str) -> list[Instruction]:
    """Logical instructions: comment lines dropped, backslash continuations joined, keywords upper-cased."""
    instructions: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        logical = (pending + line).strip()
        pending = ""
        keyword, _, args = logical.partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip()))
    assert not pending, "the Dockerfile ends inside a line continuation"
    return instructions


@cache
def _stages() -> tuple[tuple[Instruction, ...], ...]:
    stages: list[list[Instruction]] = []
    for instruction in _dockerfile_instructions(DOCKERFILE.read_text(encoding="utf-8")):
        if instruction.keyword == "FROM":
            stages.append([])
        assert stages, f"{instruction.keyword} before the first FROM"
        stages[-1].append(instruction)
    return tuple(tuple(stage) for stage in stages)


def _final_stage() -> tuple[Instruction, ...]:
    return _stages()[-1]


def _args(stage: tuple[Instruction, ...], keyword: str) -> list[str]:
    return [instruction.args for instruction in stage if instruction.keyword == keyword]


def _base_image(stage: tuple[Instruction, ...]) -> str:
    """The image of ``FROM [--platform=...] IMAGE [AS name]``."""
    words = [word for word in stage[0].args.split() if not word.startswith("--")]
    return words[0]


def _exec_form(args: str) -> list[str]:
    assert args.startswith("["), f"expected the exec (JSON) form, got {args!r}"
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(item, str) for item in value), args
    return [str(item) for item in value]


def _env(stage: tuple[Instruction, ...]) -> dict[str, str]:
    env: dict[str, str] = {}
    for args in _args(stage, "ENV"):
        for word in shlex.split(args):
            key, sep, value = word.partition("=")
            assert sep, f"use ENV KEY=VALUE, not the legacy ENV KEY VALUE form: {args!r}"
            env[key] = value
    return env


def _dockerfile_healthcheck() -> list[str]:
    (args,) = _args(_final_stage(), "HEALTHCHECK")
    match = re.fullmatch(r"(?P<options>(?:--\S+\s+)*)CMD\s+(?P<command>.+)", args)
    assert match, f"HEALTHCHECK without CMD: {args!r}"
    return _exec_form(match["command"])


def test_the_dockerfile_has_a_builder_stage_and_a_final_stage_both_on_python_3_11_slim() -> None:
    stages = _stages()
    assert len(stages) == 2
    assert [_base_image(stage) for stage in stages] == ["python:3.11-slim", "python:3.11-slim"]
    assert re.search(r"\bAS\s+builder\b", stages[0][0].args, re.IGNORECASE)


def test_the_builder_installs_the_project_into_opt_venv_without_a_pip_cache() -> None:
    builder = _stages()[0]
    runs = " ; ".join(_args(builder, "RUN"))
    assert re.search(r"python\S*\s+-m\s+venv\s+/opt/venv\b", runs)
    assert re.search(r"\bpip\s+install\s+--no-cache-dir\s+\.(\s|$)", runs)
    assert _env(builder)["PATH"].startswith("/opt/venv/bin:")


def test_the_final_stage_takes_only_the_venv_from_the_builder_and_the_config_from_the_context() -> None:
    copies = [shlex.split(args) for args in _args(_final_stage(), "COPY")]
    from_builder = [words for words in copies if any(word.startswith("--from=") for word in words)]
    assert from_builder == [["--from=builder", "/opt/venv", "/opt/venv"]]
    from_context = [words for words in copies if words not in from_builder]
    assert from_context == [["config/", "/app/config/"]]


def test_the_final_stage_runs_as_the_non_root_user_watcher_with_uid_10001() -> None:
    final = _final_stage()
    runs = " ; ".join(_args(final, "RUN"))
    assert re.search(r"\buseradd\b[^;&]*--uid\s+10001\b[^;&]*\bwatcher\b", runs)
    users = _args(final, "USER")
    assert users, "the final stage never leaves root"
    user = users[-1].split(":")[0]
    assert user in {"watcher", "10001"}


def test_the_final_stage_installs_no_compiler_or_build_tools() -> None:
    for args in _args(_final_stage(), "RUN"):
        assert not BUILD_TOOLS.search(args), f"build tools in the final stage: {args!r}"


def test_the_final_stage_sets_the_container_environment_and_puts_the_venv_first_on_path() -> None:
    env = _env(_final_stage())
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["WATCHER_LISTEN_HOST"] == "0.0.0.0"
    assert env["WATCHER_LOG_FORMAT"] == "json"
    assert env["PATH"].startswith("/opt/venv/bin:")


def test_the_final_stage_works_in_app_exposes_9108_and_keeps_data_in_a_volume() -> None:
    final = _final_stage()
    assert _args(final, "WORKDIR")[-1] == "/app"
    assert "9108" in " ".join(_args(final, "EXPOSE")).replace("/tcp", "").split()
    volumes = [_exec_form(args) if args.startswith("[") else args.split() for args in _args(final, "VOLUME")]
    assert ["/app/data"] in volumes


def test_the_data_directory_is_given_to_the_watcher_user_before_the_volume_is_declared() -> None:
    final = list(_final_stage())
    chown = next(
        i for i, ins in enumerate(final) if ins.keyword == "RUN" and re.search(r"\bchown\b[^;&]*/app/data", ins.args)
    )
    volume = next(i for i, ins in enumerate(final) if ins.keyword == "VOLUME")
    # Changes to a path after it is declared a VOLUME are discarded, so the order matters.
    assert chown < volume


def test_the_healthcheck_probes_healthz_with_python_since_slim_has_no_curl() -> None:
    command = _dockerfile_healthcheck()
    assert command[:2] == ["python", "-c"]
    assert HEALTHZ in command[2]
    assert "timeout=" in command[2]
    compile(command[2], "<healthcheck>", "exec")


def test_the_entrypoint_is_watcher_and_the_default_command_runs_with_the_bundled_config() -> None:
    final = _final_stage()
    assert _exec_form(_args(final, "ENTRYPOINT")[-1]) == ["watcher"]
    assert _exec_form(_args(final, "CMD")[-1]) == ["run", "--config", "/app/config/watcher.toml"]


# --- .dockerignore -----------------------------------------------------------------------------------------


def _dockerignore_patterns() -> list[tuple[bool, re.Pattern[str]]]:
    """(negated, regex) pairs with Docker's rules: ``**`` spans directories, ``*`` and ``?`` do not."""
    patterns: list[tuple[bool, re.Pattern[str]]] = []
    for raw in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line.removeprefix("!").strip().strip("/")
        regex = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif pattern[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif pattern[i] == "?":
                regex, i = regex + "[^/]", i + 1
            elif pattern[i] == "[":
                end = pattern.index("]", i)
                regex, i = regex + pattern[i : end + 1], end + 1
            else:
                regex, i = regex + re.escape(pattern[i]), i + 1
        patterns.append((negated, re.compile(regex)))
    return patterns


def _in_build_context(path: str) -> bool:
    """Whether ``path`` (relative to the project) is sent to the builder: the last matching pattern wins,
    and a pattern matching a parent directory matches everything under it."""
    parts = path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for negated, regex in _dockerignore_patterns():
        if any(regex.fullmatch(candidate) for candidate in candidates):
            excluded = not negated
    return not excluded


def test_the_build_context_holds_what_the_dockerfile_copies() -> None:
    for stage in _stages():
        for args in _args(stage, "COPY"):
            words = shlex.split(args)
            if any(word.startswith("--from=") for word in words):
                continue
            paths = [word for word in words if not word.startswith("--")]
            for source in paths[:-1]:
                assert _in_build_context(source.rstrip("/")), f"{source} is excluded by .dockerignore"
    assert _in_build_context("watcher/cli.py")
    assert _in_build_context("watcher/db/migrations/script.py.mako")
    assert _in_build_context("watcher/db/migrations/versions/0001_initial_schema.py")


def test_the_build_context_leaves_out_secrets_local_state_and_caches() -> None:
    for path in (
        ".env",
        "config/.env",
        ".git/config",
        ".venv/bin/python",
        "data/watcher.db",
        "watcher.db",
        "watcher/__pycache__/cli.cpython-311.pyc",
        ".mypy_cache/3.11/x.json",
        ".pytest_cache/README.md",
        "tests/fixtures/rekognition/page-v1.html",
    ):
        assert not _in_build_context(path), f"{path} would be sent to the builder"


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


# --- .env.example and .gitignore ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ExampleVariable:
    value: str
    commented_out: bool


@cache
def _env_example() -> dict[str, ExampleVariable]:
    """Variables of .env.example, set (``NAME=value``) or offered commented out (``# NAME=value``)."""
    variables: dict[str, ExampleVariable] = {}
    for raw in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"\s*(?P<comment>#\s*)?(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)", raw)
        if match:
            variables[match["name"]] = ExampleVariable(match["value"].strip(), bool(match["comment"]))
    return variables


def test_env_is_ignored_by_git_and_env_example_is_not() -> None:
    patterns = [line.strip() for line in GITIGNORE.read_text(encoding="utf-8").splitlines()]
    assert ".env" in patterns
    ignores_example = [p for p in patterns if p and not p.startswith(("#", "!")) and fnmatch.fnmatch(".env.example", p)]
    assert not ignores_example, f".env.example must stay committed, but {ignores_example} ignore it"


def test_env_example_sets_a_placeholder_database_password_and_names_the_notification_secrets() -> None:
    variables = _env_example()
    password = variables["POSTGRES_PASSWORD"]
    assert password.value and not password.commented_out, "POSTGRES_PASSWORD must be set with a placeholder"
    assert {"WATCHER_SLACK_WEBHOOK_URL", "WATCHER_SMTP_PASSWORD"} <= set(variables)
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    assert "WATCHER_DATABASE_URL" in text
    assert "never committed" in text


def test_every_variable_the_compose_file_substitutes_is_listed_in_env_example() -> None:
    used = {m.group(1) for m in re.finditer(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", COMPOSE.read_text(encoding="utf-8"))}
    assert used, "the compose file substitutes no variable"
    assert used <= set(_env_example())
