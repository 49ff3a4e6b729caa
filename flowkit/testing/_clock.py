"""A virtual clock: every wait in flowkit goes through a clock, so virtual time skips backoff and WAITs."""

from __future__ import annotations

import threading

__all__ = ["VirtualClock"]


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
