"""Workflow operations: restart, retry, and starting the failure workflow."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowkit.definitions._types import UNSUCCESSFUL_TASK_STATUSES

if TYPE_CHECKING:
    from flowkit.engine._engine import Engine
    from flowkit.engine._state import TaskModel, WorkflowModel

__all__ = [
    "pause_workflow",
    "rerun_workflow",
    "restart_workflow",
    "resume_workflow",
    "retry_workflow",
    "skip_task",
    "start_failure_workflow",
    "terminate_workflow",
]


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
    """Start ``failureWorkflow`` with Conductor's input (``WorkflowExecutorOps``, failure workflow)."""
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
        workflowId=wf.workflow_id,
        reason=wf.reason,
        failureStatus=str(wf.status),
        failedWorkflow=execution_to_json(wf),
    )
    if failed_task is not None:
        data["failureTaskId"] = failed_task.task_id
    started = engine.start_execution(definition, data, now, correlation_id=wf.correlation_id)
    wf.output["conductor.failure_workflow"] = started.workflow_id


_IN_PLACE = ("JOIN", "DO_WHILE")
_NEVER_COPIED = frozenset(
    {"DECISION", "SWITCH", "FORK_JOIN", "FORK_JOIN_DYNAMIC", "JOIN", "EXCLUSIVE_JOIN", "DO_WHILE"}
)


def restart_workflow(engine: Engine, wf: WorkflowModel, now: int, *, check_restartable: bool = True) -> None:
    """Conductor's restart (``WorkflowExecutorOps.restart``): same id, every task removed, start from the first task.

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
    if check_restartable and wf.status is WorkflowStatus.COMPLETED and not wf.definition.restartable:
        raise OperationNotAllowedError(
            f"Workflow {wf.workflow_id} is COMPLETED and its definition is not restartable (restartable: false).",
            workflow_id=wf.workflow_id,
        )
    for task in wf.tasks:
        task.retried = True  # stale timers and late updates for old attempts must find nothing to do
    wf.tasks, wf.refs, wf.full_refs, wf.id_index, wf.waiters = [], {}, {}, {}, {}
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
    """Conductor's retry (``WorkflowExecutorOps.retry``): a new attempt of the latest failed task of each ref.

    Raises:
        OperationNotAllowedError: the execution is not terminal, or there is nothing to retry.
    """
    from flowkit.definitions._types import TaskStatus, WorkflowStatus
    from flowkit.engine._tasks import HANDLERS
    from flowkit.engine._timers import arm_timeout
    from flowkit.errors import OperationNotAllowedError

    if not wf.status.is_terminal:
        raise OperationNotAllowedError(
            f"Workflow {wf.workflow_id} is {wf.status}: only a terminal workflow can be retried.",
            workflow_id=wf.workflow_id,
        )
    latest: dict[str, TaskModel] = {}
    for task in wf.tasks:
        latest[task.ref] = task
    failed = [t for t in latest.values() if t.status in UNSUCCESSFUL_TASK_STATUSES]
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
        arm_timeout(engine, attempt)
    for task in revive:
        if task.node.kind == "JOIN":
            for ref, held in list(wf.waiters.items()):
                if held is task:
                    del wf.waiters[ref]
                elif type(held) is list:
                    while task in held:
                        held.remove(task)
            HANDLERS["JOIN"](engine, wf, task, now, None)


def _not_allowed(wf: WorkflowModel, message: str) -> Exception:
    from flowkit.errors import OperationNotAllowedError

    return OperationNotAllowedError(message, workflow_id=wf.workflow_id)


def pause_workflow(engine: Engine, wf: WorkflowModel, now: int) -> None:
    """Conductor's pause (``WorkflowExecutorOps.pauseWorkflow``): nothing new is scheduled or started until resume."""
    from flowkit.definitions._types import WorkflowStatus

    if wf.status.is_terminal:
        raise _not_allowed(wf, f"Workflow {wf.workflow_id} is {wf.status}: a terminal workflow cannot be paused.")
    wf.status = WorkflowStatus.PAUSED
    wf.update_time = now


