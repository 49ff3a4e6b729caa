"""Execution history as pandas DataFrames: task attempts, failures, executions.

pandas and numpy are imported inside the functions, so ``import flowkit.history`` stays cheap.
Columns are built as whole arrays from the engine's state (no per-row dicts): a 10,000-attempt
execution becomes a DataFrame in a few tens of milliseconds. The schema is documented in
:mod:`flowkit.history` and listed in :data:`TASK_COLUMNS`, :data:`FAILURE_COLUMNS` and
:data:`EXECUTION_COLUMNS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from flowkit._lookup import Lookup, execution_finder
from flowkit.definitions._types import FAILURE_TASK_STATUSES, TaskStatus, WorkflowStatus

if TYPE_CHECKING:
    import pandas as pd

    from flowkit.engine import TaskModel, WorkflowModel

__all__ = [
    "EXECUTION_COLUMNS",
    "FAILURE_COLUMNS",
    "FAILURE_STATUSES",
    "TASK_COLUMNS",
    "TASK_STATUSES",
    "WORKFLOW_STATUSES",
    "executions_df",
    "executions_frame",
    "failures_df",
    "flatten",
    "tasks_df",
]

"""How child executions are found: ``workflow_id -> WorkflowModel | Execution | None`` (a callable
such as ``execution.execution``, which may raise NotFoundError/KeyError for unknown ids), or a
mapping ``{workflow_id: WorkflowModel}`` such as the engine's ``executions``."""

TASK_STATUSES: tuple[str, ...] = tuple(s.value for s in TaskStatus)
"""The 9 Conductor task statuses, in lifecycle order: the categories of every task ``status``."""

WORKFLOW_STATUSES: tuple[str, ...] = tuple(s.value for s in WorkflowStatus)
"""The 6 Conductor workflow statuses: the categories of ``executions_df()["status"]``."""

FAILURE_STATUSES: frozenset[str] = FAILURE_TASK_STATUSES
"""Statuses ``failures_df`` reports (``flowkit.definitions._types.FAILURE_TASK_STATUSES``)."""

TASK_COLUMNS: dict[str, str] = {
    "workflow_id": "string",
    "depth": "int64",
    "seq": "int64",
    "ref": "string",
    "task_ref": "string",
    "name": "string",
    "type": "string",
    "status": "category",
    "iteration": "int64",
    "attempt": "int64",
    "scheduled": "datetime64[ms, UTC]",
    "started": "datetime64[ms, UTC]",
    "ended": "datetime64[ms, UTC]",
    "queue_wait": "timedelta64[ms]",
    "duration": "timedelta64[ms]",
    "worker": "string",
    "reason": "string",
    "retried": "bool",
    "task_id": "string",
    "retried_task_id": "string",
    "sub_workflow_id": "string",
    "logs": "int64",
}
"""``tasks_df`` columns, in order, with their dtypes (``str(df[col].dtype)``)."""

FAILURE_COLUMNS: dict[str, str] = {
    "workflow_id": "string",
    "seq": "int64",
    "ref": "string",
    "name": "string",
    "type": "string",
    "status": "category",
    "attempt": "int64",
    "reason": "string",
    "exception": "string",
    "traceback": "string",
    "retried": "bool",
    "outcome": "category",
    "ended": "datetime64[ms, UTC]",
    "task_id": "string",
}
"""``failures_df`` columns, in order, with their dtypes."""

EXECUTION_COLUMNS: dict[str, str] = {
    "workflow_id": "string",
    "name": "string",
    "version": "int64",
    "status": "category",
    "correlation_id": "string",
    "created": "datetime64[ms, UTC]",
    "ended": "datetime64[ms, UTC]",
    "duration": "timedelta64[ms]",
    "tasks": "int64",
    "failed_tasks": "int64",
    "reason": "string",
    "parent_workflow_id": "string",
}
"""``executions_df`` columns, in order, with their dtypes."""

_TASK_CODE = {s: i for i, s in enumerate(TASK_STATUSES)}
_WORKFLOW_CODE = {s: i for i, s in enumerate(WORKFLOW_STATUSES)}
_TRACEBACK_LINES = 5

