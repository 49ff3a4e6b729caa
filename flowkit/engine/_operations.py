"""Workflow operations: restart, retry, and starting the failure workflow."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowkit.engine._engine import Engine
    from flowkit.engine._state import TaskModel, WorkflowModel

__all__ = ["restart_workflow", "retry_workflow", "start_failure_workflow"]


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


_RETRY_SET = ("FAILED", "FAILED_WITH_TERMINAL_ERROR", "TIMED_OUT", "CANCELED")
_IN_PLACE = ("JOIN", "DO_WHILE")
_NEVER_COPIED = frozenset(
    {"DECISION", "SWITCH", "FORK_JOIN", "FORK_JOIN_DYNAMIC", "JOIN", "EXCLUSIVE_JOIN", "DO_WHILE"}
)


def restart_workflow(engine: Engine, wf: WorkflowModel, now: int) -> None:
    """Conductor's restart (§7 item 5): same id, every task removed, start from the first task.

    Raises:
        OperationNotAllowedError: the execution is not terminal, or it COMPLETED and is not restartable.
    """
    from flowkit.definitions._types import WorkflowStatus
    from flowkit.errors import OperationNotAllowedError

    if not wf.status.is_terminal:
        raise OperationNotAllowedError(
            f"Workflow {wf.workflow_id} is {wf.status}: only a terminal workflow can be restarted. "
            "Fix: terminate it first, or wait for it to end.",
            workflow_id=wf.workflow_id,
        )
    if wf.status is WorkflowStatus.COMPLETED and not wf.definition.restartable:
        raise OperationNotAllowedError(
            f"Workflow {wf.workflow_id} is COMPLETED and its definition is not restartable (restartable: false).",
            workflow_id=wf.workflow_id,
        )
    for task in wf.tasks:
        task.retried = True  # stale timers and late updates for old attempts must find nothing to do
    wf.tasks, wf.refs, wf.full_refs, wf.by_id, wf.waiters = [], {}, {}, {}, {}
    wf.active = wf.seq = wf.dynamic_forks = 0
    wf.failed_refs, wf.failed_names, wf.permissive_failures = {}, {}, []
    wf.terminated_by = None
    wf.reason = None
    wf.output = {}
    wf.variables = dict(wf.definition.variables)
    wf.status = WorkflowStatus.RUNNING
    wf.create_time = wf.update_time = now
    wf.end_time = wf.last_retried_time = 0
    if wf.definition.timeout_seconds > 0:
        engine.timer(now + wf.definition.timeout_seconds * 1000, "workflow", wf)
    engine.begin(wf, now)


def retry_workflow(engine: Engine, wf: WorkflowModel, now: int) -> None:
    """Conductor's retry (§7 item 6): a new attempt of the latest failed task of each ref.

    Raises:
        OperationNotAllowedError: the execution is not terminal, or there is nothing to retry.
    """
    from flowkit.definitions._types import TaskStatus, WorkflowStatus
    from flowkit.engine._tasks import HANDLERS
    from flowkit.errors import OperationNotAllowedError

    if not wf.status.is_terminal:
        raise OperationNotAllowedError(
            f"Workflow {wf.workflow_id} is {wf.status}: only a terminal workflow can be retried.",
            workflow_id=wf.workflow_id,
        )
    latest: dict[str, TaskModel] = {}
    for task in wf.tasks:
        latest[task.ref] = task
    failed = [t for t in latest.values() if t.status.value in _RETRY_SET]
    # JOIN / DO_WHILE go back to IN_PROGRESS in place (a JOIN's joinOn is not in its inputParameters)
    revive = [t for t in failed if t.node.kind in _IN_PLACE]
    copies = [t for t in failed if t.node.kind not in _NEVER_COPIED]
    if not copies and not revive and wf.status is not WorkflowStatus.TIMED_OUT:
        raise OperationNotAllowedError(
            "There are no retryable tasks! Use restart if you want to attempt entire workflow execution again.",
            workflow_id=wf.workflow_id,
        )
    wf.status = WorkflowStatus.RUNNING
    wf.reason = None
    wf.end_time = 0
    wf.update_time = wf.last_retried_time = now
    wf.terminated_by = None
    if wf.definition.timeout_seconds > 0:
        engine.timer(now + wf.definition.timeout_seconds * 1000, "workflow", wf)
    wf.permissive_failures = [t for t in wf.permissive_failures if t not in copies]
    for task in revive:
        task.status = TaskStatus.IN_PROGRESS
        task.end_time = 0
        wf.active += 1
    for task in copies:
        task.retried = True
        attempt = engine.new_task(wf, task.node, now, iteration=task.iteration)
        attempt.retry_count = task.retry_count + 1
        attempt.retried_task_id = task.task_id
        attempt.reason = task.reason
        attempt.start_delay = task.node.wt.start_delay
        attempt.input = engine.resolve_input(wf, task.node, attempt.task_id)
        HANDLERS[task.node.kind](engine, wf, attempt, now, None)
    for task in revive:
        if task.node.kind == "JOIN":
            for waiters in wf.waiters.values():
                while task in waiters:
                    waiters.remove(task)
            HANDLERS["JOIN"](engine, wf, task, now, None)
