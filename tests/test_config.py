"""Settings: the shipped config/watcher.toml, every error message, environment overrides, durations, defaults.

Files are written to tmp_path; nothing touches the network. Error messages are asserted exactly: they are
what a person reads when the service refuses to start.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from watcher.config import (
    DEFAULT_DATABASE_URL,
    ConfigError,
    Defaults,
    Settings,
    SourceSettings,
    guide_of,
    load_settings,
    parse_duration,
)

SHIPPED = Path(__file__).resolve().parents[1] / "config" / "watcher.toml"

SOURCE = """
[[sources]]
name = "{name}"
url = "https://docs.aws.amazon.com/{name}/latest/dg/page.html"
kind = "page"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "watcher.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={} if env is None else env)
    return str(caught.value)


def sources(*names: str) -> str:
    return "".join(SOURCE.format(name=name) for name in names)


# -------------------------------------------------------------------------------------- the shipped config


@pytest.fixture(scope="module")
def shipped() -> Settings:
    return load_settings(SHIPPED, env={})


def test_the_shipped_config_loads_with_at_least_22_sources_of_which_11_are_pages(shipped: Settings) -> None:
    assert len(shipped.sources) >= 22
    assert sum(source.kind == "page" for source in shipped.sources) >= 11


def test_the_shipped_config_has_unique_names_and_urls(shipped: Settings) -> None:
    names = [source.name for source in shipped.sources]
    urls = [source.url for source in shipped.sources]
    assert len(set(names)) == len(names)
    assert len(set(urls)) == len(urls)


def test_the_shipped_config_watches_the_rekognition_page_and_its_feed_in_one_guide(shipped: Settings) -> None:
    by_name = {source.name: source for source in shipped.sources}
    page, feed = by_name["rekognition-policies"], by_name["rekognition-history"]
    assert page.url == "https://docs.aws.amazon.com/rekognition/latest/dg/security-iam-awsmanpol.html"
    assert page.kind == "page"
    assert feed.kind == "feed"
    assert page.guide == feed.guide == "https://docs.aws.amazon.com/rekognition/latest/dg/"


def test_every_shipped_source_is_an_https_aws_docs_url_with_a_service(shipped: Settings) -> None:
    for source in shipped.sources:
        assert source.url.startswith("https://docs.aws.amazon.com/"), source.name
        assert source.service, source.name
        assert source.url.endswith(".rss" if source.kind == "feed" else ".html"), source.name


def test_every_shipped_feed_shares_its_guide_with_a_shipped_page_or_stands_alone_for_iam(shipped: Settings) -> None:
    page_guides = {source.guide for source in shipped.sources if source.kind == "page"}
    lonely = [source.name for source in shipped.sources if source.kind == "feed" and source.guide not in page_guides]
    assert lonely == ["iam-history"]


def test_the_shipped_config_spells_out_the_built_in_defaults(shipped: Settings) -> None:
    assert shipped.database.url == DEFAULT_DATABASE_URL
    assert shipped.http == Settings().http
    assert shipped.defaults == Settings().defaults
    assert shipped.service == Settings().service


def test_all_shipped_sources_are_enabled_and_checked_hourly(shipped: Settings) -> None:
    assert shipped.enabled_sources() == shipped.sources
    assert {shipped.interval_of(source) for source in shipped.sources} == {3600}


# -------------------------------------------------------------------------------------- files


def test_a_missing_default_file_gives_the_built_in_defaults_and_no_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_settings(env={}) == Settings()
    assert load_settings(env={}).sources == []


def test_the_default_file_is_config_watcher_toml_in_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "watcher.toml").write_text(sources("rekognition"))
    monkeypatch.chdir(tmp_path)
    assert [source.name for source in load_settings(env={}).sources] == ["rekognition"]


