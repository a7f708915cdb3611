"""History database at scale: a generated five-year history on SQLite and PostgreSQL, then what it costs.

Prints, per backend: load time, database size (total and per table), row counts, the time to ingest one
changed page through the real pipeline, the bytes an unchanged check adds, and the latency (median, p95)
of ``when``, ``changes`` and ``history`` plus one run of each through the CLI. It never asserts timings.

Run with ``make bench`` or ``.venv/bin/python -m bench.history_bench``. Options: ``--no-postgres``,
``--keep`` (keep the SQLite file and the PostgreSQL database and print where they are).

The history is bulk-inserted (SQLAlchemy Core executemany on SQLite, COPY on PostgreSQL) after
``watcher.db.migrate.upgrade``, in the chronological order the watcher itself would have written it.
It is generated once (seeded, so every run has the same data) and loaded into each backend.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import hashlib
import json
import math
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, insert, text
from sqlalchemy.orm import Session, sessionmaker

from watcher import queries
from watcher.db.engine import make_engine, session_factory
from watcher.db.migrate import upgrade
from watcher.db.models import Base
from watcher.pipeline import ingest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "rekognition"
BIN = Path(sys.executable).parent
PG_HOST = os.environ.get("WATCHER_TEST_PG_HOST", "127.0.0.1")
PG_ADMIN_DSN = f"host={PG_HOST} port=5432 user=postgres dbname=postgres connect_timeout=3"

SEED = 20261129
END = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
START = END - dt.timedelta(days=5 * 365 + 1)
SOURCES = 400
POLICIES = 1500
HOURLY_CHECK_DAYS = 14
"""Unchanged checks are generated hourly for the last 14 days only (see ``checks_note``)."""
INGEST_RUNS = 7
UNCHANGED_CHECKS = 200
QUERY_RUNS = 50
TARGET_MS = 50.0
TARGET_CHECK_BYTES = 200

# ---------------------------------------------------------------------------------------------------------------
# Vocabulary: service prefixes and action names that look like the real ones.

REAL_SERVICES = """
s3:Amazon S3 ec2:Amazon EC2 iam:AWS Identity and Access Management rekognition:Amazon Rekognition
lambda:AWS Lambda dynamodb:Amazon DynamoDB rds:Amazon RDS sqs:Amazon SQS sns:Amazon SNS kms:AWS Key Management Service
cloudwatch:Amazon CloudWatch logs:Amazon CloudWatch Logs events:Amazon EventBridge sagemaker:Amazon SageMaker
glue:AWS Glue athena:Amazon Athena redshift:Amazon Redshift kinesis:Amazon Kinesis firehose:Amazon Data Firehose
ecs:Amazon ECS eks:Amazon EKS ecr:Amazon ECR elasticloadbalancing:Elastic Load Balancing
autoscaling:Amazon EC2 Auto Scaling
cloudformation:AWS CloudFormation cloudtrail:AWS CloudTrail config:AWS Config guardduty:Amazon GuardDuty
securityhub:AWS Security Hub inspector2:Amazon Inspector macie2:Amazon Macie organizations:AWS Organizations
sts:AWS Security Token Service ssm:AWS Systems Manager secretsmanager:AWS Secrets Manager acm:AWS Certificate Manager
route53:Amazon Route 53 cloudfront:Amazon CloudFront apigateway:Amazon API Gateway states:AWS Step Functions
codebuild:AWS CodeBuild codecommit:AWS CodeCommit codedeploy:AWS CodeDeploy codepipeline:AWS CodePipeline
elasticache:Amazon ElastiCache es:Amazon OpenSearch Service backup:AWS Backup batch:AWS Batch
elasticfilesystem:Amazon EFS fsx:Amazon FSx glacier:Amazon S3 Glacier transfer:AWS Transfer Family
datasync:AWS DataSync dms:AWS Database Migration Service appsync:AWS AppSync cognito-idp:Amazon Cognito
comprehend:Amazon Comprehend textract:Amazon Textract translate:Amazon Translate polly:Amazon Polly
transcribe:Amazon Transcribe lex:Amazon Lex connect:Amazon Connect chime:Amazon Chime workspaces:Amazon WorkSpaces
quicksight:Amazon QuickSight lakeformation:AWS Lake Formation emr:Amazon EMR kafka:Amazon MSK mq:Amazon MQ
iot:AWS IoT Core greengrass:AWS IoT Greengrass iotsitewise:AWS IoT SiteWise servicecatalog:AWS Service Catalog
ram:AWS Resource Access Manager sso:AWS IAM Identity Center access-analyzer:IAM Access Analyzer
waf:AWS WAF wafv2:AWS WAF V2 shield:AWS Shield network-firewall:AWS Network Firewall
directconnect:AWS Direct Connect globalaccelerator:AWS Global Accelerator servicediscovery:AWS Cloud Map
xray:AWS X-Ray health:AWS Health support:AWS Support trustedadvisor:AWS Trusted Advisor ce:AWS Cost Explorer
budgets:AWS Budgets pricing:AWS Price List cur:AWS Cost and Usage Report account:AWS Account Management
bedrock:Amazon Bedrock q:Amazon Q kendra:Amazon Kendra personalize:Amazon Personalize forecast:Amazon Forecast
frauddetector:Amazon Fraud Detector lookoutvision:Amazon Lookout for Vision medialive:AWS Elemental MediaLive
mediaconvert:AWS Elemental MediaConvert mediapackage:AWS Elemental MediaPackage ivs:Amazon IVS
gamelift:Amazon GameLift robomaker:AWS RoboMaker braket:Amazon Braket healthlake:AWS HealthLake
omics:AWS HealthOmics timestream:Amazon Timestream neptune-db:Amazon Neptune cassandra:Amazon Keyspaces
qldb:Amazon QLDB memorydb:Amazon MemoryDB dax:Amazon DynamoDB Accelerator airflow:Amazon MWAA
amplify:AWS Amplify apprunner:AWS App Runner elasticbeanstalk:AWS Elastic Beanstalk lightsail:Amazon Lightsail
outposts:AWS Outposts snowball:AWS Snow Family storagegateway:AWS Storage Gateway mgn:AWS Application Migration Service
detective:Amazon Detective fms:AWS Firewall Manager auditmanager:AWS Audit Manager
resource-groups:AWS Resource Groups tag:AWS Resource Groups Tagging cloud9:AWS Cloud9 codeartifact:AWS CodeArtifact
codeguru-reviewer:Amazon CodeGuru Reviewer devops-guru:Amazon DevOps Guru grafana:Amazon Managed Grafana
aps:Amazon Managed Service for Prometheus synthetics:Amazon CloudWatch Synthetics rum:CloudWatch RUM
ses:Amazon SES pinpoint:Amazon Pinpoint mobiletargeting:Amazon Pinpoint Targeting
"""


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


PART_A = "cloud data iot media sec net app dev ml geo edge fleet log code health quantum trace event stream vault"
PART_B = "hub pipe sync guard lens forge scope works map shield flow deck cast link store bridge pulse sight craft grid"
VERBS = _words(
    "Get List Describe Put Create Delete Update Tag Untag Start Stop BatchGet Associate Disassociate Enable "
    "Disable Register Deregister Modify Reset Restore Import Export Search Invoke Cancel Validate"
)
READ_VERBS = ("Get", "List", "Describe", "BatchGet", "Search")
NOUN_BASE = _words(
    "Instance Volume Snapshot Image Bucket Object Policy Role User Group Function Table Stream Collection Project "
    "Dataset Job Endpoint Configuration Resource Alias Key Secret Certificate Pipeline Workflow Domain Cluster Layer "
    "Rule Target Template Queue Topic Subscription Alarm Dashboard Metric Index Model Application Environment "
    "Deployment Repository Build Report Connection Gateway Route Address Listener Certificate Session Account Member "
    "Finding Filter Detector Schedule Backup Plan Vault Parameter Document Association Session Channel Device Fleet "
    "Profile Permission Attachment Setting Task Capacity Reservation Insight Recommendation Experiment Trail"
)
NOUN_QUALIFIERS = _words(
    "Network Security Launch Transit Vpc Custom Managed Service Data Access Resource Event Log Lifecycle Scaling "
    "Replication Notification Inference Training Compute Storage Bucket Object"
)
COMMON = ("ListTagsForResource", "TagResource", "UntagResource")
BIG_SERVICES = {"ec2": 680, "iam": 260, "s3": 200, "rds": 230, "sagemaker": 380, "glue": 260, "ssm": 190}
RELATED = ("iam:PassRole", "iam:CreateServiceLinkedRole", "logs:CreateLogGroup", "logs:PutLogEvents", "s3:GetObject")
SUFFIXES = _words(
    "FullAccess ReadOnlyAccess ServiceRolePolicy ConsoleFullAccess ServiceRole DeveloperAccess OperatorAccess "
    "ExecutionRolePolicy ManagementPolicy CrossAccountAccess"
)
MONTHS = _words("January February March April May June July August September October November December")


@dataclass(frozen=True)
class Service:
    prefix: str
    title: str
    actions: tuple[str, ...]
    reads: tuple[str, ...]


def _service_actions(rng: random.Random, prefix: str, size: int) -> tuple[str, ...]:
    names: set[str] = {f"{prefix}:{c}" for c in COMMON}
    nouns = [*NOUN_BASE, *(q + n for q in NOUN_QUALIFIERS for n in NOUN_BASE)]
    while len(names) < size:
        noun = rng.choice(nouns)
        for verb in rng.sample(VERBS, rng.randint(3, 8)):
            plural = verb in ("List", "Describe", "BatchGet")
            names.add(f"{prefix}:{verb}{noun}{'s' if plural and not noun.endswith('s') else ''}")
    return tuple(sorted(names))


def make_services(rng: random.Random) -> list[Service]:
    pairs = REAL_SERVICES.split()
    real: list[tuple[str, str]] = []
    for token in pairs:
        if ":" in token:
            prefix, first = token.split(":", 1)
            real.append((prefix, first))
        else:
            prefix, title = real[-1]
            real[-1] = (prefix, f"{title} {token}")
    known = {p for p, _ in real}
    synthetic = [a + b for a in PART_A.split() for b in PART_B.split() if a + b not in known]
    rng.shuffle(synthetic)
    named = real + [(p, f"AWS {p.capitalize()}") for p in synthetic[: SOURCES - len(real)]]
    services = []
    for prefix, title in named[:SOURCES]:
        size = BIG_SERVICES.get(prefix) or int(min(220, max(12, rng.lognormvariate(3.9, 0.6))))
        actions = _service_actions(rng, prefix, size)
        reads = tuple(a for a in actions if a.split(":", 1)[1].startswith(READ_VERBS))
        services.append(Service(prefix, title, actions, reads))
    return services


def camel(title: str) -> str:
    words = [w for w in title.replace("-", " ").split() if w not in ("Amazon", "AWS")]
    return "".join(w[:1].upper() + w[1:] for w in words)


# ---------------------------------------------------------------------------------------------------------------
# The plan: sources, their policies, how big each starts and how fast it grows.


@dataclass
class PolicyPlan:
    name: str
    pool: list[str]
    initial: int
    add_mean: float
    weight: float
    wildcards: list[str] = field(default_factory=list)
    not_actions: list[str] = field(default_factory=list)
    deny: list[str] = field(default_factory=list)
    at_baseline: bool = True
    removable: bool = False


@dataclass
class SourcePlan:
    name: str
    title: str
    url: str
    created: dt.datetime
    gap_days: float
    policies: list[PolicyPlan]


def _policy_counts(rng: random.Random, n: int, total: int, fixed: list[int]) -> list[int]:
    counts = fixed + rng.choices(range(1, 10), weights=[20, 19, 16, 12, 10, 8, 6, 5, 4], k=n - len(fixed))
    while sum(counts) != total:
        i = rng.randrange(len(fixed), n)
        step = 1 if sum(counts) < total else -1
        if 1 <= counts[i] + step <= 9:
            counts[i] += step
    return counts


def _pool(rng: random.Random, services: list[Service], own: Service, kind: str) -> tuple[list[str], list[str]]:
    """(pool of actions to draw from, fixed wildcard grants) for a policy of ``kind`` on ``own``'s page."""
    others = rng.sample(services, rng.randint(10, 40) if kind == "read" else rng.randint(5, 25))
    if kind == "read":
        pool = list(own.reads) + [a for s in others for a in s.reads]
        wildcards = [f"{own.prefix}:{v}*" for v in ("Get", "List", "Describe")] if rng.random() < 0.2 else []
    elif kind == "full":
        pool = list(own.actions) + [a for s in others for a in s.actions]
        wildcards = [f"{own.prefix}:*"] if rng.random() < 0.25 else []
    else:
        pool = [a for s in [own, *others] for a in s.actions]
        wildcards = []
    return pool + list(RELATED), wildcards


