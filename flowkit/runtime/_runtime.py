"""The Runtime: one engine, its runner and registries.

It is driven in the caller's thread (``run``) or on a background thread (``start``), with workflow
operations routed to whichever thread owns the engine. Executions are handles onto it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from flowkit._events import EventBus
from flowkit.definitions import WorkflowDef
from flowkit.engine import Command, Engine, WorkflowModel
from flowkit.errors import InputError, MissingWorkerError, NotFoundError
from flowkit.executors import make_executor
from flowkit.runtime._clock import SystemClock
from flowkit.runtime._execution import Execution
from flowkit.runtime._hooks import Hooks, RunEnded, RunStarted, TaskEnded
from flowkit.runtime._interrupt import INTERRUPTED_REASON, Interrupted
from flowkit.runtime._options import RunOptions
from flowkit.runtime._prepare import as_workflow_def, build_engine, simple_names, validate_once
from flowkit.runtime._report import FailureReporter
from flowkit.runtime._runner import Runner
from flowkit.scripting._lazy import LazyScripts
from flowkit.store import open_store
from flowkit.store._codec import restore_workflow
from flowkit.workers import as_worker_map
from flowkit.workers._capture import installed
from flowkit.workers._http import builtin_workers

if TYPE_CHECKING:
    from flowkit._types import WorkflowLike

__all__ = ["Runtime"]

Operation = Callable[[Engine, int], list[Command]]


class Runtime:
    """Runs workflows for a set of workers, task definitions and workflow definitions.

    ``Runtime(RunOptions(...))``, or ``Runtime(workers=..., store=..., ...)`` with the fields of
    :class:`~flowkit.runtime.RunOptions` as keywords (``background=True`` by default: ``start``
    returns at once).

    Attributes:
        hooks: Callbacks for run and task starts and ends (see :class:`~flowkit.runtime.Hooks`).
    """

    def __init__(self, options: RunOptions | None = None, /, **keywords: Any) -> None:
        if options is None:
            options = RunOptions(**keywords)
        elif keywords:
            options = options.replace(**keywords)
        self.options = options
        scripts = options.scripts
        if scripts is None and options.script_limits is not None:
            scripts = LazyScripts(options.script_limits)
        self.store = open_store(options.store)
        self.engine = build_engine(task_defs=options.task_defs, workflows=options.workflows, scripts=scripts,
                                   track=True, track_tasks=self.store.durable)  # fmt: skip
        self.workers = as_worker_map(options.workers)
        self.external = frozenset(options.external)
        self.event_bus = options.event_bus if options.event_bus is not None else EventBus.default()
        self.clock = options.clock or SystemClock()
        self.hooks = Hooks()
        self.hooks.add(RunEnded, self._on_ended)
        if not options.background:  # flowkit.run blocks: say what fails as it happens
            self.hooks.add(TaskEnded, FailureReporter(self.engine))
        self.runner = Runner(self.engine, self.workers, clock=self.clock, store=self.store, hooks=self.hooks,
                             executor=make_executor(options.executor, options.max_workers), builtin=builtin_workers(),
                             external=self.external, on_event=self.event_bus.publish)  # fmt: skip
        self._saved: set[int] = set()
        self.background = options.background
        self._inbox: queue.SimpleQueue[tuple[Operation, _Reply]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._changed = threading.Condition()
        self._closed = False

    # ------------------------------------------------------------------ starting
    def prepare(self, workflow: WorkflowLike, *, validate: bool = True) -> WorkflowDef:
        """The WorkflowDef for ``workflow``, validated, with every SIMPLE task's worker present."""
        definition = as_workflow_def(workflow)
        if validate:
            validate_once(definition, self.engine)
        missing = {
            name: refs
            for name, refs in simple_names(definition, self.engine.workflows, set()).items()
            if name not in self.workers and name not in self.external and self.runner.task_queue is None
        }
        if missing:
            raise MissingWorkerError(missing)
        if id(definition) not in self._saved:
            self._saved.add(id(definition))
            with self.store.session():
                self.store.save_definitions([definition, *self.engine.workflows], list(self.engine.task_defs.values()))
        return definition

    def start(
        self,
        workflow: WorkflowLike,
        input: Mapping[str, Any] | None = None,  # noqa: A002 - Conductor's name for it
        *,
        correlation_id: str | None = None,
        workflow_id: str | None = None,
        priority: int = 0,
        validate: bool = True,
    ) -> Execution:
        """Start an execution and return its :class:`~flowkit.Execution` (at once in the background mode)."""
        definition = self.prepare(workflow, validate=validate)
        if input is not None and not isinstance(input, Mapping):
            raise InputError(f"workflow input must be a JSON object (a dict), got {type(input).__name__}")
        holder: list[WorkflowModel] = []

        def begin(engine: Engine, now: int) -> list[Command]:
            wf, commands = engine.start(definition, dict(input or {}), now=now, correlation_id=correlation_id,
                                        workflow_id=workflow_id, priority=priority)  # fmt: skip
            holder.append(wf)
            hooks = self.hooks.run_started
            if hooks:
                event = RunStarted(wf)
                for hook in hooks:
                    hook(event)
            return commands

        self.operate(begin, drive=holder)
        return Execution(holder[0], self)

    def recover(self) -> list[Execution]:
        """Carry on every RUNNING or PAUSED execution in the store that this runtime does not hold yet.

        This is for executions left behind when a process was killed. Returns their Executions; each
        goes on as the runtime runs.
        """
        recovered: list[WorkflowModel] = []

        def load(engine: Engine, now: int) -> list[Command]:
            commands: list[Command] = []
            for row in self.store.execution_rows(status=["RUNNING", "PAUSED"]):
                if row["workflow_id"] in engine.executions:
                    continue
                record = self.store.execution(row["workflow_id"])
                if record is None:
                    continue
                wf = restore_workflow(engine, *record)
                recovered.append(wf)
            for wf in recovered:
                commands += engine.recover(wf, now)
            return commands

        with self.store.session():
            self.operate(load)
        if not self.background:
            for wf in recovered:
                self.wait(wf)
        return [Execution(wf, self) for wf in recovered]

    def load(self, workflow_id: str) -> Execution:
        """The Execution with this id: held by this runtime, or loaded from the store (not resumed).

        Raises:
            NotFoundError: the store has no such execution.
        """
        model = self.engine.executions.get(workflow_id)
        if model is None:
            with self.store.session():
                record = self.store.execution(workflow_id)
                if record is None:
                    live = self.store.model(workflow_id)
                    if live is None:
                        raise NotFoundError(f"no execution {workflow_id!r} in {self.store!r}")
                    model = live
                else:
                    model = restore_workflow(self.engine, *record)
                    if model.parent_workflow_id and model.parent_workflow_id not in self.engine.executions:
                        self.load(model.parent_workflow_id)
            for task in model.tasks:
                if task.sub_workflow_id and task.sub_workflow_id not in self.engine.executions:
                    self.load(task.sub_workflow_id)
        return Execution(model, self)

    # ------------------------------------------------------------------ operations
    def operate(self, operation: Operation, *, drive: WorkflowModel | list[WorkflowModel] | None = None) -> None:
        """Apply ``operation(engine, now)`` on the thread that owns the engine.

        In the foreground mode the runner then drives the workflow(s) until they end or wait for
        outside input; in the background mode the runtime thread carries on by itself.
        Errors raised by the operation (e.g. OperationNotAllowedError) reach the caller.
        """
        if not self.background:
            now = self.clock.now_ms()
            with installed(), self.store.session(), self.runner.interrupt as interrupt:
                self.runner.handle(operation(self.engine, now), now)
                self.runner.flush()  # a new execution or an operation is on disk before any task starts
                target = (drive[0] if drive else None) if isinstance(drive, list) else drive
                try:
                    self.runner.run(lambda: target is not None and target.status.is_terminal)
                except KeyboardInterrupt:
                    interrupt.requested = True
                if interrupt.requested:
                    interrupt.requested = False
                    self._stop_interrupted(target)
            return
        if self._closed:
            raise InputError("this Runtime is closed")
        if threading.current_thread() is self._thread:
            now = self.clock.now_ms()
            self.runner.handle(operation(self.engine, now), now)
            self.runner.flush()  # a new execution or an operation is on disk before any task starts
            return
        reply = _Reply()
        self._ensure_thread()
        self._inbox.put((operation, reply))
        self.runner.poke()
        reply.wait()

    def _stop_interrupted(self, target: WorkflowModel | None) -> None:
        """Ctrl-C stopped a foreground run: end what it drove TERMINATED, on disk, and tell the caller."""
        if target is not None and not target.status.is_terminal:
            now = self.clock.now_ms()
            self.runner.handle(self.engine.terminate(target, INTERRUPTED_REASON, now), now)
        self.runner.flush()
        if target is None:
            raise Interrupted("interrupted")
        raise Interrupted(
            f"interrupted; execution {target.workflow_id} of '{target.definition.name}' is "
            f"{target.status.value} (execution.retry() or restart() takes it up again)",
            Execution(target, self),
        )

    def wait(self, model: WorkflowModel, timeout: float | None = None) -> bool:
        """Block until ``model`` is terminal (True) or ``timeout`` seconds pass (False)."""
        if not self.background:
            if not model.status.is_terminal:
                self.operate(lambda engine, now: [], drive=model)
            return model.status.is_terminal
        with self._changed:
            return self._changed.wait_for(lambda: model.status.is_terminal, timeout)

    def close(self) -> None:
        """Stop the background thread (running executions stop where they are)."""
        self._closed = True
        if self._thread is not None:
            self.runner.poke()
            self._inbox.put((lambda engine, now: [], _Reply()))
            self._thread.join(timeout=5)

    # ------------------------------------------------------------------ the background thread
    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._main, name="flowkit-runtime", daemon=True)
            self._thread.start()

    def _main(self) -> None:
        inbox = self._inbox
        while not self._closed:
            try:
                operation, reply = inbox.get(timeout=None if self._idle() else 0)
            except queue.Empty:
                operation = None
            # Output capture and the store's process lock only while work runs: an idle runtime
            # leaves sys.stdout alone and lets other processes use the store.
            with installed(), self.store.session():
                if operation is not None:
                    now = self.clock.now_ms()
                    try:
                        self.runner.handle(operation(self.engine, now), now)
                        self.runner.flush()  # a new execution or an operation is on disk before any task starts
                    except BaseException as exc:  # handed to the caller, who raised the operation
                        reply.error = exc
                    reply.done.set()
                else:
                    self.runner.run(lambda: not inbox.empty() or self._closed)
            self._notify()

    def _idle(self) -> bool:
        """Nothing can move without an operation: block on the inbox."""
        runner = self.runner
        return not (runner.ready or runner.inflight or runner.delayed or self.engine.next_deadline() is not None)

    def _on_ended(self, event: RunEnded) -> None:
        self._notify()

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()


class _Reply:
    __slots__ = ("done", "error")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: BaseException | None = None

    def wait(self) -> None:
        self.done.wait()
        if self.error is not None:
            raise self.error