def test_errors_in_the_default_file_name_it_as_config_watcher_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "watcher.toml").write_text("[http]\nread_timout = 3\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_settings(env={})
    assert str(caught.value) == "config/watcher.toml: http.read_timout: unknown key (did you mean read_timeout?)"


def test_a_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    assert error_of(missing) == f"{missing}: no such file; pass an existing file, or copy config/watcher.toml"


def test_a_directory_is_not_a_config_file(tmp_path: Path) -> None:
    assert error_of(tmp_path) == f"{tmp_path}: is a directory; pass the path of a TOML file"


def test_an_empty_file_gives_the_built_in_defaults(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, ""), env={}) == Settings()


def test_a_file_that_is_not_utf8_says_so(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[service]\nlisten_host = "caf\xe9"\n')
    assert error_of(path) == f"{path}: line 2, column 19: not UTF-8; save the file as UTF-8"


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


# -------------------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("given", "seconds"),
    [(90, 90), ("90", 90), ("90s", 90), ("30m", 1800), ("1h", 3600), ("1d", 86400), (" 2H ", 7200)],
)
def test_durations_are_seconds_or_a_number_with_a_unit(given: int | str, seconds: int) -> None:
    assert parse_duration(given) == seconds
    assert Defaults(interval=given).interval == seconds


def test_durations_apply_to_interval_jitter_misfire_grace_and_a_source_interval(tmp_path: Path) -> None:
    path = write(tmp_path, '[defaults]\ninterval = "2h"\njitter = "30s"\nmisfire_grace = "10m"\n' + sources("a"))
    text = path.read_text() + 'interval = "15m"\n'
    settings = load_settings(write(tmp_path, text), env={})
    assert (settings.defaults.interval, settings.defaults.jitter, settings.defaults.misfire_grace) == (7200, 30, 600)
    assert settings.sources[0].interval == 900


@pytest.mark.parametrize("given", ["1x", "1.5h", "h", "-5m", "1h30m"])
def test_a_malformed_duration_says_how_to_write_one(tmp_path: Path, given: str) -> None:
    path = write(tmp_path, f'[defaults]\ninterval = "{given}"\n')
    assert error_of(path) == (
        f"{path}: defaults.interval: {given!r} is not a duration; "
        "use seconds (90) or a string such as '30m', '1h' or '1d'"
    )


def test_a_boolean_is_not_a_duration(tmp_path: Path) -> None:
    path = write(tmp_path, "[defaults]\njitter = true\n")
    assert error_of(path) == (
        f"{path}: defaults.jitter: true is not a duration; use seconds (90) or a string such as '30m', '1h' or '1d'"
    )


def test_a_fractional_duration_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "[defaults]\ninterval = 90.5\n")
    assert error_of(path) == (
        f"{path}: defaults.interval: 90.5 is not a whole number; use an integer such as 10 or a duration such as '30m'"
    )


def test_a_too_short_interval_is_counted_in_seconds(tmp_path: Path) -> None:
    path = write(tmp_path, '[defaults]\ninterval = "5s"\nmisfire_grace = 0\n')
    assert error_of(path) == (
        f"{path}: defaults.interval: 5 seconds is too small; use at least 10 seconds\n"
        f"{path}: defaults.misfire_grace: 0 seconds is too small; use at least 1 second"
    )


def test_a_too_short_source_interval_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, sources("a") + 'interval = "9s"\n')
    assert error_of(path) == f"{path}: sources[0].interval: 9 seconds is too small; use at least 10 seconds"


# -------------------------------------------------------------------------------------- sources


def test_the_guide_defaults_to_the_url_directory(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, sources("rekognition")), env={})
    assert settings.sources[0].guide == "https://docs.aws.amazon.com/rekognition/latest/dg/"


def test_an_explicit_guide_is_kept(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, sources("a") + 'guide = "https://example.com/guide/"\n'), env={})
    assert settings.sources[0].guide == "https://example.com/guide/"


@pytest.mark.parametrize(
    ("url", "guide"),
    [
        (
            "https://docs.aws.amazon.com/eks/latest/userguide/doc-history.rss",
            "https://docs.aws.amazon.com/eks/latest/userguide/",
        ),
        ("https://docs.aws.amazon.com/eks/latest/userguide/", "https://docs.aws.amazon.com/eks/latest/userguide/"),
        ("https://example.com/a/b.html?x=1#top", "https://example.com/a/"),
        ("https://example.com", "https://example.com/"),
    ],
)
def test_the_guide_of_a_url_is_everything_up_to_the_last_slash(url: str, guide: str) -> None:
    assert guide_of(url) == guide
    assert SourceSettings(name="x", url=url, kind="page").guide == guide


