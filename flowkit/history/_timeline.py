"""A Gantt chart of one execution with matplotlib's object API (no pyplot state: headless-safe).

Layout: one row per task reference in order of first appearance (loop iterations ``ref__N`` on
their own rows); every attempt is one bar on its row, so retries sit side by side. When more than
:data:`COLLAPSE_OVER` refs share a stem (the task ref without trailing digits: dynamic-fork
branches ``_w_0 .. _w_1999``, or a long loop's ``ref__N``), they share one row labelled
``stem* (N refs)``. With ``lookup`` the tasks of a sub-workflow are drawn on indented rows under
the SUB_WORKFLOW task that started them (every attempt's child on the same rows).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from flowkit._lookup import Lookup, execution_finder
from flowkit.history._frames import TASK_STATUSES, _model

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from flowkit.engine import TaskModel, WorkflowModel

__all__ = ["COLLAPSE_OVER", "STATUS_COLORS", "timeline"]

STATUS_COLORS: dict[str, str] = {
    "SCHEDULED": "#9ecae1",  # light blue
    "IN_PROGRESS": "#1f77b4",  # blue
    "COMPLETED": "#2ca02c",  # green
    "COMPLETED_WITH_ERRORS": "#808000",  # olive
    "FAILED": "#d62728",  # red
    "FAILED_WITH_TERMINAL_ERROR": "#8b0000",  # dark red
    "TIMED_OUT": "#ff7f0e",  # orange
    "CANCELED": "#e6b800",  # amber: a stop, not a failure
    "SKIPPED": "#c7c7c7",  # light grey
}
"""Bar colour of each task status (every status has its own)."""

COLLAPSE_OVER = 50
"""More refs than this sharing one stem are drawn on a single row."""

_HATCHED = frozenset({"FAILED", "FAILED_WITH_TERMINAL_ERROR", "TIMED_OUT"})
_BAR_HALF = 0.31  # half a bar's height, in rows
_RETRIED_ALPHA = 0.5  # an attempt that was retried is drawn lighter than the one that counted
_DIGITS = re.compile(r"\d+$")
_UNITS = ((2_000, "ms", 1), (300_000, "s", 1_000), (3 * 3_600_000, "min", 60_000), (None, "h", 3_600_000))


class _Row:
    __slots__ = ("children", "depth", "index", "label", "tasks")

    def __init__(self, label: str, depth: int) -> None:
        self.label = label
        self.depth = depth
        self.tasks: list[TaskModel] = []
        self.children: list[_Row] = []
        self.index: dict[Any, _Row] = {}


def _stem(task_ref: str) -> str:
    return _DIGITS.sub("", task_ref) or task_ref


def _place(
    model: WorkflowModel,
    depth: int,
    rows: list[_Row],
    index: dict[Any, _Row],
    lookup: Callable[[str], WorkflowModel | None] | None,
    seen: set[str],
) -> None:
    """Put ``model``'s attempts on rows (merging into ``rows``/``index``), sub-workflows under theirs."""
    seen.add(model.workflow_id)
    tasks = list(model.tasks)
    groups: dict[str, set[str]] = {}
    for t in tasks:
        groups.setdefault(_stem(t.node.ref), set()).add(t.ref)
    collapsed = {stem: len(refs) for stem, refs in groups.items() if len(refs) > COLLAPSE_OVER}
    for t in tasks:
        stem = _stem(t.node.ref)
        many = collapsed.get(stem)
        key: Any = ("*", stem) if many else t.ref
        row = index.get(key)
        if row is None:
            row = index[key] = _Row(f"{stem}* ({many} refs)" if many else t.ref, depth)
            rows.append(row)
        row.tasks.append(t)
        child_id = t.sub_workflow_id
        if lookup is not None and child_id and not many and child_id not in seen:
            child = lookup(child_id)
            if child is not None:
                _place(child, depth + 1, row.children, row.index, lookup, seen)


def _flat(rows: list[_Row], out: list[_Row]) -> list[_Row]:
    for row in rows:
        out.append(row)
        _flat(row.children, out)
    return out


def _count(rows: list[_Row]) -> int:
    return sum(1 + _count(row.children) for row in rows)


