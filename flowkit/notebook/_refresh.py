"""A background refresher that coalesces change notifications into at most a few refreshes a second.

The runtime thread calls :meth:`Refresher.poke` for every engine command (cheap: a flag and, the
first time, an Event); a daemon thread wakes, waits until ``min_interval`` has passed since the last
refresh, and refreshes once for however many pokes arrived meanwhile. While ``active()`` is true it
also refreshes every ``poll_interval`` seconds, for changes that send no command (a HUMAN task
starting, a worker's attempt running long). Nothing here ever blocks the caller of ``poke``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["Refresher"]


class Refresher:
    """Call ``refresh()`` on a daemon thread, throttled to one call per ``min_interval`` seconds.

    Args:
        refresh: Does the work; returns how many seconds from now it wants to be called again even
            without a poke (something was left stale on purpose, e.g. a diagram throttled on its
            own), or None.
        active: True while the watched thing can change by itself: then refresh at least every
            ``poll_interval`` seconds.
        min_interval: Least time between two refreshes (0.25 s: at most 4 a second).
        poll_interval: Refresh period while ``active()`` without pokes.
        name: The thread's name.

    """

    def __init__(
        self,
        refresh: Callable[[], float | None],
        *,
        active: Callable[[], bool],
        min_interval: float = 0.25,
        poll_interval: float = 1.0,
        name: str = "flowkit-refresh",
    ) -> None:
        self._refresh = refresh
        self._active = active
        self.min_interval = min_interval
        self.poll_interval = poll_interval
        self.count = 0
        """Refreshes done so far."""
        self.last_error: BaseException | None = None
        """The last exception ``refresh`` raised (refreshing goes on)."""
        self._pending = False
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._last = time.monotonic()  # the owner has just refreshed: the first background one waits
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def poke(self, *_: object) -> None:
        """Ask for a refresh soon; safe and cheap from any thread (also usable as a listener)."""
        if not self._pending:
            self._pending = True
            self._wake.set()

    def stop(self) -> None:
        """Stop the thread (a refresh in progress finishes first)."""
        self._stopped.set()
        self._wake.set()

    @property
    def alive(self) -> bool:
        """True until :meth:`stop`."""
        return not self._stopped.is_set()

    def _loop(self) -> None:
        again: float | None = None
        while not self._stopped.is_set():
            try:
                timeout = self.poll_interval if self._active() else None
            except Exception:  # noqa: BLE001 - a view must never kill its own thread
                timeout = self.poll_interval
            if again is not None:
                timeout = again if timeout is None else min(timeout, again)
            self._wake.wait(timeout)
            self._wake.clear()
            if self._stopped.is_set():
                return
            wait = self._last + self.min_interval - time.monotonic()
            if wait > 0 and self._stopped.wait(wait):
                return
            # Pokes that arrive from now on ask for the next refresh; earlier ones are served by this one.
            self._pending = False
            try:
                again = self._refresh()
            except Exception as exc:  # noqa: BLE001 - e.g. a dict resized while read: next time
                self.last_error = exc
                again = self.min_interval
            self.count += 1
            self._last = time.monotonic()
