"""What flowkit records cannot change afterwards: a worker's output and the workflow input are copied
where they enter, as Conductor's JSON serialisation fixes them, so neither the worker's code nor the
caller can change a recorded value later (not even in the SQLite store of an inline run)."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import flowkit
from flowkit.store import SqliteStore
from flowkit.workers._record import record_output, sole_refs

WF = {
    "name": "recorded",
    "version": 1,
    "tasks": [
        {"name": "make", "taskReferenceName": "make", "inputParameters": {"n": "${workflow.input.deep.n}"}},
        {"name": "later", "taskReferenceName": "later", "inputParameters": {"made": "${make.output}"}},
        {"name": "read", "taskReferenceName": "read", "inputParameters": {"deep": "${workflow.input.deep}"}},
    ],
    "outputParameters": {"made": "${make.output}", "input": "${workflow.input}", "read": "${read.output}"},
}
MADE = {"nested": {"items": [1, 2], "n": 5}, "tags": ["a"], "pairs": [[1, {"k": "v"}]]}
INPUT = {"deep": {"list": [1], "n": 5}}


class Workers:
    """Workers that keep what they returned (and what the caller passed) and change it afterwards."""

    def __init__(self, given_input: dict[str, Any], gate: threading.Event | None = None) -> None:
        self.kept: dict[str, Any] = {}
        self.given_input = given_input
        self.gate = gate

    def make(self, n: int) -> dict[str, Any]:
        out = {"nested": {"items": [1, 2], "n": n}, "tags": ["a"], "pairs": [(1, {"k": "v"})]}
        self.kept["made"] = out
        return out

    def later(self, made: dict[str, Any]) -> dict[str, Any]:
        if self.gate is not None:
            assert self.gate.wait(10), "the test did not open the gate"
        kept = self.kept["made"]  # the very dict `make` returned: change every level of it
        kept["nested"]["items"].append("changed by the worker later")
        kept["nested"]["n"] = -1
        kept["tags"].clear()
        kept["pairs"][0][1]["k"] = "changed"
        kept["new"] = True
        return {"ok": True}

    def read(self, deep: dict[str, Any]) -> dict[str, Any]:
        return {"deep": deep}

    def mapping(self) -> dict[str, Any]:
        return {"make": self.make, "later": self.later, "read": self.read}


def change_input(given: dict[str, Any]) -> None:
    given["deep"]["list"].append("changed by the caller")
    given["deep"]["n"] = 99
    given["extra"] = 1


def assert_original(output: dict[str, Any], tasks: dict[str, dict[str, Any]], workflow_input: dict[str, Any]) -> None:
    assert output["made"] == MADE
    assert tasks["make"] == MADE
    assert output["input"] == INPUT == workflow_input
    assert output["read"] == {"deep": INPUT["deep"]}


@pytest.mark.parametrize("executor", ["inline", "threads"])
def test_a_workers_later_changes_and_the_callers_do_not_reach_the_execution_or_the_store(
    tmp_path: Path, executor: str
) -> None:
    db = tmp_path / "recorded.db"
    given = json.loads(json.dumps(INPUT))
    workers = Workers(given)
    ex = flowkit.run(WF, given, workers=workers.mapping(), executor=executor, store=db)
    assert ex.status == "COMPLETED", ex.reason
    change_input(given)  # after the run: the caller's dict is still the one it passed
    workers.kept["made"]["nested"]["items"].append("and again after the run")

    by_ref = {t.ref: t.output for t in ex.tasks}
    assert_original(ex.output, by_ref, ex.input)
    assert by_ref["later"] == {"ok": True}
    assert ex.to_json()["tasks"][0]["outputData"] == MADE

    store = SqliteStore(db, readonly=True)
    try:
        record = store.execution(ex.workflow_id)
        assert record is not None
        row, rows = record
        data = json.loads(row["data"])
        stored = {r["ref"]: json.loads(r["data"])["output"] for r in rows}
        assert_original(data["output"], stored, data["input"])
    finally:
        store.close()


def test_the_input_a_caller_changes_after_start_is_not_what_the_run_reads() -> None:
    gate = threading.Event()
    given = json.loads(json.dumps(INPUT))
    workers = Workers(given, gate)
    ex = flowkit.start(WF, given, workers=workers.mapping(), store="memory")
    change_input(given)  # while `later` waits: `read` has not resolved its input yet
    gate.set()
    ex.wait(timeout=30)
    assert ex.status == "COMPLETED", ex.reason
    by_ref = {t.ref: t.output for t in ex.tasks}
    assert_original(ex.output, by_ref, ex.input)


def test_outputs_are_copied_as_json_would_make_them() -> None:
    class Tagged(dict):  # type: ignore[type-arg]
        pass

    source = {"t": (1, [2]), "d": Tagged(a=[1]), "s": "x", "f": 1.5, "none": None}
    copied, problem = record_output(source, lambda value, path: "unused")
    assert problem is None
    assert copied == {"t": [1, [2]], "d": {"a": [1]}, "s": "x", "f": 1.5, "none": None}
    assert type(copied["t"]) is list and type(copied["d"]) is dict
    assert copied["d"]["a"] is not source["d"]["a"] and copied["t"][1] is not source["t"][1]

    looped: dict[str, Any] = {"a": []}
    looped["a"].append(looped)
    _, problem = record_output(looped, lambda value, path: None)
    assert problem == "output contains itself or nests too deeply"


def test_an_output_a_worker_cannot_store_still_fails_the_task_clearly() -> None:
    def bad() -> dict[str, Any]:
        return {"ok": [1, {"path": Path("/tmp")}]}

    wf = {"name": "bad_output", "tasks": [{"name": "bad", "taskReferenceName": "bad"}]}
    ex = flowkit.run(wf, {}, workers={"bad": bad}, executor="inline", store="memory")
    assert ex.status == "FAILED"
    assert "output.ok[1].path is a pathlib" in ex.tasks[0].reason


def test_what_a_worker_built_only_to_return_is_kept_and_what_it_shares_is_copied() -> None:
    seen: dict[str, int] = {}
    constant = {"y": 1}
    kept_inner = {"k": "v"}

    def fresh() -> dict[str, Any]:
        items = [{"i": i} for i in range(3)]
        out = {"items": items, "kept": [kept_inner], "pair": (1, [2])}
        seen.update(out=id(out), items=id(items), item0=id(items[0]), kept=id(out["kept"]))
        return out

    def flat() -> dict[str, Any]:
        out = {"y": 2}
        seen["flat"] = id(out)
        return out

    def shared() -> dict[str, Any]:
        return constant

    wf = {
        "name": "owned_outputs",
        "tasks": [
            {"name": "fresh", "taskReferenceName": "fresh"},
            {"name": "flat", "taskReferenceName": "flat"},
            {"name": "shared", "taskReferenceName": "shared"},
        ],
    }
    ex = flowkit.run(
        wf, {}, workers={"fresh": fresh, "flat": flat, "shared": shared}, executor="inline", store="memory"
    )
    assert ex.status == "COMPLETED", ex.reason
    out = {t.ref: t.output for t in ex.tasks}
    # A copy is made while its original is alive, so it never has the original's id: equal ids mean kept.
    ids = [id(out["fresh"]), id(out["fresh"]["items"]), id(out["fresh"]["items"][0]), id(out["fresh"]["kept"])]
    ids.append(id(out["flat"]))
    originals = [seen["out"], seen["items"], seen["item0"], seen["kept"], seen["flat"]]
    if sole_refs is sys.getrefcount:  # CPython up to 3.13: reference counts tell what no one else holds
        assert ids == originals
    else:  # elsewhere everything is copied
        assert not set(ids) & set(originals)
    # what the worker still holds is copied, and converted as JSON would make it
    assert out["fresh"]["kept"][0] == {"k": "v"} and out["fresh"]["kept"][0] is not kept_inner
    assert out["fresh"]["pair"] == [1, [2]] and type(out["fresh"]["pair"]) is list
    assert out["shared"] == {"y": 1} and out["shared"] is not constant
    kept_inner["k"] = "changed later"
    constant["y"] = -1
    assert out["fresh"]["kept"][0] == {"k": "v"} and out["shared"] == {"y": 1}


def test_an_owned_output_copies_what_others_hold_and_still_reports_what_json_cannot_hold() -> None:
    held = [1, {"deep": [2]}]
    source = {"held": held, "mine": [[3], {"x": (4,)}]}
    copied, problem = record_output(source, lambda value, path: "unused", owned=True)
    assert problem is None and copied is source
    assert copied["held"] == [1, {"deep": [2]}] and copied["held"] is not held and copied["held"][1] is not held[1]
    assert copied["mine"] == [[3], {"x": [4]}] and type(copied["mine"][1]["x"]) is list

    looped: dict[str, Any] = {"a": []}
    looped["a"].append(looped)
    _, problem = record_output(looped, lambda value, path: None, owned=True)
    assert problem == "output contains itself or nests too deeply"
    _, problem = record_output({"a": [{1: "int key"}]}, lambda value, path: "a[0] has a non-string key", owned=True)
    assert problem == "a[0] has a non-string key"
