"""Parsing in worker processes: the same answers as in process, workers only while there is work, no lost body."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest

from tests.conftest import REKOGNITION
from watcher import parse_pool
from watcher.model import Parsed
from watcher.parse_pool import ParsePool, parse_here

PAGE = (REKOGNITION / "page-v2.html").read_bytes()
FEED = (REKOGNITION / "doc-history-v1.rss").read_bytes()
URL = "https://docs.aws.amazon.com/rekognition/latest/dg/security-iam-awsmanpol.html"
WAIT = 60.0
"""Longest a test waits for the workers to stop (a safety net: they stop at once with ``linger=0``)."""


def die(body: bytes, url: str | None) -> Parsed:
    """A worker that dies under the body it was given (as one killed by the OOM killer would)."""
    os._exit(3)


@pytest.fixture
def pool() -> ParsePool:
    return ParsePool(2, linger=3600)


@pytest.mark.parametrize("body", [PAGE, FEED, b"not a page", b""], ids=["page", "feed", "text", "empty"])
def test_a_worker_parses_a_body_exactly_as_this_process_does(pool: ParsePool, body: bytes) -> None:
    try:
        assert pool.parse(body, URL) == parse_here(body, URL)
    finally:
        pool.close()


def test_workers_start_on_the_first_body_and_serve_the_next_ones(pool: ParsePool) -> None:
    try:
        assert not pool.running
        for _ in range(3):
            pool.parse(PAGE, URL)
        assert (pool.running, pool.started) == (True, 1)
    finally:
        pool.close()
    assert not pool.running and pool.stopped.is_set()


def test_bodies_one_after_another_need_one_worker_however_many_there_are(pool: ParsePool) -> None:
    try:
        for _ in range(parse_pool.GROW_AFTER + 4):
            pool.parse(b"not a page", URL)
        assert pool.running_workers == 1
    finally:
        pool.close()


def test_a_second_worker_joins_only_after_grow_after_bodies_with_the_first_one_busy() -> None:
    pool = ParsePool(2, grow_after=2)
    try:
        first = [pool._take(), pool._take()]  # taken, not yet answered: the first worker is busy
        assert first[0] is first[1] and pool.running_workers == 1
        third = pool._take()
        assert third is not first[0] and pool.running_workers == 2
        assert pool._take() is third  # the least busy one
        assert pool.running_workers == 2  # never more than ``workers``
        assert pool._take() in (first[0], third)
        assert (pool.running_workers, pool.started) == (2, 1)
    finally:
        pool.close()


def test_idle_workers_stop_after_the_linger_time() -> None:
    pool = ParsePool(1, linger=0)
    pool.parse(PAGE, URL)
    pool.idle()
    assert pool.stopped.wait(WAIT)
    assert not pool.running
    pool.parse(PAGE, URL)  # the next body starts them again
    assert pool.started == 2
    pool.close()


def test_a_body_arriving_before_the_linger_time_keeps_the_workers(pool: ParsePool) -> None:
    try:
        pool.parse(PAGE, URL)
        pool.idle()
        pool.parse(FEED, URL)
        assert (pool.running, pool.started, pool.stopped.is_set()) == (True, 1, False)
    finally:
        pool.close()


def test_a_worker_that_dies_leaves_the_body_to_this_process_and_says_so_once(caplog: pytest.LogCaptureFixture) -> None:
    pool = ParsePool(1, linger=3600, target=die)
    with caplog.at_level(logging.WARNING, logger="watcher.parse_pool"):
        first, second = pool.parse(PAGE, URL), pool.parse(FEED, URL)
    pool.close()
    assert (first, second) == (parse_here(PAGE, URL), parse_here(FEED, URL))
    assert [r.getMessage().split(":")[0] for r in caplog.records] == ["a parse worker failed (BrokenProcessPool"]


def test_no_workers_means_parsing_in_this_process() -> None:
    pool = ParsePool(0)
    assert pool.parse(PAGE, URL) == parse_here(PAGE, URL)
    assert (pool.running, pool.started) == (False, 0)


def test_the_service_process_never_loads_the_parser_when_workers_parse() -> None:
    code = (
        "import sys\n"
        "from watcher.parse_pool import ParsePool\n"
        "if __name__ == '__main__':\n"
        "    pool = ParsePool(1)\n"
        f"    page = pool.parse(open({str(REKOGNITION / 'page-v1.html')!r}, 'rb').read(), None)\n"
        "    pool.close()\n"
        "    print(page.title, '|', 'bs4' in sys.modules, 'lxml.etree' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == f"{parse_here((REKOGNITION / 'page-v1.html').read_bytes(), None).title} | False False"


def test_workers_that_cannot_start_leave_every_body_to_this_process(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("no /dev/shm")

    monkeypatch.setattr(parse_pool, "ProcessPoolExecutor", refuse)
    pool = ParsePool(2)
    with caplog.at_level(logging.WARNING, logger="watcher.parse_pool"):
        assert pool.parse(PAGE, URL) == parse_here(PAGE, URL)
        assert pool.parse(FEED, URL) == parse_here(FEED, URL)
    assert (pool.workers, pool.running) == (0, False)
    assert [r.getMessage() for r in caplog.records] == [
        "parse workers cannot start (OSError: no /dev/shm): parsing in this process"
    ]