_TASK_FIELDS = attrgetter(
    "workflow",
    "seq",
    "ref",
    "node",
    "task_def_name",
    "task_type",
    "status",
    "iteration",
    "retry_count",
    "scheduled_time",
    "start_time",
    "end_time",
    "worker_id",
    "reason",
    "retried",
    "task_id",
    "retried_task_id",
    "sub_workflow_id",
    "logs",
)


# ---------------------------------------------------------------------------------------------- inputs
def _models(workflows: Any) -> list[WorkflowModel]:
    """One WorkflowModel, an Execution (anything with ``.model``), or an iterable of either."""
    if hasattr(workflows, "tasks") and hasattr(workflows, "workflow_id"):
        return [_model(workflows)]
    if hasattr(workflows, "model"):
        return [workflows.model]
    if isinstance(workflows, Iterable) and not isinstance(workflows, str | bytes | dict):
        return [_model(w) for w in workflows]
    raise TypeError(f"expected a WorkflowModel, an Execution or an iterable of them, got {type(workflows).__name__}")


def _model(obj: Any) -> WorkflowModel:
    model: WorkflowModel = getattr(obj, "model", obj)  # checked just below
    if not (hasattr(model, "tasks") and hasattr(model, "workflow_id")):
        raise TypeError(f"expected a WorkflowModel or an Execution, got {type(obj).__name__}")
    return model


def _check_lookup(include_children: bool, lookup: Lookup | None) -> Callable[[str], WorkflowModel | None] | None:
    if include_children and lookup is None:
        raise ValueError(
            "include_children=True needs lookup=: a callable workflow_id -> WorkflowModel | None "
            "(for example execution.execution) or a mapping of workflow_id to WorkflowModel"
        )
    return execution_finder(lookup) if include_children else None


def flatten(
    workflows: Any, *, include_children: bool = False, lookup: Lookup | None = None
) -> tuple[list[TaskModel], list[int]]:
    """Every task attempt, depth first, and each one's nesting depth (0 = the given executions).

    With ``include_children`` a sub-workflow's attempts follow the SUB_WORKFLOW attempt that
    started it (depth + 1), recursively; ids ``lookup`` does not know are skipped, and an
    execution is never visited twice.
    """
    find = _check_lookup(include_children, lookup)
    models = _models(workflows)
    if find is None:
        if len(models) == 1:
            tasks = list(models[0].tasks)
            return tasks, [0] * len(tasks)
        tasks = [t for m in models for t in list(m.tasks)]
        return tasks, [0] * len(tasks)
    out: list[TaskModel] = []
    depths: list[int] = []
    seen: set[str] = set()

    def visit(model: WorkflowModel, depth: int) -> None:
        seen.add(model.workflow_id)
        for task in list(model.tasks):
            out.append(task)
            depths.append(depth)
            child_id = task.sub_workflow_id
            if child_id and child_id not in seen:
                child = find(child_id)
                if child is not None:
                    visit(child, depth + 1)

    for model in models:
        if model.workflow_id not in seen:
            visit(model, 0)
    return out, depths


# ---------------------------------------------------------------------------------------------- array helpers
def _strings(pd: Any, values: list[Any]) -> Any:
    return pd.array(values, dtype="string")


def _ms(np: Any, values: Iterable[int], n: int) -> Any:
    return np.fromiter(values, dtype=np.int64, count=n)


def _times(np: Any, pd: Any, ms: Any) -> Any:
    """Epoch-ms int64 array -> datetime64[ms, UTC] array, 0 (unset) -> NaT."""
    stamps = ms.astype("datetime64[ms]")
    stamps[ms <= 0] = np.datetime64("NaT")
    return pd.DatetimeIndex(stamps).tz_localize("UTC").array


def _spans(np: Any, pd: Any, start: Any, end: Any) -> Any:
    """``end - start`` as timedelta64[ms]; NaT where either end is unset (0)."""
    delta = (end - start).astype("timedelta64[ms]")
    delta[(start <= 0) | (end <= 0)] = np.timedelta64("NaT")
    return pd.array(delta)


