"""The lenient policy JSON reader and the canonical policy form, table by table."""

from __future__ import annotations

import json
from typing import Any

import pytest

from watcher.canonical import actions_of, canonical_policy, content_hash, is_trust_policy
from watcher.model import ActionSet, Kind, Page, Policy, PolicyStatus
from watcher.parse.policy_json import read_policy_json


def _doc(*statements: str) -> str:
    return '{"Version": "2012-10-17", "Statement": [' + ", ".join(statements) + "]}"


def _allow(actions: str, effect: str = "Allow") -> str:
    return f'{{"Effect": "{effect}", "Action": {actions}, "Resource": "*"}}'


def _policy(*statements: Any) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _actions_in(value: Any) -> list[Any]:
    """The Action lists of a read document, statement by statement (as read, not canonical)."""
    return [st.get("Action") for st in value["Statement"]]


# --- read_policy_json: what is repaired, and how it is named -------------------------------------

REPAIRED = [
    pytest.param(
        _doc(_allow('["s3:GetObject", "s3:PutObject"]')),
        True,
        (),
        [["s3:GetObject", "s3:PutObject"]],
        id="strict JSON is read as it is",
    ),
    pytest.param(
        _doc(_allow('["s3:GetObject"\n "s3:PutObject"]')),
        False,
        ("missing_comma",),
        [["s3:GetObject", "s3:PutObject"]],
        id="a missing comma between two strings",
    ),
    pytest.param(
        _doc(_allow('"s3:GetObject"') + "\n    " + _allow('"s3:PutObject"')),
        False,
        ("missing_comma",),
        ["s3:GetObject", "s3:PutObject"],
        id="a missing comma between two statement objects",
    ),
    pytest.param(
        _doc(_allow('["s3:GetObject", "s3:PutObject",]')),
        False,
        ("trailing_comma",),
        [["s3:GetObject", "s3:PutObject"]],
        id="a trailing comma in a list",
    ),
    pytest.param(
        '{"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",}],}',
        False,
        ("trailing_comma",),
        ["s3:GetObject"],
        id="a trailing comma in an object",
    ),
    pytest.param(
        _doc(_allow('["s3:GetObject",, "s3:PutObject"]')),
        False,
        ("double_comma",),
        [["s3:GetObject", "s3:PutObject"]],
        id="a doubled comma",
    ),
    pytest.param(
        _doc(_allow('["s3:GetObject,", "s3:PutObject"]')),
        True,
        ("comma_inside_string",),
        [["s3:GetObject", "s3:PutObject"]],
        id="a comma typed inside a string that is followed by a comma",
    ),
    pytest.param(
        _doc(_allow('["s3:GetObject,"\n "s3:PutObject"]')),
        False,
        ("comma_inside_string",),
        [["s3:GetObject", "s3:PutObject"]],
        id="a comma typed inside a string instead of after it",
    ),
    pytest.param(
        _doc(_allow('["s3:GetObject,  "\n "s3:PutObject"]')),
        False,
        ("comma_inside_string",),
        [["s3:GetObject", "s3:PutObject"]],
        id="a comma and spaces typed inside a string instead of after it",
    ),
    pytest.param(
        _doc(_allow('["s3:PutObject", "s3:GetObject,"]')),
        True,
        ("comma_inside_string",),
        [["s3:PutObject", "s3:GetObject"]],
        id="a comma typed inside the last string of a list",
    ),
    pytest.param(
        _doc(_allow('"s3:GetObject,"')),
        True,
        ("comma_inside_string",),
        [["s3:GetObject"]],
        id="a comma typed inside a single action string",
    ),
    pytest.param(
        _doc(_allow('["s3:GetObject" "s3:PutObject",, "s3:ListBucket",]') + " " + _allow('"s3:DeleteObject"', "Deny")),
        False,
        ("missing_comma", "double_comma", "trailing_comma"),
        [["s3:GetObject", "s3:PutObject", "s3:ListBucket"], "s3:DeleteObject"],
        id="several defects at once, each named once in the order met",
    ),
    pytest.param(
        _doc(_allow('[\u00a0"s3:GetObject",\u00a0"s3:PutObject"\u00a0]')),
        True,
        (),
        [["s3:GetObject", "s3:PutObject"]],
        id="non-breaking spaces between tokens are whitespace, not a defect",
    ),
]


@pytest.mark.parametrize(("text", "strict", "defects", "actions"), REPAIRED)
def test_read_policy_json_repairs_only_known_defects_and_names_them(
    text: str, strict: bool, defects: tuple[str, ...], actions: list[Any]
) -> None:
    parsed = read_policy_json(text)
    assert parsed.ok
    assert parsed.strict is strict
    assert parsed.defects == defects
    assert _actions_in(parsed.value) == actions


