"""``watcher parse --format table``: a readable summary for a person (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from watcher.model import Feed, Page, Parsed


def _page_tables(page: Page) -> list[Table]:
    policies = Table(title=f"{page.title} — {len(page.policies)} policies", title_justify="left")
    for column in ("policy", "status", "allow", "deny", "not", "defects / link"):
        policies.add_column(column)
    for p in page.policies:
        a = p.actions
        counts = ("?", "?", "?") if a is None else (str(len(a.allow)), str(len(a.deny)), str(len(a.not_actions)))
        extra = ", ".join(p.defects) or p.document_link or ""
        policies.add_row(p.name, p.status.value, *counts, extra)
    updates = Table(title=f"updates table — {len(page.updates)} rows", title_justify="left")
    for column in ("date", "change", "actions"):
        updates.add_column(column)
    for u in page.updates:
        updates.add_row(u.date or f"? ({u.date_raw})", u.change, ", ".join(u.actions))
    return [policies, updates]


def _feed_table(feed: Feed) -> Table:
    table = Table(title=f"{feed.title} — {len(feed.items)} items", title_justify="left")
    for column in ("published", "title", "guid"):
        table.add_column(column)
    for item in feed.items:
        table.add_row(item.published or "?", item.title, item.guid)
    return table


def print_table(parsed: Parsed, console: Console | None = None) -> None:
    console = console or Console()
    tables = [_feed_table(parsed)] if isinstance(parsed, Feed) else _page_tables(parsed)
    for table in tables:
        console.print(table)
    for w in parsed.warnings:
        console.print(f"[yellow]warning[/yellow] {w.code}: {w.message}")
    console.print(f"content hash {parsed.content_hash}")
