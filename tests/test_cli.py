"""The ``watcher`` command line: the documented JSON, the table, and one-line failures with exit code 2.

URLs are fetched from a real HTTP server on 127.0.0.1 (tests/http_server.py): requests is not mocked,
nothing sleeps, nothing leaves the machine.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from tests.conftest import FIXTURES, REKOGNITION
from tests.http_server import Served, serve
from watcher import __version__
from watcher.cli import main
from watcher.fetch import FetchError, get_once

REFERENCE = FIXTURES / "reference"
PAGE_KEYS = {"schema", "kind", "url", "title", "content_hash", "warnings", "service", "feed_url", "policies", "updates"}
POLICY_KEYS = {
    "name",
    "anchor",
    "status",
    "defects",
    "description",
    "document_link",
    "actions",
    "action_count",
    "document",
    "raw_json",
    "json_blocks",
    "arn",
    "version",
    "created",
    "edited",
}
UPDATE_KEYS = {"change", "description", "date", "date_raw", "actions", "policies", "anchor"}
FEED_KEYS = {"schema", "kind", "url", "title", "content_hash", "warnings", "items"}
ITEM_KEYS = {"guid", "title", "link", "published", "summary"}
V2_POLICIES = [
    "AmazonRekognitionFullAccess",
    "AmazonRekognitionReadOnlyAccess",
    "AmazonRekognitionServiceRole",
    "AmazonRekognitionCustomLabelsFullAccess",
]
NO_PROXY = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


@pytest.fixture(autouse=True)
def _loopback_is_never_proxied(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in NO_PROXY.items():
        monkeypatch.setenv(key, value)


@pytest.fixture(scope="module")
def server() -> Iterator[Served]:
    routes = {"/rekognition/": REKOGNITION, "/aws-managed-policy/latest/reference/": REFERENCE}
    with serve(routes) as served:
        yield served


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), prog_name="watcher", env={"COLUMNS": "80"})


def _json(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def _assert_fails_in_one_line(result: Result, *fragments: str) -> str:
    """Exit code 2, nothing on stdout, exactly one ``error: …`` line on stderr, no traceback."""
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stdout == ""
    assert result.stderr.endswith("\n")
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


# --- JSON ------------------------------------------------------------------------------------------------


def test_parse_file_prints_the_documented_json_for_a_page() -> None:
    data = _json(_invoke("parse", str(REKOGNITION / "page-v2.html")))
    assert data.keys() >= PAGE_KEYS
    assert data["schema"] == "policy-watcher/parse/v1"
    assert data["kind"] == "service_page"
    assert data["url"] is None
    assert data["title"] == "AWS managed policies for Amazon Rekognition"
    assert re.fullmatch(r"[0-9a-f]{64}", data["content_hash"])
    assert data["service"] == "Amazon Rekognition"
    assert [p["name"] for p in data["policies"]] == V2_POLICIES
    for policy in data["policies"]:
        assert policy.keys() >= POLICY_KEYS
        assert policy["status"] in {"ok", "repaired"}
        assert set(policy["actions"]) == {"allow", "deny", "not_actions"}
        assert policy["action_count"] == sum(len(v) for v in policy["actions"].values())
        assert isinstance(policy["document"], dict) and "Statement" in policy["document"]
        assert policy["document_link"] is None
    by_name = {p["name"]: p for p in data["policies"]}
    assert by_name["AmazonRekognitionFullAccess"]["actions"] == {
        "allow": ["rekognition:*"],
        "deny": [],
        "not_actions": [],
    }
    assert by_name["AmazonRekognitionCustomLabelsFullAccess"]["defects"] == ["missing_comma"]
    assert "repaired_json" in [w["code"] for w in data["warnings"]]
    for warning in data["warnings"]:
        assert set(warning) == {"code", "message", "policy"}
    assert len(data["updates"]) == 6
    for row in data["updates"]:
        assert row.keys() >= UPDATE_KEYS
    newest = data["updates"][0]
    assert newest["date"] == "2023-10-31"
    assert newest["date_raw"] == "October 31st, 2023"
    assert newest["change"].startswith("Actions involving media analysis jobs have been added")
    assert "GetMediaAnalysisJob" in newest["description"]
    assert newest["actions"] == ["rekognition:GetMediaAnalysisJob", "rekognition:ListMediaAnalysisJob"]
    assert newest["policies"] == ["AmazonRekognitionReadOnlyAccess"]


def test_parse_file_prints_items_for_a_feed() -> None:
    data = _json(_invoke("parse", str(REKOGNITION / "doc-history-v2.rss")))
    assert data.keys() >= FEED_KEYS
    assert data["kind"] == "feed"
    assert "policies" not in data
    assert len(data["items"]) == 11
    for item in data["items"]:
        assert set(item) == ITEM_KEYS
    assert data["items"][0]["published"] == "2023-10-31"
    assert (
        data["items"][0]["guid"]
        == "https://docs.aws.amazon.com/rekognition/latest/dg/#AWS_managed_policy_updates_2023-10-31"
    )


def test_parse_file_prints_the_reference_fields_for_a_reference_page() -> None:
    data = _json(_invoke("parse", str(REFERENCE / "AmazonRekognitionReadOnlyAccess.html")))
    assert data["kind"] == "reference_page"
    (policy,) = data["policies"]
    assert policy["arn"] == "arn:aws:iam::aws:policy/AmazonRekognitionReadOnlyAccess"
    assert policy["version"] == "v3 (default)"
    assert policy["action_count"] == 32


def test_the_format_option_defaults_to_json() -> None:
    path = str(REKOGNITION / "page-v1.html")
    assert _invoke("parse", path).stdout == _invoke("parse", path, "--format", "json").stdout


# --- table ------------------------------------------------------------------------------------------------


def test_table_prints_every_policy_name_in_full_and_the_row_count() -> None:
    result = _invoke("parse", str(REKOGNITION / "page-v3.html"), "--format", "table")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    for name in [*V2_POLICIES, "AmazonRekognitionFaceLivenessAccess"]:
        assert re.search(rf"\b{name}\b", out), name
    assert "— 5 policies" in out
    assert "updates table — 8 rows" in out
    assert "…" not in out  # nothing is cut off
    assert "warning repaired_json" in out
    assert "content hash " in out


def test_table_for_a_feed_counts_its_items() -> None:
    result = _invoke("parse", str(REKOGNITION / "doc-history-v1.rss"), "--format", "table")
    assert result.exit_code == 0, result.stderr
    assert "Document history for Amazon Rekognition — 10 items" in result.stdout


def test_table_for_a_reference_page_shows_arn_and_version() -> None:
    result = _invoke("parse", str(REFERENCE / "AmazonRekognitionGuardedInferenceAccess.html"), "--format", "table")
    assert result.exit_code == 0, result.stderr
    assert "— 1 policy" in result.stdout
    assert "arn:aws:iam::aws:policy/AmazonRekognitionGuardedInferenceAccess" in result.stdout
    assert "v1 (default)" in result.stdout
    assert "updates table" not in result.stdout


def test_table_prints_square_brackets_in_page_text_as_written(tmp_path: Path) -> None:
    """Page text is no rich markup: ``[/x]`` must neither vanish nor raise a MarkupError."""
    html = (REKOGNITION / "page-v2.html").read_text()
    path = tmp_path / "brackets.html"
    path.write_text(html.replace("started tracking changes", "started tracking [bold]changes[/x]"))
    result = _invoke("parse", str(path), "--format", "table")
    assert result.exit_code == 0, result.stderr
    assert "[bold]changes[/x]" in result.stdout


def test_an_unknown_format_is_a_usage_error() -> None:
    result = _invoke("parse", str(REKOGNITION / "page-v1.html"), "--format", "xml")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr


# --- files that cannot be parsed -------------------------------------------------------------------------


def test_a_missing_file_fails_in_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope.html"
    _assert_fails_in_one_line(_invoke("parse", str(missing)), str(missing), "No such file")


def test_a_directory_fails_in_one_line(tmp_path: Path) -> None:
    _assert_fails_in_one_line(_invoke("parse", str(tmp_path)), str(tmp_path))


@pytest.mark.parametrize(
    "body",
    [
        bytes(range(256)) * 16,  # binary, NUL bytes included
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64),
        b"\xff\xfe\xfd garbage \x80\x81 without any markup at all\n" * 20,
        b"",
    ],
    ids=["all-bytes", "png", "undecodable-text", "empty"],
)
def test_a_garbage_file_fails_in_one_line(tmp_path: Path, body: bytes) -> None:
    path = tmp_path / "garbage.html"
    path.write_bytes(body)
    _assert_fails_in_one_line(_invoke("parse", str(path)), str(path))


# --- URLs -------------------------------------------------------------------------------------------------


def test_a_url_is_fetched_and_parsed(server: Served) -> None:
    url = server.url("/rekognition/page-v2.html")
    data = _json(_invoke("parse", url))
    assert data["url"] == url
    assert data["kind"] == "service_page"
    assert [p["name"] for p in data["policies"]] == V2_POLICIES
    from_file = _json(_invoke("parse", str(REKOGNITION / "page-v2.html")))
    assert data["content_hash"] == from_file["content_hash"]


def test_a_feed_url_is_fetched_and_parsed(server: Served) -> None:
    data = _json(_invoke("parse", server.url("/rekognition/doc-history-v1.rss")))
    assert data["kind"] == "feed"
    assert len(data["items"]) == 10


def test_a_reference_url_is_a_reference_page(server: Served) -> None:
    url = server.url("/aws-managed-policy/latest/reference/AmazonRekognitionCustomLabelsFullAccess.html")
    data = _json(_invoke("parse", url))
    assert data["kind"] == "reference_page"
    assert data["policies"][0]["status"] == "repaired"


def test_a_404_fails_in_one_line(server: Served) -> None:
    url = server.url("/rekognition/no-such-page.html")
    _assert_fails_in_one_line(_invoke("parse", url), url, "404")


def test_a_refused_connection_fails_in_one_line() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # nothing listens on the port any more: the connection is refused at once
    _assert_fails_in_one_line(_invoke("parse", f"http://127.0.0.1:{port}/page.html"), "could not be fetched")


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/page.html", "file:///etc/hostname", "gopher://127.0.0.1/"])
def test_a_url_that_is_not_http_fails_in_one_line(url: str) -> None:
    line = _assert_fails_in_one_line(_invoke("parse", url), "only http and https")
    assert "No such file" not in line


def test_a_body_larger_than_the_limit_is_refused(server: Served) -> None:
    url = server.url("/rekognition/page-v1.html")
    assert len(get_once(url)) == (REKOGNITION / "page-v1.html").stat().st_size
    with pytest.raises(FetchError, match="larger than 1000 bytes"):
        get_once(url, max_bytes=1000)


# --- the installed console script, end to end -------------------------------------------------------------


def _console_script() -> Path:
    script = Path(sys.executable).parent / "watcher"
    if not script.exists():
        pytest.fail(f"the console script {script} is not installed: run `make venv`")
    return script


def test_the_installed_console_script_parses_a_url_end_to_end(server: Served) -> None:
    url = server.url("/rekognition/page-v3.html")
    env = {**os.environ, **NO_PROXY}
    done = subprocess.run(
        [str(_console_script()), "parse", url], capture_output=True, text=True, timeout=60, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    data = json.loads(done.stdout)
    assert data["url"] == url
    assert len(data["policies"]) == 5
    assert len(data["updates"]) == 8


def test_the_installed_console_script_fails_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(_console_script()), "parse", str(tmp_path / "missing.html")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith("error: ")


# --- help ---------------------------------------------------------------------------------------------------


def _commands(group: click.Command = main, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    """Every command under ``group``, subgroups and their commands included (sqlite-utils' test_docs walk)."""
    if not isinstance(group, click.Group):
        return []
    found: list[tuple[tuple[str, ...], click.Command]] = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        found.append(((*path, name), command))
        found.extend(_commands(command, (*path, name)))
    return found


COMMANDS = _commands()


def test_the_group_and_every_command_have_help() -> None:
    assert main.help and main.help.strip()
    assert COMMANDS, "no commands registered"
    for path, command in COMMANDS:
        assert command.help and command.help.strip(), f"watcher {' '.join(path)} has no docstring"
        assert command.get_short_help_str().strip(), f"watcher {' '.join(path)} has no short help"


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_option_has_help_and_help_runs(path: tuple[str, ...]) -> None:
    command = dict(COMMANDS)[path]
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"watcher {' '.join(path)} {param.opts[0]} has no help"
    result = _invoke(*path, "--help")
    assert result.exit_code == 0
    assert result.stdout.startswith(f"Usage: watcher {' '.join(path)} ")
    assert command.help is not None
    first_words = " ".join(command.help.split()[:4])
    assert first_words in " ".join(result.stdout.split())


def test_version() -> None:
    result = _invoke("--version")
    assert result.exit_code == 0
    assert __version__ in result.stdout
