"""``watcher parse``: print a parsed page, reference page, markdown source or feed."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import NoReturn

import click

from watcher.fetch import MAX_BYTES, FetchError, get_once
from watcher.model import Kind
from watcher.parse import parse as parse_body
from watcher.render import to_json
from watcher.table import print_table

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
"""Anything with a scheme is a URL (``ftp://`` too, so that it is refused as a URL, not looked up as a file)."""


def _fail(message: str) -> NoReturn:
    """One line on stderr, exit code 2: the documented failure of ``watcher parse``."""
    click.echo(f"error: {' '.join(message.split())}", err=True)
    sys.exit(2)


def _read_file(path: str, max_bytes: int = MAX_BYTES) -> bytes:
    try:
        with Path(path).open("rb") as f:
            body = f.read(max_bytes + 1)
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(body) > max_bytes:
        raise click.ClickException(f"cannot read {path}: larger than {max_bytes} bytes")
    return body


def _read(path_or_url: str) -> bytes:
    if _URL.match(path_or_url):
        return get_once(path_or_url)
    return _read_file(path_or_url)


@click.command()
@click.argument("path_or_url")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "table"]),
    default="json",
    show_default=True,
    help="json: the documented interface (schema policy-watcher/parse/v1); table: a summary for a person.",
)
def parse(path_or_url: str, fmt: str) -> None:
    """Parse a managed-policy page, policy reference page, markdown source or doc-history feed.

    PATH_OR_URL is a file or an http(s) URL. A file or URL that cannot be read, or a body that is
    none of these, prints one line on stderr and exits with code 2.

    Example: watcher parse tests/fixtures/rekognition/page-v1.html --format table
    """
    try:
        body = _read(path_or_url)
    except FetchError as exc:
        _fail(str(exc))
    except click.ClickException as exc:
        _fail(exc.message)
    url = path_or_url if _URL.match(path_or_url) else None
    parsed = parse_body(body, url)
    if parsed.kind is Kind.UNKNOWN:
        _fail(f"{path_or_url}: {parsed.warnings[0].message}")
    if fmt == "json":
        click.echo(json.dumps(to_json(parsed), indent=2, ensure_ascii=False))
    else:
        print_table(parsed)
