"""Small pages in the real AWS markup, one variant each, every one seen on a live AWS page.

Each test builds a page with the helpers below (current awsui layout unless a test says legacy), parses
it with ``watcher.parse.parse`` and asserts exact values.
"""

from __future__ import annotations

import html
import json
from typing import Any

import pytest

from watcher.model import ActionSet, Page, Policy, PolicyStatus, UpdateRow
from watcher.parse import parse
from watcher.parse.dates import parse_date
from watcher.parse.mentions import ActionQualifier, PolicyNameFinder, mentioned_actions

TITLE = "AWS managed policies for Amazon Example"
UPDATES_TITLE = "Amazon Example updates to AWS managed policies"
REFERENCE_LINK = "https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonS3FullAccess.html"
CONSOLE_LINK = "https://console.aws.amazon.com/iam/home#/policies/arn:aws:iam::aws:policy/AmazonS3FullAccess$jsonEditor"

READ_ONLY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["example:ListThings", "example:GetThing"], "Resource": "*"}],
}
TRUST: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "example.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
EXAMPLE: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::*:role/Example*"}],
}
READ_ONLY_ALLOW = ("example:GetThing", "example:ListThings")


# --- page builders (markup copied from tests/fixtures/rekognition/page-v1.html) -----------------


def page(body: str, title: str = TITLE) -> Page:
    markup = f'<html><body><div id="main-col-body"><h1 class="topictitle">{title}</h1>{body}</div></body></html>'
    parsed = parse(markup.encode("utf-8"))
    assert isinstance(parsed, Page)
    return parsed


def json_text(document: dict[str, Any] | str) -> str:
    return document if isinstance(document, str) else json.dumps(document, indent=4)


def json_block(document: dict[str, Any] | str) -> str:
    """A policy code block in its JSON tab; AWS wraps every ``{`` in a span."""
    code = html.escape(json_text(document), quote=False).replace("{", "<span>{</span>")
    return (
        '<awsdocs-tabs><dl style="display: none">\n      <dt>JSON</dt><dd tab-id="json">'
        '<pre class="programlisting"><div class="code-btn-container"><div class="btn-copy-code" title="Copy">'
        '<awsui-icon name="copy"></awsui-icon></div></div><!--DEBUG: cli (json)-->'
        f'<code class="json ">{code}</code></pre></dd>\n    </dl></awsdocs-tabs>'
    )


def legacy_json_block(document: dict[str, Any] | str) -> str:
    code = html.escape(json_text(document), quote=False)
    return (
        '<pre class="programlisting"><div class="code-btn-container"><div class="btn-copy-code" title="Copy"></div>'
        '<div class="btn-dark-theme" title="Dark theme" aria-label="Dark theme"></div></div>'
        f'<code class="nohighlight ">{code}</code></pre>'
    )


def shell_block(command: str) -> str:
    return (
        '<pre class="programlisting"><div class="code-btn-container"><div class="btn-copy-code" title="Copy">'
        '<awsui-icon name="copy"></awsui-icon></div></div><!--DEBUG: cli (bash)-->'
        f'<code class="bash ">{html.escape(command, quote=False)}</code></pre>'
    )


def heading(inner: str, anchor: str | None = "security-iam-awsmanpol-Example", level: int = 2) -> str:
    id_attr = f' id="{anchor}"' if anchor else ""
    return f"<h{level}{id_attr}>{inner}</h{level}>"


def section(inner: str, *blocks: str, anchor: str | None = "security-iam-awsmanpol-Example", level: int = 2) -> str:
    """A policy section: heading, description, "Permissions details", then the blocks."""
    return (
        heading(inner, anchor, level)
        + "<p>This policy grants access to Amazon Example resources.</p>"
        + "<p><b>Permissions details</b></p><p>This policy includes the following permissions.</p>"
        + "".join(blocks)
    )


