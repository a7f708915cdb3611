"""The shipped config/watcher.toml: it loads, its sources are unique AWS docs pages and feeds, and it spells
out the built-in defaults.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from watcher.config import DEFAULT_DATABASE_URL, Settings, load_settings

SHIPPED = Path(__file__).resolve().parents[1] / "config" / "watcher.toml"


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
