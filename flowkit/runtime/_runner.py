"""The Runner: carries out the engine's commands.

It owns the clock, the ready queue, rate and concurrency limits (Conductor's poll side) and the
executor; it is the only code that calls worker functions, and its thread the only one that changes
engine state, but for the watch thread's writes while it is inside a worker (``_watch``).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from typing import Any

from flowkit.definitions import WorkflowDef
from flowkit.definitions._types import TaskStatus, WorkflowStatus
from flowkit.engine import Command, Dispatch, DispatchAll, Ended, Engine, Publish, TaskModel, WorkflowModel
from flowkit.executors._executors import DROPPED, ThreadExecutor
from flowkit.expressions import copy_json
from flowkit.runtime._gc import YoungGenerationTuned
from flowkit.runtime._hooks import Hooks, RunEnded, TaskEnded, TaskStarted
from flowkit.runtime._interrupt import SigintGuard
from flowkit.runtime._protocols import Clock, Executor
from flowkit.runtime._watch import WATCH
from flowkit.store import Store
from flowkit.store._host import host_name
from flowkit.workers import Outcome, Task, Worker

__all__ = ["Runner"]

_HOST = host_name()
_COMPLETED = TaskStatus.COMPLETED
_SCHEDULED = TaskStatus.SCHEDULED
_RUNNING = WorkflowStatus.RUNNING
_HERE_HORIZON_MS = 3_600_000  # a worker runs on the calling thread only when no timer is due sooner
_wake_lock = threading.Lock()


def _snapshot(task: TaskModel, shared: bool) -> Task:
    t = Task.__new__(Task)  # every slot is set below; skips the generic __init__ loop
    # The worker's own copy: changing it changes no recorded input. ``shared``: the worker copies the
    # containers it hands its function (Worker.copies_input), so the task's input is only read.
    t.input_data = task.input if shared else copy_json(task.input)
    t.task_id = task.task_id
    t.reference_task_name = task.ref
    t.task_def_name = task.task_def_name
    t.task_type = task.task_type
    t.workflow_instance_id = task.workflow.workflow_id
    t.workflow_type = task.workflow.definition.name
    t.retry_count = task.retry_count
    t.poll_count = task.poll_count
    t.correlation_id = task.workflow.correlation_id
    t.iteration = task.iteration
    t.status = "IN_PROGRESS"
    t.worker_id = _HOST
    t.callback_after_seconds = task.callback_after_seconds
    return t


def _bound_snapshot(task: TaskModel) -> Task:
    """The Task a worker that binds its parameters by name reads (``Worker.copies_input``) on the thread pool.

    Such a worker reads only the input (which it copies for its function) and the reference (which
    it names when a parameter is missing). On the calling thread it gets the attempt itself, which
    offers the same two (``TaskModel.input_data``); the pool's thread reads them later, so it gets
    them as they were at the start.
    """
    t = Task.__new__(Task)
    t.input_data = task.input
    t.reference_task_name = task.ref
    t.task_id = task.task_id  # with the two above, what Task.__repr__ shows
    t.retry_count = task.retry_count
    return t


class Runner:
    """Drives an :class:`Engine` until the executions it waits for are done or stalled.

    Args:
        engine: The engine whose commands it carries out.
        workers: Worker functions by task definition name (SIMPLE tasks).
        clock: Time, and how to wait for it.
        executor: Where worker calls run.
        store: Where what the engine changed is written, in batches of at most ``store.batch_ms``.
        hooks: Who hears about task starts and ends and ended runs.
        builtin: Workers for system task types (HTTP) by type.
        external: Task definition names completed from outside (no worker here).
        on_event: Where EVENT tasks publish: ``on_event(queue, payload)``.
    """

    def __init__(
        self,
        engine: Engine,
        workers: dict[str, Worker],
        *,
        clock: Clock,
        executor: Executor,
        store: Store,
        hooks: Hooks,
        builtin: dict[str, Worker] | None = None,
        external: Iterable[str] = (),
        on_event: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        self.engine = engine
        self.workers = workers
        self.builtin = builtin or {}
        self.clock = clock
        self.executor = executor
        self.store = store  # written in batches: see flowkit.store._sqlite
        self.hooks = hooks
        self.external = frozenset(external)
        self.on_event = on_event
        self.ready: deque[TaskModel] = deque()
        self.delayed: list[tuple[int, int, TaskModel]] = []
        self._seq = itertools.count()
        self.inflight = 0
        self.running: dict[str, int] = defaultdict(int)
        self.blocked: dict[str, deque[TaskModel]] = defaultdict(deque)
        self.starts: dict[str, deque[int]] = defaultdict(deque)
        self._wake: threading.Event | None = None  # made on first use (a run that never sleeps needs none)
        self.batch_s = store.batch_ms / 1000  # the store's group-commit window (read by the watch thread too)
        # A change that is due on disk within batch_ms was made since the last write: a worker's result,
        # or the attempts of a start written as its row alone (flush_started).
        self.due_unwritten = False
        self._due_at = 0.0  # when the oldest of them was made (time.monotonic)
        self._executions_written = 0  # len(engine.executions) at the last write: a new one is written at once
        self.ended_unwritten = False  # a run ended since the last write (someone may wait for it on disk)
        self.here = False  # may run a worker on the calling thread (foreground threads executor): see _alone
        self._pool_only = type(executor) is ThreadExecutor  # calls workers in this process, nothing shipped
        self._inline = executor.inline
        self.writing = False  # a write is under way: what it took from the engine is not on disk yet
        # While the running thread is inside a worker, the watch thread may write what has waited
        # batch_ms (a run on a durable store only: flowkit.runtime._watch). The hand-off between them
        # is two flags, each written by one thread and read by the other (bytecodes are atomic and
        # ordered under the GIL): the watch thread says it writes, then looks that the running thread
        # is still inside the worker; the running thread says it left the worker, then looks whether
        # a write is under way, and if so waits for it (watch_lock). So one of them always sees the
        # other, and a write never meets a change half made. No lock is taken per call.
        self._watched = False  # run() registered this runner with the watch thread
        self.calling = False  # the running thread is inside a worker (set and cleared by it)
        self.watch_writing = False  # the watch thread is writing for this runner (set and cleared by it)
        self.watch_lock = threading.Lock()  # held by the watch thread while watch_writing
        self.on_flush: Callable[[], None] | None = None  # told after every write (wait() checks again)
        self.report: Callable[[TaskModel], None] | None = None
        """Told of every attempt whose result was applied and did not complete, before the TaskEnded hooks
        (a foreground run's FailureReporter: a call for failures only, not an event for every task)."""
        self.interrupt = SigintGuard()  # entered by a foreground run: Ctrl-C stops the loop cleanly
        self.task_queue: Callable[[TaskModel], None] | None = None
        """Where SIMPLE tasks with no worker here wait SCHEDULED for a poller (``flowkit serve``'s task
        queues); their rate and concurrency limits are applied at poll time, as Conductor does."""

    # ------------------------------------------------------------------ commands
    def handle(self, commands: list[Command], now: int) -> None:
        """Carry out engine commands."""
        ready = self.ready
        for cmd in commands:
            if type(cmd) is Dispatch:
                task, not_before = cmd
                if not_before <= now:
                    ready.append(task)
                else:
                    heapq.heappush(self.delayed, (not_before, next(self._seq), task))
            elif type(cmd) is DispatchAll:
                tasks, not_before = cmd
                if not_before <= now:
                    ready.extend(tasks)
                else:
                    for task in tasks:
                        heapq.heappush(self.delayed, (not_before, next(self._seq), task))
            elif type(cmd) is Ended:
                self.ended_unwritten = True
                hooks = self.hooks.run_ended
                if hooks:
                    event = RunEnded(cmd.workflow)
                    for hook in hooks:
                        hook(event)
            elif type(cmd) is Publish and self.on_event is not None:
                self.on_event(cmd.queue, cmd.payload)

    def start(
        self,
        definition: WorkflowDef,
        workflow_input: dict[str, Any],
        *,
        correlation_id: str | None = None,
        workflow_id: str | None = None,
        priority: int = 0,
    ) -> WorkflowModel:
        """Start an execution; its first tasks are queued."""
        now = self.clock.now_ms()
        wf, commands = self.engine.start(
            definition,
            workflow_input,
            now=now,
            correlation_id=correlation_id,
            workflow_id=workflow_id,
            priority=priority,
        )
        self.handle(commands, now)
        return wf

    # ------------------------------------------------------------------ the loop
    def run(self, done: Callable[[], bool]) -> None:
        """Run until ``done()`` or until nothing can happen without outside help."""
        # Only a run that may call a worker on this thread needs the watch thread (not flowkit serve's)
        watch = self.engine.track_tasks and self.batch_s > 0 and (self.here or self._inline) and not self._watched
        with YoungGenerationTuned():
            try:
                if watch:
                    self._watched = True
                    WATCH.add(self)
                self._loop(done)
            finally:
                try:
                    self.flush()
                finally:
                    if watch:
                        WATCH.discard(self)
                        self._watched = False

    def write_waited(self) -> None:
        """Write what has waited ``batch_ms`` while the running thread is inside a worker (the watch thread)."""
        if not (self.calling and self.due_unwritten and time.monotonic() - self._due_at >= self.batch_s):
            return
        with self.watch_lock:
            self.watch_writing = True  # first: the running thread looks at it after clearing calling
            try:
                if self.calling:  # still inside the worker, so it waits for this write when it leaves
                    self.flush()
            except Exception:  # noqa: S110 - kept for the running thread's next write, which raises it
                pass
            finally:
                self.watch_writing = False

    def _await_watch_write(self) -> None:
        """Back from a worker while the watch thread writes: wait until that write is done."""
        with self.watch_lock:
            pass

    def flush(self) -> None:
        """Write what the engine changed to the store (one transaction)."""
        engine = self.engine
        self._executions_written = len(engine.executions)
        # Nothing changed, nothing to write: what was applied is as written as it gets (the in-memory
        # store keeps the live models and reports no task changes), so no flush waits for it again.
        self.ended_unwritten = self.due_unwritten = False
        if engine.dirty or engine.dirty_workflows or engine.dropped:
            self.writing = True  # before take_dirty: see Runtime._ended_on_disk
            taken = engine.take_dirty()
            try:
                self.store.write(*taken)
            except BaseException:
                engine.keep_dirty(*taken)  # nothing of it was written: a later write is whole, not a remainder
                raise
            finally:
                self.writing = False
            if self.on_flush is not None:
                self.on_flush()

    def flush_started(self) -> None:
        """:meth:`flush`, before the first task of an execution started since the last write starts.

        When all that changed is top-level executions that only scheduled their first tasks (a
        start), each is written as its row alone: its attempts go with the next write, as any start
        does (a start lost in a crash runs again all the same, and an execution recovered with no
        attempts schedules its first task again: ``recover_workflow``). Anything else (a
        sub-workflow, which its parent's task points at; a start whose first tasks moved on; another
        execution that changed, such as one an operation ended) is written whole, with the rest.
        """
        engine = self.engine
        count = len(engine.executions) - self._executions_written
        dirty = engine.dirty_workflows
        if count <= 0 or len(dirty) != count or engine.dropped:  # something else changed too
            self.flush()
            return
        started = list(itertools.islice(reversed(engine.executions.values()), count))
        for wf in started:
            if (
                wf.status is not _RUNNING
                or wf.parent_workflow_id is not None
                or dirty.get(wf.workflow_id) is not wf
                or any(task.status is not _SCHEDULED for task in wf.tasks)
            ):
                self.flush()
                return
        self._executions_written = len(engine.executions)
        # still marked dirty: the next write carries the row again with the attempts it then counts
        self.store.write(started, [], [])
        if not self.due_unwritten and engine.track_tasks:  # its attempts are due within batch_ms, as a result is
            self.due_unwritten = True
            self._due_at = time.monotonic()

    def fail(self, wf: WorkflowModel, exc: BaseException, doing: str) -> None:
        """End ``wf`` FAILED because the engine (or a hook) raised ``exc`` while ``doing``; never left RUNNING."""
        reason = f"flowkit could not go on while {doing}: {type(exc).__name__}: {exc}"[:2000]
        now = self.clock.now_ms()
        if not wf.status.is_terminal:
            try:
                self.engine.end(wf, WorkflowStatus.FAILED, reason, now, failure_workflow=False)
            except Exception:  # the state is broken beyond ending it cleanly: mark it so at least
                wf.status = WorkflowStatus.FAILED
                wf.reason = reason
                wf.end_time = wf.update_time = now
                self.engine.touch_workflow(wf, all_tasks=True)
        try:
            self.handle(self.engine.settle(now), now)
        except Exception:  # noqa: S110 - the failure above is what is reported
            pass

    def fail_all(self, exc: BaseException) -> None:
        """End every execution still running here FAILED (the loop itself broke), and write them."""
        for wf in list(self.engine.executions.values()):
            if not wf.status.is_terminal:
                self.fail(wf, exc, "running the workflow")
        self.ready.clear()
        self.delayed.clear()
        self.flush()

    def _loop(self, done: Callable[[], bool]) -> None:
        engine, clock, ready = self.engine, self.clock, self.ready
        results = self.executor.results
        batch_s = self.batch_s
        monotonic = time.monotonic
        executor = self.executor
        interrupt = self.interrupt
        while not interrupt.requested:
            while ready:
                # Group commit: a result is written before more tasks start once it has waited
                # batch_ms (at once when batch_ms is 0), and before any wait that lasts. Starts alone
                # do not commit: a start lost in a crash runs again all the same. Timed from the
                # result, not from the last write: a fresh result (a fork's generator) is not written
                # with half of the tasks it led to, only for all of them to be written again when done.
                # A new execution is written before its first task starts (see flush_started).
                if self.due_unwritten and monotonic() - self._due_at >= batch_s:
                    self.flush()
                elif len(engine.executions) != self._executions_written:
                    self.flush_started()
                task = ready.popleft()
                try:
                    self._start_task(task)
                except Exception as exc:  # the engine (or a hook) broke on this task: its workflow ends FAILED
                    self.fail(task.workflow, exc, f"starting task '{task.ref}'")
            if executor.batches:
                executor.send()  # the calls started in this round, in one request
            while not results.empty():
                task, outcome = results.get_nowait()
                if task is not None:
                    self._applied(task, outcome)
            if ready:
                continue
            if done():
                return
            if engine.dirty or engine.dirty_workflows:
                # About to wait. Commit when the wait lasts, not on every hand-off: give the workers
                # what is left of the oldest result's batch window first, a whole window when only
                # starts are unwritten (an ended run is written at once: wait() reports it only once
                # it is on disk).
                left = batch_s - (monotonic() - self._due_at) if self.due_unwritten else batch_s
                if (
                    self.inflight
                    and left > 0
                    and not self.ended_unwritten
                    and len(engine.executions) == self._executions_written
                ):
                    try:
                        task, outcome = results.get(timeout=left)
                    except Exception:  # queue.Empty: the wait lasts
                        self.flush()
                    else:
                        if task is not None:
                            self._applied(task, outcome)
                        while not results.empty():  # everything that came back meanwhile, before new starts
                            task, outcome = results.get_nowait()
                            if task is not None:
                                self._applied(task, outcome)
                        continue
                else:
                    self.flush()
            now = clock.now_ms()
            due = engine.next_deadline()
            if self.delayed and (due is None or self.delayed[0][0] < due):
                due = self.delayed[0][0]
            if due is not None and due <= now:
                self._tick(now)
                continue
            if self.inflight:
                timeout = None if (due is None or clock.virtual) else max(0.0, (due - now) / 1000)
                interrupt.waiting = True  # from here a Ctrl-C raises; one that came before was flagged
                try:
                    if interrupt.requested:
                        return
                    task, outcome = results.get(timeout=timeout)
                except Exception:  # queue.Empty: a deadline came first
                    continue
                finally:
                    interrupt.waiting = False
                if task is not None:  # None is poke(): someone wants the loop to look at done()
                    self._applied(task, outcome)
                while not results.empty():  # everything that came back meanwhile, before new starts
                    task, outcome = results.get_nowait()
                    if task is not None:
                        self._applied(task, outcome)
                continue
            if due is None:
                return
            self.wake.clear()
            if done():  # asked for while this loop looked (a write took a while): its poke was just cleared
                return
            interrupt.waiting = True
            try:
                if interrupt.requested:
                    return
                clock.sleep_until(due, self.wake)
            finally:
                interrupt.waiting = False
            self._tick(clock.now_ms())

    @property
    def wake(self) -> threading.Event:
        """Set to end the loop's sleep until the next deadline early."""
        event = self._wake
        if event is None:
            with _wake_lock:  # poke() may come from another thread
                if self._wake is None:
                    self._wake = threading.Event()
                event = self._wake
        return event

    def poke(self) -> None:
        """Wake the loop from another thread so it checks ``done()`` again."""
        self.executor.results.put((None, None))
        self.wake.set()

    def _tick(self, now: int) -> None:
        self.handle(self.engine.tick(now), now)
        delayed = self.delayed
        while delayed and delayed[0][0] <= now:
            self.ready.append(heapq.heappop(delayed)[2])

    def _start_task(self, task: TaskModel) -> None:
        name = task.task_def_name
        node = task.node
        if self._inline and node.kind == "SIMPLE" and self.task_queue is None:
            td = node.task_def
            if not (td.concurrent_exec_limit or td.rate_limit_per_frequency):
                worker = self.workers.get(name)
                if worker is not None and not self.hooks.task_started:
                    self._call_here(task, worker)  # starts only a SCHEDULED task of a RUNNING workflow
                    return
        if task.status.is_terminal or task.workflow.status.is_terminal:
            return
        if self.task_queue is not None and node.kind == "SIMPLE" and name not in self.workers:
            self.task_queue(task)
            return
        td = node.task_def
        limit = td.concurrent_exec_limit
        if limit and self.running[name] >= limit:
            self.blocked[name].append(task)
            return
        rate = td.rate_limit_per_frequency
        now = self.clock.now_ms()
        if rate:
            window = (td.rate_limit_frequency_in_seconds or 1) * 1000
            starts = self.starts[name]
            while starts and starts[0] <= now - window:
                starts.popleft()
            if len(starts) >= rate:
                heapq.heappush(self.delayed, (starts[0] + window, next(self._seq), task))
                return
            starts.append(now)
        worker = self.workers.get(name) if node.kind == "SIMPLE" else self.builtin.get(task.task_type)
        outside = worker is None and name in self.external
        if outside:
            # completed from outside, like an asyncComplete system task: no response timeout, so a
            # foreground run returns RUNNING instead of waiting for one
            task.response_timeout_seconds = 0
        # On the calling thread (no job closure or result queue): decided before the start, which then
        # arms no response timer (the result is checked against it when it comes, Engine.task_returned).
        here = worker is not None and (
            self._inline or (self.here and not self.inflight and not self.ready and self._alone(task, now))
        )
        if not self.engine.task_started(task, now, _HOST, watch=not here):
            return
        hooks = self.hooks.task_started
        if hooks:
            event = TaskStarted(task)
            for hook in hooks:
                hook(event)
        if outside:
            return  # left IN_PROGRESS for complete_task / fail_task from outside
        if worker is None:
            commands = self.engine.task_updated(
                task,
                "FAILED_WITH_TERMINAL_ERROR",
                now,
                reason=f"no worker is registered for task definition '{name}' (task '{task.ref}'). Fix: pass "
                f"workers=[...] with a @flowkit.worker_task(task_definition_name='{name}') function.",
            )
            self._ended(task)
            self.handle(commands, now)
            return
        self.running[name] += 1
        self.inflight += 1
        if worker.copies_input and here:
            snapshot: Any = task  # read on this thread before anything else changes it: see TaskModel.input_data
        elif worker.copies_input and self._pool_only:
            snapshot = _bound_snapshot(task)
        else:
            snapshot = _snapshot(task, worker.copies_input)
        if here:
            try:
                outcome, now = self._call(task, worker, snapshot)
            except KeyboardInterrupt:  # Ctrl-C inside the worker: the call is over, its task is not
                self.inflight -= 1
                self.running[name] -= 1
                raise
            self._apply(task, outcome, now)
        else:
            self.executor.submit_worker(task, worker, snapshot)

    def _call(self, task: TaskModel, worker: Worker, snapshot: Any) -> tuple[Any, int]:
        """Call ``worker`` on this thread: (its result, or what it raised, and the time it returned).

        Ctrl-C during the call propagates (KeyboardInterrupt). A task answered past its response
        timeout is reported to the engine (``Engine.task_returned``), as its timer would have.
        """
        interrupt = self.interrupt
        watched = self._watched
        if watched:  # the watch thread may write meanwhile (flowkit.runtime._watch)
            self.calling = True
        interrupt.waiting = True
        try:
            if interrupt.requested:
                raise KeyboardInterrupt
            outcome: Any = worker.result(snapshot)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # as on a worker thread: the runner turns this into a task failure
            outcome = exc
        finally:
            interrupt.waiting = False  # first: a Ctrl-C while waiting for the watch thread's write only flags
            if watched:
                self.calling = False  # first: see write_waited
                if self.watch_writing:
                    self._await_watch_write()
        now = self.clock.now_ms()
        timeout = task.response_timeout_seconds
        if timeout and task.update_time + timeout * 1000 <= now:  # past its response timeout (rare)
            self.engine.task_returned(task, now)
        return outcome, now

    def _call_here(self, task: TaskModel, worker: Worker) -> None:
        """``_start_task`` and ``_apply`` for an inline SIMPLE task with no rate or concurrency limit.

        A fan-out's branches on the inline executor (no start hooks): none of the bookkeeping that
        only limits, task queues and other threads need (keep in step with those two methods).
        """
        engine, clock, interrupt = self.engine, self.clock, self.interrupt
        now = clock.now_ms()
        if not engine.task_started(task, now, _HOST, False):  # positional: keywords cost a call more
            return
        snapshot: Any = task if worker.copies_input else _snapshot(task, False)  # see TaskModel.input_data
        self.inflight += 1
        watched = self._watched
        if watched:  # the watch thread may write meanwhile (flowkit.runtime._watch)
            self.calling = True
        interrupt.waiting = True
        try:  # _call, without the call: every branch of a fan-out comes this way (keep them in step)
            if interrupt.requested:
                raise KeyboardInterrupt
            outcome: Any = worker.result(snapshot)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # as on a worker thread: the runner turns this into a task failure
            outcome = exc
        finally:  # Ctrl-C inside the worker included: the call is over, its task is not
            interrupt.waiting = False
            if watched:
                self.calling = False
                if self.watch_writing:
                    self._await_watch_write()
            self.inflight -= 1
        now = clock.now_ms()
        timeout = task.response_timeout_seconds
        if timeout and task.update_time + timeout * 1000 <= now:  # past its response timeout (rare)
            engine.task_returned(task, now)
        timers = engine.timers
        if type(outcome) is not dict or (timers and timers[0][0] <= now) or self.hooks.task_ended or self.blocked:
            self.inflight += 1  # _apply counts the call as its own
            self.running[task.task_def_name] += 1
            self._apply(task, outcome, now)
            return
        commands = engine.task_completed(task, outcome, now, True)
        if not self.due_unwritten and engine.track_tasks:
            self.due_unwritten = True
            self._due_at = time.monotonic()
        if task.status is not _COMPLETED:
            self._ended(task)
        if commands:
            self.handle(commands, now)

    def _alone(self, task: TaskModel, now: int) -> bool:
        """Nothing can happen while ``task``'s worker runs, so it may run on the calling thread.

        The rule (README, "Durability and speed"): the run is in the foreground (``flowkit.run``) on the
        threads executor, this is the only task ready and none is in flight, and no timer (a timeout,
        a WAIT, a retry delay, the workflow timeout) is due within the next hour, Conductor's default
        response timeout. A worker thread would then only hand the result back later: same outcome,
        one thread switch less per task.
        """
        horizon = now + _HERE_HORIZON_MS
        due = self.engine.next_deadline()
        if due is not None and due < horizon:
            return False
        if self.delayed and self.delayed[0][0] < horizon:
            return False
        timeout = task.node.task_def.timeout_seconds
        if timeout and timeout * 1000 < _HERE_HORIZON_MS:
            return False
        timeout = task.response_timeout_seconds  # not armed yet: the decision comes before the start
        return not (timeout and timeout * 1000 < _HERE_HORIZON_MS)

    def _applied(self, task: TaskModel, outcome: Any) -> None:
        try:
            self._apply(task, outcome)
        except Exception as exc:  # the engine (or a hook) broke on this result: its workflow ends FAILED
            self.fail(task.workflow, exc, f"recording the result of task '{task.ref}'")

    def _apply(self, task: TaskModel, outcome: Any, now: int | None = None) -> None:
        """Report ``outcome`` of ``task``'s worker to the engine.

        ``now``: when it came, given only for a call made on the calling thread (surely this run's).
        """
        engine = self.engine
        if now is None:
            wf = task.workflow
            if engine.executions.get(wf.workflow_id) is not wf:
                return  # a late answer to a call another run started on this (shared) executor: not ours
            now = self.clock.now_ms()
        self.inflight -= 1
        name = task.task_def_name
        self.running[name] -= 1
        if self.blocked:
            blocked = self.blocked.get(name)
            if blocked:
                self.ready.append(blocked.popleft())
        timers = engine.timers
        if timers and timers[0][0] <= now:  # the earliest timer, ended or not, is due: look closer
            due = engine.next_deadline()
            if due is not None and due <= now:
                self._tick(now)
        if outcome is DROPPED:  # the executor abandoned the call (its task had ended): nothing to report
            return
        if type(outcome) is dict:  # Worker.result's plain COMPLETED result: its own copy of the output
            commands = engine.task_completed(task, outcome, now, owned=True)
        elif (
            type(outcome) is Outcome
            and outcome.status is _COMPLETED
            and outcome.reason is None
            and outcome.error is None
            and not outcome.logs
            and outcome.output is not None
        ):
            commands = engine.task_completed(task, outcome.output, now)  # the common result, fewer checks
        else:
            if type(outcome) is not Outcome and not isinstance(outcome, Outcome):
                outcome = Outcome("FAILED", {}, f"worker crashed: {outcome!r}")
            commands = engine.task_updated(
                task,
                outcome.status,
                now,
                output=outcome.output,
                reason=outcome.reason,
                callback_after_seconds=outcome.callback_after_seconds,
                logs=outcome.logs,
                error=outcome.error,
            )
        # Timed once the engine took it in (a fork's scheduling can take a while). A store that keeps the
        # live models (the engine reports no task changes to it) has no results to write.
        if not self.due_unwritten and engine.track_tasks:
            self.due_unwritten = True
            self._due_at = time.monotonic()
        if task.status is not _COMPLETED or self.hooks.task_ended:
            self._ended(task)
        if commands:
            self.handle(commands, now)

    def _ended(self, task: TaskModel) -> None:
        """Tell the hooks that ``task``'s result was applied (before the commands it led to)."""
        if self.report is not None and task.status is not _COMPLETED:
            self.report(task)
        hooks = self.hooks.task_ended
        if hooks:
            event = TaskEnded(task)
            for hook in hooks:
                hook(event)
