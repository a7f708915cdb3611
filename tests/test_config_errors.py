"""Settings errors: TOML syntax, unknown keys, values out of range or of the wrong type, duplicate sources.

Files are written to tmp_path. Error messages are asserted exactly: they are what a person reads when the
service refuses to start.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.config_helpers import SOURCE, error_of, sources, write
from watcher.config import load_settings

# -------------------------------------------------------------------------------------- TOML syntax


def test_a_toml_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "[http]\nread_timeout = \n")
    assert error_of(path) == (
        f"{path}: line 2, column 16: invalid TOML: Invalid value; fix the syntax there (https://toml.io)"
    )


def test_an_unclosed_table_header_is_a_syntax_error(tmp_path: Path) -> None:
    path = write(tmp_path, "[http\nretries = 2\n")
    assert error_of(path) == (
        f"{path}: line 1, column 6: invalid TOML: Expected ']' at the end of a table declaration; "
        "fix the syntax there (https://toml.io)"
    )


def test_a_key_given_twice_is_a_syntax_error(tmp_path: Path) -> None:
    path = write(tmp_path, "[http]\nretries = 2\nretries = 3\n")
    assert error_of(path).startswith(f"{path}: line 3, column ")
    assert "invalid TOML: Cannot overwrite a value" in error_of(path)


# -------------------------------------------------------------------------------------- keys and values


def test_a_wrong_kind_names_the_source_by_index_and_lists_the_allowed_kinds(tmp_path: Path) -> None:
    text = sources("a", "b", "c") + SOURCE.format(name="d").replace('"page"', '"pgae"')
    path = write(tmp_path, text)
    assert error_of(path) == f"{path}: sources[3].kind: 'pgae' is not allowed; use 'page' or 'feed'"


def test_a_misspelt_key_suggests_the_right_one(tmp_path: Path) -> None:
    path = write(tmp_path, "[http]\nread_timout = 3\n")
    assert error_of(path) == f"{path}: http.read_timout: unknown key (did you mean read_timeout?)"


def test_a_misspelt_table_suggests_the_right_one(tmp_path: Path) -> None:
    path = write(tmp_path, "[defualts]\ninterval = 60\n")
    assert error_of(path) == f"{path}: defualts: unknown key (did you mean defaults?)"


def test_a_misspelt_source_key_suggests_the_right_one(tmp_path: Path) -> None:
    path = write(tmp_path, sources("a") + "intreval = 60\n")
    assert error_of(path) == f"{path}: sources[0].intreval: unknown key (did you mean interval?)"


def test_an_unknown_key_with_no_close_match_lists_the_allowed_keys(tmp_path: Path) -> None:
    path = write(tmp_path, '[database]\npassword = "x"\n')
    assert error_of(path) == f"{path}: database.password: unknown key; allowed keys are url"


def test_a_value_out_of_range_says_the_bound(tmp_path: Path) -> None:
    path = write(tmp_path, "[http]\nretries = 11\nread_timeout = 0\n")
    assert error_of(path) == (
        f"{path}: http.read_timeout: 0 is too small; use greater than 0\n"
        f"{path}: http.retries: 11 is too large; use at most 10"
    )


def test_a_value_of_the_wrong_type_says_what_is_expected(tmp_path: Path) -> None:
    path = write(tmp_path, '[http]\nread_timeout = "soon"\nmax_bytes = 1.5\n[database]\nurl = 3\n')
    assert error_of(path) == (
        f'{path}: database.url: 3 is not a string; put it in quotes ("...")\n'
        f"{path}: http.read_timeout: 'soon' is not a number; use a number such as 20 or 2.5\n"
        f"{path}: http.max_bytes: 1.5 is not a whole number; use an integer such as 10"
    )


def test_a_wrong_log_format_lists_text_and_json(tmp_path: Path) -> None:
    path = write(tmp_path, '[service]\nlog_format = "xml"\n')
    assert error_of(path) == f"{path}: service.log_format: 'xml' is not allowed; use 'text' or 'json'"


def test_a_scalar_where_a_table_belongs_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "service = 5\n")
    assert error_of(path) == (
        f"{path}: service: 5 is not a table; use [service] with keys "
        "listen_host, listen_port, deliver_every, delivery_max_attempts, delivery_backoff, parse_workers, "
        "reconcile_every, log_format"
    )


def test_sources_must_be_an_array_of_tables(tmp_path: Path) -> None:
    path = write(tmp_path, 'sources = "rekognition"\n')
    assert error_of(path) == f"{path}: sources: 'rekognition' is not a list of tables; write each one as [[sources]]"
    path = write(tmp_path, "sources = [1]\n")
    assert error_of(path) == (
        f"{path}: sources[0]: 1 is not a table; use [[sources]] with keys "
        "name, url, kind, service, guide, interval, enabled"
    )


def test_a_source_without_a_url_says_to_add_it(tmp_path: Path) -> None:
    path = write(tmp_path, '[[sources]]\nname = "a"\nkind = "page"\n')
    assert error_of(path) == f"{path}: sources[0].url: required key is missing; add url = ..."


def test_an_empty_source_name_is_too_short(tmp_path: Path) -> None:
    path = write(tmp_path, '[[sources]]\nname = ""\nurl = "https://example.com/a"\nkind = "page"\n')
    assert error_of(path) == f"{path}: sources[0].name: '' is too short; use at least 1 character(s)"


def test_a_url_that_is_not_http_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, sources("a", "b").replace("https://docs.aws.amazon.com/b", "ftp://docs.aws.amazon.com/b"))
    assert error_of(path) == (
        f"{path}: sources[1].url: 'ftp://docs.aws.amazon.com/b/latest/dg/page.html' is not an http(s) URL; "
        "use a full address such as 'https://docs.aws.amazon.com/rekognition/latest/dg/security-iam-awsmanpol.html'"
    )


@pytest.mark.parametrize("url", ["docs.aws.amazon.com/s3/page.html", "https:///page.html", "file:///etc/passwd", ""])
def test_urls_without_an_http_scheme_and_a_host_are_refused(tmp_path: Path, url: str) -> None:
    path = write(tmp_path, f'[[sources]]\nname = "a"\nurl = "{url}"\nkind = "page"\n')
    assert error_of(path).startswith(f"{path}: sources[0].url: {url!r} is not an http(s) URL; ")


USE_A_DATABASE = "use 'sqlite:///data/watcher.db' (a file) or 'postgresql+psycopg://user:password@host:5432/watcher'"


@pytest.mark.parametrize(
    ("url", "what"),
    [
        ("mysql://watcher:s3cret@db/watcher", "'mysql' is not supported (SQLite, or PostgreSQL through psycopg 3)"),
        ("postgresql+psycopg2://watcher:s3cret@db/watcher", "'postgresql+psycopg2' is not supported (SQLite, or "
         "PostgreSQL through psycopg 3)"),
        ("watcher:s3cret@db/watcher", "no scheme"),
    ],
)  # fmt: skip
def test_a_database_the_watcher_cannot_use_says_which_to_use_without_repeating_the_url(
    tmp_path: Path, url: str, what: str
) -> None:
    path = write(tmp_path, f'[database]\nurl = "{url}"\n')
    assert error_of(path) == f"{path}: database.url: {what}; {USE_A_DATABASE}"


@pytest.mark.parametrize(
    "url", ["sqlite:///data/w.db", "SQLite:///w.db", "postgresql://h/w", "postgresql+psycopg://h/w"]
)
def test_sqlite_and_postgresql_urls_are_accepted(tmp_path: Path, url: str) -> None:
    assert load_settings(write(tmp_path, f'[database]\nurl = "{url}"\n'), env={}).database.url == url


def test_a_duplicate_source_name_names_both_entries(tmp_path: Path) -> None:
    path = write(tmp_path, sources("a", "b", "c") + SOURCE.format(name="b").replace("page.html", "other.html"))
    assert error_of(path) == (
        f"{path}: sources[3].name: 'b' is already used by sources[1]; give every source a unique name"
    )


def test_several_problems_are_reported_one_per_line(tmp_path: Path) -> None:
    text = '[http]\nretries = -1\n[service]\nlog_format = "xml"\n' + sources("a").replace('"page"', '"x"')
    path = write(tmp_path, text)
    assert error_of(path).splitlines() == [
        f"{path}: http.retries: -1 is too small; use at least 0",
        f"{path}: service.log_format: 'xml' is not allowed; use 'text' or 'json'",
        f"{path}: sources[0].kind: 'x' is not allowed; use 'page' or 'feed'",
    ]


def test_a_flood_of_problems_is_cut_after_ten_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "".join(f'[[sources]]\nname = "s{i}"\nurl = "x"\nkind = "page"\n' for i in range(12)))
    lines = error_of(path).splitlines()
    assert len(lines) == 11
    assert lines[-1] == "... and 2 more problems"
