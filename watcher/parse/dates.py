"""Dates as AWS writes them in updates tables: ``July 21st, 2022``, ``Sep 5, 2023``, ``2023-09-05``."""

from __future__ import annotations

import datetime as dt
import re

_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_ISO = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_SEP = r"(?:\s*,\s*|\s+)"  # "21, 2022", "21 , 2022", "21,2022", "21 2022"
_MONTH_DAY_YEAR = re.compile(rf"\b([A-Za-z]{{3,12}})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?{_SEP}(\d{{4}})\b")
_DAY_MONTH_YEAR = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+([A-Za-z]{{3,12}})\.?{_SEP}(\d{{4}})\b")


def _month(word: str) -> int | None:
    # Matching on the first three letters also reads AWS's real misspelling "Decemeber".
    return _MONTHS.get(word[:3].lower())


def _make(year: int, month: int | None, day: int) -> str | None:
    if month is None:
        return None
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return None


def parse_date(text: str) -> str | None:
    """Return the ISO date found in ``text``, or ``None`` when there is no valid date."""
    if m := _ISO.search(text):
        return _make(int(m[1]), int(m[2]), int(m[3]))
    if m := _MONTH_DAY_YEAR.search(text):
        return _make(int(m[3]), _month(m[1]), int(m[2]))
    if m := _DAY_MONTH_YEAR.search(text):
        return _make(int(m[3]), _month(m[2]), int(m[1]))
    return None