def test_interval_of_is_the_source_interval_else_the_default(tmp_path: Path) -> None:
    text = '[defaults]\ninterval = "2h"\n' + sources("own", "inherited")
    text = text.replace('name = "own"', 'name = "own"\ninterval = 600')
    settings = load_settings(write(tmp_path, text), env={})
    own, inherited = settings.sources
    assert settings.interval_of(own) == 600
    assert settings.interval_of(inherited) == 7200


def test_enabled_sources_skips_disabled_ones_and_keeps_file_order(tmp_path: Path) -> None:
    text = sources("a", "b", "c").replace('name = "b"', 'name = "b"\nenabled = false')
    settings = load_settings(write(tmp_path, text), env={})
    assert [source.name for source in settings.enabled_sources()] == ["a", "c"]
    assert [source.name for source in settings.sources] == ["a", "b", "c"]


def test_duplicate_names_are_refused_when_settings_are_built_in_code() -> None:
    source = SourceSettings(name="a", url="https://example.com/a", kind="page")
    with pytest.raises(ValueError, match="source name 'a' is used twice"):
        Settings(sources=[source, source])


# -------------------------------------------------------------------------------------- environment


ENV = {
    "WATCHER_DATABASE_URL": "postgresql+psycopg://watcher@db:5432/watcher",
    "WATCHER_LOG_FORMAT": "json",
    "WATCHER_LISTEN_HOST": "0.0.0.0",
    "WATCHER_LISTEN_PORT": "9200",
    "WATCHER_HTTP_USER_AGENT": "acme-watcher/1.0",
}


def test_environment_variables_win_over_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[database]\nurl = "sqlite:///elsewhere.db"\n[http]\nuser_agent = "file-agent"\n'
        '[service]\nlisten_host = "127.0.0.1"\nlisten_port = 9108\nlog_format = "text"\n',
    )
    settings = load_settings(path, env=ENV)
    assert settings.database.url == "postgresql+psycopg://watcher@db:5432/watcher"
    assert settings.service.log_format == "json"
    assert settings.service.listen_host == "0.0.0.0"
    assert settings.service.listen_port == 9200
    assert settings.http.user_agent == "acme-watcher/1.0"


def test_environment_variables_apply_when_there_is_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(env=ENV)
    assert settings.service.listen_port == 9200
    assert settings.database.url == ENV["WATCHER_DATABASE_URL"]


def test_the_process_environment_is_read_when_no_env_is_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHER_LISTEN_PORT", "9300")
    assert load_settings(write(tmp_path, ""), env=None).service.listen_port == 9300


def test_empty_environment_variables_count_as_unset(tmp_path: Path) -> None:
    path = write(tmp_path, '[service]\nlog_format = "json"\n')
    settings = load_settings(path, env={"WATCHER_LOG_FORMAT": "", "WATCHER_DATABASE_URL": ""})
    assert settings.service.log_format == "json"
    assert settings.database.url == DEFAULT_DATABASE_URL


def test_unrelated_environment_variables_are_ignored(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, ""), env={"WATCHER_RETRIES": "9", "HOME": "/root"}) == Settings()


def test_a_bad_environment_value_names_the_variable_and_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    assert error_of(path, {"WATCHER_LISTEN_PORT": "99999", "WATCHER_LOG_FORMAT": "xml"}) == (
        "WATCHER_LISTEN_PORT (overrides service.listen_port): '99999' is too large; use at most 65535\n"
        "WATCHER_LOG_FORMAT (overrides service.log_format): 'xml' is not allowed; use 'text' or 'json'"
    )


def test_an_environment_value_hides_a_bad_value_in_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[service]\nlisten_port = "nine"\n')
    assert load_settings(path, env={"WATCHER_LISTEN_PORT": "9108"}).service.listen_port == 9108
