"""The durable store: one SQLite file in WAL mode.

Default location: ``$FLOWKIT_HOME/flowkit.db``, with ``FLOWKIT_HOME`` defaulting to ``~/.flowkit``;
any path is accepted. Writes are batched: everything the engine changed since the last write goes
in one transaction (group commit). The runner writes a new execution (as its row alone: its first
attempts go with the next write) and every operation at once, an ended run before it waits or
returns, a worker's result before it starts more tasks once the result has waited ``batch_ms``
milliseconds (default 20; ``batch_ms=0``: before the next start), and before any wait that lasts
longer than that (while a worker runs on the calling thread, the watch thread of
``flowkit.runtime._watch`` writes it). After a crash, a task whose completion was written
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
from flowkit.store._sqlite_read import SqliteReader
from flowkit.store._sqlite_schema import SCHEMA_VERSION, check_schema, default_store_path, explain
from flowkit.store._sqlite_write import SqliteWriter

__all__ = ["SCHEMA_VERSION", "SqliteStore", "default_store_path"]

_HOST = host_name()


class SqliteStore(SqliteWriter, SqliteReader):
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
        self._hashes_stored: set[str] = set()
        self._status_written: dict[str, Any] = {}  # workflow id -> the status of its last workflow event
        self._exec_fixed: dict[str, tuple[Any, ...]] = {}  # workflow id -> its fixed columns as last written
        self._def_text: dict[int, list[Any]] = {}  # id -> [definition, content hash (once needed), JSON]
        self._rows_written: dict[tuple[str, str, int], str] = {}  # workflow_defs / task_defs rows as written
        self._saved_defs: set[tuple[str, int, int]] = set()  # batches of definition objects already written
        self._numbers: dict[str, Any] = {}  # workflow id -> its execution's range of batch ids (_sqlite_write)
        self._schema = SCHEMA_VERSION  # the file's (a readonly store reads older ones as they are)
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
            self._schema = check_schema(conn, where, self.path, create=False)
            self._conn = conn
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the folder for {where}: {exc}. Fix: choose a writable path.") from None
        self._take_process_lock(where)
        try:
            conn = self._connect(str(self.path), where)
            self._schema = check_schema(conn, where, self.path, create=True)
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
            raise explain(exc, where, self.path) from None

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
        self._numbers.clear()  # another process may have written since: ids are read again
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
        self._hashes_stored.clear()  # the path may hold another file when it opens again
        self._numbers.clear()
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
            raise explain(exc, f"flowkit store '{self.path}'", self.path) from None

    def __repr__(self) -> str:
        return f"<SqliteStore {self.path}{' readonly' if self.readonly else ''}>"
