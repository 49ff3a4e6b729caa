"""What ``flowkit.run`` says while it blocks: one line when a task fails, and what happens next.

The lines go to the ``flowkit`` logger at WARNING, so ``logging.getLogger("flowkit").setLevel(logging.ERROR)``
silences them and any handler redirects them. With logging not configured, Python prints WARNING
records on stderr, which in Jupyter shows in the running cell.
"""

from __future__ import annotations

import logging

from flowkit.definitions._types import ERRORED_TASK_STATUSES, TaskStatus
from flowkit.engine import Engine, TaskModel
from flowkit.runtime._hooks import TaskEnded

__all__ = ["FailureReporter", "logger"]

logger = logging.getLogger("flowkit")

_REPORTED = ERRORED_TASK_STATUSES | {TaskStatus.COMPLETED_WITH_ERRORS}
_REASON_CHARS = 200
_ad_hoc_said: set[str] = set()  # task names whose ad-hoc defaults were explained, once per process


class FailureReporter:
    """A :class:`TaskEnded` hook that logs each failed attempt with its reason and what follows."""

    __slots__ = ("engine",)

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __call__(self, event: TaskEnded) -> None:
        self.report(event.task)

    def report(self, task: TaskModel) -> None:
        """Log ``task``'s attempt if it failed (the Runner calls it for every attempt that did not complete)."""
        if task.status not in _REPORTED or not logger.isEnabledFor(logging.WARNING):
            return
        label = f"'{task.ref}'" if task.ref == task.task_def_name else f"'{task.ref}' ({task.task_def_name})"
        reason = _short(task.reason or "no reason given")
        logger.warning("flowkit: task %s %s: %s. %s", label, task.status.value, reason, _next_step(task))
        if task.retried and task.node.kind == "SIMPLE":
            self._explain_ad_hoc(task)

    def _explain_ad_hoc(self, task: TaskModel) -> None:
        name = task.task_def_name
        if name in _ad_hoc_said or task.node.wt.task_definition is not None or name in self.engine.task_defs:
            return
        _ad_hoc_said.add(name)
        td = task.node.task_def
        logger.warning(
            "flowkit: task definition '%s' is not registered, so Conductor's ad-hoc defaults apply: %d retries, "
            "%d s apart (%s), response timeout %d s. To change them pass task_defs=[flowkit.TaskDef(name='%s', "
            "retry_count=..., retry_delay_seconds=...)].",
            name,
            td.retry_count,
            td.retry_delay_seconds,
            td.retry_logic,
            td.response_timeout_seconds,
            name,
        )


def _next_step(task: TaskModel) -> str:
    wf = task.workflow
    if task.retried:
        retry = next((t for t in reversed(wf.tasks) if t.retried_task_id == task.task_id), None)
        if retry is not None:
            delay = retry.start_delay or retry.callback_after_seconds
            when = f"in {_seconds(delay)}" if delay else "now"
            return f"Next: retry {retry.retry_count} of {task.node.expected_retries} {when}."
    which = "the workflow" if not wf.parent_workflow_id else f"sub-workflow '{wf.definition.name}'"
    outcome = f"{which} {wf.status.value}." if wf.status.is_terminal else f"{which} goes on."
    if task.status is TaskStatus.COMPLETED_WITH_ERRORS:
        return f"The task is optional: {outcome}"
    return f"Next: {outcome}" if wf.status.is_terminal else f"No retries left; {outcome}"


def _short(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else text
    return line if len(line) <= _REASON_CHARS else line[: _REASON_CHARS - 1] + "…"


def _seconds(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"
