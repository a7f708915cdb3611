"""Settings: which file is read, the sources, and environment overrides.

Files are written to tmp_path; nothing touches the network. Error messages are asserted exactly: they are
what a person reads when the service refuses to start. The shipped config/watcher.toml, syntax and value
errors, and durations are in tests/test_config_*.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.config_helpers import error_of, sources, write
from watcher.config import DEFAULT_DATABASE_URL, ConfigError, Settings, SourceSettings, guide_of, load_settings

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
