"""The Slack channel: ``render``'s exact Block Kit payloads (golden files), their content, escaping and Slack's
limits. Rewrite the golden files with ``UPDATE_GOLDEN=1``; severities, classifications and reconciliation alerts
are in tests/test_notify_slack_risk.py.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from tests.notify_risk_samples import hostile_risk_digest, reconciliation_digest, risk_digest
from tests.notify_samples import HOSTILE_TEXTS, all_kinds_digest, hostile_digest, long_digest, v2_digest, v3_digest
from tests.test_notify_slack import (
    assert_safe_markup,
    assert_within_limits,
    check_golden,
    header,
    mrkdwn_texts,
    sections,
)
from watcher.notify import slack
from watcher.notify.model import Digest, Notice

# --- render: golden payloads -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, digest",
    [
        ("v2", v2_digest()),
        ("v3", v3_digest()),
        ("hostile", hostile_digest()),
        ("all_kinds", all_kinds_digest()),
        ("risk", risk_digest()),
        ("reconciliation", reconciliation_digest()),
        ("hostile_risk", hostile_risk_digest()),
    ],
)
def test_it_renders_the_golden_payload(name: str, digest: Digest) -> None:
    payload = slack.render(digest)
    check_golden(f"{name}.json", payload)
    assert_within_limits(payload)
    for text in mrkdwn_texts(payload):
        assert_safe_markup(text)


def test_render_is_pure() -> None:
    digest = v3_digest()
    assert slack.render(digest) == slack.render(digest)
    assert digest == v3_digest()


# --- render: content ---------------------------------------------------------------------------------------------


def test_v2_names_the_policy_its_new_actions_and_the_row_aws_wrote() -> None:
    payload = slack.render(v2_digest())
    assert header(payload) == "AmazonRekognitionReadOnlyAccess: +2 actions"
    assert payload["text"].startswith("Policy Watcher: AmazonRekognitionReadOnlyAccess: +2 actions")
    policy = sections(payload)[0]
    url = "https://docs.aws.amazon.com/rekognition/latest/dg/security-iam-awsmanpol.html"
    assert policy.startswith(f"*<{url}#security-iam-awsmanpol-AmazonRekognitionReadOnlyAccess|")
    assert "*Added:* `rekognition:GetMediaAnalysisJob`, `rekognition:ListMediaAnalysisJobs`" in policy
    assert "(Allow)" not in policy  # only Allow: not said
    assert "2023-10-31" in policy and "Actions involving media analysis jobs have been added" in policy
    context = payload["blocks"][2]
    assert context == {
        "type": "context",
        "elements": [
            {
                "type": "mrkdwn",
                "text": "rekognition-policies · Amazon Rekognition · detected 2026-01-05 10:00 UTC",
                "verbatim": True,
            }
        ],
    }


def test_an_updates_row_shown_with_its_policy_is_not_repeated() -> None:
    payload = slack.render(v2_digest())
    everything = json.dumps(payload["blocks"], ensure_ascii=False)
    assert everything.count("Actions involving media analysis jobs") == 1
    assert len(sections(payload)) == 2  # the policy, the feed item
    assert "*New documentation update:* <" in sections(payload)[1]
    assert "|AWS managed policy updates> (2023-10-31)" in sections(payload)[1]


def test_v3_counts_policies_and_shows_the_new_policy_and_the_removal() -> None:
    payload = slack.render(v3_digest())
    assert header(payload) == "2 policies changed"
    added, removed = sections(payload)
    assert "AmazonRekognitionFaceLivenessAccess>*" in added
    assert "*New policy* with 3 actions:" in added
    assert "`rekognition:StartFaceLivenessSession`" in added
    assert "New policy added: AWS managed policy: AmazonRekognitionFaceLivenessAccess" in added
    assert "*Removed:* `rekognition:DistributeDatasetEntries`" in removed
    assert "*Updates table, 2024-03-04:* Action removed from the following managed policy" in removed
    assert [b["type"] for b in payload["blocks"]] == ["header", "section", "context", "section", "context"]


def test_effects_are_named_when_they_are_mixed() -> None:
    texts = sections(slack.render(all_kinds_digest()))
    added = next(t for t in texts if "AmazonS3ReadOnlyAccess" in t)
    assert "*Added (Allow):* `s3:GetObject`" in added
    assert "*Added (Deny):* `s3:DeleteBucket`" in added
    assert "*Added (NotAction):* `iam:*`" in added


def test_every_other_kind_gets_a_readable_section() -> None:
    payload = slack.render(all_kinds_digest())
    text = "\n".join(sections(payload))
    assert "Resources added: `Resource:arn:aws:s3:::new-bucket/*`" in text
    assert 'Conditions added: `{"Bool": {"aws:SecureTransport": "true"}}`' in text
    assert "*Document moved:*" in text and "AmazonS3ObjectLambdaExecutionRolePolicy.html>" in text
    assert "*Updates table, 2021-08-27:* Amazon S3 started tracking changes" in text
    assert "<https://docs.aws.amazon.com/AmazonS3/latest/userguide/WhatsNew.html|Updated managed policies>" in text
    assert "(defects: missing_comma)" in text
    assert "*Policy JSON could not be parsed*" in text
    assert "Reason: the page parses to no policies (it had 12)" in text
    assert "is failing* since 2026-01-05 10:00 UTC\nLast error: HTTP 503 Service Unavailable" in text
    assert "recovered* (failing since 2026-01-05 09:00 UTC)" in text
    assert "*A message to team-slack was given up*\nLast answer: HTTP 404 no_service" in text
    assert "*Policy removed from the page*" in text
    assert len(sections(payload)) == len(all_kinds_digest().notices)
    assert header(payload) == "8 policies changed"


def test_a_digest_without_policies_is_summed_up_by_its_kind() -> None:
    feed_only = Digest("k", v2_digest().notices[2:])
    assert header(slack.render(feed_only)) == "New documentation update: rekognition-history"
    operator = Digest("k", all_kinds_digest().notices[10:])
    assert header(slack.render(operator)) == "4 changes"


def test_an_empty_digest_is_refused() -> None:
    with pytest.raises(ValueError):
        slack.render(Digest("empty", ()))


# --- render: escaping --------------------------------------------------------------------------------------------


def test_hostile_page_text_stays_text() -> None:
    payload = slack.render(hostile_digest())
    raw = json.dumps(payload, ensure_ascii=False)
    for bad in (*HOSTILE_TEXTS, "<!here>", "\r"):
        assert bad not in raw
    assert "\\r" not in raw  # no CR at all, not even JSON-escaped
    for text in mrkdwn_texts(payload):
        assert_safe_markup(text)
    title = header(payload)
    assert "\n" not in title and "\r" not in title
    assert title.startswith("Evil&lt;!channel&gt; Policy &amp; &lt;/script&gt;&lt;http://evil|click&gt;")
    policy = sections(payload)[0]
    # The link target keeps its place: `|`, `<`, `>` in the URL are percent-encoded, the name is escaped text.
    assert policy.startswith("*<https://docs.aws.amazon.com/x.html#a%7Cb%3Ec%3C!channel%3E|Evil&lt;!channel&gt;")
    assert "`s3:&lt;http://evil|click&gt;`" in policy
    assert "*Added (Deny):* `iam:* &amp; &lt;!channel&gt;`" in policy
    feed = sections(payload)[1]
    assert "<http://evil.example/a%7Cb%3Ec|&lt;http://evil|click&gt; &amp; &lt;!channel&gt; &lt;/script&gt;>" in feed


def test_only_http_links_are_made() -> None:
    notice = replace(hostile_digest().notices[1], details={"title": "Click", "link": "javascript:alert(1)"})
    text = sections(slack.render(Digest("k", (notice,))))[0]
    assert text == "*New documentation update:* Click"
    assert slack.safe_url("https://a.example/p?x=1&y=<2>|3 4") == "https://a.example/p?x=1&amp;y=%3C2%3E%7C3%204"


def test_backticks_cannot_close_an_action_code_span() -> None:
    notice = replace(v2_digest().notices[0], grants=(("Allow", "s3:Get`<!channel>`Object"),))
    text = sections(slack.render(Digest("k", (notice,))))[0]
    assert "*Added:* `s3:Getˋ&lt;!channel&gt;ˋObject`" in text


# --- render: Slack's limits --------------------------------------------------------------------------------------


def test_a_500_action_list_is_cut_within_the_limits() -> None:
    digest = long_digest(actions=500, policies=0)
    payload = slack.render(digest)
    assert_within_limits(payload)
    (text,) = sections(payload)
    shown = text.count("`rekognition:")
    match = re.search(r" … and (\d+) more$", text)
    assert match is not None and 10 < shown < 500 and shown + int(match.group(1)) == 500
    assert len(text) > 2000  # the room is used


def test_a_long_digest_ends_with_how_many_more_changes() -> None:
    digest = long_digest(actions=500, policies=120)
    payload = slack.render(digest)
    assert_within_limits(payload)
    assert len(payload["blocks"]) == 50
    last = sections(payload)[-1]
    shown = len(sections(payload)) - 1
    assert last == f"… and {121 - shown} more changes"
    assert header(payload) == "121 policies changed"


def test_huge_page_text_stays_within_the_limits() -> None:
    base = v2_digest().notices[0]
    huge = replace(
        base,
        policy="&" * 5000,
        source="<" * 500,
        service=">" * 500,
        url="https://docs.aws.amazon.com/" + "x" * 5000,
        grants=tuple(("Deny" if i % 2 else "Allow", "&<>" * 300 + str(i)) for i in range(200)),
        update_row={"change": "&" * 10000, "date": "<" * 1000, "description": ""},
    )
    statements = Notice(
        kind="statement_changed",
        source="s",
        service=None,
        policy="&" * 5000,
        grants=(),
        detected_at="not a time <!channel>",
        url=None,
        details={key: ["&<>" * 1000] * 50 for key in ("resources_added", "conditions_added", "actions_affected")},
    )
    rows = [
        replace(v2_digest().notices[1], policy="&" * 5000, details={"change": "<" * 3000, "date": str(i)})
        for i in range(10)
    ]
    payload = slack.render(Digest("k", (huge, statements, *rows)))
    assert_within_limits(payload)
    for text in mrkdwn_texts(payload):
        assert_safe_markup(text)
    assert "… and 7 more updates-table rows" in sections(payload)[2]
    assert not any(text.endswith("\n…") for text in sections(payload))  # the budgets held: no last-resort cut
    assert len(header(payload)) <= 150
