"""Timers and timeouts (Conductor's ``DeciderService``: ``checkTaskTimeout``, ``isResponseTimedOut``).

What each timer does when it fires: response, poll, total and task timeouts, the workflow timeout,
and delayed starts. Retries live in ``_retries``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowkit.definitions._types import TaskStatus, TimeoutPolicy, WorkflowStatus

if TYPE_CHECKING:
    from flowkit.engine._engine import Engine
    from flowkit.engine._state import TaskModel, WorkflowModel

__all__ = ["arm_timeout", "fire"]

S = TaskStatus


def arm_timeout(engine: Engine, task: TaskModel) -> None:
    """Start the ``timeoutSeconds`` clock of a started system task (WAIT, HUMAN, SUB_WORKFLOW, ...).

    Conductor's ``DeciderService.checkTaskTimeout`` applies to every task type with a start time;
    worker tasks get theirs when polled (``Engine.task_started``).
    """
    td = task.node.task_def
    if td.timeout_seconds > 0 and task.start_time and not task.status.is_terminal and not engine.is_dispatched(task):
        engine.timer(task.start_time + (task.start_delay + td.timeout_seconds) * 1000, "timeout", task)


def fire(engine: Engine, kind: str, subject: Any, now: int) -> None:
    if kind == "workflow":
        _workflow_timeout(engine, subject, now)
        return
    task: TaskModel = subject
    wf = task.workflow
    if task.status.is_terminal or wf.status.is_terminal:
        return
    td = task.node.task_def
    if kind == "response":
        if task.status is not S.IN_PROGRESS:
            return
        due = task.update_time + (task.response_timeout_seconds + task.callback_after_seconds) * 1000
        if now < due:
            engine.timer(due, "response", task)
            return
        task.reason = (
            f"responseTimeout: {task.response_timeout_seconds} exceeded for the taskId: {task.task_id} "
            f"with Task Definition: {td.name}"
        )
        engine.finish(task, S.TIMED_OUT, now)
    elif kind == "timeout":
        elapsed = (now - task.start_time - task.start_delay * 1000) // 1000  # Conductor's elapsedTime
        _policy(
            engine,
            task,
            now,
            f"Task timed out after {elapsed} seconds. Timeout configured as {td.timeout_seconds} seconds. "
            f"Timeout policy configured to {td.timeout_policy}",
        )
    elif kind == "poll":
        if task.status is not S.SCHEDULED:
            return
        elapsed = (now - task.scheduled_time - task.start_delay * 1000) // 1000  # Conductor's pollElapsedTime
        _policy(
            engine,
            task,
            now,
            f"Task poll timed out after {elapsed} seconds. Poll timeout configured as {td.poll_timeout_seconds} "
            f"seconds. Timeout policy configured to {td.timeout_policy}",
        )
    elif kind == "total":
        _policy(
            engine,
            task,
            now,
            f"Task total timeout of {td.total_timeout_seconds} seconds exceeded (first scheduled "
            f"{(now - task.first_scheduled_time) // 1000} seconds ago). Timeout policy configured to {td.timeout_policy}",
        )
    else:
        from flowkit.engine._tasks import fire as fire_task_timer

        fire_task_timer(engine, kind, task, now)


def _policy(engine: Engine, task: TaskModel, now: int, reason: str) -> None:
    policy = task.node.task_def.timeout_policy
    if policy == TimeoutPolicy.ALERT_ONLY:
        return
    task.reason = reason
    engine.finish(task, S.TIMED_OUT, now)
    if policy == TimeoutPolicy.TIME_OUT_WF:
        engine.end(task.workflow, WorkflowStatus.TIMED_OUT, reason, now, failed_task=task)


def _workflow_timeout(engine: Engine, wf: WorkflowModel, now: int) -> None:
    definition = wf.definition
    if wf.status.is_terminal or definition.timeout_seconds <= 0:
        return
    since = wf.last_retried_time or wf.create_time
    due = since + definition.timeout_seconds * 1000
    if now < due:
        engine.timer(due, "workflow", wf)
        return
    if definition.timeout_policy == TimeoutPolicy.TIME_OUT_WF:
        engine.end(
            wf,
            WorkflowStatus.TIMED_OUT,
            f"Workflow timed out after {(now - since) // 1000} seconds. Timeout configured as "
            f"{definition.timeout_seconds} seconds. Timeout policy configured to {definition.timeout_policy}",
            now,
        )