def _short(label: str, limit: int = 48) -> str:
    return label if len(label) <= limit else label[: limit // 2 - 1] + "\u2026" + label[-(limit // 2) :]


def _unit(span_ms: int) -> tuple[str, int]:
    for limit, name, scale in _UNITS:
        if limit is None or span_ms <= limit:
            return name, scale
    return "h", 3_600_000  # pragma: no cover - the last unit has no limit


def timeline(workflow: Any, *, ax: Axes | None = None, lookup: Lookup | None = None) -> Figure:
    """Draw a Gantt chart of ``workflow``'s task attempts and return the matplotlib Figure.

    Args:
        workflow: A ``WorkflowModel`` (``execution.model``) or an Execution.
        ax: Axes to draw on; by default a new ``matplotlib.figure.Figure`` (no pyplot, works headless
            and in notebooks) sized to the number of rows.
        lookup: How to find sub-workflow executions: a callable ``workflow_id -> WorkflowModel |
            Execution | None`` (``execution.execution`` works) or a ``{workflow_id: WorkflowModel}``
            mapping. When given, sub-workflow tasks are drawn indented under their SUB_WORKFLOW task.

    One bar per attempt from its start (or, never started, its scheduled time) to its end; attempts
    still running end at ``now``, the latest time known to the execution. A thin grey line before a
    bar is the attempt's queue wait (retry delay, rate limit). Failed and timed-out attempts are
    hatched, attempts that were retried are lighter. Colours: :data:`STATUS_COLORS`; the legend
    lists the statuses present. Instant attempts (system tasks, virtual time) get a minimum visible
    width. The x axis is time since the first scheduled attempt, in ms, s, min or h.

    """
    import numpy as np
    from matplotlib.collections import LineCollection, PolyCollection
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    model = _model(workflow)
    top: list[_Row] = []
    _place(model, 0, top, {}, execution_finder(lookup), set())
    rows = _flat(top, [])

    every = [t for row in rows for t in row.tasks]
    known = [v for t in every for v in (t.scheduled_time, t.start_time, t.end_time, t.update_time) if v > 0]
    for v in (model.create_time, model.end_time):
        if v > 0:
            known.append(v)
    t0 = min(known, default=0)
    now = max(known, default=0)
    span = max(now - t0, 1)
    unit, scale = _unit(span)
    min_width = span * 0.004

    if ax is None:
        height = min(max(2.2, 0.28 * len(rows) + 1.4), 60.0)
        fig = Figure(figsize=(11, height), layout="constrained")
        ax = fig.add_subplot()
    else:
        # Never None: an Axes is made with its figure. Before matplotlib 3.10 ax.figure may be a
        # SubFigure, returned as it is (it draws and saves like a Figure).
        try:
            fig = cast("Figure", ax.get_figure(root=True))  # matplotlib >= 3.10: the Figure, not a SubFigure
        except TypeError:  # pragma: no cover - older matplotlib
            fig = cast("Figure", ax.figure)

    bars: dict[tuple[str, bool], tuple[list[float], list[float], list[float], list[str]]] = {}
    waits: list[list[tuple[float, float]]] = []
    for y, row in enumerate(rows):
        for t in row.tasks:
            sched = t.scheduled_time
            begin = t.start_time or sched or t0
            end = t.end_time or (now if not t.is_terminal else begin)
            width: float = max(end - begin, 0)
            if width < min_width:
                width = min_width
            ys, lefts, widths, ids = bars.setdefault((str(t.status), bool(t.retried)), ([], [], [], []))
            ys.append(y)
            lefts.append((begin - t0) / scale)
            widths.append(width / scale)
            ids.append(t.task_id)
            if t.start_time and sched and t.start_time > sched:
                waits.append([((sched - t0) / scale, y), ((t.start_time - t0) / scale, y)])

    present: list[str] = []
    order = [s for s in TASK_STATUSES if s in {k for k, _ in bars}]
    order += sorted({k for k, _ in bars} - set(TASK_STATUSES))  # outside Conductor's nine: drawn black
    for status in order:
        for retried in (False, True):
            got = bars.get((status, retried))
            if got is None:
                continue
            ys, lefts, widths, ids = got
            mid = np.asarray(ys, dtype=float)
            x0 = np.asarray(lefts, dtype=float)
            x1 = x0 + np.asarray(widths, dtype=float)
            verts = np.empty((len(ys), 4, 2))
            verts[:, 0, 0] = verts[:, 3, 0] = x0
            verts[:, 1, 0] = verts[:, 2, 0] = x1
            verts[:, 0, 1] = verts[:, 1, 1] = mid - _BAR_HALF
            verts[:, 2, 1] = verts[:, 3, 1] = mid + _BAR_HALF
            bars_of = PolyCollection(
                verts,  # type: ignore[arg-type]  # an (N, 4, 2) array (matplotlib's fast path); the stub wants a Sequence
                facecolors=STATUS_COLORS.get(status, "black"), edgecolors="white", linewidths=0.4,
                alpha=_RETRIED_ALPHA if retried else 1.0, hatch="///" if status in _HATCHED else None, zorder=2,
            )  # fmt: skip
            bars_of.set_gid(f"attempts:{status}:retried" if retried else f"attempts:{status}")
            bars_of.task_ids = ids  # type: ignore[attr-defined]  # path i is the attempt with taskId ids[i]
            ax.add_collection(bars_of, autolim=False)
        present.append(status)
    if waits:
        ax.add_collection(LineCollection(waits, colors="#9a9a9a", linewidths=1.0, zorder=1.5), autolim=False)

    bands = []  # a light band behind each sub-workflow's rows
    for y, row in enumerate(rows):
        if row.children:
            last = y + _count(row.children)
            bands.append([(-1e12, y + 0.5), (1e12, y + 0.5), (1e12, last + 0.5), (-1e12, last + 0.5)])
    if bands:
        ax.add_collection(PolyCollection(bands, facecolors="#eef1f8", edgecolors="none", zorder=0.1), autolim=False)

    labels = [("  " * row.depth + "\u21b3 " if row.depth else "") + _short(row.label) for row in rows]
    wide = max(map(len, labels), default=0)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(
        [label.ljust(wide) for label in labels], family="monospace", fontsize=8 if len(rows) <= 60 else 6
    )  # left-aligned (monospace, padded) so sub-workflow rows show indented
    ax.set_ylim(len(rows) - 0.5, -0.5)  # first task on top
    ax.set_xlim(-span * 0.01 / scale, (span * 1.02 + min_width) / scale)
    started_at = datetime.fromtimestamp(t0 / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if t0 else "?"
    ax.set_xlabel(f"time since {started_at} UTC ({unit})", fontsize=9)
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    attempts = len(every)
    ax.set_title(
        f"{model.definition.name} v{model.definition.version} \u00b7 {model.status} \u00b7 "
        f"{attempts} attempt{'s' if attempts != 1 else ''} \u00b7 {model.workflow_id}",
        fontsize=10, loc="left",
    )  # fmt: skip
    handles = [
        Patch(
            facecolor=STATUS_COLORS.get(s, "black"),
            edgecolor="white",
            linewidth=0.4,
            hatch="///" if s in _HATCHED else None,
            label=s,
        )
        for s in present
    ]
    if handles:
        ax.legend(
            handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8,
            title="status", title_fontsize=8,
        )  # fmt: skip
    return fig