def table(rows: list[tuple[str, ...]], header: str | None = None, legacy: bool = False) -> str:
    """An updates table: current layout (6 ``th`` in ``thead``, rows straight in ``table``) or legacy."""
    cells = "".join("<tr>" + "".join(f'<td tabindex="-1">{c}</td>' for c in row) + "</tr>" for row in rows)
    if legacy:
        head = header or "<tr><th>Change</th><th>Description</th><th>Date</th></tr>"
        return (
            '<div class="table"><p class="title"><b></b></p><div class="table-contents">'
            f'<table id="w331aac38c46b9">{head}{cells}</table></div></div>'
        )
    head = (
        header or "<thead><tr><th>Change</th><th>Description</th><th>Date</th><th></th><th></th><th></th></tr></thead>"
    )
    wrap = '<div class="table-container"><div class="table-contents">'
    return f'{wrap}<table id="w2aab7c55b7">{head}{cells}</table></div></div>'


def updates(rows: list[tuple[str, ...]], legacy: bool = False) -> str:
    return (
        f'<h2 id="security-iam-awsmanpol-updates">{UPDATES_TITLE}</h2>'
        "<p>View details about updates to AWS managed policies for Amazon Example since this service began "
        "tracking these changes.</p>" + table(rows, legacy=legacy)
    )


def only(parsed: Page) -> Policy:
    assert len(parsed.policies) == 1, [p.name for p in parsed.policies]
    return parsed.policies[0]


def codes(parsed: Page) -> list[str]:
    return [w.code for w in parsed.warnings]


def row_facts(row: UpdateRow) -> tuple[str, str, str | None, str | None]:
    return (row.change, row.description, row.date, row.date_raw)


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


# --- malformed JSON ------------------------------------------------------------------------------

_MISSING_COMMA = """{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "s3:GetObject"
                "s3:PutObject"
            ],
            "Resource": "*"
        }
    ]
}"""
_MISSING_COMMA_BETWEEN_STATEMENTS = """{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": "*"
        } {
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": "*"
        }
    ]
}"""
_TRAILING_COMMA = """{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "s3:GetObject",
                "s3:PutObject",
            ],
            "Resource": "*"
        },
    ]
}"""
_DOUBLE_COMMA = """{
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject",, "s3:PutObject"], "Resource": "*"}]
}"""
_COMMA_INSIDE_STRING = """{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "s3:GetObject,"
                "s3:PutObject"
            ],
            "Resource": "*"
        }
    ]
}"""
_COMMA_INSIDE_STRING_VALID = """{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "s3:PutObject",
                "s3:GetObject,"
            ],
            "Resource": "*"
        }
    ]
}"""
_TWO_DEFECTS = """{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "s3:GetObject"
                "s3:PutObject",
            ],
            "Resource": "*"
        }
    ]
}"""
_S3_READ_WRITE = ("s3:GetObject", "s3:PutObject")


@pytest.mark.parametrize(
    ("text", "defects"),
    [
        pytest.param(_MISSING_COMMA, ("missing_comma",), id="missing-comma-between-strings"),
        pytest.param(_MISSING_COMMA_BETWEEN_STATEMENTS, ("missing_comma",), id="missing-comma-between-statements"),
        pytest.param(_TRAILING_COMMA, ("trailing_comma",), id="trailing-comma"),
        pytest.param(_DOUBLE_COMMA, ("double_comma",), id="double-comma"),
        pytest.param(_COMMA_INSIDE_STRING, ("comma_inside_string",), id="comma-inside-string-then-no-comma"),
        pytest.param(_COMMA_INSIDE_STRING_VALID, ("comma_inside_string",), id="comma-inside-string-valid-json"),
        pytest.param(_TWO_DEFECTS, ("missing_comma", "trailing_comma"), id="two-defects"),
    ],
)
def test_it_repairs_the_malformed_json_aws_really_published(text: str, defects: tuple[str, ...]) -> None:
    parsed = page(section("AWS managed policy: AmazonExampleFullAccess", json_block(text)))
    policy = only(parsed)
    assert (policy.status, policy.defects, policy.actions) == (
        PolicyStatus.REPAIRED,
        defects,
        ActionSet(allow=_S3_READ_WRITE),
    )
    assert policy.raw_json == text
    assert policy.document is not None
    assert [(w.code, w.policy) for w in parsed.warnings if w.policy] == [("repaired_json", "AmazonExampleFullAccess")]


