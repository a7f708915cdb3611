"""The "<Service> updates to AWS managed policies" table (Change | Description | Date)."""

from __future__ import annotations

import re

from bs4 import Tag

from watcher.model import ParseWarning, UpdateRow
from watcher.parse.dates import parse_date
from watcher.parse.markup import block_text
from watcher.parse.mentions import ActionQualifier, PolicyNameFinder, mentioned_actions

UPDATES_HEADING = re.compile(r"updates\s+to\s+(?:aws\s+)?managed\s+polic", re.IGNORECASE)


def _rows(table: Tag) -> list[Tag]:
    """Rows of this table, not of tables nested in its cells: a walk that does not enter nested tables (``find_all``
    and ``find_parent`` for each row took 3x as long)."""
    rows: list[Tag] = []
    _collect_rows(table, rows)
    return rows


def _collect_rows(element: Tag, rows: list[Tag]) -> None:
    for child in element.children:
        if isinstance(child, Tag) and child.name != "table":
            if child.name == "tr":
                rows.append(child)
            _collect_rows(child, rows)


def _codes(cell: Tag) -> list[Tag]:
    """The ``code`` elements in ``cell``, in document order."""
    return [d for d in cell.descendants if isinstance(d, Tag) and d.name == "code"]


def _cells(row: Tag) -> list[Tag]:
    """The row's own cells (a loop over its children: bs4's ``find_all`` builds a filter per call, 5x slower here)."""
    return [c for c in row.children if isinstance(c, Tag) and c.name in ("td", "th")]


def _cell(texts: list[str], index: int) -> str | None:
    return texts[index] if index < len(texts) else None


def header_columns(row: Tag) -> dict[str, int] | None:
    """Column index of change/description/date if ``row`` is a header row, else ``None``."""
    names = [block_text(c).lower() for c in _cells(row)]
    if "change" in names and "date" in names:
        return {key: names.index(key) for key in ("change", "description", "date") if key in names}
    return None


def is_updates_table(table: Tag) -> bool:
    rows = _rows(table)
    return bool(rows) and header_columns(rows[0]) is not None


def parse_updates_table(
    table: Tag,
    finder: PolicyNameFinder,
    qualifier: ActionQualifier,
    anchor: str | None,
    warnings: list[ParseWarning],
) -> list[UpdateRow]:
    """Every row after the header row; extra empty header cells and rows in ``<thead>`` are fine."""
    rows = _rows(table)
    columns: dict[str, int] = {"change": 0, "description": 1, "date": 2}
    out: list[UpdateRow] = []
    for row in rows:
        cells = _cells(row)
        found = header_columns(row)
        if found is not None:
            columns = {**columns, **found}
            continue
        texts = [block_text(c) for c in cells]
        if not any(texts):
            continue

        change = _cell(texts, columns["change"]) or ""
        description = _cell(texts, columns["description"]) or ""
        date_raw = _cell(texts, columns["date"])
        date = parse_date(date_raw) if date_raw else None
        if date is None:
            warnings.append(ParseWarning("update_without_date", f"updates row without a date: {change[:60]}"))
        prose = f"{change} {description}"
        policies = finder.find(prose)
        bare = [block_text(code) for c in cells for code in _codes(c)]
        actions = set(mentioned_actions(prose)) | set(qualifier.qualify(bare, policies))
        out.append(
            UpdateRow(
                change=change,
                description=description,
                date=date,
                date_raw=date_raw or None,
                actions=tuple(sorted(actions)),
                policies=policies,
                anchor=anchor,
            )
        )
    return out
