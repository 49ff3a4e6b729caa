"""What the runtime needs from a store (the in-memory and SQLite stores both provide it)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from flowkit.definitions import TaskDef, WorkflowDef
    from flowkit.engine import TaskModel, WorkflowModel

__all__ = ["Store"]


class Store(Protocol):
    """Where executions and definitions are kept.

    A store is held open with :meth:`session` (re-entrant), written with :meth:`write` (what the
    engine changed, in one transaction) and read with :meth:`execution_rows`, :meth:`execution`,
    :meth:`model`, :meth:`executions_df` and the definition lookups.
    """

    durable: bool
    """True when executions outlive the process (the engine then reports every changed task)."""
    batch_ms: int
    """Longest time completed work may wait to be written while tasks keep starting (0: at once)."""

    def session(self) -> AbstractContextManager[Any]:
        """Hold the store open for the duration (re-entrant)."""
        ...

    def write(self, workflows: list[WorkflowModel], tasks: list[TaskModel], dropped: list[str]) -> None:
        """Write changed executions and task attempts, and delete ``dropped`` attempt ids, in one transaction."""
        ...

    def remove_execution(self, workflow_id: str) -> None:
        """Delete an execution, its task attempts and its events (nothing when there is none)."""
        ...

    def save_definitions(self, workflows: list[WorkflowDef], task_defs: list[TaskDef]) -> None:
        """Register workflow and task definitions."""
        ...

    def workflow_defs(self) -> list[WorkflowDef]:
        """Every registered workflow definition."""
        ...

    def task_defs(self) -> list[TaskDef]:
        """Every registered task definition."""
        ...

    def execution_rows(
        self,
        *,
        name: str | None = None,
        version: int | None = None,
        status: str | list[str] | None = None,
        correlation_id: str | None = None,
        since: int | None = None,
        until: int | None = None,
        limit: int | None = None,
        with_data: bool = False,
    ) -> list[dict[str, Any]]:
        """One summary row per execution matching every given filter, newest first (times in epoch ms)."""
        ...

    def execution(self, workflow_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        """The stored records of one execution (its row and its task rows), or None."""
        ...

    def model(self, workflow_id: str) -> WorkflowModel | None:
        """The live execution model the store holds, or None (durable stores keep records instead)."""
        ...

    def executions_df(self, **filters: Any) -> Any:
        """Executions as a pandas DataFrame."""
        ...
