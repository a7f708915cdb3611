"""Parser variants: policy headings (name, anchor, description, grouping) and pages with no policy sections."""

from __future__ import annotations

import pytest

from tests.variant_helpers import (
    EXAMPLE,
    READ_ONLY,
    READ_ONLY_ALLOW,
    REFERENCE_LINK,
    TRUST,
    codes,
    heading,
    json_block,
    only,
    page,
    row_facts,
    section,
    shell_block,
    updates,
)
from watcher.model import ActionSet, PolicyStatus

# --- headings ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inner", "level", "name"),
    [
        pytest.param("AWS managed policy: AmazonExampleFullAccess", 2, "AmazonExampleFullAccess", id="prefixed"),
        pytest.param("AmazonExampleFullAccess", 2, "AmazonExampleFullAccess", id="bare"),
        pytest.param('<code class="code">AmazonExampleFullAccess</code>', 2, "AmazonExampleFullAccess", id="code"),
        pytest.param("<b>AmazonExampleFullAccess</b>", 2, "AmazonExampleFullAccess", id="bold"),
        pytest.param(
            'AWS managed policy: <code class="code">AmazonExampleFullAccess</code>',
            2,
            "AmazonExampleFullAccess",
            id="prefixed-code",
        ),
        pytest.param(
            "Security Hub managed policy: AWSSecurityHubFullAccess", 2, "AWSSecurityHubFullAccess", id="other"
        ),
        pytest.param("AmazonExampleFullAccess_v2 (recommended)", 2, "AmazonExampleFullAccess_v2", id="parenthetical"),
        pytest.param(
            "AWS managed policy: AmazonExampleFullAccess_v2 (recommended)",
            2,
            "AmazonExampleFullAccess_v2",
            id="prefixed-parenthetical",
        ),
        pytest.param("AWS managed policy \u2013 AmazonExampleFullAccess", 2, "AmazonExampleFullAccess", id="en-dash"),
        pytest.param("AWS\u00a0managed policy:\n  AmazonExampleFullAccess", 2, "AmazonExampleFullAccess", id="nbsp"),
        pytest.param("AWS managed policy: AmazonExampleFullAccess", 3, "AmazonExampleFullAccess", id="h3"),
        pytest.param("AmazonExampleFullAccess", 4, "AmazonExampleFullAccess", id="bare-h4"),
    ],
)
def test_it_reads_the_policy_name_whatever_the_heading_style(inner: str, level: int, name: str) -> None:
    policy = only(page(section(inner, json_block(READ_ONLY), level=level)))
    assert (policy.name, policy.status, policy.anchor) == (name, PolicyStatus.OK, "security-iam-awsmanpol-Example")
    assert policy.actions == ActionSet(allow=READ_ONLY_ALLOW)


@pytest.mark.parametrize(
    ("markup", "anchor"),
    [
        pytest.param('<h2 id="example-full">AWS managed policy: AmazonExampleFullAccess</h2>', "example-full", id="id"),
        pytest.param("<h2>AWS managed policy: AmazonExampleFullAccess</h2>", None, id="none"),
        pytest.param(
            '<h2><a name="example-full"></a>AWS managed policy: AmazonExampleFullAccess</h2>',
            "example-full",
            id="inner-a-name",
        ),
        pytest.param(
            '<h2><a id="example-full"></a>AmazonExampleFullAccess</h2>',
            "example-full",
            id="inner-a-id-bare",
        ),
    ],
)
def test_it_takes_the_anchor_from_the_heading_id_or_an_inner_link(markup: str, anchor: str | None) -> None:
    policy = only(page(markup + json_block(READ_ONLY)))
    assert (policy.name, policy.anchor) == ("AmazonExampleFullAccess", anchor)


