""".env.example and .gitignore: .env stays out of git, .env.example is committed with a placeholder password
and names every variable the compose file substitutes.
"""

from __future__ import annotations

import fnmatch
import re

from tests.container_helpers import COMPOSE, ENV_EXAMPLE, GITIGNORE, _env_example

# --- .env.example and .gitignore ---------------------------------------------------------------------------


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