def make_plan(rng: random.Random, services: list[Service]) -> list[SourcePlan]:
    every_read = [a for s in services for a in s.reads]
    view = [a for a in every_read if ":List" in a or ":Describe" in a]
    by_prefix = {s.prefix: s for s in services}
    iam = by_prefix["iam"]
    job = [
        PolicyPlan("AdministratorAccess", [], 0, 0, 0.2, wildcards=["*"]),
        PolicyPlan(
            "PowerUserAccess",
            [*iam.reads, "iam:CreateServiceLinkedRole", "iam:DeleteServiceLinkedRole"],
            3,
            1,
            0.5,
            not_actions=["account:*", "iam:*", "organizations:*"],
        ),
        PolicyPlan("ReadOnlyAccess", every_read, 1500, 14, 6.0),
        PolicyPlan("ViewOnlyAccess", view, 700, 8, 3.0),
        PolicyPlan("SecurityAudit", every_read, 900, 9, 3.0),
        PolicyPlan("SupportUser", every_read, 600, 5, 1.5),
        PolicyPlan("DatabaseAdministrator", [*every_read, *by_prefix["rds"].actions], 220, 2, 1.0),
        PolicyPlan("NetworkAdministrator", list(by_prefix["ec2"].actions), 160, 2, 1.0),
        PolicyPlan("SystemAdministrator", every_read, 320, 3, 1.0),
    ]
    support = [
        PolicyPlan("AWSSupportServiceRolePolicy", every_read, 800, 9, 4.0),
        PolicyPlan("AWSSupportAccess", [], 0, 0, 0.3, wildcards=["support:*"]),
    ]
    config = [PolicyPlan("AWS_ConfigRole", every_read, 500, 6, 3.0)]
    special = {
        "iam": ("iam-job-functions", "AWS managed policies for job functions", job, 9.0),
        "support": ("support-managed-policies", "AWS Support", support, 20.0),
        "config": ("config-managed-policies", "AWS Config", config, 30.0),
    }
    # the pages holding the big policies come first, like the normal pages of iam, support and config
    services = sorted(services, key=lambda s: s.prefix not in special)
    counts = _policy_counts(rng, SOURCES, POLICIES, [len(job), len(support), len(config)])
    plans: list[SourcePlan] = []
    for i, service in enumerate(services):
        brand = "Amazon" if service.title.startswith("Amazon") else "AWS"
        stem = brand + camel(service.title)
        if service.prefix in special:
            name, title, policies, gap = special[service.prefix]
        else:
            name, title, gap = service.prefix, service.title, rng.uniform(10, 90)
            policies = []
            for suffix in rng.sample(SUFFIXES, counts[i]):
                kind = "read" if "Read" in suffix else "full" if "Full" in suffix else "role"
                pool, wildcards = _pool(rng, services, service, kind)
                size = int(min(len(pool) / 6, 1000, max(1, rng.lognormvariate(4.0, 1.0))))
                if wildcards:
                    size = min(size, rng.randint(1, 8))
                policies.append(
                    PolicyPlan(
                        stem + suffix,
                        pool,
                        size,
                        max(5.0, size * 0.45),
                        1.0 + math.log1p(size),
                        wildcards=wildcards,
                        deny=rng.sample(pool, 2) if rng.random() < 0.03 else [],
                        at_baseline=not policies or rng.random() < 0.75,
                        removable=True,
                    )
                )
        created = START if i < 3 or rng.random() < 0.85 else START + dt.timedelta(days=rng.uniform(30, 1700))
        url = f"https://docs.aws.amazon.com/{service.prefix}/latest/userguide/security-iam-awsmanpol.html"
        plans.append(SourcePlan(name, title, url, created, gap, policies))
    return plans


