"""What the notebook views show of an execution, read in one pass and turned into small HTML pieces.

Functions of the engine's state (no ipywidgets here), so they can be tested without a kernel, and a
:class:`Reader` that a live view keeps to read the same execution again at the cost of what changed.
The runtime thread may be changing the execution while it is read: the task list (or its new part)
is copied first and every attempt is read once.
"""

from __future__ import annotations

import html
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from itertools import compress
from operator import attrgetter, not_
from typing import Any

from flowkit._palette import LIFECYCLE_ORDER, STATUS_COLORS, STATUS_SYMBOLS, WORKFLOW_STATUS_COLORS
from flowkit.definitions._types import ACTIVE_TASK_STATUSES, UNSUCCESSFUL_TASK_STATUSES

__all__ = [
    "ACTIVE",
    "FAILED",
    "Reader",
    "Snapshot",
    "attempt_label",
    "counters_html",
    "snapshot",
    "status_html",
    "tasks_table_html",
    "to_json_text",
]

ACTIVE = ACTIVE_TASK_STATUSES
FAILED = UNSUCCESSFUL_TASK_STATUSES
# Final until the workflow is retried, rerun or restarted (a FAILED attempt may still become
# COMPLETED_WITH_ERRORS when the engine decides about it, so failures are read every time).
_SETTLED = frozenset({"COMPLETED", "COMPLETED_WITH_ERRORS", "SKIPPED"})
_IN_PROGRESS = frozenset({"IN_PROGRESS"})
_STATUS = attrgetter("status")
_STATUS_ORDER = LIFECYCLE_ORDER
_WORKFLOW_COLORS = WORKFLOW_STATUS_COLORS
_ROWS = 30  # running / failed rows shown in the table


