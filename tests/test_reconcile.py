"""Reconciliation (issue 6): what AWS said (updates rows, feed items) against what it did (the JSON diffs).

Pure rules table by table, then the Rekognition fixture history through the real pipeline on SQLite and
PostgreSQL, with ``now`` injected (nothing sleeps).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import REKOGNITION
from watcher.cli import main
from watcher.config import Settings
from watcher.db.models import Delivery, DeliveryEvent, Event
from watcher.diff import ChangeKind
from watcher.model import Page
from watcher.notify.settings import ConsoleSettings
from watcher.parse import parse
from watcher.pipeline import ingest
from watcher.risk.reconcile import (
    DocItem,
    DocRow,
    Documentation,
    ObservedChange,
    claimed_additions,
    mismatches,
    near_miss,
    undocumented,
)
from watcher.store.reconcile import grace_of, reconcile, run_reconciliation

GRACE = dt.timedelta(days=7)
CHANGED = dt.datetime(2024, 4, 1, 10, 0, tzinfo=dt.UTC)
POLICY = "AmazonRekognitionReadOnlyAccess"
ADDED = ("rekognition:GetMediaAnalysisJob", "rekognition:ListMediaAnalysisJobs")


def _t(days: float) -> dt.datetime:
    return CHANGED + dt.timedelta(days=days)


def _change(kind: str = "actions_added", policy: str = POLICY, actions: tuple[str, ...] = ADDED) -> ObservedChange:
    return ObservedChange(1, "rek", policy, kind, tuple(("Allow", a) for a in actions), CHANGED)


def _row(
    text: str,
    *,
    policies: tuple[str, ...] = (POLICY,),
    actions: tuple[str, ...] = (),
    day: float | None = 0,
    seen: float | None = None,
    baseline: bool = False,
) -> DocRow:
    """A row dated ``day`` days after the change, first seen ``seen`` days after it (default: on its date)."""
    date = None if day is None else _t(day).date()
    first_seen = _t(seen if seen is not None else day or 0)
    return DocRow("k1", "rek", date, "Update", text, policies, actions, first_seen, baseline)


def _item(text: str, day: float = 0) -> DocItem:
    return DocItem("g1", "feed", _t(day).date(), "AWS managed policy updates", text, _t(day))


# ------------------------------------------------------------------------------------------- undocumented (pure)


def _one_row(text: str = "x", **kwargs: Any) -> Documentation:
    return Documentation((_row(text, **kwargs),))


def _one_item(text: str) -> Documentation:
    return Documentation((), (_item(text),))


C, NEW = _change(), "AmazonRekognitionFaceLivenessAccess"
DETECT, MISSPELT = ("rekognition:DetectText",), ("rekognition:ListMediaAnalysisJob",)
UNDOCUMENTED_CASES: list[tuple[str, ObservedChange, Documentation, float, int]] = [
    ("no documentation at all", C, Documentation(), 7, 1),
    ("too young: AWS may still write", C, Documentation(), 6.9, 0),
    ("row naming policy and an added action", C, _one_row("added", actions=ADDED[:1]), 7, 0),
    ("row naming the policy, no actions", C, _one_row("updated"), 7, 0),
    ("row naming the policy, only other actions", C, _one_row("added", actions=DETECT), 7, 1),
    ("row misspelling an added action", C, _one_row("added", actions=MISSPELT), 7, 0),
    ("row naming another policy", C, _one_row(policies=("AmazonOther",)), 7, 1),
    ("row dated grace + 1 day later", C, _one_row(day=8), 9, 0),
    ("row dated grace + 2 days later", C, _one_row(day=9), 10, 1),
    ("row dated grace + 1 day earlier", C, _one_row(day=-8), 7, 0),
    ("row dated grace + 2 days earlier, no action", C, _one_row(day=-9), 7, 1),
    ("row dated 20 days earlier naming an added action", C, _one_row(day=-20, actions=ADDED), 7, 0),
    ("undated row first seen the same day", C, _one_row(day=None, seen=1), 7, 0),
    ("row dated long before, first seen with the change", C, _one_row(day=-45, seen=0), 7, 0),
    ("baseline row dated long before, seen with the change", C, _one_row(day=-45, seen=0, baseline=True), 7, 1),
    ("policy named only in the row text", C, _one_row(f"{POLICY} got", policies=()), 7, 0),
    ("feed item naming policy and bare action", C, _one_item(f"GetMediaAnalysisJob {POLICY}"), 7, 0),
    ("feed item naming the policy, no action", C, _one_item(f"Updated {POLICY}."), 7, 0),
    ("feed item naming the policy and another action", C, _one_item(f"Added {DETECT[0]} to {POLICY}."), 7, 1),
    ("feed item not naming the policy", C, _one_item("Added GetMediaAnalysisJob."), 7, 1),
    ("new policy documented by its row", _change("policy_added", NEW), _one_row("New", policies=(NEW,)), 7, 0),
    ("new policy undocumented", _change("policy_added", NEW), Documentation(), 8, 1),
    ("removal documented (any action)", _change("actions_removed", actions=DETECT), _one_row(actions=ADDED), 7, 0),
    ("removal undocumented", _change("actions_removed"), Documentation(), 7, 1),
    ("policy removal undocumented", _change("policy_removed"), Documentation(), 7, 1),
    ("not a policy-change kind", _change("statement_changed"), Documentation(), 7, 0),
]


@pytest.mark.parametrize(
    ("change", "docs", "now_days", "expected"),
    [case[1:] for case in UNDOCUMENTED_CASES],
    ids=[case[0] for case in UNDOCUMENTED_CASES],
)
def test_undocumented_rules(change: ObservedChange, docs: Documentation, now_days: float, expected: int) -> None:
    found = undocumented([change], docs, _t(now_days), GRACE)
    assert len(found) == expected
    for finding in found:
        assert finding.kind is ChangeKind.UNDOCUMENTED_CHANGE
        assert (finding.policy, finding.grants) == (change.policy, change.grants)


def test_an_undocumented_change_says_what_when_and_which_window() -> None:
    [finding] = undocumented([_change()], Documentation(), _t(7), GRACE)
    assert finding.detail == {
        "change_kind": "actions_added",
        "event_id": 1,
        "changed_at": "2024-04-01T10:00:00+00:00",
        "grace_days": 7,
        "window": {"from": "2024-03-24", "to": "2024-04-09"},
        "reason": "The JSON shows that 2 actions were added to AmazonRekognitionReadOnlyAccess on 2024-04-01, but no "
        "updates row or feed item naming AmazonRekognitionReadOnlyAccess is dated between 2024-03-24 and 2024-04-09.",
    }


# ------------------------------------------------------------------------------------------- mismatches (pure)

DOCS: dict[str, frozenset[str] | None] = {
    POLICY: frozenset({"rekognition:getmediaanalysisjob", "rekognition:list*"}),
    "AmazonRekognitionFullAccess": frozenset({"rekognition:*"}),
    "AmazonUnknown": None,
    "AmazonEmpty": frozenset(),
}
GET, PUT = "rekognition:GetMediaAnalysisJob", "rekognition:PutThing"

JOBZ = ("rekognition:GetMediaAnalysisJobz",)
MISMATCH_CASES: list[tuple[str, DocRow, tuple[ObservedChange, ...], list[tuple[str, list[str]]]]] = [
    ("claimed and granted", _row(f"Added {GET} to {POLICY}.", actions=(GET,)), (), []),
    ("one claimed action missing", _row(f"Added {GET} and {PUT}.", actions=(GET, PUT)), (), [(POLICY, [PUT])]),
    ("granted through a wildcard", _row("Added ListFoo.", actions=("rekognition:ListFoo",)), (), []),
    ("service wildcard", _row("Added PutThing.", policies=("AmazonRekognitionFullAccess",), actions=(PUT,)), (), []),
    ("case-insensitive", _row("Added GETMEDIAANALYSISJOB.", actions=("rekognition:GETMEDIAANALYSISJOB",)), (), []),
    ("'new permissions' wording", _row("New permissions: PutThing.", actions=(PUT,)), (), [(POLICY, [PUT])]),
    ("'now includes' wording", _row("The policy now includes PutThing.", actions=(PUT,)), (), [(POLICY, [PUT])]),
    ("removal wording claims nothing", _row("Removed PutThing from the policy.", actions=(PUT,)), (), []),
    ("no addition wording", _row("Tagging update: PutThing.", actions=(PUT,)), (), []),
    ("adds and removes in one clause", _row("Added GetX and removed PutThing.", actions=(PUT,)), (), []),
    ("baseline rows are history", _row("Added PutThing.", actions=(PUT,), baseline=True), (), []),
    ("too young: the JSON may follow", _row("Added PutThing.", actions=(PUT,), seen=0.5), (), []),
    ("unknown document", _row("Added PutThing.", policies=("AmazonUnknown",), actions=(PUT,)), (), []),
    ("policy not on the page", _row("Added PutThing.", policies=("AmazonNowhere",), actions=(PUT,)), (), []),
    (
        "clauses attribute actions to the policies they name",
        _row(
            f"Added {GET} to {POLICY}. Added {PUT} to AmazonEmpty.",
            policies=(POLICY, "AmazonEmpty"),
            actions=(GET, PUT),
        ),
        (),
        [("AmazonEmpty", [PUT])],
    ),
    ("misspelling of an observed addition", _row(f"Added {JOBZ[0]}.", actions=JOBZ), (_change(actions=(GET,)),), []),
    ("misspelling with no observed addition", _row(f"Added {JOBZ[0]}.", actions=JOBZ), (), [(POLICY, list(JOBZ))]),
    (
        "granted after the row, removed since",
        _row("Added PutThing.", actions=(PUT,), seen=-5),
        (_change("actions_removed", actions=(PUT,)),),
        [],
    ),
]


@pytest.mark.parametrize(
    ("row", "changes", "expected"),
    [case[1:] for case in MISMATCH_CASES],
    ids=[case[0] for case in MISMATCH_CASES],
)
def test_mismatch_rules(row: DocRow, changes: tuple[ObservedChange, ...], expected: list[Any]) -> None:
    found = mismatches([row], DOCS, _t(7), GRACE, changes)
    assert [(f.policy, list(f.detail["missing"])) for f in found] == expected
    for finding in found:
        assert finding.kind is ChangeKind.DOCUMENTATION_MISMATCH
        assert finding.grants == tuple(("Allow", a) for a in finding.detail["missing"])
        assert finding.detail["row"]["key"] == row.key


def test_the_fixture_v2_row_claims_both_actions_one_misspelt() -> None:
    page = parse((REKOGNITION / "page-v2.html").read_bytes())
    assert isinstance(page, Page)
    r = page.updates[0]
    row = DocRow("k", "rek", dt.date(2023, 10, 31), r.change, r.description, r.policies, r.actions, _t(0))
    assert claimed_additions(row) == {POLICY: ["rekognition:GetMediaAnalysisJob", "rekognition:ListMediaAnalysisJob"]}
    assert near_miss("rekognition:ListMediaAnalysisJob", "rekognition:ListMediaAnalysisJobs")
    assert not near_miss("rekognition:ListMediaAnalysisJob", "s3:ListMediaAnalysisJobs")
    assert not near_miss("rekognition:Get*", "rekognition:Get")


def test_grace_comes_from_the_risk_settings() -> None:
    assert grace_of(Settings.model_validate({"risk": {"documentation_grace_days": 3}})) == dt.timedelta(days=3)
    assert grace_of(Settings()) == dt.timedelta(days=7)  # the default, without a [risk] table


# ------------------------------------------------------------------------------------------- the fixture history

PAGE_URL = "https://docs.aws.amazon.com/rekognition/latest/dg/security-iam-awsmanpol.html"
FEED_URL = "https://docs.aws.amazon.com/rekognition/latest/dg/rekognition-document-history.rss"
NEW_ACTION = "rekognition:DescribeCollection"


def _utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def _ingest(sessions: sessionmaker[Session], name: str, when: str, body: bytes | None = None) -> list[str]:
    feed = name.endswith(".rss")
    data = body if body is not None else (REKOGNITION / name).read_bytes()
    source, url = ("rekognition-history", FEED_URL) if feed else ("rekognition-policies", PAGE_URL)
    return ingest(sessions, source, data, url=url, now=_utc(when)).events


def _history(sessions: sessionmaker[Session]) -> None:
    """v1..v4 and the feed, each seen soon after the dates of its rows (2023-10-31, 2024-03-04)."""
    _ingest(sessions, "page-v1.html", "2023-10-01T09:00")
    _ingest(sessions, "doc-history-v1.rss", "2023-10-01T09:00")
    assert _ingest(sessions, "page-v2.html", "2023-10-31T21:00") == ["actions_added", "update_row_added"]
    _ingest(sessions, "doc-history-v2.rss", "2023-11-01T09:00")
    assert _ingest(sessions, "page-v3.html", "2024-03-05T09:00")[:2] == ["actions_removed", "policy_added"]
    assert _ingest(sessions, "page-v4.html", "2024-03-06T09:00") == []


def _page(*, action: bool = False, row: bool = False) -> bytes:
    """page-v4 with a new action in AmazonRekognitionReadOnlyAccess's JSON and/or a new updates row claiming it."""
    html = (REKOGNITION / "page-v4.html").read_text()
    if action:
        anchor = '"rekognition:CompareFaces"'
        assert html.count(anchor) == 1
        html = html.replace(anchor, f'"{NEW_ACTION}", {anchor}')
    if row:
        head = html.index("</thead>", html.index('id="security-iam-awsmanpol-updates"')) + len("</thead>")
        new_row = (
            "<tr><td><p>New action added to AWS managed policy: AmazonRekognitionReadOnlyAccess</p></td>"
            "<td><p>Amazon Rekognition added the <code class='code'>DescribeCollection</code> action to the "
            "AmazonRekognitionReadOnlyAccess managed policy.</p></td><td> April 1, 2024 </td></tr>"
        )
        html = html[:head] + new_row + html[head:]
    return html.encode()


