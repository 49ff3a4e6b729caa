"""Typed hooks: what a progress bar or the notebook monitor hears about a run while it goes on.

Callbacks run on the thread that drives the engine, between two steps of the run: they must be
quick and must not block (hand work to another thread instead). An exception in a callback stops
the run, as an exception in the runner would.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from flowkit.engine import TaskModel, WorkflowModel

__all__ = ["Hooks", "RunEnded", "RunEvent", "RunStarted", "TaskEnded", "TaskStarted"]


@dataclass(frozen=True, slots=True)
class RunStarted:
    """``Runtime.start`` started ``workflow`` (sub-workflows the engine starts are not reported)."""

    workflow: WorkflowModel
    """The new execution's state (read-only)."""


@dataclass(frozen=True, slots=True)
class TaskStarted:
    """A worker task was handed to a worker (or left for outside completion)."""

    task: TaskModel
    """The attempt, IN_PROGRESS (read-only)."""

    @property
    def workflow(self) -> WorkflowModel:
        """The execution the task belongs to."""
        return self.task.workflow


@dataclass(frozen=True, slots=True)
class TaskEnded:
    """A worker reported an attempt's result (outside ``complete_task`` / ``fail_task`` are not reported)."""

    task: TaskModel
    """The attempt, after the engine applied the result (read-only)."""

    @property
    def workflow(self) -> WorkflowModel:
        """The execution the task belongs to."""
        return self.task.workflow


@dataclass(frozen=True, slots=True)
class RunEnded:
    """``workflow`` (an execution or a sub-workflow) reached a terminal status."""

    workflow: WorkflowModel
    """The ended execution's state (read-only)."""


RunEvent = RunStarted | TaskStarted | TaskEnded | RunEnded
"""Any hook event."""

E = TypeVar("E", RunStarted, TaskStarted, TaskEnded, RunEnded)
Callback = Callable[[Any], None]


class Hooks:
    """The callbacks of one runtime, per event type (``runtime.hooks``).

    Adding and removing is safe from any thread: the runner reads immutable tuples, so a callback
    added or removed while a run goes on takes effect at the next event.
    """

    __slots__ = ("_lock", "run_ended", "run_started", "task_ended", "task_started")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.run_started: tuple[Callable[[RunStarted], None], ...] = ()
        self.task_started: tuple[Callable[[TaskStarted], None], ...] = ()
        self.task_ended: tuple[Callable[[TaskEnded], None], ...] = ()
        self.run_ended: tuple[Callable[[RunEnded], None], ...] = ()

    def add(self, event: type[E], callback: Callable[[E], None]) -> Callable[[], None]:
        """Call ``callback(event)`` for every event of this type; returns a function that removes it.

        ``runtime.hooks.add(TaskEnded, lambda e: bar.update(1))`` drives a progress bar.
        """
        slot: str = _SLOTS[event]
        with self._lock:
            setattr(self, slot, (*getattr(self, slot), callback))
        return lambda: self.remove(event, callback)

    def remove(self, event: type[E], callback: Callable[[E], None]) -> None:
        """Stop calling ``callback`` (nothing happens when it was not added)."""
        slot: str = _SLOTS[event]
        with self._lock:
            found: tuple[Callback, ...] = getattr(self, slot)
            if callback in found:
                index = found.index(callback)
                setattr(self, slot, found[:index] + found[index + 1 :])


_SLOTS: dict[type[Any], str] = {
    RunStarted: "run_started",
    TaskStarted: "task_started",
    TaskEnded: "task_ended",
    RunEnded: "run_ended",
}
