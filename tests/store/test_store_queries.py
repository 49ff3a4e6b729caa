"""Reading a store: executions by name, version, status, correlationId and time range, one execution
by id, the events that moved it, the registered definitions; MemoryStore answers like SqliteStore;
and listing 10,000 executions (timed and printed, not asserted on)."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

import flowkit
from flowkit.store import MemoryStore, SqliteStore
from flowkit.store._sqlite_schema import TASK_ID_BITS
from flowkit.testing import VirtualClock

T0 = 1_750_000_000_000
MINUTE = 60_000


def _orders(version: int) -> dict[str, Any]:
    return {
        "name": "orders",
        "version": version,
        "outputParameters": {"total": "${price.output.total}"},
        "tasks": [{"name": "price", "taskReferenceName": "price", "inputParameters": {"n": "${workflow.input.n}"}}],
    }


BILLING = {
    "name": "billing",
    "version": 1,
    "tasks": [
        {"name": "charge", "taskReferenceName": "charge", "inputParameters": {"n": "${workflow.input.n}"}},
        {"name": "approve", "taskReferenceName": "approve", "type": "HUMAN"},
    ],
}
KID = {
    "name": "kid",
    "version": 1,
    "tasks": [{"name": "price", "taskReferenceName": "kprice", "inputParameters": {"n": 7}}],
    "outputParameters": {"total": "${kprice.output.total}"},
}
PARENT = {
    "name": "parent",
    "version": 1,
    "tasks": [
        {
            "name": "kid",
            "taskReferenceName": "sub",
            "type": "SUB_WORKFLOW",
            "subWorkflowParam": {"name": "kid", "version": 1},
        },
    ],
}
CHARGE_DEF = {"name": "charge", "retryCount": 1, "retryLogic": "FIXED", "retryDelaySeconds": 5}


def price(n: int = 0) -> dict[str, Any]:
    if n < 0:
        raise flowkit.NonRetryableError(f"negative amount {n}")
    return {"total": n * 10}


def charge(task):  # type: ignore[no-untyped-def]  # gets the Task: fails its first attempt (every one when n < 0)
    if task.retry_count == 0 or task.input_data["n"] < 0:
        raise RuntimeError("card declined")
    return {"charged": task.input_data["n"]}


WORKERS = {"price": price, "charge": charge}

# (workflow, input, correlation id, minutes after T0, extra run arguments) -> expected status
RUNS: list[tuple[dict[str, Any], dict[str, Any], str | None, int, dict[str, Any], str]] = [
    (_orders(1), {"n": 1}, "c-1", 0, {}, "COMPLETED"),
    (_orders(2), {"n": 2}, "c-2", 1, {}, "COMPLETED"),
    (_orders(2), {"n": -3}, "c-1", 2, {}, "FAILED"),
    (BILLING, {"n": 4}, "c-3", 3, {"task_defs": [CHARGE_DEF]}, "RUNNING"),  # retried, then waits at HUMAN
    (PARENT, {}, "c-4", 4, {"workflows": [KID]}, "COMPLETED"),
    (BILLING, {"n": -1}, "c-5", 5, {"task_defs": [CHARGE_DEF]}, "FAILED"),  # both attempts fail
]


def populate(store: Any) -> list[Any]:
    executions = []
    for wf, data, corr, minutes, extra, status in RUNS:
        ex = flowkit.run(
            wf,
            data,
            workers=WORKERS,
            store=store,
            executor="inline",
            correlation_id=corr,
            clock=VirtualClock(T0 + minutes * MINUTE),
            **extra,
        )
        assert str(ex.status) == status, (wf["name"], ex.status, ex.reason)
        executions.append(ex)
    return executions


def _close(path: Path) -> None:
    from flowkit.store import _OPEN

    found = _OPEN.pop(str(path.resolve()), None)
    if found is not None:
        found.close()


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Any]]:
    path = tmp_path_factory.mktemp("queries") / "q.db"
    executions = populate(path)
    _close(path)
    return path, executions


def _ids(rows: list[dict[str, Any]]) -> list[str]:
    return [r["workflow_id"] for r in rows]


# ------------------------------------------------------------------------------------------ listing
def test_list_and_filter_executions(filled: tuple[Path, list[Any]]) -> None:
    path, exs = filled
    orders1, orders2, failed, billing, parent, declined = exs
    store = SqliteStore(path, readonly=True)
    rows = store.execution_rows()
    kid_id = parent.to_json()["tasks"][0]["subWorkflowId"]
    # newest first; the child started in the same millisecond as its parent (ties ordered by id)
    assert _ids(rows[3:]) == [billing.workflow_id, failed.workflow_id, orders2.workflow_id, orders1.workflow_id]
    assert rows[0]["workflow_id"] == declined.workflow_id and set(_ids(rows[1:3])) == {parent.workflow_id, kid_id}
    assert "data" not in rows[0]
    by_id = {r["workflow_id"]: r for r in rows}
    assert by_id[kid_id]["parent_workflow_id"] == parent.workflow_id and by_id[kid_id]["correlation_id"] == "c-4"
    assert by_id[failed.workflow_id]["reason"].endswith("failed with status: FAILED and reason: 'negative amount -3'")
    assert (by_id[billing.workflow_id]["task_count"], by_id[billing.workflow_id]["failed_count"]) == (3, 1)
    assert by_id[declined.workflow_id]["task_count"] == 2
    assert by_id[orders1.workflow_id]["created"] == T0 and by_id[orders1.workflow_id]["ended"] == T0

    assert _ids(store.execution_rows(name="orders")) == [failed.workflow_id, orders2.workflow_id, orders1.workflow_id]
    assert _ids(store.execution_rows(name="orders", version=2)) == [failed.workflow_id, orders2.workflow_id]
    assert _ids(store.execution_rows(version=2)) == [failed.workflow_id, orders2.workflow_id]
    assert _ids(store.execution_rows(status="FAILED")) == [declined.workflow_id, failed.workflow_id]
    assert _ids(store.execution_rows(status=["RUNNING", "FAILED"])) == [
        declined.workflow_id,
        billing.workflow_id,
        failed.workflow_id,
    ]
    assert _ids(store.execution_rows(name="billing", status="FAILED")) == [declined.workflow_id]
    assert _ids(store.execution_rows(status="TERMINATED")) == []
    assert _ids(store.execution_rows(correlation_id="c-1")) == [failed.workflow_id, orders1.workflow_id]
    assert _ids(store.execution_rows(correlation_id="c-1", status="COMPLETED")) == [orders1.workflow_id]
    # time range: created >= since and <= until (inclusive, epoch ms)
    assert _ids(store.execution_rows(since=T0 + MINUTE, until=T0 + 3 * MINUTE)) == [
        billing.workflow_id,
        failed.workflow_id,
        orders2.workflow_id,
    ]
    assert _ids(store.execution_rows(since=T0 + MINUTE + 1, until=T0 + 3 * MINUTE - 1)) == [failed.workflow_id]
    assert _ids(store.execution_rows(until=T0 - 1)) == []
    assert len(store.execution_rows(since=T0 + 4 * MINUTE, until=T0 + 4 * MINUTE)) == 2  # parent and child
    assert _ids(store.execution_rows(limit=4))[3] == billing.workflow_id
    assert _ids(store.execution_rows(name="orders", limit=1)) == [failed.workflow_id]
    with_data = store.execution_rows(name="orders", version=1, with_data=True)
    assert json.loads(with_data[0]["data"])["output"] == {"total": 10}
    df = store.executions_df(name="orders")
    assert list(df["workflow_id"]) == [failed.workflow_id, orders2.workflow_id, orders1.workflow_id]
    store.close()


def test_fetch_one_execution_without_flowkit_open(filled: tuple[Path, list[Any]]) -> None:
    path, exs = filled
    billing = exs[3]
    store = SqliteStore(path, readonly=True)
    record = store.execution(billing.workflow_id)
    assert record is not None
    row, tasks = record
    assert (row["name"], row["version"], row["status"], row["correlation_id"]) == ("billing", 1, "RUNNING", "c-3")
    data = json.loads(row["data"])
    assert data["input"] == {"n": 4}
    assert json.loads(row["definition"])["name"] == "billing"
    assert [(t["ref"], t["status"], t["retry_count"], t["seq"]) for t in tasks] == [
        ("charge", "FAILED", 0, 1),
        ("charge", "COMPLETED", 1, 2),
        ("approve", "IN_PROGRESS", 0, 3),
    ]
    first, retried, _ = tasks
    assert json.loads(first["data"])["reason"] == "card declined"
    assert json.loads(retried["data"])["output"] == {"charged": 4}
    assert retried["scheduled"] == first["ended"] and retried["started"] == first["ended"] + 5000  # virtual backoff
    assert store.execution("no-such-id") is None
    # the same records through sqlite3 alone
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    raw = con.execute(
        "SELECT task_id, status FROM tasks WHERE workflow_id=? ORDER BY seq", (billing.workflow_id,)
    ).fetchall()
    con.close()
    assert raw == [(t["task_id"], t["status"]) for t in tasks]
    # the execution JSON of the run agrees with the stored records
    live = billing.to_json()
    assert [t["taskId"] for t in live["tasks"]] == [t["task_id"] for t in tasks]
    assert [t["status"] for t in live["tasks"]] == [t["status"] for t in tasks]
    store.close()


def test_a_tasks_moves_are_read_from_its_row_and_only_the_workflows_moves_are_written(tmp_path: Path) -> None:
    chain = {
        "name": "chain",
        "version": 1,
        "tasks": [{"name": "step", "taskReferenceName": f"s{i}", "inputParameters": {"x": i}} for i in range(3)],
    }
    path = tmp_path / "chain.db"
    ex = flowkit.run(chain, {}, workers={"step": lambda x: {"y": x}}, store=path, executor="inline")
    assert ex.status == "COMPLETED", ex.reason
    con = sqlite3.connect(path)
    written = [json.loads(k) for (k,) in con.execute("SELECT kind FROM events WHERE workflow_id=?", (ex.workflow_id,))]
    con.close()
    # its start is its row's created time: no events row for it
    assert [kind for row in written for _, _, kind in row] == ["workflow COMPLETED"]
    store = SqliteStore(path, readonly=True)
    events = store.events(ex.workflow_id)
    store.close()
    assert [e["kind"] for e in events] == ["workflow RUNNING"] + ["SCHEDULED", "IN_PROGRESS", "COMPLETED"] * 3 + [
        "workflow COMPLETED"
    ]
    assert [e["task_id"] for e in events[1:-1]] == [t.task_id for t in ex.tasks for _ in range(3)]
    times = [e["time"] for e in events]
    assert times == sorted(times)
    expected = [when for t in ex.tasks for when in (t.scheduled_time, t.start_time, t.end_time)]
    assert times[1:-1] == expected
    run = ex.to_json(include_tasks=False)
    assert times[0] == run["startTime"] and times[-1] == run["endTime"]


def test_a_start_an_older_flowkit_wrote_as_an_events_row_is_read_once(tmp_path: Path) -> None:
    """Stores written before the start was implied hold it as an events row, at the first write's time
    (a write batch after the start) or at the start itself: either way it is one move."""
    path = tmp_path / "old.db"
    ex = flowkit.run(
        {"name": "one", "version": 1, "tasks": [{"name": "step", "taskReferenceName": "s0"}]},
        {},
        workers={"step": lambda: time.sleep(0.02) or {"y": 1}},
        store=path,
        executor="inline",
    )
    con = sqlite3.connect(path)
    start = ex.to_json()["startTime"]
    for when in (start, start + 3):
        with con:
            con.execute(
                "INSERT INTO events (workflow_id, id, task_id, time, kind) VALUES (?, 0, NULL, ?, ?)",
                (ex.workflow_id, when, json.dumps([[None, when, "workflow RUNNING"]])),
            )
        store = SqliteStore(path, readonly=True)
        kinds = [e["kind"] for e in store.events(ex.workflow_id) if e["task_id"] is None]
        store.close()
        assert kinds == ["workflow RUNNING", "workflow COMPLETED"], when
        with con:
            con.execute("DELETE FROM events WHERE workflow_id = ? AND id = 0", (ex.workflow_id,))
    con.close()


def test_events_record_what_moved_an_execution(filled: tuple[Path, list[Any]]) -> None:
    path, exs = filled
    orders1, billing = exs[0], exs[3]
    store = SqliteStore(path, readonly=True)
    order = ["SCHEDULED", "IN_PROGRESS", "COMPLETED", "FAILED"]
    for ex, workflow_kinds in ((orders1, ["workflow RUNNING", "workflow COMPLETED"]), (billing, ["workflow RUNNING"])):
        events = store.events(ex.workflow_id)
        # one event per status the workflow moved to (not one per write), its start first
        assert [e["kind"] for e in events if e["task_id"] is None] == workflow_kinds
        assert events[0] == {"time": ex.to_json()["startTime"], "task_id": None, "kind": "workflow RUNNING"}
        times = [e["time"] for e in events]
        assert times == sorted(times)
        record = store.execution(ex.workflow_id)
        assert record is not None
        for task in record[1]:
            kinds = [e["kind"] for e in events if e["task_id"] == task["task_id"]]
            assert kinds and kinds[-1] == task["status"], (task["ref"], kinds)
            assert [order.index(k) for k in kinds] == sorted(order.index(k) for k in kinds), kinds  # never backwards
        assert {e["task_id"] for e in events if e["task_id"]} == {t["task_id"] for t in record[1]}
    events = store.events(billing.workflow_id)
    failed_at = next(i for i, e in enumerate(events) if e["kind"] == "FAILED")
    completed_at = next(i for i, e in enumerate(events) if e["kind"] == "COMPLETED")
    assert failed_at < completed_at  # the failed attempt, then the retry
    assert store.events("no-such-id") == []
    store.close()


def test_definitions_registered_on_run(filled: tuple[Path, list[Any]]) -> None:
    path, _ = filled
    store = SqliteStore(path, readonly=True)
    assert [(d.name, d.version) for d in store.workflow_defs()] == [
        ("billing", 1),
        ("kid", 1),
        ("orders", 1),
        ("orders", 2),
        ("parent", 1),
    ]
    assert [(t.name, t.retry_count, t.retry_delay_seconds) for t in store.task_defs() if t.name == "charge"] == [
        ("charge", 1, 5)
    ]
    latest = store.workflow_def("orders")
    assert latest is not None and latest.version == 2
    first = store.workflow_def("orders", 1)
    assert first is not None and first.version == 1 and first.tasks[0].task_reference_name == "price"
    assert store.workflow_def("orders", 7) is None and store.workflow_def("nope") is None
    store.close()


# ------------------------------------------------------------------------------------------ MemoryStore
_COMPARED = (
    "name",
    "version",
    "status",
    "correlation_id",
    "created",
    "updated",
    "ended",
    "task_count",
    "failed_count",
    "reason",
)


def _comparable(rows: list[dict[str, Any]], ids: dict[str, str]) -> list[tuple[Any, ...]]:
    out = []
    for r in rows:
        parent = ids.get(r["parent_workflow_id"]) if r["parent_workflow_id"] else None
        values = [
            re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "<id>", v) if k == "reason" and v else v
            for k, v in ((k, r[k]) for k in _COMPARED)
        ]
        out.append((*values, parent, sorted(set(r) - {"data"})))
    return sorted(out, key=repr)


def test_memory_store_gives_the_same_rows(filled: tuple[Path, list[Any]]) -> None:
    path, sqlite_exs = filled
    memory = MemoryStore()
    memory_exs = populate(memory)
    sql = SqliteStore(path, readonly=True)
    # ids differ between the two runs: map each store's ids to the run's position
    sql_ids = {ex.workflow_id: f"run{i}" for i, ex in enumerate(sqlite_exs)}
    mem_ids = {ex.workflow_id: f"run{i}" for i, ex in enumerate(memory_exs)}
    for filters in (
        {},
        {"name": "orders"},
        {"name": "orders", "version": 2},
        {"status": "COMPLETED"},
        {"status": ["RUNNING", "FAILED"]},
        {"correlation_id": "c-1"},
        {"since": T0 + MINUTE, "until": T0 + 3 * MINUTE},
        {"limit": 2},
        {"correlation_id": "c-4"},
        {"name": "billing", "status": "FAILED"},
    ):
        a, b = sql.execution_rows(**filters), memory.execution_rows(**filters)
        assert _comparable(a, sql_ids) == _comparable(b, mem_ids), filters
        named = [sql_ids.get(w, "kid") for w in _ids(a)]
        assert named == [mem_ids.get(w, "kid") for w in _ids(b)], filters  # same order
    sql.close()


# ------------------------------------------------------------------------------------------ 10,000 executions
N = 10_000


def test_open_and_list_ten_thousand_executions(tmp_path: Path) -> None:
    path = tmp_path / "big.db"
    ex = flowkit.run(_orders(1), {"n": 1}, workers=WORKERS, store=path, executor="inline")
    _close(path)
    con = sqlite3.connect(path)
    (row,) = con.execute("SELECT * FROM executions").fetchall()
    cols = [d[0] for d in con.execute("SELECT * FROM executions").description]
    batches = con.execute("SELECT id, json FROM task_batches").fetchall()
    defs = con.execute("SELECT hash FROM execution_defs WHERE workflow_id=?", (ex.workflow_id,)).fetchall()
    id_at, wid_at, created_at = cols.index("id"), cols.index("workflow_id"), cols.index("created")
    new_rows, new_tasks, new_defs = [], [], []
    for i in range(1, N):
        wid = f"copy-{i:05d}"
        r = list(row)
        r[id_at], r[wid_at], r[created_at] = row[id_at] + i, wid, row[created_at] + i
        new_rows.append(r)
        for batch_id, text in batches:  # schema 5: an execution's batches are numbered from its id
            entries = [[f"{wid}-{e[0]}", *e[1:]] for e in json.loads(text)]
            new_tasks.append(((r[id_at] << TASK_ID_BITS) + (batch_id & ((1 << TASK_ID_BITS) - 1)), json.dumps(entries)))
        new_defs += [(wid, h) for (h,) in defs]
    with con:
        con.executemany(f"INSERT INTO executions VALUES ({', '.join('?' * len(cols))})", new_rows)
        con.executemany("INSERT INTO task_batches VALUES (?, ?)", new_tasks)
        con.executemany("INSERT INTO execution_defs VALUES (?, ?)", new_defs)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()

    started = time.perf_counter()
    store = SqliteStore(path)
    rows = store.execution_rows()
    writer_s = time.perf_counter() - started
    store.close()
    started = time.perf_counter()
    reader = SqliteStore(path, readonly=True)
    ro_rows = reader.execution_rows()
    reader_s = time.perf_counter() - started
    reader.close()
    started = time.perf_counter()
    runtime = flowkit.open(path, workers=WORKERS, background=False)
    open_s = time.perf_counter() - started
    assert runtime.engine.executions == {}  # every one COMPLETED: nothing to recover
    _close(path)
    print(
        f"\n[store perf] {N} executions: open + execution_rows() {writer_s * 1000:.1f} ms (writer), "
        f"{reader_s * 1000:.1f} ms (readonly); flowkit.open (recovery scan) {open_s * 1000:.1f} ms"
    )
    assert len(rows) == N and len(ro_rows) == N
    assert len({r["workflow_id"] for r in rows}) == N
    assert rows[0]["workflow_id"] == f"copy-{N - 1:05d}" and rows[-1]["workflow_id"] == ex.workflow_id


def test_a_store_from_an_older_flowkit_missing_newer_tables_is_upgraded_in_place(tmp_path):
    import sqlite3

    import flowkit

    path = tmp_path / "old.db"
    first = flowkit.run(
        {"name": "old", "tasks": [{"name": "n", "taskReferenceName": "n", "type": "NOOP"}]}, store=str(path)
    )
    flowkit.store.open_store(str(path)).close()
    with sqlite3.connect(path) as conn:  # an older layout: no shared definitions tables yet
        conn.execute("DROP TABLE definitions")
        conn.execute("DROP TABLE execution_defs")
    flowkit.store._OPEN.pop(str(path.resolve()), None)
    again = flowkit.run(
        {"name": "old", "tasks": [{"name": "n", "taskReferenceName": "n", "type": "NOOP"}]}, store=str(path)
    )
    assert again.status == "COMPLETED"
    rows = flowkit.store.open_store(str(path)).execution_rows()
    assert {r["workflow_id"] for r in rows} == {first.workflow_id, again.workflow_id}


# Every key a task record carried before records kept only what differs from a new attempt.
_FULL_RECORD_DEFAULTS = {
    "reason": None,
    "workerId": None,
    "pollCount": 0,
    "callbackAfterSeconds": 0,
    "callbackAfterMs": 0,
    "startDelay": 0,
    "retriedTaskId": None,
    "retried": False,
    "executed": False,
    "subWorkflowId": None,
    "logs": None,
    "error": None,
    "extra": None,
    "nodeSource": None,
}


def test_task_records_of_an_earlier_flowkit_load_the_same(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    executions = populate(db)
    _close(db)
    expected = {ex.workflow_id: ex.to_json() for ex in executions}
    conn = sqlite3.connect(db)
    batches = [(i, json.loads(text)) for i, text in conn.execute("SELECT id, json FROM task_batches")]
    entries = [e for _, batch in batches for e in batch]  # [task_id, seq, ref, ..., scheduled (8), ..., data]
    assert any(len(e[12]) < len(_FULL_RECORD_DEFAULTS) for e in entries)  # compact ones were written
    with conn:
        for batch_id, batch in batches:
            for e in batch:
                e[12] = {**_FULL_RECORD_DEFAULTS, "nodeRef": e[2], "firstScheduledTime": e[8], **e[12]}
            conn.execute("UPDATE task_batches SET json=? WHERE id=?", (json.dumps(batch), batch_id))
    conn.close()
    runtime = flowkit.open(db, workers=WORKERS, background=False, workflows=[KID])
    try:
        for workflow_id, doc in expected.items():
            loaded = runtime.load(workflow_id).to_json()
            assert loaded["tasks"] == doc["tasks"], workflow_id
            assert loaded["status"] == doc["status"] and loaded["output"] == doc["output"]
    finally:
        runtime.close()


def test_restart_and_rerun_leave_only_the_current_attempts_in_the_store(tmp_path: Path) -> None:
    db = tmp_path / "ops.db"
    ex = flowkit.run(
        BILLING, {"n": -1}, workers=WORKERS, store=db, task_defs=[CHARGE_DEF], executor="inline", clock=VirtualClock(T0)
    )
    assert str(ex.status) == "FAILED" and len(ex.tasks) == 2  # two failed attempts of charge

    def stored() -> list[tuple[str, str, int]]:
        conn = sqlite3.connect(db)
        try:
            rows = conn.execute(
                "SELECT task_id, status, seq FROM tasks WHERE workflow_id=? ORDER BY seq", (ex.workflow_id,)
            ).fetchall()
        finally:
            conn.close()
        return rows

    def current() -> list[tuple[str, str, int]]:
        return [(t.task_id, str(t.status), t.seq) for t in ex.tasks]

    ex.restart()
    ex.wait()
    assert stored() == current() and len(current()) == 2  # the attempts before the restart are gone
    ex.rerun(ex.tasks[0].task_id, workflow_input={"n": 5})
    ex.wait()
    assert str(ex.status) == "RUNNING"  # charge completed, HUMAN approve waits
    assert stored() == current()
    _close(db)
    runtime = flowkit.open(db, workers=WORKERS, background=False, task_defs=[CHARGE_DEF])
    try:
        loaded = runtime.load(ex.workflow_id)
        assert [(t.task_id, str(t.status), t.seq) for t in loaded.tasks] == current()
    finally:
        runtime.close()
    conn = sqlite3.connect(db)
    (execution_id,) = conn.execute("SELECT id FROM executions WHERE workflow_id=?", (ex.workflow_id,)).fetchone()
    batches = conn.execute("SELECT id, json FROM task_batches ORDER BY id").fetchall()
    conn.close()
    # every batch in the execution's range; the attempts the restart and the rerun dropped are in none of them
    assert {i >> TASK_ID_BITS for i, _ in batches} == {execution_id}
    assert {e[0] for _, text in batches for e in json.loads(text)} == {t.task_id for t in ex.tasks}


def test_removing_an_execution_deletes_its_rows_and_no_other(tmp_path: Path) -> None:
    db = tmp_path / "remove.db"
    kept, gone = (flowkit.run(_orders(3), {"n": n}, workers=WORKERS, store=db, executor="inline") for n in (1, 2))
    store = flowkit.store.open_store(str(db))

    def count(table: str, workflow_id: str) -> int:
        conn = sqlite3.connect(db)
        try:
            return conn.execute(f"SELECT count(*) FROM {table} WHERE workflow_id=?", (workflow_id,)).fetchone()[0]  # noqa: S608
        finally:
            conn.close()

    def batches() -> int:  # schema 5's rows behind the tasks view, whichever execution they belong to
        conn = sqlite3.connect(db)
        try:
            return conn.execute("SELECT count(*) FROM task_batches").fetchone()[0]
        finally:
            conn.close()

    tables = ("executions", "tasks", "events", "execution_defs")
    before = {t: count(t, kept.workflow_id) for t in tables}
    assert all(before.values()) and all(count(t, gone.workflow_id) for t in tables)
    assert batches() == 2  # an ended execution is one batch row
    store.remove_execution(gone.workflow_id)
    assert batches() == 1
    assert store.execution(gone.workflow_id) is None and store.events(gone.workflow_id) == []
    assert {t: count(t, gone.workflow_id) for t in tables} == dict.fromkeys(tables, 0)
    assert {t: count(t, kept.workflow_id) for t in tables} == before
    assert [t["ref"] for t in store.execution(kept.workflow_id)[1]] == [t.ref for t in kept.tasks]
    again = flowkit.run(_orders(3), {"n": 3}, workers=WORKERS, store=db, executor="inline")  # the store goes on
    assert str(again.status) == "COMPLETED" and len(store.execution(again.workflow_id)[1]) == len(again.tasks)


_FORK_FORMS: dict[str, tuple[dict[str, Any], Any]] = {
    # form: (the FORK_JOIN_DYNAMIC task's own keys, gen's output for three branches)
    "forkTaskName": (
        {"inputParameters": {"forkTaskName": "leaf", "forkTaskInputs": "${gen.output.inputs}"}},
        {"inputs": [{"i": i} for i in range(3)]},
    ),
    "dynamicForkTasksParam": (
        {
            "inputParameters": {"tasks": "${gen.output.tasks}", "inputs": "${gen.output.inputs}"},
            "dynamicForkTasksParam": "tasks",
            "dynamicForkTasksInputParamName": "inputs",
        },
        {
            "tasks": [
                {"name": "leaf", "taskReferenceName": "leaf_0", "type": "SIMPLE"},
                {"name": "leaf", "taskReferenceName": "leaf_1"},  # no type: SIMPLE, as Conductor reads it
                # a branch whose task JSON holds more than name, ref and type
                {"name": "leaf", "taskReferenceName": "leaf_2", "type": "SIMPLE", "inputParameters": {"i": 2}},
            ],
            "inputs": {"leaf_0": {"i": 0}, "leaf_1": {"i": 1}},
        },
    ),
    "sdk-legacy": (
        {
            "inputParameters": {"tasks": "${gen.output.tasks}"},
            "dynamicForkJoinTasksParam": "tasks",
        },
        {
            "tasks": {
                "dynamicTasks": [
                    {"taskName": "leaf", "referenceName": f"leaf_{i}", "input": {"i": i}} for i in range(3)
                ]
            }
        },
    ),
}


def _fan(form: str) -> dict[str, Any]:
    """gen -> FORK_JOIN_DYNAMIC written in ``form`` (one of _FORK_FORMS) -> JOIN."""
    return {
        "name": "fan",
        "version": 1,
        "tasks": [
            {"name": "gen", "taskReferenceName": "gen"},
            {"name": "fork", "taskReferenceName": "fork", "type": "FORK_JOIN_DYNAMIC", **_FORK_FORMS[form][0]},
            {"name": "join", "taskReferenceName": "join", "type": "JOIN"},
        ],
    }


@pytest.mark.parametrize("form", list(_FORK_FORMS))
def test_dynamic_fork_branches_come_back_from_the_store_as_they_ran(tmp_path: Path, form: str) -> None:
    path = tmp_path / "fan.db"
    _, generated = _FORK_FORMS[form]
    workers = {"gen": lambda: generated, "leaf": lambda i: {"y": i * 2}}
    ex = flowkit.run(_fan(form), {}, workers=workers, store=path)
    assert str(ex.status) == "COMPLETED", ex.reason
    runtime = flowkit.open(path, background=False)
    back = runtime.load(ex.workflow_id).to_json()
    runtime.close()
    assert back == ex.to_json()
    leaves = [t for t in back["tasks"] if t["taskType"] == "leaf"]
    assert [t["outputData"] for t in leaves] == [{"y": 0}, {"y": 2}, {"y": 4}]
    assert [t["workflowTask"].get("type", "SIMPLE") for t in leaves] == ["SIMPLE"] * 3  # as the branch JSON had it
    # a plain branch's record holds its input once and, of its task JSON, only the type (its name
    # and ref are the record's own; null: the JSON had none); a branch whose task JSON holds more keeps it whole
    con = sqlite3.connect(path)
    for ref, data in con.execute("SELECT ref, data FROM tasks WHERE type='leaf'"):
        source = json.loads(data)["nodeSource"]
        if form == "dynamicForkTasksParam" and ref == "leaf_2":
            assert source["task"]["inputParameters"] == {"i": 2} and source["inputFromTask"], data
        elif form == "dynamicForkTasksParam" and ref == "leaf_1":
            assert source == {"owner": "fork", "plain": None} and data.count('"i":') == 1, data
        else:
            assert source == {"owner": "fork", "plain": "SIMPLE"} and data.count('"i":') == 1, data
    con.close()


def _batches(path: Path, workflow_id: str) -> list[list[list[Any]]]:
    """An execution's task_batches rows (schema 5), oldest first, each the list of its entries."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        (execution_id,) = con.execute("SELECT id FROM executions WHERE workflow_id=?", (workflow_id,)).fetchone()
        low = execution_id << TASK_ID_BITS
        rows = con.execute(
            "SELECT json FROM task_batches WHERE id > ? AND id < ? ORDER BY id", (low, low + (1 << TASK_ID_BITS))
        )
        return [json.loads(text) for (text,) in rows]
    finally:
        con.close()


