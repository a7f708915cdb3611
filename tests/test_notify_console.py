"""The console channel: exact text (golden files, ``UPDATE_GOLDEN=1`` rewrites them) and no terminal escapes."""

from __future__ import annotations

import io
import re

import pytest

from tests.notify_risk_samples import REMOVAL_NOTE, classified, hostile_risk_digest, reconciliation_digest, risk_digest
from tests.notify_samples import DETECTED_AT, HOSTILE_TEXTS, all_kinds_digest, hostile_digest, v2_digest, v3_digest
from tests.test_notify_webhook import check_golden
from watcher.notify import console
from watcher.notify.model import Digest, Notice, SendResult

CONTROLS = [chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]] + ["\u2028", "\u2029", "\u202e", "\u2066"]
ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x1b[31m\x9b1m\x90q\x9c\rOVERWRITE\x00\x08\x08"


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
def test_it_renders_the_golden_text(name: str, digest: Digest) -> None:
    check_golden(f"console/{name}.txt", console.render(digest).encode())


def test_a_policy_block_shows_name_link_grants_update_row_and_where() -> None:
    lines = console.render(v2_digest()).splitlines()
    assert lines[0] == "Policy Watcher: 1 policy with actions added, 1 AWS update, 1 feed item"
    assert lines[1] == ""
    assert lines[2] == "AmazonRekognitionReadOnlyAccess: actions added"
    assert lines[3].startswith("  https://docs.aws.amazon.com/") and lines[3].endswith(
        "AmazonRekognitionReadOnlyAccess"
    )
    assert lines[4:6] == ["  + Allow rekognition:GetMediaAnalysisJob", "  + Allow rekognition:ListMediaAnalysisJobs"]
    assert lines[6].startswith("  AWS update of 2023-10-31: Actions involving media analysis jobs")
    assert lines[8] == f"  source: rekognition-policies | service: Amazon Rekognition | detected: {DETECTED_AT}"


def test_removals_are_minus_lines() -> None:
    text = console.render(v3_digest())
    assert "\n  - Allow rekognition:DistributeDatasetEntries\n" in text
    assert "\n  + Allow rekognition:CreateFaceLivenessSession\n" in text


def test_an_update_row_already_shown_under_its_policy_is_not_repeated() -> None:
    text = console.render(v3_digest())
    assert text.count("AWS update of 2024-03-04: New policy added") == 1
    assert text.count("AWS update of 2024-03-04: Action removed") == 1
    lone = Notice("update_row_added", "s", None, None, (), DETECTED_AT, None, {"change": "Lone row", "date": "2024"})
    assert f"AWS update of 2024: Lone row [s, {DETECTED_AT}]" in console.render(Digest("k", (lone,)))


def test_the_summary_counts_kinds_in_order() -> None:
    assert console.summary(v3_digest()) == "Policy Watcher: 1 new policy, 1 policy with actions removed, 2 AWS updates"
    assert console.summary(Digest("k", (), title="Watcher")) == "Watcher: nothing new"
    odd = Notice("something_new", "s", None, "P", (), DETECTED_AT, None, {"b": 1, "a": ["x", "y"], "c": None})
    assert console.summary(Digest("k", (odd, odd))) == "Policy Watcher: 2 something new"
    assert console.render(Digest("k", (odd,))).splitlines()[2] == f"Something new: P: a: x, y; b: 1 [s, {DETECTED_AT}]"


def _with(text: str) -> Digest:
    """A digest with ``text`` in every field that comes from a page or a feed."""
    row = {"change": text, "date": text, "description": text}
    return Digest(
        key="k",
        title=f"Watch{text}er",
        notices=(
            Notice("actions_added", text, text, f"Pol{text}icy", ((text, f"s3:{text}"),), text, text, {}, row),
            Notice("feed_item_added", text, text, None, (), text, text, {"title": text, "link": text}),
            Notice("layout_suspect", text, text, None, (), text, text, {"reason": text}),
            Notice("source_failing", text, text, None, (), text, text, {"error": text, "since": text, "failures": 2}),
            Notice("statement_changed", text, text, "P", (), text, text, {"resources_added": [text]}),
            Notice("parse_failed", text, text, "Q", (), text, text, {text: text}),
        ),
    )


@pytest.mark.parametrize("control", CONTROLS, ids=[f"U+{ord(c):04X}" for c in CONTROLS])
def test_no_control_character_from_a_page_reaches_the_terminal(control: str) -> None:
    text = console.render(_with(f"a{control}b"))
    if control != "\n":
        assert control not in text
    assert len(text.splitlines()) == len(console.render(_with("a b")).splitlines())


def test_escape_sequences_are_defused_but_the_text_stays() -> None:
    text = console.render(_with(ESCAPES))
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]", text)
    assert "OVERWRITE" in text and "pwned" in text
    assert text.splitlines()[0] == "Watch ]0;pwned [2J [31m 1m q OVERWRITE er: 1 policy with actions added, " + (
        "1 feed item, 1 suspect page layout, 1 failing source, 1 policy with a changed statement, 1 unreadable policy"
    )


def test_hostile_crlf_in_a_policy_name_does_not_add_lines() -> None:
    text = console.render(hostile_digest())
    assert "\r" not in text
    assert "\nEvil<!channel> Policy & </script><http://evil|click>: actions added\n" in text


def test_send_writes_the_text_and_always_ends_the_line() -> None:
    stream = io.StringIO()
    assert console.send("hello", stream) == SendResult(True, "written (5 characters)")
    assert console.send("world\n", stream).ok
    assert stream.getvalue() == "hello\nworld\n"


def test_send_defaults_to_standard_output(capsys: pytest.CaptureFixture[str]) -> None:
    text = console.render(v2_digest())
    assert console.send(text).ok
    assert capsys.readouterr().out == text


