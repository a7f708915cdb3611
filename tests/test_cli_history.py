"""``watcher db upgrade``, ``ingest``, ``changes``, ``history``, ``when``, ``show``, ``export`` on both databases."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.conftest import REKOGNITION
from watcher.cli import main


def _run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), env={"COLUMNS": "250"})


@pytest.fixture
def loaded(db_url: str) -> str:
    """The database with v1 → v3 ingested an hour apart."""
    for hour, name in enumerate(["page-v1.html", "page-v2.html", "page-v3.html"]):
        result = _run(
            "ingest",
            "rekognition",
            str(REKOGNITION / name),
            "--at",
            f"2026-01-05T0{hour}:00:00Z",
            "--database-url",
            db_url,
        )
        assert result.exit_code == 0, result.output
    return db_url


def test_ingest_prints_the_outcome_and_the_events(db_url: str) -> None:
    first = _run("ingest", "rekognition", str(REKOGNITION / "page-v1.html"), "--database-url", db_url)
    second = _run("ingest", "rekognition", str(REKOGNITION / "page-v2.html"), "--database-url", db_url)
    assert json.loads(first.output) == {"source": "rekognition", "outcome": "baseline", "events": ["baseline"]}
    assert json.loads(second.output) == {
        "source": "rekognition",
        "outcome": "changed",
        "events": ["actions_added", "update_row_added"],
    }


def test_ingest_of_a_missing_file_fails_with_one_line(db_url: str) -> None:
    result = CliRunner().invoke(main, ["ingest", "x", "/nonexistent/page.html", "--database-url", db_url])
    assert result.exit_code == 2
    assert result.output.strip().startswith("error: cannot read /nonexistent/page.html")
    assert len(result.output.strip().splitlines()) == 1


def test_changes_lists_events_with_the_documented_keys(loaded: str) -> None:
    rows = json.loads(_run("changes", "--kind", "actions_added", "--database-url", loaded).output)
    assert [(r["kind"], r["source"], r["policy"], r["actions"], r["detected_at"]) for r in rows] == [
        (
            "actions_added",
            "rekognition",
            "AmazonRekognitionReadOnlyAccess",
            ["rekognition:GetMediaAnalysisJob", "rekognition:ListMediaAnalysisJobs"],
            "2026-01-05T01:00:00+00:00",
        )
    ]


def test_changes_as_csv_and_table(loaded: str) -> None:
    out = _run("changes", "--since", "2026-01-05T02:00", "--format", "csv", "--database-url", loaded).output
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["kind"] for r in rows] == ["actions_removed", "policy_added", "update_row_added", "update_row_added"]
    assert rows[0]["actions"] == "rekognition:DistributeDatasetEntries"
    table = _run("changes", "--action", "rekognition:Get*", "--format", "table", "--database-url", loaded).output
    assert "AmazonRekognitionReadOnlyAccess" in table and "actions_added" in table


def test_changes_show_each_events_severity_and_filter_by_the_lowest_wanted(loaded: str) -> None:
    every = json.loads(_run("changes", "--database-url", loaded).output)
    assert [(r["kind"], r["severity"]) for r in every] == [
        ("baseline", "info"),
        ("actions_added", "low"),  # two Read/List actions
        ("update_row_added", "low"),
        ("actions_removed", "medium"),  # AWS says it does not remove permissions
        ("policy_added", "high"),  # the new policy grants Write actions
        ("update_row_added", "low"),
        ("update_row_added", "low"),
    ]
    assert "severity" not in every[1]["details"]
    serious = json.loads(_run("changes", "--min-severity", "medium", "--database-url", loaded).output)
    assert [r["kind"] for r in serious] == ["actions_removed", "policy_added"]


def test_history_when_and_show(loaded: str) -> None:
    history = json.loads(_run("history", "AmazonRekognitionReadOnlyAccess", "--database-url", loaded).output)
    assert [(h["action_count"], len(h["added"])) for h in history] == [(30, 0), (32, 2)]
    when = json.loads(_run("when", "rekognition:DistributeDatasetEntries", "--database-url", loaded).output)
    assert [(w["policy"], w["until"]) for w in when] == [
        ("AmazonRekognitionCustomLabelsFullAccess", "2026-01-05T02:00:00+00:00"),
        ("AmazonRekognitionFullAccess", None),
    ]
    shown = json.loads(
        _run("show", "AmazonRekognitionReadOnlyAccess", "--at", "2026-01-05T00:30", "--database-url", loaded).output
    )
    assert len(shown[0]["document"]["Statement"][0]["Action"]) == 30


def test_show_of_an_unknown_policy_fails_cleanly(loaded: str) -> None:
    result = _run("show", "NoSuchPolicy", "--database-url", loaded)
    assert result.exit_code == 2
    assert "no version of NoSuchPolicy" in result.output


def test_a_bad_date_names_the_expected_format(loaded: str) -> None:
    result = _run("changes", "--since", "last tuesday", "--database-url", loaded)
    assert result.exit_code == 2
    assert "not an ISO date" in result.output


def test_export_writes_json_and_one_csv_row_per_action(loaded: str) -> None:
    events = json.loads(_run("export", "--database-url", loaded).output)
    assert [e["kind"] for e in events].count("update_row_added") == 3
    rows = list(csv.DictReader(io.StringIO(_run("export", "--format", "csv", "--database-url", loaded).output)))
    removed = [r for r in rows if r["kind"] == "actions_removed"]
    assert [(r["policy"], r["effect"], r["action"]) for r in removed] == [
        ("AmazonRekognitionCustomLabelsFullAccess", "Allow", "rekognition:DistributeDatasetEntries")
    ]
    added = [r for r in rows if r["kind"] == "policy_added"]
    assert [(r["severity"], r["action"], r["access_level"], r["action_severity"]) for r in added] == [
        ("high", "rekognition:CreateFaceLivenessSession", "Write", "high"),
        ("high", "rekognition:GetFaceLivenessSessionResults", "Read", "low"),
        ("high", "rekognition:StartFaceLivenessSession", "Write", "high"),
    ]


def test_queries_on_a_database_without_schema_say_how_to_fix_it(tmp_path: Path) -> None:
    result = _run("changes", "--database-url", f"sqlite:///{tmp_path / 'empty.db'}")
    assert result.exit_code == 2
    assert "run `watcher db upgrade`" in result.output


def test_db_upgrade_reports_the_revision(tmp_path: Path) -> None:
    result = _run("db", "upgrade", "--database-url", f"sqlite:///{tmp_path / 'new.db'}")
    assert result.exit_code == 0
    assert result.output.strip() == "database at revision 0006"


def test_ingest_rates_changes_with_the_risk_rules_of_a_config_file(db_url: str, tmp_path: Path) -> None:
    config = tmp_path / "watcher.toml"
    config.write_text('[risk.kinds]\nactions_added = "critical"\n')
    for name in ("page-v1.html", "page-v2.html"):
        args = ["ingest", "rekognition", str(REKOGNITION / name), "--config", str(config), "--database-url", db_url]
        assert _run(*args).exit_code == 0
    rows = json.loads(_run("changes", "--kind", "actions_added", "--database-url", db_url).output)
    assert [r["severity"] for r in rows] == ["critical"]


def test_ingest_with_a_broken_config_names_the_key(db_url: str, tmp_path: Path) -> None:
    config = tmp_path / "watcher.toml"
    config.write_text('[risk.kinds]\nactions_added = "dire"\n')
    result = _run(
        "ingest", "rekognition", str(REKOGNITION / "page-v1.html"), "--config", str(config), "--database-url", db_url
    )
    assert result.exit_code == 2
    assert "risk.kinds.actions_added" in result.output


UNREACHABLE = "postgresql+psycopg://watcher:s3cret@127.0.0.1:1/watcher"  # nothing listens on port 1


@pytest.mark.parametrize("command", ["changes", "history", "when"])
def test_a_database_that_does_not_answer_is_one_error_line_with_its_password_masked(command: str) -> None:
    args = [command, "--database-url", UNREACHABLE] + (["AnyPolicy"] if command == "history" else [])
    args += ["s3:GetObject"] if command == "when" else []
    result = _run(*args)
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "error: cannot open the database at postgresql+psycopg://watcher:***@127.0.0.1:1/watcher: connection failed"
    )
    assert "s3cret" not in result.output


def test_a_sqlite_file_that_cannot_be_created_is_one_error_line_saying_what_it_needs(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")  # where the database's directory should be
    url = f"sqlite:///{tmp_path / 'a-file' / 'watcher.db'}"
    result = _run("changes", "--database-url", url)
    assert (result.exit_code, result.stderr) == (
        2,
        f"error: cannot open the database at {url}: unable to open database file (the file's directory must exist "
        "or be one the watcher can create, and be writable)\n",
    )
