"""The SQLite store's tables, their upgrade from older flowkits, and its errors in words.

Schema 1 wrote one events row per task or workflow move. Schema 2 writes one events row per
execution and write (its ``kind`` a JSON list of moves; see ``SqliteStore.events``). Schema 3 keyed
events and the execution-to-definition rows by execution (``WITHOUT ROWID``; schema 2 kept a table
and an index each) and tasks by an index on ``(workflow_id, task_id)``. Schema 4 drops that index:
an execution has an integer ``id`` and its task rows the ids ``id << 24`` + 1, 2, ... (the store
hands them out), so an execution's tasks are one range of the tasks table's own b-tree. Schema 5
writes what one write changed of an execution's task attempts as one ``task_batches`` row: its id
``(execution id << 24)`` + 1, 2, ..., its ``json`` the array of those attempts, each an array in the
order of ``TASK_COLUMNS`` (without the workflow id; ``data`` an object). A later row holds an
attempt's later state; when an execution ends (and after a restart or rerun) its rows are replaced
by its attempts as they are, once. Binding and inserting a row per attempt was two thirds of what
the store added to a run (measured: 15 values bound and a b-tree insert per task, ~18,000
instructions); one row per write costs one ``orjson`` call for all its attempts. The ``tasks`` view
shows the latest state of every attempt as the rows of schema 4 did, for SQL (``SELECT ... FROM
tasks WHERE workflow_id = ?``). The correlation-id index holds only executions that have one. A
store of schema 1 to 4 is upgraded in place when opened for writing (its rows are kept; events rows
of schema 1 are read as they are); opened ``readonly=True`` it is read as it is; a store of a newer
schema is refused, untouched.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from flowkit.errors import StoreError

__all__ = [
    "SCHEMA_VERSION",
    "TASK_COLUMNS",
    "TASK_ID_BITS",
    "check_schema",
    "default_store_path",
    "explain",
    "task_ids",
]

SCHEMA_VERSION = 5
TASK_ID_BITS = 24  # an execution's task rows (schema 4) or batches (5): ids (execution id << 24) + 1 ... 2**24 - 1

# Tables whose layout did not change since schema 1 (every statement is IF NOT EXISTS: opening a
# store of an older flowkit that lacks one of them adds it and keeps the rest).
_COMMON = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS workflow_defs (name TEXT NOT NULL, version INTEGER NOT NULL, json TEXT NOT NULL,
    PRIMARY KEY (name, version));
CREATE TABLE IF NOT EXISTS task_defs (name TEXT PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS definitions (hash TEXT PRIMARY KEY, json TEXT NOT NULL);
"""
_EXEC_COLUMNS = """name TEXT NOT NULL, version INTEGER NOT NULL, status TEXT NOT NULL,
    correlation_id TEXT, parent_workflow_id TEXT, created INTEGER NOT NULL, updated INTEGER NOT NULL,
    ended INTEGER NOT NULL, task_count INTEGER NOT NULL, failed_count INTEGER NOT NULL, reason TEXT,
    data TEXT NOT NULL"""
_TASK_COLUMNS = """task_id TEXT NOT NULL, workflow_id TEXT NOT NULL, seq INTEGER NOT NULL, ref TEXT NOT NULL,
    status TEXT NOT NULL, type TEXT NOT NULL, name TEXT NOT NULL, iteration INTEGER NOT NULL,
    retry_count INTEGER NOT NULL, scheduled INTEGER NOT NULL, started INTEGER NOT NULL, ended INTEGER NOT NULL,
    updated INTEGER NOT NULL, data TEXT NOT NULL"""