@dataclass(frozen=True, slots=True)
class Row:
    """One task attempt as the monitor's table shows it."""

    seq: int
    ref: str
    task_type: str
    status: str
    attempt: int
    since_ms: int
    reason: str | None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One consistent-enough reading of an execution."""

    name: str
    workflow_id: str
    status: str
    reason: str | None
    total: int
    """Task attempts scheduled so far."""
    done: int
    """Of those, the ones in a terminal status."""
    counts: dict[str, int]
    running: list[Row] = field(default_factory=list)
    failed: list[Row] = field(default_factory=list)
    more_running: int = 0
    more_failed: int = 0
    human: list[str] = field(default_factory=list)
    """Refs of HUMAN tasks waiting for outside completion."""

    @property
    def key(self) -> tuple[Any, ...]:
        """Changes whenever something the monitor shows (apart from elapsed times) changes."""
        return (self.status, self.reason, self.total, self.done, tuple(sorted(self.counts.items())), tuple(self.human))

    @property
    def terminal(self) -> bool:
        """True once the workflow has ended."""
        return self.status not in ("RUNNING", "PAUSED")


def snapshot(model: Any, *, now_ms: int | None = None) -> Snapshot:
    """Read ``model`` (a WorkflowModel) once, from scratch (a live view keeps a :class:`Reader` instead)."""
    return Reader().read(model, now_ms=now_ms)


class Reader:
    """Reads snapshots of one execution again and again, each costing about what changed since the last.

    A task attempt that is COMPLETED, COMPLETED_WITH_ERRORS or SKIPPED stays so until the workflow is
    retried, rerun or restarted, so it is counted once and never read again; the other attempts
    (scheduled, running, failed, canceled: the ones the table shows) are read every time, in one
    pass over their statuses done by C code (``map``, ``Counter``, ``compress``), and only the rows
    shown are made. A refresh of a 100,000-task run thus reads what is new and what is still pending.
    Whenever the workflow is not RUNNING, and whenever its task list was replaced or it was retried
    (``last_retried_time``), the reading starts over: a stopped run is always shown from a full read.
    """

    __slots__ = ("_counts", "_key", "_pending", "_read", "_settled", "_tasks")

    def __init__(self) -> None:
        self._start(None, None)

    def _start(self, tasks: Any, key: Any) -> None:
        self._tasks = tasks  # the list read (restart and rerun replace it)
        self._key = key
        self._read = 0  # how much of it was read
        self._counts: dict[str, int] = {}  # settled attempts by status
        self._settled = 0
        self._pending: list[Any] = []  # attempts read and not settled yet, in list order

    def read(self, model: Any, *, now_ms: int | None = None) -> Snapshot:
        """Read ``model`` (a WorkflowModel): the same Snapshot a full read gives."""
        status = str(model.status)
        tasks = model.tasks
        key = (model.last_retried_time, model.create_time)
        if tasks is not self._tasks or key != self._key or status != "RUNNING" or len(tasks) < self._read:
            self._start(tasks, key)
        new = tasks[self._read :]  # one C-level copy of the new part: safe while the engine appends
        self._read += len(new)
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        group = self._pending + new if self._pending else new
        statuses = list(map(_STATUS, group))  # each attempt's status read once
        seen = Counter(statuses)
        counts = self._counts
        settled = 0
        for name in _SETTLED:
            n = seen.pop(name, 0)
            if n:
                counts[name] = counts.get(name, 0) + n
                settled += n
        if settled:
            self._settled += settled
            keep = list(map(not_, map(_SETTLED.__contains__, statuses)))
            group, statuses = list(compress(group, keep)), list(compress(statuses, keep))
        self._pending = group
        mine = dict(counts)  # the snapshot's own dict (a Snapshot is never changed afterwards)
        active = 0
        failures = 0
        for name, n in seen.items():
            mine[str(name)] = n
            if name in ACTIVE:
                active += n
            elif name in FAILED:
                failures += n
        running: list[Row] = []
        if active:
            for task, status_of in zip(group, statuses, strict=True):
                if status_of in ACTIVE:
                    running.append(_row(task, str(status_of), now_ms))
                    if len(running) == _ROWS:
                        break
        failed: list[Row] = []
        if failures:
            latest = [pair for pair in zip(group, statuses, strict=True) if pair[1] in FAILED][-_ROWS:]
            failed = [_row(task, str(status_of), now_ms) for task, status_of in latest]
        human: list[str] = []
        if seen.get("IN_PROGRESS"):
            started = compress(group, map(_IN_PROGRESS.__contains__, statuses))
            human = [t.ref for t in started if t.task_type == "HUMAN"]
        return Snapshot(
            name=model.definition.name, workflow_id=model.workflow_id, status=status, reason=model.reason,
            total=self._read, done=self._settled + len(group) - active, counts=mine, running=running, failed=failed,
            more_running=active - len(running), more_failed=failures - len(failed), human=human,
        )  # fmt: skip


def _row(task: Any, status: str, now_ms: int) -> Row:
    start = task.start_time or task.scheduled_time
    end = task.end_time or now_ms
    return Row(task.seq, task.ref, str(task.task_type), status, task.retry_count, max(0, end - start) if start else 0,
               task.reason)  # fmt: skip


# ---------------------------------------------------------------------------------------------- HTML
def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _badge(status: str, count: int | None = None) -> str:
    color = STATUS_COLORS.get(status) or _WORKFLOW_COLORS.get(status, "#777777")
    symbol = STATUS_SYMBOLS.get(status, "")
    text = f"{symbol} {status}" + (f": {count}" if count is not None else "")
    return (
        f"<span class='flowkit-badge' data-status='{_esc(status)}' style='display:inline-block;margin:1px 4px 1px 0;"
        f"padding:0 6px;border-radius:8px;border:2px solid {color};white-space:nowrap'>{_esc(text.strip())}</span>"
    )


def status_html(snap: Snapshot) -> str:
    """Write the headline: workflow name, id, status (as text: colour is never the only clue), reason."""
    color = _WORKFLOW_COLORS.get(snap.status, "#777777")
    reason = f" <span style='color:#555'>— {_esc(snap.reason)}</span>" if snap.reason else ""
    return (
        f"<div class='flowkit-monitor-status'><b>{_esc(snap.name)}</b> <code style='font-size:85%'>"
        f"{_esc(snap.workflow_id)}</code> status: <b class='flowkit-workflow-status' data-status='{_esc(snap.status)}' "
        f"style='color:{color}'>{_esc(snap.status)}</b>{reason}</div>"
    )


def counters_html(snap: Snapshot) -> str:
    """One badge per task status present, with its count."""
    ordered = [s for s in _STATUS_ORDER if s in snap.counts] + sorted(s for s in snap.counts if s not in _STATUS_ORDER)
    badges = "".join(_badge(s, snap.counts[s]) for s in ordered) or "<i>no tasks yet</i>"
    return f"<div class='flowkit-counters'>{badges}</div>"


def _ms(ms: int) -> str:
    if ms < 1000:
        return f"{ms} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    return f"{ms / 60_000:.1f} min"


def tasks_table_html(snap: Snapshot) -> str:
    """Tabulate the running and failed attempts, latest failures last."""
    rows = [*snap.running, *snap.failed]
    if not rows:
        return "<div class='flowkit-tasks'><i>no running or failed tasks</i></div>"
    cell = "style='text-align:left;padding:1px 8px 1px 0;vertical-align:top'"
    head = "".join(f"<th {cell}>{h}</th>" for h in ("#", "ref", "type", "status", "try", "time", "reason"))
    body = []
    for r in rows:
        reason = _esc(r.reason if r.reason is None or len(r.reason) <= 160 else r.reason[:159] + "…")
        body.append(
            f"<tr data-ref='{_esc(r.ref)}'><td {cell}>{r.seq}</td><td {cell}><code>{_esc(r.ref)}</code></td>"
            f"<td {cell}>{_esc(r.task_type)}</td><td {cell}>{_badge(r.status)}</td><td {cell}>{r.attempt}</td>"
            f"<td {cell}>{_ms(r.since_ms)}</td><td {cell}>{reason if r.reason else ''}</td></tr>"
        )
    notes = []
    if snap.more_running:
        notes.append(f"{snap.more_running} more running")
    if snap.more_failed:
        notes.append(f"{snap.more_failed} earlier failures not shown")
    foot = f"<div style='color:#555'>{_esc(', '.join(notes))}</div>" if notes else ""
    return f"<div class='flowkit-tasks'><table><tr>{head}</tr>{''.join(body)}</table>{foot}</div>"


def attempt_label(task: Any) -> str:
    """How a task attempt is named in drop-downs: ``#seq ref [type] STATUS try N``."""
    label = f"#{task.seq} {task.ref} [{task.task_type}] {task.status}"
    return label + (f" try {task.retry_count}" if task.retry_count else "")


def to_json_text(value: Any) -> str:
    """Pretty JSON for an editor or a <pre> (non-JSON values shown with repr)."""
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        return repr(value)
