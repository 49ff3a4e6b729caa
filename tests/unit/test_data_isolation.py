"""Data handed to workers is theirs: changing it never reaches another task's recorded output.

The engine shares values between tasks where only its own handlers read them (a dynamic fork's task
list, a JOIN, the workflow output); these tests pin down that a worker still gets its own copy.
"""

import dataclasses
from typing import Any

import flowkit

FORK = {
    "name": "isolation",
    "version": 1,
    "tasks": [
        {"name": "gen", "taskReferenceName": "gen"},
        {
            "name": "fork",
            "taskReferenceName": "fork",
            "type": "FORK_JOIN_DYNAMIC",
            "inputParameters": {"tasks": "${gen.output.tasks}", "inputs": "${gen.output.inputs}"},
            "dynamicForkTasksParam": "tasks",
            "dynamicForkTasksInputParamName": "inputs",
        },
        {"name": "join", "taskReferenceName": "join", "type": "JOIN"},
        {"name": "after", "taskReferenceName": "after", "inputParameters": {"joined": "${join.output}"}},
    ],
    "outputParameters": {"joined": "${join.output}", "gen": "${gen.output}"},
}


def gen() -> dict:
    return {
        "tasks": [{"name": "leaf", "taskReferenceName": f"leaf_{i}"} for i in range(3)],
        "inputs": {f"leaf_{i}": {"item": {"tags": ["a"], "i": i}} for i in range(3)},
    }


def leaf(item: dict) -> dict:
    item["tags"].append("changed by the worker")  # a worker that changes its input in place
    item["i"] = -1
    return {"i": item["i"], "tags": item["tags"]}


def after(joined: dict) -> dict:
    joined["leaf_0"]["i"] = "changed by after"
    joined.clear()
    return {"seen": True}


def test_a_worker_changing_its_input_changes_no_other_task_or_the_generators_output():
    ex = flowkit.run(FORK, {}, workers={"gen": gen, "leaf": leaf, "after": after}, store="memory")
    assert ex.status == "COMPLETED", ex.reason
    by_ref = {t.ref: t for t in ex.tasks}
    # the generator's output is as it returned it
    assert by_ref["gen"].output["inputs"]["leaf_1"] == {"item": {"tags": ["a"], "i": 1}}
    # each leaf's recorded input is what it was given, not what the worker made of it
    assert by_ref["leaf_2"].input["item"] == {"tags": ["a"], "i": 2}
    # the fork task's input still lists what it forked
    assert [t["taskReferenceName"] for t in by_ref["fork"].input["tasks"]] == ["leaf_0", "leaf_1", "leaf_2"]
    # `after` emptied its copy of the join output: the JOIN's output and the workflow output are intact
    assert by_ref["join"].output["leaf_0"] == {"i": -1, "tags": ["a", "changed by the worker"]}
    assert set(ex.output["joined"]) == {"leaf_0", "leaf_1", "leaf_2"}
    assert ex.output["gen"]["inputs"]["leaf_0"]["item"]["i"] == 0


def test_execution_json_shows_each_task_as_it_ended():
    ex = flowkit.run(FORK, {}, workers={"gen": gen, "leaf": leaf, "after": after}, store="memory")
    doc = ex.to_json()
    tasks = {t["referenceTaskName"]: t for t in doc["tasks"]}
    assert tasks["leaf_0"]["inputData"]["item"] == {"tags": ["a"], "i": 0}
    assert tasks["leaf_0"]["outputData"] == {"i": -1, "tags": ["a", "changed by the worker"]}
    assert tasks["after"]["inputData"]["joined"]["leaf_0"]["i"] == -1
    assert doc["output"]["joined"]["leaf_2"]["i"] == -1


CHAIN = {
    "name": "isolation_forms",
    "version": 1,
    "tasks": [
        {"name": "first", "taskReferenceName": "first", "inputParameters": {"doc": "${workflow.input.doc}"}},
        {"name": "second", "taskReferenceName": "second", "inputParameters": {"doc": "${workflow.input.doc}"}},
    ],
}


@dataclasses.dataclass
class Doc:
    tags: list[str]
    n: int


def test_every_binding_form_gets_its_own_copy_of_the_input():
    """By name and ``**kwargs`` (the worker copies what it binds), a dataclass, and the Task itself (the runner copies)."""

    def by_kwargs(**kw: Any) -> dict:
        kw["doc"]["tags"].append("kwargs")
        return {}

    def by_dataclass(doc: Doc) -> dict:
        doc.tags.append("dataclass")
        return {}

    def by_task(task: flowkit.Task) -> dict:
        task.input_data["doc"]["tags"].append("task")
        return {}

    doc = {"tags": ["a"], "n": 1}
    for first, second in ((by_kwargs, by_dataclass), (by_task, by_kwargs)):
        ex = flowkit.run(CHAIN, {"doc": doc}, workers={"first": first, "second": second}, store="memory")
        assert ex.status == "COMPLETED", ex.reason
        assert [t.input["doc"] for t in ex.tasks] == [{"tags": ["a"], "n": 1}] * 2
        assert ex.input["doc"] == {"tags": ["a"], "n": 1}
    assert doc == {"tags": ["a"], "n": 1}