_EXEC_NAMES = "workflow_id, " + ", ".join(c.split()[0] for c in _EXEC_COLUMNS.split(","))
_TASK_NAMES = ", ".join(c.split()[0] for c in _TASK_COLUMNS.split(","))
_EXEC_INDEXES = """
CREATE INDEX IF NOT EXISTS executions_name ON executions (name, version);
CREATE INDEX IF NOT EXISTS executions_status ON executions (status);
CREATE INDEX IF NOT EXISTS executions_created ON executions (created);
"""
# Most executions have no correlation id: they need no entry (a page less per new execution);
# ``correlation_id = ?`` implies IS NOT NULL, so lookups still use it.
_CORRELATION = (
    "CREATE INDEX IF NOT EXISTS executions_correlation ON executions (correlation_id) WHERE correlation_id IS NOT NULL;"
)
# Schema 3's tables keyed by execution ({suffix} empty, or "_v3" while an older store is rebuilt):
# events ids grow per execution.
_KEYED = """
CREATE TABLE IF NOT EXISTS execution_defs{suffix} (workflow_id TEXT PRIMARY KEY, hash TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events{suffix} (
    workflow_id TEXT NOT NULL, id INTEGER NOT NULL, task_id TEXT, time INTEGER NOT NULL, kind TEXT NOT NULL,
    PRIMARY KEY (workflow_id, id)) WITHOUT ROWID;
"""
# Schema 4's numbered tables ({suffix} empty, or "_v4" while an older store is rebuilt). ``id`` is
# an INTEGER PRIMARY KEY (the rowid itself, which VACUUM keeps); a task's id is its execution's
# shifted left TASK_ID_BITS, plus its number in the execution.
_NUMBERED_EXECUTIONS = f"""
CREATE TABLE IF NOT EXISTS executions{{suffix}} (id INTEGER PRIMARY KEY, workflow_id TEXT NOT NULL UNIQUE,
    {_EXEC_COLUMNS});
"""
_NUMBERED = (
    _NUMBERED_EXECUTIONS
    + f"""CREATE TABLE IF NOT EXISTS tasks{{suffix}} (id INTEGER PRIMARY KEY, {_TASK_COLUMNS});
"""
)
TASK_COLUMNS = tuple(c.split()[0] for c in _TASK_COLUMNS.split(","))
# Schema 5: an entry of a batch is [task_id, seq, ref, ..., data] (TASK_COLUMNS without workflow_id).
_ENTRY_AT = {c: i for i, c in enumerate(c for c in TASK_COLUMNS if c != "workflow_id")}
_BATCHES = """
CREATE TABLE IF NOT EXISTS task_batches (id INTEGER PRIMARY KEY, json TEXT NOT NULL);
"""
# The latest state of every attempt (the entry of its execution's highest batch: SQLite takes the
# bare columns of an aggregate query with one max() from the row holding the max).
_VIEW = (
    "CREATE VIEW IF NOT EXISTS tasks AS SELECT "
    + ", ".join(TASK_COLUMNS)
    + " FROM (SELECT max(b.id) AS batch, e.workflow_id AS workflow_id, "
    + ", ".join(f"json_extract(j.value, '$[{i}]') AS {c}" for c, i in _ENTRY_AT.items())
    + " FROM executions e JOIN task_batches b"
    + f" ON b.id > e.id << {TASK_ID_BITS} AND b.id < (e.id + 1) << {TASK_ID_BITS}, json_each(b.json) j"
    + " GROUP BY e.workflow_id, json_extract(j.value, '$[0]'));\n"
)
SCHEMA = (
    _COMMON
    + _NUMBERED_EXECUTIONS.format(suffix="")
    + _BATCHES
    + _KEYED.format(suffix="")
    + _EXEC_INDEXES
    + _CORRELATION
    + _VIEW
)
# What schemas 1 and 2 created (the upgrade first adds what an older store lacks, then rebuilds).
SCHEMA_2 = (
    _COMMON
    + f"CREATE TABLE IF NOT EXISTS executions (workflow_id TEXT PRIMARY KEY, {_EXEC_COLUMNS});"
    + _EXEC_INDEXES
    + """
CREATE INDEX IF NOT EXISTS executions_correlation ON executions (correlation_id);
CREATE TABLE IF NOT EXISTS tasks (
    task_id TEXT PRIMARY KEY, workflow_id TEXT NOT NULL, seq INTEGER NOT NULL, ref TEXT NOT NULL,
    status TEXT NOT NULL, type TEXT NOT NULL, name TEXT NOT NULL, iteration INTEGER NOT NULL,
    retry_count INTEGER NOT NULL, scheduled INTEGER NOT NULL, started INTEGER NOT NULL, ended INTEGER NOT NULL,
    updated INTEGER NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS tasks_workflow ON tasks (workflow_id, seq);
CREATE TABLE IF NOT EXISTS execution_defs (workflow_id TEXT PRIMARY KEY, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, workflow_id TEXT NOT NULL, task_id TEXT, time INTEGER NOT NULL, kind TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_workflow ON events (workflow_id, id);
"""
)
# Schema 1 or 2 to 3's keyed events and execution-to-definition rows.
_REBUILD_3 = (
    _KEYED.format(suffix="_v3")
    + """
INSERT INTO execution_defs_v3 SELECT workflow_id, hash FROM execution_defs;
INSERT INTO events_v3 SELECT workflow_id, id, task_id, time, kind FROM events;
DROP TABLE execution_defs;
DROP TABLE events;
ALTER TABLE execution_defs_v3 RENAME TO execution_defs;
ALTER TABLE events_v3 RENAME TO events;
"""
)
# Schema 1, 2 or 3 to 4: executions numbered oldest first, each one's tasks numbered in seq order
# (dropping the tables drops their indexes, tasks_key and tasks_workflow among them).
_REBUILD_4 = (
    _NUMBERED.format(suffix="_v4")
    + f"""
INSERT INTO executions_v4 ({_EXEC_NAMES}) SELECT {_EXEC_NAMES} FROM executions ORDER BY created, workflow_id;
INSERT INTO tasks_v4 (id, {_TASK_NAMES})
    SELECT (e.id << {TASK_ID_BITS}) + row_number() OVER (PARTITION BY t.workflow_id ORDER BY t.seq, t.task_id),
        {", ".join("t." + c for c in _TASK_NAMES.split(", "))}
    FROM tasks t JOIN executions_v4 e ON e.workflow_id = t.workflow_id;
DROP TABLE tasks;
DROP TABLE executions;
ALTER TABLE executions_v4 RENAME TO executions;
ALTER TABLE tasks_v4 RENAME TO tasks;
"""
    + _EXEC_INDEXES
    + _CORRELATION
)
# Schema 4 to 5: an execution's task rows become one batch row (its attempts, seq order); data
# that is not valid JSON (NaN, written by json when orjson refused a value) is kept as its text.
_REBUILD_5 = (
    _BATCHES
    + f"""
INSERT INTO task_batches (id, json)
    SELECT (e.id << {TASK_ID_BITS}) + 1, json_group_array(json_array({
        ", ".join(
            "CASE WHEN json_valid(t.data) THEN json(t.data) ELSE t.data END" if c == "data" else "t." + c
            for c in _ENTRY_AT
        )
    }))
    FROM (SELECT * FROM tasks ORDER BY workflow_id, seq) t JOIN executions e ON e.workflow_id = t.workflow_id
    GROUP BY e.id;
DROP TABLE tasks;
"""
    + _VIEW
)
TABLES = frozenset(
    {"meta", "workflow_defs", "task_defs", "executions", "definitions", "execution_defs", "task_batches", "events"}
)


