"""Which AWS Managed Policy Reference pages a service page sends its readers to (pure, no I/O).

A policy section that links to ``…/aws-managed-policy/latest/reference/<Name>.html`` instead of embedding its
JSON (status ``no_document``) is followed: the checker checks that reference page as a *derived source* of the
page, named ``<page source>/<Policy>``. IAM console links need a login and are never followed; neither is a
link whose path is not a reference page, nor one that is not http(s).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

from watcher.model import Page, PolicyStatus

REFERENCE_PATH = re.compile(r"^/(?:[a-z]{2}_[a-z]{2}/)?aws-managed-policy/latest/reference/[\w+=,.@-]+\.html$", re.I)
"""``/aws-managed-policy/latest/reference/<Name>.html``, optionally under a locale (``/de_de/…``)."""
_HINT = b"aws-managed-policy/latest/reference/"
"""Every followable link contains this (in any case), relative or absolute: a body without it is not parsed at all.
Found with ``bytes.lower().find``: a case-insensitive regex takes 13 times as long on a 80 KB page."""
MAX_NAME = 200
"""Longest source name the database holds."""


@dataclass(frozen=True)
class Reference:
    """A policy of a page and the reference page that holds its document."""

    policy: str
    url: str


@dataclass(frozen=True)
class Found:
    """What one body of a page links to; ``service`` is the service its title names (for the derived sources)."""

    references: tuple[Reference, ...] = ()
    service: str | None = None


def derived_prefix(page_source: str) -> str:
    return f"{page_source}/"


def derived_name(page_source: str, policy: str) -> str:
    return derived_prefix(page_source) + policy


def reference_url(href: str, base: str | None) -> str | None:
    """The absolute URL of a link to a reference page (query and fragment dropped), or ``None``."""
    absolute = urljoin(base, href.strip()) if base else href.strip()
    parts = urlsplit(absolute)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or not REFERENCE_PATH.match(parts.path):
        return None
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, "", ""))


def references(page: Page, page_source: str, base_url: str | None) -> tuple[Reference, ...]:
    """The reference pages to follow from ``page``, in page order, one per policy name.

    Only policies without a document on the page count; a name too long for a source name is left out.
    """
    out: dict[str, Reference] = {}
    for policy in page.policies:
        if policy.status is not PolicyStatus.NO_DOCUMENT or not policy.document_link or policy.name in out:
            continue
        url = reference_url(policy.document_link, base_url)
        if url is not None and len(derived_name(page_source, policy.name)) <= MAX_NAME:
            out[policy.name] = Reference(policy.name, url)
    return tuple(out.values())


def read_references(body: bytes, page_source: str, url: str) -> Found:
    """``references`` of a fetched body; a body that cannot link to a reference page is not parsed."""
    if body.lower().find(_HINT) == -1:
        return Found()
    from watcher.parse import parse  # bs4 and lxml load with the first body to parse, not at start

    parsed = parse(body, url if "://" in url else None)
    if not isinstance(parsed, Page):
        return Found()
    return Found(references(parsed, page_source, url), parsed.service)
