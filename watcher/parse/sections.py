"""Split a page's content column into heading sections and decide which are policy sections.

A policy heading is ``<Prefix> managed policy: Name`` (any prefix), or a bare ``Name`` (in ``code``
or ``b`` too; CamelCase, never an all-caps word like ``JSON``) whose section holds a permissions
policy (not only a trust policy) or a link to one. A trailing parenthetical (``Name_v2 (recommended)``)
is not part of the name. A section runs to the next heading of the same or a higher level, or to the
next policy heading; h3 subsections belong to their h2, bare-looking ones too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bs4 import Tag

from watcher.parse.documents import SectionContent, is_document_link, is_permissions_policy, looks_like_json
from watcher.parse.markup import attr, block_text, code_text

HEADING_TAGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_WALKED = frozenset([*HEADING_TAGS, "pre", "a", "table"])
_PREFIXED = re.compile(r"^.*?\bmanaged\s+policy\s*[:\-\u2013\u2014]\s*(?P<name>[A-Za-z][\w+=,.@-]*)", re.I)
_BARE = re.compile(r"^[A-Za-z][\w+=,.@-]*$")
_PARENTHETICAL = re.compile(r"\s*\([^()]*\)\s*$")
_STOP_DESCRIPTION = re.compile(r"^permissions? details$|^this policy (?:includes|grants) the following", re.I)


@dataclass
class Section:
    heading: Tag
    level: int
    text: str
    anchor: str | None
    json_blocks: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    tables: list[Tag] = field(default_factory=list)


def heading_anchor(heading: Tag) -> str | None:
    anchor = attr(heading, "id")
    if anchor:
        return anchor
    for inner in heading.find_all(True):
        found = attr(inner, "id") or (attr(inner, "name") if inner.name == "a" else None)
        if found:
            return found
    return None


def split_sections(root: Tag) -> list[Section]:
    """One ``Section`` per heading, holding what stands between it and the next heading."""
    sections: list[Section] = []
    for element in root.descendants:
        if not isinstance(element, Tag) or element.name not in _WALKED:
            continue
        name = element.name
        if name in HEADING_TAGS:
            text = block_text(element)
            sections.append(Section(element, int(name[1]), text, heading_anchor(element)))
        elif not sections:
            continue
        elif name == "pre":
            text = code_text(element)
            if looks_like_json(text):
                sections[-1].json_blocks.append(text)
        elif name == "a":
            href = attr(element, "href")
            if href:
                sections[-1].links.append(href)
        else:
            sections[-1].tables.append(element)
    return sections


def policy_name(text: str) -> tuple[str | None, bool]:
    """(name, certain) for a heading text: certain for the prefixed form, not for a bare name."""
    text = _PARENTHETICAL.sub("", text)
    if m := _PREFIXED.match(text):
        return m["name"].rstrip(".,"), True
    if _BARE.match(text) and sum(c.isupper() for c in text) >= 2 and not text.isupper():
        return text, False
    return None, False


def own_content(section: Section) -> SectionContent:
    """What stands between the heading and the next heading of any level."""
    return SectionContent(json_blocks=list(section.json_blocks), links=list(section.links))


def group(sections: list[Section], index: int, boundaries: set[int]) -> SectionContent:
    """The content of ``sections[index]`` and its subsections."""
    own = sections[index]
    content = SectionContent(json_blocks=list(own.json_blocks), links=list(own.links))
    for j in range(index + 1, len(sections)):
        if sections[j].level <= own.level or j in boundaries:
            break
        content.json_blocks.extend(sections[j].json_blocks)
        content.links.extend(sections[j].links)
    return content


def group_tables(sections: list[Section], index: int) -> list[Tag]:
    own = sections[index]
    tables = list(own.tables)
    for later in sections[index + 1 :]:
        if later.level <= own.level:
            break
        tables.extend(later.tables)
    return tables


def _next_tag(node: Tag) -> Tag | None:
    return next((s for s in node.next_siblings if isinstance(s, Tag)), None)


def _title_block(heading: Tag) -> Tag:
    """The heading, or the ``div`` wrappers it ends (legacy: ``<div class="titlepage"><div><div><h2>``)."""
    node = heading
    parent = node.parent
    while _next_tag(node) is None and isinstance(parent, Tag) and parent.name == "div":
        if attr(parent, "id") == "main-col-body":
            break
        node, parent = parent, parent.parent
    return node


def description(heading: Tag) -> str:
    """The prose between a policy heading and its permissions details."""
    parts: list[str] = []
    for sibling in _title_block(heading).next_siblings:
        if not isinstance(sibling, Tag):
            continue
        if sibling.name != "p":
            break
        text = block_text(sibling)
        if _STOP_DESCRIPTION.match(text):
            break
        if text:
            parts.append(text)
    return " ".join(parts)


def has_document(content: SectionContent) -> bool:
    """A permissions policy (not a trust policy or an example fragment) or a link to one."""
    return any(is_permissions_policy(b) for b in content.json_blocks) or any(is_document_link(h) for h in content.links)