# ---------------------------------------------------------------------------------------------------------------
# Generation: walk the timeline in order, as the watcher would have written it, producing rows per table.

COLUMNS: dict[str, tuple[str, ...]] = {
    "sources": _words(
        "id name kind url service enabled etag last_modified last_checked_at last_success_at "
        "consecutive_failures failing created_at"
    ),
    "blobs": ("sha256", "size", "data"),
    "snapshots": (
        "id",
        "source_id",
        "fetched_at",
        "content_hash",
        "blob_sha256",
        "parser_version",
        "accepted",
        "title",
    ),
    "policies": ("id", "source_id", "name", "first_seen_at", "removed_at"),
    "policy_versions": _words(
        "id policy_id snapshot_id valid_from valid_to status defects doc_hash document raw_json anchor "
        "document_link description action_count"
    ),
    "policy_actions": ("id", "policy_id", "action", "action_lc", "service", "effect", "granted_from", "granted_to"),
    "update_rows": _words(
        "id source_id row_key change description date date_raw actions policies first_seen_at baseline"
    ),
    "checks": (
        "id",
        "source_id",
        "started_at",
        "duration_ms",
        "http_status",
        "outcome",
        "bytes",
        "error",
        "snapshot_id",
    ),
    "events": ("id", "source_id", "snapshot_id", "kind", "policy", "payload", "detected_at", "dedupe_key"),
    "event_actions": ("id", "event_id", "action", "action_lc", "effect"),
}
JSON_COLUMNS = {
    "policy_versions": ("defects", "document"),
    "update_rows": ("actions", "policies"),
    "events": ("payload",),
}
LOAD_ORDER = tuple(COLUMNS)
BASELINE, CHANGE, CHECK, NEW_POLICY = range(4)
"""What happens to a source at a point of the timeline: first sight, a change, an unchanged check, a new policy."""


@dataclass
class PolicyState:
    plan: PolicyPlan
    id: int
    grants: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    """(effect, action_lc) -> the open policy_actions row."""
    resources: list[str] = field(default_factory=lambda: ["*"])
    version: list[Any] | None = None
    row: list[Any] | None = None
    versions: int = 0
    remaining: list[str] = field(default_factory=list)
    """The pool, shuffled, less what was drawn: what the policy may be granted next."""


@dataclass
class SourceState:
    plan: SourcePlan
    id: int
    body: bytes
    live: list[PolicyState] = field(default_factory=list)
    pending: list[PolicyPlan] = field(default_factory=list)
    snapshots: int = 0
    row: list[Any] | None = None


