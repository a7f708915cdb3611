"""The markdown source of a service page, as published in the awsdocs repositories.

It is rendered to HTML with markdown-it (tables on, inline HTML on, so ``<a name>`` anchors survive)
and read by the same code as the HTML page, so both give the same policies.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

from bs4 import BeautifulSoup

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

_HEADING = re.compile(r"^#{1,6}\s+\S", re.MULTILINE)


def looks_like_markdown(text: str) -> bool:
    head = text.lstrip()[:1]
    return head != "<" and _HEADING.search(text) is not None


@functools.cache
def _renderer() -> MarkdownIt:
    from markdown_it import MarkdownIt  # loaded with the first markdown body: pages are HTML

    return MarkdownIt("commonmark", {"html": True}).enable("table")


def render(text: str) -> BeautifulSoup:
    return BeautifulSoup(_renderer().render(text), "lxml", multi_valued_attributes=None)
