"""Clocks. Every wait in flowkit goes through one, so virtual time skips backoff and WAITs."""

from __future__ import annotations

import threading
import time

__all__ = ["SystemClock", "VirtualClock"]


class SystemClock:
    """Wall-clock time in epoch milliseconds."""

    virtual = False
    _last = 0

    def now_ms(self) -> int:
        """Now, in epoch ms (the same int object within one ms: tasks store several times each)."""
        now = int(time.time() * 1000)
        last = self._last
        if now == last:
            return last
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


class VirtualClock:
    """Time that only moves when flowkit waits: a 60 s retry backoff passes at once.

    Args:
        start_ms: The starting time, epoch ms (default 2024-01-01T00:00:00Z, so runs are repeatable).
    """

    virtual = True

    def __init__(self, start_ms: int = 1_704_067_200_000) -> None:
        self._now = start_ms
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        """Now, in virtual epoch ms."""
        return self._now

    def advance(self, ms: int) -> None:
        """Move time forward by ``ms``."""
        with self._lock:
            self._now += ms

    def sleep_until(self, when_ms: int, wake: threading.Event | None = None) -> None:
        """Jump to ``when_ms`` at once."""
        with self._lock:
            if when_ms > self._now:
                self._now = when_ms
