"""Read a policy document as AWS publishes it, repairing only what can be repaired without guessing.

AWS pages really publish missing commas (between strings and between statement objects), trailing
commas and commas typed inside a string (``"s3:GetObject,"``). Those are repaired and named in
``defects``; anything else leaves the text unparseable, raw text kept. Unicode whitespace between
tokens (a ``&nbsp;`` in the page's code block) is whitespace, not a defect. ``NaN``/``Infinity`` are
not JSON; a document nested deeper than any policy (``_MAX_DEPTH``) or spelling a lone surrogate
(``"\\ud800"``, which is no text: it could be neither stored nor printed as UTF-8) is not read at all.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>"(?:[^"\\]|\\.)*")
      | (?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
      | (?P<lit>true|false|null)
      | (?P<punct>[{}\[\]:,])
    )""",
    re.VERBOSE | re.DOTALL,
)
_VALUE_START = {"str", "num", "lit", "{", "["}
_VALUE_END = {"str", "num", "lit", "}", "]"}
_ACTION = re.compile(r"^[A-Za-z0-9-]+:[A-Za-z0-9*?]+$")
_SURROGATE = re.compile("[\ud800-\udfff]")
_MAX_DEPTH = 32
"""Real policies nest about six deep (Statement, statement, Condition, operator, key, values)."""


@dataclass(frozen=True)
class ParsedJson:
    """The outcome of reading one JSON block: a value (or ``None``) and the defects repaired."""

    value: Any
    strict: bool
    defects: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.value is not None


def _tokens(text: str) -> list[tuple[str, str]] | None:
    """Split ``text`` into (type, text) tokens; ``None`` if anything is not JSON-shaped."""
    out: list[tuple[str, str]] = []
    pos, end = 0, len(text.rstrip())
    while pos < end:
        m = _TOKEN.match(text, pos)
        if m is None:
            return None
        kind = m.lastgroup or ""
        value = m.group(kind)
        out.append((value if kind == "punct" else kind, value))
        pos = m.end()
    return out


def _repair_tokens(tokens: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    parts: list[str] = []
    defects: list[str] = []
    prev: str | None = None
    for i, (kind, value) in enumerate(tokens):
        nxt = tokens[i + 1][0] if i + 1 < len(tokens) else None
        if kind == "," and nxt in ("}", "]"):
            defects.append("trailing_comma")
            continue
        if kind == "," and prev == ",":
            defects.append("double_comma")
            continue
        if prev in _VALUE_END and kind in _VALUE_START:
            inner = parts[-1][1:-1].rstrip()
            if prev == "str" and inner.endswith(","):
                parts[-1] = '"' + inner[:-1].rstrip() + '"'
                defects.append("comma_inside_string")
            else:
                defects.append("missing_comma")
            parts.append(",")
        parts.append(value)
        prev = kind
    return parts, defects


def _fix_actions_with_commas(doc: Any, defects: list[str]) -> None:
    """``"Action": ["s3:GetObject,"]`` is valid JSON but not a valid action: split on the comma."""
    statements = doc.get("Statement") if isinstance(doc, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        return
    for st in statements:
        if not isinstance(st, dict):
            continue
        for key in ("Action", "NotAction"):
            values = st.get(key)
            items = [values] if isinstance(values, str) else values
            if not isinstance(items, list) or not any(isinstance(v, str) and "," in v for v in items):
                continue
            fixed: list[Any] = []
            for v in items:
                pieces = [p.strip() for p in v.split(",")] if isinstance(v, str) and "," in v else [v]
                pieces = [p for p in pieces if p != ""]
                fixed.extend(pieces)
            if not all(isinstance(p, str) and _ACTION.match(p) for p in fixed):
                continue  # not a comma we understand: leave this list as published
            st[key] = fixed
            defects.append("comma_inside_string")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _loads(text: str) -> Any:
    """``json.loads`` that rejects ``NaN``/``Infinity`` and raises only ``ValueError``."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError as exc:
        raise ValueError("nested too deeply") from exc


def _unreadable(value: Any) -> bool:
    """Nested deeper than any policy, or holding a lone surrogate (``"\\ud800"``: no text, no IAM policy)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict | list):
            if depth > _MAX_DEPTH:
                return True
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


def read_policy_json(text: str) -> ParsedJson:
    """Parse ``text`` strictly, else repair known AWS defects, else give up (``value`` is ``None``)."""
    defects: list[str] = []
    try:
        value = _loads(text)
        strict = True
    except ValueError:
        tokens = _tokens(text)
        if not tokens:
            return ParsedJson(None, strict=False, defects=("invalid_json",))
        parts, defects = _repair_tokens(tokens)
        try:
            value = _loads("".join(parts))
        except ValueError:
            return ParsedJson(None, strict=False, defects=("invalid_json",))
        # Nothing repaired: the text differed from JSON only in (Unicode) whitespace between tokens.
        strict = not defects
    if _unreadable(value):
        return ParsedJson(None, strict=False, defects=("invalid_json",))
    if not isinstance(value, dict):
        return ParsedJson(None, strict=strict, defects=("not_an_object",))
    _fix_actions_with_commas(value, defects)
    return ParsedJson(value, strict=strict, defects=tuple(dict.fromkeys(defects)))
