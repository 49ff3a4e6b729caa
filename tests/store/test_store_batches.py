"""Large batches: task rows go in multi-row statements (64, then 8, then one at a time).

A fan-out of 75 branches written when they start (new rows) and again when they all end in one
operation (every row upserted over its earlier version): one row per attempt, each as it ended, read
back from the file.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import flowkit
from flowkit.engine import Command, Engine
from flowkit.runtime import Runtime
from flowkit.store import SqliteStore

BRANCHES = 75  # 64 + 8 + 3: every statement size


def _fanout() -> dict[str, Any]:
    return {
        "name": "wide",
        "version": 1,
        "tasks": [
            {"name": "gen", "taskReferenceName": "gen", "inputParameters": {"n": "${workflow.input.n}"}},
            {
                "name": "fork",
                "taskReferenceName": "fork",
                "type": "FORK_JOIN_DYNAMIC",
                "inputParameters": {"forkTaskName": "leaf", "forkTaskInputs": "${gen.output.inputs}"},
            },
            {"name": "join", "taskReferenceName": "join", "type": "JOIN"},
        ],
        "outputParameters": {"joined": "${join.output}"},
    }


def gen(n: int) -> dict[str, Any]:
    return {"inputs": [{"i": i} for i in range(n)]}


def _rows(db: Path) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute("SELECT ref, status, data FROM tasks WHERE ref LIKE '_leaf_%'").fetchall()
    finally:
        con.close()


def test_a_wide_batch_is_written_and_rewritten_row_for_row(tmp_path: Path) -> None:
    db = tmp_path / "wide.db"
    store = SqliteStore(db)
    runtime = Runtime(store=store, workers={"gen": gen}, external=["leaf"], background=False)
    try:
        execution = runtime.start(_fanout(), {"n": BRANCHES})
        assert execution.status == "RUNNING"  # every branch waits for outside completion
        started = _rows(db)
        assert len(started) == BRANCHES
        assert {status for _, status, _ in started} == {"IN_PROGRESS"}

        model = runtime.engine.executions[execution.workflow_id]
        leaves = [t for t in model.tasks if t.ref.startswith("_leaf_")]

        def complete_all(engine: Engine, now: int) -> list[Command]:
            commands: list[Command] = []
            for task in leaves:
                commands += engine.task_updated(task, "COMPLETED", now, output={"y": task.input["i"] * 2})
            return commands

        runtime.operate(complete_all, drive=model)  # one operation: the 75 rows are rewritten in one batch
        assert model.status.value == "COMPLETED"
        ended = _rows(db)
        assert len(ended) == BRANCHES  # upserted over the earlier rows, none added
        assert {status for _, status, _ in ended} == {"COMPLETED"}
        assert all(f'"output":{{"y":{int(ref.rsplit("_", 1)[1]) * 2}}}' in data for ref, _, data in ended)
    finally:
        store.close()

    reader = SqliteStore(db, readonly=True)
    try:
        record = reader.execution(execution.workflow_id)
        assert record is not None
        row, tasks = record
        assert row["status"] == "COMPLETED"
        assert [t["seq"] for t in tasks] == sorted(t["seq"] for t in tasks)
        assert len({t["task_id"] for t in tasks}) == len(tasks) == BRANCHES + 3
    finally:
        reader.close()
    # the ended run as flowkit reads it back: the join's output names every branch
    reopened = flowkit.open(db, workers={"gen": gen}, background=False)
    try:
        again = reopened.load(execution.workflow_id)
        assert again.status == "COMPLETED"
        assert len(again.output["joined"]) == BRANCHES
    finally:
        reopened.close()


def test_a_write_for_one_execution_keeps_the_attempts_of_another_it_holds(tmp_path: Path) -> None:
    """``write([one], tasks)`` whose tasks include an attempt of another execution (written before, not
    in the list): each attempt lands in its own execution's rows."""
    db = tmp_path / "two.db"
    store = SqliteStore(db)
    runtime = Runtime(store=store, workers={"gen": gen}, external=["leaf"], background=False)
    try:
        first, second = (runtime.start(_fanout(), {"n": 2}) for _ in range(2))
        one, other = (runtime.engine.executions[e.workflow_id] for e in (first, second))
        mine = next(t for t in one.tasks if t.ref == "_leaf_0")
        theirs = next(t for t in other.tasks if t.ref == "_leaf_1")
        mine.output, theirs.output = {"mark": 1}, {"mark": 2}
        with store.session():
            store.write([one], [theirs, mine])
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            found = {
                (w, ref): data
                for w, ref, data in con.execute("SELECT workflow_id, ref, data FROM tasks WHERE ref LIKE '_leaf_%'")
            }
        finally:
            con.close()
        assert '"mark":1' in found[(first.workflow_id, "_leaf_0")]
        assert '"mark":2' in found[(second.workflow_id, "_leaf_1")]
        assert '"mark"' not in found[(first.workflow_id, "_leaf_1")] + found[(second.workflow_id, "_leaf_0")]
    finally:
        store.close()
