"""The system clock: wall-clock time for real runs (``flowkit.testing.VirtualClock`` skips waits)."""

from __future__ import annotations

import threading
import time

__all__ = ["SystemClock"]

_time_ns = time.time_ns  # read twice per task: a module global, not an attribute of a module


class SystemClock:
    """Wall-clock time in epoch milliseconds."""

    virtual = False
    _last = 0

    def now_ms(self) -> int:
        """Now, in epoch ms (the same int object within one ms: tasks store several times each)."""
        now = _time_ns() // 1_000_000  # an int division: cheaper than int() of a float product
        if now == self._last:
            return self._last
        self._last = now
        return now

    def sleep_until(self, when_ms: int, wake: threading.Event | None = None) -> None:
        """Sleep until ``when_ms`` or until ``wake`` is set."""
        delay = (when_ms - self.now_ms()) / 1000
        if delay > 0:
            if wake is not None:
                wake.wait(delay)
            else:
                time.sleep(delay)
