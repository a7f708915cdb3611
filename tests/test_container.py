"""The Dockerfile: two stages on python:3.11-slim, a non-root final image without build tools, the venv taken
from the builder, a data volume, and a healthcheck that needs no curl.

No Docker engine runs here, so the tests read the file as text and check what a reviewer would check. The
build context, docker-compose.yml and .env.example are in tests/test_container_*.py.
"""

from __future__ import annotations

import re
import shlex

from tests.container_helpers import _args, _base_image, _dockerfile_healthcheck, _env, _exec_form, _final_stage, _stages

HEALTHZ = "http://127.0.0.1:9108/healthz"
BUILD_TOOLS = re.compile(
    r"\b(gcc|g\+\+|cc|clang|make|cmake|build-essential|libpq-dev|python3-dev|apt-get\s+install|apk\s+add)\b"
)


# --- Dockerfile ------------------------------------------------------------------------------------------


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
