"""Page builders for the parser variant tests (tests/test_variants_*.py): small pages in the real AWS markup.

Each variant test builds a page with these helpers (current awsui layout unless a test says legacy), parses it
with ``watcher.parse.parse`` and asserts exact values.
"""

from __future__ import annotations

import html
import json
from typing import Any

from watcher.model import Page, Policy, UpdateRow
from watcher.parse import parse

TITLE = "AWS managed policies for Amazon Example"
UPDATES_TITLE = "Amazon Example updates to AWS managed policies"
REFERENCE_LINK = "https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonS3FullAccess.html"
CONSOLE_LINK = "https://console.aws.amazon.com/iam/home#/policies/arn:aws:iam::aws:policy/AmazonS3FullAccess$jsonEditor"

READ_ONLY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["example:ListThings", "example:GetThing"], "Resource": "*"}],
}
TRUST: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "example.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
EXAMPLE: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::*:role/Example*"}],
}
READ_ONLY_ALLOW = ("example:GetThing", "example:ListThings")


# --- page builders (markup copied from tests/fixtures/rekognition/page-v1.html) -----------------


def page(body: str, title: str = TITLE) -> Page:
    markup = f'<html><body><div id="main-col-body"><h1 class="topictitle">{title}</h1>{body}</div></body></html>'
    parsed = parse(markup.encode("utf-8"))
    assert isinstance(parsed, Page)
    return parsed


def json_text(document: dict[str, Any] | str) -> str:
    return document if isinstance(document, str) else json.dumps(document, indent=4)


def json_block(document: dict[str, Any] | str) -> str:
    """A policy code block in its JSON tab; AWS wraps every ``{`` in a span."""
    code = html.escape(json_text(document), quote=False).replace("{", "<span>{</span>")
    return (
        '<awsdocs-tabs><dl style="display: none">\n      <dt>JSON</dt><dd tab-id="json">'
        '<pre class="programlisting"><div class="code-btn-container"><div class="btn-copy-code" title="Copy">'
        '<awsui-icon name="copy"></awsui-icon></div></div><!--DEBUG: cli (json)-->'
        f'<code class="json ">{code}</code></pre></dd>\n    </dl></awsdocs-tabs>'
    )


def shell_block(command: str) -> str:
    return (
        '<pre class="programlisting"><div class="code-btn-container"><div class="btn-copy-code" title="Copy">'
        '<awsui-icon name="copy"></awsui-icon></div></div><!--DEBUG: cli (bash)-->'
        f'<code class="bash ">{html.escape(command, quote=False)}</code></pre>'
    )


def heading(inner: str, anchor: str | None = "security-iam-awsmanpol-Example", level: int = 2) -> str:
    id_attr = f' id="{anchor}"' if anchor else ""
    return f"<h{level}{id_attr}>{inner}</h{level}>"


def section(inner: str, *blocks: str, anchor: str | None = "security-iam-awsmanpol-Example", level: int = 2) -> str:
    """A policy section: heading, description, "Permissions details", then the blocks."""
    return (
        heading(inner, anchor, level)
        + "<p>This policy grants access to Amazon Example resources.</p>"
        + "<p><b>Permissions details</b></p><p>This policy includes the following permissions.</p>"
        + "".join(blocks)
    )


def table(rows: list[tuple[str, ...]], header: str | None = None, legacy: bool = False) -> str:
    """An updates table: current layout (6 ``th`` in ``thead``, rows straight in ``table``) or legacy."""
    cells = "".join("<tr>" + "".join(f'<td tabindex="-1">{c}</td>' for c in row) + "</tr>" for row in rows)
    if legacy:
        head = header or "<tr><th>Change</th><th>Description</th><th>Date</th></tr>"
        return (
            '<div class="table"><p class="title"><b></b></p><div class="table-contents">'
            f'<table id="w331aac38c46b9">{head}{cells}</table></div></div>'
        )
    head = (
        header or "<thead><tr><th>Change</th><th>Description</th><th>Date</th><th></th><th></th><th></th></tr></thead>"
    )
    wrap = '<div class="table-container"><div class="table-contents">'
    return f'{wrap}<table id="w2aab7c55b7">{head}{cells}</table></div></div>'


def updates(rows: list[tuple[str, ...]], legacy: bool = False) -> str:
    return (
        f'<h2 id="security-iam-awsmanpol-updates">{UPDATES_TITLE}</h2>'
        "<p>View details about updates to AWS managed policies for Amazon Example since this service began "
        "tracking these changes.</p>" + table(rows, legacy=legacy)
    )


def only(parsed: Page) -> Policy:
    assert len(parsed.policies) == 1, [p.name for p in parsed.policies]
    return parsed.policies[0]


def codes(parsed: Page) -> list[str]:
    return [w.code for w in parsed.warnings]


def row_facts(row: UpdateRow) -> tuple[str, str, str | None, str | None]:
    return (row.change, row.description, row.date, row.date_raw)
