"""The Runtime: one engine, its runner and registries.

It is driven in the caller's thread (``run``) or on a background thread (``start``), with workflow
operations routed to whichever thread owns the engine. Executions are handles onto it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping
from typing import Any

from flowkit.definitions._json import copy_input
from flowkit.engine import Command, Ended, Engine, WorkflowModel
from flowkit.errors import InputError, MissingWorkerError

__all__ = ["Runtime", "open", "start"]

Operation = Callable[[Engine, int], list[Command]]


class Runtime:
    """Runs workflows for a set of workers, task definitions and workflow definitions.

    Args:
        workers: ``@worker_task`` functions, or a ``{task name: function}`` mapping.
        task_defs: TaskDefs (objects, dicts or paths).
        workflows: Workflow definitions for sub-workflows and failure workflows.
        clock: ``flowkit.testing.VirtualClock()`` to skip waits; the system clock by default.
        executor: ``"threads"`` (default) or ``"inline"``.
        max_workers: Thread pool size.
        background: Run executions on a background thread (``start`` returns at once).
        scripts, script_limits, event_bus: As for :func:`flowkit.run`.
        external: Task definition names no worker here runs: their tasks wait IN_PROGRESS for
            ``execution.complete_task(ref, output)`` / ``fail_task(ref, reason)`` from outside.
        store: Where executions are kept: None for the default SQLite file (``$FLOWKIT_HOME/flowkit.db``,
            ``~/.flowkit`` by default), ``"memory"``, a path, or a store object.
    """

    def __init__(self, *, workers: Any = None, task_defs: Any = None, workflows: Any = None, clock: Any = None,
                 executor: Any = "threads", max_workers: int = 8, background: bool = True, scripts: Any = None,
                 script_limits: Any = None, event_bus: Any = None, store: Any = None,
                 external: Any = ()) -> None:  # fmt: skip
        from flowkit._api import build_engine
        from flowkit._events import EventBus
        from flowkit.executors import Runner, make_executor
        from flowkit.testing import SystemClock
        from flowkit.workers import as_worker_map
        from flowkit.workers._http import builtin_workers

        if scripts is None and script_limits is not None:
            from flowkit.scripting._lazy import LazyScripts

            scripts = LazyScripts(script_limits)
        self.engine = build_engine(task_defs=task_defs, workflows=workflows, scripts=scripts)
        self.workers = as_worker_map(workers)
        self.event_bus = event_bus if event_bus is not None else EventBus.default()
        self.clock = clock or SystemClock()
        self.runner = Runner(self.engine, self.workers, clock=self.clock, executor=make_executor(executor, max_workers),
                             builtin=builtin_workers(), on_event=self.event_bus.publish)  # fmt: skip
        self.runner.listeners.append(self._on_command)
        self.external = frozenset(external)
        self.runner.external = self.external
        from flowkit.store import open_store

        self.store = open_store(store)
        self.runner.store = self.store
        self.engine.track = True
        self.engine.track_tasks = bool(getattr(self.store, "durable", True))
        self._saved: set[int] = set()
        self.background = background
        self._inbox: queue.SimpleQueue[tuple[Operation, _Reply]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._changed = threading.Condition()
        self._closed = False

    # ------------------------------------------------------------------ starting
    def prepare(self, workflow: Any, *, validate: bool = True) -> Any:
        """The WorkflowDef for ``workflow``, validated, with every SIMPLE task's worker present."""
        from flowkit._api import _simple_names, _validate_once, as_workflow_def

        definition = as_workflow_def(workflow)
        if validate:
            _validate_once(definition, self.engine)
        missing = {
            name: refs
            for name, refs in _simple_names(definition, self.engine.workflows, set()).items()
            if name not in self.workers and name not in self.external
        }
        if missing:
            raise MissingWorkerError(missing)
        if id(definition) not in self._saved:
            self._saved.add(id(definition))
            with self.store.session():
                self.store.save_definitions([definition, *self.engine.workflows], list(self.engine.task_defs.values()))
        return definition

    def start(self, workflow: Any, input: Mapping[str, Any] | None = None, *, correlation_id: str | None = None,  # noqa: A002
              workflow_id: str | None = None, priority: int = 0, validate: bool = True) -> Any:  # fmt: skip
        """Start an execution and return its :class:`~flowkit.Execution` (at once in the background mode)."""
        from flowkit._execution import Execution

        definition = self.prepare(workflow, validate=validate)
        if input is not None and not isinstance(input, Mapping):
            raise InputError(f"workflow input must be a JSON object (a dict), got {type(input).__name__}")
        data = copy_input(input)  # what is recorded: later changes by the caller do not reach it
        holder: list[WorkflowModel] = []

        def begin(engine: Engine, now: int) -> list[Command]:
            wf, commands = engine.start(definition, data, now=now, correlation_id=correlation_id,
                                        workflow_id=workflow_id, priority=priority)  # fmt: skip
            holder.append(wf)
            return commands

        self.operate(begin, drive=holder)
        return Execution(holder[0], self)

    def recover(self) -> list[Any]:
        """Carry on every RUNNING or PAUSED execution in the store that this runtime does not hold yet.

        This is for executions left behind when a process was killed. Returns their Executions; each
        goes on as the runtime runs.
        """
        from flowkit._execution import Execution
        from flowkit.store._codec import restore_workflow

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

    def load(self, workflow_id: str) -> Any:
        """The Execution with this id: held by this runtime, or loaded from the store (not resumed).

        Raises:
            NotFoundError: the store has no such execution.
        """
        from flowkit._execution import Execution
        from flowkit.errors import NotFoundError
        from flowkit.store._codec import restore_workflow

        model = self.engine.executions.get(workflow_id)
        if model is None:
            with self.store.session():
                record = self.store.execution(workflow_id)
                if record is None:
                    live = getattr(self.store, "model", lambda _id: None)(workflow_id)
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
    def operate(self, operation: Operation, *, drive: Any = None) -> None:
        """Apply ``operation(engine, now)`` on the thread that owns the engine.

        In the foreground mode the runner then drives the workflow(s) until they end or wait for
        outside input; in the background mode the runtime thread carries on by itself.
        Errors raised by the operation (e.g. OperationNotAllowedError) reach the caller.
        """
        if not self.background:
            from flowkit.workers._capture import installed

            now = self.clock.now_ms()
            with installed(), self.store.session():
                self.runner.handle(operation(self.engine, now), now)
                self.runner.flush()  # a new execution or an operation is on disk before any task starts
                target = drive[0] if isinstance(drive, list) and drive else drive
                self.runner.run(lambda: target is not None and target.status.is_terminal)
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
        from flowkit.workers._capture import installed

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

    def _on_command(self, command: Any) -> None:
        if type(command) is Ended:
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