def _reconcile(sessions: sessionmaker[Session], when: str) -> list[tuple[Any, ...]]:
    with sessions.begin() as session:
        events = reconcile(session, _utc(when), GRACE)
        return [(e.kind, e.policy, [a for _, a in e.payload["grants"]]) for e in events]


def _count(sessions: sessionmaker[Session], kind: str) -> int:
    with sessions() as session:
        return len(session.scalars(select(Event.id).where(Event.kind == kind)).all())


def test_the_fixture_history_is_documented(sessions: sessionmaker[Session]) -> None:
    _history(sessions)
    # v2's added actions match the 2023-10-31 row (which misspells one of them); v3's removal and new policy
    # match their 2024-03-04 rows; the rows' claims match the JSON. Nothing to report at any time.
    for when in ("2023-11-01T09:00", "2023-11-10T09:00", "2024-03-08T09:00", "2024-03-20T09:00", "2024-04-30"):
        assert _reconcile(sessions, when) == [], when


def test_without_the_feed_the_rows_alone_document_the_history(sessions: sessionmaker[Session]) -> None:
    _ingest(sessions, "page-v1.html", "2023-10-01T09:00")
    _ingest(sessions, "page-v2.html", "2023-10-31T21:00")
    _ingest(sessions, "page-v3.html", "2024-03-05T09:00")
    assert _reconcile(sessions, "2023-11-10") == []
    assert _reconcile(sessions, "2024-03-20") == []


