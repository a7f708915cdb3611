"""Parser variants: the updates table (finding it, its layouts, dates, and the actions and policies rows name)."""

from __future__ import annotations

import pytest

from tests.variant_helpers import (
    EXAMPLE,
    READ_ONLY,
    TITLE,
    UPDATES_TITLE,
    codes,
    json_block,
    page,
    row_facts,
    section,
    table,
    updates,
)

# --- the updates table ---------------------------------------------------------------------------

_TRACKING = ("Amazon Example started tracking changes", "Amazon Example started tracking changes.", " April 2, 2021 ")
_TRACKING_FACTS = (
    "Amazon Example started tracking changes",
    "Amazon Example started tracking changes.",
    "2021-04-02",
    "April 2, 2021",
)


def test_it_finds_the_updates_table_by_its_heading() -> None:
    other = table([("Not", "an updates", "table")], header="<tr><th>Name</th><th>Kind</th><th>Note</th></tr>")
    body = section("AWS managed policy: AmazonExampleFullAccess", json_block(READ_ONLY)) + updates([_TRACKING])
    parsed = page(other + body)
    assert [row_facts(u) for u in parsed.updates] == [_TRACKING_FACTS]
    assert parsed.updates[0].anchor == "security-iam-awsmanpol-updates"
    assert codes(parsed) == []


def test_it_finds_the_updates_table_by_its_header_row_when_there_is_no_heading() -> None:
    body = (
        section("AWS managed policy: AmazonExampleFullAccess", json_block(READ_ONLY))
        + table([("Other", "table", "here")], header="<tr><th>Name</th><th>Kind</th><th>Note</th></tr>")
        + '<h2 id="history">Policy history</h2>'
        + table([_TRACKING])
    )
    parsed = page(body)
    assert [(row_facts(u), u.anchor) for u in parsed.updates] == [(_TRACKING_FACTS, None)]


def test_it_reads_a_page_whose_h1_is_the_updates_heading() -> None:
    parsed = page("<p>View details about updates.</p>" + table([_TRACKING]), title=UPDATES_TITLE)
    assert (parsed.title, parsed.service) == (UPDATES_TITLE, None)
    assert [(row_facts(u), u.anchor) for u in parsed.updates] == [(_TRACKING_FACTS, None)]
    assert codes(parsed) == ["no_policy_sections"]


def test_the_table_under_the_updates_heading_wins_over_other_tables_there() -> None:
    body = (
        f'<h2 id="updates">{UPDATES_TITLE}</h2>'
        + table([("Not", "an updates", "table")], header="<tr><th>Term</th><th>Meaning</th><th>Note</th></tr>")
        + table([_TRACKING])
    )
    parsed = page(body)
    assert [(row_facts(u), u.anchor) for u in parsed.updates] == [(_TRACKING_FACTS, "updates")]


_HEAD_CELLS = "<th>Change</th><th>Description</th><th>Date</th>"
_ROW = "<td>Change A</td><td>Added <code>s3:GetObject</code>.</td><td>Sep 5, 2023</td>"
_ROW_FACTS = ("Change A", "Added s3:GetObject.", "2023-09-05", "Sep 5, 2023")


