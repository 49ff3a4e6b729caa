"""Workflow operations that start other executions (failure workflow)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowkit.engine._engine import Engine
    from flowkit.engine._state import TaskModel, WorkflowModel

__all__ = ["start_failure_workflow"]


def failure_workflow_name(wf: WorkflowModel) -> str | None:
    """The failure workflow's name; ``$workflow.input.key`` reads it from the input (Conductor's rule)."""
    name = wf.definition.failure_workflow
    if not name:
        return None
    if name.startswith("$"):
        parts = name.split(".")
        value = wf.input.get(parts[2]) if len(parts) > 2 else None
        return str(value) if value else None
    return name


def start_failure_workflow(engine: Engine, wf: WorkflowModel, failed_task: TaskModel | None, now: int) -> None:
    """Start ``failureWorkflow`` with Conductor's input (§7 item 9)."""
    from flowkit.definitions._wire import execution_to_json

    name = failure_workflow_name(wf)
    if name is None:
        return
    definition = engine.workflows.get(name, wf.definition.failure_workflow_version)
    if definition is None:
        wf.output["conductor.failure_workflow"] = f"Error starting failure workflow {name}: not registered"
        return
    data = dict(wf.input)
    data.update(
        workflowId=wf.workflow_id, reason=wf.reason, failureStatus=str(wf.status),
        failedWorkflow=execution_to_json(wf),
    )  # fmt: skip
    if failed_task is not None:
        data["failureTaskId"] = failed_task.task_id
    started = engine.start_execution(definition, data, now, correlation_id=wf.correlation_id)
    wf.output["conductor.failure_workflow"] = started.workflow_id