def _v2_row_without_its_actions() -> bytes:
    """page-v2 with the 2023-10-31 row but v1's JSON: AWS wrote first."""
    html = (REKOGNITION / "page-v2.html").read_text()
    added = '"rekognition:ListProjectPolicies",\n                "rekognition:GetMediaAnalysisJob",\n'
    added += '                "rekognition:ListMediaAnalysisJobs"'
    assert html.count(added) == 1
    return html.replace(added, '"rekognition:ListProjectPolicies"').encode()


def test_a_row_far_from_its_change_is_a_mismatch_then_an_undocumented_change(sessions: sessionmaker[Session]) -> None:
    # The control: the 2023-10-31 row appears on its date, the JSON follows six weeks later.
    _ingest(sessions, "page-v1.html", "2023-10-01T09:00")
    row_first = _ingest(sessions, "row-first.html", "2023-10-31T21:00", _v2_row_without_its_actions())
    assert row_first == ["update_row_added"]
    assert _reconcile(sessions, "2023-11-07T20:00") == []  # within the grace
    claimed = ["rekognition:GetMediaAnalysisJob", "rekognition:ListMediaAnalysisJob"]
    assert _reconcile(sessions, "2023-11-07T21:00") == [("documentation_mismatch", POLICY, claimed)]
    assert _ingest(sessions, "page-v2.html", "2023-12-15T09:00") == ["actions_added"]
    assert _reconcile(sessions, "2023-12-22T08:59") == []
    assert _reconcile(sessions, "2023-12-22T09:00") == [("undocumented_change", POLICY, list(ADDED))]
    assert _reconcile(sessions, "2023-12-23T09:00") == []


