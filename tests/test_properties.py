"""Property tests: parse never raises, on arbitrary bytes and on mangled fixture pages; bodies that once broke it.

The canonical form and the content hash are in tests/test_properties_canonical.py and
tests/test_properties_hash.py.
"""

from __future__ import annotations

import codecs
import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.property_helpers import FAST, FIXTURES
from watcher.model import Feed, Kind, Page, Parsed, PolicyStatus
from watcher.parse import INTERNAL_ERROR, parse


def assert_parsed_cleanly(parsed: Parsed) -> None:
    """A result of a known kind, hashed unless unknown, and no crash swallowed by parse's last resort."""
    assert isinstance(parsed, Page | Feed)
    assert parsed.kind in set(Kind)
    assert INTERNAL_ERROR not in {w.code for w in parsed.warnings}, parsed.warnings
    if parsed.kind is not Kind.UNKNOWN:
        assert re.fullmatch(r"[0-9a-f]{64}", parsed.content_hash)


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