class Generator:
    def __init__(self, rng: random.Random, plans: list[SourcePlan]) -> None:
        self.rng = rng
        self.plans = plans
        self.rows: dict[str, list[list[Any]]] = {t: [] for t in COLUMNS}
        self.base_body = (FIXTURES / "page-v3.html").read_text()

    def next_id(self, table: str) -> int:
        return len(self.rows[table]) + 1

    def add(self, table: str, row: list[Any]) -> list[Any]:
        self.rows[table].append(row)
        return row

    # -- timeline ----------------------------------------------------------------------------------------------

    def run(self) -> dict[str, list[list[Any]]]:
        timeline: list[tuple[dt.datetime, int, int]] = []  # (when, what, index of the source)
        for i, plan in enumerate(self.plans):
            timeline.append((plan.created, BASELINE, i))
            span = (END - plan.created).total_seconds()
            for p in plan.policies:
                if not p.at_baseline:
                    at = plan.created + dt.timedelta(seconds=span * self.rng.uniform(0.05, 0.95))
                    timeline.append((at, NEW_POLICY, i))
            t = plan.created
            while True:
                t += dt.timedelta(days=self.rng.expovariate(1 / plan.gap_days), hours=self.rng.uniform(0, 1))
                if t >= END:
                    break
                timeline.append((t, CHANGE, i))
            first = max(plan.created, END - dt.timedelta(days=HOURLY_CHECK_DAYS))
            minute = dt.timedelta(minutes=self.rng.randrange(60), seconds=self.rng.randrange(60))
            hours = int((END - first).total_seconds() // 3600)
            timeline.extend((first + dt.timedelta(hours=h) + minute, CHECK, i) for h in range(hours))
        timeline.sort()
        states: list[SourceState | None] = [None] * len(self.plans)
        for t, what, i in timeline:
            state = states[i]
            if what == BASELINE:
                states[i] = self.baseline(self.plans[i], t)
            elif state is not None and what == CHANGE:
                self.change(state, t)
            elif state is not None and what == NEW_POLICY:
                self.new_policy(state, t)
            elif state is not None:
                self.unchanged_check(state, t)
        return self.rows

    # -- rows --------------------------------------------------------------------------------------------------

    def snapshot(self, source: SourceState, t: dt.datetime, outcome: str) -> int:
        source.snapshots += 1
        digest = hashlib.sha256(f"{source.id}:{source.snapshots}".encode()).hexdigest()
        self.add("blobs", [digest, len(source.body) + 40 * source.snapshots, zlib_variant(source)])
        sid = self.next_id("snapshots")
        title = f"AWS managed policies for {source.plan.title}"
        self.add(
            "snapshots", [sid, source.id, t, hashlib.sha256(digest.encode()).hexdigest(), digest, "1", True, title]
        )
        ms = self.rng.randint(150, 1500)
        size = len(source.body) + self.rng.randint(0, 4000)
        self.add("checks", [self.next_id("checks"), source.id, t, ms, 200, outcome, size, None, sid])
        assert source.row is not None
        source.row[8] = source.row[9] = t
        return sid

    def unchanged_check(self, source: SourceState, t: dt.datetime) -> None:
        r = self.rng.random()
        if r < 0.8:
            row = [source.id, t, self.rng.randint(40, 250), 304, "not_modified", None, None, None]
        elif r < 0.985:
            row = [source.id, t, self.rng.randint(150, 900), 200, "unchanged", len(source.body), None, None]
        else:
            error = self.rng.choice(["timeout after 30s", "HTTP 503 Service Unavailable", "connection reset by peer"])
            row = [source.id, t, self.rng.randint(3000, 30000), None, "error", None, error, None]
        self.add("checks", [self.next_id("checks"), *row])
        assert source.row is not None
        source.row[8] = t
        if row[4] != "error":
            source.row[9] = t

    def event(
        self, source: SourceState, sid: int, t: dt.datetime, kind: str, policy: str | None, payload: dict[str, Any]
    ) -> None:
        eid = self.next_id("events")
        key = hashlib.sha256(f"{SEED}:{eid}".encode()).hexdigest()
        self.add("events", [eid, source.id, sid, kind, policy, payload, t, key])
        for effect, action in payload["grants"]:
            self.add("event_actions", [self.next_id("event_actions"), eid, action, action.lower(), effect])

    def update_row(
        self, source: SourceState, sid: int, t: dt.datetime, policy: str, change: str, actions: list[str]
    ) -> None:
        shown = sorted(actions)[:10]
        verb = "added" if "added" in change.lower() else "changed"
        description = (
            f"{source.plan.title} {verb} the following permissions to the {policy} managed policy: "
            + ", ".join(a.split(":", 1)[1] for a in shown)
        )
        date = t.date().isoformat()
        date_raw = f"{MONTHS[t.month - 1]} {t.day}, {t.year}"
        key = hashlib.md5(f"{source.id}:{t.isoformat()}:{policy}".encode()).hexdigest()
        row_change = f"{change} – AWS managed policy: {policy}"
        self.add(
            "update_rows",
            [
                self.next_id("update_rows"),
                source.id,
                key,
                row_change,
                description,
                date,
                date_raw,
                shown,
                [policy],
                t,
                False,
            ],
        )
        detail = {
            "key": key,
            "change": row_change,
            "description": description,
            "date": date,
            "date_raw": date_raw,
            "actions": shown,
            "policies": [policy],
            "anchor": "security-iam-awsmanpol-updates",
        }
        self.event(source, sid, t, "update_row_added", policy, {"grants": [], **detail})

    # -- policies ----------------------------------------------------------------------------------------------

    def grant(self, policy: PolicyState, effect: str, action: str, t: dt.datetime) -> bool:
        key = (effect, action.lower())
        if key in policy.grants:
            return False
        lc = key[1]
        service = lc.split(":", 1)[0] if ":" in lc else lc
        row = [self.next_id("policy_actions"), policy.id, action, lc, service, effect, t, None]
        policy.grants[key] = self.add("policy_actions", row)
        return True

    def revoke(self, policy: PolicyState, key: tuple[str, str], t: dt.datetime) -> tuple[str, str]:
        row = policy.grants.pop(key)
        row[7] = t
        policy.remaining.insert(self.rng.randrange(len(policy.remaining) + 1), row[2])
        return (row[5], row[2])

    def draw(self, policy: PolicyState, k: int, t: dt.datetime) -> list[tuple[str, str]]:
        """Grant up to ``k`` actions of the policy's pool that it does not grant yet."""
        added: list[tuple[str, str]] = []
        while len(added) < k and policy.remaining:
            action = policy.remaining.pop()
            if self.grant(policy, "Allow", action, t):
                added.append(("Allow", action))
        return added

    def new_version(self, source: SourceState, policy: PolicyState, sid: int, t: dt.datetime) -> None:
        if policy.version is not None:
            policy.version[4] = t
        by_effect: dict[str, list[str]] = {"Allow": [], "Deny": [], "NotAction": []}
        for row in policy.grants.values():
            by_effect[row[5]].append(row[2])
        statements: list[dict[str, Any]] = []
        if by_effect["Allow"]:
            allow = sorted(by_effect["Allow"], key=str.lower)
            statements.append({"Action": allow, "Effect": "Allow", "Resource": sorted(policy.resources)})
        if by_effect["Deny"]:
            statements.append({"Action": sorted(by_effect["Deny"], key=str.lower), "Effect": "Deny", "Resource": ["*"]})
        if by_effect["NotAction"]:
            not_actions = sorted(by_effect["NotAction"], key=str.lower)
            statements.append({"Effect": "Allow", "NotAction": not_actions, "Resource": ["*"]})
        document = {"Statement": statements, "Version": "2012-10-17"}
        policy.versions += 1
        name = policy.plan.name
        repaired = self.rng.random() < 0.01
        policy.version = self.add(
            "policy_versions",
            [
                self.next_id("policy_versions"),
                policy.id,
                sid,
                t,
                None,
                "repaired" if repaired else "ok",
                ["missing_comma"] if repaired else [],
                hashlib.sha256(f"{policy.id}:{policy.versions}".encode()).hexdigest(),
                document,
                None,
                f"security-iam-awsmanpol-{name}",
                None,
                f"{name} grants what {source.plan.title} needs. You can attach {name} to your IAM identities.",
                len(policy.grants),
            ],
        )

    def add_policy(self, source: SourceState, plan: PolicyPlan, sid: int, t: dt.datetime) -> PolicyState:
        policy = PolicyState(plan, self.next_id("policies"), remaining=list(dict.fromkeys(plan.pool)))
        self.rng.shuffle(policy.remaining)
        policy.row = self.add("policies", [policy.id, source.id, plan.name, t, None])
        for action in plan.wildcards:
            self.grant(policy, "Allow", action, t)
        for action in plan.not_actions:
            self.grant(policy, "NotAction", action, t)
        for action in plan.deny:
            self.grant(policy, "Deny", action, t)
        self.draw(policy, plan.initial, t)
        self.new_version(source, policy, sid, t)
        source.live.append(policy)
        return policy

    # -- what happens at a point in time -----------------------------------------------------------------------

    def baseline(self, plan: SourcePlan, t: dt.datetime) -> SourceState:
        sid_source = self.next_id("sources")
        body = self.base_body.replace("Rekognition", camel(plan.title)).encode()
        source = SourceState(plan, sid_source, body)
        source.row = self.add(
            "sources",
            [sid_source, plan.name, "page", plan.url, plan.title, True, None, None, t, t, 0, False, t],
        )
        source.row[6] = f'"{uuid.UUID(int=self.rng.getrandbits(128)).hex}"'
        sid = self.snapshot(source, t, "baseline")
        for p in plan.policies:
            if p.at_baseline:
                self.add_policy(source, p, sid, t)
            else:
                source.pending.append(p)
        for n in range(self.rng.randint(2, 8)):
            day = t - dt.timedelta(days=30 * (n + 1) + self.rng.randint(0, 20))
            key = hashlib.md5(f"{source.id}:baseline:{n}".encode()).hexdigest()
            policy = source.live[0].plan.name
            actions = [row[2] for row in list(source.live[0].grants.values())[:3]]
            date_raw = f"{MONTHS[day.month - 1]} {day.day}, {day.year}"
            self.add(
                "update_rows",
                [
                    self.next_id("update_rows"),
                    source.id,
                    key,
                    f"Permissions updated – AWS managed policy: {policy}",
                    f"{plan.title} updated the {policy} managed policy.",
                    day.date().isoformat(),
                    date_raw,
                    actions,
                    [policy],
                    t,
                    True,
                ],
            )
        payload = {
            "grants": [],
            "title": f"AWS managed policies for {plan.title}",
            "policies": len(source.live),
            "updates": 0,
            "repaired": [],
            "unparseable": [],
            "no_document": [],
        }
        self.event(source, sid, t, "baseline", None, payload)
        return source

    def new_policy(self, source: SourceState, t: dt.datetime) -> None:
        sid = self.snapshot(source, t, "changed")
        plan = source.pending.pop(0)
        policy = self.add_policy(source, plan, sid, t)
        grants = [[row[5], row[2]] for row in policy.grants.values()]
        self.event(source, sid, t, "policy_added", plan.name, {"grants": grants, "status": "ok"})
        self.update_row(source, sid, t, plan.name, "New policy added", [g[1] for g in grants])

    def change(self, source: SourceState, t: dt.datetime) -> None:
        rng = self.rng
        sid = self.snapshot(source, t, "changed")
        removable = [p for p in source.live[1:] if p.plan.removable]
        if removable and rng.random() < 0.006:
            policy = rng.choice(removable)
            source.live.remove(policy)
            assert policy.row is not None and policy.version is not None
            grants = [list(self.revoke(policy, key, t)) for key in list(policy.grants)]
            policy.row[4] = t
            policy.version[4] = t
            self.event(source, sid, t, "policy_removed", policy.plan.name, {"grants": grants})
            self.update_row(source, sid, t, policy.plan.name, "Policy deprecated", [])
            return
        if not source.live:
            return
        n = min(len(source.live), rng.choices((1, 2, 3), weights=(60, 28, 12))[0])
        weights = [p.plan.weight for p in source.live]
        chosen: list[PolicyState] = []
        while len(chosen) < n:
            pick = rng.choices(source.live, weights=weights)[0]
            if pick not in chosen:
                chosen.append(pick)
        for policy in chosen:
            self.change_policy(source, policy, sid, t)

    def change_policy(self, source: SourceState, policy: PolicyState, sid: int, t: dt.datetime) -> None:
        rng = self.rng
        name = policy.plan.name
        op = rng.choices(("add", "remove", "both", "statement"), weights=(68, 12, 6, 14))[0]
        added: list[tuple[str, str]] = []
        removed: list[tuple[str, str]] = []
        if op in ("add", "both") and policy.plan.pool and policy.plan.add_mean > 0:
            added = self.draw(policy, min(200, max(1, round(rng.expovariate(1 / policy.plan.add_mean)))), t)
        if op in ("remove", "both"):
            candidates = [k for k in policy.grants if k[0] == "Allow" and "*" not in k[1]]
            for key in rng.sample(candidates, min(len(candidates), rng.randint(1, 3))):
                removed.append(self.revoke(policy, key, t))
        if not added and not removed:
            op = "statement"
            arn = f"arn:aws:{source.plan.name}:*:*:resource/{rng.getrandbits(32):08x}"
            policy.resources.append(arn)
            if "*" in policy.resources and len(policy.resources) > 1:
                policy.resources.remove("*")
        self.new_version(source, policy, sid, t)
        if added:
            self.event(source, sid, t, "actions_added", name, {"grants": [list(g) for g in added]})
        if removed:
            self.event(source, sid, t, "actions_removed", name, {"grants": [list(g) for g in removed]})
        if op == "statement":
            payload = {
                "grants": [],
                "resources_added": [f"Resource:{policy.resources[-1]}"],
                "resources_removed": [],
                "conditions_added": [],
                "conditions_removed": [],
            }
            self.event(source, sid, t, "statement_changed", name, payload)
        if rng.random() < 0.85:
            change = "Added permissions" if added else "Removed permissions" if removed else "Updated policy"
            self.update_row(source, sid, t, name, change, [a for _, a in added + removed])


_VARIANTS: dict[int, bytes] = {}


def zlib_variant(source: SourceState) -> bytes:
    """The page body of ``source``, compressed once per source (compressing every snapshot would take minutes)."""
    if source.id not in _VARIANTS:
        _VARIANTS[source.id] = zlib.compress(source.body, 6)
    return _VARIANTS[source.id]


def generate() -> tuple[dict[str, list[list[Any]]], float]:
    """Rows per table (lists in column order, ids assigned) and the seconds it took."""
    started = time.perf_counter()
    rng = random.Random(SEED)
    plans = make_plan(rng, make_services(rng))
    rows = Generator(rng, plans).run()
    _VARIANTS.clear()
    return rows, time.perf_counter() - started


# ---------------------------------------------------------------------------------------------------------------
# Loading


def _chunks(rows: list[list[Any]], size: int = 20_000) -> Iterator[list[list[Any]]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def load_sqlite(engine: Engine, rows: dict[str, list[list[Any]]]) -> None:
    """Core executemany, lists of dicts, one transaction: the column types format values as the app would."""
    tables = Base.metadata.tables
    with engine.begin() as conn:
        for name in LOAD_ORDER:
            columns = COLUMNS[name]
            for chunk in _chunks(rows[name]):
                conn.execute(insert(tables[name]), [dict(zip(columns, row, strict=True)) for row in chunk])


def load_postgres(dsn: str, rows: dict[str, list[list[Any]]]) -> None:
    """COPY per table, then the id sequences moved past the copied ids, then ANALYZE (autovacuum would)."""
    with psycopg.connect(dsn) as conn:
        with conn.cursor() as cur:
            for name in LOAD_ORDER:
                columns = COLUMNS[name]
                json_at = [columns.index(c) for c in JSON_COLUMNS.get(name, ())]
                with cur.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows[name]:
                        if json_at:
                            row = list(row)
                            for i in json_at:
                                row[i] = json.dumps(row[i])
                        copy.write_row(row)
            for name in LOAD_ORDER:
                if "id" in COLUMNS[name]:
                    cur.execute(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))")
        conn.commit()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


# ---------------------------------------------------------------------------------------------------------------
# The two backends


@dataclass
class Backend:
    name: str
    url: str
    engine: Engine
    load_note: str
    size: Callable[[], int]
    """Database size in bytes (SQLite: file plus WAL after a checkpoint)."""
    checks_size: Callable[[], int]
    """Bytes to compare before and after unchanged checks."""
    table_sizes: Callable[[], dict[str, int]]
    """Bytes per table, indexes included (empty if the backend cannot tell)."""
    close: Callable[[bool], None]
    """Dispose of the engine and drop the database, unless asked to keep it."""
    page_bytes: int
    """Files and relations grow by whole pages: the resolution of a size difference."""


def sqlite_backend(rows: dict[str, list[list[Any]]]) -> Backend:
    directory = Path(tempfile.mkdtemp(prefix="watcher-bench-"))
    path = directory / "history.db"
    url = f"sqlite:///{path}"
    engine = make_engine(url)

    def size() -> int:
        # Outside any transaction: the engine begins every transaction with BEGIN IMMEDIATE, inside which a
        # checkpoint is refused ("database table is locked").
        raw = engine.raw_connection()
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()
        wal = Path(f"{path}-wal")
        return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)

    def table_sizes() -> dict[str, int]:
        out: dict[str, int] = {}
        with engine.connect() as conn:
            owners: dict[str, str] = {
                str(n): str(t) for n, t in conn.exec_driver_sql("SELECT name, tbl_name FROM sqlite_master")
            }
            try:
                stats = conn.exec_driver_sql("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").all()
            except Exception:  # dbstat is a compile-time option of SQLite
                return {}
        for name, bytes_ in stats:
            table = owners.get(name, name)
            out[table] = out.get(table, 0) + int(bytes_)
        return out

    def close(keep: bool) -> None:
        engine.dispose()
        if keep:
            print(f"kept: {url}")
        else:
            shutil.rmtree(directory, ignore_errors=True)

    started = time.perf_counter()
    try:
        upgrade(engine)
        load_sqlite(engine, rows)
    except BaseException:
        close(False)
        raise
    with engine.connect() as conn:
        page = int(conn.exec_driver_sql("PRAGMA page_size").scalar_one())
    note = f"{sqlite3.sqlite_version}, {path}, loaded in {time.perf_counter() - started:.1f} s (Core executemany)"
    return Backend("SQLite", url, engine, note, size, size, table_sizes, close, page)