def test_a_bare_heading_over_repaired_json_is_a_policy() -> None:
    policy = only(page(section('<code class="code">AmazonExampleFullAccess</code>', json_block(_MISSING_COMMA))))
    assert (policy.name, policy.status, policy.defects) == (
        "AmazonExampleFullAccess",
        PolicyStatus.REPAIRED,
        ("missing_comma",),
    )


_UNBALANCED = """{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": "*"
    ]
}"""
_EXTRA_BRACE = """{
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}]
}
}"""
_COMMENT = """{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            // read objects
            "Action": ["s3:GetObject"],
            "Resource": "*"
        }
    ]
}"""
_SMART_QUOTES = """{
    \u201cVersion\u201d: \u201c2012-10-17\u201d,
    \u201cStatement\u201d: [
        {
            \u201cEffect\u201d: \u201cAllow\u201d,
            \u201cAction\u201d: [\u201cs3:GetObject\u201d],
            \u201cResource\u201d: \u201c*\u201d
        }
    ]
}"""
_SOME_SMART_QUOTES = """{
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": [\u201cs3:GetObject\u201d], "Resource": "*"}]
}"""
_MISSING_KEY_QUOTE = """{
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", Action: ["s3:GetObject"], "Resource": "*"}]
}"""
_MISSING_COLON = """{
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action" ["s3:GetObject"], "Resource": "*"}]
}"""


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(_UNBALANCED, id="unbalanced-braces"),
        pytest.param(_EXTRA_BRACE, id="extra-closing-brace"),
        pytest.param(_COMMENT, id="comment"),
        pytest.param(_SMART_QUOTES, id="smart-quotes"),
        pytest.param(_SOME_SMART_QUOTES, id="some-smart-quotes"),
        pytest.param(_MISSING_KEY_QUOTE, id="unquoted-key"),
        pytest.param(_MISSING_COLON, id="missing-colon"),
    ],
)
def test_what_cannot_be_repaired_safely_is_unparseable_with_the_raw_text_kept(text: str) -> None:
    parsed = page(section("AWS managed policy: AmazonExampleFullAccess", json_block(text)))
    policy = only(parsed)
    assert (policy.status, policy.defects, policy.actions, policy.document) == (
        PolicyStatus.UNPARSEABLE,
        ("invalid_json",),
        None,
        None,
    )
    assert (policy.raw_json, policy.json_blocks, policy.document_block_index) == (text, 1, 0)
    assert [(w.code, w.policy) for w in parsed.warnings if w.policy] == [
        ("unparseable_json", "AmazonExampleFullAccess")
    ]


@pytest.mark.parametrize("text", [_UNBALANCED, _SMART_QUOTES])
def test_a_bare_heading_over_unparseable_json_is_still_a_policy(text: str) -> None:
    policy = only(page(section("AmazonExampleFullAccess", json_block(text))))
    assert (policy.name, policy.status, policy.actions, policy.raw_json) == (
        "AmazonExampleFullAccess",
        PolicyStatus.UNPARSEABLE,
        None,
        text,
    )


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


# --- the updates table ---------------------------------------------------------------------------

_TRACKING = ("Amazon Example started tracking changes", "Amazon Example started tracking changes.", " April 2, 2021 ")
_TRACKING_FACTS = (
    "Amazon Example started tracking changes",
    "Amazon Example started tracking changes.",
    "2021-04-02",
    "April 2, 2021",
)