def test_a_constructed_undocumented_change_is_reported_once_after_the_grace(sessions: sessionmaker[Session]) -> None:
    _history(sessions)
    assert _ingest(sessions, "added.html", "2024-04-01T10:00", _page(action=True)) == ["actions_added"]
    assert _reconcile(sessions, "2024-04-05T10:00") == []
    assert _reconcile(sessions, "2024-04-08T09:59") == []
    assert _reconcile(sessions, "2024-04-08T10:00") == [("undocumented_change", POLICY, [NEW_ACTION])]
    assert _reconcile(sessions, "2024-04-08T10:00") == []
    assert _reconcile(sessions, "2024-04-20T10:00") == []
    with sessions() as session:
        finding = session.scalars(select(Event).where(Event.kind == "undocumented_change")).one()
        added = session.scalars(select(Event).where(Event.kind == "actions_added").order_by(Event.id.desc())).first()
        assert added is not None
        assert finding.payload["event_id"] == added.id
        assert finding.payload["change_kind"] == "actions_added"
        assert finding.snapshot_id is None


def test_a_constructed_row_claiming_a_missing_action_is_a_mismatch(sessions: sessionmaker[Session]) -> None:
    _history(sessions)
    assert _ingest(sessions, "claimed.html", "2024-04-01T10:00", _page(row=True)) == ["update_row_added"]
    assert _reconcile(sessions, "2024-04-08T09:59") == []  # AWS gets the grace to update the JSON
    assert _reconcile(sessions, "2024-04-08T10:00") == [("documentation_mismatch", POLICY, [NEW_ACTION])]
    assert _reconcile(sessions, "2024-04-09T10:00") == []
    with sessions() as session:
        finding = session.scalars(select(Event).where(Event.kind == "documentation_mismatch")).one()
        assert finding.payload["missing"] == [NEW_ACTION]
        assert finding.payload["row"]["date"] == "2024-04-01"
        assert "DescribeCollection" in finding.payload["row"]["description"]
    # The JSON catches up 9 days after the row's date: the addition is documented by that row, and the
    # mismatch (already reported) is not reported again.
    assert _ingest(sessions, "both.html", "2024-04-10T10:00", _page(action=True, row=True)) == ["actions_added"]
    assert _reconcile(sessions, "2024-04-20T10:00") == []
    assert (_count(sessions, "undocumented_change"), _count(sessions, "documentation_mismatch")) == (0, 1)


