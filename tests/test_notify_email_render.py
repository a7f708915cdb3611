"""Email channel: ``render`` on its exact output (golden files), its headers and subjects, and hostile page text.

Golden files live in tests/golden/email/; ``UPDATE_GOLDEN=1`` rewrites them. Severities, classifications and
reconciliation alerts are in tests/test_notify_email_risk.py, ``send`` in tests/test_notify_email.py.
"""

from __future__ import annotations

import email
from collections.abc import Callable
from dataclasses import replace
from email import policy as email_policy
from email.message import EmailMessage

import pytest

from tests.email_helpers import (
    RECIPIENTS,
    SENDER,
    STABLE_HEADERS,
    _check_golden,
    _digest,
    _golden_text,
    _notice,
    _part,
    _render,
)
from tests.notify_risk_samples import hostile_risk_digest, reconciliation_digest, risk_digest
from tests.notify_samples import (
    DETECTED_AT,
    HOSTILE_POLICY,
    HOSTILE_TEXTS,
    all_kinds_digest,
    hostile_digest,
    long_digest,
    policy_url,
    v2_digest,
    v3_digest,
)
from watcher.notify.email import render, subject
from watcher.notify.model import Digest, Notice

# --- render: golden files ----------------------------------------------------------------------------------------


def source_failing_digest() -> Digest:
    """Operator-only: one source failing."""
    return _digest(
        _notice("source_failing", error="HTTP 503 Service Unavailable", since=DETECTED_AT, failures=3),
        key="delivery-failing-0001",
    )


GOLDEN_CASES: dict[str, Callable[[], Digest]] = {
    "v2": v2_digest,
    "v3": v3_digest,
    "hostile": hostile_digest,
    "all_kinds": all_kinds_digest,
    "source_failing": source_failing_digest,
    "risk": risk_digest,
    "reconciliation": reconciliation_digest,
    "hostile_risk": hostile_risk_digest,
}


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_rendered_message_matches_its_golden_files(name: str) -> None:
    message = _render(GOLDEN_CASES[name]())
    _check_golden(f"{name}.txt", _golden_text(message))
    _check_golden(f"{name}.html", _part(message, "html"))


def test_render_is_pure_the_same_digest_gives_the_same_content() -> None:
    first, second = _render(v3_digest()), _render(v3_digest())
    assert _golden_text(first) == _golden_text(second)
    assert _part(first, "html") == _part(second, "html")


# --- render: headers and structure ---------------------------------------------------------------------------------


def test_the_message_is_multipart_alternative_with_plain_text_then_html() -> None:
    message = _render(v2_digest())
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)


def test_headers_carry_the_idempotency_key_the_date_and_the_addresses() -> None:
    message = _render(v2_digest())
    assert message["Message-ID"] == "<delivery-v2-0001@policy-watcher>"
    assert message["From"] == SENDER
    assert message["To"] == ", ".join(RECIPIENTS)
    assert message["Date"] == "Mon, 05 Jan 2026 10:00:00 +0000"
    assert message["Auto-Submitted"] == "auto-generated"


def test_the_date_is_the_latest_detection_time() -> None:
    early = replace(_notice("actions_added", "P1", (("Allow", "a:B"),)), detected_at="2026-01-05T08:00:00+00:00")
    late = replace(_notice("actions_added", "P2", (("Allow", "a:C"),)), detected_at="2026-01-05T11:30:00+01:00")
    assert _render(_digest(early, late))["Date"] == "Mon, 05 Jan 2026 10:30:00 +0000"


def test_a_key_that_is_not_a_dot_atom_is_percent_encoded_into_the_message_id() -> None:
    message = _render(_digest(_notice("actions_added", "P", (("Allow", "a:B"),)), key="ch 1\r\nBcc: x@evil"))
    assert message["Message-ID"] == "<ch%201%0D%0ABcc%3A%20x%40evil@policy-watcher>"
    assert message["Bcc"] is None