def test_it_finds_the_updates_table_by_its_heading() -> None:
    other = table([("Not", "an updates", "table")], header="<tr><th>Name</th><th>Kind</th><th>Note</th></tr>")
    body = section("AWS managed policy: AmazonExampleFullAccess", json_block(READ_ONLY)) + updates([_TRACKING])
    parsed = page(other + body)
    assert [row_facts(u) for u in parsed.updates] == [_TRACKING_FACTS]
    assert parsed.updates[0].anchor == "security-iam-awsmanpol-updates"
    assert codes(parsed) == []


def test_it_finds_the_updates_table_by_its_header_row_when_there_is_no_heading() -> None:
    body = (
        section("AWS managed policy: AmazonExampleFullAccess", json_block(READ_ONLY))
        + table([("Other", "table", "here")], header="<tr><th>Name</th><th>Kind</th><th>Note</th></tr>")
        + '<h2 id="history">Policy history</h2>'
        + table([_TRACKING])
    )
    parsed = page(body)
    assert [(row_facts(u), u.anchor) for u in parsed.updates] == [(_TRACKING_FACTS, None)]


def test_it_reads_a_page_whose_h1_is_the_updates_heading() -> None:
    parsed = page("<p>View details about updates.</p>" + table([_TRACKING]), title=UPDATES_TITLE)
    assert (parsed.title, parsed.service) == (UPDATES_TITLE, None)
    assert [(row_facts(u), u.anchor) for u in parsed.updates] == [(_TRACKING_FACTS, None)]
    assert codes(parsed) == ["no_policy_sections"]


def test_the_table_under_the_updates_heading_wins_over_other_tables_there() -> None:
    body = (
        f'<h2 id="updates">{UPDATES_TITLE}</h2>'
        + table([("Not", "an updates", "table")], header="<tr><th>Term</th><th>Meaning</th><th>Note</th></tr>")
        + table([_TRACKING])
    )
    parsed = page(body)
    assert [(row_facts(u), u.anchor) for u in parsed.updates] == [(_TRACKING_FACTS, "updates")]


_HEAD_CELLS = "<th>Change</th><th>Description</th><th>Date</th>"
_ROW = "<td>Change A</td><td>Added <code>s3:GetObject</code>.</td><td>Sep 5, 2023</td>"
_ROW_FACTS = ("Change A", "Added s3:GetObject.", "2023-09-05", "Sep 5, 2023")


@pytest.mark.parametrize(
    "markup",
    [
        pytest.param(
            f"<table><thead><tr>{_HEAD_CELLS}<th></th><th></th><th></th></tr></thead><tr>{_ROW}</tr></table>",
            id="current-extra-empty-header-cells",
        ),
        pytest.param(
            f"<table><thead><tr>{_HEAD_CELLS}</tr><tr>{_ROW}</tr></thead></table>",
            id="rows-in-thead",
        ),
        pytest.param(f"<table><tr>{_HEAD_CELLS}</tr><tr>{_ROW}</tr></table>", id="legacy-no-thead"),
        pytest.param(
            f"<table><thead><tr>{_HEAD_CELLS}</tr></thead><tbody><tr>{_ROW}</tr></tbody></table>",
            id="tbody",
        ),
        pytest.param(
            f"<table><tr><td><b>Change</b></td><td><b>Description</b></td><td><b>Date</b></td></tr><tr>{_ROW}</tr></table>",
            id="header-in-td",
        ),
        pytest.param(
            "<table><tr><th>Date</th><th>Change</th><th>Description</th></tr>"
            "<tr><td>Sep 5, 2023</td><td>Change A</td><td>Added <code>s3:GetObject</code>.</td></tr></table>",
            id="columns-in-another-order",
        ),
        pytest.param(
            f"<table><tr>{_HEAD_CELLS}</tr><tr>{_ROW}</tr><tr><td></td><td> </td><td></td></tr></table>",
            id="empty-row",
        ),
    ],
)
def test_it_reads_every_updates_table_layout(markup: str) -> None:
    wrapped = f'<div class="table-container"><div class="table-contents">{markup}</div></div>'
    for body in (f'<h2 id="updates">{UPDATES_TITLE}</h2>' + wrapped, wrapped):
        parsed = page(body)
        assert [row_facts(u) for u in parsed.updates] == [_ROW_FACTS]
        assert parsed.updates[0].actions == ("s3:GetObject",)