UNREPAIRABLE = [
    pytest.param('{"Statement": [{"Effect": "Allow", "Action": "s3:GetObject"]}', id="unbalanced braces"),
    pytest.param('{"Statement": [{"Effect": "Allow", "Action": "s3:GetObject"}]', id="a missing closing brace"),
    pytest.param(
        '{"Statement": [{"Effect": "Allow", // all of S3\n "Action": "s3:*"}]}',
        id="a // comment",
    ),
    pytest.param("{\u201cStatement\u201d: []}", id="smart quotes"),
    pytest.param("", id="the empty string"),
    pytest.param("   \n  ", id="only whitespace"),
    pytest.param('{"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": NaN}]}', id="NaN"),
    pytest.param('{"Statement": [{"Effect": "Allow", "Action": "s3:\\x41"}]}', id="an invalid escape"),
    pytest.param('{"Statement" [{"Effect": "Allow"}]}', id="a missing colon"),
    pytest.param('{"Statement": ' + "[" * 5000 + "]" * 5000 + "}", id="nesting deeper than Python recurses"),
    pytest.param('{"Statement": ' + "[" * 100 + "]" * 100 + "}", id="nesting deeper than any policy"),
    pytest.param('{"Statement": [{"Effect": "Allow", "Action": "s3:\\ud800"}]}', id="a lone surrogate escape"),
    pytest.param('{"Statement": [{"Effect": "Allow", "\\udfff": "s3:*"}]}', id="a lone surrogate in a key"),
]


@pytest.mark.parametrize("text", UNREPAIRABLE)
def test_read_policy_json_gives_up_on_anything_else(text: str) -> None:
    parsed = read_policy_json(text)
    assert parsed.value is None
    assert not parsed.ok
    assert parsed.defects == ("invalid_json",)


@pytest.mark.parametrize("text", ["[1]", '"Statement"', "null", "42", "[1 2]"])
def test_read_policy_json_says_when_the_json_is_not_an_object(text: str) -> None:
    parsed = read_policy_json(text)
    assert parsed.value is None
    assert parsed.defects == ("not_an_object",)


def test_a_comma_inside_a_string_that_is_not_an_action_is_left_as_published() -> None:
    parsed = read_policy_json(_doc('{"Effect": "Allow", "Action": ["s3:GetObject", "hello, world"]}'))
    assert parsed.strict
    assert parsed.defects == ()
    assert _actions_in(parsed.value) == [["s3:GetObject", "hello, world"]]


def test_a_comma_that_is_not_understood_in_one_statement_does_not_stop_the_repair_of_the_next() -> None:
    text = _doc(
        '{"Effect": "Allow", "Action": ["hello, world"]}',
        '{"Effect": "Allow", "Action": ["s3:GetObject,"]}',
    )
    parsed = read_policy_json(text)
    assert parsed.defects == ("comma_inside_string",)
    assert _actions_in(parsed.value) == [["hello, world"], ["s3:GetObject"]]


def test_a_statement_given_as_an_object_has_its_commas_repaired_too() -> None:
    parsed = read_policy_json('{"Statement": {"Effect": "Allow", "Action": ["s3:GetObject,", "s3:PutObject"]}}')
    assert parsed.defects == ("comma_inside_string",)
    assert parsed.value["Statement"]["Action"] == ["s3:GetObject", "s3:PutObject"]


# --- canonical_policy and actions_of --------------------------------------------------------------


def test_a_statement_object_becomes_a_list_of_one() -> None:
    canonical = canonical_policy({"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}})
    assert canonical["Statement"] == [{"Action": ["s3:GetObject"], "Effect": "Allow", "Resource": ["*"]}]


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        pytest.param("s3:GetObject", ["s3:GetObject"], id="a string becomes a list"),
        pytest.param(["s3:PutObject", "s3:GetObject"], ["s3:GetObject", "s3:PutObject"], id="a list is sorted"),
        pytest.param(["s3:GetObject", "s3:GetObject"], ["s3:GetObject"], id="exact duplicates go"),
        pytest.param(["s3:getobject", "s3:GetObject"], ["s3:GetObject"], id="case duplicates keep one spelling"),
        pytest.param(["S3:GETOBJECT", "s3:GetObject"], ["S3:GETOBJECT"], id="the kept spelling is one published"),
        pytest.param(["ec2:*", "s3:*", "iam:PassRole"], ["ec2:*", "iam:PassRole", "s3:*"], id="wildcards sort too"),
        pytest.param([1, "1"], ["1", 1], id="a number is not its string"),
    ],
)
def test_action_lists_are_sorted_and_deduplicated_case_insensitively(action: Any, expected: list[Any]) -> None:
    canonical = canonical_policy(_policy({"Effect": "Allow", "Action": action}))
    assert canonical["Statement"][0]["Action"] == expected


def test_case_duplicates_keep_the_same_spelling_whatever_the_published_order() -> None:
    one = canonical_policy(_policy({"Effect": "Allow", "Action": ["s3:GetObject", "S3:getObject"]}))
    other = canonical_policy(_policy({"Effect": "Allow", "Action": ["S3:getObject", "s3:GetObject"]}))
    assert one == other