def resume_workflow(engine: Engine, wf: WorkflowModel, now: int) -> None:
    """Conductor's resume (``WorkflowExecutorOps.resumeWorkflow``): RUNNING again, the workflow-timeout clock restarts."""
    from flowkit.definitions._types import TaskStatus, WorkflowStatus

    if wf.status is not WorkflowStatus.PAUSED:
        raise _not_allowed(wf, f"The workflow {wf.workflow_id} is not PAUSED so cannot resume (it is {wf.status}).")
    wf.status = WorkflowStatus.RUNNING
    wf.update_time = wf.last_retried_time = now
    if wf.definition.timeout_seconds > 0:
        engine.timer(now + wf.definition.timeout_seconds * 1000, "workflow", wf)
    deferred, wf.deferred = wf.deferred, []
    engine.redecide(deferred)
    for task in wf.tasks:
        if task.status is TaskStatus.SCHEDULED and engine.is_dispatched(task):
            engine.dispatch(task, now)
    if wf.active == 0:
        engine.check(wf)


def terminate_workflow(engine: Engine, wf: WorkflowModel, reason: str | None, now: int) -> None:
    """Conductor's terminate (``WorkflowExecutorOps.terminateWorkflow``): TERMINATED, running tasks CANCELED, children terminated.

    The failure workflow is not started (the API path does not start it).
    """
    from flowkit.definitions._types import WorkflowStatus

    if wf.status is WorkflowStatus.TERMINATED:
        return
    if wf.status is WorkflowStatus.COMPLETED:
        raise _not_allowed(wf, f"Workflow {wf.workflow_id} is COMPLETED: a completed workflow cannot be terminated.")
    if wf.status.is_terminal:  # FAILED or TIMED_OUT: Conductor marks it TERMINATED all the same
        wf.status = WorkflowStatus.TERMINATED
        wf.reason = reason if reason is not None else wf.reason
        wf.update_time = now
        return
    engine.end(wf, WorkflowStatus.TERMINATED, reason, now, failure_workflow=False)


def rerun_workflow(
    engine: Engine,
    wf: WorkflowModel,
    now: int,
    *,
    from_task_id: str | None = None,
    task_input: dict[str, Any] | None = None,
    workflow_input: dict[str, Any] | None = None,
    correlation_id: str | None = None,
) -> None:
    """Conductor's rerun (``WorkflowExecutorOps.rerun``): from the start, or from one task with the tasks after it removed."""
    from flowkit.definitions._types import TaskStatus, WorkflowStatus
    from flowkit.engine._tasks import HANDLERS

    if not wf.status.is_terminal:
        raise _not_allowed(wf, f"Workflow {wf.workflow_id} is {wf.status}: only a terminal workflow can be rerun.")
    if workflow_input is not None:
        wf.input = dict(workflow_input)
    if correlation_id is not None:
        wf.correlation_id = correlation_id
    if from_task_id is None:
        restart_workflow(engine, wf, now, check_restartable=False)
        return
    task = wf.task_by_id(from_task_id)
    if task is None:
        from flowkit.errors import NotFoundError

        raise NotFoundError(f"workflow {wf.workflow_id} has no task {from_task_id!r} to rerun from")
    for later in wf.tasks:
        if later.seq > task.seq:
            later.retried = True  # stale timers and late worker results find nothing to do
    wf.tasks = [t for t in wf.tasks if t.seq <= task.seq]
    wf.failed_refs = {
        t.ref: None for t in wf.tasks if t is not task and t.status.value in ("FAILED", "FAILED_WITH_TERMINAL_ERROR")
    }
    wf.failed_names = {t.task_def_name: None for t in wf.tasks if t.ref in wf.failed_refs}
    wf.permissive_failures = []
    wf.terminated_by = None
    wf.status = WorkflowStatus.RUNNING
    wf.reason = None
    wf.output = {}
    wf.end_time = 0
    wf.update_time = wf.last_retried_time = now
    task.status = TaskStatus.SCHEDULED
    task.executed = task.retried = False
    task.output = {}
    task.reason = None
    task.start_time = task.end_time = 0
    task.scheduled_time = task.update_time = now
    task.poll_count = 0
    if task_input is not None:
        task.input = dict(task_input)
    engine.reindex(wf)
    if task.node.kind in ("SIMPLE", "HTTP"):
        engine.dispatch(task, now)
    else:
        HANDLERS[task.node.kind](engine, wf, task, now, None)


