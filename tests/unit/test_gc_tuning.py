"""While runs are active the young generation is collected less often, and less often still while it
holds only the runs' live state; the caller's thresholds come back when the last run ends."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

import flowkit
from flowkit.runtime._gc import _GC_GEN0, _GC_GEN0_MAX, YoungGenerationTuned


@pytest.fixture
def thresholds() -> Iterator[None]:
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # Python's defaults, whatever the test run set
    try:
        yield
    finally:
        gc.set_threshold(*saved)


def test_a_run_collects_less_often_and_gives_the_callers_thresholds_back(thresholds: None) -> None:
    during: list[tuple[int, ...]] = []

    def look() -> dict[str, Any]:
        during.append(gc.get_threshold())
        return {}

    wf = {"name": "gc_look", "tasks": [{"name": "look", "taskReferenceName": "look"}]}
    ex = flowkit.run(wf, {}, workers={"look": look}, executor="inline", store="memory")
    assert ex.status == "COMPLETED"
    assert during[0][0] >= _GC_GEN0 and during[0][1:] == (10, 10)
    assert gc.get_threshold() == (700, 10, 10)
    assert not any(getattr(cb, "__name__", "") == "_adapt_young_generation" for cb in gc.callbacks)


def test_long_lived_objects_stretch_the_interval_and_garbage_brings_it_back(thresholds: None) -> None:
    with YoungGenerationTuned():
        assert gc.get_threshold()[0] == _GC_GEN0
        live = [[] for _ in range(6 * _GC_GEN0)]  # survivors only, as a fork's tasks are
        stretched = gc.get_threshold()[0]
        assert _GC_GEN0 < stretched <= _GC_GEN0_MAX
        # a worker leaving reference cycles behind: within a few intervals (the first collection may
        # still hold live lists; other threads' allocations and frees move the count too) it drops back
        for _ in range(10 * _GC_GEN0_MAX):
            cycle: list[Any] = []
            cycle.append(cycle)
            if gc.get_threshold()[0] < stretched:
                break
        assert gc.get_threshold()[0] < stretched
        del live
    assert gc.get_threshold() == (700, 10, 10)


@pytest.mark.parametrize("first", [0, 50_000])
def test_a_collector_switched_off_or_already_lazier_is_left_alone(thresholds: None, first: int) -> None:
    gc.set_threshold(first, 10, 10)
    with YoungGenerationTuned():
        assert gc.get_threshold() == (first, 10, 10)
        _ = [[] for _ in range(3 * _GC_GEN0)]
        assert gc.get_threshold() == (first, 10, 10)
    assert gc.get_threshold() == (first, 10, 10)
