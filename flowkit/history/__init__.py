"""Execution history as pandas DataFrames, and a Gantt chart of an execution.

    >>> from flowkit.history import tasks_df, failures_df, executions_df, timeline
    >>> df = tasks_df(execution.model)                                    # doctest: +SKIP
    >>> df.groupby("name")["duration"].describe()                         # doctest: +SKIP
    >>> tasks_df(execution, include_children=True, lookup=execution.execution)  # doctest: +SKIP
    >>> timeline(execution.model, lookup=execution.execution).savefig("run.png")  # doctest: +SKIP

Every function takes a ``WorkflowModel`` (``execution.model``), an Execution, or an iterable of
them. ``lookup`` (how sub-workflow executions are found) is a callable ``workflow_id ->
WorkflowModel | Execution | None`` (``execution.execution`` works; NotFoundError and KeyError
count as "not found") or a mapping ``{workflow_id: WorkflowModel}``. pandas, numpy and matplotlib
are imported only when a function is called: ``import flowkit`` and ``import flowkit.history``
load none of them.

The column names and dtypes below are an API: they do not change between releases without a
deprecation. They are also available as dicts (:data:`TASK_COLUMNS`, :data:`FAILURE_COLUMNS`,
:data:`EXECUTION_COLUMNS`: name -> ``str(dtype)``). Missing values: ``<NA>`` in ``string``
columns, ``NaT`` in datetime and timedelta columns, ``NaN`` in ``category`` columns (a status
outside Conductor's set). Times in the engine are epoch milliseconds with 0 meaning "unset";
0 becomes ``NaT``.

Dtype names: ``string`` is pandas' ``StringDtype`` (``pd.NA`` for missing); ``category`` is a
``CategoricalDtype`` (unordered) over a fixed category list, in Conductor's lifecycle order, whatever
statuses occur; ``datetime64[ms, UTC]`` are tz-aware UTC timestamps at millisecond resolution;
``timedelta64[ms]`` durations at millisecond resolution.

``tasks_df(workflows, *, include_children=False, lookup=None)``
    One row per task **attempt** (retries are separate rows), in ``seq`` order per execution;
    with ``include_children=True`` (needs ``lookup``) the attempts of each sub-workflow execution follow the SUB_WORKFLOW attempt that started it,
    recursively.

    ===================  ======================  ================================================
    column               dtype                   meaning
    ===================  ======================  ================================================
    workflow_id          string                  execution the attempt belongs to
    depth                int64                   0 for the given executions, +1 per sub-workflow level
    seq                  int64                   Conductor ``seq``: order of scheduling in its execution
    ref                  string                  ``referenceTaskName``, with the ``__N`` loop suffix
    task_ref             string                  the definition's ref (no loop suffix): ``task.node.ref``
    name                 string                  ``taskDefName``
    type                 string                  ``taskType`` (a worker task's type is its name)
    status               category                one of the 9 task statuses: SCHEDULED, IN_PROGRESS,
                                                 COMPLETED, COMPLETED_WITH_ERRORS, FAILED,
                                                 FAILED_WITH_TERMINAL_ERROR, TIMED_OUT, CANCELED, SKIPPED
    iteration            int64                   DO_WHILE iteration (0 outside loops)
    attempt              int64                   ``retryCount``: 0 for the first attempt, 1 for the first retry...
    scheduled            datetime64[ms, UTC]     ``scheduledTime`` (NaT when unset)
    started              datetime64[ms, UTC]     ``startTime`` (NaT when never started)
    ended                datetime64[ms, UTC]     ``endTime`` (NaT while running)
    queue_wait           timedelta64[ms]         started - scheduled (retry delay, startDelay, rate
                                                 limits included); NaT when either is unset
    duration             timedelta64[ms]         ended - started; NaT when either is unset
    worker               string                  ``workerId``
    reason               string                  ``reasonForIncompletion``
    retried              bool                    a later attempt of this task was scheduled
    task_id              string                  ``taskId``
    retried_task_id      string                  ``retriedTaskId``: the attempt this one retried
    sub_workflow_id      string                  ``subWorkflowId`` (SUB_WORKFLOW tasks)
    logs                 int64                   number of log lines captured for this attempt
    ===================  ======================  ================================================

``failures_df(workflow, *, include_children=False, lookup=None)``
    One row per attempt that ended FAILED, FAILED_WITH_TERMINAL_ERROR, TIMED_OUT or CANCELED, and per
    optional task that ended COMPLETED_WITH_ERRORS (it failed; the workflow went on without it).

    ===================  ======================  ================================================
    column               dtype                   meaning
    ===================  ======================  ================================================
    workflow_id          string                  execution the attempt belongs to
    seq                  int64                   as in ``tasks_df``
    ref                  string                  as in ``tasks_df``
    name                 string                  as in ``tasks_df``
    type                 string                  as in ``tasks_df``
    status               category                the attempt's status (9 task-status categories)
    attempt              int64                   ``retryCount`` of the attempt
    reason               string                  ``reasonForIncompletion``
    exception            string                  the worker exception's qualified type
                                                 (``builtins.ValueError``); <NA> when none was captured
    traceback            string                  last 5 non-blank lines of the worker traceback, joined
                                                 by newlines; <NA> when none was captured
    retried              bool                    a later attempt of the same task exists
    outcome              category                status of the latest attempt of the same ``ref``
                                                 in the same execution: how the task finally ended
    ended                datetime64[ms, UTC]     ``endTime`` of the attempt
    task_id              string                  ``taskId``
    ===================  ======================  ================================================

``executions_df(workflows, *, include_children=False, lookup=None)``
    One row per execution (with ``include_children``, each sub-workflow execution after its parent).

    ===================  ======================  ================================================
    column               dtype                   meaning
    ===================  ======================  ================================================
    workflow_id          string                  ``workflowId``
    name                 string                  workflow definition name
    version              int64                   workflow definition version
    status               category                RUNNING, PAUSED, COMPLETED, FAILED, TIMED_OUT, TERMINATED
    correlation_id       string                  ``correlationId``
    created              datetime64[ms, UTC]     ``createTime``
    ended                datetime64[ms, UTC]     ``endTime`` (NaT while RUNNING or PAUSED)
    duration             timedelta64[ms]         ended - created (NaT while RUNNING or PAUSED)
    tasks                int64                   number of task attempts
    failed_tasks         int64                   attempts FAILED, FAILED_WITH_TERMINAL_ERROR, TIMED_OUT,
                                                 CANCELED or COMPLETED_WITH_ERRORS (= rows of ``failures_df``)
    reason               string                  ``reasonForIncompletion``
    parent_workflow_id   string                  ``parentWorkflowId`` (sub-workflows)
    ===================  ======================  ================================================

``timeline(workflow, *, ax=None, lookup=None) -> matplotlib.figure.Figure``
    A Gantt chart: one row per task ref (loop iterations ``ref__N`` on their own rows; more than
    :data:`COLLAPSE_OVER` refs sharing a stem, such as dynamic-fork branches, on one row), one bar
    per attempt (retries side by side; failed and timed-out attempts hatched, as solid as
    successes; every bar at least ~1% of the axis wide), coloured by status (:data:`STATUS_COLORS`) with a legend
    of the statuses present. Working is a solid bar; waiting (:data:`WAITING_TYPES`: JOIN, WAIT,
    HUMAN, SUB_WORKFLOW...) a light bar outlined in the status colour; the time an attempt spent in
    the queue before it started (retry delay, rate limit) a thin dotted bar before it (one
    ``PolyCollection`` with gid ``queue_wait``). Running
    attempts extend to the latest time known. With ``lookup``, sub-workflow tasks are drawn on
    indented rows under their SUB_WORKFLOW task. Uses ``matplotlib.figure.Figure`` (no pyplot);
    pass ``ax=`` to draw into an existing Axes. The bars of one status are one ``PolyCollection``
    in ``ax.collections`` with gid ``attempts:<STATUS>`` (``attempts:<STATUS>:retried`` for
    attempts that were retried), one rectangle path per attempt; its ``task_ids`` attribute lists
    the attempts' ``taskId`` in path order. Instant attempts (end == start: system tasks, a virtual
    clock) get about 1% of the axis each, side by side in ``seq`` order at their instant; later times
    move right to make room, and the axis label says so. The Figure made is a
    :class:`TimelineFigure`: a matplotlib Figure with ``_repr_png_``, so a fresh Jupyter kernel shows
    the chart with no ``%matplotlib`` set-up (and it is never drawn twice: pyplot does not know it),
    and ``_repr_html_``: the inline SVG of ``timeline_svg(figure)``, where hovering a bar shows its
    attempt (``attempt 2 of 4``), duration and reason (each bar's ``<title>``; the collections'
    ``tips`` attribute lists those texts in path order).

The DataFrames are :class:`pandas.DataFrame` instances (a subclass that only changes how they
display): in a notebook durations show in ms/s/min, times as ``HH:MM:SS.mmm``, ids shortened (full
on hover), ``task_ref`` only where it differs from ``ref`` and empty columns left out, with a note
saying so. The values and dtypes are exactly the ones documented here.
"""

from __future__ import annotations

from typing import Any

from flowkit._palette import STATUS_COLORS
from flowkit.history._frames import (
    EXECUTION_COLUMNS,
    FAILURE_COLUMNS,
    TASK_COLUMNS,
    TASK_STATUSES,
    WORKFLOW_STATUSES,
    executions_df,
    executions_frame,
    failures_df,
    tasks_df,
)
from flowkit.history._timeline import COLLAPSE_OVER, WAITING_TYPES, timeline, timeline_svg

__all__ = [
    "COLLAPSE_OVER",
    "EXECUTION_COLUMNS",
    "FAILURE_COLUMNS",
    "STATUS_COLORS",
    "TASK_COLUMNS",
    "TASK_STATUSES",
    "TimelineFigure",
    "WAITING_TYPES",
    "WORKFLOW_STATUSES",
    "executions_df",
    "executions_frame",
    "failures_df",
    "tasks_df",
    "timeline",
    "timeline_svg",
]


def __getattr__(name: str) -> Any:
    """``TimelineFigure`` on first use: its module imports matplotlib, which ``import flowkit.history`` must not."""
    if name == "TimelineFigure":
        from flowkit.history._figure import TimelineFigure

        return TimelineFigure
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