def test_resource_is_sorted_and_unique_but_case_sensitive() -> None:
    resource = ["arn:aws:s3:::b/*", "arn:aws:s3:::a", "arn:aws:s3:::B/*", "arn:aws:s3:::a"]
    canonical = canonical_policy(_policy({"Effect": "Allow", "Action": "s3:*", "Resource": resource}))
    assert canonical["Statement"][0]["Resource"] == ["arn:aws:s3:::B/*", "arn:aws:s3:::a", "arn:aws:s3:::b/*"]


def test_keys_are_sorted_at_every_level() -> None:
    statement = {
        "Sid": "x",
        "Resource": "*",
        "Effect": "Allow",
        "Condition": {"StringEquals": {"b": "1", "a": "2"}, "Bool": {"aws:SecureTransport": "true"}},
        "Action": "s3:*",
    }
    canonical = canonical_policy({"Statement": [statement], "Version": "2012-10-17", "Id": "i"})
    assert list(canonical) == ["Id", "Statement", "Version"]
    out = canonical["Statement"][0]
    assert list(out) == ["Action", "Condition", "Effect", "Resource", "Sid"]
    assert list(out["Condition"]) == ["Bool", "StringEquals"]
    assert list(out["Condition"]["StringEquals"]) == ["a", "b"]


def test_statement_order_does_not_matter() -> None:
    a = {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}
    b = {"Effect": "Deny", "Action": "iam:*", "Resource": "*"}
    c = {"Effect": "Allow", "NotAction": "ec2:*", "Resource": ["*"]}
    assert canonical_policy(_policy(a, b, c)) == canonical_policy(_policy(c, a, b))
    assert json.dumps(canonical_policy(_policy(a, b, c))) == json.dumps(canonical_policy(_policy(b, c, a)))


def test_nested_lists_inside_action_and_resource_are_canonical_too() -> None:
    one = canonical_policy(_policy({"Effect": "Allow", "Resource": [["b", "a"], {"y": 1, "x": 2}]}))
    other = canonical_policy(_policy({"Effect": "Allow", "Resource": [{"x": 2, "y": 1}, ["a", "b"]]}))
    assert json.dumps(one) == json.dumps(other)


def test_the_canonical_form_of_a_canonical_form_is_itself() -> None:
    document = _policy(
        {"Effect": "Allow", "Action": ["s3:b", "S3:B", "s3:a"], "Resource": "*"},
        {"Effect": "Deny", "NotAction": "iam:*", "Condition": {"StringLike": {"k": ["z", "y", "y"]}}},
        "not a statement",
    )
    once = canonical_policy(document)
    assert json.dumps(canonical_policy(once)) == json.dumps(once)


def test_actions_are_split_into_allow_deny_and_not_actions() -> None:
    document = _policy(
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": "*"},
        {"Effect": "Allow", "Action": "s3:getobject", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"},
        {"Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*"},
        {"Effect": "deny", "Action": "s3:PutBucketPolicy"},
    )
    assert actions_of(document) == ActionSet(
        allow=("s3:GetObject", "s3:PutObject"),
        deny=("s3:DeleteBucket", "s3:PutBucketPolicy"),
        not_actions=("iam:*", "organizations:*"),
    )
    assert actions_of(canonical_policy(document)) == actions_of(document)
    assert actions_of(document).count == 6


def test_actions_of_ignores_what_is_not_a_statement_or_not_a_string() -> None:
    document: dict[str, Any] = {"Statement": ["junk", 3, {"Effect": "Allow", "Action": ["s3:A", 7, None]}]}
    assert actions_of(document) == ActionSet(allow=("s3:A",))
    assert actions_of({}) == ActionSet()


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        pytest.param(
            _policy({"Effect": "Allow", "Principal": {"Service": "x.amazonaws.com"}, "Action": "sts:AssumeRole"}),
            True,
            id="every statement names a Principal",
        ),
        pytest.param(
            _policy({"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::1:root"}, "Action": "*"}),
            True,
            id="NotPrincipal counts as a Principal",
        ),
        pytest.param(
            _policy(
                {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"},
                {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            ),
            False,
            id="one statement without a Principal makes it a permissions policy",
        ),
        pytest.param(_policy({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}), False, id="no Principal"),
        pytest.param({"Statement": []}, False, id="no statements at all"),
        pytest.param({"Statement": {"Principal": "*"}}, True, id="a single statement object"),
    ],
)
def test_is_trust_policy(document: dict[str, Any], expected: bool) -> None:
    assert is_trust_policy(document) is expected


def test_a_surrogate_pair_escape_is_one_character_and_is_read() -> None:
    parsed = read_policy_json('{"Statement": [{"Effect": "Allow", "Action": "s3:Get\\ud83d\\ude00"}]}')
    assert parsed.strict
    assert _actions_in(parsed.value) == ["s3:Get\U0001f600"]


def test_the_content_hash_survives_a_lone_surrogate_in_a_document() -> None:
    document = canonical_policy(_policy({"Effect": "Allow", "Action": "s3:\ud800"}))
    policy = Policy(name="P", anchor=None, description="", status=PolicyStatus.OK, document=document)
    page = Page(kind=Kind.SERVICE_PAGE, url=None, title="t", policies=(policy,))
    assert len(content_hash(page)) == 64
