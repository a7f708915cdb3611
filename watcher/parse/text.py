"""Small pure helpers for turning markup into comparable text."""

from __future__ import annotations

import re

_WS = re.compile(r"\s+")


def squash(text: str) -> str:
    """Collapse every whitespace run (including non-breaking spaces) to one space and trim."""
    return _WS.sub(" ", text.replace("\u00a0", " ")).strip()
