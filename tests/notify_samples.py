"""Sample digests for channel tests (Slack, email, webhook...), built by hand from the Rekognition fixtures.

``v2_digest`` is what the watcher reports for ``page-v1.html`` -> ``page-v2.html`` (plus the new item of
``doc-history-v2.rss``); ``v3_digest`` for ``page-v2.html`` -> ``page-v3.html`` (see tests/fixtures/README.md).
``hostile_digest`` carries page text that tries to break out of a message (``<!channel>``, ``<http://evil|click>``,
``</script>``, ``&``, CR/LF in a policy name). ``all_kinds_digest`` has one notice of every kind, and
``long_digest`` more than any channel shows at once.

The digests of issue 6 (severities, classifications, reconciliation alerts) are in tests/notify_risk_samples.py.

Every value here is fixed (golden files depend on them): add new functions rather than changing these.
"""

from __future__ import annotations

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
