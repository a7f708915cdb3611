"""AWS Managed Policy Reference pages (tests/fixtures/reference/README.md says what each file holds)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES, REKOGNITION
from watcher.model import Kind, Page, Policy, PolicyStatus
from watcher.parse import parse
from watcher.render import to_json

REFERENCE = FIXTURES / "reference"
REFERENCE_URL = "https://docs.aws.amazon.com/aws-managed-policy/latest/reference/{}.html"
READ_ONLY = "AmazonRekognitionReadOnlyAccess"
GUARDED = "AmazonRekognitionGuardedInferenceAccess"
CUSTOM_LABELS = "AmazonRekognitionCustomLabelsFullAccess"
NAMES = [READ_ONLY, GUARDED, CUSTOM_LABELS]

READ_ONLY_ACTIONS = [
    "rekognition:CompareFaces",
    "rekognition:DescribeDataset",
    "rekognition:DescribeProjectVersions",
    "rekognition:DescribeProjects",
    "rekognition:DescribeStreamProcessor",
    "rekognition:DetectCustomLabels",
    "rekognition:DetectFaces",
    "rekognition:DetectLabels",
    "rekognition:DetectModerationLabels",
    "rekognition:DetectProtectiveEquipment",
    "rekognition:DetectText",
    "rekognition:GetCelebrityInfo",
    "rekognition:GetCelebrityRecognition",
    "rekognition:GetContentModeration",
    "rekognition:GetFaceDetection",
    "rekognition:GetFaceSearch",
    "rekognition:GetLabelDetection",
    "rekognition:GetMediaAnalysisJob",
    "rekognition:GetPersonTracking",
    "rekognition:GetSegmentDetection",
    "rekognition:GetTextDetection",
    "rekognition:ListCollections",
    "rekognition:ListDatasetEntries",
    "rekognition:ListDatasetLabels",
    "rekognition:ListFaces",
    "rekognition:ListMediaAnalysisJobs",
    "rekognition:ListProjectPolicies",
    "rekognition:ListStreamProcessors",
    "rekognition:ListTagsForResource",
    "rekognition:RecognizeCelebrities",
    "rekognition:SearchFaces",
    "rekognition:SearchFacesByImage",
]


def _html(name: str) -> str:
    return (REFERENCE / f"{name}.html").read_text(encoding="utf-8")


def _page(name: str, url: str | None = None, html: str | None = None) -> Page:
    body = (html if html is not None else _html(name)).encode("utf-8")
    parsed = parse(body, url)
    assert isinstance(parsed, Page)
    return parsed


def _only_policy(page: Page) -> Policy:
    assert len(page.policies) == 1
    return page.policies[0]


def _service_page_policy(page_name: str, policy_name: str) -> Policy:
    parsed = parse((REKOGNITION / f"{page_name}.html").read_bytes())
    assert isinstance(parsed, Page)
    return next(p for p in parsed.policies if p.name == policy_name)


def _expected_v2(policy_name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((REKOGNITION / "page-v2.expected.json").read_text())
    want: dict[str, Any] = data["policies"][policy_name]
    return want


# --- detection ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_a_reference_url_makes_a_reference_page(name: str) -> None:
    page = _page(name, REFERENCE_URL.format(name))
    assert page.kind is Kind.REFERENCE_PAGE
    assert page.url == REFERENCE_URL.format(name)


@pytest.mark.parametrize("name", NAMES)
def test_without_a_url_the_content_makes_a_reference_page(name: str) -> None:
    page = _page(name)
    assert page.kind is Kind.REFERENCE_PAGE
    assert page.url is None


@pytest.mark.parametrize("name", ["page-v1", "page-v2", "page-v3", "page-v4", "page-legacy"])
def test_service_pages_are_never_taken_for_reference_pages(name: str) -> None:
    assert parse((REKOGNITION / f"{name}.html").read_bytes()).kind is Kind.SERVICE_PAGE


def test_a_page_labelling_several_policy_arns_is_no_reference_page() -> None:
    items = "".join(
        f"<li><p><b>ARN</b>: <code>arn:aws:iam::aws:policy/{n}</code></p></li>" for n in (READ_ONLY, CUSTOM_LABELS)
    )
    html = (
        '<html><body><div id="main-col-body"><h1>AWS managed policies for Amazon Rekognition</h1>'
        f"<h2>Policy details</h2><ul>{items}</ul><p><b>Policy version:</b> v3 (default)</p></div></body></html>"
    )
    assert parse(html.encode()).kind is Kind.SERVICE_PAGE


# --- what one reference page says ------------------------------------------------------------------


def test_the_read_only_page_gives_name_arn_version_times_and_description() -> None:
    page = _page(READ_ONLY, REFERENCE_URL.format(READ_ONLY))
    policy = _only_policy(page)
    assert page.title == READ_ONLY
    assert policy.name == READ_ONLY
    assert policy.anchor == READ_ONLY
    assert policy.arn == "arn:aws:iam::aws:policy/AmazonRekognitionReadOnlyAccess"
    assert policy.version == "v3 (default)"
    assert policy.created == "April 19, 2017, 20:03 UTC"
    assert policy.edited == "October 31, 2023, 17:52 UTC"
    assert policy.description == "Access to all Amazon Rekognition Read APIs"
    assert page.warnings == ()


def test_the_read_only_page_gives_exactly_its_actions_from_entity_escaped_json() -> None:
    policy = _only_policy(_page(READ_ONLY))
    assert policy.status is PolicyStatus.OK
    assert policy.defects == ()
    assert policy.actions is not None
    assert list(policy.actions.allow) == READ_ONLY_ACTIONS
    assert policy.actions.deny == ()
    assert policy.actions.not_actions == ()
    assert policy.json_blocks == 1
    assert policy.document_block_index == 0
    assert policy.document_link is None
    # the page writes &quot; and <span>{</span>: the JSON read is the text, entities decoded, spans gone
    assert "&quot;" in _html(READ_ONLY)
    assert policy.raw_json is not None
    assert policy.raw_json.startswith('{\n  "Version" : "2012-10-17",')
    assert "&quot;" not in policy.raw_json and "<span>" not in policy.raw_json


def test_deny_statements_not_actions_and_conditions_are_kept() -> None:
    policy = _only_policy(_page(GUARDED, REFERENCE_URL.format(GUARDED)))
    assert policy.status is PolicyStatus.OK
    assert policy.arn == "arn:aws:iam::aws:policy/AmazonRekognitionGuardedInferenceAccess"
    assert policy.version == "v1 (default)"
    assert policy.created == "March 4, 2024, 18:12 UTC"
    assert policy.edited == "March 4, 2024, 18:12 UTC"  # written <b>Edited time:</b>, colon inside the bold
    assert policy.actions is not None
    assert list(policy.actions.allow) == [
        "rekognition:DescribeProjectVersions",
        "rekognition:DescribeProjects",
        "rekognition:DetectCustomLabels",
        "s3:GetObject",
        "s3:ListBucket",
    ]
    assert list(policy.actions.deny) == [
        "rekognition:DeleteProjectVersion",
        "rekognition:StartProjectVersion",
        "rekognition:StopProjectVersion",
        "s3:*",
    ]
    assert list(policy.actions.not_actions) == ["iam:ListMFADevices", "sts:GetSessionToken"]
    assert policy.actions.count == 11
    assert policy.document is not None
    by_sid = {s["Sid"]: s for s in policy.document["Statement"]}
    assert by_sid["DenyInsecureTransport"]["Effect"] == "Deny"
    assert by_sid["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert by_sid["DenyModelLifecycleOutsideApprovedRegions"]["Condition"] == {
        "StringNotEquals": {"aws:RequestedRegion": ["eu-west-1", "us-east-1"]}
    }
    assert by_sid["DenyAllOtherWithoutMFA"]["Condition"] == {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}
    assert "Action" not in by_sid["DenyAllOtherWithoutMFA"]


def test_a_missing_comma_is_repaired_and_flagged() -> None:
    page = _page(CUSTOM_LABELS, REFERENCE_URL.format(CUSTOM_LABELS))
    policy = _only_policy(page)
    assert policy.status is PolicyStatus.REPAIRED
    assert policy.defects == ("missing_comma",)
    assert [(w.code, w.policy) for w in page.warnings] == [("repaired_json", CUSTOM_LABELS)]
    assert policy.actions is not None
    assert list(policy.actions.allow) == _expected_v2(CUSTOM_LABELS)["actions_allow"]
    assert policy.actions.count == 32
    assert policy.version == "v4 (default)"
    assert policy.edited == "July 21, 2022, 19:48 UTC"


def test_unrepairable_json_is_unparseable_with_the_raw_text_kept() -> None:
    html = _html(READ_ONLY).replace("&quot;rekognition:DetectFaces&quot;", "\u201crekognition:DetectFaces\u201d")
    page = _page(READ_ONLY, html=html)
    policy = _only_policy(page)
    assert policy.status is PolicyStatus.UNPARSEABLE
    assert policy.actions is None and policy.document is None
    assert policy.raw_json is not None and "\u201crekognition:DetectFaces\u201d" in policy.raw_json
    assert policy.arn == "arn:aws:iam::aws:policy/AmazonRekognitionReadOnlyAccess"
    assert [w.code for w in page.warnings] == ["unparseable_json"]


def test_the_labelled_arn_wins_over_an_arn_mentioned_earlier() -> None:
    mention = (
        '<p>Use it instead of <code class="code">arn:aws:iam::aws:policy/AmazonRekognitionFullAccess</code>.</p>'
        '<h2 id="AmazonRekognitionReadOnlyAccess-how-to-use">'
    )
    html = _html(READ_ONLY).replace('<h2 id="AmazonRekognitionReadOnlyAccess-how-to-use">', mention, 1)
    page = _page(READ_ONLY, html=html)
    assert page.kind is Kind.REFERENCE_PAGE
    assert _only_policy(page).arn == "arn:aws:iam::aws:policy/AmazonRekognitionReadOnlyAccess"


def test_an_arn_with_a_path_is_kept_whole() -> None:
    """Service-role and job-function policies live under a path: arn:aws:iam::aws:policy/service-role/…"""
    html = _html(READ_ONLY).replace(
        '<b>ARN</b>: <code class="code">arn:aws:iam::aws:policy/AmazonRekognitionReadOnlyAccess</code>',
        '<b>ARN</b>: <code class="code">arn:aws:iam::aws:policy/service-role/AmazonRekognitionReadOnlyAccess</code>',
    )
    policy = _only_policy(_page(READ_ONLY, html=html))
    assert policy.arn == "arn:aws:iam::aws:policy/service-role/AmazonRekognitionReadOnlyAccess"
    assert policy.name == READ_ONLY


def test_a_field_the_page_does_not_show_is_a_warning_not_a_guess() -> None:
    html = _html(READ_ONLY)
    start = html.index("<p><b>Edited time</b>")
    html = html[:start] + html[html.index("</p>", start) + len("</p>") :]
    page = _page(READ_ONLY, REFERENCE_URL.format(READ_ONLY), html=html)
    policy = _only_policy(page)
    assert policy.edited is None
    assert policy.created == "April 19, 2017, 20:03 UTC"
    assert [(w.code, w.policy) for w in page.warnings] == [("incomplete_reference", READ_ONLY)]
    assert "edited time" in page.warnings[0].message


def test_the_json_interface_carries_the_reference_fields() -> None:
    data = to_json(_page(READ_ONLY, REFERENCE_URL.format(READ_ONLY)))
    assert data["kind"] == "reference_page"
    assert data["title"] == READ_ONLY
    assert data["updates"] == []
    (policy,) = data["policies"]
    assert {k: policy[k] for k in ("name", "arn", "version", "created", "edited", "status", "action_count")} == {
        "name": READ_ONLY,
        "arn": "arn:aws:iam::aws:policy/AmazonRekognitionReadOnlyAccess",
        "version": "v3 (default)",
        "created": "April 19, 2017, 20:03 UTC",
        "edited": "October 31, 2023, 17:52 UTC",
        "status": "ok",
        "action_count": 32,
    }


# --- the reference page and the service page agree --------------------------------------------------


@pytest.mark.parametrize("name", [READ_ONLY, CUSTOM_LABELS])
def test_the_reference_page_and_the_service_page_give_the_same_canonical_document(name: str) -> None:
    reference = _only_policy(_page(name))
    service = _service_page_policy("page-v2", name)
    # printed differently (IAM's "Key" : value, &quot; entities), read the same
    assert reference.raw_json != service.raw_json
    assert reference.document is not None
    assert reference.document == service.document
    assert reference.actions == service.actions
    assert (reference.status, reference.defects) == (service.status, service.defects)


def test_the_reference_page_differs_from_an_older_service_page() -> None:
    """v1 of the service page lacks the two media-analysis actions that the reference page shows."""
    reference = _only_policy(_page(READ_ONLY))
    older = _service_page_policy("page-v1", READ_ONLY)
    assert reference.actions is not None and older.actions is not None
    assert sorted(set(reference.actions.allow) - set(older.actions.allow)) == [
        "rekognition:GetMediaAnalysisJob",
        "rekognition:ListMediaAnalysisJobs",
    ]


# --- content hash ------------------------------------------------------------------------------------


def test_chrome_does_not_change_the_hash_but_content_does() -> None:
    html = _html(READ_ONLY)
    chrome = html.replace("version=2021.12.02", "version=2026.01.15").replace(
        "5d0c7a4e-91b2-4c38-8f0e-2a6b1e7d3c94", "00000000-0000-4000-8000-000000000000"
    )
    assert chrome != html
    content = html.replace("&quot;rekognition:DetectFaces&quot;,\n", "", 1)
    assert content != html
    base = _page(READ_ONLY, html=html).content_hash
    assert base
    assert _page(READ_ONLY, html=chrome).content_hash == base
    assert _page(READ_ONLY, REFERENCE_URL.format(READ_ONLY), html=html).content_hash == base
    assert _page(READ_ONLY, html=content).content_hash != base


def test_every_fixture_file_is_covered_and_described() -> None:
    files = {p.name for p in Path(REFERENCE).iterdir()}
    assert files == {f"{n}.html" for n in NAMES} | {"README.md"}
    readme = (REFERENCE / "README.md").read_text()
    for name in NAMES:
        assert f"`{name}.html`" in readme
