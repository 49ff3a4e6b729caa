"""An in-process event bus for EVENT tasks.

A notebook subscribes to queues and sees what workflows publish (Conductor's
``conductor:<workflow>:<task>`` queue names, ``sqs:...`` kept as is).
"""

from __future__ import annotations

import fnmatch
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Event", "EventBus", "Subscription"]


@dataclass(frozen=True, slots=True)
class Event:
    """One published message."""

    queue: str
    """The queue (sink) it was published to."""
    payload: dict[str, Any]
    """The EVENT task's output: its input plus workflowInstanceId, workflowType, correlationId, ..."""


class Subscription:
    """A callback on queues matching a glob pattern; ``cancel()`` stops it."""

    def __init__(self, bus: EventBus, pattern: str, callback: Callable[[Event], Any]) -> None:
        self.bus = bus
        self.pattern = pattern
        self.callback = callback

    def cancel(self) -> None:
        """Stop receiving events."""
        self.bus._remove(self)


class EventBus:
    """Keeps the last ``history`` events and calls subscribers in the thread that runs the workflow.

    A subscriber that raises does not disturb the run: the exception is kept in ``errors``.
    """

    _default: EventBus | None = None

    def __init__(self, history: int = 10_000) -> None:
        self._subs: list[Subscription] = []
        self._events: deque[Event] = deque(maxlen=history)
        self._lock = threading.Lock()
        self.errors: list[tuple[Event, BaseException]] = []

    @classmethod
    def default(cls) -> EventBus:
        """The process-wide bus ``flowkit.run`` publishes to unless given another."""
        if cls._default is None:
            cls._default = cls()
        return cls._default

    def subscribe(self, pattern: str = "*", callback: Callable[[Event], Any] | None = None) -> Subscription:
        """Call ``callback(event)`` for queues matching ``pattern`` (``fnmatch`` glob, e.g. ``conductor:orders:*``)."""
        sub = Subscription(self, pattern, callback or (lambda event: None))
        with self._lock:
            self._subs.append(sub)
        return sub

    def _remove(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    def publish(self, queue: str, payload: dict[str, Any]) -> None:
        """Record an event and hand it to every matching subscriber."""
        event = Event(queue, payload)
        with self._lock:
            self._events.append(event)
            subs = [s for s in self._subs if fnmatch.fnmatchcase(queue, s.pattern)]
        for sub in subs:
            try:
                sub.callback(event)
            except Exception as exc:  # a notebook callback must not break the workflow
                self.errors.append((event, exc))

    def events(self, pattern: str = "*") -> list[Event]:
        """Recorded events on queues matching ``pattern``, oldest first."""
        with self._lock:
            return [e for e in self._events if fnmatch.fnmatchcase(e.queue, pattern)]

    def clear(self) -> None:
        """Forget recorded events and errors."""
        with self._lock:
            self._events.clear()
        self.errors.clear()