def skip_task(
    engine: Engine,
    wf: WorkflowModel,
    ref: str,
    now: int,
    *,
    task_input: dict[str, Any] | None = None,
    task_output: dict[str, Any] | None = None,
) -> None:
    """Conductor's skip task (``WorkflowExecutorOps.skipTaskFromWorkflow``): a SKIPPED attempt the decider passes over when it gets there."""
    from flowkit.definitions._types import TaskStatus, WorkflowStatus

    if wf.status is not WorkflowStatus.RUNNING:
        raise _not_allowed(
            wf, f"Workflow {wf.workflow_id} is {wf.status}: tasks can only be skipped while it is RUNNING."
        )
    node = wf.plan.nodes.get(ref)
    if node is None:
        raise _not_allowed(wf, f"Task '{ref}' is not part of workflow {wf.definition.name}; nothing to skip.")
    if node.loop is not None or node.container == "dynamic":
        raise _not_allowed(wf, f"Task '{ref}' runs inside a DO_WHILE; flowkit skips only tasks outside loops.")
    scheduled = wf.task_at(ref)
    if scheduled is not None:
        raise _not_allowed(
            wf,
            f"Task '{ref}' has already been scheduled ({scheduled.status}); only a task not reached yet can be skipped.",
        )
    skipped = engine.new_task(wf, node, now, iteration=0)
    # Conductor creates the SKIPPED task without a seq (skipTaskFromWorkflow): seq 0 lists it first
    wf.seq -= 1
    skipped.seq = 0
    wf.tasks.pop()
    at = next((i for i, t in enumerate(wf.tasks) if t.seq > 0), len(wf.tasks))
    wf.tasks = [*wf.tasks[:at], skipped, *wf.tasks[at:]]  # a new list: the id index is rebuilt
    wf.skipping = True
    wf.active -= 1
    skipped.status = TaskStatus.SKIPPED
    skipped.input = dict(task_input or {})
    skipped.output = dict(task_output or {})
    skipped.start_time = skipped.end_time = now


def recover_workflow(engine: Engine, wf: WorkflowModel, now: int) -> None:
    """Carry on an execution loaded from a store after its process died (after ``reindex``).

    A task handed to a worker that has not reported is run again (at least once); a retry waiting
    for its backoff, a WAIT and the workflow timeout resume at their original times; a task that
    ended but was not decided yet is decided now. Nothing that completed runs again.
    """
    from flowkit.definitions._types import TaskStatus
    from flowkit.engine._commands import Dispatch
    from flowkit.engine._timers import arm_timeout

    if wf.status.is_terminal:
        return
    if wf.definition.timeout_seconds > 0:
        since = wf.last_retried_time or wf.create_time
        engine.timer(since + wf.definition.timeout_seconds * 1000, "workflow", wf)
    if not wf.tasks:  # written when it started, before its first task was (a runner writes starts later)
        engine.begin(wf, now)
        return
    undecided = []
    for task in wf.tasks:
        if task.status.is_terminal:
            if not task.executed and not task.retried:
                undecided.append(task)
            continue
        if engine.is_dispatched(task):
            if task.status is TaskStatus.IN_PROGRESS:
                task.status = TaskStatus.SCHEDULED  # in flight when the process died: run it again
                engine.touch(task)
                due = now
            else:
                due = max(now, task.scheduled_time + task.callback_after_ms)
            engine._out.append(Dispatch((task, due)))
            continue
        arm_timeout(engine, task)
        if task.node.kind == "WAIT" and task.extra and "waitTimeout" in task.extra:
            engine.timer(task.extra["waitTimeout"], "wait", task)
        elif task.status is TaskStatus.SCHEDULED and task.callback_after_ms:
            engine.timer(task.scheduled_time + task.callback_after_ms, "start", task)
        elif task.node.kind == "JOIN" and task.extra is not None and not task.extra["pending"]:
            from flowkit.engine._tasks.fork import _evaluate_join

            _evaluate_join(engine, task, now)
    engine.redecide(undecided)
    if wf.active == 0:
        engine.check(wf)


def _unsuccessful(task: TaskModel) -> bool:
    return task.status.is_terminal and not task.status.is_successful


