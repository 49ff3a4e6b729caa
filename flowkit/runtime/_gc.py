"""Python's collector while runs are active: its young generation collected less often.

A run allocates a few objects per task that all live until the run ends; see
:class:`YoungGenerationTuned` (``Runner.run`` enters it) and README, "Durability and speed".
"""

from __future__ import annotations

import gc
import threading

__all__ = ["YoungGenerationTuned"]

_GC_GEN0 = 10_000  # objects between young collections when a run starts
_GC_GEN0_MAX = 160_000  # ... and at most, while young collections find (almost) nothing to free
_gc_lock = threading.Lock()
_gc_users = 0
_gc_saved: tuple[int, ...] = ()


def _adapt_young_generation(phase: str, info: dict[str, int]) -> None:
    """Stretch or reset the young generation's interval after each of its collections.

    In ``gc.callbacks`` while runs are active: a young collection that freed (almost) nothing doubles
    the interval to the next one; one that freed much brings it back to the start value.
    """
    if phase != "stop" or info["generation"] != 0:
        return
    threshold, *older = gc.get_threshold()
    if not threshold:
        return  # the collector was switched off meanwhile
    if info["collected"] * 20 < threshold:  # under 5 % garbage: what is young is the runs' live state
        new = min(threshold * 2, _GC_GEN0_MAX)
    elif info["collected"] * 4 > threshold:  # over 25 %: workers make garbage, collect it as often as before
        new = _GC_GEN0
    else:
        return
    if new != threshold:
        gc.set_threshold(new, *older)


class YoungGenerationTuned:
    """Collect the young generation less often while runs are active (re-entrant, restored after).

    A run allocates a few objects per task that all live until the run ends; with Python's default
    threshold (700) the collector rescans them so often that a 10,000-branch fork costs 30 % more
    per task than a 1,000-branch one. So while a run is active the young generation is collected
    every 10,000 allocations, and the interval doubles (up to 160,000) after every young collection
    that freed under 5 % of what it scanned: a run's state is not garbage, and each collection of it
    also counts toward a costlier collection of the middle generation. A collection that frees over
    25 % (workers that leave reference cycles behind) brings it back to 10,000. Cycles are still
    collected, in batches of at most 160,000 allocations.
    """

    def __enter__(self) -> None:
        global _gc_users, _gc_saved
        with _gc_lock:
            _gc_users += 1
            if _gc_users == 1:
                _gc_saved = ()
                saved = gc.get_threshold()
                if saved[0] and saved[0] < _GC_GEN0:
                    _gc_saved = saved
                    gc.set_threshold(_GC_GEN0, *saved[1:])
                    gc.callbacks.append(_adapt_young_generation)

    def __exit__(self, *exc: object) -> None:
        global _gc_users
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0 and _gc_saved:
                if _adapt_young_generation in gc.callbacks:
                    gc.callbacks.remove(_adapt_young_generation)
                gc.set_threshold(*_gc_saved)
