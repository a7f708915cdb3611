"""Which links of a page are followed to the AWS Managed Policy Reference (pure: no server, no database)."""

from __future__ import annotations

import pytest

from tests.reference_helpers import CONSOLE_LINK, CUSTOM_LABELS, FULL_ACCESS, READ_ONLY, ref_path
from watcher.model import Kind, Page, PolicyStatus
from watcher.model import Policy as ParsedPolicy
from watcher.references import Reference, reference_url, references

# --- which links are followed (pure) -----------------------------------------------------------------


def test_a_relative_link_is_resolved_against_the_page_url_without_query_or_fragment() -> None:
    page = "https://docs.aws.amazon.com/rekognition/latest/dg/security-iam-awsmanpol.html"
    expected = f"https://docs.aws.amazon.com{ref_path(READ_ONLY)}"
    assert reference_url(f"../../..{ref_path(READ_ONLY)}#policy-json", page) == expected
    assert reference_url(f"{ref_path(READ_ONLY)}?src=rek", page) == expected
    assert reference_url(expected, None) == expected
    localized = f"https://docs.aws.amazon.com/de_de{ref_path(READ_ONLY)}"
    assert reference_url(localized, page) == localized


@pytest.mark.parametrize(
    "href",
    [
        CONSOLE_LINK,
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-vs-inline.html",
        "https://docs.aws.amazon.com/aws-managed-policy/latest/reference/",
        f"https://docs.aws.amazon.com/aws-managed-policy/latest/reference/sub/{READ_ONLY}.html",
        f"ftp://docs.aws.amazon.com{ref_path(READ_ONLY)}",
        ref_path(READ_ONLY),  # relative, and no page URL to resolve it against
    ],
)
def test_links_that_are_no_reference_page_are_not_followed(href: str) -> None:
    assert reference_url(href, None) is None


def test_only_policies_without_a_document_on_the_page_are_followed_once_each() -> None:
    link = f"https://docs.aws.amazon.com{ref_path(READ_ONLY)}"

    def policy(name: str, status: PolicyStatus, document_link: str | None) -> ParsedPolicy:
        return ParsedPolicy(name, None, "", status, document_link=document_link)

    page = Page(
        kind=Kind.SERVICE_PAGE,
        url=None,
        title="AWS managed policies for Amazon Rekognition",
        policies=(
            policy(FULL_ACCESS, PolicyStatus.OK, link),  # embeds its JSON and links too: the page is enough
            policy(READ_ONLY, PolicyStatus.NO_DOCUMENT, link),
            policy(READ_ONLY, PolicyStatus.NO_DOCUMENT, link),
            policy(CUSTOM_LABELS, PolicyStatus.NO_DOCUMENT, CONSOLE_LINK),
            policy("AmazonRekognitionServiceRole", PolicyStatus.NO_DOCUMENT, None),
        ),
    )
    assert references(page, "rekognition", None) == (Reference(READ_ONLY, link),)
    assert references(page, "r" * 170, None) == ()  # "<page>/<policy>" would not fit a source name
