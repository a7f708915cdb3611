"""The Slack channel: how ``render`` shows severities, access levels, flags and reconciliation alerts (issue 6)."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from tests.notify_risk_samples import (
    REMOVAL_NOTE,
    S3_GET_STAR,
    classified,
    hostile_risk_digest,
    reconciliation_digest,
    risk_digest,
)
from tests.notify_samples import HOSTILE_TEXTS, long_digest, v2_digest
from tests.test_notify_slack import assert_safe_markup, assert_within_limits, header, mrkdwn_texts, sections
from watcher.notify import slack
from watcher.notify.model import Digest

# --- render: severity, access levels and flags (issue 6) ---------------------------------------------------------


@pytest.mark.parametrize(
    "section, line",
    [
        (0, ":rotating_light: *critical* · *<"),
        (0, "*Added:*\n• `iam:PassRole`  Write · privilege escalation · on `*`\n"),
        (
            0,
            "• `s3:Get*`  grants 54 actions (Read 54) · resource exposure · on `*`; "
            "riskiest: `s3:GetObject`, `s3:GetBucketPolicy`, `s3:GetObjectAcl`, …\n",
        ),
        (0, "• `rekognition:DoTheThing`  unknown action (new API or typo)"),
        (1, ":large_yellow_circle: *low* · *<"),
        (1, "*Removed:*\n• `rekognition:DistributeDatasetEntries`  Write · on `*`\n"),
        (1, f"*Note:* {REMOVAL_NOTE}\n*Updates table, 2024-03-04:*"),
        (2, ":large_orange_circle: *medium* · *<"),
        (2, "*It granted (Deny):*\n• `rekognition:DeleteCollection`  Write · on `*`\n"),
        (2, f"*Note:* {REMOVAL_NOTE}"),
        (3, ":information_source: *info* · *New documentation update:* <"),
    ],
)
def test_each_change_shows_its_severity_and_each_action_its_level_and_flags(section: int, line: str) -> None:
    assert line in sections(slack.render(risk_digest()))[section]


@pytest.mark.parametrize(
    "severity, lead",
    [("critical", "[critical] "), ("high", "[high] "), ("medium", ""), ("low", ""), ("info", ""), (None, "")],
)
def test_the_headline_leads_with_a_high_or_critical_severity(severity: str | None, lead: str) -> None:
    notice = replace(v2_digest().notices[0], severity=severity)
    payload = slack.render(Digest("k", (notice,)))
    assert header(payload) == f"{lead}AmazonRekognitionReadOnlyAccess: +2 actions"
    assert payload["text"].startswith(f"{lead}Policy Watcher: AmazonRekognitionReadOnlyAccess: +2 actions\n")
    badges = {"critical": ":rotating_light:", "high": ":red_circle:", "medium": ":large_orange_circle:"}
    badges |= {"low": ":large_yellow_circle:", "info": ":information_source:"}
    expected = f"{badges[severity]} *{severity}* · *<" if severity else "*<"
    assert sections(payload)[0].startswith(expected)


def test_the_digest_headline_takes_the_highest_severity() -> None:
    payload = slack.render(risk_digest())
    assert header(payload) == "[critical] 3 policies changed"
    assert payload["text"].startswith("[critical] Policy Watcher: 3 policies changed\n")


@pytest.mark.parametrize("severity", ["", "urgent", "CRITICAL ", None])
def test_a_missing_or_unknown_severity_shows_nothing_or_its_level(severity: str | None) -> None:
    notice = replace(v2_digest().notices[0], severity=severity)
    text = sections(slack.render(Digest("k", (notice,))))[0]
    if severity == "CRITICAL ":  # case and spaces do not matter
        assert text.startswith(":rotating_light: *critical* · ")
    else:
        assert text.startswith("*<")


def test_changes_of_one_policy_with_different_severities_each_get_a_badge() -> None:
    added = replace(risk_digest().notices[0], policy="P")
    removed = replace(risk_digest().notices[1], policy="P", update_row=None)
    text = sections(slack.render(Digest("k", (added, removed))))[0]
    assert text.startswith(":rotating_light: *critical* · *<")
    assert "\n:rotating_light: *critical* · *Added:*\n" in text
    assert "\n:large_yellow_circle: *low* · *Removed:*\n" in text


def test_without_a_classification_actions_stay_a_compact_list() -> None:
    notice = replace(risk_digest().notices[0], details={})
    text = sections(slack.render(Digest("k", (notice,))))[0]
    assert "*Added:* `iam:PassRole`, `s3:Get*`, `rekognition:DoTheThing`" in text


def test_a_wildcard_matching_nothing_and_a_plain_action_without_flags() -> None:
    nothing = {**S3_GET_STAR, "action": "s3:Nope*", "unknown": True, "expands_to_count": 0}
    plain = classified("Allow", "s3:ListBucket", level="List", on_all_resources=False)
    grants = (("Allow", "s3:Nope*"), ("Allow", "s3:ListBucket"))
    notice = replace(risk_digest().notices[0], grants=grants, details={"classification": {"grants": [nothing, plain]}})
    text = sections(slack.render(Digest("k", (notice,))))[0]
    assert "• `s3:Nope*`  matches no known action (new API or typo) · on `*`\n" in text
    assert text.endswith("• `s3:ListBucket`  List")


def test_undocumented_changes_and_documentation_mismatches_get_a_clear_section() -> None:
    payload = slack.render(reconciliation_digest())
    undocumented, mismatch = sections(payload)
    assert undocumented.startswith(":mag: *Undocumented change to <")
    assert "|AmazonRekognitionFullAccess>*: actions added on 2026-11-20 10:00 UTC, not documented within 7 days\n" in (
        undocumented
    )
    assert "\nReason: no updates-table row or feed item mentions AmazonRekognitionFullAccess within 7 days" in (
        undocumented
    )
    assert undocumented.endswith("\n*Added:* `iam:PassRole`, `s3:Get*`")
    assert mismatch.startswith(":warning: *Documentation mismatch for <")
    assert "|AmazonRekognitionReadOnlyAccess>*: AWS says it added actions the policy does not grant\n" in mismatch
    assert "\nReason: the updates row of 2023-10-31 says rekognition:Foo was added" in mismatch
    assert "\n*Updates table, 2023-10-31:* Actions added to the following managed policy" in mismatch
    assert mismatch.endswith("\n*Missing:* `rekognition:Foo`")
    assert header(payload) == "2 changes"
    one = Digest("k", reconciliation_digest().notices[1:])
    assert header(slack.render(one)) == "Documentation mismatch: AmazonRekognitionReadOnlyAccess"


def test_hostile_text_in_classifications_notes_and_alerts_stays_text() -> None:
    payload = slack.render(hostile_risk_digest())
    raw = json.dumps(payload, ensure_ascii=False)
    for bad in (*HOSTILE_TEXTS, "\r"):
        assert bad not in raw
    for text in mrkdwn_texts(payload):
        assert_safe_markup(text)
    assert_within_limits(payload)


def test_500_classified_actions_stay_within_the_limits() -> None:
    entries = [
        classified(
            "Allow", f"rekognition:Action{i:04d}WithAQuiteLongName", level="Write", flags=("privilege_escalation",)
        )
        for i in range(500)
    ]
    entries += [{**S3_GET_STAR, "riskiest": [{"action": "s3:" + "x" * 500}] * 5}]
    grants = tuple((str(e["effect"]), str(e["action"])) for e in entries)
    notice = replace(
        risk_digest().notices[1],
        grants=grants,
        details={"classification": {"grants": entries}, "note": "n" * 5000},
        update_row={"change": "&" * 10000, "date": "2024-01-01"},
    )
    payload = slack.render(Digest("k", (notice, *long_digest(actions=1, policies=60).notices)))
    assert_within_limits(payload)
    text = sections(payload)[0]
    match = re.search(r"\n… and (\d+) more\n", text)
    assert match is not None and text.count("\n• `rekognition:") + int(match.group(1)) == 501
    assert not any(t.endswith("\n…") for t in sections(payload))  # the budgets held: no last-resort cut