@pytest.mark.parametrize(
    "markup",
    [
        pytest.param(
            f"<table><thead><tr>{_HEAD_CELLS}<th></th><th></th><th></th></tr></thead><tr>{_ROW}</tr></table>",
            id="current-extra-empty-header-cells",
        ),
        pytest.param(
            f"<table><thead><tr>{_HEAD_CELLS}</tr><tr>{_ROW}</tr></thead></table>",
            id="rows-in-thead",
        ),
        pytest.param(f"<table><tr>{_HEAD_CELLS}</tr><tr>{_ROW}</tr></table>", id="legacy-no-thead"),
        pytest.param(
            f"<table><thead><tr>{_HEAD_CELLS}</tr></thead><tbody><tr>{_ROW}</tr></tbody></table>",
            id="tbody",
        ),
        pytest.param(
            f"<table><tr><td><b>Change</b></td><td><b>Description</b></td><td><b>Date</b></td></tr><tr>{_ROW}</tr></table>",
            id="header-in-td",
        ),
        pytest.param(
            "<table><tr><th>Date</th><th>Change</th><th>Description</th></tr>"
            "<tr><td>Sep 5, 2023</td><td>Change A</td><td>Added <code>s3:GetObject</code>.</td></tr></table>",
            id="columns-in-another-order",
        ),
        pytest.param(
            f"<table><tr>{_HEAD_CELLS}</tr><tr>{_ROW}</tr><tr><td></td><td> </td><td></td></tr></table>",
            id="empty-row",
        ),
    ],
)
def test_it_reads_every_updates_table_layout(markup: str) -> None:
    wrapped = f'<div class="table-container"><div class="table-contents">{markup}</div></div>'
    for body in (f'<h2 id="updates">{UPDATES_TITLE}</h2>' + wrapped, wrapped):
        parsed = page(body)
        assert [row_facts(u) for u in parsed.updates] == [_ROW_FACTS]
        assert parsed.updates[0].actions == ("s3:GetObject",)


def test_it_reads_the_legacy_table_layout() -> None:
    parsed = page(updates([_TRACKING], legacy=True))
    assert [row_facts(u) for u in parsed.updates] == [_TRACKING_FACTS]


@pytest.mark.parametrize(
    "row",
    [
        pytest.param(("Change A", "Description A"), id="missing-cell"),
        pytest.param(("Change A", "Description A", "   "), id="empty-cell"),
        pytest.param(("Change A", "Description A", "Soon"), id="no-date-in-cell"),
    ],
)
def test_a_row_without_a_date_has_none_and_warns(row: tuple[str, ...]) -> None:
    parsed = page(updates([row, _TRACKING]))
    first = parsed.updates[0]
    raw = row[2].strip() if len(row) > 2 and row[2].strip() else None
    assert row_facts(first) == ("Change A", "Description A", None, raw)
    assert [row_facts(u) for u in parsed.updates[1:]] == [_TRACKING_FACTS]
    assert codes(parsed).count("update_without_date") == 1


def test_cells_keep_list_items_and_links_as_text() -> None:
    change = (
        "<p>Actions have been added to the following managed policies:</p>"
        '<div class="itemizedlist">\n  <ul class="itemizedlist"><li class="listitem">\n'
        '<p><a href="#full">AWS managed policy: AmazonExampleFullAccess</a></p></li>'
        '<li class="listitem"><p><a href="#ro">AWS managed policy: AmazonExampleReadOnlyAccess</a></p></li></ul></div>'
    )
    description = (
        "<p>Amazon Example added the following actions:</p>"
        '<div class="itemizedlist"><ul class="itemizedlist">'
        '<li class="listitem"><p><code class="code">GetThing</code></p></li>'
        '<li class="listitem"><p><code class="code">DescribeThing</code></p></li></ul></div>'
        '<p>See <a href="https://docs.aws.amazon.com/example/latest/dg/things.html">Things</a>.</p>'
    )
    body = (
        section("AWS managed policy: AmazonExampleFullAccess", json_block(EXAMPLE), anchor="full")
        + section("AWS managed policy: AmazonExampleReadOnlyAccess", json_block(READ_ONLY), anchor="ro")
        + updates([(change, description, "\n  July 21st, 2022\n  ")])
    )
    row = page(body).updates[0]
    assert row_facts(row) == (
        "Actions have been added to the following managed policies: AWS managed policy: AmazonExampleFullAccess "
        "AWS managed policy: AmazonExampleReadOnlyAccess",
        "Amazon Example added the following actions: GetThing DescribeThing See Things.",
        "2022-07-21",
        "July 21st, 2022",
    )
    assert row.policies == ("AmazonExampleFullAccess", "AmazonExampleReadOnlyAccess")
    assert row.actions == ("example:DescribeThing", "example:GetThing")


