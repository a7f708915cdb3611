"""The build context: .dockerignore, read with Docker's rules, keeps .env and local state out and lets in what
the Dockerfile copies. No Docker engine runs here.
"""

from __future__ import annotations

import re
import shlex

from tests.container_helpers import DOCKERIGNORE, _args, _stages

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