def postgres_backend(rows: dict[str, list[list[Any]]]) -> Backend | None:
    try:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        print(f"PostgreSQL skipped: not reachable at {PG_HOST}:5432 ({str(exc).strip().splitlines()[0]})")
        return None
    name = f"watcher_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@{PG_HOST}:5432/{name}"
    engine = make_engine(url)

    def scalar(sql: str) -> int:
        with engine.connect() as conn:
            return int(conn.execute(text(sql)).scalar_one())

    def table_sizes() -> dict[str, int]:
        return {table: scalar(f"SELECT pg_total_relation_size('{table}')") for table in COLUMNS}

    def close(keep: bool) -> None:
        engine.dispose()
        if keep:
            print(f"kept: {url}")
            return
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    started = time.perf_counter()
    try:
        upgrade(engine)
        load_postgres(f"host={PG_HOST} port=5432 user=postgres dbname={name}", rows)
    except BaseException:
        close(False)
        raise
    version = scalar("SHOW server_version_num")
    note = (
        f"{version // 10000}.{version % 10000}, database {name}, loaded in {time.perf_counter() - started:.1f} s"
        " (COPY, then VACUUM ANALYZE)"
    )
    return Backend(
        "PostgreSQL",
        url,
        engine,
        note,
        lambda: scalar("SELECT pg_database_size(current_database())"),
        lambda: scalar("SELECT pg_total_relation_size('checks')"),
        table_sizes,
        close,
        scalar("SHOW block_size"),
    )


