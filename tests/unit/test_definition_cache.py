"""Reading the same definition dict again costs a fingerprint, not a parse and a validation, and a
dict edited between runs (a notebook cell run again) always runs as edited."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import pytest

import flowkit
from flowkit import DefinitionError, WorkflowDef


def chain(n: int = 3, add: str = "${workflow.input.x}") -> dict[str, Any]:
    tasks = [
        {
            "name": "step",
            "taskReferenceName": f"s{i}",
            "inputParameters": {"x": add if i == 0 else f"${{s{i - 1}.output.x}}"},
        }
        for i in range(n)
    ]
    return {"name": "cached_chain", "version": 1, "tasks": tasks, "outputParameters": {"x": f"${{s{n - 1}.output.x}}"}}


def step(x: int) -> dict[str, int]:
    return {"x": x + 1}


def run(definition: Any, x: int = 0) -> Any:
    return flowkit.run(definition, {"x": x, "y": 100}, workers={"step": step}, executor="inline", store="memory")


def test_an_unchanged_dict_gives_back_the_same_definition() -> None:
    raw = chain()
    first = WorkflowDef.from_json(raw)
    assert WorkflowDef.from_json(raw) is first
    assert WorkflowDef.from_json(chain()) is first  # an equal dict built anew
    assert run(raw).output == {"x": 3}
    assert run(raw).output == {"x": 3}


def test_a_dict_edited_in_place_between_runs_runs_as_edited() -> None:
    raw = chain()
    assert run(raw).output == {"x": 3}
    before = WorkflowDef.from_json(raw)
    raw["tasks"][0]["inputParameters"]["x"] = "${workflow.input.y}"  # a nested edit
    assert run(raw).output == {"x": 103}
    assert before.tasks[0].input_parameters["x"] == "${workflow.input.x}"  # the earlier definition kept its own copy
    raw["tasks"].append({"name": "step", "taskReferenceName": "s3", "inputParameters": {"x": "${s2.output.x}"}})
    raw["outputParameters"]["x"] = "${s3.output.x}"
    edited = run(raw)
    assert edited.output == {"x": 104}
    assert [t.ref for t in edited.tasks] == ["s0", "s1", "s2", "s3"]
    raw["tasks"].pop()
    raw["outputParameters"]["x"] = "${s2.output.x}"
    raw["tasks"][0]["inputParameters"]["x"] = "${workflow.input.x}"  # back to the first content
    assert WorkflowDef.from_json(raw) is before
    assert run(raw).output == {"x": 3}


def test_values_equal_in_python_but_not_in_json_are_told_apart() -> None:
    as_int = chain()
    as_float = chain()
    as_int["tasks"][0]["inputParameters"]["k"] = 1
    as_float["tasks"][0]["inputParameters"]["k"] = 1.0
    as_bool = chain()
    as_bool["tasks"][0]["inputParameters"]["k"] = True
    found = [WorkflowDef.from_json(d).tasks[0].input_parameters["k"] for d in (as_int, as_float, as_bool)]
    assert [type(v) for v in found] == [int, float, bool]


def test_a_definition_with_values_marshal_cannot_fingerprint_still_loads() -> None:
    raw = chain()
    raw["tasks"][0]["inputParameters"] = OrderedDict(x="${workflow.input.x}")
    assert run(raw).output == {"x": 3}
    raw["tasks"][0]["inputParameters"]["x"] = "${workflow.input.y}"
    assert run(raw).output == {"x": 103}


def test_a_broken_definition_is_reported_on_every_call_and_its_fix_is_seen() -> None:
    raw = chain()
    raw["tasks"][1]["taskReferenceName"] = "s0"  # a duplicate ref
    for _ in range(2):
        with pytest.raises(DefinitionError, match="should be unique"):
            run(raw)
    raw["tasks"][1]["taskReferenceName"] = "s1"
    assert run(raw).output == {"x": 3}
    raw["tasks"][1]["optional"] = "yes"  # a structural problem: the reader refuses it
    for _ in range(2):
        with pytest.raises(DefinitionError, match="optional"):
            WorkflowDef.from_json(raw)