def _categorical(
    np: Any, pd: Any, values: Iterable[Any], codes_of: dict[str, int], categories: tuple[str, ...], n: int
) -> Any:
    codes = np.fromiter((codes_of.get(v, -1) for v in values), dtype=np.int8, count=n)
    return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(list(categories), ordered=False))


def _empty(pd: Any, columns: dict[str, str], categories: dict[str, tuple[str, ...]]) -> pd.DataFrame:
    data = {}
    for name, dtype in columns.items():
        if dtype == "category":
            data[name] = pd.Categorical([], categories=list(categories[name]))
        else:
            data[name] = pd.array(
                [], dtype=dtype if dtype != "datetime64[ms, UTC]" else pd.DatetimeTZDtype("ms", "UTC")
            )
    return _frame(data)


def _frame(data: dict[str, Any], columns: list[str] | None = None) -> pd.DataFrame:
    """The frame returned: a plain DataFrame's data and dtypes, displayed readably (see ``_display``)."""
    from flowkit.history._display import HistoryFrame

    return HistoryFrame(data, columns=columns, copy=False)


# ---------------------------------------------------------------------------------------------- tasks_df
def tasks_df(workflows: Any, *, include_children: bool = False, lookup: Lookup | None = None) -> pd.DataFrame:
    """One row per task attempt (see :mod:`flowkit.history` for the columns and dtypes).

    Args:
        workflows: A ``WorkflowModel`` (``execution.model``), an Execution, or an iterable of either.
        include_children: Also list the attempts of sub-workflow executions (recursively), each
            right after the SUB_WORKFLOW attempt that started it, with ``depth`` = nesting level.
        lookup: How to find sub-workflow executions, required with ``include_children``: a
            callable ``workflow_id -> WorkflowModel | Execution | None`` (``execution.execution``
            works; NotFoundError/KeyError count as "unknown") or a ``{workflow_id: WorkflowModel}`` mapping.

    Returns:
        A DataFrame with the columns of :data:`TASK_COLUMNS`, rows in execution order (``seq``)
        per execution; retries are separate rows (``attempt`` 0, 1, ...).

    """
    import numpy as np
    import pandas as pd

    tasks, depths = flatten(workflows, include_children=include_children, lookup=lookup)
    n = len(tasks)
    if n == 0:
        return _empty(pd, TASK_COLUMNS, {"status": TASK_STATUSES})
    (
        wfs,
        seq,
        ref,
        node,
        name,
        kind,
        status,
        iteration,
        attempt,
        sched,
        start,
        end,
        worker,
        reason,
        retried,
        task_id,
        retried_id,
        sub_id,
        logs,
    ) = zip(*map(_TASK_FIELDS, tasks), strict=True)
    ids: dict[int, str] = {}
    workflow_ids = [ids.get(id(w)) or ids.setdefault(id(w), w.workflow_id) for w in wfs]
    scheduled_ms = _ms(np, sched, n)
    started_ms = _ms(np, start, n)
    ended_ms = _ms(np, end, n)
    data = {
        "workflow_id": _strings(pd, workflow_ids),
        "depth": np.array(depths, dtype=np.int64),
        "seq": _ms(np, seq, n),
        "ref": _strings(pd, list(ref)),
        "task_ref": _strings(pd, [nd.ref for nd in node]),
        "name": _strings(pd, list(name)),
        "type": _strings(pd, [str(k) for k in kind]),
        "status": _categorical(np, pd, status, _TASK_CODE, TASK_STATUSES, n),
        "iteration": _ms(np, iteration, n),
        "attempt": _ms(np, attempt, n),
        "scheduled": _times(np, pd, scheduled_ms),
        "started": _times(np, pd, started_ms),
        "ended": _times(np, pd, ended_ms),
        "queue_wait": _spans(np, pd, scheduled_ms, started_ms),
        "duration": _spans(np, pd, started_ms, ended_ms),
        "worker": _strings(pd, list(worker)),
        "reason": _strings(pd, list(reason)),
        "retried": np.fromiter(retried, dtype=bool, count=n),
        "task_id": _strings(pd, list(task_id)),
        "retried_task_id": _strings(pd, list(retried_id)),
        "sub_workflow_id": _strings(pd, list(sub_id)),
        "logs": np.fromiter((len(x) if x else 0 for x in logs), dtype=np.int64, count=n),
    }
    return _frame(data)


