"""Property tests: parse never raises, the canonical form is a fixed point, the hash sees content only."""

from __future__ import annotations

import codecs
import json
import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.conftest import REKOGNITION
from watcher.canonical import actions_of, canonical_policy
from watcher.model import Feed, Kind, Page, Parsed, PolicyStatus
from watcher.parse import INTERNAL_ERROR, parse
from watcher.parse.markup import BLOCK_TAGS
from watcher.parse.policy_json import read_policy_json

FAST = settings(max_examples=200, deadline=None)
SLOW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

FIXTURES = {
    name: (REKOGNITION / name).read_bytes()
    for name in ("page-v1.html", "page-legacy.html", "seed.md", "doc-history-v1.rss")
}
PAGE_V1 = FIXTURES["page-v1.html"].decode("utf-8")
TABLE_ID = 'id="w241aab22c70b6"'


def assert_parsed_cleanly(parsed: Parsed) -> None:
    """A result of a known kind, hashed unless unknown, and no crash swallowed by parse's last resort."""
    assert isinstance(parsed, Page | Feed)
    assert parsed.kind in set(Kind)
    assert INTERNAL_ERROR not in {w.code for w in parsed.warnings}, parsed.warnings
    if parsed.kind is not Kind.UNKNOWN:
        assert re.fullmatch(r"[0-9a-f]{64}", parsed.content_hash)


def hash_of(html: str) -> str:
    parsed = parse(html.encode("utf-8"))
    assert isinstance(parsed, Page) and parsed.kind is Kind.SERVICE_PAGE
    return parsed.content_hash


BASELINE_HASH = hash_of(PAGE_V1)

# --- (a) arbitrary bytes ----------------------------------------------------------------------------

PREFIXES = [
    b"",
    b"<rss>",
    b'<?xml version="1.0"?><rss version="2.0"><channel>',
    b"<!-- x --><feed>",
    b"<html><body>",
    b'<div id="main-col-body"><h2>AWS managed policy: P</h2><pre>{',
    b"# AWS managed policies\n\n## AWS managed policy: P\n\n```\n{",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
]


@FAST
@given(prefix=st.sampled_from(PREFIXES), body=st.binary(max_size=600) | st.text(max_size=300).map(str.encode))
def test_arbitrary_bytes_never_raise_out_of_parse(prefix: bytes, body: bytes) -> None:
    parsed = parse(prefix + body)
    assert_parsed_cleanly(parsed)
    assert parse(prefix + body).content_hash == parsed.content_hash  # and parsing is deterministic


# --- (b) mangled fixture pages --------------------------------------------------------------------

SOUP = [
    b"<",
    b">",
    b"</",
    b"&",
    b"&#0;",
    b"&#xd800;",
    b"&nbsp;",
    b"\x00",
    b"\xff",
    b'"',
    b"{",
    b"}",
    b"[",
    b",",
    b'"\\ud800"',
    b"NaN",
    b"<div>",
    b"</div>",
    b'<div id="main-col-body">',
    b"<h1>AWS managed policies for X</h1>",
    b"<h2>AWS managed policy: Injected</h2>",
    b"<h3>SomePolicyName</h3>",
    b'<h2 id="security-iam-awsmanpol-AmazonRekognitionFullAccess">Dup</h2>',
    b"<pre>{",
    b'<pre>{"Statement": {"Principal": "*"}}</pre>',
    b"</pre>",
    b"<code>",
    b"</code>",
    b"<table><tr><th>Change</th><th>Date</th></tr><tr><td>c</td><td>Feb 30th, 2024</td></tr>",
    b"<tr><td>",
    b"</td></tr></table>",
    b"<![CDATA[",
    b"]]>",
    b"<!--",
    b"-->",
    b"<![if x]>",
    b"<script>",
    b"<item><title>t</title></item>",
    b"<pubDate>Wed, 7 Dec 0000 25:61:00 GMT</pubDate>",
    b"</channel>",
    b"</rss>",
    b"<?xml",
    b"\n# Heading\n",
    b"\n| Change | Date |\n|---|---|\n| x | y |\n",
    b"\n```\n",
    b'<a href="https://docs.aws.amazon.com/aws-managed-policy/latest/reference/X.html">x</a>',
    b"arn:aws:iam::aws:policy/X Policy details Policy version",
]
# Where mutations do the most harm: around JSON, headings, tables, feed items and dates.
MARKERS = re.compile(rb'\{|"Action"|<h[1-6]|<table|<tr|<pre|<item|<pubDate|<description|```|\n#|\| ')
HOT_SPOTS = {name: [m.start() for m in MARKERS.finditer(data)] for name, data in FIXTURES.items()}


