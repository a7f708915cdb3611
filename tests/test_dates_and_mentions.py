"""``watcher.parse.dates`` and ``watcher.parse.mentions``: dates, actions and policy names in update-row text."""

from __future__ import annotations

import pytest

from watcher.parse.dates import parse_date
from watcher.parse.mentions import ActionQualifier, PolicyNameFinder, mentioned_actions

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
