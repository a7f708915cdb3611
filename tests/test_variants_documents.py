"""Parser variants: policy documents (statement shapes, code-block markup, several blocks) or none on the page."""

from __future__ import annotations

import html
import json
from typing import Any

import pytest

from tests.variant_helpers import (
    CONSOLE_LINK,
    EXAMPLE,
    READ_ONLY,
    READ_ONLY_ALLOW,
    REFERENCE_LINK,
    TRUST,
    heading,
    json_block,
    json_text,
    only,
    page,
    section,
    shell_block,
)
from watcher.model import ActionSet, PolicyStatus


def legacy_json_block(document: dict[str, Any] | str) -> str:
    code = html.escape(json_text(document), quote=False)
    return (
        '<pre class="programlisting"><div class="code-btn-container"><div class="btn-copy-code" title="Copy"></div>'
        '<div class="btn-dark-theme" title="Dark theme" aria-label="Dark theme"></div></div>'
        f'<code class="nohighlight ">{code}</code></pre>'
    )


# --- documents -----------------------------------------------------------------------------------


def _doc(*statements: dict[str, Any] | list[dict[str, Any]]) -> dict[str, Any]:
    value: Any = statements[0] if len(statements) == 1 else list(statements)
    return {"Version": "2012-10-17", "Statement": value}


@pytest.mark.parametrize(
    ("document", "actions"),
    [
        pytest.param(
            _doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}),
            ActionSet(allow=("s3:GetObject",)),
            id="statement-object-action-string",
        ),
        pytest.param(
            _doc([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]),
            ActionSet(allow=("s3:GetObject",)),
            id="statement-list-action-string",
        ),
        pytest.param(
            _doc({"Effect": "Allow", "Action": ["s3:PutObject", "s3:getObject", "s3:GetObject"], "Resource": "*"}),
            ActionSet(allow=("s3:GetObject", "s3:PutObject")),
            id="action-list-deduplicated-case-insensitively",
        ),
        pytest.param(
            _doc({"Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*"}),
            ActionSet(not_actions=("iam:*", "organizations:*")),
            id="not-action",
        ),
        pytest.param(
            _doc(
                {"Sid": "AllowRead", "Effect": "Allow", "Action": ["ec2:DescribeInstances"], "Resource": "*"},
                {"Sid": "DenyDelete", "Effect": "Deny", "Action": "ec2:DeleteVolume", "Resource": "*"},
            ),
            ActionSet(allow=("ec2:DescribeInstances",), deny=("ec2:DeleteVolume",)),
            id="allow-and-deny-with-sids",
        ),
        pytest.param(
            _doc(
                {
                    "Sid": "PassRoleToExample",
                    "Effect": "Allow",
                    "Action": "iam:PassRole",
                    "Resource": "*",
                    "Condition": {"StringEquals": {"iam:PassedToService": "example.amazonaws.com"}},
                },
                {
                    "Effect": "Deny",
                    "NotAction": "example:Get*",
                    "Resource": "*",
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ),
            ActionSet(allow=("iam:PassRole",), not_actions=("example:Get*",)),
            id="conditions",
        ),
    ],
)
def test_it_reads_the_actions_of_every_statement_shape(document: dict[str, Any], actions: ActionSet) -> None:
    policy = only(page(section("AWS managed policy: AmazonExampleFullAccess", json_block(document))))
    assert (policy.status, policy.defects, policy.actions) == (PolicyStatus.OK, (), actions)
    assert policy.document is not None and isinstance(policy.document["Statement"], list)


def test_the_document_is_kept_in_canonical_form() -> None:
    document = _doc({"Resource": "*", "Action": ["s3:PutObject", "s3:GetObject"], "Effect": "Allow"})
    policy = only(page(section("AWS managed policy: AmazonExampleFullAccess", json_block(document))))
    assert policy.document == {
        "Statement": [{"Action": ["s3:GetObject", "s3:PutObject"], "Effect": "Allow", "Resource": ["*"]}],
        "Version": "2012-10-17",
    }
    assert policy.raw_json == json.dumps(document, indent=4)


def test_it_reads_the_legacy_code_block_markup() -> None:
    body = heading("AWS managed policy: AmazonExampleFullAccess") + legacy_json_block(READ_ONLY)
    policy = only(page(body))
    assert (policy.status, policy.actions) == (PolicyStatus.OK, ActionSet(allow=READ_ONLY_ALLOW))