def test_the_body_lists_the_policy_its_link_grouped_actions_the_aws_row_and_where_it_came_from() -> None:
    text = _part(_render(v2_digest()), "plain")
    assert "* AmazonRekognitionReadOnlyAccess\n" in text
    assert f"  {policy_url('AmazonRekognitionReadOnlyAccess')}\n" in text
    assert (
        "  Actions added (Allow):\n    + rekognition:GetMediaAnalysisJob\n    + rekognition:ListMediaAnalysisJobs\n"
        in text
    )
    assert "  AWS wrote (2023-10-31): Actions involving media analysis jobs have been added" in text
    assert "  Source: rekognition-policies | Service: Amazon Rekognition | Detected: 2026-01-05 10:00 UTC\n" in text
    # The updates row AWS wrote is shown once, with its policy, not again as a separate row.
    assert text.count("Actions involving media analysis jobs") == 1
    assert "* New feed item (2023-10-31): AWS managed policy updates\n" in text


def test_actions_are_grouped_by_effect_allow_then_deny_then_notaction() -> None:
    grants = (("NotAction", "iam:*"), ("Allow", "s3:GetObject"), ("Deny", "s3:DeleteBucket"), ("Allow", "s3:List"))
    text = _part(_render(_digest(_notice("actions_removed", "P", grants))), "plain")
    assert (
        "  Actions removed (Allow):\n    - s3:GetObject\n    - s3:List\n"
        "  Actions removed (Deny):\n    - s3:DeleteBucket\n"
        "  Actions removed (NotAction):\n    - iam:*\n"
    ) in text


def test_an_updates_row_about_a_policy_without_other_changes_is_listed_on_its_own() -> None:
    row = _notice("update_row_added", "AmazonRekognitionServiceRole", change="Docs only", date="2024-01-01")
    text = _part(_render(_digest(row)), "plain")
    assert "* Updates table: new row\n" in text
    assert "  AWS wrote (2024-01-01): Docs only\n" in text
    assert "    * AmazonRekognitionServiceRole\n" in text


def test_an_empty_digest_is_never_a_message() -> None:
    with pytest.raises(ValueError, match="empty digest"):
        _render(_digest())


def test_an_address_with_a_line_break_is_refused() -> None:
    with pytest.raises(ValueError, match="control characters"):
        render(v2_digest(), sender=SENDER, recipients=["a@example.com\r\nBcc: evil@example.com"])
    with pytest.raises(ValueError, match="recipient"):
        render(v2_digest(), sender=SENDER, recipients=[])


# --- render: subjects ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("notices", "expected"),
    [
        (v2_digest().notices, "[Policy Watcher] AmazonRekognitionReadOnlyAccess: +2 actions"),
        (v3_digest().notices, "[Policy Watcher] 2 policies changed (Amazon Rekognition)"),
        (
            (
                _notice("actions_added", "P", (("Allow", "a:B"), ("Allow", "a:C"))),
                _notice("actions_removed", "P", (("Deny", "a:D"),)),
            ),
            "[Policy Watcher] P: +2 −1 actions",
        ),
        ((_notice("actions_removed", "P", (("Allow", "a:B"),)),), "[Policy Watcher] P: −1 action"),
        ((_notice("policy_added", "P", (("Allow", "a:B"),)),), "[Policy Watcher] P: new policy"),
        ((_notice("policy_removed", "P", (("Allow", "a:B"),)),), "[Policy Watcher] P: policy removed"),
        (
            tuple(_notice("actions_added", f"P{i}", (("Allow", "a:B"),)) for i in range(3)),
            "[Policy Watcher] 3 policies changed (Amazon Rekognition)",
        ),
        ((_notice("source_failing", error="HTTP 503"),), "[Policy Watcher] source failing: rekognition-policies"),
        (
            (_notice("layout_suspect", reason="gone"), _notice("source_recovered")),
            "[Policy Watcher] layout suspect: rekognition-policies; source recovered: rekognition-policies",
        ),
        (
            (_notice("update_row_added", change="x", date="2024-01-01"), _notice("feed_item_added", title="t")),
            "[Policy Watcher] 1 new updates-table row, 1 new feed item (Amazon Rekognition)",
        ),
        (
            (_notice("actions_added", "P", (("Allow", "a:B"),)), _notice("source_failing", error="x")),
            "[Policy Watcher] P: +1 action (+1 watcher alert)",
        ),
        (long_digest().notices, "[Policy Watcher] 121 policies changed (Amazon Rekognition)"),
    ],
)
def test_the_subject_summarises_the_digest(notices: tuple[Notice, ...], expected: str) -> None:
    digest = _digest(*notices)
    assert subject(digest) == expected
    assert _render(digest)["Subject"] == expected


