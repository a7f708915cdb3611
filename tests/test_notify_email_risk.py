"""Email channel: how ``render`` shows severities, access levels, flags and reconciliation alerts (issue 6)."""

from __future__ import annotations

import email
from dataclasses import replace
from email import policy as email_policy

import pytest

from tests.email_helpers import _digest, _part, _render
from tests.notify_risk_samples import REMOVAL_NOTE, hostile_risk_digest, reconciliation_digest, risk_digest
from tests.notify_samples import HOSTILE_TEXTS, v2_digest
from watcher.notify.email import subject

# --- render: severity, access levels and flags (issue 6) ----------------------------------------------------------


@pytest.mark.parametrize(
    "fragment",
    [
        "* AmazonRekognitionFullAccess\n",
        "  [CRITICAL] Actions added (Allow):\n    + iam:PassRole  Write · privilege escalation · on *\n",
        "    + s3:Get*  grants 54 actions (Read 54) · resource exposure · on *; "
        "riskiest: s3:GetObject, s3:GetBucketPolicy, s3:GetObjectAcl, ...\n",
        "    + rekognition:DoTheThing  unknown action (new API or typo)\n",
        "  [LOW] Actions removed (Allow):\n    - rekognition:DistributeDatasetEntries  Write · on *\n"
        f"  Note: {REMOVAL_NOTE}\n  AWS wrote (2024-03-04):",
        "  [MEDIUM] Policy removed from the page.\n  Actions it granted (Allow):\n"
        "    - rekognition:DetectFaces  Read · on *\n  Actions it granted (Deny):\n"
        f"    - rekognition:DeleteCollection  Write · on *\n  Note: {REMOVAL_NOTE}\n",
        "* [INFO] New feed item (2026-01-04): AWS managed policy updates\n",
    ],
)
def test_the_text_part_shows_severities_levels_flags_and_the_removal_note(fragment: str) -> None:
    assert fragment in _part(_render(risk_digest()), "plain")


@pytest.mark.parametrize(
    "fragment",
    [
        '<p style="margin: 0.3em 0"><span style="background: #b00020; color: #ffffff; font-weight: bold; '
        'font-size: 0.8em; padding: 0.1em 0.4em; border-radius: 3px">CRITICAL</span> Actions added (Allow):</p>',
        '<li>+ <code>iam:PassRole</code> <span style="color: #555">Write · '
        '<strong style="color: #b00020">privilege escalation</strong> · on <code>*</code></span></li>',
        "grants 54 actions (Read 54) · <strong",
        "; riskiest: <code>s3:GetObject</code>, <code>s3:GetBucketPolicy</code>, <code>s3:GetObjectAcl</code>, ...",
        '<code>rekognition:DoTheThing</code> <span style="color: #555">unknown action (new API or typo)</span>',
        "#1c7ed6; color: #ffffff",  # low
        "#f59f00; color: #000000",  # medium
        '<h3 style="font-size: 1em; margin-bottom: 0.2em"><span style="background: #868e96',  # info, on a feed item
        f'<p style="margin: 0.3em 0">Note: {REMOVAL_NOTE}</p>',
    ],
)
def test_the_html_part_shows_coloured_severities_levels_flags_and_the_removal_note(fragment: str) -> None:
    assert fragment in _part(_render(risk_digest()), "html")


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        ("critical", "[critical] [Policy Watcher] AmazonRekognitionReadOnlyAccess: +2 actions"),
        ("high", "[high] [Policy Watcher] AmazonRekognitionReadOnlyAccess: +2 actions"),
        ("medium", "[Policy Watcher] AmazonRekognitionReadOnlyAccess: +2 actions"),
        ("low", "[Policy Watcher] AmazonRekognitionReadOnlyAccess: +2 actions"),
        ("info", "[Policy Watcher] AmazonRekognitionReadOnlyAccess: +2 actions"),
        (None, "[Policy Watcher] AmazonRekognitionReadOnlyAccess: +2 actions"),
    ],
)
def test_the_subject_leads_with_a_high_or_critical_severity(severity: str | None, expected: str) -> None:
    digest = _digest(replace(v2_digest().notices[0], severity=severity))
    message = _render(digest)
    assert subject(digest) == message["Subject"] == expected
    text = _part(message, "plain")
    assert text.startswith(expected.replace("[Policy Watcher] ", "") + "\n")
    tag = f"  [{severity.upper()}] Actions added (Allow):\n" if severity else "  Actions added (Allow):\n"
    assert tag in text


def test_the_subject_of_a_mixed_digest_takes_the_highest_severity() -> None:
    digest = _digest(*risk_digest().notices, *reconciliation_digest().notices)
    assert subject(digest) == "[critical] [Policy Watcher] 3 policies changed (Amazon Rekognition) (+2 watcher alerts)"
    assert subject(reconciliation_digest()) == (
        "[Policy Watcher] undocumented change: AmazonRekognitionFullAccess; "
        "documentation mismatch: AmazonRekognitionReadOnlyAccess"
    )


@pytest.mark.parametrize(
    "fragment",
    [
        "Watcher alerts\n==============\n\n* Undocumented change: AmazonRekognitionFullAccess\n",
        "  Actions added on 2026-11-20 10:00 UTC (event 12); AWS documented nothing about it within 7 days.\n"
        "  Reason: no updates-table row or feed item mentions AmazonRekognitionFullAccess within 7 days of the change\n"
        "  Actions added (Allow):\n    + iam:PassRole\n    + s3:Get*\n",
        "* Documentation mismatch: AmazonRekognitionReadOnlyAccess\n",
        "  Reason: the updates row of 2023-10-31 says rekognition:Foo was added; the policy does not grant it\n"
        "  AWS wrote (2023-10-31): Actions added to the following managed policy",
        "  Actions AWS names that the policy lacks:\n    - rekognition:Foo\n",
    ],
)
def test_reconciliation_alerts_go_with_the_watcher_alerts(fragment: str) -> None:
    assert fragment in _part(_render(reconciliation_digest()), "plain")


def test_hostile_text_in_classifications_notes_and_alerts_is_escaped_and_stays_out_of_headers() -> None:
    message = _render(hostile_risk_digest())
    page = _part(message, "html")
    for hostile in HOSTILE_TEXTS:
        assert hostile not in page
    assert "&lt;!channel&gt; &amp; &lt;/script&gt;" in page
    text = _part(message, "plain")
    assert "\r" not in text and "\nX-Evil" not in text
    parsed = email.message_from_bytes(message.as_bytes(), policy=email_policy.default)
    assert parsed["X-Evil"] is None
    assert parsed["Subject"].startswith("[high] [Policy Watcher] Evil<!channel> & </script><http://evil|click> X-Evil")
