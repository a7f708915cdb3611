"""AWS Managed Policy Reference pages: one policy per page, with ARN, version and times.

``docs.aws.amazon.com/aws-managed-policy/latest/reference/<Name>.html`` shows the name as h1, a
``Description: …`` paragraph, a "Policy details" list (Type, Creation time, Edited time, ARN),
"Policy version: v3 (default)" and the JSON policy document (``&quot;`` entities, braces in spans).
"""

from __future__ import annotations

import re
from dataclasses import replace

from bs4 import BeautifulSoup, Tag

from watcher.model import Kind, Page, ParseWarning
from watcher.parse.documents import SectionContent, build_policy, looks_like_json
from watcher.parse.markup import attr, block_text, code_text, content_root

REFERENCE_URL = re.compile(r"/aws-managed-policy/latest/reference/", re.IGNORECASE)
_ARN_TEXT = r"arn:aws[\w-]*:iam::aws:policy/[\w+=,.@/-]+"
_ARN = re.compile(_ARN_TEXT)
_LABELLED_ARN = re.compile(rf"\bARN\s*:\s*({_ARN_TEXT})")
_POLICY_NAME = re.compile(r"^[\w+=,.@-]+$")
_FIELDS = {
    "created": re.compile(r"Creation time\s*:\s*(.+?)\s*(?=Edited time\s*:|ARN\s*:|$)", re.I),
    "edited": re.compile(r"Edited time\s*:\s*(.+?)\s*(?=Creation time\s*:|ARN\s*:|$)", re.I),
    "version": re.compile(r"Policy version\s*:\s*(v\d+(?:\s*\(default\))?)", re.I),
    "description": re.compile(r"^Description\s*:\s*(.+)$", re.I),
}
_FIELD_TAGS = ["p", "li", "dt", "dd", "td"]


def _lines(root: Tag) -> list[str]:
    return [block_text(el) for el in root.find_all(_FIELD_TAGS)]


def _labelled_arns(lines: list[str]) -> list[str]:
    """Distinct ``ARN: arn:aws:iam::aws:policy/…`` values, in page order."""
    found = (m[1] for line in lines for m in _LABELLED_ARN.finditer(line))
    return list(dict.fromkeys(found))


def is_reference_page(soup: BeautifulSoup, url: str | None) -> bool:
    """A reference URL, or (without one) a page with a "Policy details" part naming exactly one policy ARN.

    Service pages never label an ARN that way for a single policy; a page labelling several is a list.
    """
    if url and REFERENCE_URL.search(url):
        return True
    root = content_root(soup)
    if not isinstance(root.find("h1"), Tag):
        return False
    text = root.get_text(" ")
    if "Policy details" not in text or "Policy version" not in text:
        return False
    return len(_labelled_arns(_lines(root))) == 1


def _field(lines: list[str], key: str) -> str | None:
    pattern = _FIELDS[key]
    for line in lines:
        if m := pattern.search(line):
            return m[1].strip()
    return None


def _name(h1_text: str, arn: str | None) -> str:
    """The h1 when it is a policy name, else the ARN's last segment, else whatever the h1 says."""
    if _POLICY_NAME.match(h1_text):
        return h1_text
    if arn:
        return arn.rsplit("/", 1)[-1]
    return h1_text


def parse_reference_page(soup: BeautifulSoup, url: str | None) -> Page:
    root = content_root(soup)
    warnings: list[ParseWarning] = []
    h1 = root.find("h1")
    h1_text = block_text(h1) if isinstance(h1, Tag) else ""
    lines = _lines(root)
    labelled = _labelled_arns(lines)
    anywhere = _ARN.search(" ".join(lines))
    arn = labelled[0] if labelled else (anywhere[0] if anywhere else None)
    name = _name(h1_text, arn)
    title = h1_text or name
    if not name:
        warnings.append(ParseWarning("no_policy_sections", "reference page without a policy name (no h1, no ARN)"))
        return Page(kind=Kind.REFERENCE_PAGE, url=url, title=title, warnings=tuple(warnings))
    content = SectionContent(
        json_blocks=[t for t in (code_text(pre) for pre in root.find_all("pre")) if looks_like_json(t)],
        links=[],
        description=_field(lines, "description") or "",
    )
    anchor = attr(h1, "id") if isinstance(h1, Tag) else None
    policy = build_policy(name, anchor, content, warnings)
    policy = replace(
        policy,
        arn=arn,
        version=_field(lines, "version"),
        created=_field(lines, "created"),
        edited=_field(lines, "edited"),
    )
    missing = [
        label
        for label, value in (
            ("ARN", policy.arn),
            ("policy version", policy.version),
            ("creation time", policy.created),
            ("edited time", policy.edited),
        )
        if value is None
    ]
    if missing:
        what = ", ".join(missing)
        warnings.append(ParseWarning("incomplete_reference", f"{name}: the reference page shows no {what}", name))
    return Page(kind=Kind.REFERENCE_PAGE, url=url, title=title, policies=(policy,), warnings=tuple(warnings))
