"""How the SQLite store writes: one transaction per batch of changes (see ``flowkit.store._sqlite``).

What one commit costs is mostly the pages it writes to the WAL, one or more per b-tree it touches:
the task attempts it changed are one ``task_batches`` row per execution (one JSON text: see
``_write_batches``), an event one b-tree, and an execution already written is updated in place, its
status index only when its status moved.
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from flowkit.definitions._types import WorkflowStatus
from flowkit.errors import StoreError
from flowkit.store._sqlite_schema import TASK_ID_BITS, explain, task_ids

__all__ = ["EXEC_COLS", "SqliteWriter"]

_RUNNING = WorkflowStatus.RUNNING

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
_VALUES_EXEC = f"({', '.join(EXEC_COLS)}) VALUES ({', '.join('?' * len(EXEC_COLS))})"
# Rewriting a row it wrote before, the store changes only the columns that can have changed: an
# UPDATE in place leaves alone the indexes of unchanged columns, where REPLACE deletes and inserts
# the row in every index (and would give it a new id). The execution's fixed columns (name,
# version, correlation id, parent, created) are rewritten when they may have changed (a restart,
# or a row this store object has not written yet); its status only when it moved (the status index is then rewritten; a RUNNING execution written again
# leaves it alone).
_FIXED = ("workflow_id", "name", "version", "correlation_id", "parent_workflow_id", "created")


def _upsert_exec(skip: tuple[str, ...]) -> str:
    return f"INSERT INTO executions {_VALUES_EXEC} ON CONFLICT (workflow_id) DO UPDATE SET " + ", ".join(
        f"{c}=excluded.{c}" for c in EXEC_COLS if c not in skip
    )


_INSERT_EXEC_NEW = f"INSERT INTO executions {_VALUES_EXEC} ON CONFLICT (workflow_id) DO NOTHING"
_UPSERT_EXEC_FULL = _upsert_exec(("workflow_id",))
_UPSERT_EXEC = _upsert_exec(_FIXED)
_UPSERT_EXEC_SAME_STATUS = _upsert_exec((*_FIXED, "status"))


class _Numbers:
    """An execution's range of ``task_batches`` ids (``id << TASK_ID_BITS`` + 1, 2, ...) and the next free one."""

    __slots__ = ("base", "next", "top")

    def __init__(self, conn: sqlite3.Connection, execution_id: int, *, new: bool) -> None:
        self.base, self.top = task_ids(execution_id)
        if new:  # an id SQLite handed out again (the last execution was removed): none of its rows stay
            conn.execute("DELETE FROM task_batches WHERE id > ? AND id < ?", (self.base, self.top))
            self.next = self.base + 1
        else:
            last = conn.execute("SELECT max(id) FROM task_batches WHERE id > ? AND id < ?", (self.base, self.top))
            self.next = (last.fetchone()[0] or self.base) + 1


