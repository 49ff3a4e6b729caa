"""The small system tasks: NOOP, SET_VARIABLE, TERMINATE (Conductor's ``Noop.java``, ``SetVariable.java``, ``Terminate.java``)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from flowkit.definitions._types import TaskStatus, WorkflowStatus
from flowkit.engine._tasks._common import _start

if TYPE_CHECKING:
    from flowkit.engine._engine import Engine
    from flowkit.engine._state import TaskModel, WorkflowModel

__all__ = ["VARIABLES_LIMIT_BYTES", "noop", "set_variable", "terminate"]

S = TaskStatus


VARIABLES_LIMIT_BYTES = 256 * 1024


def noop(engine: Engine, wf: WorkflowModel, task: TaskModel, now: int, _: Any) -> None:
    _start(task, now)
    engine.finish(task, S.COMPLETED, now)


def set_variable(engine: Engine, wf: WorkflowModel, task: TaskModel, now: int, _: Any) -> None:
    _start(task, now)
    before = dict(wf.variables)
    wf.variables.update(task.input)
    size = len(json.dumps(wf.variables, default=str).encode())
    if size > VARIABLES_LIMIT_BYTES:
        wf.variables.clear()
        wf.variables.update(before)
        engine.finish(
            task,
            S.FAILED_WITH_TERMINAL_ERROR,
            now,
            f"The variables payload size: {size} of workflow: {wf.workflow_id} is greater than the permissible "
            f"limit: {VARIABLES_LIMIT_BYTES // 1024} kilobytes",
        )
        return
    engine.finish(task, S.COMPLETED, now)


def terminate(engine: Engine, wf: WorkflowModel, task: TaskModel, now: int, _: Any) -> None:
    _start(task, now)
    status = task.input.get("terminationStatus")
    if status not in ("COMPLETED", "FAILED", "TERMINATED"):
        engine.finish(task, S.FAILED, now, f"given termination status is not valid: {status!r}")
        return
    value = task.input.get("workflowOutput")
    task.output = value if isinstance(value, dict) else ({} if value is None else {"output": value})
    engine.finish(task, S.COMPLETED, now)
    wf.terminated_by = task
    reason = task.input.get("terminationReason") or f"Workflow is {status} by TERMINATE task: {task.task_id}"
    engine.end(wf, WorkflowStatus(status), reason, now, failed_task=None if status == "COMPLETED" else task)
