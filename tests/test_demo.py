"""``make demo`` end to end: the replay server, the real service, and what it records."""

from __future__ import annotations

import pytest

from tests.conftest import REKOGNITION
from watcher import demo


def test_the_replay_serves_each_version_once_then_confirms_the_last_with_a_304() -> None:
    replay = demo.Replay(pages=[b"v1", b"v2"], feeds=[b"f1", b"f2"])
    first = replay.page(None)
    assert (first[0], first[1], replay.feed()) == (200, b"v1", b"f1")
    second = replay.page(first[2])
    assert (second[0], second[1], replay.feed()) == (200, b"v2", b"f2")
    assert not replay.done.is_set()
    assert replay.page(second[2])[0] == 304
    assert replay.done.is_set()


def test_the_demo_runs_the_whole_flow_and_stops_by_itself(capsys: pytest.CaptureFixture[str]) -> None:
    assert demo.main(REKOGNITION, timeout=60, interval=1) == 0
    out = capsys.readouterr().out
    for expected in ("actions_added", "actions_removed", "policy_added", "feed_item_added", "source_failing"):
        assert expected in out
    assert "replay complete" in out