def test_headings_sharing_one_id_give_both_policies_and_a_duplicate_anchor_warning() -> None:
    parsed = page(
        section("AWS managed policy: AmazonExampleFullAccess", json_block(EXAMPLE), anchor="example-policy")
        + section("AWS managed policy: AmazonExampleReadOnlyAccess", json_block(READ_ONLY), anchor="example-policy")
    )
    assert [(p.name, p.anchor) for p in parsed.policies] == [
        ("AmazonExampleFullAccess", "example-policy"),
        ("AmazonExampleReadOnlyAccess", "example-policy"),
    ]
    assert [p.actions for p in parsed.policies] == [
        ActionSet(allow=("iam:PassRole",)),
        ActionSet(allow=READ_ONLY_ALLOW),
    ]
    dupes = [w for w in parsed.warnings if w.code == "duplicate_anchor"]
    assert [w.policy for w in dupes] == ["AmazonExampleReadOnlyAccess"]


_PREFIXED = "AWS managed policy: AmazonExampleFullAccess"
_BARE = "AmazonExampleFullAccess"


@pytest.mark.parametrize(
    ("inner", "first", "second"),
    [
        pytest.param(_PREFIXED, "Permissions details", "Policy document", id="prefixed-prose-subheadings"),
        pytest.param(_BARE, "Permissions details", "Policy document", id="bare-prose-subheadings"),
        pytest.param(_PREFIXED, "Permissions details", "JSON", id="prefixed-all-caps-subheading"),
        pytest.param(_BARE, "Permissions details", "JSON", id="bare-all-caps-subheading"),
        pytest.param(_PREFIXED, "CloudWatchLogs", "Permissions details", id="prefixed-name-like-subheading"),
        pytest.param(_BARE, "CloudWatchLogs", "Permissions details", id="bare-name-like-subheading"),
        pytest.param(_PREFIXED, "Permissions details", "CloudWatchLogs", id="prefixed-name-like-subheading-over-json"),
    ],
)
def test_h3_subsections_between_the_heading_and_the_json_belong_to_the_policy(
    inner: str, first: str, second: str
) -> None:
    body = (
        heading(inner)
        + "<p>Grants full access.</p>"
        + f'<h3 id="example-details">{first}</h3><p>This policy includes the following permissions.</p>'
        + f'<h4 id="example-json">{second}</h4>'
        + json_block(READ_ONLY)
        + heading("Next steps", "next")
        + json_block(EXAMPLE)
    )
    policy = only(page(body))
    assert (policy.name, policy.json_blocks, policy.actions) == (
        "AmazonExampleFullAccess",
        1,
        ActionSet(allow=READ_ONLY_ALLOW),
    )
    assert policy.description == "Grants full access."


@pytest.mark.parametrize("group_heading", ["Policies for administrators", "ManagedPolicies"])
def test_policy_headings_grouped_under_a_plain_h2_each_keep_their_own_json(group_heading: str) -> None:
    body = (
        heading(group_heading, "admins")
        + "<p>Use these policies for administrators.</p>"
        + section("AWS managed policy: AmazonExampleFullAccess", json_block(EXAMPLE), anchor="full", level=3)
        + section("AmazonExampleReadOnlyAccess", json_block(READ_ONLY), anchor="read", level=3)
    )
    parsed = page(body)
    assert [(p.name, p.anchor, p.json_blocks, p.actions) for p in parsed.policies] == [
        ("AmazonExampleFullAccess", "full", 1, ActionSet(allow=("iam:PassRole",))),
        ("AmazonExampleReadOnlyAccess", "read", 1, ActionSet(allow=READ_ONLY_ALLOW)),
    ]