def test_it_reads_the_legacy_table_layout() -> None:
    parsed = page(updates([_TRACKING], legacy=True))
    assert [row_facts(u) for u in parsed.updates] == [_TRACKING_FACTS]


@pytest.mark.parametrize(
    "row",
    [
        pytest.param(("Change A", "Description A"), id="missing-cell"),
        pytest.param(("Change A", "Description A", "   "), id="empty-cell"),
        pytest.param(("Change A", "Description A", "Soon"), id="no-date-in-cell"),
    ],
)
def test_a_row_without_a_date_has_none_and_warns(row: tuple[str, ...]) -> None:
    parsed = page(updates([row, _TRACKING]))
    first = parsed.updates[0]
    raw = row[2].strip() if len(row) > 2 and row[2].strip() else None
    assert row_facts(first) == ("Change A", "Description A", None, raw)
    assert [row_facts(u) for u in parsed.updates[1:]] == [_TRACKING_FACTS]
    assert codes(parsed).count("update_without_date") == 1


def test_cells_keep_list_items_and_links_as_text() -> None:
    change = (
        "<p>Actions have been added to the following managed policies:</p>"
        '<div class="itemizedlist">\n  <ul class="itemizedlist"><li class="listitem">\n'
        '<p><a href="#full">AWS managed policy: AmazonExampleFullAccess</a></p></li>'
        '<li class="listitem"><p><a href="#ro">AWS managed policy: AmazonExampleReadOnlyAccess</a></p></li></ul></div>'
    )
    description = (
        "<p>Amazon Example added the following actions:</p>"
        '<div class="itemizedlist"><ul class="itemizedlist">'
        '<li class="listitem"><p><code class="code">GetThing</code></p></li>'
        '<li class="listitem"><p><code class="code">DescribeThing</code></p></li></ul></div>'
        '<p>See <a href="https://docs.aws.amazon.com/example/latest/dg/things.html">Things</a>.</p>'
    )
    body = (
        section("AWS managed policy: AmazonExampleFullAccess", json_block(EXAMPLE), anchor="full")
        + section("AWS managed policy: AmazonExampleReadOnlyAccess", json_block(READ_ONLY), anchor="ro")
        + updates([(change, description, "\n  July 21st, 2022\n  ")])
    )
    row = page(body).updates[0]
    assert row_facts(row) == (
        "Actions have been added to the following managed policies: AWS managed policy: AmazonExampleFullAccess "
        "AWS managed policy: AmazonExampleReadOnlyAccess",
        "Amazon Example added the following actions: GetThing DescribeThing See Things.",
        "2022-07-21",
        "July 21st, 2022",
    )
    assert row.policies == ("AmazonExampleFullAccess", "AmazonExampleReadOnlyAccess")
    assert row.actions == ("example:DescribeThing", "example:GetThing")


@pytest.mark.parametrize(
    ("cell", "iso", "raw"),
    [
        ("July 21st, 2022", "2022-07-21", "July 21st, 2022"),
        ("Mar 30, 2022", "2022-03-30", "Mar 30, 2022"),
        ("Sep 5, 2023", "2023-09-05", "Sep 5, 2023"),
        ("2023-09-05", "2023-09-05", "2023-09-05"),
        ("\n              April 2, 2021\n            ", "2021-04-02", "April 2, 2021"),
        ("Decemeber 5, 2023", "2023-12-05", "Decemeber 5, 2023"),
        ("<p>November&nbsp;1, 2021</p>", "2021-11-01", "November 1, 2021"),
    ],
)
def test_it_reads_every_date_spelling_in_a_date_cell(cell: str, iso: str, raw: str) -> None:
    row = page(updates([("Change", "Description", cell)])).updates[0]
    assert (row.date, row.date_raw) == (iso, raw)