def start(workflow: Any, input: Mapping[str, Any] | None = None, *, workers: Any = None, task_defs: Any = None,  # noqa: A002
          workflows: Any = None, clock: Any = None, executor: Any = "threads", max_workers: int = 8,
          correlation_id: str | None = None, validate: bool = True, scripts: Any = None, script_limits: Any = None,
          event_bus: Any = None, store: Any = None, external: Any = ()) -> Any:  # fmt: skip
    """Start ``workflow`` in the background and return its :class:`~flowkit.Execution` at once.

    The run goes on on a background thread; ``execution.wait()`` blocks until it ends, and the
    operations (pause, resume, terminate, retry, rerun, restart, skip_task, complete_task,
    fail_task) act on it while it runs. Arguments are those of :func:`flowkit.run`.
    """
    runtime = Runtime(workers=workers, task_defs=task_defs, workflows=workflows, clock=clock, executor=executor,
                      max_workers=max_workers, scripts=scripts, script_limits=script_limits, event_bus=event_bus,
                      store=store, external=external)  # fmt: skip
    return runtime.start(workflow, input, correlation_id=correlation_id, validate=validate)


def open(store: Any = None, *, workers: Any = None, task_defs: Any = None, workflows: Any = None,  # noqa: A001
         background: bool = True, **options: Any) -> Runtime:  # fmt: skip
    """Open flowkit on ``store`` again.

    Every execution left RUNNING there (its process was killed) carries on with these workers.
    Definitions registered in the store are loaded too.
    """
    from flowkit.store import open_store

    opened = open_store(store)
    with opened.session():
        stored_workflows, stored_task_defs = opened.workflow_defs(), opened.task_defs()
    given = {t.name if hasattr(t, "name") else t.get("name"): t for t in (task_defs or [])} if task_defs else {}
    runtime = Runtime(workers=workers, task_defs=[*[t for t in stored_task_defs if t.name not in given], *given.values()],
                      workflows=[*stored_workflows, *(workflows or [])], background=background, store=opened, **options)  # fmt: skip
    runtime.recover()
    return runtime
