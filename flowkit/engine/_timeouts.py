"""Retries and timeouts (Conductor's ``DeciderService``: ``retry``, ``checkTaskTimeout``, ``isResponseTimedOut``).

The delay before a retry, the next attempt, and what each timer does when it fires: response, poll,
total and task timeouts, the workflow timeout, and delayed starts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flowkit.definitions import TaskDef
from flowkit.definitions._types import TaskStatus, TimeoutPolicy, WorkflowStatus

if TYPE_CHECKING:
    from flowkit.engine._engine import Engine
    from flowkit.engine._state import TaskModel, WorkflowModel

__all__ = ["arm_timeout", "fire", "retry_attempt", "retry_delay_ms"]

S = TaskStatus
# Handled by their own task type: a failed SWITCH, FORK or JOIN is not retried.
_BUILT_IN = frozenset({"DECISION", "SWITCH", "FORK_JOIN", "FORK_JOIN_DYNAMIC", "JOIN", "EXCLUSIVE_JOIN", "DO_WHILE"})
_INT_MAX = 2147483647


def _no_jitter(n: int) -> int:
    return 0


def retry_delay_ms(td: TaskDef, retry_count: int, jitter: Callable[[int], int]) -> int:
    """Delay before the retry of an attempt whose 0-based ``retry_count`` just failed (``DeciderService.retry``)."""
    logic = td.retry_logic
    if logic == "LINEAR_BACKOFF":
        delay = td.retry_delay_seconds * td.backoff_scale_factor * (retry_count + 1)
    elif logic == "EXPONENTIAL_BACKOFF":
        # 2**retry_count saturates long before 63; never build a huge int for a huge retry count
        delay = td.retry_delay_seconds * (2 ** min(retry_count, 63))
    else:
        delay = td.retry_delay_seconds
    if delay > _INT_MAX or delay < 0:
        delay = _INT_MAX  # Conductor computes in Java int and clamps an overflow to Integer.MAX_VALUE
    if td.max_retry_delay_seconds > 0:
        delay = min(delay, td.max_retry_delay_seconds)
    ms = delay * 1000
    if td.backoff_jitter_ms > 0:
        ms += jitter(td.backoff_jitter_ms)
    return ms


def retry_attempt(engine: Engine, task: TaskModel, now: int) -> bool:
    """Schedule the next attempt (``DeciderService.retry``); True when handled (retried, or the workflow ended)."""
    node = task.node
    if not task.status.is_retriable or node.kind in _BUILT_IN or node.expected_retries <= task.retry_count:
        return False
    td = node.task_def
    wf = task.workflow
    if td.total_timeout_seconds > 0 and now - task.first_scheduled_time >= td.total_timeout_seconds * 1000:
        status = WorkflowStatus.TIMED_OUT if task.status is S.TIMED_OUT else WorkflowStatus.FAILED
        engine.end(
            wf, status,
            f"Task {task.task_id} of '{task.ref}' exceeded its total timeout of {td.total_timeout_seconds} seconds "
            f"(taskDef {td.name}); no more retries. Last reason: '{task.reason}'",
            now, failed_task=task,
        )  # fmt: skip
        return True
    delay = retry_delay_ms(td, task.retry_count, engine.jitter)
    seconds = retry_delay_ms(td, task.retry_count, _no_jitter) // 1000  # callbackAfterSeconds excludes jitter
    task.retried = True
    retry = engine.new_task(wf, node, now, iteration=task.iteration)
    retry.retry_count = task.retry_count + 1
    retry.retried_task_id = task.task_id
    retry.reason = task.reason
    retry.first_scheduled_time = task.first_scheduled_time
    retry.input = engine.resolve_input(wf, node, retry.task_id)
    if node.kind == "SIMPLE":
        retry.start_delay = seconds
        engine.dispatch(retry, now, delay, seconds)
    else:
        retry.callback_after_seconds = seconds
        retry.callback_after_ms = delay
        if delay:
            engine.timer(now + delay, "start", retry)
        else:
            fire(engine, "start", retry, now)
    return True


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
        _policy(engine,
            task, now,
            f"Task timed out after {elapsed} seconds. Timeout configured as {td.timeout_seconds} seconds. "
            f"Timeout policy configured to {td.timeout_policy}",
        )  # fmt: skip
    elif kind == "poll":
        if task.status is not S.SCHEDULED:
            return
        elapsed = (now - task.scheduled_time - task.start_delay * 1000) // 1000  # Conductor's pollElapsedTime
        _policy(engine,
            task, now,
            f"Task poll timed out after {elapsed} seconds. Poll timeout configured as {td.poll_timeout_seconds} "
            f"seconds. Timeout policy configured to {td.timeout_policy}",
        )  # fmt: skip
    elif kind == "total":
        _policy(engine,
            task, now,
            f"Task total timeout of {td.total_timeout_seconds} seconds exceeded (first scheduled "
            f"{(now - task.first_scheduled_time) // 1000} seconds ago). Timeout policy configured to {td.timeout_policy}",
        )  # fmt: skip
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
            wf, WorkflowStatus.TIMED_OUT,
            f"Workflow timed out after {(now - since) // 1000} seconds. Timeout configured as "
            f"{definition.timeout_seconds} seconds. Timeout policy configured to {definition.timeout_policy}",
            now,
        )  # fmt: skip
