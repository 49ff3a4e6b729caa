"""The in-memory store: executions live as long as the process (no serialisation at all)."""

from __future__ import annotations

from typing import Any

__all__ = ["MemoryStore"]


class MemoryStore:
    """Keeps executions and definitions in this process only; nothing survives it."""

    durable = False
    batch_ms = 0  # nothing to batch: the models are the store

    def __init__(self) -> None:
        self._executions: dict[str, Any] = {}
        self._workflow_defs: dict[tuple[str, int], Any] = {}
        self._task_defs: dict[str, Any] = {}

    def session(self) -> MemoryStore:
        """Nothing to open: the store is its own session (no generator-based context manager per run)."""
        return self

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def acquire(self) -> None:
        """Nothing to open."""

    def release(self) -> None:
        """Nothing to close."""

    def close(self) -> None:
        """Nothing to close."""

    def write(self, workflows: list[Any], tasks: list[Any], dropped: Any = ()) -> None:
        """Remember the executions (the models themselves: they are always current)."""
        for wf in workflows:
            self._executions[wf.workflow_id] = wf

    def remove_execution(self, workflow_id: str) -> None:
        """Forget an execution."""
        self._executions.pop(workflow_id, None)

    def save_definitions(self, workflows: Any = (), task_defs: Any = ()) -> None:
        """Register definitions."""
        for w in workflows:
            self._workflow_defs[(w.name, w.version)] = w
        for t in task_defs:
            self._task_defs[t.name] = t

    def workflow_def(self, name: str, version: int | None = None) -> Any:
        """A registered workflow definition (latest when ``version`` is None), or None."""
        versions = [v for (n, v) in self._workflow_defs if n == name]
        if not versions:
            return None
        return self._workflow_defs.get((name, max(versions) if version is None else version))

    def workflow_defs(self) -> list[Any]:
        """Every registered workflow definition."""
        return [self._workflow_defs[k] for k in sorted(self._workflow_defs)]

    def task_defs(self) -> list[Any]:
        """Every registered task definition."""
        return [self._task_defs[k] for k in sorted(self._task_defs)]

    def execution_rows(
        self,
        *,
        name: str | None = None,
        version: int | None = None,
        status: Any = None,
        correlation_id: str | None = None,
        since: int | None = None,
        until: int | None = None,
        limit: int | None = None,
        with_data: bool = False,
    ) -> list[dict[str, Any]]:
        """Executions matching every given filter, newest first (the same records as SqliteStore)."""
        statuses = None if status is None else ({str(status)} if isinstance(status, str) else {str(s) for s in status})
        rows = []
        for wf in self._executions.values():
            if name is not None and wf.definition.name != name:
                continue
            if version is not None and wf.definition.version != version:
                continue
            if statuses is not None and str(wf.status) not in statuses:
                continue
            if correlation_id is not None and wf.correlation_id != correlation_id:
                continue
            if (since is not None and wf.create_time < since) or (until is not None and wf.create_time > until):
                continue
            rows.append(
                {
                    "workflow_id": wf.workflow_id,
                    "name": wf.definition.name,
                    "version": wf.definition.version,
                    "status": str(wf.status),
                    "correlation_id": wf.correlation_id,
                    "parent_workflow_id": wf.parent_workflow_id,
                    "created": wf.create_time,
                    "updated": wf.update_time,
                    "ended": wf.end_time,
                    "task_count": len(wf.tasks),
                    "failed_count": len(wf.failed_refs),
                    "reason": wf.reason,
                }
            )
        rows.sort(key=lambda r: (-r["created"], r["workflow_id"]))
        return rows[:limit] if limit is not None else rows

    def model(self, workflow_id: str) -> Any:
        """The live execution model, or None."""
        return self._executions.get(workflow_id)

    def execution(self, workflow_id: str) -> None:
        """Records exist only in durable stores; the in-memory store keeps live models (see :meth:`model`)."""
        return None

    def executions_df(self, **filters: Any) -> Any:
        """Executions as a DataFrame (see :meth:`SqliteStore.executions_df`)."""
        from flowkit.history import executions_frame

        return executions_frame(self.execution_rows(**filters))

    def __repr__(self) -> str:
        return f"<MemoryStore {len(self._executions)} executions>"