# ---------------------------------------------------------------------------------------------- failures_df
def _traceback_tail(error: dict[str, Any] | None) -> str | None:
    if not error:
        return None
    text = error.get("traceback")
    if not text:
        return None
    lines = [line for line in str(text).splitlines() if line.strip()]
    return "\n".join(lines[-_TRACEBACK_LINES:]) or None


def failures_df(workflow: Any, *, include_children: bool = False, lookup: Lookup | None = None) -> pd.DataFrame:
    """Every FAILED, FAILED_WITH_TERMINAL_ERROR, TIMED_OUT, CANCELED or COMPLETED_WITH_ERRORS attempt, in order.

    COMPLETED_WITH_ERRORS is an optional task that failed (Conductor gives its last attempt that
    status and the workflow goes on), so a failure the workflow survived is listed too.

    ``retried`` says a later attempt of the same task was scheduled; ``outcome`` is the status of
    the latest attempt of the same ``ref`` (in the same execution): how that task finally ended.
    ``exception`` is the worker exception's qualified type (``builtins.ValueError``) and
    ``traceback`` the last 5 non-blank lines of its traceback (``<NA>`` when no exception was
    captured, e.g. a timeout or a system task).

    Args:
        workflow: A ``WorkflowModel`` or an Execution (or an iterable of either).
        include_children: Also report failures inside sub-workflows (needs ``lookup``).
        lookup: As for :func:`tasks_df`.

    """
    import numpy as np
    import pandas as pd

    tasks, _ = flatten(workflow, include_children=include_children, lookup=lookup)
    latest: dict[tuple[str, str], Any] = {}
    for t in tasks:
        key = (t.workflow.workflow_id, t.ref)
        known = latest.get(key)
        if known is None or t.seq >= known.seq:
            latest[key] = t
    failed = [t for t in tasks if t.status in FAILURE_STATUSES]
    n = len(failed)
    if n == 0:
        return _empty(pd, FAILURE_COLUMNS, {"status": TASK_STATUSES, "outcome": TASK_STATUSES})
    errors = [t.error if isinstance(t.error, dict) else None for t in failed]
    data = {
        "workflow_id": _strings(pd, [t.workflow.workflow_id for t in failed]),
        "seq": _ms(np, (t.seq for t in failed), n),
        "ref": _strings(pd, [t.ref for t in failed]),
        "name": _strings(pd, [t.task_def_name for t in failed]),
        "type": _strings(pd, [str(t.task_type) for t in failed]),
        "status": _categorical(np, pd, (t.status for t in failed), _TASK_CODE, TASK_STATUSES, n),
        "attempt": _ms(np, (t.retry_count for t in failed), n),
        "reason": _strings(pd, [t.reason for t in failed]),
        "exception": _strings(pd, [str(e["type"]) if e and e.get("type") else None for e in errors]),
        "traceback": _strings(pd, [_traceback_tail(e) for e in errors]),
        "retried": np.fromiter((bool(t.retried) for t in failed), dtype=bool, count=n),
        "outcome": _categorical(
            np, pd, (latest[(t.workflow.workflow_id, t.ref)].status for t in failed), _TASK_CODE, TASK_STATUSES, n
        ),
        "ended": _times(np, pd, _ms(np, (t.end_time for t in failed), n)),
        "task_id": _strings(pd, [t.task_id for t in failed]),
    }
    return _frame(data)


