"""Retries (Conductor's ``DeciderService.retry``): the delay before a retry and the next attempt."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from flowkit.definitions import TaskDef
from flowkit.definitions._types import TaskStatus, WorkflowStatus
from flowkit.engine._timers import fire

if TYPE_CHECKING:
    from flowkit.engine._engine import Engine
    from flowkit.engine._state import TaskModel

__all__ = ["retry_attempt", "retry_delay_ms"]

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
            wf,
            status,
            f"Task {task.task_id} of '{task.ref}' exceeded its total timeout of {td.total_timeout_seconds} seconds "
            f"(taskDef {td.name}); no more retries. Last reason: '{task.reason}'",
            now,
            failed_task=task,
        )
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