def test_send_never_raises() -> None:
    stream = io.StringIO()
    stream.close()
    result = console.send("x", stream)
    assert not result.ok and result.detail == "console write failed: ValueError"


# --- severity, access levels and flags (issue 6) -----------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "[critical] Policy Watcher: 1 policy with actions added, 1 policy with actions removed, 1 removed policy, "
        "1 feed item",
        "[CRITICAL] AmazonRekognitionFullAccess: actions added",
        "  + Allow iam:PassRole  Write · privilege escalation · on *",
        "  + Allow s3:Get*  grants 54 actions (Read 54) · resource exposure · on *; "
        "riskiest: s3:GetObject, s3:GetBucketPolicy, s3:GetObjectAcl, ...",
        "  + Allow rekognition:DoTheThing  unknown action (new API or typo)",
        "[LOW] AmazonRekognitionCustomLabelsFullAccess: actions removed",
        "  - Allow rekognition:DistributeDatasetEntries  Write · on *",
        f"  note: {REMOVAL_NOTE}",
        "[MEDIUM] AmazonRekognitionOldPolicy: policy removed",
        "  - Deny rekognition:DeleteCollection  Write · on *",
        "[INFO] Feed item: AWS managed policy updates (2026-01-04) "
        "https://docs.aws.amazon.com/rekognition/latest/dg/security-iam-awsmanpol.html "
        f"[rekognition-history, {DETECTED_AT}]",
    ],
)
def test_severities_levels_flags_and_the_removal_note_are_lines(line: str) -> None:
    assert line in console.render(risk_digest()).splitlines()


@pytest.mark.parametrize(
    "line",
    [
        "Policy Watcher: 1 undocumented change, 1 documentation mismatch",
        "Undocumented change: AmazonRekognitionFullAccess: actions added on 2026-11-20T10:00:00+00:00: "
        "no updates-table row or feed item mentions AmazonRekognitionFullAccess within 7 days of the change; "
        "actions: Allow iam:PassRole, Allow s3:Get* [rekognition-policies, 2026-11-27T10:00:00+00:00]",
        "Documentation mismatch: AmazonRekognitionReadOnlyAccess: the updates row of 2023-10-31 says rekognition:Foo "
        "was added; the policy does not grant it; missing: rekognition:Foo; AWS update of 2023-10-31: Actions added "
        "to the following managed policy: AWS managed policy: AmazonRekognitionReadOnlyAccess "
        "[rekognition-policies, 2026-11-27T10:00:00+00:00]",
    ],
)
def test_reconciliation_alerts_are_one_line_each(line: str) -> None:
    assert line in console.render(reconciliation_digest()).splitlines()


def test_hostile_text_in_classifications_notes_and_alerts_adds_no_line() -> None:
    text = console.render(hostile_risk_digest())
    assert "\r" not in text and "\nX-Evil" not in text
    assert len(text.splitlines()) == 2 + 5 + 1 + 2  # summary, blank; the policy block; blank; two alert lines


ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.mark.parametrize(
    "tag, sgr",
    [
        ("[critical]", "1;37;41"),
        ("[CRITICAL]", "1;37;41"),
        ("[LOW]", "36"),
        ("[MEDIUM]", "1;33"),
        ("[INFO]", "2"),
    ],
)
def test_on_a_terminal_severity_tags_are_coloured_and_nothing_else_changes(tag: str, sgr: str) -> None:
    text = console.render(risk_digest())
    stream = io.StringIO()
    assert console.send(text, stream, colours=True).ok
    out = stream.getvalue()
    assert f"\x1b[{sgr}m{tag}\x1b[0m" in out
    assert ANSI.sub("", out) == text


def test_colours_only_where_render_puts_tags() -> None:
    odd = Notice("feed_item_added", "s", None, None, (), DETECTED_AT, None, {"title": "[CRITICAL] not a tag"})
    out = console.colour(console.render(Digest("k", (odd,))))
    assert "\x1b" not in out


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colours_follow_the_stream_and_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    text = console.render(risk_digest())
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    plain, terminal = io.StringIO(), _Terminal()
    console.send(text, plain)
    console.send(text, terminal)
    assert plain.getvalue() == text and "\x1b[" in terminal.getvalue()
    monkeypatch.setenv("NO_COLOR", "1")
    quiet = _Terminal()
    console.send(text, quiet)
    assert quiet.getvalue() == text
    for bad in HOSTILE_TEXTS:  # page text is never rich markup
        assert bad in console.colour(console.render(hostile_risk_digest()))


def test_a_not_action_entry_is_described_by_what_its_statement_allows() -> None:
    entry = {
        **classified("NotAction", "iam:*", level="Permissions management", severity="critical"),
        "wildcard": True,
        "grants_all_except": ["iam:*", "organizations:*"],
        "expands_to_count": 19000,
        "levels": {"Permissions management": 900, "Write": 9000, "Read": 9100},
        "flags": ["privilege_escalation"],
        "riskiest": [{"action": "lambda:CreateFunction", "access_level": "Write", "flags": ["privilege_escalation"]}],
    }
    notice = Notice(
        kind="actions_added", source="s", service=None, policy="PowerUserAccess", grants=(("NotAction", "iam:*"),),
        detected_at=DETECTED_AT, url=None, details={"classification": {"dataset": "d", "grants": [entry]}},
        severity="critical",
    )  # fmt: skip
    lines = console.render(Digest(key="k", notices=(notice,))).splitlines()
    assert (
        "  + NotAction iam:*  the statement allows every action except iam:*, organizations:*: 19000 actions "
        "(Permissions management 900, Write 9000, Read 9100) · privilege escalation · on *; "
        "riskiest: lambda:CreateFunction, ..."
    ) in lines
