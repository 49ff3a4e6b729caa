"""The decider: what the engine does between events.

It maps plan nodes to task attempts (the task mappers), hands worker tasks out, ends tasks and
workflows, and decides what follows each decided task. Unlike Conductor's decider, which re-scans
every task on each decide, this one reacts to the task that changed; the observable order of task
instances (``seq``) is Conductor's. :class:`~flowkit.engine.Engine` adds the events and operations.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

from flowkit.definitions import TaskDef, WorkflowDef
from flowkit.definitions._types import TaskStatus, WorkflowStatus
from flowkit.engine._commands import Command, Dispatch, DispatchAll, Ended
from flowkit.engine._execution_plan import CASE, LOOP, Node, Plan
from flowkit.engine._registry import Registry
from flowkit.engine._retries import retry_attempt
from flowkit.engine._state import TaskModel, WorkflowModel
from flowkit.engine._timers import arm_timeout
from flowkit.expressions import copy_json

if TYPE_CHECKING:
    from flowkit.engine._engine import Engine  # the task modules are written for the whole engine

__all__ = ["MAX_REASON_CHARS", "Decider"]

S = TaskStatus
# Read per event: a module constant is read several times faster than an Enum class attribute.
_COMPLETED, _RUNNING, _PAUSED = S.COMPLETED, WorkflowStatus.RUNNING, WorkflowStatus.PAUSED
_DROVE = "drove"
# Epochs of Engine.dirty, unique in the process: an attempt marked by one engine is never taken as
# marked by another (``next`` on a count is atomic under the GIL).
EPOCHS = itertools.count(1)
MAX_REASON_CHARS = 2000  # of a task's reason; longer reasons are cut there and kept whole in the task's logs


class Decider:
    """The engine's state and its decisions; the state is set up by :class:`~flowkit.engine.Engine`."""

    new_id: Callable[[], str]
    workflows: Registry
    task_defs: dict[str, TaskDef]
    jitter: Callable[[int], int]
    scripts: Any
    executions: dict[str, WorkflowModel]
    _plans: dict[int, tuple[WorkflowDef, Plan]]
    timers: list[tuple[int, int, str, Any]]
    """(due, seq, kind, subject), a heap; read-only outside the engine (the runner peeks at the earliest due)."""
    _timer_seq: itertools.count[int]
    _work: deque[TaskModel]
    track: bool
    track_tasks: bool
    dirty: list[TaskModel]
    epoch: int
    dirty_workflows: dict[str, WorkflowModel]
    dropped: list[str]
    _check: dict[str, WorkflowModel]
    _out: list[Command]
    _batch: list[Callable[[], None]] | None
    stale_timers: int
    """Timers left in ``timers`` for tasks that ended (about; next_deadline drops them in one pass)."""

    # ------------------------------------------------------------------ plans and timers
    def plan(self, definition: WorkflowDef) -> Plan:
        """The compiled plan of ``definition`` (built once)."""
        hit = self._plans.get(id(definition))
        if hit is not None and hit[0] is definition:
            return hit[1]
        plan = Plan(definition, self.task_defs)
        if len(self._plans) > 512:
            self._plans.clear()
        self._plans[id(definition)] = (definition, plan)
        return plan

    def timer(self, due: int, kind: str, subject: Any) -> None:
        """Ask to be ticked at ``due`` (epoch ms) for ``kind`` on ``subject``."""
        heapq.heappush(self.timers, (due, next(self._timer_seq), kind, subject))

    def touch(self, task: TaskModel) -> None:
        """Record that ``task`` (and its workflow) changed, for the store's next write."""
        if self.track:
            if task.mark != self.epoch:
                task.mark = self.epoch
                self.dirty.append(task)
            wf = task.workflow
            self.dirty_workflows[wf.workflow_id] = wf

    def touch_workflow(self, wf: WorkflowModel, *, all_tasks: bool = False) -> None:
        """Record that ``wf`` changed (and every one of its tasks, after an operation)."""
        if self.track:
            self.dirty_workflows[wf.workflow_id] = wf
            if all_tasks:
                self._mark_all(wf.tasks)

    def _mark_all(self, tasks: list[TaskModel]) -> None:
        epoch, dirty = self.epoch, self.dirty
        for task in tasks:
            if task.mark != epoch:
                task.mark = epoch
                dirty.append(task)

    def take_dirty(self) -> tuple[list[WorkflowModel], list[TaskModel], list[str]]:
        """What changed since the last call: workflows, tasks, and ids of attempts a restart or rerun removed."""
        workflows, tasks = list(self.dirty_workflows.values()), self.dirty
        dropped, self.dropped = self.dropped, []
        self.dirty_workflows, self.dirty = {}, []
        self.epoch = next(EPOCHS)  # every attempt's mark is stale now
        return workflows, tasks, dropped

    def keep_dirty(self, workflows: list[WorkflowModel], tasks: list[TaskModel], dropped: list[str]) -> None:
        """Mark again what :meth:`take_dirty` gave to a write that failed: the next write carries it too."""
        if self.track:
            for wf in workflows:
                self.dirty_workflows.setdefault(wf.workflow_id, wf)
            self._mark_all(tasks)
            self.dropped[:0] = dropped

    def _forget_removed(self, wf: WorkflowModel, before: list[TaskModel]) -> None:
        """Note the attempts an operation took out of ``wf`` (the store deletes them)."""
        if self.track:
            kept = {id(t) for t in wf.tasks}
            self.dropped.extend(t.task_id for t in before if id(t) not in kept)

    def next_deadline(self) -> int | None:
        """The earliest time a :meth:`tick` has something to do, or None.

        Timers of tasks and workflows that have ended are dropped here, so a finished run leaves
        nothing to wait for (a completed task's response timeout would otherwise linger for an hour).
        """
        timers = self.timers
        if self.stale_timers > _REBUILD_AT and self.stale_timers * 2 > len(timers):
            # Most of a big heap has ended (a fan-out's response timers): one pass instead of a pop each
            timers[:] = [timer for timer in timers if not _ended(timer[3])]
            heapq.heapify(timers)
            self.stale_timers = 0
        while timers:
            if _ended(timers[0][3]):
                heapq.heappop(timers)
                continue
            return timers[0][0]
        return None

    # ------------------------------------------------------------------ internals used by task modules
    def start_execution(
        self,
        definition: WorkflowDef,
        workflow_input: Mapping[str, Any] | None,
        now: int,
        *,
        workflow_id: str | None = None,
        correlation_id: str | None = None,
        priority: int = 0,
        parent: TaskModel | None = None,
    ) -> WorkflowModel:
        """Create an execution and schedule its first task; decisions run at the next settle."""
        plan = self.plan(definition)
        wf = WorkflowModel(definition, plan, workflow_id or self.new_id(), now)
        data = dict(workflow_input or {})
        for key, value in definition.input_template.items():
            data.setdefault(key, value)
        wf.input = data
        wf.correlation_id = correlation_id
        wf.priority = priority
        if parent is not None:
            wf.parent_workflow_id = parent.workflow.workflow_id
            wf.parent_workflow_task_id = parent.task_id
        self.executions[wf.workflow_id] = wf
        self.touch_workflow(wf)
        if definition.timeout_seconds > 0:
            self.timer(now + definition.timeout_seconds * 1000, "workflow", wf)
        self.begin(wf, now)
        return wf

    def begin(self, wf: WorkflowModel, now: int) -> None:
        """Schedule the first task (start, restart, rerun)."""
        if wf.plan.first is None:
            self._check[wf.workflow_id] = wf
        else:
            self.schedule(wf, wf.plan.first, now)

    def resolve_input(self, wf: WorkflowModel, node: Node, task_id: str | None) -> dict[str, Any]:
        """The task input: ``inputParameters`` resolved, then the task definition's inputTemplate (``ParametersUtils.getTaskInputV2``)."""
        resolver = node.resolver
        template = node.task_def.input_template
        if resolver is None:  # a dynamic-fork branch with plain-data input
            params: dict[str, Any] = node.params  # type: ignore[assignment]
            if node.kind == "SIMPLE" and not template:
                return params  # shared, read-only: nothing changes a SIMPLE task's input, workers get a copy
            data: dict[str, Any] = copy_json(params)
        else:
            data = resolver(wf.doc, task_id)
        if template:
            from flowkit.expressions import compile_value

            for key, value in template.items():
                if key not in data:
                    data[key] = compile_value(value)(wf.doc, task_id)
                if data[key] is None:
                    data[key] = value
        return data

    def new_task(
        self, wf: WorkflowModel, node: Node, now: int, *, iteration: int | None = None, task_id: str | None = None
    ) -> TaskModel:
        """Append a SCHEDULED attempt of ``node`` to ``wf`` (no handler run)."""
        if iteration is None:
            iteration = wf.refs[node.loop.ref].iteration if node.loop is not None else 0
        ref = node.ref if iteration == 0 or node.loop is None else f"{node.ref}__{iteration}"
        task = TaskModel(wf, node, task_id or self.new_id(), ref, iteration, now)
        wf.seq += 1
        task.seq = wf.seq
        wf.tasks.append(task)
        if self.track_tasks:  # touch(task), inlined (once per new attempt: never marked before)
            task.mark = self.epoch
            self.dirty.append(task)
            self.dirty_workflows[wf.workflow_id] = wf
        wf.refs[node.ref] = task
        if ref is not node.ref:
            wf.full_refs[ref] = task  # a loop iteration; other tasks are found through ``refs``
        wf.active += 1
        if node.loop is not None:
            loop_task = wf.refs[node.loop.ref]
            if loop_task.extra is not None:
                loop_task.extra["tasks"].append(task)
        return task

    def schedule(
        self, wf: WorkflowModel, node: Node, now: int, *, task_input: dict[str, Any] | None = None
    ) -> TaskModel | None:
        """Map ``node`` to a task attempt and start it according to its type (``DeciderService.getTasksToBeScheduled``, the task mappers)."""
        if _HANDLERS is None:
            _load_handlers()
        if wf.status.is_terminal:
            # The rest of a batch after a TERMINATE ended the workflow (a fork's later branches, its
            # JOIN): Conductor created them with the batch, and ending the workflow cancels them.
            task = self.new_task(wf, node, now)
            task.status = S.CANCELED
            task.end_time = now
            wf.active -= 1
            return task
        if wf.skipping:
            skipped = wf.task_at(node.ref if node.loop is None else f"{node.ref}__{wf.refs[node.loop.ref].iteration}")
            if skipped is not None and skipped.status is S.SKIPPED and not skipped.executed:
                self._work.append(skipped)
                return skipped
        prepare = _PREPARERS.get(node.kind)
        task_id = self.new_id()
        prepared = None
        if prepare is not None:
            prepared = prepare(self, wf, node, task_id, now)
            if prepared is None:
                return None
            node = prepared[0]
        task = self.new_task(wf, node, now, task_id=task_id)
        task.input = (
            task_input
            if task_input is not None
            else (prepared[1] if prepared is not None else self.resolve_input(wf, node, task_id))
        )
        task.start_delay = node.wt.start_delay
        if node.kind == "SIMPLE":
            self.dispatch(task, now)  # the SIMPLE handler, without the table lookup and call
        else:
            _HANDLERS[node.kind](self, wf, task, now, prepared[2] if prepared is not None else None)  # type: ignore[index]
        if node.task_def.timeout_seconds > 0:
            arm_timeout(cast("Engine", self), task)
        return task

    def schedule_branches(self, wf: WorkflowModel, nodes: list[Node], now: int) -> None:
        """``schedule`` each of a dynamic fork's branch nodes, in order.

        A branch that is a plain SIMPLE task (input given as data, no inputTemplate, start delay or
        poll/total timeout, outside a loop) is mapped here without the generic path's lookups: on a
        1,000-branch fork the generic path costs more than running the branch's worker.
        """
        if _HANDLERS is None:
            _load_handlers()
        new_id, tasks, refs, out = self.new_id, wf.tasks, wf.refs, self._out
        dirty = self.dirty if self.track_tasks else None
        epoch = self.epoch
        batch: list[TaskModel] = []  # plain branches since the last generic one: one DispatchAll
        # The WorkflowTask of the last plain branch: branches made from one prototype share it, and with
        # it their kind, task definition and start delay (and every branch of a fork has the fork's loop).
        plain_wt = None
        # wf.seq is kept in a local while plain branches are added (one active task each), written back
        # before the generic path (which reads it) and at the end
        seq = wf.seq
        generic = wf.skipping or wf.status.is_terminal
        for node in nodes:
            if generic or node.resolver is not None or node.wt is not plain_wt:
                td = node.task_def
                if (
                    generic
                    or node.kind != "SIMPLE"
                    or node.resolver is not None
                    or node.loop is not None
                    or td.input_template
                    or td.poll_timeout_seconds
                    or td.total_timeout_seconds > 0
                    or node.wt.start_delay
                ):
                    wf.active += seq - wf.seq
                    wf.seq = seq
                    if batch:  # dispatched in order: the plain branches before this one first
                        out.append(DispatchAll((batch, now)))
                        batch = []
                    self.schedule(wf, node, now)
                    seq = wf.seq
                    generic = wf.skipping or wf.status.is_terminal
                    continue
                plain_wt = node.wt
            # new_task, resolve_input and dispatch of ``schedule``, for this case (keep them in step)
            ref = node.ref
            # its input is the node's, shared and read-only: workers get a copy
            task = TaskModel(wf, node, new_id(), ref, 0, now, node.params)
            seq += 1
            task.seq = seq
            tasks.append(task)
            if dirty is not None:  # its workflow is marked once, below
                task.mark = epoch
                dirty.append(task)
            refs[ref] = task
            batch.append(task)
        if batch:
            out.append(DispatchAll((batch, now)))
        wf.active += seq - wf.seq
        wf.seq = seq
        if dirty is not None and nodes:
            self.touch_workflow(wf)

    def dispatch(self, task: TaskModel, now: int, delay_ms: int = 0, delay_seconds: int | None = None) -> None:
        """Queue ``task`` for a worker, with its poll and total timeouts.

        ``delay_seconds`` is the delay Conductor shows as ``callbackAfterSeconds``; ``delay_ms`` may
        be larger by the retry jitter, which Conductor keeps only in the queue delay.
        """
        if delay_seconds is not None:
            task.callback_after_seconds = delay_seconds
        else:
            task.callback_after_seconds = delay_ms // 1000 if delay_ms else task.start_delay
        task.callback_after_ms = delay_ms or task.start_delay * 1000
        td = task.node.task_def
        if td.poll_timeout_seconds:
            self.timer(
                task.scheduled_time + (task.start_delay + td.poll_timeout_seconds + task.callback_after_seconds) * 1000,
                "poll",
                task,
            )
        if td.total_timeout_seconds > 0:
            self.timer(task.first_scheduled_time + td.total_timeout_seconds * 1000, "total", task)
        self._out.append(Dispatch((task, now + task.callback_after_ms)))

    def finish(self, task: TaskModel, status: TaskStatus, now: int, reason: str | None = None) -> None:
        """Move ``task`` to a terminal ``status``; the decision about it runs at the next settle."""
        if task.status.is_terminal:
            return
        if self.track_tasks:
            self.touch(task)
        task.status = status
        task.end_time = now
        task.update_time = now
        if task.start_time == 0:
            task.start_time = now
        if reason is not None:
            if len(reason) > MAX_REASON_CHARS:  # e.g. a 50 MB string a script threw: the whole text goes to the logs
                task.logs = (task.logs or []) + [reason]
                reason = f"{reason[:MAX_REASON_CHARS]}… (truncated, {len(reason)} chars; the full text is in the task's logs)"
            task.reason = reason
        task.workflow.active -= 1
        self._work.append(task)

    def wait_for(self, waiter: TaskModel, refs: list[str]) -> set[str]:
        """Register ``waiter`` (a JOIN) on ``refs``; return the refs not yet decided."""
        pending = set(refs)  # less the decided ones below (mostly none: a fork's JOIN comes with its branches)
        wf = waiter.workflow
        full_refs, by_ref, waiters = wf.full_refs, wf.refs, wf.waiters
        for ref in refs:
            # wf.task_at(ref), inlined: it runs once per joined branch (a task in full_refs has that ref)
            found = full_refs.get(ref) or by_ref.get(ref)
            if found is not None and found.ref == ref and found.executed:
                pending.discard(ref)
                continue
            held = waiters.get(ref)  # one waiter as itself, several in a list (no list per fork branch)
            if held is None:
                waiters[ref] = waiter
            elif isinstance(held, list):
                held.append(waiter)
            else:
                waiters[ref] = [held, waiter]
        return pending

    def end(
        self,
        wf: WorkflowModel,
        status: WorkflowStatus,
        reason: str | None,
        now: int,
        *,
        failed_task: TaskModel | None = None,
        failure_workflow: bool = True,
    ) -> None:
        """End ``wf`` with ``status`` (``DeciderService.updateWorkflowOutput``): output, cancel what runs, failure workflow, parent."""
        if wf.status.is_terminal:
            return
        wf.status = status
        wf.reason = reason
        wf.end_time = now
        wf.update_time = now
        wf.output = self.workflow_output(wf)
        self.touch_workflow(wf)
        for task in wf.tasks:
            if not task.status.is_terminal:
                self.touch(task)
                task.status = S.CANCELED
                task.end_time = now
                wf.active -= 1
                if task.sub_workflow_id is not None:
                    child = self.executions.get(task.sub_workflow_id)
                    if child is not None:
                        because = (
                            f"Parent workflow has been terminated with reason: {reason}"
                            if reason
                            else f"Parent workflow has been terminated with status {status}"
                        )  # SubWorkflow.java, cancel
                        self.end(child, WorkflowStatus.TERMINATED, because, now, failure_workflow=False)
        if failed_task is not None:
            wf.failure_task_id = failed_task.task_id
        if failure_workflow and status is not WorkflowStatus.COMPLETED and wf.definition.failure_workflow:
            from flowkit.engine._operations import start_failure_workflow

            start_failure_workflow(cast("Engine", self), wf, failed_task, now)
        if wf.parent_workflow_id is not None:
            from flowkit.engine._tasks import child_ended

            child_ended(cast("Engine", self), wf, now)
        self._out.append(Ended(wf))

    def workflow_output(self, wf: WorkflowModel) -> dict[str, Any]:
        """``DeciderService.updateWorkflowOutput``: the TERMINATE task's output, else outputParameters, else the last task's output."""
        if wf.terminated_by is not None:
            return dict(wf.terminated_by.output or {})
        if wf.definition.output_parameters:
            return wf.plan.output_resolver(wf.doc, None)  # type: ignore[no-any-return]
        return dict(wf.tasks[-1].output) if wf.tasks else {}

    # ------------------------------------------------------------------ the decide step
    def _settle(self, now: int) -> list[Command]:
        work = self._work
        while work or self._check:
            while work:
                self._decide(work.popleft(), now)
            if self._check:
                pending = list(self._check.values())
                self._check.clear()
                for wf in pending:
                    if wf.active == 0 and wf.status is _RUNNING and not work:
                        self._complete(wf, now)
        out = self._out
        self._out = []
        return out

    def _decide(self, task: TaskModel, now: int) -> None:
        wf = task.workflow
        wf_state = wf.status
        if task.executed or task.retried or (wf_state is not _RUNNING and wf_state.is_terminal):
            return
        if self.track_tasks:  # touch(task), inlined (once per ended attempt)
            if task.mark != self.epoch:
                task.mark = self.epoch
                self.dirty.append(task)
            self.dirty_workflows[wf.workflow_id] = wf
        if wf_state is _PAUSED:
            wf.deferred.append(task)
            return
        status = task.status
        if status is not _COMPLETED and (
            status is S.FAILED
            or status is S.FAILED_WITH_TERMINAL_ERROR
            or status is S.TIMED_OUT
            or status is S.CANCELED
        ):
            if status is S.FAILED or status is S.FAILED_WITH_TERMINAL_ERROR:
                wf.failed_refs[task.ref] = None
                wf.failed_names[task.task_def_name] = None
            if retry_attempt(cast("Engine", self), task, now):
                return
            if wf.status.is_terminal:
                return
            wt = task.node.wt
            if wt.optional:
                task.status = S.COMPLETED_WITH_ERRORS
            elif wt.permissive:
                wf.permissive_failures.append(task)
            else:
                wf_status = (
                    WorkflowStatus.TERMINATED
                    if status is S.CANCELED
                    else WorkflowStatus.TIMED_OUT
                    if status is S.TIMED_OUT
                    else WorkflowStatus.FAILED
                )
                self.end(
                    wf,
                    wf_status,
                    f"Task {task.task_id} failed with status: {wf_status} and reason: '{task.reason}'",
                    now,
                    failed_task=task,
                )
                return
        task.executed = True
        ref = task.ref
        waiting: Any = wf.waiters.pop(ref, None)  # one waiter as itself, several in a list
        if waiting is not None:
            for waiter in waiting if type(waiting) is list else (waiting,):
                extra = waiter.extra
                if extra is not None and not waiter.status.is_terminal:
                    pending = extra["pending"]  # notify_waiter's common case, inlined: a JOIN still waiting
                    pending.discard(ref)
                    if pending:
                        continue
                if _HANDLERS is None:
                    _load_handlers()
                _NOTIFY[0](self, waiter, ref, now)
        if task.extra is None or not task.extra.get(_DROVE):
            node = task.node
            if node.next is not None and node.kind != "TERMINATE":
                self.schedule(wf, node.next, now)  # _schedule_after's common case, without the call
            elif node.container in _HANDS_OVER:
                self._schedule_after(wf, node, now)
        if wf.active == 0:
            self._check[wf.workflow_id] = wf

    def _schedule_after(self, wf: WorkflowModel, node: Node, now: int) -> None:
        while True:
            if node.kind == "TERMINATE":
                return
            if node.next is not None:
                self.schedule(wf, node.next, now)
                return
            if node.container == CASE:
                node = node.owner  # type: ignore[assignment]
                continue
            if node.container == LOOP:
                from flowkit.engine._tasks.loop import iteration_end

                iteration_end(self, wf, node.owner, now)  # type: ignore[arg-type]
            return

    def _complete(self, wf: WorkflowModel, now: int) -> None:
        if wf.permissive_failures:
            task = wf.permissive_failures[0]
            self.end(
                wf,
                WorkflowStatus.FAILED,
                f"Task {task.task_id} failed with status: FAILED and reason: '{task.reason}'",
                now,
                failed_task=task,
            )
        else:
            self.end(wf, WorkflowStatus.COMPLETED, wf.reason, now)


_HANDS_OVER = frozenset({CASE, LOOP})  # containers whose last task hands over to its owner (_schedule_after)
_REBUILD_AT = 64  # ended timers: fewer are popped one by one (a pop costs a sift through the heap)


def _ended(subject: Any) -> bool:
    """True when the timer's task or workflow has ended: it can do nothing any more."""
    wf = subject if type(subject) is WorkflowModel else subject.workflow
    return bool(wf.status.is_terminal or (subject is not wf and (subject.status.is_terminal or subject.retried)))


# The task-type handlers import the engine's helpers, so they are bound on first use (not per call).
_HANDLERS: dict[str, Callable[..., None]] | None = None
_PREPARERS: dict[str, Callable[..., Any]] = {}
_NOTIFY: list[Callable[..., None]] = []


def _load_handlers() -> None:
    global _HANDLERS
    from flowkit.engine._tasks import HANDLERS, PREPARERS, notify_waiter

    _PREPARERS.update(PREPARERS)
    _NOTIFY.append(notify_waiter)
    _HANDLERS = HANDLERS
