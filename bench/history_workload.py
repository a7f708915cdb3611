"""The history bench's workload: its size and dates, a vocabulary of services and actions, and the plan.

The plan says which sources there are, the policies on each page, how big each policy starts and how fast
it grows. ``bench.history_generator`` turns it into rows; everything is seeded (``SEED``).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "rekognition"

SEED = 20261129
END = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
START = END - dt.timedelta(days=5 * 365 + 1)
SOURCES = 400
POLICIES = 1500
HOURLY_CHECK_DAYS = 14
"""Unchanged checks are generated hourly for the last 14 days only (see ``bench.history_bench.checks_note``)."""

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


def words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


PART_A = "cloud data iot media sec net app dev ml geo edge fleet log code health quantum trace event stream vault"
PART_B = "hub pipe sync guard lens forge scope works map shield flow deck cast link store bridge pulse sight craft grid"
VERBS = words(
    "Get List Describe Put Create Delete Update Tag Untag Start Stop BatchGet Associate Disassociate Enable "
    "Disable Register Deregister Modify Reset Restore Import Export Search Invoke Cancel Validate"
)
READ_VERBS = ("Get", "List", "Describe", "BatchGet", "Search")
NOUN_BASE = words(
    "Instance Volume Snapshot Image Bucket Object Policy Role User Group Function Table Stream Collection Project "
    "Dataset Job Endpoint Configuration Resource Alias Key Secret Certificate Pipeline Workflow Domain Cluster Layer "
    "Rule Target Template Queue Topic Subscription Alarm Dashboard Metric Index Model Application Environment "
    "Deployment Repository Build Report Connection Gateway Route Address Listener Certificate Session Account Member "
    "Finding Filter Detector Schedule Backup Plan Vault Parameter Document Association Session Channel Device Fleet "
    "Profile Permission Attachment Setting Task Capacity Reservation Insight Recommendation Experiment Trail"
)
NOUN_QUALIFIERS = words(
    "Network Security Launch Transit Vpc Custom Managed Service Data Access Resource Event Log Lifecycle Scaling "
    "Replication Notification Inference Training Compute Storage Bucket Object"
)
COMMON = ("ListTagsForResource", "TagResource", "UntagResource")
BIG_SERVICES = {"ec2": 680, "iam": 260, "s3": 200, "rds": 230, "sagemaker": 380, "glue": 260, "ssm": 190}
RELATED = ("iam:PassRole", "iam:CreateServiceLinkedRole", "logs:CreateLogGroup", "logs:PutLogEvents", "s3:GetObject")
SUFFIXES = words(
    "FullAccess ReadOnlyAccess ServiceRolePolicy ConsoleFullAccess ServiceRole DeveloperAccess OperatorAccess "
    "ExecutionRolePolicy ManagementPolicy CrossAccountAccess"
)
MONTHS = words("January February March April May June July August September October November December")


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