@pytest.mark.parametrize(
    "title",
    [
        pytest.param(heading("AWS managed policy: AmazonExampleFullAccess"), id="current"),
        pytest.param(
            '<div class="titlepage"><div><div><h2 class="title" id="full">'
            "AWS managed policy: AmazonExampleFullAccess</h2></div></div></div>",
            id="legacy-titlepage",
        ),
    ],
)
def test_the_description_is_the_prose_under_the_heading(title: str) -> None:
    body = (
        title
        + '<p><code class="code">AmazonExampleFullAccess</code> grants full access.</p>'
        + "<p>You can attach it to your IAM identities.</p>"
        + "<p><b>Permissions details</b></p><p>This policy includes the following permissions.</p>"
        + json_block(READ_ONLY)
    )
    policy = only(page(body))
    assert policy.description == "AmazonExampleFullAccess grants full access. You can attach it to your IAM identities."


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(heading("GettingStarted") + "<p>Attach a policy to a role.</p>", id="bare-word-without-document"),
        pytest.param(
            heading("Example: create a role") + json_block('{\n    "RoleName": "ExampleRole",\n    "Path": "/"\n}'),
            id="json-fragment",
        ),
        pytest.param(
            heading("Example: create a role") + json_block(EXAMPLE) + json_block(TRUST),
            id="example-policy",
        ),
        pytest.param(heading("AWSServiceRoleForAmazonExample") + json_block(TRUST), id="bare-trust-policy-only"),
        pytest.param(heading("JSON") + json_block(READ_ONLY), id="all-caps-word"),
        pytest.param(
            heading("GettingStarted")
            + '<p>See <a href="https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html">policies</a>.</p>',
            id="bare-word-with-another-link",
        ),
    ],
)
def test_sections_that_hold_no_managed_policy_are_not_policies(body: str) -> None:
    parsed = page(body)
    assert parsed.policies == ()
    assert "no_policy_sections" in codes(parsed)


def test_a_json_fragment_after_a_policy_section_does_not_join_it() -> None:
    body = (
        section("AWS managed policy: AmazonExampleFullAccess", json_block(READ_ONLY))
        + heading("Example: create a role", "example-create-role")
        + "<p>Run the following command.</p>"
        + shell_block("aws iam create-role --role-name ExampleRole --assume-role-policy-document file://trust.json")
        + json_block(EXAMPLE)
    )
    policy = only(page(body))
    assert (policy.name, policy.json_blocks, policy.actions) == (
        "AmazonExampleFullAccess",
        1,
        ActionSet(allow=READ_ONLY_ALLOW),
    )


# --- pages without policy sections ---------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            "<p>Amazon Example provides the following AWS managed policies:</p>"
            '<div class="itemizedlist"><ul class="itemizedlist">'
            '<li class="listitem"><p>AmazonS3FullAccess</p></li>'
            '<li class="listitem"><p>AmazonS3ReadOnlyAccess</p></li></ul></div>',
            id="list-items",
        ),
        pytest.param(
            '<h2 id="policies">AWS managed policies</h2>'
            '<div class="itemizedlist"><ul class="itemizedlist">'
            '<li class="listitem"><p><a href="security-iam-awsmanpol-AmazonS3FullAccess.html">'
            "AWS managed policy: AmazonS3FullAccess</a></p></li>"
            '<li class="listitem"><p><a href="security-iam-awsmanpol-AmazonS3ReadOnlyAccess.html">'
            "AWS managed policy: AmazonS3ReadOnlyAccess</a></p></li></ul></div>",
            id="links-to-one-page-per-policy",
        ),
        pytest.param(
            '<h2 id="policies">Amazon Example managed policies</h2><p>Amazon Example provides these policies:</p>'
            '<div class="itemizedlist"><ul class="itemizedlist">'
            f'<li class="listitem"><p><a href="{REFERENCE_LINK}">AmazonS3FullAccess</a></p></li>'
            '<li class="listitem"><p><a href="https://docs.aws.amazon.com/aws-managed-policy/latest/reference/'
            'AmazonS3ReadOnlyAccess.html">AmazonS3ReadOnlyAccess</a></p></li></ul></div>',
            id="links-to-the-policy-reference",
        ),
    ],
)
def test_a_page_without_policy_sections_has_no_policies_and_says_so(body: str) -> None:
    parsed = page(body + updates([("Amazon Example started tracking changes", "Tracking.", "April 2, 2021")]))
    assert parsed.policies == ()
    assert codes(parsed) == ["no_policy_sections"]
    assert [row_facts(u) for u in parsed.updates] == [
        ("Amazon Example started tracking changes", "Tracking.", "2021-04-02", "April 2, 2021")
    ]
