"""AWS Managed Policy Reference pages: one policy per page, with ARN, version and times.

``docs.aws.amazon.com/aws-managed-policy/latest/reference/<Name>.html`` shows the name as h1, a
"Policy details" list (Type, Creation time, Edited time, ARN), "Policy version: v3 (default)" and
the JSON policy document.
"""

from __future__ import annotations

import re
from dataclasses import replace

from bs4 import BeautifulSoup, Tag

from watcher.model import Kind, Page, ParseWarning
from watcher.parse.documents import SectionContent, build_policy, looks_like_json
from watcher.parse.markup import attr, block_text, code_text, content_root

REFERENCE_URL = re.compile(r"/aws-managed-policy/latest/reference/", re.IGNORECASE)
_ARN = re.compile(r"arn:aws[\w-]*:iam::aws:policy/[\w+=,.@/-]+")
_FIELDS = {
    "created": re.compile(r"Creation time\s*:\s*(.+?)\s*(?=Edited time\s*:|ARN\s*:|$)", re.I),
    "edited": re.compile(r"Edited time\s*:\s*(.+?)\s*(?=Creation time\s*:|ARN\s*:|$)", re.I),
    "version": re.compile(r"Policy version\s*:\s*(v\d+(?:\s*\(default\))?)", re.I),
    "description": re.compile(r"^Description\s*:\s*(.+)$", re.I),
}


def is_reference_page(soup: BeautifulSoup, url: str | None) -> bool:
    if url and REFERENCE_URL.search(url):
        return True
    root = content_root(soup)
    text = root.get_text(" ")
    return "Policy details" in text and _ARN.search(text) is not None and "Policy version" in text


def _field(lines: list[str], key: str) -> str | None:
    pattern = _FIELDS[key]
    for line in lines:
        if m := pattern.search(line):
            return m[1].strip()
    return None


def parse_reference_page(soup: BeautifulSoup, url: str | None) -> Page:
    root = content_root(soup)
    warnings: list[ParseWarning] = []
    h1 = root.find("h1")
    name = block_text(h1) if isinstance(h1, Tag) else ""
    lines = [block_text(el) for el in root.find_all(["p", "li", "dt", "dd", "td"])]
    arn_match = _ARN.search(" ".join(lines))
    if not name and arn_match:
        name = arn_match[0].rsplit("/", 1)[-1]
    content = SectionContent(
        json_blocks=[t for t in (code_text(pre) for pre in root.find_all("pre")) if looks_like_json(t)],
        links=[],
        description=_field(lines, "description") or "",
    )
    policy = build_policy(name, attr(h1, "id") if isinstance(h1, Tag) else None, content, warnings)
    policy = replace(
        policy,
        arn=arn_match[0] if arn_match else None,
        version=_field(lines, "version"),
        created=_field(lines, "created"),
        edited=_field(lines, "edited"),
    )
    return Page(
        kind=Kind.REFERENCE_PAGE,
        url=url,
        title=name,
        policies=(policy,) if name else (),
        warnings=tuple(warnings),
    )