# ---------------------------------------------------------------------------------------------------------------
# Measuring


@dataclass(frozen=True)
class Inputs:
    """Query inputs drawn from the generated data (then the generated rows can be freed)."""

    actions: list[str]
    """Random policy_actions rows' actions (wildcards excluded): common actions come up more often."""
    policies: list[str]
    """Random policy names, uniformly."""
    common_action: str
    """The action granted by the most intervals."""
    largest_policy: str

    @staticmethod
    def draw(rows: dict[str, list[list[Any]]]) -> Inputs:
        rng = random.Random(SEED + 1)
        grants = rows["policy_actions"]
        actions = [a for a in (rng.choice(grants)[2] for _ in range(QUERY_RUNS * 3)) if "*" not in a][:QUERY_RUNS]
        policies = [row[2] for row in rows["policies"]]
        counts: dict[str, int] = {}
        for row in grants:
            counts[row[2]] = counts.get(row[2], 0) + 1
        versions: dict[int, int] = {}
        for row in rows["policy_versions"]:
            versions[row[1]] = versions.get(row[1], 0) + row[13]
        largest = max(versions, key=lambda pid: versions[pid])
        return Inputs(
            actions=actions,
            policies=rng.choices(policies, k=QUERY_RUNS),
            common_action=max((a for a in counts if "*" not in a), key=lambda a: counts[a]),
            largest_policy=rows["policies"][largest - 1][2],
        )


def mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p * len(ordered)) - 1))]


def print_sizes(backend: Backend) -> None:
    sizes = backend.table_sizes()
    print(f"  database size: {mb(backend.size())}")
    print(f"  {'table':<18}{'rows':>12}{'size (incl. indexes)':>24}")
    counts: dict[str, int] = {}
    with backend.engine.connect() as conn:
        for name in COLUMNS:
            counts[name] = int(conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one())
            size = f"{mb(sizes[name])}" if name in sizes else "n/a"
            print(f"  {name:<18}{counts[name]:>12,}{size:>24}")
    print(f"  policy_actions + event_actions: {counts['policy_actions'] + counts['event_actions']:,} rows")


def time_ingest(sessions: sessionmaker[Session], token: str) -> tuple[list[float], list[float], str]:
    """Seconds of the page-v1 baseline and of the page-v2 change, each on a fresh source; the last source."""
    v1 = (FIXTURES / "page-v1.html").read_bytes()
    v2 = (FIXTURES / "page-v2.html").read_bytes()
    first: list[float] = []
    second: list[float] = []
    name = ""
    for run in range(INGEST_RUNS):
        name = f"bench-ingest-{token}-{run}"
        now = END + dt.timedelta(days=1 + run)
        started = time.perf_counter()
        ingest(sessions, name, v1, url="https://docs.example.test/page-v1.html", now=now)
        first.append(time.perf_counter() - started)
        later = now + dt.timedelta(hours=1)
        started = time.perf_counter()
        result = ingest(sessions, name, v2, url="https://docs.example.test/page-v2.html", now=later)
        second.append(time.perf_counter() - started)
        assert result.outcome == "changed", result
    return first, second, name


def unchanged_check_bytes(backend: Backend, sessions: sessionmaker[Session], source: str) -> tuple[float, float]:
    """(bytes per unchanged check, seconds per unchanged check) over UNCHANGED_CHECKS ingests of the same body."""
    body = (FIXTURES / "page-v2.html").read_bytes()
    before = backend.checks_size()
    started = time.perf_counter()
    for n in range(UNCHANGED_CHECKS):
        now = END + dt.timedelta(days=30, hours=n)
        result = ingest(sessions, source, body, url="https://docs.example.test/page-v2.html", now=now)
        assert result.outcome == "unchanged", result
    elapsed = time.perf_counter() - started
    after = backend.checks_size()
    return (after - before) / UNCHANGED_CHECKS, elapsed / UNCHANGED_CHECKS


Query = Callable[[Session, Any], list[dict[str, Any]]]


@dataclass
class Latency:
    times: list[float] = field(default_factory=list)
    """Seconds per call."""
    rows: list[int] = field(default_factory=list)
    gc_pauses: list[float] = field(default_factory=list)
    """Seconds of each full (generation 2) garbage collection that ran during the calls."""

    def line(self, label: str, target: str = "") -> str:
        ms = [t * 1000 for t in self.times]
        gc_ms = f"{len(self.gc_pauses)} / {sum(self.gc_pauses) * 1000:.0f} ms"
        return (
            f"  {label:<40}{statistics.median(ms):>8.1f}ms{percentile(ms, 0.95):>8.1f}ms{max(ms):>8.1f}ms"
            f"{statistics.median(self.rows):>8.0f}{gc_ms:>16}{target}"
        )


def latency(sessions: sessionmaker[Session], query: Query, inputs: Sequence[Any]) -> Latency:
    """Each call in a fresh session (nothing cached in an identity map), timed with the full GCs it triggers."""
    out = Latency()
    started_gc = 0.0

    def on_gc(phase: str, info: dict[str, int]) -> None:
        nonlocal started_gc
        if info["generation"] == 2:
            if phase == "start":
                started_gc = time.perf_counter()
            else:
                out.gc_pauses.append(time.perf_counter() - started_gc)

    gc.callbacks.append(on_gc)
    try:
        for value in inputs:
            started = time.perf_counter()
            with sessions() as session:
                out.rows.append(len(query(session, value)))
            out.times.append(time.perf_counter() - started)
    finally:
        gc.callbacks.remove(on_gc)
    return out