# ---------------------------------------------------------------------------------------------- executions_df
def executions_df(workflows: Any, *, include_children: bool = False, lookup: Lookup | None = None) -> pd.DataFrame:
    """One row per execution (see :mod:`flowkit.history` for the columns and dtypes).

    Args:
        workflows: WorkflowModels or Executions (one, or an iterable).
        include_children: Also list every sub-workflow execution (recursively, after its
            parent; needs ``lookup``).
        lookup: As for :func:`tasks_df`.

    ``failed_tasks`` counts attempts that ended FAILED, FAILED_WITH_TERMINAL_ERROR, TIMED_OUT or
    CANCELED (the rows :func:`failures_df` would return); ``duration`` is ``ended - created``,
    NaT while the execution is RUNNING or PAUSED.

    """
    import numpy as np
    import pandas as pd

    find = _check_lookup(include_children, lookup)
    models = _models(workflows)
    if find is not None:
        ordered: list[WorkflowModel] = []
        seen: set[str] = set()

        def visit(model: WorkflowModel) -> None:
            seen.add(model.workflow_id)
            ordered.append(model)
            for task in list(model.tasks):
                child_id = task.sub_workflow_id
                if child_id and child_id not in seen:
                    child = find(child_id)
                    if child is not None:
                        visit(child)

        for model in models:
            if model.workflow_id not in seen:
                visit(model)
        models = ordered
    n = len(models)
    if n == 0:
        return _empty(pd, EXECUTION_COLUMNS, {"status": WORKFLOW_STATUSES})
    created = _ms(np, (m.create_time for m in models), n)
    ended = _ms(np, (m.end_time for m in models), n)
    data = {
        "workflow_id": _strings(pd, [m.workflow_id for m in models]),
        "name": _strings(pd, [m.definition.name for m in models]),
        "version": _ms(np, (m.definition.version or 0 for m in models), n),
        "status": _categorical(np, pd, (m.status for m in models), _WORKFLOW_CODE, WORKFLOW_STATUSES, n),
        "correlation_id": _strings(pd, [m.correlation_id for m in models]),
        "created": _times(np, pd, created),
        "ended": _times(np, pd, ended),
        "duration": _spans(np, pd, created, ended),
        "tasks": _ms(np, (len(m.tasks) for m in models), n),
        "failed_tasks": _ms(np, (sum(1 for t in list(m.tasks) if t.status in FAILURE_STATUSES) for m in models), n),
        "reason": _strings(pd, [m.reason for m in models]),
        "parent_workflow_id": _strings(pd, [m.parent_workflow_id for m in models]),
    }
    return _frame(data)


def executions_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Store listing rows (``store.execution_rows``) as the :func:`executions_df` columns.

    From a store, ``failed_tasks`` counts the task refs that ended FAILED or
    FAILED_WITH_TERMINAL_ERROR at least once (the store keeps that count as it writes; counting
    every failed attempt would mean reading every task).
    """
    import numpy as np
    import pandas as pd

    n = len(rows)
    if n == 0:
        return _empty(pd, EXECUTION_COLUMNS, {"status": WORKFLOW_STATUSES})
    created = _ms(np, (r["created"] for r in rows), n)
    ended = _ms(np, (r["ended"] for r in rows), n)
    data = {
        "workflow_id": _strings(pd, [r["workflow_id"] for r in rows]),
        "name": _strings(pd, [r["name"] for r in rows]),
        "version": _ms(np, (r["version"] or 0 for r in rows), n),
        "status": _categorical(
            np, pd, (WorkflowStatus(r["status"]) for r in rows), _WORKFLOW_CODE, WORKFLOW_STATUSES, n
        ),
        "correlation_id": _strings(pd, [r["correlation_id"] for r in rows]),
        "created": _times(np, pd, created),
        "ended": _times(np, pd, ended),
        "duration": _spans(np, pd, created, ended),
        "tasks": _ms(np, (r["task_count"] for r in rows), n),
        "failed_tasks": _ms(np, (r["failed_count"] for r in rows), n),
        "reason": _strings(pd, [r["reason"] for r in rows]),
        "parent_workflow_id": _strings(pd, [r["parent_workflow_id"] for r in rows]),
    }
    return _frame(data, columns=list(EXECUTION_COLUMNS))
