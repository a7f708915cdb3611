"""The service's memory housekeeping: freed pages go back to the system when the last check in flight ends."""

from __future__ import annotations

import pytest

from watcher import memory


def test_freed_memory_goes_back_only_when_the_last_check_in_flight_ends() -> None:
    quiesce = memory.Quiesce()
    with quiesce.busy():
        with quiesce.busy():
            quiesce.heavy()
        assert quiesce.releases == 0
    assert quiesce.releases == 1


def test_a_burst_of_light_checks_ends_its_idle_callbacks_without_trimming_and_a_heavy_one_trims_once() -> None:
    quiesce = memory.Quiesce()
    idle: list[int] = []
    quiesce.on_idle.append(lambda: idle.append(quiesce.releases))
    with quiesce.busy(), quiesce.busy():
        pass
    assert (idle, quiesce.releases) == ([0], 0)
    with quiesce.busy():
        quiesce.heavy()
    with quiesce.busy():
        pass
    assert (idle, quiesce.releases) == ([0, 0, 1], 1)  # the heavy mark ended with its burst


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
        quiesce.heavy()
        assert calls == []
    assert (calls, quiesce.releases) == ([0], 1)  # before the memory is released
