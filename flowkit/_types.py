"""Named shapes of the arguments flowkit's public functions accept (as httpx's ``_types.py``).

They are type aliases for annotations only: ``from flowkit._types import WorkflowLike`` in your own
code, under ``if TYPE_CHECKING:`` if you like. Nothing here is needed at run time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias

if TYPE_CHECKING:
    from flowkit.definitions import TaskDef, WorkflowDef
    from flowkit.engine import Registry
    from flowkit.executors import Executor
    from flowkit.store import Store
    from flowkit.workers import Worker

__all__ = [
    "ExecutorLike",
    "JSONText",
    "StoreLike",
    "SupportsWorkflowDef",
    "TaskDefsLike",
    "WorkersLike",
    "WorkflowLike",
    "WorkflowsLike",
]


class SupportsWorkflowDef(Protocol):
    """Anything that builds a WorkflowDef (``flowkit.WorkflowBuilder`` does)."""

    def to_workflow_def(self) -> WorkflowDef:
        """The WorkflowDef."""
        ...


JSONText: TypeAlias = "str | bytes | Path"
"""Conductor JSON as text, or the path of a file holding it."""

WorkflowLike: TypeAlias = "WorkflowDef | SupportsWorkflowDef | Mapping[str, Any] | str | bytes | Path"
"""A workflow: a WorkflowDef, a builder, a parsed dict, JSON text or a path to Conductor JSON."""

WorkflowsLike: TypeAlias = "Registry | Iterable[WorkflowLike] | None"
"""Other workflow definitions (sub-workflows, failure workflows), or a Registry of them."""

WorkersLike: TypeAlias = "Worker | Iterable[Worker] | Mapping[str, Worker | Callable[..., Any]] | None"
"""``@worker_task`` functions (one or several), or a ``{task definition name: function}`` mapping."""

TaskDefsLike: TypeAlias = (
    "Iterable[TaskDef | Mapping[str, Any] | str | bytes | Path] | Mapping[str, TaskDef | Mapping[str, Any]] | None"
)
"""Task definitions: TaskDef objects, dicts, JSON text or paths, as a list or keyed by name."""

ExecutorLike: TypeAlias = "Literal['threads', 'thread', 'inline', 'processes', 'process', 'dask'] | Executor | None"
"""Where worker functions run: a name (``"threads"`` by default) or an executor object."""

StoreLike: TypeAlias = "Store | str | Path | None"
"""Where executions are kept: None (the default SQLite file), ``"memory"``, a path, or a store object."""