@st.composite
def mangled_fixtures(draw: st.DrawFn) -> bytes:
    name = draw(st.sampled_from(sorted(FIXTURES)))
    data = bytearray(FIXTURES[name])
    hot = HOT_SPOTS[name]
    for _ in range(draw(st.integers(1, 6))):
        size = len(data)
        near_hot_spot = draw(st.booleans())
        if hot and near_hot_spot:
            pos = min(size, max(0, draw(st.sampled_from(hot)) + draw(st.integers(-8, 40))))
        else:
            pos = draw(st.integers(0, size))
        op = draw(st.sampled_from(["truncate", "delete", "insert", "replace", "soup"]))
        if op == "truncate":
            del data[pos:]
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 64))]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "replace" and pos < size:
            data[pos] = draw(st.integers(0, 255))
        else:
            data[pos:pos] = draw(st.sampled_from(SOUP))
    return bytes(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=mangled_fixtures())
def test_mangled_fixture_pages_never_raise_out_of_parse(body: bytes) -> None:
    assert_parsed_cleanly(parse(body))


def test_the_fixtures_used_for_mangling_parse_cleanly_as_they_are() -> None:
    for data in FIXTURES.values():
        parsed = parse(data)
        assert_parsed_cleanly(parsed)
        assert parsed.kind is not Kind.UNKNOWN


# Bodies that crashed or hung the parser once; each must parse to the kind given.
_POLICY_PAGE = (
    '<div id="main-col-body"><h1>AWS managed policies for X</h1><h2>AWS managed policy: P</h2><pre>{}</pre></div>'
)
_FEED = '<rss version="2.0"><channel><title>{}</title><item><title>t</title></item></channel></rss>'
REGRESSIONS = [
    pytest.param(_FEED.format("&#xd800;").encode(), Kind.FEED, id="a feed with a surrogate character reference"),
    pytest.param(
        _FEED.format("&#x110000;&#99999999999999999999;").encode(),
        Kind.FEED,
        id="a feed with character references beyond Unicode",
    ),
    *(
        pytest.param(
            f'<?xml version="1.0" encoding="{name}"?>'.encode("latin-1") + _FEED.format("x").encode(),
            Kind.FEED,
            id=f"a feed declaring the encoding {name!r}",
        )
        for name in ("\x00UTF-8", "UTF-8\xff", "undefined", "punycode", "utf-16", "rot13")
    ),
    pytest.param(
        _POLICY_PAGE.format('{"Statement": [{"Effect": "Allow", "Action": "s3:\\ud800"}]}').encode(),
        Kind.SERVICE_PAGE,
        id="a policy with a lone surrogate escape",
    ),
    pytest.param(
        _POLICY_PAGE.format('{"Statement": ' + "[" * 3000 + "]" * 3000 + "}").encode(),
        Kind.SERVICE_PAGE,
        id="a policy nested deeper than Python recurses",
    ),
    pytest.param(b"<!---->" * 200 + b"x", Kind.UNKNOWN, id="many comments before no feed"),
]


@pytest.mark.parametrize(("body", "kind"), REGRESSIONS)
def test_bodies_that_once_broke_the_parser_now_parse(body: bytes, kind: Kind) -> None:
    with time_limit(5):
        parsed = parse(body)
    assert_parsed_cleanly(parsed)
    assert parsed.kind is kind


@pytest.mark.parametrize(
    "document",
    [
        pytest.param('{"Statement": ' + "[" * 3000 + "]" * 3000 + "}", id="nested too deeply"),
        pytest.param('{"Statement": [{"Effect": "Allow", "Action": "s3:\\ud800"}]}', id="a lone surrogate"),
    ],
)
def test_an_unreadable_policy_costs_that_policy_not_the_page(document: str) -> None:
    parsed = parse(_POLICY_PAGE.format(document).encode())
    assert isinstance(parsed, Page)
    assert [(p.name, p.status, p.actions, p.raw_json) for p in parsed.policies] == [
        ("P", PolicyStatus.UNPARSEABLE, None, document)
    ]


