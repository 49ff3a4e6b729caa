"""How the SQLite store reads: definitions, executions (filtered, newest first), one execution, its events.

The queries read stores of every schema this flowkit knows (a ``readonly=True`` store is never
upgraded): schema 1 and 2 kept tasks and events in rowid tables with an index by execution; schema
3 keys tasks by ``(workflow_id, task_id)`` and events by ``(workflow_id, id)``; schema 4 numbers an
execution's task rows from its id (see ``flowkit.store._sqlite_schema``), so they are one range;
schema 5 keeps them as batches in that range, a later batch holding an attempt's later state.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from flowkit.definitions._types import TERMINAL_TASK_STATUSES, TERMINAL_WORKFLOW_STATUSES
from flowkit.store._sqlite_schema import TASK_COLUMNS, task_ids
from flowkit.store._sqlite_write import EXEC_COLS

__all__ = ["SqliteReader"]

_TERMINAL = frozenset(str(s) for s in TERMINAL_TASK_STATUSES)
_WORKFLOW_ENDS = frozenset(f"workflow {s}" for s in TERMINAL_WORKFLOW_STATUSES)


def _event_order(move: tuple[Any, Any, str]) -> tuple[int, int]:
    """Oldest first; at the same time a workflow's start or resume, then tasks, then its end."""
    when, task_id, kind = move
    return when, 1 if task_id is not None else (2 if kind in _WORKFLOW_ENDS else 0)


_EXECUTION = f"SELECT rowid, {', '.join(EXEC_COLS)} FROM executions WHERE workflow_id=?"  # rowid: schema 4's id
_BATCHES = "SELECT json FROM task_batches WHERE id > ? AND id < ? ORDER BY id"  # schema 5 (see _task_rows)
_TASK_RANGE = f"SELECT {', '.join(TASK_COLUMNS)} FROM tasks WHERE id > ? AND id < ?"  # schema 4
_BY_WORKFLOW = f"SELECT {', '.join(TASK_COLUMNS)} FROM tasks WHERE workflow_id = ?"  # schemas 1 to 3 (indexed)


def _seq(row: tuple[Any, ...]) -> Any:
    return row[2]


