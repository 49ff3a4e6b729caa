"""Tasks that run on a worker: SIMPLE, DYNAMIC (its name from the input) and HTTP (Conductor's ``SimpleTaskMapper``, ``DynamicTaskMapper``, ``HttpTaskMapper``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowkit.definitions._types import TaskStatus, WorkflowStatus
from flowkit.engine._execution_plan import Node

if TYPE_CHECKING:
    from flowkit.engine._engine import Engine
    from flowkit.engine._state import TaskModel, WorkflowModel

__all__ = ["http", "prepare_dynamic", "simple"]

S = TaskStatus


def simple(engine: Engine, wf: WorkflowModel, task: TaskModel, now: int, _: Any) -> None:
    engine.dispatch(task, now)


def prepare_dynamic(engine: Engine, wf: WorkflowModel, node: Node, task_id: str, now: int) -> Any:
    """DYNAMIC: the task name comes from the input (``dynamicTaskNameParam``)."""
    data = engine.resolve_input(wf, node, task_id)
    param = node.wt.dynamic_task_name_param or "taskToExecute"
    name = data.get(param)
    if not name:
        engine.end(
            wf,
            WorkflowStatus.FAILED,
            f"Cannot map a dynamic task based on the parameter and input. Parameter= {param}, input= {data}",
            now,
        )
        return None
    runtime = wf.plan.runtime_node(node.wt.evolve(name=str(name), type="SIMPLE"), node.owner, node.loop)
    runtime.ref, runtime.next, runtime.container = node.ref, node.next, node.container
    return runtime, data, None


def http(engine: Engine, wf: WorkflowModel, task: TaskModel, now: int, _: Any) -> None:
    engine.dispatch(task, now)