@pytest.mark.parametrize(
    "bom", [codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE], ids=["utf-8", "utf-16-le", "utf-16-be"]
)
def test_a_feed_with_a_byte_order_mark_is_still_a_feed(bom: bytes) -> None:
    encoding = {codecs.BOM_UTF8: "utf-8", codecs.BOM_UTF16_LE: "utf-16-le", codecs.BOM_UTF16_BE: "utf-16-be"}[bom]
    text = '<?xml version="1.0" encoding="utf-8"?>' + _FEED.format("Caf\u00e9 history")
    parsed = parse(bom + text.encode(encoding))
    assert isinstance(parsed, Feed)
    assert parsed.title == "Caf\u00e9 history"
    assert [i.title for i in parsed.items] == ["t"]


def test_a_feed_is_read_in_the_encoding_it_declares() -> None:
    body = '<?xml version="1.0" encoding="iso-8859-1"?>' + _FEED.format("Caf\u00e9")
    parsed = parse(body.encode("iso-8859-1"))
    assert isinstance(parsed, Feed) and parsed.title == "Caf\u00e9"


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Fail (instead of hanging) when the block takes longer than ``seconds``."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


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


# --- (d) the content hash sees content only -------------------------------------------------------

whitespace = st.text(alphabet=" \t\n\r", min_size=1, max_size=4)
_CODE = re.compile(r'(<code class="json ">)(.*?)(</code>)', re.S)
_CODE_PARTS = re.compile(r'(<[^>]*>|"(?:[^"\\]|\\.)*")')
_TAG_GAP = re.compile(r"(<(/?)([a-zA-Z][\w-]*)[^>]*>)(\s*)(?=<(/?)([a-zA-Z][\w-]*))")


def rewhitespace(html: str, data: st.DataObject) -> str:
    """Re-indent the JSON code blocks and vary the whitespace between tags where it cannot join words."""

    def json_gap(m: re.Match[str]) -> str:
        return data.draw(st.sampled_from(["", " ", "\n", "\n\t  ", "   "]))

    def code(m: re.Match[str]) -> str:
        pieces = _CODE_PARTS.split(m[2])
        for i in range(0, len(pieces), 2):  # outside tags and strings: JSON punctuation and whitespace
            pieces[i] = re.sub(r"\s*([{}\[\],:])\s*", lambda p: json_gap(p) + p[1] + json_gap(p), pieces[i])
        return m[1] + "".join(pieces) + m[3]

    def tag_gap(m: re.Match[str]) -> str:
        gap = m[4]
        if gap or m[3].lower() in BLOCK_TAGS or m[6].lower() in BLOCK_TAGS:
            gap = data.draw(whitespace)
        return m[1] + gap

    before, start, rest = html.partition('<div id="main-col-body">')
    rest = _CODE.sub(code, rest)
    outside_code = re.split(r"(<pre\b.*?</pre>)", rest, flags=re.S)
    for i in range(0, len(outside_code), 2):
        outside_code[i] = _TAG_GAP.sub(tag_gap, outside_code[i])
    return before + start + "".join(outside_code)


@SLOW
@given(data=st.data())
def test_the_content_hash_ignores_whitespace(data: st.DataObject) -> None:
    changed = rewhitespace(PAGE_V1, data)
    assume(changed != PAGE_V1)
    assert hash_of(changed) == BASELINE_HASH


@SLOW
@given(new_id=st.from_regex(r"w[0-9a-z]{4,14}", fullmatch=True))
def test_the_content_hash_ignores_build_generated_table_ids(new_id: str) -> None:
    assert TABLE_ID in PAGE_V1
    assert hash_of(PAGE_V1.replace(TABLE_ID, f'id="{new_id}"')) == BASELINE_HASH


ACTION_LISTS = [m.end() for m in re.finditer(r'"Action": \[', PAGE_V1)]
PUBLISHED = {a.lower() for a in re.findall(r'"([\w-]+:[\w*]+)"', PAGE_V1)}


@SLOW
@given(
    where=st.sampled_from(ACTION_LISTS),
    action=st.from_regex(r"[a-z][a-z0-9-]{1,10}:[A-Z][A-Za-z]{1,20}", fullmatch=True),
)
def test_the_content_hash_changes_when_an_action_is_added(where: int, action: str) -> None:
    assume(action.lower() not in PUBLISHED)
    assert hash_of(PAGE_V1[:where] + f'\n                "{action}",' + PAGE_V1[where:]) != BASELINE_HASH