def task_ids(execution_id: int) -> tuple[int, int]:
    """The ids an execution's task rows (schema 4) or batches (5) may take, as an open range: ``low < id < high``."""
    low = execution_id << TASK_ID_BITS
    return low, low + (1 << TASK_ID_BITS)


def default_store_path() -> Path:
    """``$FLOWKIT_HOME/flowkit.db`` (``FLOWKIT_HOME`` defaults to ``~/.flowkit``)."""
    home = os.environ.get("FLOWKIT_HOME") or str(Path.home() / ".flowkit")
    return Path(home) / "flowkit.db"


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


def check_schema(conn: sqlite3.Connection, where: str, path: Path, *, create: bool) -> int:
    """Refuse a file that is not a flowkit store or is newer; a writer creates or upgrades the tables.

    Returns the schema the file now has (a reader's queries follow it). ``conn`` is closed when it raises.
    """
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
            _use_wal(conn, where, new=new)
        if create and (new or not TABLES <= tables or version < SCHEMA_VERSION):
            if new or version >= SCHEMA_VERSION:
                script = SCHEMA  # a new store, or one that lacks a table added since (IF NOT EXISTS)
            elif version == 4:
                script = _COMMON + _KEYED.format(suffix="") + _REBUILD_5
            elif version == 3:
                script = _COMMON + _KEYED.format(suffix="") + _REBUILD_4 + _REBUILD_5
            else:
                # an older store: first what its flowkit would have created, then the new tables
                # filled from the old ones, in one transaction (a crash leaves the old store whole)
                script = SCHEMA_2 + _REBUILD_3 + _REBUILD_4 + _REBUILD_5
            conn.executescript(
                f"BEGIN;{script}INSERT OR REPLACE INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}');COMMIT;"
            )
        if create and new:
            conn.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.DatabaseError as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.close()
        raise explain(exc, where, path) from None
    except StoreError:
        conn.close()
        raise
    return SCHEMA_VERSION if create else version


def explain(exc: sqlite3.DatabaseError, where: str, path: Path | None = None) -> StoreError:
    """sqlite3's error as a StoreError naming the file and the fix."""
    text = str(exc)
    name = getattr(exc, "sqlite_errorname", "")
    if name == "SQLITE_FULL" or name.startswith("SQLITE_IOERR") or "disk is full" in text or "disk I/O" in text:
        return _disk_full(text, where, path)
    if "not a database" in text or "malformed" in text or "file is encrypted" in text:
        return StoreError(
            f"{where} is not a readable SQLite file ({text}); it is corrupt or something else. "
            "It is left untouched. Fix: move it away or use another path."
        )
    if "readonly" in text or "read-only" in text:
        return StoreError(f"{where} is read-only ({text}). Fix: make it writable, or open it with readonly=True.")
    if "locked" in text or "busy" in text:
        return StoreError(f"{where} is locked by another connection ({text}). Fix: close the other program, or retry.")
    if "unable to open" in text:
        return StoreError(f"{where} cannot be opened ({text}). Fix: check the path and its permissions.")
    return StoreError(f"{where}: {text}")


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
