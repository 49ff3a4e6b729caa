"""The engine's compiled task inputs give what the general expression resolver gives over the same
execution: plain paths are read straight from the state, everything else goes the general way."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowkit import WorkflowDef
from flowkit.engine import Dispatch, Engine
from flowkit.engine._execution_plan import compile_input
from flowkit.expressions import compile_value

DEFINITION = {
    "name": "inputs",
    "version": 1,
    "variables": {"v": {"deep": [1, {"x": 2}]}},
    "tasks": [
        {"name": "a", "taskReferenceName": "a", "inputParameters": {"n": "${workflow.input.n}"}},
        {"name": "b", "taskReferenceName": "b", "inputParameters": {"from_a": "${a.output}"}},
    ],
}
OUTPUT = {"x": 1, "items": [10, {"k": "v"}, None], "map": {"a": {"b": [1, 2]}}, "none": None, "s": "text"}


def execution() -> Any:
    """An execution where task ``a`` completed with :data:`OUTPUT` and ``b`` is scheduled."""
    ids = itertools.count()
    engine = Engine(new_id=lambda: f"id{next(ids)}")
    wf, commands = engine.start(WorkflowDef.from_json(DEFINITION), {"n": 5, "list": [1, [2, 3]], "m": {"q": 1}}, now=1)
    (first,) = [c.task for c in commands if type(c) is Dispatch]
    engine.task_started(first, 2)
    engine.task_updated(first, "COMPLETED", 3, output=OUTPUT)
    return wf


PATHS = [
    "${a.output}",
    "${a.output.x}",
    "${a.output.items[1].k}",
    "${a.output.items[5]}",
    "${a.output.map.a.b[1]}",
    "${a.output.none}",
    "${a.output.missing.deeper}",
    "${a.output.s.length}",
    "${a.input}",
    "${a.input.n}",
    "${a.status}",
    "${a.taskId}",
    "${b.input.from_a.x}",
    "${nobody.output.x}",
    "${nobody.output}",
    "${workflow.input}",
    "${workflow.input.n}",
    "${workflow.input.list[1][0]}",
    "${workflow.input.m}",
    "${workflow.variables.v.deep[1].x}",
    "${workflow.output}",
    "${workflow.workflowId}",
    "${workflow.status}",
    "${ a.output.x }",
    "${$.a.output.x}",
    "${a.output['x']}",
    "${a.output.items[*]}",
    "${CPEWF_TASK_ID}",
    "${workflow.secrets.token}",
    "$${a.output.x}",
    "x ${a.output.x} y",
    "${a.output.${a.output.s}}",
    "${a.output.x}${a.output.x}",
    "plain",
    "$5",
    "",
    7,
    2.5,
    True,
    None,
    ["${a.output.x}", 1, {"k": "${workflow.input.n}"}],
    {"nested": "${a.output.map}"},
    {"n": 1},
]


@pytest.mark.parametrize("copy", [True, False])
@pytest.mark.parametrize("value", PATHS, ids=repr)
def test_each_kind_of_value_resolves_as_the_general_resolver_does(value: Any, copy: bool) -> None:
    wf = execution()
    params = {"p": value}
    fast = compile_input(params, copy=copy)(wf.doc, "tid")
    general = compile_value(params, copy=copy)(wf.doc, "tid")
    assert fast == general
    assert [type(v) for v in fast.values()] == [type(v) for v in general.values()]


def test_copies_are_copies_and_shared_reads_are_shared() -> None:
    wf = execution()
    task = wf.refs["a"]
    copied = compile_input({"m": "${a.output.map}", "i": "${a.output.items}"})(wf.doc, None)
    assert copied["m"] == OUTPUT["map"] and copied["m"] is not task.output["map"]
    copied["m"]["a"]["b"].append(3)
    assert task.output["map"] == {"a": {"b": [1, 2]}}  # the worker's recorded output did not change
    shared = compile_input({"m": "${a.output.map}"}, copy=False)(wf.doc, None)
    assert shared["m"] is task.output["map"]


def test_a_plain_mapping_root_uses_the_general_resolver() -> None:
    root = {"a": {"output": {"x": 1}}, "workflow": {"input": {"n": 2}}}
    resolve = compile_input({"x": "${a.output.x}", "n": "${workflow.input.n}", "k": 3})
    assert resolve(root, None) == {"x": 1, "n": 2, "k": 3}


KEYS = st.sampled_from(["x", "items", "map", "none", "s", "a", "b", "k", "q", "n", "list", "m", "v", "deep"])
STEP = KEYS | st.integers(0, 3)


@settings(max_examples=300, deadline=None)
@given(
    root=st.sampled_from(["a.output", "a.input", "b.input", "workflow.input", "workflow.variables", "zz.output"]),
    steps=st.lists(STEP, max_size=4),
)
def test_random_plain_paths_match_the_general_resolver(root: str, steps: list[Any]) -> None:
    wf = execution()
    path = root + "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in steps)
    params = {"p": "${" + path + "}"}
    assert compile_input(params)(wf.doc, None) == compile_value(params)(wf.doc, None)