def cli_seconds(args: list[str], url: str) -> tuple[float, str]:
    """Wall time of one ``watcher ...`` process (falling back to the click command if it is not wired in yet)."""
    command = [str(BIN / "watcher"), *args, "--database-url", url]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode == 0:
        return elapsed, ""
    if b"No such command" not in done.stderr:
        return elapsed, f"exit {done.returncode}: {done.stderr.decode(errors='replace').strip()[-200:]}"
    code = f"import sys; from watcher.cli_history import {args[0]} as c; c(sys.argv[1:], prog_name='watcher')"
    command = [sys.executable, "-c", code, *args[1:], "--database-url", url]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    note = "(via python -c: `watcher` has no such command yet)"
    return elapsed, note if done.returncode == 0 else f"exit {done.returncode} {note}"


def measure(backend: Backend, inputs: Inputs) -> None:
    print(f"\n{backend.name} ({backend.load_note})")
    sessions = session_factory(backend.engine)
    print_sizes(backend)
    first, second, source = time_ingest(sessions, uuid.uuid4().hex[:8])
    print(
        f"  ingest page-v2 after page-v1 (changed, real pipeline): median {statistics.median(second) * 1000:.1f} ms"
        f" (min {min(second) * 1000:.1f}, max {max(second) * 1000:.1f}; {INGEST_RUNS} fresh sources);"
        f" the page-v1 baseline: median {statistics.median(first) * 1000:.1f} ms"
    )
    per_check, seconds = unchanged_check_bytes(backend, sessions, source)
    what = "file size after checkpoint" if backend.name == "SQLite" else "pg_total_relation_size('checks')"
    verdict = "ok" if per_check < TARGET_CHECK_BYTES else "OVER TARGET"
    print(
        f"  unchanged check: {per_check:.0f} bytes each, ±{backend.page_bytes / UNCHANGED_CHECKS:.0f} ({what} over"
        f" {UNCHANGED_CHECKS} checks; target < {TARGET_CHECK_BYTES}: {verdict}); {seconds * 1000:.1f} ms each,"
        " parse included"
    )
    since = END - dt.timedelta(days=30)
    cases: list[tuple[str, Query, Sequence[Any]]] = [
        ("when(ACTION)", lambda s, a: queries.when(s, a), inputs.actions),
        (f"changes(since={since.date()})", lambda s, d: queries.changes(s, since=d), [since] * QUERY_RUNS),
        ("history(POLICY)", lambda s, p: queries.history(s, p), inputs.policies),
    ]
    header = f"{'median':>10}{'p95':>10}{'max':>10}{'rows':>8}{'full GCs':>16}"
    print(f"  {'query (' + str(QUERY_RUNS) + ' runs, fresh session each)':<40}{header}")
    for label, query, values in cases:
        result = latency(sessions, query, values)
        p95 = percentile(result.times, 0.95) * 1000
        verdict = "" if backend.name != "SQLite" else "  ok" if p95 < TARGET_MS else f"  OVER {TARGET_MS:.0f} ms TARGET"
        print(result.line(label, verdict))
    year = END - dt.timedelta(days=365)
    worst: list[tuple[str, Query, Any]] = [
        (f"when({inputs.common_action})", lambda s, a: queries.when(s, a), inputs.common_action),
        (f"history({inputs.largest_policy})", lambda s, p: queries.history(s, p), inputs.largest_policy),
        (f"changes(since={year.date()})", lambda s, d: queries.changes(s, since=d), year),
    ]
    print("  worst cases (5 runs):")
    for label, query, value in worst:
        print(latency(sessions, query, [value] * 5).line(label))
    print("  CLI, one process each (start-up included):")
    cli: list[tuple[str, list[str]]] = [
        ("watcher when " + inputs.actions[0], ["when", inputs.actions[0]]),
        (f"watcher changes --since {since.date()}", ["changes", "--since", since.date().isoformat()]),
        ("watcher history " + inputs.policies[0], ["history", inputs.policies[0]]),
    ]
    started = time.perf_counter()
    subprocess.run([str(BIN / "watcher"), "--version"], capture_output=True, check=False)
    print(f"  {'watcher --version (start-up only)':<60}{(time.perf_counter() - started) * 1000:>6.0f} ms")
    for label, args in cli:
        elapsed, note = cli_seconds(args, backend.url)
        print(f"  {label:<60}{elapsed * 1000:>6.0f} ms {note}")


def checks_note(rows: dict[str, list[list[Any]]]) -> str:
    hourly = SOURCES * 24 * (END - START).days
    return (
        f"checks are a sample: {len(rows['checks']):,} rows, one per baseline and change plus hourly checks of"
        f" every source for the last {HOURLY_CHECK_DAYS} days; five years of hourly checks would be"
        f" ~{hourly / 1e6:.1f}M rows (multiply by the bytes per unchanged check below)."
    )


def load() -> str:
    return " ".join(f"{n:.2f}" for n in os.getloadavg())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--no-postgres", action="store_true", help="measure SQLite only")
    parser.add_argument("--keep", action="store_true", help="keep the databases and print where they are")
    parser.add_argument(
        "--freeze-gc", action="store_true", help="gc.freeze() before measuring, as a service could after start-up"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows, seconds = generate()
    gc.collect()
    gc.freeze()  # millions of generated rows: a full collection would pause for about a second
    print(f"Generated {SOURCES} sources, {len(rows['policies']):,} policies, {START.date()} .. {END.date()}")
    print(f"in {seconds:.1f} s (seed {SEED}); {checks_note(rows)}")
    print(f"{os.cpu_count()} CPUs, load average {load()} (other work on the machine shows up in the p95)")
    backends: list[Backend] = []
    try:
        backends.append(sqlite_backend(rows))
        if not args.no_postgres and (postgres := postgres_backend(rows)) is not None:
            backends.append(postgres)
        inputs = Inputs.draw(rows)
        del rows  # measure in a process of ordinary size
        gc.unfreeze()
        gc.collect()
        if args.freeze_gc:
            gc.freeze()
            print("gc.freeze() done: full collections no longer walk the objects of start-up")
        for backend in backends:
            measure(backend, inputs)
    finally:
        for backend in backends:
            backend.close(args.keep)
    print(f"\nTotal run time: {time.perf_counter() - started:.0f} s; load average {load()}")


if __name__ == "__main__":
    main()
