"""Turn the JSON blocks and links of one policy section into a ``Policy``.

Rules (from real pages): only blocks whose text starts with ``{`` count; trust policies (every
statement has a Principal) and JSON that is no policy (no ``Statement``) are skipped; the first
remaining block is the document. No block but a link to the AWS Managed Policy Reference or the IAM
console: ``no_document`` with the link kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from watcher.canonical import actions_of, canonical_policy, is_trust_policy
from watcher.model import ParseWarning, Policy, PolicyStatus
from watcher.parse.policy_json import ParsedJson, read_policy_json

_DOC_LINK = re.compile(r"/aws-managed-policy/latest/reference/|console\.aws\.amazon\.com/iam", re.IGNORECASE)
# Quotes as published, typographic ones included: a block typed with smart quotes is unparseable, not absent.
_QUOTE = '["\u201c\u201d]'
_STATEMENT_HINT = re.compile(rf"{_QUOTE}Statement{_QUOTE}")
_TRUST_HINT = re.compile(rf"{_QUOTE}(?:Not)?Principal{_QUOTE}\s*:")


def is_document_link(href: str) -> bool:
    return bool(_DOC_LINK.search(href))


def looks_like_json(text: str) -> bool:
    return text.lstrip().startswith("{")


@dataclass
class SectionContent:
    """What a policy section holds, gathered by a layout-specific walker."""

    json_blocks: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    description: str = ""


def _candidate(text: str, parsed: ParsedJson) -> bool:
    """Is this block a permissions policy (not a trust policy, not some other JSON)?"""
    if parsed.value is None:
        return bool(_STATEMENT_HINT.search(text)) and not _TRUST_HINT.search(text)
    return "Statement" in parsed.value and not is_trust_policy(parsed.value)


def is_permissions_policy(text: str) -> bool:
    """Could this JSON block be a section's document (a permissions policy, readable or not)?"""
    return _candidate(text, read_policy_json(text))


def build_policy(name: str, anchor: str | None, content: SectionContent, warnings: list[ParseWarning]) -> Policy:
    link = next((h for h in content.links if is_document_link(h)), None)
    chosen: tuple[int, str, ParsedJson] | None = None
    for index, text in enumerate(content.json_blocks):
        parsed = read_policy_json(text)
        if _candidate(text, parsed):
            chosen = (index, text, parsed)
            break
    base = Policy(
        name=name,
        anchor=anchor,
        description=content.description,
        status=PolicyStatus.NO_DOCUMENT,
        document_link=link,
        json_blocks=len(content.json_blocks),
    )
    if chosen is None:
        warnings.append(ParseWarning("no_document", f"{name}: no policy JSON on the page", name))
        return base
    index, text, parsed = chosen
    if parsed.value is None:
        warnings.append(ParseWarning("unparseable_json", f"{name}: policy JSON could not be read", name))
        return replace(
            base, status=PolicyStatus.UNPARSEABLE, defects=parsed.defects, raw_json=text,
            document_block_index=index,
        )  # fmt: skip
    document = canonical_policy(parsed.value)
    status = PolicyStatus.OK if parsed.strict and not parsed.defects else PolicyStatus.REPAIRED
    if status is PolicyStatus.REPAIRED:
        what = ", ".join(parsed.defects)
        warnings.append(ParseWarning("repaired_json", f"{name}: malformed JSON repaired ({what})", name))
    return replace(
        base, status=status, defects=parsed.defects, raw_json=text, document=document,
        actions=actions_of(document), document_block_index=index,
    )  # fmt: skip
