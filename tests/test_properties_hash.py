"""Property tests: the content hash of a page sees content only (not whitespace or build-generated ids)."""

from __future__ import annotations

import re

from hypothesis import assume, given
from hypothesis import strategies as st

from tests.property_helpers import PAGE_V1, SLOW
from watcher.model import Kind, Page
from watcher.parse import parse
from watcher.parse.markup import BLOCK_TAGS

TABLE_ID = 'id="w241aab22c70b6"'


def hash_of(html: str) -> str:
    parsed = parse(html.encode("utf-8"))
    assert isinstance(parsed, Page) and parsed.kind is Kind.SERVICE_PAGE
    return parsed.content_hash


BASELINE_HASH = hash_of(PAGE_V1)


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
