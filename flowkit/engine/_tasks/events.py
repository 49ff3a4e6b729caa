"""EVENT: publish the task input to a sink (Conductor's ``EventTaskMapper``, ``Event.java``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowkit.definitions._types import TaskStatus
from flowkit.engine._tasks._common import _done, _start

if TYPE_CHECKING:
    from flowkit.engine._engine import Engine
    from flowkit.engine._state import TaskModel, WorkflowModel

__all__ = ["event"]

S = TaskStatus


def event(engine: Engine, wf: WorkflowModel, task: TaskModel, now: int, _: Any) -> None:
    from flowkit.engine._commands import Publish

    _start(task, now)
    sink = task.node.wt.sink or task.input.get("sink") or "conductor"
    if not isinstance(sink, str):
        task.output = {"error": f"EVENT task '{task.ref}' has a sink that is not a string: {sink!r}"}
        engine.finish(task, S.FAILED, now, task.output["error"])
        return
    # EventTaskMapper puts both into the task input, so they show in the input and the output
    task.input["sink"] = sink
    task.input["asyncComplete"] = bool(task.node.wt.async_complete)
    if sink == "conductor":
        queue = f"conductor:{wf.definition.name}:{task.ref}"
    elif sink.startswith("conductor:"):
        queue = f"conductor:{wf.definition.name}:{sink[len('conductor:') :]}"
    else:
        queue = sink
    payload = dict(task.input)
    payload.update(
        workflowInstanceId=wf.workflow_id,
        workflowType=wf.definition.name,
        workflowVersion=wf.definition.version,
        correlationId=wf.correlation_id,
        taskToDomain={},
        event_produced=queue,
    )
    task.output = payload
    engine._out.append(Publish(task, queue, payload))
    _done(engine, task, now)
