"""The service's memory housekeeping: freed pages go back to the system when the last check in flight ends."""

from __future__ import annotations

import pytest

from watcher import memory


def test_freed_memory_goes_back_only_when_the_last_check_in_flight_ends() -> None:
    quiesce = memory.Quiesce()
    with quiesce.busy():
        with quiesce.busy():
            pass
        assert quiesce.releases == 0
    assert quiesce.releases == 1


def test_a_check_that_raises_still_counts_as_ended() -> None:
    quiesce = memory.Quiesce()
    with pytest.raises(RuntimeError), quiesce.busy():
        raise RuntimeError("boom")
    assert quiesce.releases == 1


def test_an_arena_limit_set_in_the_environment_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert memory.limit_arenas() is False


def test_release_answers_without_raising() -> None:
    assert memory.release() in (True, False)


def test_the_idle_callbacks_run_once_the_last_check_ends() -> None:
    quiesce = memory.Quiesce()
    calls: list[int] = []
    quiesce.on_idle.append(lambda: calls.append(quiesce.releases))
    with quiesce.busy(), quiesce.busy():
        assert calls == []
    assert calls == [0]  # before the memory is released
