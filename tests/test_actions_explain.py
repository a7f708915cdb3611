"""``watcher explain`` on a history holding page-v3: the policy's actions by access level, as JSON, a table
or CSV, with the test's action index.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.orm import Session, sessionmaker

from tests.action_index_fixtures import cache_file as cache_file
from tests.action_index_fixtures import index as index
from tests.conftest import REKOGNITION
from watcher import cli_explain
from watcher.actions.index import ActionIndex
from watcher.pipeline import ingest

# --- watcher explain on a history --------------------------------------------------------------------------------


@pytest.fixture
def explained(
    sessions: sessionmaker[Session], db_url: str, index: ActionIndex, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """page-v3 ingested into the history; explain uses the test's index."""
    body = (REKOGNITION / "page-v3.html").read_bytes()
    result = ingest(sessions, "rekognition", body, url="https://example.test/rekognition", now=dt.datetime.now(dt.UTC))
    assert result.outcome == "baseline"
    monkeypatch.setattr(cli_explain, "load_index", lambda: index)
    yield db_url


def _explain(*args: str) -> Result:
    return CliRunner().invoke(cli_explain.explain, list(args), env={"COLUMNS": "250"})


def test_explain_expands_the_policy_wildcard_to_every_rekognition_action(explained: str, index: ActionIndex) -> None:
    result = _explain("AmazonRekognitionFullAccess", "--database-url", explained)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert sorted(r["action"] for r in rows) == sorted(index.expand("rekognition:*"))
    assert all(r["granted_by"] == ["rekognition:*"] and r["effect"] == "Allow" for r in rows)
    assert {r["policy"] for r in rows} == {"AmazonRekognitionFullAccess"}
    assert {r["dataset"] for r in rows} == {index.version}
    levels = [r["access_level"] for r in rows]
    assert levels == sorted(levels, key=["Permissions management", "Write", "Tagging", "Read", "List"].index)


def test_explain_prints_one_table_per_access_level(explained: str) -> None:
    result = _explain("AmazonRekognitionReadOnlyAccess", "--format", "table", "--database-url", explained)
    assert result.exit_code == 0, result.output
    assert "AmazonRekognitionReadOnlyAccess (rekognition): 32 actions allowed" in result.output
    assert "rekognition: Allow · Read (31)" in result.output
    assert "rekognition: Allow · List (1)" in result.output
    assert "rekognition:ListStreamProcessors" in result.output


def test_explain_as_csv_has_one_line_per_action(explained: str) -> None:
    result = _explain("AmazonRekognitionServiceRole", "--format", "csv", "--database-url", explained)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "policy,source,effect,access_level,action,flags,granted_by,unknown"
    assert lines[1:] == [
        "AmazonRekognitionServiceRole,rekognition,Allow,Write,kinesis:PutRecord,,kinesis:PutRecord,False",
        "AmazonRekognitionServiceRole,rekognition,Allow,Write,kinesis:PutRecords,,kinesis:PutRecords,False",
        "AmazonRekognitionServiceRole,rekognition,Allow,Write,sns:Publish,,sns:Publish,False",
        "AmazonRekognitionServiceRole,rekognition,Allow,Read,kinesisvideo:GetDataEndpoint,,kinesisvideo:GetDataEndpoint,False",
        "AmazonRekognitionServiceRole,rekognition,Allow,Read,kinesisvideo:GetMedia,,kinesisvideo:GetMedia,False",
    ]


def test_explain_of_a_policy_not_in_the_history_fails_with_one_line(explained: str) -> None:
    result = _explain("NoSuchPolicy", "--database-url", explained)
    assert result.exit_code == 2
    assert result.output.strip() == "error: no current version of NoSuchPolicy in the history"
