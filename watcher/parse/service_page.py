"""Service pages ("AWS managed policies for <Service>"): current and legacy layout, and rendered markdown."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, Tag

from watcher.model import Kind, Page, ParseWarning, Policy, UpdateRow
from watcher.parse.documents import build_policy
from watcher.parse.markup import block_text, content_root
from watcher.parse.mentions import ActionQualifier, PolicyNameFinder
from watcher.parse.sections import (
    Section,
    description,
    group,
    group_tables,
    has_document,
    own_content,
    policy_name,
    split_sections,
)
from watcher.parse.updates import UPDATES_HEADING, is_updates_table, parse_updates_table

_SERVICE = re.compile(r"managed\s+policies\s+for\s+(?P<service>.+)$", re.IGNORECASE)
_RSS_META = re.compile(r"""<meta\s+name=["']rss["']\s+content=["']([^"']+)["']""", re.IGNORECASE)


def page_title(root: Tag, soup: BeautifulSoup) -> str:
    h1 = root.find("h1")
    if isinstance(h1, Tag):
        return block_text(h1)
    title = soup.find("title")
    return block_text(title) if isinstance(title, Tag) else ""


def feed_link(html: str) -> str | None:
    m = _RSS_META.search(html)
    return m[1] if m else None


def _policy_sections(sections: list[Section]) -> list[tuple[int, str]]:
    """(section index, policy name) for every policy heading, in page order.

    A bare name is a policy when its section holds a document, unless it sits inside a policy section
    (then it is a subsection: "CloudWatchLogs" under "AWS managed policy: X"). Its section ends at a
    prefixed heading or at a bare one holding a document itself ("ManagedPolicies" over bare h3 policies).
    """
    headings = [i for i, s in enumerate(sections) if s.level > 1 and not UPDATES_HEADING.search(s.text)]
    named = {i: policy_name(sections[i].text) for i in headings}
    boundaries = {
        i for i, (name, certain) in named.items() if name and (certain or has_document(own_content(sections[i])))
    }
    found: list[tuple[int, str]] = []
    open_levels: list[int] = []
    for i, section in enumerate(sections):
        while open_levels and open_levels[-1] >= section.level:
            open_levels.pop()
        name, certain = named.get(i, (None, False))
        if name and (certain or (not open_levels and has_document(group(sections, i, boundaries)))):
            found.append((i, name))
            open_levels.append(section.level)
    return found


def _policies(sections: list[Section], warnings: list[ParseWarning]) -> list[Policy]:
    found = _policy_sections(sections)
    boundaries = {i for i, _ in found}
    policies: list[Policy] = []
    anchors: dict[str, str] = {}
    for i, name in found:
        content = group(sections, i, boundaries)
        content.description = description(sections[i].heading)
        anchor = sections[i].anchor
        if anchor and anchor in anchors:
            msg = f"{name} shares its heading id {anchor!r} with {anchors[anchor]}"
            warnings.append(ParseWarning("duplicate_anchor", msg, name))
        elif anchor:
            anchors[anchor] = name
        policies.append(build_policy(name, anchor, content, warnings))
    return policies


def _updates(
    sections: list[Section], root: Tag, policies: list[Policy], warnings: list[ParseWarning]
) -> list[UpdateRow]:
    finder = PolicyNameFinder(p.name for p in policies)
    qualifier = ActionQualifier(a for p in policies if p.actions for a in p.actions.allow + p.actions.deny)
    table, anchor = _updates_table(sections, root)
    return [] if table is None else parse_updates_table(table, finder, qualifier, anchor, warnings)


def _updates_table(sections: list[Section], root: Tag) -> tuple[Tag | None, str | None]:
    """A table with a Change/Date header under an updates heading, else anywhere, else the first under the heading."""
    under: list[tuple[Tag, str | None]] = []
    for i, section in enumerate(sections):
        if UPDATES_HEADING.search(section.text):
            under.extend((table, section.anchor) for table in group_tables(sections, i))
    found = next((pair for pair in under if is_updates_table(pair[0])), None)
    if found is None:
        found = next(((table, None) for table in root.find_all("table") if is_updates_table(table)), None)
    return found or (under[0] if under else (None, None))


def parse_service_page(soup: BeautifulSoup, html: str, url: str | None, kind: Kind) -> Page:
    root = content_root(soup)
    warnings: list[ParseWarning] = []
    sections = split_sections(root)
    title = page_title(root, soup)
    policies = _policies(sections, warnings)
    if not policies:
        warnings.append(
            ParseWarning(
                "no_policy_sections",
                "no policy sections found: the page may list its policies as list items or link to one page per policy",
            )
        )
    updates = _updates(sections, root, policies, warnings)
    if not updates:
        warnings.append(ParseWarning("no_updates_table", "no updates table found"))
    m = _SERVICE.search(title)
    return Page(
        kind=kind,
        url=url,
        title=title,
        service=m["service"].strip() if m else None,
        policies=tuple(policies),
        updates=tuple(updates),
        warnings=tuple(warnings),
        feed_url=feed_link(html),
    )
