"""Parser variants: malformed policy JSON AWS published, repaired when safe and otherwise kept as unparseable."""

from __future__ import annotations

import pytest

from tests.variant_helpers import json_block, only, page, section
from watcher.model import ActionSet, PolicyStatus

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
