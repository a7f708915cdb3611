"""The ``watcher`` command: a thin click layer over the library.

Commands live in their own modules and are imported only when they run (``watcher changes`` does not pay
for the parser, ``watcher parse`` not for the database), which keeps start-up short.
"""

from __future__ import annotations

import gc
import importlib

import click

from watcher import __version__

COMMANDS = {
    "parse": "watcher.cli_parse:parse",
    "db": "watcher.cli_history:db",
    "ingest": "watcher.cli_history:ingest",
    "changes": "watcher.cli_history:changes",
    "history": "watcher.cli_history:history",
    "when": "watcher.cli_history:when",
    "show": "watcher.cli_history:show",
    "export": "watcher.cli_history:export",
    "explain": "watcher.cli_explain:explain",
    "run": "watcher.cli_service:run",
    "check": "watcher.cli_service:check",
    "outbox": "watcher.cli_notify:outbox",
    "notify": "watcher.cli_notify:notify",
    "reconcile": "watcher.cli_reconcile:reconcile",
}
"""Command name -> ``module:attribute``."""


class LazyGroup(click.Group):
    """A group that imports a command's module only when the command is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="watcher")
def main() -> None:
    """Policy Watcher: learn within the hour that AWS changed a managed IAM policy."""
    # Start-up objects live for the whole command: keep the collector from re-walking them (fewer pauses).
    gc.freeze()
