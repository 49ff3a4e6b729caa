"""``flowkit.run(dict, ...)`` run again and again: what is reused between calls, and what must not be.

A definition dict is parsed once per content (tests below change the dict between runs and check
the change is seen, and that a run never sees a later change), and the store writes a definition's
row only when its text changed.
"""

import sqlite3
from pathlib import Path

import pytest

import flowkit
from flowkit.store import SCHEMA_VERSION, SqliteStore


def step(x: int) -> dict:
    return {"x": x + 1}


def chain() -> dict:
    return {
        "name": "reuse",
        "version": 1,
        "tasks": [{"name": "step", "taskReferenceName": "s0", "inputParameters": {"x": "${workflow.input.x}"}}],
        "outputParameters": {"x": "${s0.output.x}"},
    }


def test_a_changed_dict_is_run_as_changed_and_a_run_never_sees_a_later_change(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    wf = chain()
    first = flowkit.run(wf, {"x": 1}, workers={"step": step}, store=store)
    assert first.output == {"x": 2}
    wf["tasks"][0]["inputParameters"]["x"] = 10  # the caller changes its dict in place
    wf["outputParameters"]["y"] = "${s0.output.x}"
    second = flowkit.run(wf, {"x": 1}, workers={"step": step}, store=store)
    assert second.output == {"x": 11, "y": 11}
    assert first.model.definition.tasks[0].input_parameters == {
        "x": "${workflow.input.x}"
    }  # the first run kept its own
    wf["tasks"][0]["inputParameters"]["x"] = "${workflow.input.x}"
    assert flowkit.run(wf, {"x": 5}, workers={"step": step}, store=store).output == {"x": 6, "y": 6}
    store.close()


def test_the_same_content_is_validated_again_for_other_task_defs_or_workflows() -> None:
    wf = chain()
    assert flowkit.run(wf, {"x": 1}, workers={"step": step}, store="memory").output == {"x": 2}
    bad_limit = {"name": "step", "retryCount": -1}  # a task definition that fails validation
    with pytest.raises(flowkit.DefinitionError):
        flowkit.run(wf, {"x": 1}, workers={"step": step}, store="memory", task_defs=[bad_limit])


def test_a_broken_dict_raises_every_time_and_its_fix_runs() -> None:
    broken = {"name": "broken", "version": 1, "tasks": [{"name": "step"}]}  # no taskReferenceName
    for _ in range(2):
        with pytest.raises(flowkit.DefinitionError):
            flowkit.run(broken, {}, workers={"step": step}, store="memory")
    broken["tasks"][0].update(taskReferenceName="step_ref", inputParameters={"x": 1})
    assert flowkit.run(broken, {}, workers={"step": step}, store="memory").status == "COMPLETED"


def test_a_definition_row_is_written_again_only_when_it_changed(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SqliteStore(path)
    wf = chain()
    for _ in range(3):
        flowkit.run(wf, {"x": 1}, workers={"step": step}, store=store)
    with store.session():
        store.conn.execute("UPDATE workflow_defs SET json='{}' WHERE name='reuse'")  # marks the row
    flowkit.run(wf, {"x": 1}, workers={"step": step}, store=store)
    assert sqlite3.connect(path).execute("SELECT json FROM workflow_defs").fetchone()[0] == "{}"  # not rewritten
    wf["description"] = "changed"
    flowkit.run(wf, {"x": 1}, workers={"step": step}, store=store)
    (stored,) = SqliteStore(path, readonly=True).workflow_defs()
    assert stored.description == "changed"
    assert [(d.name, d.version) for d in store.workflow_defs()] == [("reuse", 1)]
    store.close()


def test_a_new_store_file_is_a_wal_store_with_normal_sync(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "new.db")
    with store.session():
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL, after creating it with OFF
        assert (
            store.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0]
            == str(SCHEMA_VERSION)
            == "5"
        )
    store.close()
    again = SqliteStore(tmp_path / "new.db")
    with again.session():
        assert again.conn.execute("PRAGMA synchronous").fetchone()[0] == 1
    again.close()


def test_a_restart_rewrites_the_execution_row_with_its_new_start_and_correlation(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    calls: list[int] = []

    def flaky(x: int) -> dict:
        calls.append(x)
        if len(calls) == 1:
            raise RuntimeError("first call fails")
        return {"x": x + 1}

    no_retry = [{"name": "step", "retryCount": 0}]
    ex = flowkit.run(chain(), {"x": 1}, workers={"step": flaky}, store=path, correlation_id="c1", task_defs=no_retry)
    assert str(ex.status) == "FAILED"
    (before,) = SqliteStore(path, readonly=True).execution_rows()
    ex.rerun(correlation_id="c2")
    assert str(ex.status) == "COMPLETED"
    (after,) = SqliteStore(path, readonly=True).execution_rows()
    assert (after["status"], after["correlation_id"]) == ("COMPLETED", "c2")
    assert after["created"] >= before["created"]
    assert [r["workflow_id"] for r in SqliteStore(path, readonly=True).execution_rows(correlation_id="c2")] == [
        ex.workflow_id
    ]
