"""The public entry points: ``flowkit.run``, ``flowkit.start`` and ``flowkit.open``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

from flowkit.runtime._execution import Execution
from flowkit.runtime._interrupt import Interrupted
from flowkit.runtime._options import RunOptions
from flowkit.runtime._runtime import Runtime
from flowkit.store import open_store

if TYPE_CHECKING:
    from flowkit._events import EventBus
    from flowkit._types import ExecutorLike, StoreLike, TaskDefsLike, WorkersLike, WorkflowLike, WorkflowsLike
    from flowkit.runtime._protocols import Clock, Scripts
    from flowkit.scripting import ScriptLimits

__all__ = ["open", "run", "start"]


def run(
    workflow: WorkflowLike,
    input: Mapping[str, Any] | None = None,  # noqa: A002 - Conductor's name for it
    *,
    workers: WorkersLike = None,
    task_defs: TaskDefsLike = None,
    workflows: WorkflowsLike = None,
    clock: Clock | None = None,
    executor: ExecutorLike = "threads",
    max_workers: int = 8,
    correlation_id: str | None = None,
    validate: bool = True,
    scripts: Scripts | None = None,
    script_limits: ScriptLimits | None = None,
    event_bus: EventBus | None = None,
    store: StoreLike = None,
    external: Iterable[str] = (),
) -> Execution:
    """Run ``workflow`` to the end and return its :class:`~flowkit.Execution`.

    Args:
        workflow: A WorkflowDef, a builder, a dict, JSON text or a path to Conductor JSON.
        input: The workflow input.
        workers: ``@worker_task`` functions, or a ``{task name: function}`` mapping.
        task_defs: TaskDefs (objects, dicts or paths) for retry, timeout and rate-limit policy.
        workflows: Other workflow definitions (sub-workflows, failure workflows).
        clock: ``flowkit.testing.VirtualClock()`` to skip waits; the system clock by default.
        executor: ``"threads"`` (parallel, default) or ``"inline"`` (calling thread, deterministic).
        max_workers: Thread pool size for ``"threads"``.
        correlation_id: Conductor's correlationId.
        validate: Check the definition first (raises DefinitionError listing every problem).
        scripts: A custom JavaScript/jq evaluator (default: sandboxed QuickJS and jq, created on first use).
        script_limits: A :class:`flowkit.scripting.ScriptLimits` for every script of this run (time
            and memory); a task's input ``scriptTimeoutMs`` / ``scriptMaxMemoryBytes`` overrides it.
        event_bus: Where EVENT tasks publish (default: ``flowkit.EventBus.default()``).
        external: Task definition names left for outside completion: their SIMPLE tasks wait
            IN_PROGRESS until ``execution.complete_task`` / ``fail_task`` (no worker needed).
        store: Where the execution is kept: None for the default SQLite file
            (``$FLOWKIT_HOME/flowkit.db``, ``~/.flowkit`` by default), ``"memory"``, a path, or a store.

    Returns:
        The Execution: ended, or RUNNING when it waits for outside completion (HUMAN, WAIT without a time).

    While it blocks, each failed attempt is logged at once on the ``flowkit`` logger (WARNING) with
    what happens next. Ctrl-C (or Jupyter's "interrupt kernel") stops it within a second: the
    execution ends TERMINATED in the store and :class:`flowkit.Interrupted` is raised.

    Raises:
        DefinitionError: the definition is malformed.
        MissingWorkerError: a SIMPLE task has no worker.
        Interrupted: Ctrl-C; ``.execution`` is the TERMINATED execution.
    """
    options = RunOptions(
        workers=workers,
        task_defs=task_defs,
        workflows=workflows,
        clock=clock,
        executor=executor,
        max_workers=max_workers,
        scripts=scripts,
        script_limits=script_limits,
        event_bus=event_bus,
        store=store,
        external=external,
        background=False,
    )
    try:
        return Runtime(options).start(workflow, input, correlation_id=correlation_id, validate=validate)
    except Interrupted as stop:  # raised again here: the traceback ends at the caller's line, not in the runner
        raise Interrupted(str(stop), stop.execution) from None


def start(
    workflow: WorkflowLike,
    input: Mapping[str, Any] | None = None,  # noqa: A002 - Conductor's name for it
    *,
    workers: WorkersLike = None,
    task_defs: TaskDefsLike = None,
    workflows: WorkflowsLike = None,
    clock: Clock | None = None,
    executor: ExecutorLike = "threads",
    max_workers: int = 8,
    correlation_id: str | None = None,
    validate: bool = True,
    scripts: Scripts | None = None,
    script_limits: ScriptLimits | None = None,
    event_bus: EventBus | None = None,
    store: StoreLike = None,
    external: Iterable[str] = (),
) -> Execution:
    """Start ``workflow`` in the background and return its :class:`~flowkit.Execution` at once.

    The run goes on on a background thread; ``execution.wait()`` blocks until it ends, and the
    operations (pause, resume, terminate, retry, rerun, restart, skip_task, complete_task,
    fail_task) act on it while it runs. Arguments are those of :func:`flowkit.run`.
    """
    options = RunOptions(
        workers=workers,
        task_defs=task_defs,
        workflows=workflows,
        clock=clock,
        executor=executor,
        max_workers=max_workers,
        scripts=scripts,
        script_limits=script_limits,
        event_bus=event_bus,
        store=store,
        external=external,
    )
    return Runtime(options).start(workflow, input, correlation_id=correlation_id, validate=validate)


def open(  # noqa: A001 - flowkit.open, as io.open
    store: StoreLike = None,
    *,
    workers: WorkersLike = None,
    task_defs: TaskDefsLike = None,
    workflows: WorkflowsLike = None,
    background: bool = True,
    **options: Any,
) -> Runtime:
    """Open flowkit on ``store`` again.

    Every execution left RUNNING there (its process was killed) carries on with these workers.
    Definitions registered in the store are loaded too. Other keyword ``options`` are the fields of
    :class:`~flowkit.runtime.RunOptions` (``clock``, ``executor``, ...).
    """
    opened = open_store(store)
    with opened.session():
        stored_workflows, stored_task_defs = opened.workflow_defs(), opened.task_defs()
    given: dict[str, Any] = {
        t.name if hasattr(t, "name") else t.get("name"): t for t in cast("Iterable[Any]", task_defs or [])
    }
    runtime = Runtime(
        RunOptions(
            workers=workers,
            task_defs=[*[t for t in stored_task_defs if t.name not in given], *given.values()],
            workflows=[*stored_workflows, *(workflows or [])],
            background=background,
            store=opened,
            **options,
        )
    )
    runtime.recover()
    return runtime