# At most this many attempts per batch row: an execution of a million attempts, each with a
# kilobyte of data, stays well below SQLite's longest value (1 GB) per row.
_BATCH_ENTRIES = 4096
# An events row's id follows the execution's last one (its key is (workflow_id, id): one seek).
_INSERT_EVENT = (
    "INSERT INTO events (workflow_id, id, task_id, time, kind) VALUES "
    "(?1, (SELECT coalesce(max(id), 0) + 1 FROM events WHERE workflow_id = ?1), NULL, ?2, ?3)"
)


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
    _numbers: dict[str, _Numbers]  # executions written by this store object since it took the lock
    session: Callable[[], AbstractContextManager[Any]]  # SqliteStore's

    @property
    def conn(self) -> sqlite3.Connection:
        """The open connection (raises StoreError when the store is not open)."""
        if self._conn is None:
            raise StoreError(f"flowkit store '{self.path}' is not open. Fix: use it inside store.session().")
        return self._conn

    def write(self, workflows: list[Any], tasks: list[Any], dropped: list[str] | tuple[str, ...] = ()) -> None:
        """Write changed executions and task attempts (engine models) in one transaction.

        ``dropped``: ids of attempts a restart or rerun removed from their execution; they are gone
        once the batches of the executions written with it are replaced (see ``_write_batches``).
        """
        if not workflows and not tasks and not dropped:
            return
        self._check_writable()
        from flowkit.store._codec import task_entry, workflow_record

        exec_rows = [workflow_record(wf) for wf in workflows]
        entries: dict[Any, list[list[Any]]] = {}  # workflow model -> entries of its attempts written now
        rest: list[Any] = tasks
        if len(workflows) == 1:  # the common write: one execution, its attempts in one comprehension
            only = workflows[0]
            mine = [task_entry(task) for task in tasks if task.workflow is only]
            if mine:
                entries[only] = mine
            # attempts of another execution too (one that was not marked itself): grouped below
            rest = [task for task in tasks if task.workflow is not only] if len(mine) != len(tasks) else []
        for task in rest:
            wf = task.workflow
            found = entries.get(wf)
            if found is None:
                found = entries[wf] = []
            found.append(task_entry(task))
        # an execution that ended, or lost attempts: its batches are replaced by its attempts as they are
        whole = [wf for wf in workflows if dropped or wf.status.is_terminal]
        new_defs = [
            (wf.workflow_id, *self._definition_text(wf.definition))
            for wf in workflows
            if self._defs_written.get(wf.workflow_id) != id(wf.definition)
        ]
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
            numbers = self._numbers
            try:
                conn.execute("BEGIN IMMEDIATE")
                started: set[str] = set()  # executions new to the store (their start is implied by their row)
                for r in full:
                    inserted = conn.execute(_INSERT_EXEC_NEW, r)
                    if inserted.rowcount == 1:  # a new execution, numbered now
                        numbers[r[0]] = _Numbers(conn, inserted.lastrowid, new=True)  # type: ignore[arg-type]
                        started.add(r[0])
                    else:  # written before (a restart, or by another store object): its id stays
                        conn.execute(_UPSERT_EXEC_FULL, r)
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
                if entries or whole:
                    self._write_batches(conn, entries, whole, dropped)
                events = self._event_rows(workflows, started)
                if events:
                    conn.executemany(_INSERT_EVENT, events)
                conn.execute("COMMIT")
            except BaseException as exc:
                self._rollback(conn)
                numbers.clear()  # ids handed out in the rolled-back transaction are not the store's
                if isinstance(exc, sqlite3.DatabaseError):
                    raise explain(exc, f"flowkit store '{self.path}'", self.path) from None
                if not isinstance(exc, OverflowError):  # a Python int beyond SQLite's 64-bit integers
                    raise
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
                    numbers.pop(workflow_id, None)
                else:
                    if workflow_id not in live:
                        live[workflow_id] = weakref.ref(wf)
                    self._defs_written[workflow_id] = id(wf.definition)
                    status_written[workflow_id] = wf.status

    def _of(self, conn: sqlite3.Connection, workflow_id: str) -> _Numbers:
        """The numbers of an execution already in the store (read once per store object and lock)."""
        found = self._numbers.get(workflow_id)
        if found is None:
            row = conn.execute("SELECT id FROM executions WHERE workflow_id = ?", (workflow_id,)).fetchone()
            if row is None:
                raise StoreError(
                    f"flowkit store '{self.path}' has no execution '{workflow_id}' for the task attempts written "
                    "with it; nothing of this batch was written. Fix: write the execution with its tasks."
                )
            found = self._numbers[workflow_id] = _Numbers(conn, row[0], new=False)
        return found

    def _write_batches(
        self,
        conn: sqlite3.Connection,
        entries: dict[Any, list[list[Any]]],
        whole: list[Any],
        dropped: list[str] | tuple[str, ...],
    ) -> None:
        """Insert each execution's entries as its next batch rows (``_BATCH_ENTRIES`` per row at most).

        An execution in ``whole`` that has batches already, or whose id range is used up, has them
        deleted and its attempts as they are written instead: an ended execution is one row (or a
        few), and an attempt a restart or rerun dropped (``dropped``, the write's) is gone with its rows.
        """
        from flowkit.store._codec import dumps, task_entry

        for wf in whole:
            entries.setdefault(wf, [])
        rows: list[tuple[int, str]] = []
        replace = set(whole)
        for wf, written in entries.items():
            numbers = self._of(conn, wf.workflow_id)
            count = -(-len(written) // _BATCH_ENTRIES)
            if (wf in replace and numbers.next > numbers.base + 1) or numbers.next + count >= numbers.top:
                conn.execute("DELETE FROM task_batches WHERE id > ? AND id < ?", (numbers.base, numbers.top))
                if dropped or len(written) != len(wf.tasks):
                    fresh = {e[0]: e for e in written}  # encoded already: not again
                    written = [fresh.get(t.task_id) or task_entry(t) for t in wf.tasks]
                # else every attempt changed in this write (a run written at its start and at its end):
                # its entries are the whole execution already (the reader orders attempts by seq)
                numbers.next, count = numbers.base + 1, -(-len(written) // _BATCH_ENTRIES)
                if numbers.next + count >= numbers.top:
                    raise StoreError(
                        f"an execution cannot hold more than {(1 << TASK_ID_BITS) * _BATCH_ENTRIES:,} task "
                        "attempts in one flowkit store. Fix: split the work into sub-workflows."
                    )
            at = numbers.next
            for start in range(0, len(written), _BATCH_ENTRIES):
                rows.append((at, dumps(written[start : start + _BATCH_ENTRIES])))
                at += 1
            numbers.next = at
        conn.executemany("INSERT INTO task_batches VALUES (?, ?)", rows)

    def _event_rows(self, workflows: list[Any], started: set[str]) -> list[tuple[str, int, str]]:
        """One events row per execution whose status moved in the batch: ``(workflow_id, time, kind)``.

        ``kind`` is the JSON list of its moves, ``[null, time, "workflow <STATUS>"]``. A task's moves
        are not written here: its row holds when it was scheduled, started and ended, and
        ``SqliteStore.events`` reads them from there (an events row per write cost more than the
        task rows it described: each lands on its execution's page of the events b-tree). Nor is the
        start of an execution new to the store (in ``started``) that is still RUNNING: its row's
        ``created`` says when it started, and ``SqliteStore.events`` reads it from there.
        """
        from flowkit.store._codec import dumps

        status_written = self._status_written
        return [
            (wf.workflow_id, wf.update_time, dumps([[None, wf.update_time, f"workflow {wf.status}"]]))
            for wf in workflows
            if status_written.get(wf.workflow_id) is not wf.status
            and not (wf.status is _RUNNING and wf.workflow_id in started)
        ]

    def remove_execution(self, workflow_id: str) -> None:
        """Delete an execution, its task attempts, its events and its definition link, in one transaction."""
        self._check_writable()
        with self.session(), self._lock, self._transaction() as conn:
            found = conn.execute("SELECT id FROM executions WHERE workflow_id = ?", (workflow_id,)).fetchone()
            if found is not None:
                conn.execute("DELETE FROM task_batches WHERE id > ? AND id < ?", task_ids(found[0]))
                for table in ("events", "execution_defs", "executions"):
                    conn.execute(f"DELETE FROM {table} WHERE workflow_id = ?", (workflow_id,))  # noqa: S608
        for known in (self._numbers, self._exec_fixed, self._status_written, self._defs_written, self._live):
            known.pop(workflow_id, None)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction, rolled back on any error (SQLite's in words); ``write`` has its own."""
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield conn
            conn.execute("COMMIT")
        except BaseException as exc:
            self._rollback(conn)
            if isinstance(exc, sqlite3.DatabaseError):
                raise explain(exc, f"flowkit store '{self.path}'", self.path) from None
            raise

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
        with self.session(), self._lock, self._transaction() as conn:
            conn.executemany("INSERT OR REPLACE INTO workflow_defs VALUES (?, ?, ?)", wf_rows)
            conn.executemany("INSERT OR REPLACE INTO task_defs VALUES (?, ?)", td_rows)
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