@pytest.mark.parametrize(
    ("cell", "iso", "raw"),
    [
        ("July 21st, 2022", "2022-07-21", "July 21st, 2022"),
        ("Mar 30, 2022", "2022-03-30", "Mar 30, 2022"),
        ("Sep 5, 2023", "2023-09-05", "Sep 5, 2023"),
        ("2023-09-05", "2023-09-05", "2023-09-05"),
        ("\n              April 2, 2021\n            ", "2021-04-02", "April 2, 2021"),
        ("Decemeber 5, 2023", "2023-12-05", "Decemeber 5, 2023"),
        ("<p>November&nbsp;1, 2021</p>", "2021-11-01", "November 1, 2021"),
    ],
)
def test_it_reads_every_date_spelling_in_a_date_cell(cell: str, iso: str, raw: str) -> None:
    row = page(updates([("Change", "Description", cell)])).updates[0]
    assert (row.date, row.date_raw) == (iso, raw)


@pytest.mark.parametrize(
    ("change", "description", "actions", "policies"),
    [
        pytest.param(
            "Updated AmazonExampleFullAccess",
            "Added <code>s3:GetObject</code> and s3:PutObject, and ec2:Describe*.",
            ("ec2:Describe*", "s3:GetObject", "s3:PutObject"),
            ("AmazonExampleFullAccess",),
            id="explicit-actions",
        ),
        pytest.param(
            "New actions",
            "Added <code>GetThing</code> and <code>ListThings</code> and <code>PassRole</code>.",
            ("example:GetThing", "example:ListThings", "iam:PassRole"),
            (),
            id="bare-names-qualified-by-the-page-action-of-that-name",
        ),
        pytest.param(
            "New actions",
            'Added <code class="code">StartThing</code>.',
            ("example:StartThing",),
            (),
            id="bare-name-qualified-by-the-most-common-prefix",
        ),
        pytest.param(
            "Updated policies",
            "Updated the AmazonExampleFullAccess, AmazonExampleReadOnlyAccess and "
            "<code>AmazonExampleReadOnlyAccess</code> policies.",
            (),
            ("AmazonExampleFullAccess", "AmazonExampleReadOnlyAccess"),
            id="policy-names-in-prose-and-code",
        ),
        pytest.param(
            'New policy: <a href="#other">AWS managed policy: AmazonOtherAccess</a>',
            "See https://docs.aws.amazon.com/x and arn:aws:iam::aws:policy/AmazonOtherAccess.",
            (),
            ("AmazonOtherAccess",),
            id="urls-and-arns-are-no-actions",
        ),
        pytest.param(
            "Condition added",
            "Added the <code>aws:SourceAccount</code> and aws:SourceArn condition keys to iam:PassRole.",
            ("iam:PassRole",),
            (),
            id="global-condition-keys-are-no-actions",
        ),
        pytest.param(
            "Started tracking",
            "Amazon Example started tracking changes for its AWS managed policies.",
            (),
            (),
            id="nothing",
        ),
    ],
)
def test_each_row_names_the_actions_and_policies_it_mentions(
    change: str, description: str, actions: tuple[str, ...], policies: tuple[str, ...]
) -> None:
    body = (
        section("AWS managed policy: AmazonExampleFullAccess", json_block(EXAMPLE), anchor="full")
        + section("AWS managed policy: AmazonExampleReadOnlyAccess", json_block(READ_ONLY), anchor="ro")
        + updates([(change, description, "Sep 5, 2023")])
    )
    row = page(body).updates[0]
    assert (row.actions, row.policies) == (actions, policies)


def test_bare_names_are_left_out_when_the_page_has_no_actions() -> None:
    row = page(updates([("New actions", "Added <code>GetThing</code>.", "Sep 5, 2023")])).updates[0]
    assert row.actions == ()


def test_a_page_without_an_updates_table_warns() -> None:
    parsed = page(section("AWS managed policy: AmazonExampleFullAccess", json_block(READ_ONLY)))
    assert (parsed.updates, codes(parsed)) == ((), ["no_updates_table"])


def test_the_service_is_read_from_the_title() -> None:
    parsed = page(section("AWS managed policy: AmazonExampleFullAccess", json_block(READ_ONLY)))
    assert (parsed.title, parsed.service) == (TITLE, "Amazon Example")
