"""What the notebook views show of an execution, read in one pass and turned into small HTML pieces.

Functions of the engine's state (no ipywidgets here), so they can be tested without a kernel, and a
:class:`Reader` that a live view keeps to read the same execution again at the cost of what changed.
The runtime thread may be changing the execution while it is read: the task list (or its new part)
is copied first and every attempt is read once.
"""

from __future__ import annotations

import base64
import html
import itertools
import json
import re
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
    "allowed_operations",
    "attempt_label",
    "attempt_text",
    "counters_html",
    "progress_text",
    "progress_value",
    "result_html",
    "result_text",
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
_SVG = re.compile(r"<svg\b.*</svg>", re.DOTALL)
_RESULT_IDS = itertools.count(1)


@dataclass(frozen=True, slots=True)
class Row:
    """One task as the monitor's table shows it: its latest attempt."""

    seq: int
    ref: str
    task_type: str
    status: str
    attempt: int
    """Conductor's 0-based ``retryCount`` of the attempt (shown 1-based: ``attempt 2 of 4``)."""
    attempts: int
    """Attempts the task may make: its ``retryCount`` setting + 1."""
    since_ms: int
    reason: str | None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One consistent-enough reading of an execution: its tasks counted by their latest attempt."""

    name: str
    workflow_id: str
    status: str
    reason: str | None
    total: int
    """Tasks scheduled so far (a retried task counts once; each loop iteration and fork branch is a task)."""
    done: int
    """Of those, the ones whose latest attempt is in a terminal status."""
    counts: dict[str, int]
    """Tasks by the status of their latest attempt."""
    running: list[Row] = field(default_factory=list)
    failed: list[Row] = field(default_factory=list)
    more_running: int = 0
    more_failed: int = 0
    human: list[str] = field(default_factory=list)
    """Refs of HUMAN tasks waiting for outside completion."""
    attempts: int = 0
    """Task attempts scheduled so far (retries included)."""
    retried: dict[str, int] = field(default_factory=dict)
    """Retries made, per task ref that was retried (its latest attempt's 0-based ``retryCount``)."""
    duration_ms: int = 0
    """From the workflow's start to its end (to now while it runs)."""

    @property
    def key(self) -> tuple[Any, ...]:
        """Changes whenever something the monitor shows (apart from elapsed times) changes."""
        return (
            self.status,
            self.reason,
            self.total,
            self.done,
            tuple(sorted(self.counts.items())),
            tuple(self.human),
            self.attempts,
        )

    @property
    def terminal(self) -> bool:
        """True once the workflow has ended."""
        return self.status not in ("RUNNING", "PAUSED")

    @property
    def retries(self) -> int:
        """Retries made in all (attempts beyond each task's first)."""
        return sum(self.retried.values())


def snapshot(model: Any, *, now_ms: int | None = None) -> Snapshot:
    """Read ``model`` (a WorkflowModel) once, from scratch (a live view keeps a :class:`Reader` instead)."""
    return Reader().read(model, now_ms=now_ms)


class Reader:
    """Reads snapshots of one execution again and again, each costing about what changed since the last.

    Tasks are counted by their latest attempt (a retry is a new attempt of the same ref; the
    counters say what each task is now, not how many attempts failed on the way). A task whose
    latest attempt is COMPLETED, COMPLETED_WITH_ERRORS or SKIPPED stays so until the workflow is
    retried, rerun or restarted, or a newer attempt of it is scheduled, so it is counted once and
    not read again; the other tasks (scheduled, running, failed, canceled: the ones the table
    shows) are read every time, and only the rows shown are made. A refresh of a 100,000-task run
    thus reads what is new and what is still pending. Whenever the workflow is not RUNNING, and
    whenever its task list was replaced or it was retried (``last_retried_time``), the reading
    starts over: a stopped run is always shown from a full read.
    """

    __slots__ = ("_counts", "_key", "_pending", "_read", "_retried", "_settled", "_tasks")

    def __init__(self) -> None:
        self._start(None, None)

    def _start(self, tasks: Any, key: Any) -> None:
        self._tasks = tasks  # the list read (restart and rerun replace it)
        self._key = key
        self._read = 0  # how much of it was read
        self._counts: dict[str, int] = {}  # tasks whose latest attempt is settled, by status
        self._settled: dict[str, str] = {}  # ref -> settled status of its latest attempt
        self._pending: dict[str, Any] = {}  # ref -> latest attempt, not settled yet, in scheduling order
        self._retried: dict[str, int] = {}

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
        pending, settled, counts, retried = self._pending, self._settled, self._counts, self._retried
        for task in new:
            ref = task.ref
            was = settled.pop(ref, None)
            if was is not None:  # a newer attempt of a task counted as settled
                counts[was] -= 1
            elif ref in pending:
                del pending[ref]  # the newer attempt goes to the end (scheduling order)
            pending[ref] = task
            if task.retry_count:
                retried[ref] = task.retry_count
        group = list(pending.values())
        statuses = list(map(_STATUS, group))  # each attempt's status read once
        seen = Counter(statuses)
        if any(name in seen for name in _SETTLED):
            # Python work only for the tasks that settled now (each settles once); the scan is C code.
            keep = list(map(not_, map(_SETTLED.__contains__, statuses)))
            for task, status_of in zip(
                compress(group, map(not_, keep)), compress(statuses, map(not_, keep)), strict=True
            ):
                name = str(status_of)
                counts[name] = counts.get(name, 0) + 1
                settled[task.ref] = name
                del pending[task.ref]
            for name in _SETTLED:
                seen.pop(name, None)
            group, statuses = list(compress(group, keep)), list(compress(statuses, keep))
        mine = {name: n for name, n in counts.items() if n}  # the snapshot's own dict
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
        total = len(settled) + len(group)
        began = model.create_time or 0
        ended = model.end_time or (now_ms if status in ("RUNNING", "PAUSED") else 0) or now_ms
        return Snapshot(
            name=model.definition.name,
            workflow_id=model.workflow_id,
            status=status,
            reason=model.reason,
            total=total,
            done=total - active,
            counts=mine,
            running=running,
            failed=failed,
            more_running=active - len(running),
            more_failed=failures - len(failed),
            human=human,
            attempts=self._read,
            retried=dict(retried),
            duration_ms=max(0, ended - began) if began else 0,
        )


def _row(task: Any, status: str, now_ms: int) -> Row:
    start = task.start_time or task.scheduled_time
    end = task.end_time or now_ms
    node = getattr(task, "node", None)
    allowed = (getattr(node, "expected_retries", 0) or 0) + 1
    return Row(
        task.seq,
        task.ref,
        str(task.task_type),
        status,
        task.retry_count,
        max(allowed, task.retry_count + 1),
        max(0, end - start) if start else 0,
        task.reason,
    )


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
    """One badge per task status present, with how many tasks are in it now, and the retries made."""
    ordered = [s for s in _STATUS_ORDER if s in snap.counts] + sorted(s for s in snap.counts if s not in _STATUS_ORDER)
    badges = "".join(_badge(s, snap.counts[s]) for s in ordered) or "<i>no tasks yet</i>"
    if snap.retried:
        tasks = sorted(snap.retried, key=lambda ref: (-snap.retried[ref], ref))
        named = ", ".join(f"{ref} ({_plural(snap.retried[ref], 'retry', 'retries')})" for ref in tasks[:5])
        more = f", {len(tasks) - 5} more" if len(tasks) > 5 else ""
        badges += (
            f"<span class='flowkit-retries' title='{_esc(named + more)}' style='color:#555;margin-left:4px'>"
            f"↻ {_plural(snap.retries, 'retry', 'retries')}: {_esc(named)}{_esc(more)}</span>"
        )
    return f"<div class='flowkit-counters'>{badges}</div>"


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def progress_text(snap: Snapshot) -> str:
    """Say how far the run is.

    "3 of 5 tasks done so far" while it runs (more tasks may still be scheduled: forks, loops,
    switches); what became of its tasks once it has ended ("TERMINATED: 1 of 2 tasks completed").
    """
    if not snap.terminal:
        return f"{snap.done} of {_plural(snap.total, 'task', 'tasks')} done so far"
    completed = snap.counts.get("COMPLETED", 0)
    if snap.status == "COMPLETED" and completed == snap.total:
        return f"{_plural(snap.total, 'task', 'tasks')} completed"
    others = [f"{n} {s.lower().replace('_', ' ')}" for s, n in snap.counts.items() if s != "COMPLETED" and n]
    return f"{snap.status}: {completed} of {_plural(snap.total, 'task', 'tasks')} completed" + (
        f" ({', '.join(others)})" if others else ""
    )


def progress_value(snap: Snapshot) -> int:
    """The progress bar's value: tasks finished while the run goes on, tasks completed once it has ended."""
    if snap.terminal and snap.status != "COMPLETED":
        return (
            snap.counts.get("COMPLETED", 0)
            + snap.counts.get("SKIPPED", 0)
            + snap.counts.get("COMPLETED_WITH_ERRORS", 0)
        )
    return snap.done


def allowed_operations(status: str) -> dict[str, bool]:
    """Say which of the monitor's operations the workflow's status allows.

    Conductor's rules (``WorkflowExecutorOps.java``): pause a RUNNING workflow, resume a PAUSED one,
    terminate one that has not ended, retry (and rerun or restart) one that has.
    """
    terminal = status not in ("RUNNING", "PAUSED")
    return {
        "pause": status == "RUNNING",
        "resume": status == "PAUSED",
        "terminate": not terminal,
        "retry": terminal,
        "rerun": terminal,
    }


def attempt_text(attempt: int, attempts: int) -> str:
    """A 0-based ``retryCount`` shown 1-based: ``attempt 2 of 4``."""
    return f"attempt {attempt + 1} of {max(attempts, attempt + 1)}"


def _ms(ms: int) -> str:
    if ms < 1000:
        return f"{ms} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    return f"{ms / 60_000:.1f} min"


def _reason_cell(r: Row) -> str:
    if not r.reason:
        return ""
    reason = _esc(r.reason if len(r.reason) <= 160 else r.reason[:159] + "…")
    if r.status in ACTIVE and r.attempt:  # Conductor copies the failed attempt's reason into its retry
        return f"<span class='flowkit-retry-of' style='color:#777;font-style:italic'>retry of: {reason}</span>"
    return reason


def tasks_table_html(snap: Snapshot) -> str:
    """Tabulate the running and failed tasks (their latest attempts), latest failures last."""
    rows = [*snap.running, *snap.failed]
    if not rows:
        return "<div class='flowkit-tasks'><i>no running or failed tasks</i></div>"
    cell = "style='text-align:left;padding:1px 8px 1px 0;vertical-align:top'"
    head = "".join(f"<th {cell}>{h}</th>" for h in ("#", "ref", "type", "status", "attempt", "time", "reason"))
    body = []
    for r in rows:
        body.append(
            f"<tr data-ref='{_esc(r.ref)}'><td {cell}>{r.seq}</td><td {cell}><code>{_esc(r.ref)}</code></td>"
            f"<td {cell}>{_esc(r.task_type)}</td><td {cell}>{_badge(r.status)}</td>"
            f"<td {cell} class='flowkit-attempt-no'>{attempt_text(r.attempt, r.attempts)}</td>"
            f"<td {cell}>{_ms(r.since_ms)}</td><td {cell}>{_reason_cell(r)}</td></tr>"
        )
    notes = []
    if snap.more_running:
        notes.append(f"{snap.more_running} more running")
    if snap.more_failed:
        notes.append(f"{snap.more_failed} earlier failures not shown")
    foot = f"<div style='color:#555'>{_esc(', '.join(notes))}</div>" if notes else ""
    return f"<div class='flowkit-tasks'><table><tr>{head}</tr>{''.join(body)}</table>{foot}</div>"


def result_html(snap: Snapshot, diagram: str) -> str:
    """The run as static HTML: headline, summary (status, counts, duration, reason) and the diagram.

    What a saved notebook, nbconvert's HTML and GitHub show where the live monitor was: no widget,
    no script, just HTML and the diagram's inline ``<svg>``.
    """
    summary = (
        f"<div class='flowkit-result-summary'>{_esc(progress_text(snap))} · "
        f"{_plural(snap.attempts, 'attempt', 'attempts')} · took {_ms(snap.duration_ms)}</div>"
    )
    return (
        f"<div class='flowkit-result' data-workflow-id='{_esc(snap.workflow_id)}' data-status='{_esc(snap.status)}'>"
        f"{status_html(snap)}{summary}{counters_html(snap)}{_both_ways(diagram)}"
        f"{tasks_table_html(snap) if snap.failed else ''}</div>"
    )


def _both_ways(diagram: str) -> str:
    """The diagram inline (its nodes' ``<title>`` tooltips work) and as an ``<img>`` for sanitized viewers.

    JupyterLab sanitizes the HTML of an untrusted output (a notebook reopened from disk): ``<svg>``
    and ``<style>`` are dropped, inline styles and ``<img src="data:...">`` kept. The ``<style>``
    shows the inline SVG and hides the image; where it is dropped, the image shows and what is left
    of the SVG (its text) stays hidden.
    """
    found = _SVG.search(diagram)
    if found is None:
        return diagram
    key = f"{next(_RESULT_IDS):x}{id(diagram) & 0xFFFF:04x}"
    data = base64.b64encode(found.group(0).encode()).decode("ascii")
    return (
        f"<style>.flowkit-svg-{key}{{display:block !important}}.flowkit-img-{key}{{display:none !important}}</style>"
        f"<div class='flowkit-result-svg flowkit-svg-{key}' style='display:none'>{diagram}</div>"
        f"<img class='flowkit-result-img flowkit-img-{key}' alt='workflow diagram' style='max-width:100%' "
        f"src='data:image/svg+xml;base64,{data}'/>"
    )


def result_text(snap: Snapshot) -> str:
    """The run in one plain-text line (the ``text/plain`` of the monitor's output)."""
    reason = f" — {snap.reason}" if snap.reason else ""
    return f"{snap.name} {snap.workflow_id} {snap.status}{reason}: {progress_text(snap)}, took {_ms(snap.duration_ms)}"


def attempt_label(task: Any) -> str:
    """How a task attempt is named in drop-downs: ``#seq ref [type] STATUS attempt N of M`` (1-based)."""
    label = f"#{task.seq} {task.ref} [{task.task_type}] {task.status}"
    node = getattr(task, "node", None)
    allowed = (getattr(node, "expected_retries", 0) or 0) + 1
    return label + (f" {attempt_text(task.retry_count, allowed)}" if allowed > 1 or task.retry_count else "")


def to_json_text(value: Any) -> str:
    """Pretty JSON for an editor or a <pre> (non-JSON values shown with repr)."""
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        return repr(value)
