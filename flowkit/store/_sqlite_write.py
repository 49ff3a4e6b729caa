"""How the SQLite store writes: one transaction per batch of changes (see ``flowkit.store._sqlite``).

What one commit costs is mostly the pages it writes to the WAL, one or more per b-tree it touches:
a task is its row and one index entry, an event one b-tree (schema 3), and an execution already
written is updated in place, its status index only when its status moved.
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Callable
from contextlib import AbstractContextManager
from itertools import chain
from pathlib import Path
from typing import Any

from flowkit.errors import StoreError
from flowkit.store._sqlite_schema import explain

__all__ = ["EXEC_COLS", "TASK_COLS", "SqliteWriter"]

EXEC_COLS = (
    "workflow_id",
    "name",
    "version",
    "status",
    "correlation_id",
    "parent_workflow_id",
    "created",
    "updated",
    "ended",
    "task_count",
    "failed_count",
    "reason",
    "data",
)
TASK_COLS = (
    "task_id",
    "workflow_id",
    "seq",
    "ref",
    "status",
    "type",
    "name",
    "iteration",
    "retry_count",
    "scheduled",
    "started",
    "ended",
    "updated",
    "data",
)
_INSERT_EXEC = f"INSERT OR REPLACE INTO executions ({', '.join(EXEC_COLS)}) VALUES ({', '.join('?' * len(EXEC_COLS))})"
# Rewriting a row it wrote before, the store changes only the columns that can have changed: an
# UPDATE in place leaves alone the indexes of unchanged columns, where REPLACE deletes and inserts
# the row in every index. The execution's fixed columns (name, version, correlation id, parent,
# created) are rewritten in full when they changed (restart); its status only when it moved (the
# status index is then rewritten; a RUNNING execution written again leaves it alone).
_FIXED = ("workflow_id", "name", "version", "correlation_id", "parent_workflow_id", "created")
_UPSERT_EXEC = (
    _INSERT_EXEC.replace("INSERT OR REPLACE", "INSERT")
    + " ON CONFLICT (workflow_id) DO UPDATE SET "
    + ", ".join(f"{c}=excluded.{c}" for c in EXEC_COLS if c not in _FIXED)
)
_UPSERT_EXEC_SAME_STATUS = (
    _INSERT_EXEC.replace("INSERT OR REPLACE", "INSERT")
    + " ON CONFLICT (workflow_id) DO UPDATE SET "
    + ", ".join(f"{c}=excluded.{c}" for c in EXEC_COLS if c not in _FIXED and c != "status")
)


def _upsert_tasks(rows: int) -> str:
    """The upsert of ``rows`` task rows in one statement."""
    values = ", ".join([f"({', '.join('?' * len(TASK_COLS))})"] * rows)
    return (
        f"INSERT INTO tasks ({', '.join(TASK_COLS)}) VALUES {values}"
        + " ON CONFLICT (workflow_id, task_id) DO UPDATE SET "
        + ", ".join(f"{c}=excluded.{c}" for c in TASK_COLS if c not in ("task_id", "workflow_id"))
    )


_UPSERT_TASK = _upsert_tasks(1)
# A batch of tasks goes in statements of _CHUNK rows (then _SMALL, then one at a time): binding a
# statement's rows at once and stepping it once costs a fifth less per row than executemany's step
# per row. 64 rows bind 896 variables, below the 999 of SQLite builds before 3.32.
_CHUNK, _SMALL = 64, 8
_UPSERT_CHUNK, _UPSERT_SMALL = _upsert_tasks(_CHUNK), _upsert_tasks(_SMALL)
# An events row's id follows the execution's last one (its key is (workflow_id, id): one seek).
_INSERT_EVENT = (
    "INSERT INTO events (workflow_id, id, task_id, time, kind) VALUES "
    "(?1, (SELECT coalesce(max(id), 0) + 1 FROM events WHERE workflow_id = ?1), NULL, ?2, ?3)"
)


def _write_tasks(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    """Upsert task rows: whole chunks in multi-row statements, the rest one by one."""
    at, count = 0, len(rows)
    for size, sql in ((_CHUNK, _UPSERT_CHUNK), (_SMALL, _UPSERT_SMALL)):
        while count - at >= size:
            conn.execute(sql, list(chain.from_iterable(rows[at : at + size])))
            at += size
    if at < count:
        conn.executemany(_UPSERT_TASK, rows[at:] if at else rows)


def _sha256() -> Any:
    """SHA-256: CPython's own (loads in microseconds), else hashlib's (OpenSSL: milliseconds)."""
    import importlib

    for name in ("_sha2", "_sha256"):  # 3.12+, 3.11
        try:
            return importlib.import_module(name).sha256
        except (ImportError, AttributeError):
            continue
    import hashlib

    return hashlib.sha256


class SqliteWriter:
    """The writing half of :class:`flowkit.store.SqliteStore` (its state is set up there)."""

    path: Path
    readonly: bool
    _lock: threading.RLock
    _conn: sqlite3.Connection | None
    _live: dict[str, weakref.ref[Any]]
    _defs_written: dict[str, int]
    _hashes_stored: set[str]  # definitions rows this store object wrote (or found): not inserted again
    _status_written: dict[str, Any]
    _exec_fixed: dict[str, tuple[Any, ...]]
    _def_text: dict[int, list[Any]]
    _rows_written: dict[tuple[str, str, int], str]
    _saved_defs: set[tuple[str, int, int]]
    session: Callable[[], AbstractContextManager[Any]]  # SqliteStore's

    @property
    def conn(self) -> sqlite3.Connection:
        """The open connection (raises StoreError when the store is not open)."""
        if self._conn is None:
            raise StoreError(f"flowkit store '{self.path}' is not open. Fix: use it inside store.session().")
        return self._conn

    def write(self, workflows: list[Any], tasks: list[Any], dropped: list[str] | tuple[str, ...] = ()) -> None:
        """Write changed executions and task attempts (engine models) in one transaction.

        ``dropped``: ids of attempts a restart or rerun removed from their execution; their rows go.
        """
        if not workflows and not tasks and not dropped:
            return
        self._check_writable()
        from flowkit.store._codec import task_record, workflow_record

        exec_rows = [workflow_record(wf) for wf in workflows]
        task_rows = [task_record(t) for t in tasks]
        new_defs = [
            (wf.workflow_id, *self._definition_text(wf.definition))
            for wf in workflows
            if self._defs_written.get(wf.workflow_id) != id(wf.definition)
        ]
        events = self._event_rows(workflows)
        fixed, status_written = self._exec_fixed, self._status_written
        full: list[tuple[Any, ...]] = []  # new executions, or fixed columns changed: the whole row
        moved: list[tuple[Any, ...]] = []  # written before, status moved since
        same: list[tuple[Any, ...]] = []  # written before, same status
        for wf, r in zip(workflows, exec_rows, strict=True):
            if fixed.get(r[0]) != (r[1], r[2], r[4], r[5], r[6]):
                full.append(r)
            elif status_written.get(r[0]) is wf.status:
                same.append(r)
            else:
                moved.append(r)
        with self._lock:
            conn = self.conn
            try:
                conn.execute("BEGIN IMMEDIATE")
                if dropped:
                    self._delete_tasks(conn, [wf.workflow_id for wf in workflows], dropped)
                if full:
                    conn.executemany(_INSERT_EXEC, full)
                if moved:
                    conn.executemany(_UPSERT_EXEC, moved)
                if same:
                    conn.executemany(_UPSERT_EXEC_SAME_STATUS, same)
                if new_defs:
                    stored = self._hashes_stored
                    texts = {h: text for _, h, text in new_defs if h not in stored}
                    if texts:
                        conn.executemany("INSERT OR IGNORE INTO definitions VALUES (?, ?)", texts.items())
                    conn.executemany(
                        "INSERT OR REPLACE INTO execution_defs VALUES (?, ?)", [(w, h) for w, h, _ in new_defs]
                    )
                if task_rows:
                    _write_tasks(conn, task_rows)
                if events:
                    conn.executemany(_INSERT_EVENT, events)
                conn.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                self._rollback(conn)
                raise explain(exc, f"flowkit store '{self.path}'", self.path) from None
            except OverflowError as exc:  # a Python int beyond SQLite's 64-bit integers
                self._rollback(conn)
                raise StoreError(
                    f"flowkit store '{self.path}' cannot hold a number of the run ({exc}); nothing of this batch "
                    "was written. Fix: keep times and counters within 64-bit integers."
                ) from None
            if new_defs:
                if len(self._hashes_stored) > 4096:
                    self._hashes_stored.clear()
                self._hashes_stored.update(h for _, h, _ in new_defs)
            live = self._live
            for r in exec_rows:
                fixed[r[0]] = (r[1], r[2], r[4], r[5], r[6])
            for wf in workflows:
                workflow_id = wf.workflow_id
                if wf.status.is_terminal:
                    # forget what only guarded repeats: a process that ran 10,000 workflows holds nothing for them
                    live.pop(workflow_id, None)
                    self._defs_written.pop(workflow_id, None)
                    status_written.pop(workflow_id, None)
                    fixed.pop(workflow_id, None)
                else:
                    if workflow_id not in live:
                        live[workflow_id] = weakref.ref(wf)
                    self._defs_written[workflow_id] = id(wf.definition)
                    status_written[workflow_id] = wf.status

    @staticmethod
    def _delete_tasks(conn: sqlite3.Connection, workflow_ids: list[str], dropped: list[str] | tuple[str, ...]) -> None:
        """Delete the rows of ``dropped`` attempts, found by their execution (the key) when it is in the batch."""
        if workflow_ids and len(workflow_ids) <= 500:
            # a restart or rerun writes the execution it changed in the same batch
            marks = ", ".join("?" * len(workflow_ids))
            conn.executemany(
                f"DELETE FROM tasks WHERE task_id = ? AND workflow_id IN ({marks})",
                [(task_id, *workflow_ids) for task_id in dropped],
            )
        else:
            conn.executemany("DELETE FROM tasks WHERE task_id = ?", [(task_id,) for task_id in dropped])

    def _event_rows(self, workflows: list[Any]) -> list[tuple[str, int, str]]:
        """One events row per execution whose status moved in the batch: ``(workflow_id, time, kind)``.

        ``kind`` is the JSON list of its moves, ``[null, time, "workflow <STATUS>"]``. A task's moves
        are not written here: its row holds when it was scheduled, started and ended, and
        ``SqliteStore.events`` reads them from there (an events row per write cost more than the
        task rows it described: each lands on its execution's page of the events b-tree).
        """
        from flowkit.store._codec import dumps

        status_written = self._status_written
        return [
            (wf.workflow_id, wf.update_time, dumps([[None, wf.update_time, f"workflow {wf.status}"]]))
            for wf in workflows
            if status_written.get(wf.workflow_id) is not wf.status
        ]

    def _check_writable(self) -> None:
        if self.readonly:
            raise StoreError(
                f"flowkit store '{self.path}' was opened with readonly=True: runs cannot be recorded in it. "
                "Fix: pass the path (or SqliteStore(path)) as store= to run workflows; keep readonly=True for looking."
            )

    def _json_text(self, definition: Any) -> str:
        """A definition's compact JSON, computed once per definition object (its cost is a run's)."""
        cached = self._def_text.get(id(definition))
        if cached is None or cached[0] is not definition:
            if len(self._def_text) > 1024:
                self._def_text.clear()
            cached = self._def_text[id(definition)] = [definition, None, definition.to_json_text(indent=None)]
        return cached[2]  # type: ignore[no-any-return]

    def _definition_text(self, definition: Any) -> tuple[str, str]:
        """(content hash, JSON) of a definition, computed once per definition object.

        Executions of the same definition share one stored copy.
        """
        text = self._json_text(definition)
        cached = self._def_text[id(definition)]
        if cached[1] is None:
            cached[1] = _sha256()(text.encode()).hexdigest()[:32]
        return cached[1], text

    def save_definitions(self, workflows: list[Any] = (), task_defs: list[Any] = ()) -> None:  # type: ignore[assignment]
        """Register workflow and task definitions (JSON as Conductor writes it); unchanged ones are skipped."""
        key = tuple(id(w) for w in workflows) + tuple(id(t) for t in task_defs)
        if ("batch", hash(key), len(key)) in self._saved_defs:
            return
        self._check_writable()
        # rows this store object wrote with the same text are not written again (a run of the same
        # definition costs no transaction here)
        written = self._rows_written
        wf_rows = [(w.name, w.version, self._json_text(w)) for w in workflows]
        wf_rows = [r for r in wf_rows if written.get(("w", r[0], r[1])) != r[2]]
        td_rows = [(t.name, self._json_text(t)) for t in task_defs]
        td_rows = [r for r in td_rows if written.get(("t", r[0], 0)) != r[1]]
        if not wf_rows and not td_rows:
            self._saved_defs.add(("batch", hash(key), len(key)))
            return
        # Its own session (re-entrant): a caller whose definitions are all written takes no lock at all.
        with self.session(), self._lock:
            conn = self.conn
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany("INSERT OR REPLACE INTO workflow_defs VALUES (?, ?, ?)", wf_rows)
                conn.executemany("INSERT OR REPLACE INTO task_defs VALUES (?, ?)", td_rows)
                conn.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                self._rollback(conn)
                raise explain(exc, f"flowkit store '{self.path}'", self.path) from None
            except BaseException:
                self._rollback(conn)
                raise
        if len(self._rows_written) > 4096:
            self._rows_written.clear()
        for name, version, text in wf_rows:
            self._rows_written[("w", name, version)] = text
        for name, text in td_rows:
            self._rows_written[("t", name, 0)] = text
        self._saved_defs.add(("batch", hash(key), len(key)))

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.DatabaseError:
                pass  # SQLite rolled back already (it does after SQLITE_FULL and some I/O errors)
