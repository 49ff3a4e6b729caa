"""Stores written by older flowkits: read as they are (readonly), upgraded in place by a writer.

Schema 1 wrote one events row per move, schema 2 one row per execution and write; both kept tasks
and events in rowid tables with a second index on ``workflow_id`` (tasks a third, on ``task_id``).
Schema 3 keys events by execution (``WITHOUT ROWID``) and tasks by an index on ``(workflow_id,
task_id)``. Schema 4 numbers executions and gives an execution's task rows the ids ``id << 24`` + 1,
2, ... (no index on tasks at all). Schema 5 keeps an execution's attempts as batch rows in that
range (``task_batches``) and shows them through the ``tasks`` view. The old files here are built
with the old DDL, copied verbatim below, and filled with the rows a real run wrote.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

import flowkit
from flowkit.store import _OPEN, SCHEMA_VERSION, SqliteStore
from flowkit.store._sqlite_schema import TASK_ID_BITS

_OLD_COMMON = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE workflow_defs (name TEXT NOT NULL, version INTEGER NOT NULL, json TEXT NOT NULL,
    PRIMARY KEY (name, version));
CREATE TABLE task_defs (name TEXT PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE executions (
    workflow_id TEXT PRIMARY KEY, name TEXT NOT NULL, version INTEGER NOT NULL, status TEXT NOT NULL,
    correlation_id TEXT, parent_workflow_id TEXT, created INTEGER NOT NULL, updated INTEGER NOT NULL,
    ended INTEGER NOT NULL, task_count INTEGER NOT NULL, failed_count INTEGER NOT NULL, reason TEXT,
    data TEXT NOT NULL);
CREATE INDEX executions_name ON executions (name, version);
CREATE INDEX executions_status ON executions (status);
CREATE INDEX executions_created ON executions (created);
CREATE TABLE definitions (hash TEXT PRIMARY KEY, json TEXT NOT NULL);
"""
# flowkit's schema 1 and 2 DDL (schema 2 only changed what an events row holds), and schema 3's
OLD_DDL = {
    2: _OLD_COMMON
    + """
CREATE INDEX executions_correlation ON executions (correlation_id);
CREATE TABLE tasks (
    task_id TEXT PRIMARY KEY, workflow_id TEXT NOT NULL, seq INTEGER NOT NULL, ref TEXT NOT NULL,
    status TEXT NOT NULL, type TEXT NOT NULL, name TEXT NOT NULL, iteration INTEGER NOT NULL,
    retry_count INTEGER NOT NULL, scheduled INTEGER NOT NULL, started INTEGER NOT NULL, ended INTEGER NOT NULL,
    updated INTEGER NOT NULL, data TEXT NOT NULL);
CREATE INDEX tasks_workflow ON tasks (workflow_id, seq);
CREATE TABLE execution_defs (workflow_id TEXT PRIMARY KEY, hash TEXT NOT NULL);
CREATE TABLE events (
    id INTEGER PRIMARY KEY, workflow_id TEXT NOT NULL, task_id TEXT, time INTEGER NOT NULL, kind TEXT NOT NULL);
CREATE INDEX events_workflow ON events (workflow_id, id);
""",
    3: _OLD_COMMON
    + """
CREATE TABLE tasks (task_id TEXT NOT NULL, workflow_id TEXT NOT NULL, seq INTEGER NOT NULL, ref TEXT NOT NULL,
    status TEXT NOT NULL, type TEXT NOT NULL, name TEXT NOT NULL, iteration INTEGER NOT NULL,
    retry_count INTEGER NOT NULL, scheduled INTEGER NOT NULL, started INTEGER NOT NULL, ended INTEGER NOT NULL,
    updated INTEGER NOT NULL, data TEXT NOT NULL);
CREATE TABLE execution_defs (workflow_id TEXT PRIMARY KEY, hash TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE events (
    workflow_id TEXT NOT NULL, id INTEGER NOT NULL, task_id TEXT, time INTEGER NOT NULL, kind TEXT NOT NULL,
    PRIMARY KEY (workflow_id, id)) WITHOUT ROWID;
CREATE UNIQUE INDEX tasks_key ON tasks (workflow_id, task_id);
CREATE INDEX executions_correlation ON executions (correlation_id) WHERE correlation_id IS NOT NULL;
""",
}
OLD_DDL[4] = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE workflow_defs (name TEXT NOT NULL, version INTEGER NOT NULL, json TEXT NOT NULL,
    PRIMARY KEY (name, version));