def deepest_failed(engine: Engine, task: TaskModel, wf: WorkflowModel) -> WorkflowModel:
    """The workflow a ``resumeSubworkflowTasks`` retry goes to (``findLastFailedSubWorkflowIfAny``)."""
    if not _unsuccessful(task):
        return wf
    if task.node.kind == "SUB_WORKFLOW":
        child = engine.executions.get(task.sub_workflow_id or "")
        if child is None:
            return wf
        failed = next((t for t in child.tasks if _unsuccessful(t)), None)
        return deepest_failed(engine, failed, child) if failed is not None else wf
    if task.node.kind == "DO_WHILE":
        failed = next((t for t in wf.tasks if t.node.kind == "SUB_WORKFLOW" and _unsuccessful(t)), None)
        return deepest_failed(engine, failed, wf) if failed is not None else wf
    return wf


def revive_parents(engine: Engine, wf: WorkflowModel, now: int) -> list[WorkflowModel]:
    """``updateAndPushParents``: every ancestor's SUB_WORKFLOW task IN_PROGRESS in place, ancestors RUNNING.

    Returns the ancestors revived (nearest first).
    """
    from flowkit.definitions._types import TaskStatus, WorkflowStatus
    from flowkit.engine._tasks import HANDLERS

    revived = []
    while wf.parent_workflow_id is not None:
        parent = engine.executions.get(wf.parent_workflow_id)
        task = parent.task_by_id(wf.parent_workflow_task_id or "") if parent is not None else None
        if parent is None or task is None or task.node.wt.optional or task.retried:
            break
        task.status = TaskStatus.IN_PROGRESS
        task.reason = None
        task.end_time = 0
        task.executed = False
        parent.status = WorkflowStatus.RUNNING
        parent.reason = None
        parent.end_time = 0
        parent.failure_task_id = None
        parent.failed_refs, parent.failed_names, parent.permissive_failures = {}, {}, []
        parent.terminated_by = None
        parent.update_time = parent.last_retried_time = now
        if parent.definition.timeout_seconds > 0:
            engine.timer(now + parent.definition.timeout_seconds * 1000, "workflow", parent)
        restart: list[TaskModel] = []
        for sibling in parent.tasks:
            if sibling is task or sibling.retried or not _unsuccessful(sibling):
                continue
            if sibling.node.kind == "SUB_WORKFLOW" and sibling.sub_workflow_id is not None:
                child = engine.executions.get(sibling.sub_workflow_id)
                if child is not None and child.status.is_terminal and any(_unsuccessful(t) for t in child.tasks):
                    retry_workflow(engine, child, now)
                    sibling.status, sibling.reason, sibling.end_time, sibling.executed = (
                        TaskStatus.IN_PROGRESS,
                        None,
                        0,
                        False,
                    )
            elif sibling.status is TaskStatus.CANCELED:
                if sibling.node.kind in _IN_PLACE:
                    sibling.status, sibling.end_time = TaskStatus.IN_PROGRESS, 0
                else:  # scheduled again in place, as Conductor does for a CANCELED sibling
                    sibling.retry_count += 1
                    sibling.reason = None
                    sibling.poll_count = 0
                    sibling.worker_id = None
                    sibling.scheduled_time = sibling.update_time = now
                    sibling.start_time = sibling.end_time = 0
                    sibling.executed = False
                    sibling.status = TaskStatus.SCHEDULED
                    restart.append(sibling)
        engine.reindex(parent)
        for sibling in parent.tasks:
            if sibling.node.kind == "JOIN" and not sibling.status.is_terminal and not (sibling.extra or {})["pending"]:
                from flowkit.engine._tasks.fork import _evaluate_join

                _evaluate_join(engine, sibling, now)
        for sibling in restart:
            if engine.is_dispatched(sibling):
                engine.dispatch(sibling, now)
            else:
                HANDLERS[sibling.node.kind](engine, parent, sibling, now, None)
        engine.touch_workflow(parent, all_tasks=True)
        revived.append(parent)
        wf = parent
    return revived


def pending_blocking_task(engine: Engine, wf: WorkflowModel) -> TaskModel | None:
    """The task a signal goes to (``TaskServiceImpl.findPendingBlockingTask``).

    The first WAIT that has not ended, else the same search in each running sub-workflow in turn.
    """
    for task in wf.tasks:
        if task.node.kind == "WAIT" and not task.status.is_terminal:
            return task
    for task in wf.tasks:
        if task.node.kind == "SUB_WORKFLOW" and not task.status.is_terminal and task.sub_workflow_id:
            child = engine.executions.get(task.sub_workflow_id)
            found = pending_blocking_task(engine, child) if child is not None else None
            if found is not None:
                return found
    return None
