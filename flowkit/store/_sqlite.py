"""The durable store: one SQLite file in WAL mode.

Default location: ``$FLOWKIT_HOME/flowkit.db``, with ``FLOWKIT_HOME`` defaulting to ``~/.flowkit``;
any path is accepted. Writes are batched: everything the engine changed since the last write goes
in one transaction (group commit). The runner writes a new execution and every operation at once,
an ended run before it waits or returns, a worker's result before it starts more tasks once the
result has waited ``batch_ms`` milliseconds (default 20; ``batch_ms=0``: before the next start), and
before any wait that lasts longer than that. After a crash, a task whose completion was written
never runs again and a task in flight runs again (at least once) - Conductor's own at-least-once
contract; with batching, a task that finished in the last ``batch_ms`` before the kill counts as in
flight. ``synchronous=NORMAL`` in WAL mode survives a killed process; only a power cut can lose the
last transactions. README.md, "Durability and speed", says the same for users.

One process writes a store file at a time, and a process that holds live executions (RUNNING or
PAUSED, written by it or adopted by recovery) keeps the store for as long as it holds them, even
while it waits for outside input: a second process is refused with a message naming the holder
(pid, host, since when; it may still open the file ``readonly=True`` to look), so it can never adopt
work a live process still runs. The lock is an ``fcntl`` lock on ``<file>.lock``: the kernel drops
it when the holder dies, and then recovery may adopt what it left. A file that is not a flowkit store,
is corrupt, or was written by a newer flowkit is never touched.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flowkit.errors import StoreError
from flowkit.store._host import host_name

__all__ = ["SCHEMA_VERSION", "SqliteStore", "default_store_path"]

# 1: one events row per task or workflow move. 2: one events row per execution and write (its
# ``kind`` a JSON list of moves; see SqliteStore.events). A schema-1 store is upgraded in place on
# opening for writing (its rows are kept and read as they are); an older flowkit refuses a schema-2 one.
SCHEMA_VERSION = 2
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS workflow_defs (name TEXT NOT NULL, version INTEGER NOT NULL, json TEXT NOT NULL,
    PRIMARY KEY (name, version));
CREATE TABLE IF NOT EXISTS task_defs (name TEXT PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS executions (
    workflow_id TEXT PRIMARY KEY, name TEXT NOT NULL, version INTEGER NOT NULL, status TEXT NOT NULL,
    correlation_id TEXT, parent_workflow_id TEXT, created INTEGER NOT NULL, updated INTEGER NOT NULL,
    ended INTEGER NOT NULL, task_count INTEGER NOT NULL, failed_count INTEGER NOT NULL, reason TEXT,
    data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS executions_name ON executions (name, version);
CREATE INDEX IF NOT EXISTS executions_status ON executions (status);
CREATE INDEX IF NOT EXISTS executions_correlation ON executions (correlation_id);
CREATE INDEX IF NOT EXISTS executions_created ON executions (created);
CREATE TABLE IF NOT EXISTS tasks (
    task_id TEXT PRIMARY KEY, workflow_id TEXT NOT NULL, seq INTEGER NOT NULL, ref TEXT NOT NULL,
    status TEXT NOT NULL, type TEXT NOT NULL, name TEXT NOT NULL, iteration INTEGER NOT NULL,
    retry_count INTEGER NOT NULL, scheduled INTEGER NOT NULL, started INTEGER NOT NULL, ended INTEGER NOT NULL,
    updated INTEGER NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS tasks_workflow ON tasks (workflow_id, seq);
CREATE TABLE IF NOT EXISTS definitions (hash TEXT PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS execution_defs (workflow_id TEXT PRIMARY KEY, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, workflow_id TEXT NOT NULL, task_id TEXT, time INTEGER NOT NULL, kind TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_workflow ON events (workflow_id, id);
"""
_TABLES = frozenset(
    {"meta", "workflow_defs", "task_defs", "executions", "definitions", "execution_defs", "tasks", "events"}
)
_EXEC_COLS = (
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
_TASK_COLS = (
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
_INSERT_EXEC = (
    f"INSERT OR REPLACE INTO executions ({', '.join(_EXEC_COLS)}) VALUES ({', '.join('?' * len(_EXEC_COLS))})"
)
_INSERT_TASK = f"INSERT OR REPLACE INTO tasks ({', '.join(_TASK_COLS)}) VALUES ({', '.join('?' * len(_TASK_COLS))})"
# Rewriting a row it wrote before, the store changes only the columns that can have changed: an
# UPDATE in place leaves alone the indexes of unchanged columns, where REPLACE deletes and inserts
# the row in every index (a third less work per commit). The execution's fixed columns (name,
# version, correlation id, parent, created) are rewritten in full when they changed (restart).
_UPSERT_EXEC = (
    _INSERT_EXEC.replace("INSERT OR REPLACE", "INSERT")
    + " ON CONFLICT (workflow_id) DO UPDATE SET "
    + ", ".join(
        f"{c}=excluded.{c}"
        for c in _EXEC_COLS
        if c not in ("workflow_id", "name", "version", "correlation_id", "parent_workflow_id", "created")
    )
)
_UPSERT_TASK = (
    _INSERT_TASK.replace("INSERT OR REPLACE", "INSERT")
    + " ON CONFLICT (task_id) DO UPDATE SET "
    + ", ".join(f"{c}=excluded.{c}" for c in _TASK_COLS if c not in ("task_id", "workflow_id"))
)


_HOST = host_name()


def _first(item: tuple[Any, ...]) -> Any:
    return item[0]


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


def default_store_path() -> Path:
    """``$FLOWKIT_HOME/flowkit.db`` (``FLOWKIT_HOME`` defaults to ``~/.flowkit``)."""
    home = os.environ.get("FLOWKIT_HOME") or str(Path.home() / ".flowkit")
    return Path(home) / "flowkit.db"


class SqliteStore:
    """Executions, task attempts, their events and definitions in one SQLite file.

    Args:
        path: The file (created when missing); default :func:`default_store_path`.
        readonly: Open for looking only (no lock, no writes); works while another process writes.
        busy_timeout: Seconds to wait for a lock held by a reader or another writer's transaction.
        batch_ms: Longest time completed work waits to be written while tasks keep starting (0: none).
    """

    durable = True

    def __init__(
        self, path: str | Path | None = None, *, readonly: bool = False, busy_timeout: float = 5.0, batch_ms: int = 20
    ) -> None:
        self.path = Path(path) if path is not None else default_store_path()
        self.batch_ms = batch_ms
        self._defs_written: dict[str, int] = {}
        self._status_written: dict[str, Any] = {}  # workflow id -> the status of its last workflow event
        self._exec_fixed: dict[str, tuple[Any, ...]] = {}  # workflow id -> its fixed columns as last written
        self._def_text: dict[int, list[Any]] = {}  # id -> [definition, content hash (once needed), JSON]
        self._rows_written: dict[tuple[str, str, int], str] = {}  # workflow_defs / task_defs rows as written
        self._saved_defs: set[tuple[str, int, int]] = set()  # batches of definition objects already written
        self.readonly = readonly
        self.busy_timeout = busy_timeout
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()
        self._lock_fd: int | None = None
        self._locked = False
        self._users = 0
        # executions of this process that are not over, by id: the lock stays while one lives
        self._live: dict[str, weakref.ref[Any]] = {}

    # ------------------------------------------------------------------ opening
    @contextmanager
    def session(self) -> Iterator[SqliteStore]:
        """Hold the store open (and, for a writer, its process lock) for the duration."""
        self.acquire()
        try:
            yield self
        finally:
            self.release()

    def acquire(self) -> None:
        """Open (re-entrant); a writer takes the process lock.

        The connection stays open between sessions (opening costs milliseconds); the lock is held
        only while someone uses the store.
        """
        with self._lock:
            if self._users == 0:
                if self._conn is None:
                    self._open()
                elif not self.readonly:
                    self._take_process_lock(f"flowkit store '{self.path}'")
            self._users += 1

    def release(self) -> None:
        """Let other processes write once the last user releases and no execution of this process lives."""
        with self._lock:
            self._users -= 1
            if self._users <= 0:
                self._users = 0
                if not self._holds_live():
                    self._drop_process_lock()

    def own(self, workflows: list[Any]) -> None:
        """This process now runs ``workflows`` (engine models): keep the store until they end."""
        with self._lock:
            for wf in workflows:
                if not wf.status.is_terminal:
                    self._live[wf.workflow_id] = weakref.ref(wf)

    def disown(self, workflows: Mapping[str, Any]) -> None:
        """A runtime that ran ``workflows`` (by id) is gone: this process no longer holds them."""
        with self._lock:
            for workflow_id in workflows:
                self._live.pop(workflow_id, None)
            if self._users == 0 and not self._holds_live():
                self._drop_process_lock()

    def held_here(self, workflow_id: str) -> bool:
        """True when a live runtime of this process runs ``workflow_id`` (recovery must leave it alone)."""
        with self._lock:
            ref = self._live.get(workflow_id)
            if ref is None:
                return False
            wf = ref()
            if wf is None or wf.status.is_terminal:
                return False
            del wf
            import gc

            gc.collect()  # a runtime dropped without closing (an interrupted run) holds nothing
            return ref() is not None

    def _holds_live(self) -> bool:
        live = self._live
        for workflow_id, ref in list(live.items()):
            wf = ref()
            if wf is None or wf.status.is_terminal:
                del live[workflow_id]
        return bool(live)

    def _open(self) -> None:
        where = f"flowkit store '{self.path}'"
        if self.readonly:
            if not self.path.exists():
                raise StoreError(f"{where} does not exist. Fix: check the path (nothing has been written there yet).")
            uri = f"file:{self.path}?mode=ro"
            conn = self._connect(uri, where, uri_mode=True)
            self._check_schema(conn, where, create=False)
            self._conn = conn
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the folder for {where}: {exc}. Fix: choose a writable path.") from None
        self._take_process_lock(where)
        try:
            conn = self._connect(str(self.path), where)
            self._check_schema(conn, where, create=True)
        except BaseException:
            self._drop_process_lock()
            raise
        self._conn = conn

    def _connect(self, target: str, where: str, *, uri_mode: bool = False) -> sqlite3.Connection:
        try:
            return sqlite3.connect(
                target, uri=uri_mode, timeout=self.busy_timeout, check_same_thread=False, isolation_level=None
            )
        except sqlite3.DatabaseError as exc:
            raise self._explain(exc, where, self.path) from None

    @staticmethod
    def _use_wal(conn: sqlite3.Connection, where: str, *, new: bool) -> None:
        # Only once the file is known to be a flowkit store (or empty): switching a foreign file to
        # WAL would rewrite its header.
        if new:
            # A new, empty file: switching it to WAL and creating the tables need no fsync (with
            # them, a first run waits 2-4 disk flushes, 20 ms to seconds on a busy disk). A power cut
            # before the first checkpoint can lose this empty store, as NORMAL can lose the last
            # transactions; a killed process loses nothing (the writes are in the OS).
            conn.execute("PRAGMA synchronous=OFF")
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"{where} could not switch to WAL mode (got {mode}). Fix: use a local disk path.")
        if not new:
            conn.execute("PRAGMA synchronous=NORMAL")

    def _check_schema(self, conn: sqlite3.Connection, where: str, *, create: bool) -> None:
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            version = 0
            if "meta" in tables:
                row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
                version = int(row[0]) if row else 0
                if version > SCHEMA_VERSION:
                    raise StoreError(
                        f"{where} was written by a newer flowkit (schema {version}; this flowkit reads up to "
                        f"{SCHEMA_VERSION}). It is left untouched. Fix: upgrade flowkit, or use another path."
                    )
            elif tables:
                raise StoreError(
                    f"{where} is an SQLite database but not a flowkit store (tables: {', '.join(sorted(tables))}). "
                    "It is left untouched. Fix: use another path."
                )
            new = not tables
            if create:
                self._use_wal(conn, where, new=new)
            if create and ("meta" not in tables or not _TABLES <= tables or version < SCHEMA_VERSION):
                # a new store, or one from an older flowkit that lacks tables added since (every
                # statement is IF NOT EXISTS: existing data is kept) or writes events one row each
                conn.executescript(
                    "BEGIN;"
                    + _SCHEMA
                    + f"INSERT OR REPLACE INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}');COMMIT;"
                )
            if create and new:
                conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise self._explain(exc, where, self.path) from None
        except StoreError:
            conn.close()
            raise

    @staticmethod
    def _explain(exc: sqlite3.DatabaseError, where: str, path: Path | None = None) -> StoreError:
        text = str(exc)
        name = getattr(exc, "sqlite_errorname", "")
        if name == "SQLITE_FULL" or name.startswith("SQLITE_IOERR") or "disk is full" in text or "disk I/O" in text:
            return SqliteStore._disk_full(text, where, path)
        if "not a database" in text or "malformed" in text or "file is encrypted" in text:
            return StoreError(
                f"{where} is not a readable SQLite file ({text}); it is corrupt or something else. "
                "It is left untouched. Fix: move it away or use another path."
            )
        if "readonly" in text or "read-only" in text:
            return StoreError(f"{where} is read-only ({text}). Fix: make it writable, or open it with readonly=True.")
        if "locked" in text or "busy" in text:
            return StoreError(
                f"{where} is locked by another connection ({text}). Fix: close the other program, or retry."
            )
        if "unable to open" in text:
            return StoreError(f"{where} cannot be opened ({text}). Fix: check the path and its permissions.")
        return StoreError(f"{where}: {text}")

    @staticmethod
    def _disk_full(text: str, where: str, path: Path | None) -> StoreError:
        """SQLITE_FULL, or the I/O error SQLite reports when a write to the WAL finds no space."""
        import shutil

        folder = Path(path).resolve().parent if path is not None else None
        free = ""
        if folder is not None:
            try:
                free = f", {shutil.disk_usage(folder).free / 2**20:,.1f} MiB free in '{folder}'"
            except OSError:
                pass
        return StoreError(
            f"{where} could not be written: the disk is full or failing ({text}{free}). The unfinished "
            "changes were rolled back; the store holds everything recorded before them. Fix: free space on that "
            "disk (or pass store= a path on another disk), then carry on with flowkit.open(store) - executions "
            "recorded as RUNNING continue from their last recorded state."
        )

    def _take_process_lock(self, where: str) -> None:
        import fcntl

        if self._lock_fd is None:
            lock_path = Path(str(self.path) + ".lock")
            try:
                self._lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise StoreError(
                    f"cannot create the lock file of {where}: {exc}. Fix: choose a writable path."
                ) from None
        if self._locked:
            return  # kept since an earlier session: this process holds live executions
        fd = self._lock_fd
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            pid, _, rest = os.pread(fd, 256, 0).decode(errors="replace").strip().partition(" ")
            host, _, since = rest.partition(" ")
            holder = f"pid {pid or 'unknown'})" + (f" on host {host}" if host else "")
            if since:
                holder += f", holding it since {since}"
            raise StoreError(
                f"{where} is in use by another flowkit process ({holder}. It runs or holds executions "
                "there; two processes writing one store could lose updates or run a task twice, so this one "
                "is refused. Fix: wait for it or stop the other process, use another path, or open the store "
                "with readonly=True to look at it."
            ) from None
        self._locked = True
        # another process may have held it meanwhile: name this one again (unless it still does)
        me = f"{os.getpid()} {_HOST} ".encode()
        if not os.pread(fd, 256, 0).startswith(me):
            since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            os.ftruncate(fd, 0)
            os.pwrite(fd, me + since.encode(), 0)

    def _drop_process_lock(self) -> None:
        import fcntl

        if self._lock_fd is not None and self._locked:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)  # the process dying releases it too
            self._locked = False

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._drop_process_lock()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def close(self) -> None:
        """Close now, whoever still uses it."""
        with self._lock:
            self._users = 0
            self._close()

    @property
    def conn(self) -> sqlite3.Connection:
        """The open connection (opens for a one-off use when nobody holds the store)."""
        if self._conn is None:
            raise StoreError(f"flowkit store '{self.path}' is not open. Fix: use it inside store.session().")
        return self._conn

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        try:
            with self._lock:
                if self._conn is not None:
                    yield self._conn
                    return
            with self.session(), self._lock:
                yield self.conn
        except sqlite3.DatabaseError as exc:  # a corrupt page met while reading: a StoreError, like at opening
            raise self._explain(exc, f"flowkit store '{self.path}'", self.path) from None

    # ------------------------------------------------------------------ writing
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
        events = self._event_rows(workflows, tasks)
        with self._lock:
            conn = self.conn
            try:
                conn.execute("BEGIN IMMEDIATE")
                if dropped:
                    conn.executemany("DELETE FROM tasks WHERE task_id=?", [(i,) for i in dropped])
                fixed = self._exec_fixed
                same = [r for r in exec_rows if fixed.get(r[0]) == (r[1], r[2], r[4], r[5], r[6])]
                if same:
                    conn.executemany(_UPSERT_EXEC, same)
                if len(same) < len(exec_rows):
                    conn.executemany(
                        _INSERT_EXEC, [r for r in exec_rows if fixed.get(r[0]) != (r[1], r[2], r[4], r[5], r[6])]
                    )
                if new_defs:
                    conn.executemany(
                        "INSERT OR IGNORE INTO definitions VALUES (?, ?)", [(h, text) for _, h, text in new_defs]
                    )
                    conn.executemany(
                        "INSERT OR REPLACE INTO execution_defs VALUES (?, ?)", [(w, h) for w, h, _ in new_defs]
                    )
                conn.executemany(_UPSERT_TASK, task_rows)
                conn.executemany("INSERT INTO events (workflow_id, task_id, time, kind) VALUES (?, NULL, ?, ?)", events)
                conn.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                self._rollback(conn)
                raise self._explain(exc, f"flowkit store '{self.path}'", self.path) from None
            except OverflowError as exc:  # a Python int beyond SQLite's 64-bit integers
                self._rollback(conn)
                raise StoreError(
                    f"flowkit store '{self.path}' cannot hold a number of the run ({exc}); nothing of this batch "
                    "was written. Fix: keep times and counters within 64-bit integers."
                ) from None
            live = self._live
            for r in exec_rows:
                self._exec_fixed[r[0]] = (r[1], r[2], r[4], r[5], r[6])
            for wf in workflows:
                workflow_id = wf.workflow_id
                if wf.status.is_terminal:
                    # forget what only guarded repeats: a process that ran 10,000 workflows holds nothing for them
                    live.pop(workflow_id, None)
                    self._defs_written.pop(workflow_id, None)
                    self._status_written.pop(workflow_id, None)
                    self._exec_fixed.pop(workflow_id, None)
                else:
                    if workflow_id not in live:
                        live[workflow_id] = weakref.ref(wf)
                    self._defs_written[workflow_id] = id(wf.definition)
                    self._status_written[workflow_id] = wf.status

    def _event_rows(self, workflows: list[Any], tasks: list[Any]) -> list[tuple[str, int, str]]:
        """One events row per execution of the batch: ``(workflow_id, time, kind)``.

        ``kind`` is the JSON list of its moves, ``[task_id or null, time, kind]`` oldest first: one
        row per task move cost as much as writing the task (a row and an index entry each).
        """
        moves = [(t.update_time, t.workflow.workflow_id, t.task_id, str(t.status)) for t in tasks]
        # a workflow event when its status moved (not at every write of a RUNNING workflow, with a stale time)
        status_written = self._status_written
        moves += [
            (wf.update_time, wf.workflow_id, None, f"workflow {wf.status}")
            for wf in workflows
            if status_written.get(wf.workflow_id) is not wf.status
        ]
        if not moves:
            return []
        from flowkit.store._codec import dumps

        moves.sort(key=_first)  # oldest first within the batch (stable)
        by_workflow: dict[str, list[tuple[Any, ...]]] = {}
        for when, workflow_id, task_id, kind in moves:
            got = by_workflow.get(workflow_id)
            if got is None:
                got = by_workflow[workflow_id] = []
            got.append((task_id, when, kind))
        return [(workflow_id, got[0][1], dumps(got)) for workflow_id, got in by_workflow.items()]

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
        with self._reading() as conn, self._lock:
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany("INSERT OR REPLACE INTO workflow_defs VALUES (?, ?, ?)", wf_rows)
                conn.executemany("INSERT OR REPLACE INTO task_defs VALUES (?, ?)", td_rows)
                conn.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                self._rollback(conn)
                raise self._explain(exc, f"flowkit store '{self.path}'", self.path) from None
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

    # ------------------------------------------------------------------ reading
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
        cols = _EXEC_COLS if with_data else _EXEC_COLS[:-1]
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
            row = conn.execute(
                f"SELECT {', '.join(_EXEC_COLS)} FROM executions WHERE workflow_id=?", (workflow_id,)
            ).fetchone()
            if row is None:
                return None
            tasks = conn.execute(
                f"SELECT {', '.join(_TASK_COLS)} FROM tasks WHERE workflow_id=? ORDER BY seq", (workflow_id,)
            ).fetchall()
            definition = conn.execute(
                "SELECT d.json FROM execution_defs e JOIN definitions d ON d.hash = e.hash WHERE e.workflow_id=?",
                (workflow_id,),
            ).fetchone()
        record = dict(zip(_EXEC_COLS, row, strict=True))
        record["definition"] = definition[0] if definition else None
        return record, [dict(zip(_TASK_COLS, t, strict=True)) for t in tasks]

    def events(self, workflow_id: str) -> list[dict[str, Any]]:
        """What moved an execution, oldest first: ``{time, task_id, kind}``."""
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT time, task_id, kind FROM events WHERE workflow_id=? ORDER BY id", (workflow_id,)
            ).fetchall()
        out = []
        for t, task, kind in rows:
            if kind.startswith("["):  # one write's moves (schema 2)
                out += [{"time": when, "task_id": tid, "kind": k} for tid, when, k in json.loads(kind)]
            else:  # one move (schema 1, or a store upgraded from it)
                out.append({"time": t, "task_id": task, "kind": kind})
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

    def __repr__(self) -> str:
        return f"<SqliteStore {self.path}{' readonly' if self.readonly else ''}>"