def test_a_running_execution_adds_a_batch_per_write_and_an_ended_one_is_one_batch(tmp_path: Path) -> None:
    db = tmp_path / "batches.db"
    approval = {
        "name": "approval",
        "version": 1,
        "tasks": [
            {"name": "price", "taskReferenceName": "price", "inputParameters": {"n": "${workflow.input.n}"}},
            {"name": "approve", "taskReferenceName": "approve", "type": "HUMAN"},
        ],
    }

    def slow_price(n: int) -> dict[str, Any]:  # longer than a write batch: its start is written before its end
        time.sleep(0.2)
        return price(n)

    ex = flowkit.start(approval, {"n": 3}, workers={**WORKERS, "price": slow_price}, store=db)
    deadline = time.monotonic() + 30
    while not any(t.ref == "approve" and str(t.status) == "IN_PROGRESS" for t in ex.tasks):
        assert time.monotonic() < deadline, f"the run did not reach its HUMAN task: {ex.status} {ex.reason}"
        time.sleep(0.005)
    ex.runtime.flush()
    running = _batches(db, ex.workflow_id)
    # a write while price ran, then what changed since: price is in more than one batch, its later
    # state in the later one
    assert len(running) >= 2
    priced = [e for batch in running for e in batch if e[2] == "price"]
    assert len(priced) >= 2 and priced[0][3] == "IN_PROGRESS" and priced[-1][3] == "COMPLETED"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    view = con.execute("SELECT ref, status FROM tasks WHERE workflow_id=? ORDER BY seq", (ex.workflow_id,)).fetchall()
    con.close()
    assert view == [("price", "COMPLETED"), ("approve", "IN_PROGRESS")]  # each attempt once, as it is now

    ex.complete_task("approve", {"ok": True}).wait(10)
    assert str(ex.status) == "COMPLETED"
    ex.runtime.close()
    (ended,) = _batches(db, ex.workflow_id)  # the ended execution: one row, each attempt once
    assert [(e[0], e[3]) for e in ended] == [(t.task_id, str(t.status)) for t in ex.tasks]
    assert json.loads(SqliteStore(db, readonly=True).execution(ex.workflow_id)[1][1]["data"])["output"] == {"ok": True}


def test_more_attempts_than_a_batch_row_holds_go_in_several_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flowkit.store import _sqlite_write

    monkeypatch.setattr(_sqlite_write, "_BATCH_ENTRIES", 4)  # 4,096 in use; 14 attempts below make 4 rows
    workers = {"gen": lambda: {"inputs": [{"i": i} for i in range(11)]}, "leaf": lambda i: {"y": i * 2}}
    path = tmp_path / "split.db"
    ex = flowkit.run(_fan("forkTaskName"), {}, workers=workers, store=path, executor="inline")
    assert str(ex.status) == "COMPLETED" and len(ex.tasks) == 14
    assert [len(batch) for batch in _batches(path, ex.workflow_id)] == [4, 4, 4, 2]
    runtime = flowkit.open(path, background=False)
    try:
        assert runtime.load(ex.workflow_id).to_json() == ex.to_json()
    finally:
        runtime.close()
