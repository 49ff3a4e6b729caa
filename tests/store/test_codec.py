"""The store's JSON encoding (``flowkit.store._codec.dumps``): orjson, with json's answers where orjson refuses."""

from __future__ import annotations

import dataclasses
import datetime
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

import flowkit
from flowkit.store import SqliteStore
from flowkit.store._codec import dumps


@dataclasses.dataclass
class Point:
    x: int


class Money(float):
    pass


@pytest.mark.parametrize(
    "value",
    [
        {"a": [1, 2.5, None, True], "b": {"c": "é ☃"}},
        {1: "int key", None: "none key"},  # orjson refuses keys that are not strings
        {"big": 2**70, "neg": -(2**65)},  # beyond 64 bits
        {"s": "\ud800"},  # a lone surrogate
        (1, (2, 3)),
    ],
)
def test_what_json_can_write_reads_back_as_json_wrote_it(value: Any) -> None:
    assert json.loads(dumps(value)) == json.loads(json.dumps(value, default=str))


def test_values_json_cannot_hold_are_written_as_their_str_and_float_subclasses_as_numbers() -> None:
    when = datetime.datetime(2026, 1, 2, 3, 4, 5)
    ident = uuid.UUID(int=7)
    out = json.loads(dumps({"when": when, "day": when.date(), "p": Point(1), "id": ident, "m": Money(2.5), "s": {3}}))
    assert out == {
        "when": str(when),
        "day": str(when.date()),
        "p": str(Point(1)),
        "id": str(ident),
        "m": 2.5,
        "s": "{3}",
    }


def test_deep_nesting_past_orjsons_limit_is_written_by_json() -> None:
    deep: Any = 1
    for _ in range(400):
        deep = [deep]
    assert dumps(deep) == "[" * 400 + "1" + "]" * 400


def test_a_cycle_is_named() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        dumps(loop)


def test_a_task_output_with_big_ints_and_a_lone_surrogate_is_stored_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    wf = {"name": "w", "tasks": [{"name": "t", "taskReferenceName": "t"}]}
    ex = flowkit.run(wf, {}, workers={"t": lambda: {"n": {"k": 2**70, "s": "\ud800"}}}, store=path, executor="inline")
    assert ex.status == "COMPLETED"
    store = SqliteStore(path, readonly=True)
    found = store.execution(ex.workflow_id)
    store.close()
    assert found is not None
    (task,) = found[1]
    assert json.loads(task["data"])["output"] == {"n": {"k": 2**70, "s": "\ud800"}}


def test_a_response_timeout_comes_back_as_it_ran_though_the_task_definitions_changed(tmp_path: Path) -> None:
    """A record leaves out Conductor's default (3600 s) and keeps any other: the definitions at restore don't matter."""
    path = tmp_path / "timeouts.db"
    wf = {
        "name": "timeouts",
        "version": 1,
        "tasks": [
            {"name": "plain", "taskReferenceName": "plain"},
            {"name": "quick", "taskReferenceName": "quick"},
        ],
    }
    workers = {"plain": lambda: {"a": 1}, "quick": lambda: {"b": 2}}
    ex = flowkit.run(
        wf,
        {},
        workers=workers,
        store=path,
        executor="inline",
        task_defs=[{"name": "quick", "responseTimeoutSeconds": 120}],
    )
    assert [t.response_timeout_seconds for t in ex.tasks] == [3600, 120]
    stored = [json.loads(r["data"]) for r in SqliteStore(path, readonly=True).execution(ex.workflow_id)[1]]
    assert "responseTimeoutSeconds" not in stored[0] and stored[1]["responseTimeoutSeconds"] == 120
    changed = [{"name": "plain", "responseTimeoutSeconds": 30}, {"name": "quick", "responseTimeoutSeconds": 30}]
    runtime = flowkit.open(path, background=False, task_defs=changed)
    try:
        back = runtime.load(ex.workflow_id)
        assert [t.response_timeout_seconds for t in back.tasks] == [3600, 120]
        assert [t["responseTimeoutSeconds"] for t in back.to_json()["tasks"]] == [3600, 120]
    finally:
        runtime.close()
