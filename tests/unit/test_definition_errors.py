"""Definitions built in Python with wrong types, and cycles of sub-workflows: a DefinitionError (or a
failed task with the cycle named, when only the run can see it), never a raw Python exception."""

from __future__ import annotations

import math
from typing import Any

import pytest

import flowkit
from flowkit import DefinitionError, TaskDef, WorkflowDef, WorkflowTask


def simple(ref: str = "a", **fields: Any) -> WorkflowTask:
    return WorkflowTask(name="a", task_reference_name=ref, **fields)


@pytest.mark.parametrize(
    ("task", "words"),
    [
        (WorkflowTask(name="a", task_reference_name=["x"]), "taskReferenceName"),  # type: ignore[arg-type]
        (WorkflowTask(name=3, task_reference_name="a"), "'name'"),  # type: ignore[arg-type]
        (simple(type="SWITCH", evaluator_type="javascript", expression=["$.x"]), "'expression'"),  # type: ignore[arg-type]
        (simple(type="DO_WHILE", loop_condition=3, loop_over=(simple("b"),)), "'loopCondition'"),  # type: ignore[arg-type]
        (simple(start_delay=math.nan), "'startDelay'"),
        (simple(retry_count=10**30), "out of range"),
        (simple(input_parameters={"x": math.inf}), "inf"),
        (simple(fork_tasks=({"name": "not a task"},)), "'forkTasks'"),  # type: ignore[arg-type]
        (simple(task_definition=TaskDef(name="a", retry_count="3")), "'retryCount'"),  # type: ignore[arg-type]
    ],
)
def test_python_built_definitions_with_wrong_types_are_definition_errors(task: WorkflowTask, words: str) -> None:
    wf = WorkflowDef(name="py", tasks=(task,))
    with pytest.raises(DefinitionError) as info:
        wf.validate()
    assert words in str(info.value)


def test_registered_task_definitions_with_wrong_types_are_definition_errors() -> None:
    wf = WorkflowDef(name="py", tasks=(simple(),))
    with pytest.raises(DefinitionError, match="task definition 'a' field 'timeoutSeconds'"):
        wf.validate(task_defs={"a": TaskDef(name="a", timeout_seconds=math.inf)})  # type: ignore[arg-type]


def sub(ref: str, name: str, version: int | None = None) -> dict[str, Any]:
    param: dict[str, Any] = {"name": name} if version is None else {"name": name, "version": version}
    return {"name": ref, "taskReferenceName": ref, "type": "SUB_WORKFLOW", "subWorkflowParam": param}


def test_a_cycle_through_registered_workflows_is_named_at_validation() -> None:
    a = WorkflowDef.from_json({"name": "A", "tasks": [sub("to_b", "B")]})
    b = WorkflowDef.from_json({"name": "B", "tasks": [{"name": "x", "taskReferenceName": "x"}, sub("to_c", "C")]})
    c = WorkflowDef.from_json({"name": "C", "tasks": [sub("back", "A", 1)]})
    with pytest.raises(DefinitionError) as info:
        a.validate(workflows=[a, b, c])
    assert info.value.task_ref_names == ("to_b",)
    assert "'A' v1 -> 'B' v1 -> 'C' v1 -> 'A' v1" in str(info.value)
    a.validate(workflows=[a, b])  # without C the chain ends (the run fails that task: no such workflow)
    # a different version is a different workflow: no cycle
    WorkflowDef.from_json({"name": "A", "version": 2, "tasks": [sub("old", "A", 1)]}).validate(
        workflows=[WorkflowDef.from_json({"name": "A", "tasks": [{"name": "x", "taskReferenceName": "x"}]})]
    )


def test_a_cycle_only_the_run_can_see_fails_the_task_with_the_cycle_named() -> None:
    # the name comes from the input and the child gets the same input: it would repeat for ever
    loop = WorkflowDef.from_json(
        {
            "name": "P",
            "tasks": [
                {
                    "name": "again",
                    "taskReferenceName": "again",
                    "type": "SUB_WORKFLOW",
                    "inputParameters": {"next": "${workflow.input.next}"},
                    "subWorkflowParam": {"name": "${workflow.input.next}"},
                }
            ],
        }
    )
    ex = flowkit.run(loop, {"next": "P"}, workflows=[loop], executor="inline", store="memory")
    assert ex.status == "FAILED"
    assert "sub-workflow cycle: 'P' v1 -> 'P' v1" in ex.reason


def test_a_workflow_may_start_itself_when_its_input_changes() -> None:
    # Conductor allows recursion by name: here the input counts down and the last level ends it
    countdown = WorkflowDef.from_json(
        {
            "name": "countdown",
            "tasks": [
                {
                    "name": "check",
                    "taskReferenceName": "check",
                    "type": "SWITCH",
                    "evaluatorType": "javascript",
                    "expression": "$.n > 0 ? 'more' : 'done'",
                    "inputParameters": {"n": "${workflow.input.n}"},
                    "decisionCases": {
                        "more": [
                            {
                                "name": "inner",
                                "taskReferenceName": "inner",
                                "type": "INLINE",
                                "inputParameters": {
                                    "evaluatorType": "javascript",
                                    "expression": "$.n - 1",
                                    "n": "${workflow.input.n}",
                                },
                            },
                            {
                                "name": "again",
                                "taskReferenceName": "again",
                                "type": "SUB_WORKFLOW",
                                "inputParameters": {"n": "${inner.output.result}"},
                                "subWorkflowParam": {"name": "countdown"},
                            },
                        ]
                    },
                }
            ],
        }
    )
    ex = flowkit.run(countdown, {"n": 3}, workflows=[countdown], executor="inline", store="memory", validate=False)
    assert ex.status == "COMPLETED", ex.reason
