"""What every task family does the same way: start an attempt, complete a system task."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowkit.definitions._types import TaskStatus

if TYPE_CHECKING:
    from flowkit.engine._engine import Engine
    from flowkit.engine._state import TaskModel

__all__ = ["_done", "_start"]

S = TaskStatus


def _start(task: TaskModel, now: int) -> None:
    task.status = S.IN_PROGRESS
    task.start_time = now
    task.update_time = now


def _done(engine: Engine, task: TaskModel, now: int) -> None:
    """Complete a system task, or leave it IN_PROGRESS when it completes asynchronously."""
    if task.node.wt.async_complete or task.input.get("asyncComplete") is True:
        return
    engine.finish(task, S.COMPLETED, now)
