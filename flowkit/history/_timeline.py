"""A Gantt chart of one execution with matplotlib's object API (no pyplot state: headless-safe).

Layout: one row per task reference in order of first appearance (loop iterations ``ref__N`` on
their own rows); every attempt is one bar on its row, so retries sit side by side. When more than
:data:`COLLAPSE_OVER` refs share a stem (the task ref without trailing digits: dynamic-fork
branches ``_w_0 .. _w_1999``, or a long loop's ``ref__N``), they share one row labelled
``stem* (N refs)``. With ``lookup`` the tasks of a sub-workflow are drawn on indented rows under
the SUB_WORKFLOW task that started them (every attempt's child on the same rows).
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from flowkit._lookup import Lookup, execution_finder
from flowkit._palette import STATUS_COLORS
from flowkit.definitions._types import ERRORED_TASK_STATUSES
from flowkit.history._frames import TASK_STATUSES, _model

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from flowkit.engine import TaskModel, WorkflowModel

__all__ = ["COLLAPSE_OVER", "WAITING_TYPES", "timeline", "timeline_svg"]

COLLAPSE_OVER = 50
"""More refs than this sharing one stem are drawn on a single row."""

WAITING_TYPES = frozenset({"JOIN", "EXCLUSIVE_JOIN", "WAIT", "HUMAN", "SUB_WORKFLOW", "DO_WHILE", "EVENT"})
"""Task types whose time is spent waiting (for branches, a timer, a person, a child workflow), not working:
drawn as light, outlined bars."""

_HATCHED = ERRORED_TASK_STATUSES
_BAR_HALF = 0.31  # half a bar's height, in rows
_QUEUE_HALF = 0.16  # the queue-wait bar is thinner: time before the attempt started
_QUEUE_COLOR = "#d0d0d0"
_DIGITS = re.compile(r"\d+$")
_UNITS = ((2_000, "ms", 1), (300_000, "s", 1_000), (3 * 3_600_000, "min", 60_000), (None, "h", 3_600_000))


_TIPS = itertools.count(1)
_TIP_LINK = re.compile(r'<a xlink:href="#fkt-(\d+)"[^>]*>')


def _lighter(color: str) -> str:
    """``color`` mixed 3:1 with white (a waiting bar's fill)."""
    from matplotlib.colors import to_hex, to_rgb

    r, g, b = to_rgb(color)
    return to_hex((0.25 * r + 0.75, 0.25 * g + 0.75, 0.25 * b + 0.75))


def _tip(t: TaskModel) -> str:
    """The hover text of an attempt's bar: what, how it ended, how long, and why."""
    allowed = (getattr(t.node, "expected_retries", 0) or 0) + 1
    took = f"{t.end_time - t.start_time} ms" if t.end_time and t.start_time else "not ended"
    waiting = " (waiting)" if str(t.task_type) in WAITING_TYPES else ""
    text = f"{t.ref} [{t.task_type}] {t.status}{waiting}, attempt {t.retry_count + 1} of {max(allowed, t.retry_count + 1)}, {took}"
    return text + (f"\nreason: {t.reason}" if t.reason else "")


def timeline_svg(figure: Figure) -> str:
    """Return ``figure`` (a :func:`timeline`) as SVG text in which hovering a bar shows its attempt.

    Each attempt's bar (and each queue wait) carries a ``<title>``: ref, type, status, attempt
    ``N of M`` (1-based), duration and the reason it failed; browsers show it as a tooltip when
    the SVG is inline in a page (a notebook's HTML output, nbconvert's HTML).
    """
    import io
    from html import escape

    tips: dict[str, str] = {}
    for ax in figure.axes:
        for collection in ax.collections:
            urls, texts = collection.get_urls(), getattr(collection, "tips", None)
            if texts is not None:
                tips.update((str(url)[5:], text) for url, text in zip(urls, texts, strict=False) if url)
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    text = text[text.index("<svg") :]  # no XML prolog or DOCTYPE: inline in HTML

    def title(match: re.Match[str]) -> str:
        return f'<g class="flowkit-attempt-bar"><title>{escape(tips.get(match.group(1), ""))}</title>'

    return _TIP_LINK.sub(title, text).replace("</a>", "</g>")


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


def _real(t: TaskModel, t0: int, now: int) -> tuple[int, int]:
    """An attempt's real ``(begin, end)`` in epoch ms (never started: its scheduled time; running: to ``now``)."""
    begin = t.start_time or t.scheduled_time or t0
    return begin, max(t.end_time or (now if not t.is_terminal else begin), begin)


class _Instants:
    """Where each attempt's bar goes on the x axis (ms since ``t0``), instant attempts made visible.

    An attempt that ends when it starts gets ``width`` ms and a slot of its own at its instant,
    after the instant attempts scheduled before it there (``seq`` order); every time after that
    instant moves right by the room its instant attempts took. ``width`` is about 1% of the axis,
    less when there are many (together they then take half of it).
    """

    __slots__ = ("_before", "_keys", "_starts", "count", "now", "t0", "width")

    def __init__(self, rows: list[_Row], t0: int, now: int, span: int) -> None:
        self.t0, self.now = t0, now
        by_instant: dict[int, list[tuple[int, int]]] = {}
        for y, row in enumerate(rows):
            for t in row.tasks:
                begin, end = _real(t, t0, now)
                if end == begin:
                    by_instant.setdefault(begin, []).append((t.seq, y))
        self.count = sum(map(len, by_instant.values()))
        share = 0.01 * self.count
        self.width: float = span * 0.01 / (1 - share) if share <= 0.5 else span / self.count
        self._starts: list[int] = sorted(by_instant)
        self._keys: list[list[tuple[int, int]]] = [sorted(by_instant[i]) for i in self._starts]
        self._before: list[float] = [0.0]  # room taken by the instants before each of _starts
        for keys in self._keys:
            self._before.append(self._before[-1] + len(keys) * self.width)

    def x(self, ms: int) -> float:
        """Axis position of time ``ms``: after the instant attempts of earlier times, before those at ``ms``."""
        return ms - self.t0 + self._before[bisect.bisect_left(self._starts, ms)]

    def gap_at(self, ms: int) -> float:
        """Room the instant attempts at ``ms`` take."""
        i = bisect.bisect_left(self._starts, ms)
        return self._before[i + 1] - self._before[i] if i < len(self._starts) and self._starts[i] == ms else 0.0

    def bar(self, t: TaskModel, y: int) -> tuple[float, float]:
        """``(left, right)`` of the bar of ``t`` (drawn on row ``y``)."""
        begin, end = _real(t, self.t0, self.now)
        left = self.x(begin)
        i = bisect.bisect_left(self._starts, begin)
        if i < len(self._starts) and self._starts[i] == begin:  # after the instant attempts scheduled before it
            left += bisect.bisect_left(self._keys[i], (t.seq, y)) * self.width
        if end == begin:
            return left, left + self.width
        return left, max(self.x(end), left + self.width)


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
    lists the statuses present. The x axis is time since the first scheduled attempt, in ms, s, min or h.

    Instant attempts (system tasks, anything under a virtual clock) are drawn with a visible width,
    side by side in scheduling order at their instant: the axis makes room for them there (its label
    says so), so ``a -> b -> c`` run in the same millisecond read left to right.

    Returns:
        The figure: a :class:`TimelineFigure` (a matplotlib Figure that shows itself as a PNG in
        Jupyter, with no ``%matplotlib`` set-up), or, with ``ax``, that Axes' figure.

    """
    import numpy as np
    from matplotlib.collections import PolyCollection
    from matplotlib.patches import Patch

    from flowkit.history._figure import TimelineFigure

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
    place = _Instants(rows, t0, now, span)

    if ax is None:
        height = min(max(2.2, 0.28 * len(rows) + 1.4), 60.0)
        fig: Figure = TimelineFigure(figsize=(11, height), layout="constrained")
        ax = fig.add_subplot()
    else:
        # Never None: an Axes is made with its figure. Before matplotlib 3.10 ax.figure may be a
        # SubFigure, returned as it is (it draws and saves like a Figure).
        try:
            fig = cast("Figure", ax.get_figure(root=True))  # matplotlib >= 3.10: the Figure, not a SubFigure
        except TypeError:  # pragma: no cover - older matplotlib
            fig = cast("Figure", ax.figure)

    bars: dict[tuple[str, bool], tuple[list[float], list[float], list[float], list[str], list[bool], list[str]]] = {}
    waits: list[tuple[float, float, float, str]] = []  # (row, left, right, tip) of each queue wait
    for y, row in enumerate(rows):
        for t in row.tasks:
            left, right = place.bar(t, y)
            status = str(t.status)
            ys, lefts, widths, ids, idle, tips = bars.setdefault((status, bool(t.retried)), ([], [], [], [], [], []))
            ys.append(y)
            lefts.append(left / scale)
            widths.append((right - left) / scale)
            ids.append(t.task_id)
            idle.append(str(t.task_type) in WAITING_TYPES)
            tips.append(_tip(t))
            sched = t.scheduled_time
            if t.start_time and sched and t.start_time > sched:
                waits.append(
                    (
                        y,
                        place.x(sched) / scale,
                        left / scale,
                        f"{t.ref}: {t.start_time - sched} ms in queue before attempt {t.retry_count + 1} started",
                    )
                )

    present: list[str] = []
    order = [s for s in TASK_STATUSES if s in {k for k, _ in bars}]
    order += sorted({k for k, _ in bars} - set(TASK_STATUSES))  # outside Conductor's nine: drawn black
    for status in order:
        for retried in (False, True):
            got = bars.get((status, retried))
            if got is None:
                continue
            ys, lefts, widths, ids, idle, tips = got
            mid = np.asarray(ys, dtype=float)
            x0 = np.asarray(lefts, dtype=float)
            x1 = x0 + np.asarray(widths, dtype=float)
            verts = np.empty((len(ys), 4, 2))
            verts[:, 0, 0] = verts[:, 3, 0] = x0
            verts[:, 1, 0] = verts[:, 2, 0] = x1
            verts[:, 0, 1] = verts[:, 1, 1] = mid - _BAR_HALF
            verts[:, 2, 1] = verts[:, 3, 1] = mid + _BAR_HALF
            color = STATUS_COLORS.get(status, "black")
            light = _lighter(color)
            # Working: a solid bar. Waiting (JOIN, WAIT, HUMAN...): a light bar outlined in the status colour.
            bars_of = PolyCollection(
                verts,  # type: ignore[arg-type]  # an (N, 4, 2) array (matplotlib's fast path); the stub wants a Sequence
                facecolors=[light if w else color for w in idle],
                edgecolors=[color if w else "white" for w in idle],
                linewidths=[1.2 if w else 0.4 for w in idle],
                hatch="///" if status in _HATCHED else None,
                zorder=2,
            )
            bars_of.set_urls([f"#fkt-{next(_TIPS)}" for _ in ids])
            bars_of.tips = tips  # type: ignore[attr-defined]  # path i's hover text (see timeline_svg)
            bars_of.set_gid(f"attempts:{status}:retried" if retried else f"attempts:{status}")
            bars_of.task_ids = ids  # type: ignore[attr-defined]  # path i is the attempt with taskId ids[i]
            ax.add_collection(bars_of, autolim=False)
        present.append(status)
    if waits:
        queued = PolyCollection(
            [
                [(x0, y - _QUEUE_HALF), (x1, y - _QUEUE_HALF), (x1, y + _QUEUE_HALF), (x0, y + _QUEUE_HALF)]
                for y, x0, x1, _ in waits
            ],
            facecolors="white",
            edgecolors=_QUEUE_COLOR,
            linewidths=0.8,
            hatch="....",
            zorder=1.5,
        )
        queued.set_gid("queue_wait")
        queued.set_urls([f"#fkt-{next(_TIPS)}" for _ in waits])
        queued.tips = [tip for *_, tip in waits]  # type: ignore[attr-defined]
        ax.add_collection(queued, autolim=False)

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
    shown = place.x(now) + place.gap_at(now)
    ax.set_xlim(-shown * 0.01 / scale, (shown * 1.02 + place.width) / scale)
    started_at = datetime.fromtimestamp(t0 / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if t0 else "?"
    widened = "; instant attempts widened, in scheduling order" if place.count else ""
    ax.set_xlabel(f"time since {started_at} UTC ({unit}{widened})", fontsize=9)
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    attempts = len(every)
    ax.set_title(
        f"{model.definition.name} v{model.definition.version} \u00b7 {model.status} \u00b7 "
        f"{attempts} attempt{'s' if attempts != 1 else ''} \u00b7 {model.workflow_id}",
        fontsize=10,
        loc="left",
    )
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
    if any(w for *_, idle, _ in bars.values() for w in idle):
        handles.append(Patch(facecolor="white", edgecolor="#555555", linewidth=1.2, label="waiting (outlined)"))
    if waits:
        handles.append(Patch(facecolor="white", edgecolor=_QUEUE_COLOR, hatch="....", label="in queue"))
    if handles:
        ax.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            frameon=False,
            fontsize=8,
            title="status",
            title_fontsize=8,
        )
    return fig
