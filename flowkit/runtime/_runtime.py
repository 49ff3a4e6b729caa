"""The Runtime: one engine, its runner and registries.

It is driven in the caller's thread (``run``) or on a background thread (``start``), with workflow
operations routed to whichever thread owns the engine. Executions are handles onto it.
"""

from __future__ import annotations

import atexit
import queue
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from flowkit._events import EventBus
from flowkit.definitions import WorkflowDef
from flowkit.definitions._json import copy_input
from flowkit.engine import Command, Engine, WorkflowModel
from flowkit.errors import InputError, MissingWorkerError, NotFoundError, StoreError
from flowkit.executors import make_executor
from flowkit.executors._executors import ThreadExecutor
from flowkit.runtime._clock import SystemClock
from flowkit.runtime._execution import Execution
from flowkit.runtime._hooks import Hooks, RunEnded, RunStarted
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
        self.engine = build_engine(
            task_defs=options.task_defs,
            workflows=options.workflows,
            scripts=scripts,
            track=True,
            track_tasks=self.store.durable,
        )
        self.workers = as_worker_map(options.workers)
        external = options.external
        self.external = frozenset((external,) if isinstance(external, str) else external)  # one name, or several
        self.event_bus = options.event_bus if options.event_bus is not None else EventBus.default()
        self.clock = options.clock or SystemClock()
        if not (hasattr(self.clock, "now_ms") and hasattr(self.clock, "sleep_until")):
            raise InputError(
                f"clock must be a flowkit clock (now_ms() and sleep_until()), got {type(self.clock).__name__}. "
                "Fix: pass clock=flowkit.testing.VirtualClock() to skip waits, or leave it out."
            )
        self.hooks = Hooks()
        if options.background:  # wait() blocks on _changed (a foreground run is driven by its caller)
            self.hooks.add(RunEnded, _weakly(self, Runtime._on_ended))
        self.runner = Runner(
            self.engine,
            self.workers,
            clock=self.clock,
            store=self.store,
            hooks=self.hooks,
            executor=make_executor(options.executor, options.max_workers),
            builtin=builtin_workers(),
            external=self.external,
            on_event=self.event_bus.publish,
        )
        if not options.background:  # flowkit.run blocks: say what fails as it happens
            self.runner.report = FailureReporter(self.engine).report  # called for failed attempts only
        self._saved: set[int] = set()
        self.background = options.background
        # a foreground run may run a lone worker on the calling thread (Runner._alone)
        self.runner.here = not options.background and type(self.runner.executor) is ThreadExecutor
        self._inbox: queue.SimpleQueue[tuple[Operation, _Reply | _Callback]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._thread_lock = threading.Lock()  # an operation is never queued to a thread that is leaving
        # wait() of a background runtime blocks on it; a foreground one shares an idle one (never waited on)
        self._changed = threading.Condition() if self.background else _NOBODY_WAITS
        self._closed = False
        # A write the background thread could not make (disk full, ...): the thread stopped with what
        # it took kept for the next write, and wait() raises this until an operation or flush() tries again.
        self.store_error: StoreError | None = None
        if self.background:
            self.runner.on_flush = _weakly(self, Runtime._notify)  # wait() reports an ended run once it is on disk
        _live_runtimes.add(self)
        disown = getattr(self.store, "disown", None)
        if disown is not None:  # a dropped runtime holds none of its executions (the store may unlock)
            weakref.finalize(self.engine, disown, self.engine.executions)

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
            # no session here: the store takes one only when it has something to write (a run of a
            # definition it wrote already takes one session, the run's)
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
        if input is not None and type(input) is not dict and not isinstance(input, Mapping):
            raise InputError(f"workflow input must be a JSON object (a dict), got {type(input).__name__}")
        data = copy_input(input)  # what is recorded: later changes by the caller do not reach it
        holder: list[WorkflowModel] = []

        def begin(engine: Engine, now: int) -> list[Command]:
            wf, commands = engine.start(
                definition, data, now=now, correlation_id=correlation_id, workflow_id=workflow_id, priority=priority
            )
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
            held = getattr(self.store, "held_here", None)  # another Runtime of this process runs it
            for row in self.store.execution_rows(status=["RUNNING", "PAUSED"]):
                if row["workflow_id"] in engine.executions or (held is not None and held(row["workflow_id"])):
                    continue
                record = self.store.execution(row["workflow_id"])
                if record is None:
                    continue
                wf = restore_workflow(engine, *record)
                recovered.append(wf)
            for wf in recovered:
                commands += engine.recover(wf, now)
            own = getattr(self.store, "own", None)
            if own is not None:
                own(recovered)  # held by this process from now on, even while it waits for outside input
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
            # A read: no session, which would take the store's writer lock (a server reads its
            # history while a notebook process writes to the same file).
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
                self.runner.flush_started()  # a new execution or an operation is on disk before any task starts
                target = (drive[0] if drive else None) if isinstance(drive, list) else drive
                try:
                    self.runner.run(lambda: target is not None and target.status.is_terminal)
                except KeyboardInterrupt:
                    interrupt.requested = True
                except StoreError:  # the store cannot be written (disk full, ...): the caller must hear it
                    raise
                except Exception as exc:  # the engine broke: end what it ran rather than leave it RUNNING
                    self.runner.fail_all(exc)
                if interrupt.requested:
                    interrupt.requested = False
                    self._stop_interrupted(target)
            return
        if self._closed:
            raise InputError("this Runtime is closed")
        if threading.current_thread() is self._thread:
            now = self.clock.now_ms()
            self.runner.handle(operation(self.engine, now), now)
            self.runner.flush_started()  # a new execution or an operation is on disk before any task starts
            return
        reply = _Reply()
        with self._thread_lock:
            self._inbox.put((operation, reply))
            self._ensure_thread()
        self.runner.poke()
        reply.wait()

    def submit(self, operation: Operation, done: Callable[[BaseException | None], None]) -> None:
        """Queue ``operation`` for the runtime thread and return at once (background mode only).

        ``done(error)`` is called on the runtime thread once the operation was applied and what it
        changed is on disk (``error`` is what it raised, or None). A server calls this from its event
        loop, which must not block the way :meth:`operate` does.
        """
        if not self.background:
            raise InputError("Runtime.submit needs the background mode (Runtime(background=True))")
        if self._closed:
            raise InputError("this Runtime is closed")
        with self._thread_lock:
            self._inbox.put((operation, _Callback(done)))
            self._ensure_thread()
        self.runner.poke()

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
            ended = self._changed.wait_for(lambda: self.store_error is not None or self._ended_on_disk(model), timeout)
        if self.store_error is not None and not self._ended_on_disk(model):
            raise self.store_error
        return ended

    def _ended_on_disk(self, model: WorkflowModel) -> bool:
        # In this order: a flush takes the dirty set before it writes, and says it is writing first.
        return (
            model.status.is_terminal
            and model.workflow_id not in self.engine.dirty_workflows
            and not self.runner.writing
        )

    def flush(self, timeout: float | None = 5.0) -> None:
        """Write everything this runtime changed to the store now (from any thread)."""
        if self.background and self._thread is not None and threading.current_thread() is not self._thread:
            reply = _Reply()
            with self._thread_lock:
                if self._thread is None:
                    return  # the thread left after its last write: nothing is pending
                self._inbox.put((lambda engine, now: [], reply))
            self.runner.poke()
            reply.done.wait(timeout)
            return
        engine = self.engine
        if engine.dirty or engine.dirty_workflows or engine.dropped:
            with self.store.session():
                self.runner.flush()
        self.store_error = None

    def close(self) -> None:
        """Stop the background thread (running executions stop where they are, free for another process)."""
        with self._thread_lock:
            self._closed = True
            thread = self._thread
            if thread is not None:
                self._inbox.put((lambda engine, now: [], _Reply()))
        if thread is not None:
            self.runner.poke()
            thread.join(timeout=5)
        disown = getattr(self.store, "disown", None)
        if disown is not None:  # its executions stop here: another process may adopt them now
            disown(self.engine.executions)

    # ------------------------------------------------------------------ the background thread
    def _ensure_thread(self) -> None:
        # called with _thread_lock held, after queueing an operation
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._main, name="flowkit-runtime", daemon=True)
            self._thread.start()

    def _main(self) -> None:
        """The background thread: lives while something can move, and leaves when nothing can.

        An idle runtime (every execution ended, or waiting for an operation) holds no thread: the
        next operation starts one again, so ``flowkit.start`` costs no thread once its run ended.
        """
        inbox = self._inbox
        try:
            while True:
                with self._thread_lock:
                    if self._closed or (inbox.empty() and (self._idle() or self.store_error is not None)):
                        self._thread = None
                        return
                operation: Operation | None
                reply: _Reply | _Callback | None
                try:
                    operation, reply = inbox.get_nowait()
                except queue.Empty:
                    operation = reply = None
                # The store's session only while work runs (see _work). Another process may hold the
                # store meanwhile (this one held no live execution): the operation's caller hears it,
                # and the thread lives on.
                session = self.store.session()
                try:
                    session.__enter__()
                except StoreError as exc:
                    if reply is not None:
                        reply.error = exc
                        reply.done.set()
                    else:
                        time.sleep(0.1)  # work to do but no store to record it in: try again shortly
                    continue
                try:
                    self._work(operation, reply)
                finally:
                    session.__exit__(None, None, None)
                self._notify()
        finally:
            self._notify()

    def _work(self, operation: Operation | None, reply: _Reply | _Callback | None) -> None:
        """One turn of the background thread, with the store held: ``operation``, or run until one comes.

        Output capture only while work runs: an idle runtime leaves sys.stdout alone.
        """
        inbox = self._inbox
        with installed():
            if operation is not None and reply is not None:
                self.store_error = None  # an operation tries the store again
                now = self.clock.now_ms()
                try:
                    self.runner.handle(operation(self.engine, now), now)
                    self.runner.flush_started()  # a new execution or an operation is on disk before any task starts
                except BaseException as exc:  # handed to the caller, who raised the operation
                    reply.error = exc
                reply.done.set()
                if self.runner.ready and not inbox.empty():
                    # More operations wait (a server's stream of worker calls): start what this one
                    # made ready first, or the next task would reach its pollers only once they stop.
                    self._drive(lambda: True)
            else:
                self._drive(lambda: not inbox.empty() or self._closed)

    def _drive(self, done: Callable[[], bool]) -> None:
        """Run until ``done()``; a write the store refused stops the thread, a broken engine ends the runs FAILED."""
        try:
            self.runner.run(done)
        except StoreError as exc:  # nothing broke but the store: the runs stay as they are, kept for the next write
            self.store_error = exc
        except Exception as exc:  # the engine broke: end what it ran rather than leave it RUNNING
            self.runner.fail_all(exc)

    def _idle(self) -> bool:
        """Nothing can move without an operation: block on the inbox."""
        runner = self.runner
        return not (runner.ready or runner.inflight or runner.delayed or self.engine.next_deadline() is not None)

    def _on_ended(self, event: RunEnded) -> None:
        self._notify()

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()


