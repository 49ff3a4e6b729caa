"""The options of a run, in one frozen value shared by ``run``, ``start``, ``open`` and ``Runtime``."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import replace as _replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable

    from flowkit._events import EventBus
    from flowkit._types import ExecutorLike, StoreLike, TaskDefsLike, WorkersLike, WorkflowsLike
    from flowkit.runtime._protocols import Clock, Scripts
    from flowkit.scripting import ScriptLimits

__all__ = ["RunOptions"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOptions:
    """How a :class:`~flowkit.Runtime` runs workflows (the keyword arguments of :func:`flowkit.run`)."""

    workers: WorkersLike = None
    """``@worker_task`` functions, or a ``{task name: function}`` mapping."""
    task_defs: TaskDefsLike = None
    """TaskDefs (objects, dicts or paths) for retry, timeout and rate-limit policy."""
    workflows: WorkflowsLike = None
    """Other workflow definitions (sub-workflows, failure workflows)."""
    clock: Clock | None = None
    """``flowkit.testing.VirtualClock()`` to skip waits; the system clock by default."""
    executor: ExecutorLike = "threads"
    """``"threads"`` (parallel, default), ``"inline"`` (calling thread, deterministic), ``"processes"``,
    ``"dask"`` or an executor object."""
    max_workers: int = 8
    """Thread (or process) pool size for ``"threads"`` (``"processes"``)."""
    scripts: Scripts | None = None
    """A custom JavaScript/jq evaluator (default: sandboxed QuickJS and jq, created on first use)."""
    script_limits: ScriptLimits | None = None
    """Time and memory limits for every script (a task's ``scriptTimeoutMs`` /
    ``scriptMaxMemoryBytes`` input overrides them)."""
    event_bus: EventBus | None = None
    """Where EVENT tasks publish (default: ``flowkit.EventBus.default()``)."""
    store: StoreLike = None
    """Where executions are kept: None for the default SQLite file (``$FLOWKIT_HOME/flowkit.db``,
    ``~/.flowkit`` by default), ``"memory"``, a path, or a store."""
    external: Iterable[str] = ()
    """Task definition names left for outside completion: their SIMPLE tasks wait IN_PROGRESS until
    ``execution.complete_task`` / ``fail_task`` (no worker needed)."""
    background: bool = True
    """Run executions on a background thread (``start`` returns at once); ``run`` turns it off."""

    def replace(self, **changes: Any) -> RunOptions:
        """A copy with ``changes``."""
        return _replace(self, **changes)
