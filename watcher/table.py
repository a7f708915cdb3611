"""``watcher parse --format table``: a readable summary for a person (rich).

Nothing is ever cut off with an ellipsis: policy names keep their full width, long cells fold.
Defects show in the warnings printed below the tables. Page text goes in as ``Text``, never as rich
markup: a ``[/x]`` or ``[bold]`` in a page is printed as written, not interpreted (or raised on).
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from watcher.model import Feed, Kind, Page, Parsed


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _table(title: str) -> Table:
    return Table(title=Text(title), title_justify="left")


def _page_tables(page: Page) -> list[Table]:
    policies = _table(f"{page.title} — {_count(len(page.policies), 'policy', 'policies')}")
    # a policy name is what a person looks for: never cut it, let the other columns give way
    policies.add_column("policy", no_wrap=True, min_width=max((len(p.name) for p in page.policies), default=6))
    for column in ("status", "allow", "deny", "not"):
        policies.add_column(column, no_wrap=True)
    links = any(p.document_link for p in page.policies)
    if links:
        policies.add_column("document link", overflow="fold")
    for p in page.policies:
        a = p.actions
        counts = ("?", "?", "?") if a is None else (str(len(a.allow)), str(len(a.deny)), str(len(a.not_actions)))
        link = [Text(p.document_link or "")] if links else []
        policies.add_row(Text(p.name), p.status.value, *counts, *link)
    updates = _table(f"updates table — {_count(len(page.updates), 'row', 'rows')}")
    updates.add_column("date", no_wrap=True)
    updates.add_column("change", overflow="fold")
    updates.add_column("actions", overflow="fold")
    for u in page.updates:
        updates.add_row(Text(u.date or f"? ({u.date_raw})"), Text(u.change), Text("\n".join(u.actions)))
    if page.kind is Kind.REFERENCE_PAGE and not page.updates:
        return [policies]  # one policy per page, never an updates table
    return [policies, updates]


def _feed_table(feed: Feed) -> Table:
    table = _table(f"{feed.title} — {_count(len(feed.items), 'item', 'items')}")
    table.add_column("published", no_wrap=True)
    table.add_column("title", overflow="fold")
    table.add_column("guid", overflow="fold")
    for item in feed.items:
        table.add_row(item.published or "?", Text(item.title), Text(item.guid))
    return table


def print_table(parsed: Parsed, console: Console | None = None) -> None:
    console = console or Console()
    tables = [_feed_table(parsed)] if isinstance(parsed, Feed) else _page_tables(parsed)
    for table in tables:
        console.print(table)
    if isinstance(parsed, Page) and parsed.kind is Kind.REFERENCE_PAGE:
        for p in parsed.policies:
            fields = (("arn", p.arn), ("version", p.version), ("created", p.created), ("edited", p.edited))
            console.print(Text("  ".join(f"{label} {value or '?'}" for label, value in fields)), soft_wrap=True)
    for w in parsed.warnings:
        console.print(Text.assemble(("warning", "yellow"), f" {w.code}: {w.message}"))
    console.print(Text(f"content hash {parsed.content_hash}"))