def _weakly(runtime: Runtime, method: Callable[..., None]) -> Callable[..., None]:
    """``method`` of ``runtime`` without a strong reference back to it.

    A dropped runtime is then freed at once (no reference cycle waiting for the collector), so the
    store stops counting its executions as held by this process.
    """
    ref = weakref.ref(runtime)

    def call(*args: Any) -> None:
        target = ref()
        if target is not None:
            method(target, *args)

    return call


_live_runtimes: weakref.WeakSet[Runtime] = weakref.WeakSet()
_NOBODY_WAITS = threading.Condition()


@atexit.register
def _flush_at_exit() -> None:
    """A process that exits normally leaves on disk every state its runtimes reached.

    Runtime threads are daemons (an interrupted script can always exit); this asks each one still
    running to write what it holds before the interpreter stops them.
    """
    for runtime in list(_live_runtimes):
        try:
            runtime.flush(timeout=5.0)
        except Exception:  # noqa: S112 - exiting: one runtime's broken store must not stop the others
            continue


class _Callback:
    """A reply that calls ``done(error)`` instead of waking a waiting thread (see Runtime.submit)."""

    __slots__ = ("call", "error")

    def __init__(self, call: Callable[[BaseException | None], None]) -> None:
        self.call = call
        self.error: BaseException | None = None

    @property
    def done(self) -> _Callback:
        return self

    def set(self) -> None:
        self.call(self.error)


class _Reply:
    __slots__ = ("done", "error")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: BaseException | None = None

    def wait(self) -> None:
        self.done.wait()
        if self.error is not None:
            raise self.error