class SqliteReader:
    """The reading half of :class:`flowkit.store.SqliteStore`."""

    _reading: Callable[[], AbstractContextManager[sqlite3.Connection]]  # SqliteStore's
    _schema: int  # the file's schema, as opened

    def _task_rows(
        self, conn: sqlite3.Connection, workflow_id: str, execution_id: int | None = None, *, data: bool = True
    ) -> list[tuple[Any, ...]]:
        """An execution's task attempts, in ``TASK_COLUMNS`` order and by seq (``execution_id``: when the caller read it).

        ``data`` is JSON text (a schema-5 entry's object encoded again); ``data=False``: None for a
        schema-5 entry (the caller reads only the other columns).
        """
        if self._schema < 4:
            rows = conn.execute(_BY_WORKFLOW, (workflow_id,)).fetchall()
        else:
            if execution_id is None:
                found = conn.execute("SELECT id FROM executions WHERE workflow_id=?", (workflow_id,)).fetchone()
                if found is None:
                    return []
                execution_id = found[0]
            if self._schema < 5:
                rows = conn.execute(_TASK_RANGE, task_ids(execution_id)).fetchall()
            else:
                from flowkit.store._codec import dumps, loads

                latest: dict[str, list[Any]] = {}
                for (text,) in conn.execute(_BATCHES, task_ids(execution_id)):
                    for entry in loads(text):
                        latest[entry[0]] = entry  # a later batch: the attempt's later state
                # data as JSON text, as older rows hold it (an upgraded row whose data was not valid JSON: its text)
                rows = [
                    (e[0], workflow_id, *e[1:12], e[12] if not data or isinstance(e[12], str) else dumps(e[12]))
                    for e in latest.values()
                ]
        rows.sort(key=_seq)  # in key order, sorted here: no second index kept in seq order
        return rows

    def workflow_def(self, name: str, version: int | None = None) -> Any:
        """A registered workflow definition (the latest version when ``version`` is None), or None."""
        from flowkit.definitions import WorkflowDef

        with self._reading() as conn:
            if version is None:
                row = conn.execute(
                    "SELECT json FROM workflow_defs WHERE name=? ORDER BY version DESC LIMIT 1", (name,)
                ).fetchone()
            else:
                row = conn.execute(
                    "SELECT json FROM workflow_defs WHERE name=? AND version=?", (name, version)
                ).fetchone()
        return WorkflowDef.from_json(row[0]) if row else None

    def workflow_defs(self) -> list[Any]:
        """Every registered workflow definition."""
        from flowkit.definitions import WorkflowDef

        with self._reading() as conn:
            return [
                WorkflowDef.from_json(r[0])
                for r in conn.execute("SELECT json FROM workflow_defs ORDER BY name, version")
            ]

    def task_defs(self) -> list[Any]:
        """Every registered task definition."""
        from flowkit.definitions import TaskDef

        with self._reading() as conn:
            return [TaskDef.from_json(r[0]) for r in conn.execute("SELECT json FROM task_defs ORDER BY name")]

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
        """Executions matching every given filter, newest first (times are epoch ms)."""
        where, args = [], []
        for column, value in (("name", name), ("version", version), ("correlation_id", correlation_id)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            where.append(f"status IN ({', '.join('?' * len(statuses))})")
            args += [str(s) for s in statuses]
        if since is not None:
            where.append("created >= ?")
            args.append(since)
        if until is not None:
            where.append("created <= ?")
            args.append(until)
        cols = EXEC_COLS if with_data else EXEC_COLS[:-1]
        sql = f"SELECT {', '.join(cols)} FROM executions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created DESC, workflow_id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._reading() as conn:
            return [dict(zip(cols, row, strict=True)) for row in conn.execute(sql, args)]

    def execution(self, workflow_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        """The execution record and its task records (by seq), or None."""
        with self._reading() as conn:
            row = conn.execute(_EXECUTION, (workflow_id,)).fetchone()
            if row is None:
                return None
            tasks = self._task_rows(conn, workflow_id, row[0])
            definition = conn.execute(
                "SELECT d.json FROM execution_defs e JOIN definitions d ON d.hash = e.hash WHERE e.workflow_id=?",
                (workflow_id,),
            ).fetchone()
        record = dict(zip(EXEC_COLS, row[1:], strict=True))
        record["definition"] = definition[0] if definition else None
        return record, [dict(zip(TASK_COLUMNS, t, strict=True)) for t in tasks]

    def events(self, workflow_id: str) -> list[dict[str, Any]]:
        """What moved an execution, oldest first: ``{time, task_id, kind}``.

        A workflow's moves (``"workflow RUNNING"``, ``"workflow COMPLETED"``, ...) are its events
        rows, after its start (``"workflow RUNNING"`` at its row's ``created``: the store writes no
        events row for it). A task attempt's are read from its row: ``SCHEDULED`` when scheduled,
        ``IN_PROGRESS`` when started, then its status when it ended (or, not ended, when last updated). Events of an
        attempt with no row any more (a restart or rerun dropped it) are kept only in a store whose
        older flowkit wrote task events too. At the same millisecond, a workflow that starts or
        resumes comes first and one that ends comes last.
        """
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT time, task_id, kind FROM events WHERE workflow_id=? ORDER BY id", (workflow_id,)
            ).fetchall()
            found = conn.execute("SELECT rowid, created FROM executions WHERE workflow_id=?", (workflow_id,)).fetchone()
            execution_id = found[0] if found is not None else None
            attempts = [(t[0], t[4], *t[9:13]) for t in self._task_rows(conn, workflow_id, execution_id, data=False)]
        # its start: a stored one (older flowkits wrote it) is the same move, dropped below
        stored = [] if found is None else [(found[1], None, "workflow RUNNING")]
        for t, task, kind in rows:
            if kind.startswith("["):  # one write's moves (schema 2 and later)
                stored += [(when, tid, k) for tid, when, k in json.loads(kind)]
            else:  # one move (schema 1, or a store upgraded from it)
                stored.append((t, task, kind))
        with_row = {a[0] for a in attempts}
        moves = [m for m in stored if m[1] is None or m[1] not in with_row]  # older flowkits' task events
        for task_id, status, scheduled, started, ended, updated in attempts:
            moves.append((scheduled, task_id, "SCHEDULED"))
            if started:
                moves.append((started, task_id, "IN_PROGRESS"))
            if status in _TERMINAL:
                moves.append((ended or updated, task_id, status))
            elif status != moves[-1][2]:
                moves.append((updated, task_id, status))
        moves.sort(key=_event_order)
        out, last = [], None
        for when, task_id, kind in moves:
            if task_id is None:
                if kind == last:  # written again by a process that adopted the run: not a move
                    continue
                last = kind
            out.append({"time": when, "task_id": task_id, "kind": kind})
        return out

    def model(self, workflow_id: str) -> None:
        """Live models exist only in the in-memory store; this one keeps records (see :meth:`execution`)."""
        return None

    def executions_df(self, **filters: Any) -> Any:
        """Executions as a DataFrame (filters as :meth:`execution_rows`).

        Columns: workflow_id, name, version, status, correlation_id, created, ended, duration, tasks,
        failed_tasks, reason, parent_workflow_id.
        """
        from flowkit.history import executions_frame

        return executions_frame(self.execution_rows(**filters))