@pytest.mark.parametrize(
    ("blocks", "count", "index", "allow"),
    [
        pytest.param([TRUST, READ_ONLY], 2, 1, READ_ONLY_ALLOW, id="trust-policy-first"),
        pytest.param([READ_ONLY, TRUST], 2, 0, READ_ONLY_ALLOW, id="trust-policy-after"),
        pytest.param([READ_ONLY, EXAMPLE], 2, 0, READ_ONLY_ALLOW, id="example-after"),
        pytest.param([{"RoleName": "ExampleRole"}, EXAMPLE], 2, 1, ("iam:PassRole",), id="non-policy-json-first"),
        pytest.param([TRUST, EXAMPLE, READ_ONLY], 3, 1, ("iam:PassRole",), id="first-permissions-policy-wins"),
    ],
)
def test_of_several_json_blocks_the_first_permissions_policy_is_the_document(
    blocks: list[dict[str, Any]], count: int, index: int, allow: tuple[str, ...]
) -> None:
    body = section("AWS managed policy: AmazonExampleServiceRolePolicy", *(json_block(b) for b in blocks))
    policy = only(page(body))
    assert (policy.json_blocks, policy.document_block_index, policy.actions) == (count, index, ActionSet(allow=allow))


def test_a_trust_policy_in_a_subsection_does_not_replace_the_document() -> None:
    body = (
        section("AWS managed policy: AmazonExampleServiceRolePolicy", json_block(READ_ONLY))
        + heading("Trust relationship", "trust", level=3)
        + json_block(TRUST)
    )
    policy = only(page(body))
    assert (policy.json_blocks, policy.document_block_index, policy.actions) == (
        2,
        0,
        ActionSet(allow=READ_ONLY_ALLOW),
    )


def test_shell_blocks_are_ignored() -> None:
    body = section(
        "AWS managed policy: AmazonExampleFullAccess",
        shell_block("aws iam attach-role-policy --role-name ExampleRole \\\n  --policy-arn arn:aws:iam::aws:policy/X"),
        shell_block("aws iam get-policy-version --policy-arn arn:aws:iam::aws:policy/X --version-id v1"),
        json_block(READ_ONLY),
    )
    policy = only(page(body))
    assert (policy.json_blocks, policy.document_block_index, policy.status) == (1, 0, PolicyStatus.OK)


# --- policies without a document on the page -----------------------------------------------------


@pytest.mark.parametrize("link", [REFERENCE_LINK, CONSOLE_LINK])
@pytest.mark.parametrize(
    "inner", ["AWS managed policy: AmazonS3FullAccess", "AmazonS3FullAccess", "<code>AmazonS3FullAccess</code>"]
)
def test_a_policy_linked_instead_of_embedded_has_no_document(link: str, inner: str) -> None:
    body = (
        heading(inner, "s3-full")
        + "<p>Grants full access to Amazon S3. To view the permissions for this policy, see "
        + f'<a href="{html.escape(link)}" rel="noopener noreferrer" target="_blank">AmazonS3FullAccess</a>.</p>'
    )
    parsed = page(body)
    policy = only(parsed)
    assert (policy.name, policy.status, policy.document_link) == ("AmazonS3FullAccess", PolicyStatus.NO_DOCUMENT, link)
    assert (policy.actions, policy.document, policy.raw_json, policy.json_blocks) == (None, None, None, 0)
    assert [(w.code, w.policy) for w in parsed.warnings if w.policy] == [("no_document", "AmazonS3FullAccess")]


@pytest.mark.parametrize("link", [REFERENCE_LINK, CONSOLE_LINK])
def test_a_heading_that_is_itself_the_link_to_the_document_has_no_document(link: str) -> None:
    body = heading(f'<a href="{html.escape(link)}">AmazonS3FullAccess</a>', "s3-full") + "<p>Full access.</p>"
    policy = only(page(body))
    assert (policy.name, policy.anchor, policy.status, policy.document_link) == (
        "AmazonS3FullAccess",
        "s3-full",
        PolicyStatus.NO_DOCUMENT,
        link,
    )


def test_a_prefixed_heading_with_neither_json_nor_link_has_no_document() -> None:
    body = heading("AWS managed policy: AmazonS3FullAccess") + "<p>Grants full access to Amazon S3.</p>"
    policy = only(page(body))
    assert (policy.status, policy.document_link, policy.actions) == (PolicyStatus.NO_DOCUMENT, None, None)


def test_a_link_next_to_the_json_is_kept_and_the_json_read() -> None:
    body = section(
        "AWS managed policy: AmazonS3FullAccess",
        f'<p>See also <a href="{REFERENCE_LINK}">AmazonS3FullAccess</a>.</p>',
        json_block(READ_ONLY),
    )
    policy = only(page(body))
    assert (policy.status, policy.document_link, policy.actions) == (
        PolicyStatus.OK,
        REFERENCE_LINK,
        ActionSet(allow=READ_ONLY_ALLOW),
    )
