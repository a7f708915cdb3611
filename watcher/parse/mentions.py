"""Find the action names (``service:Action``) and policy names that a piece of prose mentions."""

from __future__ import annotations

import re
from collections.abc import Iterable

# The action part may hold wildcards anywhere: ``s3:*``, ``ec2:Describe*``, ``s3:Get*Tagging``, ``iam:Get?Role``.
_ACTION = re.compile(
    r"(?<![\w:/.-])([a-z][a-z0-9-]*):((?:\*|[A-Za-z])[A-Za-z0-9]*(?:[*?][A-Za-z0-9]+)*\*?)(?![\w:/*-])"
)
# URL schemes, ARNs, and "aws", the prefix of global condition keys (aws:SourceAccount), never of an action.
_NOT_SERVICES = frozenset({"arn", "aws", "http", "https", "mailto", "ftp", "file", "urn"})
_NAMED_POLICY = re.compile(r"\bAWS\s+managed\s+policy\s*:\s*([A-Za-z][\w+=,.@-]*[\w])", re.IGNORECASE)
_NAME_CHARS = r"[\w+=,.@-]"


def mentioned_actions(text: str) -> tuple[str, ...]:
    """``service:Action`` names in ``text``, sorted and unique (URLs and ARNs excluded)."""
    found = {f"{m[1]}:{m[2]}" for m in _ACTION.finditer(text) if m[1] not in _NOT_SERVICES}
    return tuple(sorted(found))


_BARE_ACTION = re.compile(r"^[A-Z][a-z]+(?:[A-Z0-9][A-Za-z0-9]*)+$")


class ActionQualifier:
    """Qualifies bare action names (``GetMediaAnalysisJob`` in a ``code`` element) as ``service:Action``.

    The prefix comes from an action of that name on the page; failing that, from the page's most
    common service prefix. With no actions on the page, bare names are left out.
    """

    def __init__(self, page_actions: Iterable[str]) -> None:
        self._by_name: dict[str, str] = {}
        counts: dict[str, int] = {}
        for action in page_actions:
            prefix, _, name = action.partition(":")
            if name and "*" not in name:
                self._by_name.setdefault(name.lower(), action)
            counts[prefix] = counts.get(prefix, 0) + 1
        self._prefix = max(sorted(counts), key=lambda k: counts[k]) if counts else None

    def qualify(self, bare: Iterable[str], policy_names: Iterable[str] = ()) -> tuple[str, ...]:
        skip = {n.lower() for n in policy_names}
        out: set[str] = set()
        for word in bare:
            if not _BARE_ACTION.match(word) or word.lower() in skip:
                continue
            known = self._by_name.get(word.lower())
            if known:
                out.add(known)
            elif self._prefix:
                out.add(f"{self._prefix}:{word}")
        return tuple(sorted(out))


class PolicyNameFinder:
    """Finds known policy names (whole words) and ``... managed policy: Name`` mentions."""

    def __init__(self, known: Iterable[str]) -> None:
        names = sorted(set(known), key=len, reverse=True)
        alternatives = "|".join(re.escape(n) for n in names)
        # A comma after a name ends it: "the AmazonXFullAccess, AmazonXReadOnlyAccess and ... policies".
        self._known = re.compile(rf"(?<!{_NAME_CHARS})(?:{alternatives})(?![\w+=@-])") if names else None

    def find(self, text: str) -> tuple[str, ...]:
        found = {m[1] for m in _NAMED_POLICY.finditer(text)}
        if self._known is not None:
            found.update(m[0] for m in self._known.finditer(text))
        return tuple(sorted(found))