@pytest.mark.parametrize(
    ("change", "description", "actions", "policies"),
    [
        pytest.param(
            "Updated AmazonExampleFullAccess",
            "Added <code>s3:GetObject</code> and s3:PutObject, and ec2:Describe*.",
            ("ec2:Describe*", "s3:GetObject", "s3:PutObject"),
            ("AmazonExampleFullAccess",),
            id="explicit-actions",
        ),
        pytest.param(
            "New actions",
            "Added <code>GetThing</code> and <code>ListThings</code> and <code>PassRole</code>.",
            ("example:GetThing", "example:ListThings", "iam:PassRole"),
            (),
            id="bare-names-qualified-by-the-page-action-of-that-name",
        ),
        pytest.param(
            "New actions",
            'Added <code class="code">StartThing</code>.',
            ("example:StartThing",),
            (),
            id="bare-name-qualified-by-the-most-common-prefix",
        ),
        pytest.param(
            "Updated policies",
            "Updated the AmazonExampleFullAccess, AmazonExampleReadOnlyAccess and "
            "<code>AmazonExampleReadOnlyAccess</code> policies.",
            (),
            ("AmazonExampleFullAccess", "AmazonExampleReadOnlyAccess"),
            id="policy-names-in-prose-and-code",
        ),
        pytest.param(
            'New policy: <a href="#other">AWS managed policy: AmazonOtherAccess</a>',
            "See https://docs.aws.amazon.com/x and arn:aws:iam::aws:policy/AmazonOtherAccess.",
            (),
            ("AmazonOtherAccess",),
            id="urls-and-arns-are-no-actions",
        ),
        pytest.param(
            "Condition added",
            "Added the <code>aws:SourceAccount</code> and aws:SourceArn condition keys to iam:PassRole.",
            ("iam:PassRole",),
            (),
            id="global-condition-keys-are-no-actions",
        ),
        pytest.param(
            "Started tracking",
            "Amazon Example started tracking changes for its AWS managed policies.",
            (),
            (),
            id="nothing",
        ),
    ],
)
def test_each_row_names_the_actions_and_policies_it_mentions(
    change: str, description: str, actions: tuple[str, ...], policies: tuple[str, ...]
) -> None:
    body = (
        section("AWS managed policy: AmazonExampleFullAccess", json_block(EXAMPLE), anchor="full")
        + section("AWS managed policy: AmazonExampleReadOnlyAccess", json_block(READ_ONLY), anchor="ro")
        + updates([(change, description, "Sep 5, 2023")])
    )
    row = page(body).updates[0]
    assert (row.actions, row.policies) == (actions, policies)


def test_bare_names_are_left_out_when_the_page_has_no_actions() -> None:
    row = page(updates([("New actions", "Added <code>GetThing</code>.", "Sep 5, 2023")])).updates[0]
    assert row.actions == ()


def test_a_page_without_an_updates_table_warns() -> None:
    parsed = page(section("AWS managed policy: AmazonExampleFullAccess", json_block(READ_ONLY)))
    assert (parsed.updates, codes(parsed)) == ((), ["no_updates_table"])


def test_the_service_is_read_from_the_title() -> None:
    parsed = page(section("AWS managed policy: AmazonExampleFullAccess", json_block(READ_ONLY)))
    assert (parsed.title, parsed.service) == (TITLE, "Amazon Example")


