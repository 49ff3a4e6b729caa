"""Operations that change an execution in more than one engine step (the Execution handle only asks)."""

from __future__ import annotations

from typing import Any

from flowkit.definitions._types import TaskStatus, WorkflowStatus
from flowkit.engine import Command, Engine, TaskModel, WorkflowModel
from flowkit.errors import NotFoundError

__all__ = ["restart", "retry"]


def restart(engine: Engine, wf: WorkflowModel, now: int, *, use_latest_definitions: bool = False) -> list[Command]:
    """Start a terminal execution over, on the latest registered definition when asked."""
    if use_latest_definitions:
        latest = engine.workflows.get(wf.definition.name)
        if latest is not None and wf.status.is_terminal:
            wf.definition, wf.plan = latest, engine.plan(latest)
    return engine.restart(wf, now)


def retry(engine: Engine, wf: WorkflowModel, now: int, *, resume_subworkflow_tasks: bool = False) -> list[Command]:
    """Retry a terminal execution from its failed tasks (inside a failed child with ``resume_subworkflow_tasks``)."""
    if resume_subworkflow_tasks:
        child = _failed_child(engine, wf)
        if child is not None:
            return _retry_inside(engine, wf, child, now)
    return engine.retry(wf, now)


def _failed_child(engine: Engine, wf: WorkflowModel) -> WorkflowModel | None:
    latest: dict[str, TaskModel] = {}
    for task in wf.tasks:
        latest[task.ref] = task
    for task in latest.values():
        if task.node.kind == "SUB_WORKFLOW" and not task.status.is_successful and task.sub_workflow_id:
            child = engine.executions.get(task.sub_workflow_id)
            if child is not None and child.status.is_terminal:
                return child
    return None


def _retry_inside(engine: Engine, wf: WorkflowModel, child: WorkflowModel, now: int) -> list[Any]:
    """``resumeSubworkflowTasks``: retry the failed child in place.

    The parent task and the parent go back to RUNNING so the child's end is reported to it again.
    """
    task = wf.task_by_id(child.parent_workflow_task_id or "")
    if task is None:
        raise NotFoundError(
            f"workflow {wf.workflow_id} has no task {child.parent_workflow_task_id!r} (sub-workflow {child.workflow_id})"
        )
    commands = engine.retry(child, now)
    if child.status.is_terminal:
        return commands
    task.status = TaskStatus.IN_PROGRESS
    task.end_time = 0
    task.executed = False
    task.reason = None
    wf.status = WorkflowStatus.RUNNING
    wf.reason = None
    wf.end_time = 0
    wf.update_time = wf.last_retried_time = now
    engine.reindex(wf)
    return commands + engine.settle(now)