CREATE TABLE task_defs (name TEXT PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE definitions (hash TEXT PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE executions (id INTEGER PRIMARY KEY, workflow_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL, version INTEGER NOT NULL, status TEXT NOT NULL,
    correlation_id TEXT, parent_workflow_id TEXT, created INTEGER NOT NULL, updated INTEGER NOT NULL,
    ended INTEGER NOT NULL, task_count INTEGER NOT NULL, failed_count INTEGER NOT NULL, reason TEXT,
    data TEXT NOT NULL);
CREATE TABLE tasks (id INTEGER PRIMARY KEY, task_id TEXT NOT NULL, workflow_id TEXT NOT NULL, seq INTEGER NOT NULL,
    ref TEXT NOT NULL, status TEXT NOT NULL, type TEXT NOT NULL, name TEXT NOT NULL, iteration INTEGER NOT NULL,
    retry_count INTEGER NOT NULL, scheduled INTEGER NOT NULL, started INTEGER NOT NULL, ended INTEGER NOT NULL,
    updated INTEGER NOT NULL, data TEXT NOT NULL);
CREATE TABLE execution_defs (workflow_id TEXT PRIMARY KEY, hash TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE events (
    workflow_id TEXT NOT NULL, id INTEGER NOT NULL, task_id TEXT, time INTEGER NOT NULL, kind TEXT NOT NULL,
    PRIMARY KEY (workflow_id, id)) WITHOUT ROWID;
CREATE INDEX executions_name ON executions (name, version);
CREATE INDEX executions_status ON executions (status);
CREATE INDEX executions_created ON executions (created);
CREATE INDEX executions_correlation ON executions (correlation_id) WHERE correlation_id IS NOT NULL;
"""
OLD_DDL[1] = OLD_DDL[2]
_COPIED = ("workflow_defs", "task_defs", "executions", "tasks", "definitions", "execution_defs")

ORDER = {
    "name": "order",
    "version": 1,
    "tasks": [
        {"name": "price", "taskReferenceName": "price", "inputParameters": {"n": "${workflow.input.n}"}},
        {"name": "approve", "taskReferenceName": "approve", "type": "HUMAN"},
        {"name": "ship", "taskReferenceName": "ship", "inputParameters": {"total": "${price.output.total}"}},
    ],
    "outputParameters": {"shipped": "${ship.output.shipped}"},
}
WORKERS = {"price": lambda n: {"total": n * 10}, "ship": lambda total: {"shipped": total}}


def _forget(path: Path) -> None:
    found = _OPEN.pop(str(path.resolve()), None)
    if found is not None:
        found.close()


def _old_store(src: Path, dst: Path, version: int) -> None:
    """``dst``: ``src``'s rows in a file of schema ``version`` (1: an events row per move)."""
    con = sqlite3.connect(dst)
    con.executescript(OLD_DDL[version])
    con.execute("ATTACH DATABASE ? AS src", (str(src),))
    with con:
        for table in _COPIED:
            cols = ", ".join(r[1] for r in con.execute(f"PRAGMA main.table_info({table})"))
            if version == 4 and table == "tasks":  # schema 4 numbered an execution's task rows from its id
                cols = cols.removeprefix("id, ")
                con.execute(
                    f"INSERT INTO main.tasks (id, {cols}) SELECT (e.id << {TASK_ID_BITS}) + row_number() OVER "
                    f"(PARTITION BY t.workflow_id ORDER BY t.seq), {', '.join('t.' + c for c in cols.split(', '))} "
                    "FROM src.tasks t JOIN src.executions e USING (workflow_id)"
                )
                continue
            con.execute(f"INSERT INTO main.{table} ({cols}) SELECT {cols} FROM src.{table}")
        # older flowkits wrote every task move as an event too: (one row per write,) one row per move
        ids = [w for (w,) in con.execute("SELECT workflow_id FROM src.executions ORDER BY workflow_id")]
        reader = SqliteStore(src, readonly=True)
        moves = {w: [(e["task_id"], e["time"], e["kind"]) for e in reader.events(w)] for w in ids}
        reader.close()
        if version == 1:
            rows = [(w, task, when, kind) for w in ids for task, when, kind in moves[w]]
        else:
            rows = [(w, None, got[0][1], json.dumps(got)) for w, got in moves.items() if got]
        if version >= 3:  # events ids count per execution
            con.executemany(
                "INSERT INTO main.events VALUES (?1, (SELECT coalesce(max(id), 0) + 1 FROM main.events "
                "WHERE workflow_id = ?1), ?2, ?3, ?4)",
                rows,
            )
        else:
            con.executemany("INSERT INTO main.events (workflow_id, task_id, time, kind) VALUES (?, ?, ?, ?)", rows)
        con.execute("INSERT INTO main.meta VALUES ('schema_version', ?)", (str(version),))
    con.execute("DETACH DATABASE src")
    con.close()


def _at_approve(ex: Any) -> None:
    deadline = time.monotonic() + 30
    while not any(t.ref == "approve" and t.status == "IN_PROGRESS" for t in ex.tasks):
        assert time.monotonic() < deadline, "the order did not reach its HUMAN task"
        time.sleep(0.005)


def _waiting_order(tmp_path: Path) -> tuple[Path, str, str]:
    """A store holding a COMPLETED order and one waiting at its HUMAN task: (path, waiting id, done id)."""
    path = tmp_path / "new.db"
    done = flowkit.start(ORDER, {"n": 1}, workers=WORKERS, store=path)
    _at_approve(done)
    done.complete_task("approve").wait(10)
    assert done.status == "COMPLETED", done.reason
    waiting = flowkit.start(ORDER, {"n": 2}, workers=WORKERS, store=path)
    _at_approve(waiting)
    waiting.runtime.flush()
    waiting.runtime.close()
    done.runtime.close()
    _forget(path)
    return path, waiting.workflow_id, done.workflow_id


def _schema(path: Path) -> tuple[str, dict[str, str]]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        (version,) = con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        return version, {
            name: sql for name, sql in con.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL")
        }
    finally:
        con.close()


def _read(path: Path, *ids: str) -> list[Any]:
    store = SqliteStore(path, readonly=True)
    try:
        return [(store.execution(i), store.events(i)) for i in ids]
    finally:
        store.close()


def _numbered(path: Path) -> dict[str, list[tuple[int, list[int]]]]:
    """Each execution's batches as (number in the execution, the seqs of its entries), by id; every batch belongs to one."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        executions = dict(con.execute("SELECT id, workflow_id FROM executions"))
        out: dict[str, list[tuple[int, list[int]]]] = {w: [] for w in executions.values()}
        for row_id, text in con.execute("SELECT id, json FROM task_batches ORDER BY id"):
            seqs = sorted(entry[1] for entry in json.loads(text))
            out[executions[row_id >> TASK_ID_BITS]].append((row_id & ((1 << TASK_ID_BITS) - 1), seqs))
        return out
    finally:
        con.close()


@pytest.mark.parametrize("version", [2, 3, 4])
def test_an_older_store_is_read_as_it_is_then_upgraded_and_its_waiting_execution_carries_on(
    tmp_path: Path, version: int
) -> None:
    new, waiting, done = _waiting_order(tmp_path)
    expected = _read(new, waiting, done)
    path = tmp_path / f"v{version}.db"
    _old_store(new, path, version)
    before = path.read_bytes()

    assert _read(path, waiting, done) == expected  # a reader reads it ...
    assert path.read_bytes() == before  # ... and leaves it as it was
    old_version, ddl = _schema(path)
    assert old_version == str(version)
    assert ("tasks_workflow" in ddl) == (version == 2) and ("tasks_key" in ddl) == (version == 3)
    assert ("WHERE" in ddl["executions_correlation"]) == (version >= 3)

    # a writer upgrades it, adopts the waiting order and finishes it
    runtime = flowkit.open(path, workers=WORKERS)
    assert list(runtime.engine.executions) == [waiting]
    ex = runtime.load(waiting)
    ex.complete_task("approve").wait(10)
    assert ex.status == "COMPLETED" and ex.output == {"shipped": 20}, ex.reason
    runtime.close()
    # price outlasts a write batch: its start is written while it runs, its end with the next write
    slow = {**WORKERS, "price": lambda n: time.sleep(0.2) or {"total": n * 10}}
    again = flowkit.run(ORDER, {"n": 3}, workers=slow, store=path, executor="inline")
    _forget(path)

    new_version, ddl = _schema(path)
    assert new_version == str(SCHEMA_VERSION) == "5"
    assert {"tasks_workflow", "events_workflow", "tasks_key"}.isdisjoint(ddl)
    assert not [name for name in ddl if name.endswith(("_v3", "_v4"))]
    assert [name for name in ddl if "autoindex_task" in name] == []  # no index on task attempts at all
    assert all("WITHOUT ROWID" in ddl[t] for t in ("events", "execution_defs"))
    assert all("id INTEGER PRIMARY KEY" in ddl[t] for t in ("executions", "task_batches"))
    assert ddl["tasks"].startswith("CREATE VIEW tasks")
    assert ddl["executions_correlation"].endswith("WHERE correlation_id IS NOT NULL")
    (record, moves), (done_record, done_moves), (third, _) = _read(path, waiting, done, again.workflow_id)
    assert (done_record, done_moves) == expected[1]  # the finished one untouched
    # the waiting one: its tasks updated in place (one row each), its moves continued after the old ones
    assert [(t["ref"], t["status"]) for t in record[1]] == [
        ("price", "COMPLETED"),
        ("approve", "COMPLETED"),
        ("ship", "COMPLETED"),
    ]
    assert [t["task_id"] for t in record[1][:2]] == [t["task_id"] for t in expected[0][0][1][:2]]
    old_moves = expected[0][1]
    assert moves[: len(old_moves)] == old_moves and len(moves) > len(old_moves)
    assert moves[-1]["kind"] == "workflow COMPLETED"
    assert record[0]["status"] == "COMPLETED" and json.loads(record[0]["data"])["output"] == {"shipped": 20}
    # a new run on the upgraded file: written as schema 5 (it waits at its HUMAN task)
    assert third[0]["status"] == "RUNNING" and [(t["ref"], t["status"]) for t in third[1]] == [
        ("price", "COMPLETED"),
        ("approve", "IN_PROGRESS"),
    ]
    # an execution's old rows became its first batch; one that ended since is one batch again
    numbered = _numbered(path)
    assert numbered[done] == [(1, [1, 2, 3])]
    assert numbered[waiting] == [(1, [1, 2, 3])]
    # the running one: one batch per write, each attempt's later state in a later batch
    batches = numbered[again.workflow_id]
    assert [n for n, _ in batches] == list(range(1, len(batches) + 1)) and len(batches) >= 2
    assert {seq for _, seqs in batches for seq in seqs} == {1, 2}
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:  # the view shows each attempt once
        assert con.execute(
            "SELECT seq, status FROM tasks WHERE workflow_id=? ORDER BY seq", (again.workflow_id,)
        ).fetchall() == [
            (1, "COMPLETED"),
            (2, "IN_PROGRESS"),
        ]


def test_a_schema_1_store_keeps_its_events_one_row_per_move_and_continues_with_workflow_moves_only(
    tmp_path: Path,
) -> None:
    new, waiting, done = _waiting_order(tmp_path)
    expected = _read(new, waiting, done)
    path = tmp_path / "v1.db"
    _old_store(new, path, 1)
    assert _read(path, waiting, done) == expected
    assert _schema(path)[0] == "1"
    old_rows = sqlite3.connect(path).execute("SELECT COUNT(*) FROM events").fetchone()[0]
    assert old_rows == sum(len(moves) for _, moves in expected)  # one row per move

    runtime = flowkit.open(path, workers=WORKERS)
    runtime.load(waiting).complete_task("approve").wait(10)
    runtime.close()
    _forget(path)

    assert _schema(path)[0] == "5"
    [(record, moves), (_, done_moves)] = _read(path, waiting, done)
    assert done_moves == expected[1][1]
    assert moves[: len(expected[0][1])] == expected[0][1] and moves[-1]["kind"] == "workflow COMPLETED"
    con = sqlite3.connect(path)
    new_rows = con.execute("SELECT COUNT(*) FROM events").fetchone()[0] - old_rows
    con.close()
    assert 0 < new_rows < len(moves) - len(expected[0][1])  # the new moves: the tasks' are read from their rows


def test_events_rows_of_one_execution_are_numbered_in_write_order(tmp_path: Path) -> None:
    """An events row's id is one past its execution's last (the key is (workflow_id, id))."""
    new, waiting, _ = _waiting_order(tmp_path)
    runtime = flowkit.open(new, workers=WORKERS)
    runtime.load(waiting).complete_task("approve").wait(10)
    runtime.close()
    _forget(new)
    con = sqlite3.connect(new)
    ids = [i for (i,) in con.execute("SELECT id FROM events WHERE workflow_id=? ORDER BY id", (waiting,))]
    con.close()
    assert ids == list(range(1, len(ids) + 1)) and len(ids) >= 2  # the adopting process's RUNNING, COMPLETED