# --- watcher.parse.dates -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("July 21st, 2022", "2022-07-21"),
        ("October 31st, 2023", "2023-10-31"),
        ("June 2nd, 2021", "2021-06-02"),
        ("May 3rd, 2020", "2020-05-03"),
        ("Mar 30, 2022", "2022-03-30"),
        ("Sep 5, 2023", "2023-09-05"),
        ("Sept. 5, 2023", "2023-09-05"),
        ("Decemeber 5, 2023", "2023-12-05"),
        ("June 1 2023", "2023-06-01"),
        ("July 21 , 2022", "2022-07-21"),
        ("July 21st,2022", "2022-07-21"),
        ("July 212022", None),
        ("5 September 2023", "2023-09-05"),
        ("2023-09-05", "2023-09-05"),
        ("   April 2, 2021   ", "2021-04-02"),
        ("July\u00a021, 2022", "2022-07-21"),
        ("Updated on January 9, 2024", "2024-01-09"),
        ("February 30, 2023", None),
        ("2023-13-01", None),
        ("Smarch 5, 2023", None),
        ("TBD", None),
        ("", None),
    ],
)
def test_parse_date_reads_the_dates_aws_writes(text: str, iso: str | None) -> None:
    assert parse_date(text) == iso


# --- watcher.parse.mentions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "actions"),
    [
        ("Added s3:GetObject and s3:PutObject.", ("s3:GetObject", "s3:PutObject")),
        ("Added ec2:Describe* and iam:*", ("ec2:Describe*", "iam:*")),
        ("Added s3:Get*Tagging, s3:*Object and iam:Get?Role", ("iam:Get?Role", "s3:*Object", "s3:Get*Tagging")),
        ("Did it add s3:GetObject?", ("s3:GetObject",)),
        ("Added aws-marketplace:ViewSubscriptions", ("aws-marketplace:ViewSubscriptions",)),
        ("(s3:GetObject), s3:GetObject", ("s3:GetObject",)),
        ("See https://docs.aws.amazon.com/iam and mailto:someone", ()),
        ("arn:aws:iam::aws:policy/AmazonS3FullAccess", ()),
        ("the aws:SourceAccount and aws:ResourceTag/Name keys", ()),
        ("no actions here: none", ()),
    ],
)
def test_mentioned_actions_finds_service_actions_only(text: str, actions: tuple[str, ...]) -> None:
    assert mentioned_actions(text) == actions


@pytest.mark.parametrize(
    ("text", "policies"),
    [
        ("AWS managed policy: AmazonOtherAccess.", ("AmazonOtherAccess",)),
        (
            "Updated AmazonExampleFullAccess, AmazonExampleReadOnlyAccess.",
            ("AmazonExampleFullAccess", "AmazonExampleReadOnlyAccess"),
        ),
        ("Added AmazonExampleFullAccess_v2", ()),
        ("Added XAmazonExampleFullAccess", ()),
        ("(AmazonExampleFullAccess)", ("AmazonExampleFullAccess",)),
    ],
)
def test_policy_name_finder_finds_whole_names(text: str, policies: tuple[str, ...]) -> None:
    finder = PolicyNameFinder(["AmazonExampleFullAccess", "AmazonExampleReadOnlyAccess"])
    assert finder.find(text) == policies


@pytest.mark.parametrize(
    ("bare", "qualified"),
    [
        (["GetThing"], ("example:GetThing",)),
        (["gETtHING"], ()),
        (["PassRole"], ("iam:PassRole",)),
        (["StartThing"], ("example:StartThing",)),
        (["Publish", "s3:GetObject", "Get Thing"], ()),
        (["AmazonExampleFullAccess"], ()),
    ],
)
def test_action_qualifier_qualifies_bare_names(bare: list[str], qualified: tuple[str, ...]) -> None:
    qualifier = ActionQualifier(["example:GetThing", "example:ListThings", "iam:PassRole", "example:*"])
    assert qualifier.qualify(bare, ["AmazonExampleFullAccess"]) == qualified
