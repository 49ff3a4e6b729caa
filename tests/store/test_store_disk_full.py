"""A store whose disk fills up: the run stops with a StoreError that says the disk is full, names the
file and what to do, and the store keeps everything recorded before (flowkit.open carries on).

The full disk is real SQLite behaviour without root tricks: ``PRAGMA max_page_count`` caps the
database file, and SQLite then answers writes with SQLITE_FULL exactly as on a full filesystem.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

import flowkit
from flowkit import StoreError
from flowkit.store import SqliteStore

WF = {
    "name": "fills",
    "version": 1,
    "tasks": [
        {"name": "small", "taskReferenceName": "small"},
        {"name": "big", "taskReferenceName": "big", "inputParameters": {"n": "${workflow.input.n}"}},
    ],
    "outputParameters": {"size": "${big.output.size}"},
}


def small() -> dict[str, Any]:
    return {"ok": True}


def big(n: int) -> dict[str, Any]:
    return {"blob": "x" * n, "size": n}


WORKERS = {"small": small, "big": big}


def capped_store(path: Path, spare_pages: int) -> SqliteStore:
    store = SqliteStore(path)
    with store.session():
        pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
        store.conn.execute(f"PRAGMA max_page_count = {pages + spare_pages}")
    return store


def test_a_full_disk_is_a_store_error_that_says_so_and_what_to_do(tmp_path: Path) -> None:
    db = tmp_path / "full.db"
    store = capped_store(db, spare_pages=40)  # room for a small run, not for a 2 MB output
    try:
        done = flowkit.run(WF, {"n": 10}, workers=WORKERS, store=store, executor="inline")
        assert done.status == "COMPLETED"
        with pytest.raises(StoreError) as info:
            flowkit.run(WF, {"n": 2_000_000}, workers=WORKERS, store=store, executor="inline")
    finally:
        store.close()
    text = str(info.value)
    assert "disk is full" in text and str(db) in text
    assert "database or disk is full" in text  # SQLite's own words, for a search
    assert "MiB free" in text and "Fix: free space" in text and "flowkit.open" in text
    assert "\n" not in text

    # what was recorded before the full disk is intact and readable
    reader = SqliteStore(db, readonly=True)
    try:
        record = reader.execution(done.workflow_id)
        assert record is not None and record[0]["status"] == "COMPLETED"
        assert reader.execution_rows(name="fills", status=["COMPLETED"])
    finally:
        reader.close()


def test_registering_definitions_on_a_full_disk_is_a_store_error(tmp_path: Path) -> None:
    store = capped_store(tmp_path / "defs.db", spare_pages=0)
    try:
        huge = {**WF, "name": "huge", "description": "d" * 500_000}
        with pytest.raises(StoreError, match="disk is full") as info:
            flowkit.run(huge, {"n": 1}, workers=WORKERS, store=store, executor="inline")
        assert "Fix: free space" in str(info.value)
    finally:
        store.close()


def test_a_write_that_failed_is_written_whole_once_there_is_room_again(tmp_path: Path) -> None:
    """The batch a full disk refused is not dropped: wait() raises the StoreError (the background
    thread stops, the run stays as it is in memory), and the next write carries all of the refused
    batch, so the store never holds a later state with an attempt left behind (a COMPLETED run whose
    last task still says SCHEDULED)."""
    db = tmp_path / "room.db"
    waits = {
        **WF,
        "tasks": [WF["tasks"][0], {"name": "ok", "taskReferenceName": "ok", "type": "HUMAN"}, WF["tasks"][1]],
    }
    store = SqliteStore(db)
    ex = flowkit.start(waits, {"n": 2_000_000}, workers=WORKERS, store=store)
    deadline = time.monotonic() + 30
    while not any(t.ref == "ok" and t.status == "IN_PROGRESS" for t in ex.tasks):
        assert time.monotonic() < deadline, "the run did not reach its HUMAN task"
        time.sleep(0.005)
    ex.runtime.flush()
    with store.session():
        pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
        store.conn.execute(f"PRAGMA max_page_count = {pages + 40}")  # no room for big's 2 MB output
    with pytest.raises(StoreError, match="disk is full"):
        ex.complete_task("ok").wait(10)
    reader = SqliteStore(db, readonly=True)
    before = reader.execution(ex.workflow_id)
    assert before is not None and before[0]["status"] == "RUNNING"  # the refused batch left nothing
    assert [(t["ref"], t["status"]) for t in before[1]] == [
        ("small", "COMPLETED"),
        ("ok", "COMPLETED"),  # the operation was written before big started
        ("big", "SCHEDULED"),
    ]

    with store.session():
        store.conn.execute("PRAGMA max_page_count = 1073741823")  # room again
    ex.runtime.flush()  # the refused batch, whole
    ex.runtime.close()
    after = reader.execution(ex.workflow_id)
    reader.close()
    store.close()
    assert after is not None and after[0]["status"] == "COMPLETED"
    assert [(t["ref"], t["status"]) for t in after[1]] == [
        ("small", "COMPLETED"),
        ("ok", "COMPLETED"),
        ("big", "COMPLETED"),
    ]