def test_a_long_subject_is_cut_with_an_ellipsis() -> None:
    name = "P" * 400
    title = subject(_digest(_notice("policy_added", name)))
    assert len(title) == 180
    assert title.endswith("…")


# --- render: hostile page text --------------------------------------------------------------------------------------


def _raw_header_lines(message: EmailMessage) -> list[bytes]:
    raw = message.as_bytes()
    head = raw.split(b"\n\n", 1)[0]
    return head.split(b"\n")


def test_no_header_line_break_comes_from_page_text_only_folding() -> None:
    message = _render(hostile_digest())
    lines = _raw_header_lines(message)
    assert not any(b"\r" in line for line in lines)
    for line in lines:
        # Every line starts a header or continues one (folding starts with white space).
        assert line[:1] in (b" ", b"\t") or b":" in line.split(b" ", 1)[0], line
    names = [line.split(b":", 1)[0].decode() for line in lines if line[:1] not in (b" ", b"\t")]
    assert sorted(names) == sorted([*STABLE_HEADERS, "Content-Type"])
    parsed = email.message_from_bytes(message.as_bytes(), policy=email_policy.default)
    assert parsed["Subject"] == "[Policy Watcher] Evil<!channel> Policy & </script><http://evil|click>: +3 actions " + (
        "(+1 watcher alert)"
    )
    assert all("\r" not in str(v) and "\n" not in str(v) for v in parsed.values())


def test_a_title_that_tries_to_inject_a_header_stays_in_the_subject() -> None:
    digest = Digest(
        key="k1",
        notices=(_notice("policy_added", "P\u2028Q\x00R\x1b[31m"),),
        title="Watcher\r\nBcc: evil@example.com\r\n\r\nbody",
    )
    parsed = email.message_from_bytes(_render(digest).as_bytes(), policy=email_policy.default)
    assert parsed["Bcc"] is None
    assert parsed["Subject"] == "[Watcher Bcc: evil@example.com body] P Q R [31m: new policy"


def test_the_html_part_escapes_everything_from_pages() -> None:
    page = _part(_render(hostile_digest()), "html")
    assert "&lt;!channel&gt;" in page
    assert "</script>" not in page
    for hostile in HOSTILE_TEXTS:
        assert hostile not in page
    assert "Evil&lt;!channel&gt; Policy &amp; &lt;/script&gt;&lt;http://evil|click&gt;" in page
    assert '<a href="https://docs.aws.amazon.com/x.html#a|b&gt;c&lt;!channel&gt;">' in page


def test_the_plain_text_part_keeps_page_text_on_one_line() -> None:
    text = _part(_render(hostile_digest()), "plain")
    assert "\r" not in text
    assert f"* {' '.join(HOSTILE_POLICY.split())}\n" in text
    assert "* New feed item (2026-01-04): <http://evil|click> & <!channel> </script>\n" in text


def test_only_http_links_become_links() -> None:
    item = _notice("feed_item_added", title="t", link="javascript:alert(1)")
    bad_page = replace(_notice("actions_added", "P", (("Allow", "a:B"),)), url="javascript:alert(2)")
    page = _part(_render(_digest(replace(item, url=None), bad_page)), "html")
    assert "javascript:" not in page
    assert "<a " not in page
