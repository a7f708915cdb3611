"""The Slack channel: exact Block Kit payloads (golden files), escaping, Slack's limits, and how ``send`` reads
the answers of a real loopback server standing in for Slack.

``slack_stand_in()`` is tests/loopback.py's scriptable server answering POST too: it keeps each body and, like
Slack, answers ``400 invalid_payload`` (or ``no_text``, ``invalid_blocks``) to a payload that breaks Slack's
rules before the script is consulted. Rewrite the golden files with ``UPDATE_GOLDEN=1``.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest

from tests.loopback import WAIT, Close, Hang, Loopback, Reply, _Handler, _Server, free_port
from tests.notify_samples import (
    HOSTILE_TEXTS,
    REMOVAL_NOTE,
    S3_GET_STAR,
    all_kinds_digest,
    classified,
    hostile_digest,
    hostile_risk_digest,
    long_digest,
    reconciliation_digest,
    risk_digest,
    v2_digest,
    v3_digest,
)
from watcher.fetch import USER_AGENT
from watcher.notify import slack
from watcher.notify.model import Digest, Notice, SendResult

GOLDEN = Path(__file__).parent / "golden" / "slack"
HOOK = "/services/T0SECRET1/B0SECRET2/xoxSecretToken42"
"""The path of a Slack webhook URL is its secret."""


# --- a stand-in for Slack ----------------------------------------------------------------------------------------


def slack_problem(body: bytes) -> str | None:
    """What Slack would refuse in ``body`` (its error word), or None."""
    try:
        payload = json.loads(body)
    except ValueError:
        return "invalid_payload"
    if not isinstance(payload, dict):
        return "invalid_payload"
    blocks = payload.get("blocks") or []
    if not payload.get("text") and not blocks:
        return "no_text"
    if len(blocks) > 50:
        return "invalid_blocks"
    for block in blocks:
        if block["type"] == "header":
            if block["text"]["type"] != "plain_text" or not 0 < len(block["text"]["text"]) <= 150:
                return "invalid_blocks"
        elif block["type"] == "section":
            if not 0 < len(block["text"]["text"]) <= 3000:
                return "invalid_blocks"
        elif block["type"] == "context":
            if not 0 < len(block["elements"]) <= 10 or any(len(e["text"]) > 3000 for e in block["elements"]):
                return "invalid_blocks"
        else:
            return "invalid_blocks"
    return None


class _StandIn(_Server):
    def __init__(self) -> None:
        super().__init__()
        self.RequestHandlerClass = _SlackHandler
        self.bodies: list[bytes] = []


class _SlackHandler(_Handler):
    def do_POST(self) -> None:
        server = cast(_StandIn, self.server)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with server.lock:
            server.bodies.append(body)
        problem = slack_problem(body)
        if problem is not None:
            self._reply(Reply(400, problem.encode(), content_type="text/plain"))
            return
        self.do_GET()  # the script answers


class StandIn(Loopback):
    @property
    def bodies(self) -> list[bytes]:
        server = cast(_StandIn, self._server)
        with server.lock:
            return list(server.bodies)


@contextmanager
def slack_stand_in() -> Iterator[StandIn]:
    """A Slack stand-in on 127.0.0.1 until the block ends (hanging requests are released)."""
    server = _StandIn()
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), name="loopback-slack", daemon=True)
    thread.start()
    try:
        yield StandIn(server, f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.released.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=WAIT)


def deliver(url: str, digest: Digest, *, timeout: float = 5.0) -> SendResult:
    result = slack.send(url, slack.render(digest), key=digest.key, timeout=timeout)
    assert "SECRET" not in result.detail and "xoxSecretToken42" not in result.detail, result.detail
    assert url not in result.detail and "\n" not in result.detail
    return result


def ok(body: bytes = b"ok") -> Reply:
    return Reply(200, body, content_type="text/html")


# --- helpers for payloads ----------------------------------------------------------------------------------------


def check_golden(name: str, payload: dict[str, Any]) -> None:
    actual = json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert actual == path.read_text(encoding="utf-8"), f"{name} differs: rerun with UPDATE_GOLDEN=1 if intended"


def mrkdwn_texts(payload: dict[str, Any]) -> list[str]:
    """Every text Slack parses for markup: the fallback ``text`` and every text object of every block."""
    texts = [payload["text"]]
    for block in payload["blocks"]:
        if "text" in block:
            texts.append(block["text"]["text"])
        texts += [e["text"] for e in block.get("elements", [])]
    return texts


def sections(payload: dict[str, Any]) -> list[str]:
    return [b["text"]["text"] for b in payload["blocks"] if b["type"] == "section"]


def header(payload: dict[str, Any]) -> str:
    first = payload["blocks"][0]
    assert first["type"] == "header"
    return cast(str, first["text"]["text"])


LINK = re.compile(r"<https?://[^\s<>|]+\|[^<>]*>")


def assert_safe_markup(text: str) -> None:
    """The only control sequences are http(s) links; every ``&`` starts an entity; no raw CR/LF in a line."""
    rest = LINK.sub("", text)
    assert "<" not in rest and ">" not in rest, text
    assert not re.search(r"&(?!amp;|lt;|gt;)", text), text
    assert "\r" not in text


def assert_within_limits(payload: dict[str, Any]) -> None:
    assert slack_problem(json.dumps(payload).encode()) is None
    assert len(payload["text"]) <= 3000


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


# --- render: severity, access levels and flags (issue 6) ---------------------------------------------------------


@pytest.mark.parametrize(
    "section, line",
    [
        (0, ":rotating_light: *critical* · *<"),
        (0, "*Added:*\n• `iam:PassRole`  Write · privilege escalation · on `*`\n"),
        (
            0,
            "• `s3:Get*`  grants 54 actions (Read 54) · resource exposure · on `*`; "
            "riskiest: `s3:GetObject`, `s3:GetBucketPolicy`, `s3:GetObjectAcl`, …\n",
        ),
        (0, "• `rekognition:DoTheThing`  unknown action (new API or typo)"),
        (1, ":large_yellow_circle: *low* · *<"),
        (1, "*Removed:*\n• `rekognition:DistributeDatasetEntries`  Write · on `*`\n"),
        (1, f"*Note:* {REMOVAL_NOTE}\n*Updates table, 2024-03-04:*"),
        (2, ":large_orange_circle: *medium* · *<"),
        (2, "*It granted (Deny):*\n• `rekognition:DeleteCollection`  Write · on `*`\n"),
        (2, f"*Note:* {REMOVAL_NOTE}"),
        (3, ":information_source: *info* · *New documentation update:* <"),
    ],
)
def test_each_change_shows_its_severity_and_each_action_its_level_and_flags(section: int, line: str) -> None:
    assert line in sections(slack.render(risk_digest()))[section]


@pytest.mark.parametrize(
    "severity, lead",
    [("critical", "[critical] "), ("high", "[high] "), ("medium", ""), ("low", ""), ("info", ""), (None, "")],
)
def test_the_headline_leads_with_a_high_or_critical_severity(severity: str | None, lead: str) -> None:
    notice = replace(v2_digest().notices[0], severity=severity)
    payload = slack.render(Digest("k", (notice,)))
    assert header(payload) == f"{lead}AmazonRekognitionReadOnlyAccess: +2 actions"
    assert payload["text"].startswith(f"{lead}Policy Watcher: AmazonRekognitionReadOnlyAccess: +2 actions\n")
    badges = {"critical": ":rotating_light:", "high": ":red_circle:", "medium": ":large_orange_circle:"}
    badges |= {"low": ":large_yellow_circle:", "info": ":information_source:"}
    expected = f"{badges[severity]} *{severity}* · *<" if severity else "*<"
    assert sections(payload)[0].startswith(expected)


def test_the_digest_headline_takes_the_highest_severity() -> None:
    payload = slack.render(risk_digest())
    assert header(payload) == "[critical] 3 policies changed"
    assert payload["text"].startswith("[critical] Policy Watcher: 3 policies changed\n")


@pytest.mark.parametrize("severity", ["", "urgent", "CRITICAL ", None])
def test_a_missing_or_unknown_severity_shows_nothing_or_its_level(severity: str | None) -> None:
    notice = replace(v2_digest().notices[0], severity=severity)
    text = sections(slack.render(Digest("k", (notice,))))[0]
    if severity == "CRITICAL ":  # case and spaces do not matter
        assert text.startswith(":rotating_light: *critical* · ")
    else:
        assert text.startswith("*<")


def test_changes_of_one_policy_with_different_severities_each_get_a_badge() -> None:
    added = replace(risk_digest().notices[0], policy="P")
    removed = replace(risk_digest().notices[1], policy="P", update_row=None)
    text = sections(slack.render(Digest("k", (added, removed))))[0]
    assert text.startswith(":rotating_light: *critical* · *<")
    assert "\n:rotating_light: *critical* · *Added:*\n" in text
    assert "\n:large_yellow_circle: *low* · *Removed:*\n" in text


def test_without_a_classification_actions_stay_a_compact_list() -> None:
    notice = replace(risk_digest().notices[0], details={})
    text = sections(slack.render(Digest("k", (notice,))))[0]
    assert "*Added:* `iam:PassRole`, `s3:Get*`, `rekognition:DoTheThing`" in text


def test_a_wildcard_matching_nothing_and_a_plain_action_without_flags() -> None:
    nothing = {**S3_GET_STAR, "action": "s3:Nope*", "unknown": True, "expands_to_count": 0}
    plain = classified("Allow", "s3:ListBucket", level="List", on_all_resources=False)
    grants = (("Allow", "s3:Nope*"), ("Allow", "s3:ListBucket"))
    notice = replace(risk_digest().notices[0], grants=grants, details={"classification": {"grants": [nothing, plain]}})
    text = sections(slack.render(Digest("k", (notice,))))[0]
    assert "• `s3:Nope*`  matches no known action (new API or typo) · on `*`\n" in text
    assert text.endswith("• `s3:ListBucket`  List")


def test_undocumented_changes_and_documentation_mismatches_get_a_clear_section() -> None:
    payload = slack.render(reconciliation_digest())
    undocumented, mismatch = sections(payload)
    assert undocumented.startswith(":mag: *Undocumented change to <")
    assert "|AmazonRekognitionFullAccess>*: actions added on 2026-11-20 10:00 UTC, not documented within 7 days\n" in (
        undocumented
    )
    assert "\nReason: no updates-table row or feed item mentions AmazonRekognitionFullAccess within 7 days" in (
        undocumented
    )
    assert undocumented.endswith("\n*Added:* `iam:PassRole`, `s3:Get*`")
    assert mismatch.startswith(":warning: *Documentation mismatch for <")
    assert "|AmazonRekognitionReadOnlyAccess>*: AWS says it added actions the policy does not grant\n" in mismatch
    assert "\nReason: the updates row of 2023-10-31 says rekognition:Foo was added" in mismatch
    assert "\n*Updates table, 2023-10-31:* Actions added to the following managed policy" in mismatch
    assert mismatch.endswith("\n*Missing:* `rekognition:Foo`")
    assert header(payload) == "2 changes"
    one = Digest("k", reconciliation_digest().notices[1:])
    assert header(slack.render(one)) == "Documentation mismatch: AmazonRekognitionReadOnlyAccess"


def test_hostile_text_in_classifications_notes_and_alerts_stays_text() -> None:
    payload = slack.render(hostile_risk_digest())
    raw = json.dumps(payload, ensure_ascii=False)
    for bad in (*HOSTILE_TEXTS, "\r"):
        assert bad not in raw
    for text in mrkdwn_texts(payload):
        assert_safe_markup(text)
    assert_within_limits(payload)


def test_500_classified_actions_stay_within_the_limits() -> None:
    entries = [
        classified(
            "Allow", f"rekognition:Action{i:04d}WithAQuiteLongName", level="Write", flags=("privilege_escalation",)
        )
        for i in range(500)
    ]
    entries += [{**S3_GET_STAR, "riskiest": [{"action": "s3:" + "x" * 500}] * 5}]
    grants = tuple((str(e["effect"]), str(e["action"])) for e in entries)
    notice = replace(
        risk_digest().notices[1],
        grants=grants,
        details={"classification": {"grants": entries}, "note": "n" * 5000},
        update_row={"change": "&" * 10000, "date": "2024-01-01"},
    )
    payload = slack.render(Digest("k", (notice, *long_digest(actions=1, policies=60).notices)))
    assert_within_limits(payload)
    text = sections(payload)[0]
    match = re.search(r"\n… and (\d+) more\n", text)
    assert match is not None and text.count("\n• `rekognition:") + int(match.group(1)) == 501
    assert not any(t.endswith("\n…") for t in sections(payload))  # the budgets held: no last-resort cut


# --- send --------------------------------------------------------------------------------------------------------


def test_slack_receives_exactly_the_rendered_payload() -> None:
    digest = v3_digest()
    with slack_stand_in() as server:
        server.script(HOOK, ok())
        result = deliver(server.url(HOOK), digest)
        assert result == SendResult(True, "HTTP 200 ok")
        (body,) = server.bodies
        assert json.loads(body) == slack.render(digest)
        (seen,) = server.requests
        assert seen.method == "POST" and seen.path == HOOK
        assert seen.header("User-Agent") == USER_AGENT
        assert seen.header("X-Watcher-Delivery") == digest.key
        assert seen.header("Content-Type") == "application/json; charset=utf-8"


def test_a_long_digest_is_accepted_by_the_stand_in() -> None:
    with slack_stand_in() as server:
        server.script(HOOK, ok())
        assert deliver(server.url(HOOK), long_digest()).ok
        assert deliver(server.url(HOOK), hostile_digest()).ok


def test_the_stand_in_refuses_what_slack_refuses() -> None:
    with slack_stand_in() as server:
        server.script(HOOK, ok())
        too_many = {"text": "x", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}] * 51}
        result = slack.send(server.url(HOOK), too_many, key="k", timeout=5)
        assert result == SendResult(False, "HTTP 400 invalid_blocks", permanent=True)
        result = slack.send(server.url(HOOK), {"text": ""}, key="k", timeout=5)
        assert result == SendResult(False, "HTTP 400 no_text", permanent=True)


def test_a_500_is_temporary_and_the_retry_sends_the_same_payload() -> None:
    digest = v2_digest()
    with slack_stand_in() as server:
        server.script(HOOK, Reply(500, b"internal_error"), ok())
        first = deliver(server.url(HOOK), digest)
        assert first == SendResult(False, "HTTP 500 internal_error")
        second = deliver(server.url(HOOK), digest)
        assert second.ok
        assert server.count(HOOK) == 2
        assert server.bodies[0] == server.bodies[1]
        assert {seen.header("X-Watcher-Delivery") for seen in server.requests} == {digest.key}


def test_a_429_passes_on_retry_after() -> None:
    with slack_stand_in() as server:
        server.script(HOOK, Reply(429, b"ratelimited", headers={"Retry-After": "7"}))
        result = deliver(server.url(HOOK), v2_digest())
        assert result == SendResult(False, "HTTP 429 ratelimited", retry_after=7.0)


def test_a_retry_after_date_in_the_past_means_now() -> None:
    with slack_stand_in() as server:
        server.script(HOOK, Reply(429, b"ratelimited", headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}))
        assert deliver(server.url(HOOK), v2_digest()).retry_after == 0.0
        server.script(HOOK, Reply(429, b"ratelimited", headers={"Retry-After": "soon"}))
        assert deliver(server.url(HOOK), v2_digest()).retry_after is None


@pytest.mark.parametrize(
    "status, body, ok_, permanent",
    [
        (404, b"no_service", False, True),
        (403, b"invalid_token", False, True),
        (410, b"channel_is_archived", False, True),
        (400, b"invalid_payload", False, True),
        (400, b"no_text", False, True),
        (404, b"", False, True),
        (418, b"teapot", False, True),
        (302, b"", False, True),
        (500, b"no_service", False, True),
        (502, b"<html>bad gateway</html>", False, False),
        (503, b"", False, False),
        (408, b"", False, False),
        (200, b"not ok", False, False),
        (200, b"ok", True, False),
    ],
)
def test_slack_answers(status: int, body: bytes, ok_: bool, permanent: bool) -> None:
    with slack_stand_in() as server:
        server.script(HOOK, Reply(status, body))
        result = deliver(server.url(HOOK), v2_digest())
        assert (result.ok, result.permanent, result.retry_after) == (ok_, permanent, None)
        assert result.detail == f"HTTP {status} {body.decode()}".strip()


def test_a_404_no_service_is_permanent() -> None:
    with slack_stand_in() as server:
        server.script(HOOK, Reply(404, b"no_service"))
        assert deliver(server.url(HOOK), v2_digest()) == SendResult(False, "HTTP 404 no_service", permanent=True)
        server.script(HOOK, Reply(403, b"invalid_token"))
        assert deliver(server.url(HOOK), v2_digest()) == SendResult(False, "HTTP 403 invalid_token", permanent=True)


def test_a_silent_slack_is_a_temporary_timeout() -> None:
    with slack_stand_in() as server:
        server.script(HOOK, Hang())
        result = deliver(server.url(HOOK), v2_digest(), timeout=0.2)
        assert result == SendResult(False, "timeout after 0.2 s")


def test_network_failures_are_temporary() -> None:
    with slack_stand_in() as server:
        server.script(HOOK, Close())
        result = deliver(server.url(HOOK), v2_digest())
        assert (result.ok, result.permanent, result.detail) == (False, False, "connection failed")
    refused = deliver(f"http://127.0.0.1:{free_port()}{HOOK}", v2_digest())
    assert refused == SendResult(False, "connection failed")


def test_a_malformed_url_is_permanent_and_not_repeated() -> None:
    for url in (f"not a url{HOOK}", f"ftp://hooks.example{HOOK}", f"http://{HOOK}"):
        result = slack.send(url, slack.render(v2_digest()), key="k", timeout=1)
        assert not result.ok
        assert "SECRET" not in result.detail and url not in result.detail


def test_the_url_never_appears_in_the_detail_even_if_echoed() -> None:
    with slack_stand_in() as server:
        url = server.url(HOOK)
        server.script(HOOK, Reply(404, f"no hook at {url} ({HOOK})".encode()))
        result = deliver(url, v2_digest())
        assert result.permanent
        assert result.detail == "HTTP 404 no hook at [webhook] ([webhook])"


def test_a_long_or_multiline_answer_is_one_short_line() -> None:
    with slack_stand_in() as server:
        server.script(HOOK, Reply(503, b"upstream\r\nerror " + b"x" * 5000))
        result = deliver(server.url(HOOK), v2_digest())
        assert result.detail.startswith("HTTP 503 upstream error xxx") and len(result.detail) <= 300


def test_a_delivery_key_cannot_inject_headers() -> None:
    with slack_stand_in() as server:
        server.script(HOOK, ok())
        result = slack.send(server.url(HOOK), slack.render(v2_digest()), key="k-1\r\nX-Evil: 1", timeout=5)
        assert result.ok
        (seen,) = server.requests
        assert seen.header("X-Watcher-Delivery") == "k-1X-Evil:1"
        assert seen.header("X-Evil") is None
