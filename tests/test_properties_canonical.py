"""Property tests: the canonical form of a policy is a fixed point that ignores statement and list order."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.property_helpers import FAST
from watcher.canonical import actions_of, canonical_policy
from watcher.parse.policy_json import read_policy_json

# --- (c) the canonical form is a fixed point ------------------------------------------------------

KNOWN_ACTIONS = ["s3:GetObject", "s3:getobject", "S3:GETOBJECT", "s3:*", "iam:PassRole", "ec2:Describe*", "*"]
action_name = st.sampled_from(KNOWN_ACTIONS) | st.from_regex(r"[a-z][a-z0-9-]{0,6}:[A-Za-z*]{1,10}", fullmatch=True)
json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.sampled_from(["1", "*", "", "true"])
    | st.text(max_size=6)
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
# Mostly real-shaped values, sometimes anything JSON can hold.
action_field = action_name | st.lists(action_name | json_leaf, max_size=6) | json_value
resource_name = st.sampled_from(["*", "arn:aws:s3:::b", "arn:aws:s3:::B", "arn:aws:s3:::b/*", "1"])
resource_field = resource_name | st.lists(resource_name | json_leaf, max_size=5) | json_value
condition = st.dictionaries(
    st.sampled_from(["StringEquals", "StringLike", "Bool", "ArnLike"]),
    st.dictionaries(st.sampled_from(["aws:SourceArn", "s3:prefix", "k"]), st.text(max_size=4) | st.lists(st.text())),
    max_size=2,
)
statement = st.fixed_dictionaries(
    {},
    optional={
        "Sid": st.text(max_size=6),
        "Effect": st.sampled_from(["Allow", "Deny", "allow", "DENY"]) | json_leaf,
        "Action": action_field,
        "NotAction": action_field,
        "Resource": resource_field,
        "NotResource": resource_field,
        "Condition": condition | json_value,
        "Principal": st.just("*") | st.dictionaries(st.sampled_from(["AWS", "Service"]), resource_field, max_size=2),
    },
)
statements = st.lists(statement | json_leaf, max_size=5) | statement | json_value
policy_document = st.fixed_dictionaries(
    {"Statement": statements},
    optional={"Version": st.sampled_from(["2012-10-17", "2008-10-17"]), "Id": json_value},
)


def dumps(value: Any) -> str:
    """Order-sensitive serialisation: equal strings mean equal values *and* equal key and list order."""
    return json.dumps(value, ensure_ascii=False)


@FAST
@given(document=policy_document)
def test_the_canonical_form_is_idempotent_and_keeps_the_actions(document: dict[str, Any]) -> None:
    once = canonical_policy(document)
    assert dumps(canonical_policy(once)) == dumps(once)
    assert actions_of(once) == actions_of(document)
    assert list(once) == sorted(once)
    assert isinstance(once["Statement"], list)


@FAST
@given(document=policy_document, data=st.data())
def test_the_canonical_form_ignores_statement_and_list_order(document: dict[str, Any], data: st.DataObject) -> None:
    shuffled = dict(reversed(list(document.items())))
    if isinstance(document["Statement"], list):
        shuffled["Statement"] = data.draw(st.permutations(document["Statement"]))
        for st_index, item in enumerate(shuffled["Statement"]):
            if isinstance(item, dict) and isinstance(item.get("Action"), list):
                item = {**item, "Action": data.draw(st.permutations(item["Action"]))}
                shuffled["Statement"][st_index] = item
    assert dumps(canonical_policy(shuffled)) == dumps(canonical_policy(document))


@FAST
@given(document=policy_document)
def test_action_lists_come_out_sorted_and_unique_case_insensitively(document: dict[str, Any]) -> None:
    actions = actions_of(canonical_policy(document))
    for names in (actions.allow, actions.deny, actions.not_actions):
        assert list(names) == sorted(names)
        assert len({n.lower() for n in names}) == len(names)


@FAST
@given(
    actions=st.lists(action_name, min_size=2, max_size=8, unique_by=str.lower),
    data=st.data(),
)
def test_a_missing_comma_between_actions_is_repaired_to_the_same_document(
    actions: list[str], data: st.DataObject
) -> None:
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
    text = json.dumps(document, indent=data.draw(st.sampled_from([None, 2, 4])))
    separators = [m.start() for m in re.finditer(r'",\s*"', text)]
    cut = data.draw(st.sampled_from(separators)) + 1
    parsed = read_policy_json(text[:cut] + " " + text[cut + 1 :])
    assert parsed.defects == ("missing_comma",)
    assert canonical_policy(parsed.value) == canonical_policy(document)
