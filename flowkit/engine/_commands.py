"""What the engine asks its runner to do. The engine never does IO itself."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowkit.engine._state import TaskModel, WorkflowModel

__all__ = ["Command", "Dispatch", "DispatchAll", "Ended", "Publish"]


class Command:
    """Base class of engine commands."""

    __slots__ = ()


class Dispatch(tuple["TaskModel", int], Command):
    """Hand ``task`` to a worker (SIMPLE, HTTP) no earlier than ``not_before`` (epoch ms).

    The pair ``(task, not_before)``, made as ``Dispatch((task, not_before))``: tuple's own constructor
    runs no Python code (every task start of a chain makes one). Read it by name or unpack it.
    """

    __slots__ = ()

    @property
    def task(self) -> TaskModel:
        return self[0]

    @property
    def not_before(self) -> int:
        return self[1]

    def __repr__(self) -> str:
        return f"Dispatch({self.task.ref}, not_before={self.not_before})"


class DispatchAll(tuple["list[TaskModel]", int], Command):
    """Hand each of ``tasks`` to a worker, in order, no earlier than ``not_before`` (epoch ms).

    A dynamic fork's branches in one command, ``DispatchAll((tasks, not_before))``: the same as a
    :class:`Dispatch` for each, without one per branch. Read it by name or unpack it.
    """

    __slots__ = ()

    @property
    def tasks(self) -> list[TaskModel]:
        return self[0]

    @property
    def not_before(self) -> int:
        return self[1]

    def __repr__(self) -> str:
        return f"DispatchAll({len(self.tasks)} tasks, not_before={self.not_before})"


class Ended(Command):
    """``workflow`` reached a terminal status."""

    __slots__ = ("workflow",)

    def __init__(self, workflow: WorkflowModel) -> None:
        self.workflow = workflow

    def __repr__(self) -> str:
        return f"Ended({self.workflow.workflow_id}, {self.workflow.status})"


class Publish(Command):
    """An EVENT task published ``payload`` to ``queue``."""

    __slots__ = ("payload", "queue", "task")

    def __init__(self, task: TaskModel, queue: str, payload: dict[str, Any]) -> None:
        self.task = task
        self.queue = queue
        self.payload = payload
