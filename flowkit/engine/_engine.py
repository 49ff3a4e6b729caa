"""The engine: a pure state machine over workflow executions.

Events go in (start, a worker picked a task up, a task result, the clock reached a deadline, an
operation); the state changes and commands come out (:mod:`flowkit.engine._commands`). The engine
never reads a clock, sleeps, starts a thread or makes ids: ``now`` comes with every event and
``new_id`` / ``jitter`` are injected. Failures become task and workflow statuses, not exceptions.
What happens between events is the decider's (:mod:`flowkit.engine._decider`).
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from flowkit.definitions import TaskDef, WorkflowDef
from flowkit.definitions._types import TaskStatus, WorkflowStatus
from flowkit.engine._commands import Command, Dispatch
from flowkit.engine._decider import _REBUILD_AT, EPOCHS, Decider
from flowkit.engine._execution_plan import Plan
from flowkit.engine._registry import Registry
from flowkit.engine._retries import retry_delay_ms
from flowkit.engine._state import TaskModel, WorkflowModel
from flowkit.engine._timers import fire

__all__ = ["Engine", "retry_delay_ms"]

S = TaskStatus
# Read per event: a module constant is read several times faster than an Enum class attribute.
_COMPLETED, _SCHEDULED, _IN_PROGRESS = S.COMPLETED, S.SCHEDULED, S.IN_PROGRESS
_RUNNING = WorkflowStatus.RUNNING
_BY_VALUE: dict[str, TaskStatus] = {status.value: status for status in TaskStatus}


class Engine(Decider):
    """Holds every execution it started and decides what happens next.

    Args:
        new_id: Returns a fresh unique id (task and workflow ids).
        workflows: Registered workflow definitions (sub-workflows, failure workflows).
        task_defs: Registered task definitions by name.
        jitter: ``jitter(n)`` returns a random int in ``[0, n]`` (retry jitter).
        scripts: The JavaScript/jq evaluator for INLINE, LAMBDA, SWITCH, DO_WHILE and JQ tasks.
        plans: A cache of compiled plans to share between engines with the same task definitions.
    """

    def __init__(
        self,
        *,
        new_id: Callable[[], str],
        workflows: Registry | None = None,
        task_defs: Mapping[str, TaskDef] | None = None,
        jitter: Callable[[int], int] | None = None,
        scripts: Any = None,
        plans: dict[int, tuple[WorkflowDef, Plan]] | None = None,
        track: bool = False,
        track_tasks: bool = False,
    ) -> None:
        self.new_id = new_id
        self.workflows = workflows if workflows is not None else Registry()
        self.task_defs: dict[str, TaskDef] = dict(task_defs or {})
        self.jitter = jitter or (lambda n: 0)
        self.scripts = scripts
        self.executions: dict[str, WorkflowModel] = {}
        self._plans: dict[int, tuple[WorkflowDef, Plan]] = plans if plans is not None else {}
        self.timers: list[tuple[int, int, str, Any]] = []
        self._timer_seq = itertools.count()
        self._work: deque[TaskModel] = deque()
        # Changed state for a store: filled only when ``track`` is on (a store is attached). A store
        # that keeps the live models (the in-memory one) needs new workflows only: ``track_tasks`` off.
        self.track = track
        self.track_tasks = track and track_tasks  # the hot paths mark tasks themselves (touch, inlined)
        # The attempts changed since the last take_dirty, each once: an attempt is in it when its
        # ``mark`` is the current ``epoch`` (a check and an append, where a dict keyed by task id
        # would hash each new id and grow with every run's attempts).
        self.dirty: list[TaskModel] = []
        self.epoch = next(EPOCHS)
        self.dirty_workflows: dict[str, WorkflowModel] = {}
        self.dropped: list[str] = []  # task ids a restart or rerun removed from an execution
        self._check: dict[str, WorkflowModel] = {}
        self._out: list[Command] = []
        self._batch: list[Callable[[], None]] | None = None  # loop starts held back while a fork is mapped
        self.stale_timers = 0

    # ------------------------------------------------------------------ events
    def start(
        self,
        definition: WorkflowDef,
        workflow_input: Mapping[str, Any] | None,
        *,
        now: int,
        workflow_id: str | None = None,
        correlation_id: str | None = None,
        priority: int = 0,
    ) -> tuple[WorkflowModel, list[Command]]:
        """Start an execution of ``definition`` (Conductor's ``WorkflowExecutorOps.startWorkflow``)."""
        wf = self.start_execution(
            definition, workflow_input, now, workflow_id=workflow_id, correlation_id=correlation_id, priority=priority
        )
        return wf, self._settle(now)

    def task_started(self, task: TaskModel, now: int, worker_id: str | None = None, watch: bool = True) -> bool:
        """A worker picked ``task`` up (Conductor's poll). False when it must not run.

        ``watch=False``: the caller runs the worker to its end before the engine hears of anything
        else, and calls :meth:`task_returned` before it reports the result, so no response timer is
        armed (every task of a fan-out run on the calling thread would push and pop one).
        """
        wf = task.workflow
        if task.status is not _SCHEDULED or wf.status is not _RUNNING:
            return False
        task.status = _IN_PROGRESS
        if self.track_tasks and task.mark != self.epoch:  # the task only: a start changes nothing of its workflow's row
            task.mark = self.epoch
            self.dirty.append(task)
        if task.start_time == 0:
            task.start_time = now
        task.poll_count += 1
        task.worker_id = worker_id
        task.callback_after_seconds = 0
        task.update_time = now
        td = task.node.task_def
        # timeoutSeconds first: when both are due at once, Conductor's decider checks it before the response timeout
        if td.timeout_seconds > 0:
            self.timer(task.start_time + (task.start_delay + td.timeout_seconds) * 1000, "timeout", task)
        if task.response_timeout_seconds and watch:  # self.timer, inlined: every worker task has one
            heapq.heappush(
                self.timers, (now + task.response_timeout_seconds * 1000, next(self._timer_seq), "response", task)
            )
        return True

    def task_returned(self, task: TaskModel, now: int) -> None:
        """The worker of a task started with ``watch=False`` returned at ``now``.

        When it ran past the response timeout, the timer is armed now, due when it would have been:
        the next :meth:`tick` times the task out exactly as the timer armed at the start would have
        (nothing else happened in between, so no other timer was armed after it).
        """
        timeout = task.response_timeout_seconds
        if timeout and task.status is _IN_PROGRESS:
            due = task.update_time + timeout * 1000  # update_time: the start, unchanged while the worker ran
            if due <= now:
                heapq.heappush(self.timers, (due, next(self._timer_seq), "response", task))

    def task_updated(
        self,
        task: TaskModel,
        status: TaskStatus | str,
        now: int,
        *,
        output: Mapping[str, Any] | None = None,
        reason: str | None = None,
        callback_after_seconds: int = 0,
        logs: list[str] | None = None,
        error: dict[str, Any] | None = None,
        worker_id: str | None = None,
    ) -> list[Command]:
        """A worker (or an operator) reported on ``task`` (``WorkflowExecutorOps.updateTask``). Updates to terminal tasks are ignored."""
        wf = task.workflow
        if task.status.is_terminal or wf.status.is_terminal:
            return []
        if type(status) is not S:
            status = _BY_VALUE.get(status) or S(status)  # a dict lookup, not Enum.__call__
        if self.track_tasks:
            self.touch(task)
        if logs:
            task.logs = (task.logs or []) + list(logs)
        if error is not None:
            task.error = error
        if worker_id is not None:
            task.worker_id = worker_id
        if output is not None:
            task.output = dict(output)
        if reason is not None or status.is_terminal:
            task.reason = reason  # a worker's result replaces the reason a retry copied (Conductor's updateTask)
        if status is _IN_PROGRESS or status is _SCHEDULED:
            task.update_time = now
            if task.node.kind == "SIMPLE" or task.task_type == "HTTP":
                task.status = S.SCHEDULED
                task.callback_after_seconds = callback_after_seconds
                self._out.append(Dispatch((task, now + callback_after_seconds * 1000)))
            return self._settle(now)
        self.finish(task, status, now)
        return self._settle(now)

    def task_completed(
        self, task: TaskModel, output: Mapping[str, Any], now: int, owned: bool = False
    ) -> list[Command]:
        """``task_updated(task, COMPLETED, now, output=output)``: a worker's plain result, the runner's common case.

        ``owned``: ``output`` is a dict nobody else holds (a worker's recorded copy): kept as it is.
        """
        wf = task.workflow
        if task.status.is_terminal or wf.status.is_terminal:
            return []
        if self.track_tasks:  # touch(task), inlined: once per task of every run on a durable store
            if task.mark != self.epoch:
                task.mark = self.epoch
                self.dirty.append(task)
            self.dirty_workflows[wf.workflow_id] = wf
        task.output = output if owned else dict(output)  # type: ignore[assignment]
        task.reason = None  # as task_updated: a worker's result replaces the reason a retry copied
        # finish(), for a task known not to be terminal and with no reason
        task.status = _COMPLETED
        task.end_time = now
        task.update_time = now
        if task.start_time == 0:
            task.start_time = now
        wf.active -= 1
        timers = self.timers
        if timers:  # none at all is common: tasks run on the calling thread arm no response timer
            if len(timers) > _REBUILD_AT:  # a pop sifts through a big heap: its timer is left for next_deadline's pass
                if task.response_timeout_seconds:
                    self.stale_timers += 1
            else:
                while timers and timers[0][3] is task:  # its response timer, at the top when tasks run one by one
                    heapq.heappop(timers)
        work = self._work
        if work or self._check:  # decisions still due come first, in order
            work.append(task)
            return self._settle(now)
        # _settle for this one task (a fan-out's branches complete one by one): decided at once
        self._decide(task, now)
        if work or self._check:
            return self._settle(now)
        out = self._out
        self._out = []
        return out

    def tick(self, now: int) -> list[Command]:
        """The clock reached ``now``: fire due timeouts, waits and delayed starts."""
        timers = self.timers
        while timers and timers[0][0] <= now:
            _, _, kind, subject = heapq.heappop(timers)
            fire(self, kind, subject, now)
        return self._settle(now)

    def settle(self, now: int) -> list[Command]:
        """Run pending decisions (after operations) and return the commands."""
        return self._settle(now)

    def retry(self, wf: WorkflowModel, now: int, *, resume_subworkflow_tasks: bool = False) -> list[Command]:
        """Retry a terminal execution from its failed tasks (Conductor's ``POST /workflow/{id}/retry``).

        With ``resume_subworkflow_tasks`` the retry goes to the deepest failed sub-workflow; either
        way the parents are revived: their SUB_WORKFLOW tasks IN_PROGRESS, the parents RUNNING
        (``WorkflowExecutorOps.retry``, ``updateAndPushParents``).

        Raises:
            OperationNotAllowedError: ``wf`` is not terminal, or has nothing to retry.
        """
        from flowkit.engine._operations import deepest_failed, retry_workflow, revive_parents

        target = wf
        if resume_subworkflow_tasks and wf.status.is_terminal:
            first = next((t for t in wf.tasks if t.status.is_terminal and not t.status.is_successful), None)
            if first is not None:
                target = deepest_failed(self, first, wf)
        retry_workflow(self, target, now)
        self.touch_workflow(target, all_tasks=True)
        revive_parents(self, target, now)
        return self._settle(now)

    def restart(self, wf: WorkflowModel, now: int) -> list[Command]:
        """Start a terminal execution over with the same id (Conductor's ``POST /workflow/{id}/restart``).

        Raises:
            OperationNotAllowedError: ``wf`` is not terminal, or COMPLETED and not restartable.
        """
        from flowkit.engine._operations import restart_workflow

        before = list(wf.tasks)
        restart_workflow(self, wf, now)
        self._forget_removed(wf, before)
        self.touch_workflow(wf, all_tasks=True)
        return self._settle(now)

    def pause(self, wf: WorkflowModel, now: int) -> list[Command]:
        """Pause (``PUT /workflow/{id}/pause``): nothing new starts until resume."""
        from flowkit.engine._operations import pause_workflow

        pause_workflow(self, wf, now)
        self.touch_workflow(wf)
        return self._settle(now)

    def resume(self, wf: WorkflowModel, now: int) -> list[Command]:
        """Resume a PAUSED execution (``PUT /workflow/{id}/resume``)."""
        from flowkit.engine._operations import resume_workflow

        resume_workflow(self, wf, now)
        self.touch_workflow(wf)
        return self._settle(now)

    def terminate(self, wf: WorkflowModel, reason: str | None, now: int) -> list[Command]:
        """Terminate (``DELETE /workflow/{id}``): TERMINATED, running tasks CANCELED, children terminated."""
        from flowkit.engine._operations import terminate_workflow

        terminate_workflow(self, wf, reason, now)
        self.touch_workflow(wf)
        return self._settle(now)

    def rerun(self, wf: WorkflowModel, now: int, **options: Any) -> list[Command]:
        """Rerun a terminal execution, from the start or from ``from_task_id`` (``POST /workflow/{id}/rerun``)."""
        from flowkit.engine._operations import rerun_workflow

        before = list(wf.tasks)
        rerun_workflow(self, wf, now, **options)
        self._forget_removed(wf, before)
        self.touch_workflow(wf, all_tasks=True)
        return self._settle(now)

    def skip_task(self, wf: WorkflowModel, ref: str, now: int, **options: Any) -> list[Command]:
        """Skip a task not reached yet (``PUT /workflow/{id}/skiptask/{ref}``)."""
        from flowkit.engine._operations import skip_task

        skip_task(self, wf, ref, now, **options)
        self.touch_workflow(wf)
        return self._settle(now)

    def recover(self, wf: WorkflowModel, now: int) -> list[Command]:
        """Carry on an execution restored from a store after its process died (see ``recover_workflow``)."""
        from flowkit.engine._operations import recover_workflow

        self.reindex(wf)
        recover_workflow(self, wf, now)
        return self._settle(now)

    def redecide(self, tasks: list[TaskModel]) -> None:
        """Queue terminal tasks whose decision is still due (after resume or recovery)."""
        self._work.extend(tasks)

    def check(self, wf: WorkflowModel) -> None:
        """Check ``wf`` for completion at the next settle."""
        self._check[wf.workflow_id] = wf

    @staticmethod
    def is_dispatched(task: TaskModel) -> bool:
        """True for attempts a worker carries out (SIMPLE and the HTTP system task)."""
        return task.node.kind == "SIMPLE" or task.node.kind == "HTTP"

    def reindex(self, wf: WorkflowModel) -> None:
        """Rebuild what is derived from ``wf.tasks``: ref indexes, active count, JOIN waits, loop bodies."""
        wf.refs, wf.full_refs, wf.id_index, wf.waiters = {}, {}, {}, {}
        wf.indexed = (None, 0)
        wf.active = 0
        wf.skipping = False
        for task in wf.tasks:
            if task.ref != task.node.ref:
                wf.full_refs[task.ref] = task
            wf.refs[task.node.ref] = task
            if task.status is S.SKIPPED and not task.executed:
                wf.skipping = True
            if not task.status.is_terminal:
                wf.active += 1
        wf.seq = max((t.seq for t in wf.tasks), default=0)
        for task in wf.tasks:
            if task.status.is_terminal:
                continue
            kind = task.node.kind
            if kind == "JOIN":
                task.extra = {"pending": self.wait_for(task, list(task.input.get("joinOn") or ()))}
            elif kind == "DO_WHILE":
                items = (task.extra or {}).get("items")
                body = [t for t in wf.tasks if t.node.loop is task.node and t.iteration == task.iteration]
                task.extra = {"tasks": body, "items": items}