def test_a_row_and_the_json_changing_together_are_reconciled(sessions: sessionmaker[Session]) -> None:
    _history(sessions)
    events = _ingest(sessions, "both.html", "2024-04-01T10:00", _page(action=True, row=True))
    assert events == ["actions_added", "update_row_added"]
    assert _reconcile(sessions, "2024-04-09T10:00") == []


def test_run_reconciliation_enqueues_for_operator_channels_only(sessions: sessionmaker[Session]) -> None:
    _history(sessions)
    _ingest(sessions, "added.html", "2024-04-01T10:00", _page(action=True))
    ops, team = ConsoleSettings(type="console", name="ops", operator=True), ConsoleSettings(type="console", name="team")
    settings = Settings(channels=[ops, team])
    assert run_reconciliation(sessions, settings, _utc("2024-04-05T10:00")) == []
    ids = run_reconciliation(sessions, settings, _utc("2024-04-09T10:00"))
    assert len(ids) == 1
    assert run_reconciliation(sessions, settings, _utc("2024-04-10T10:00")) == []
    joined = select(Delivery.channel, DeliveryEvent.event_id).join(DeliveryEvent)
    with sessions() as session:
        assert [tuple(r) for r in session.execute(joined) if r[1] in ids] == [("ops", ids[0])]


def test_the_reconcile_command(sessions: sessionmaker[Session], db_url: str, tmp_path: Any) -> None:
    _history(sessions)
    _ingest(sessions, "added.html", "2024-04-01T10:00", _page(action=True))
    config = tmp_path / "watcher.toml"
    config.write_text("")
    runner = CliRunner()
    base = ["reconcile", "--config", str(config), "--db", db_url]
    early = runner.invoke(main, [*base, "--now", "2024-04-05T10:00"])
    assert early.exit_code == 0, early.output
    assert early.stdout.strip() == "0 new findings (grace 7 days)"
    dry = runner.invoke(main, [*base, "--now", "2024-04-05T10:00", "--grace-days", "2", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.splitlines()[0].startswith(f"undocumented_change\trekognition-policies\t{POLICY}\tThe JSON")
    assert dry.stdout.splitlines()[-1] == "1 new finding (grace 2 days) (dry run: nothing written)"
    assert _count(sessions, "undocumented_change") == 0
    real = runner.invoke(main, [*base, "--now", "2024-04-09T10:00"])
    assert real.exit_code == 0, real.output
    assert real.stdout.splitlines()[-1] == "1 new finding (grace 7 days)"
    again = runner.invoke(main, [*base, "--now", "2024-04-09T10:00"])
    assert again.stdout.strip() == "0 new findings (grace 7 days)"
    assert _count(sessions, "undocumented_change") == 1
