"""JSON written by Conductor's own tooling (the Python SDK's serialisation, server exports) loads and runs."""

import flowkit
from flowkit.testing import VirtualClock

# Shaped like conductor-python's ConductorWorkflow.to_workflow_def() serialised for the server:
# failureWorkflow "", timeoutSeconds 60 (the SDK's default), nulls for unset fields, and a
# DynamicForkTask that writes the legacy dynamicForkJoinTasksParam with dynamicForkTasksInputParamName.
SDK_JSON = {
    "name": "sdk_written",
    "description": None,
    "version": 1,
    "tasks": [
        {
            "name": "fan_out",
            "taskReferenceName": "fan_out",
            "type": "SIMPLE",
            "inputParameters": {"n": "${workflow.input.n}"},
            "optional": None,
            "retryCount": None,
            "asyncComplete": None,
            "startDelay": None,
        },
        {
            "name": "dyn",
            "taskReferenceName": "dyn",
            "type": "FORK_JOIN_DYNAMIC",
            "inputParameters": {
                "dynamicTasks": "${fan_out.output.tasks}",
                "dynamicTasksInputs": "${fan_out.output.inputs}",
            },
            "dynamicForkJoinTasksParam": "dynamicTasks",
            "dynamicForkTasksInputParamName": "dynamicTasksInputs",
        },
        {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": []},
    ],
    "inputParameters": [],
    "outputParameters": {"joined": "${join.output}"},
    "failureWorkflow": "",
    "schemaVersion": 2,
    "restartable": True,
    "workflowStatusListenerEnabled": False,
    "ownerEmail": None,
    "timeoutPolicy": "ALERT_ONLY",
    "timeoutSeconds": 60,
    "variables": {},
    "inputTemplate": {},
}


def fan_out(n: int) -> dict:
    tasks = [{"name": "square", "taskReferenceName": f"sq_{i}", "type": "SIMPLE"} for i in range(n)]
    return {"tasks": tasks, "inputs": {f"sq_{i}": {"x": i} for i in range(n)}}


def square(x: int) -> dict:
    return {"y": x * x}


def test_sdk_serialised_json_loads_round_trips_and_runs():
    definition = flowkit.WorkflowDef.from_json(SDK_JSON)
    assert definition.to_json() == SDK_JSON
    assert definition.failure_workflow == ""
    ex = flowkit.run(definition, {"n": 3}, workers={"fan_out": fan_out, "square": square}, clock=VirtualClock())
    assert ex.status == "COMPLETED"
    assert ex.output == {"joined": {"sq_0": {"y": 0}, "sq_1": {"y": 1}, "sq_2": {"y": 4}}}
    assert ex.task("join").input["joinOn"] == ["sq_0", "sq_1", "sq_2"]
    assert ex.task("sq_2").input == {"x": 2}


def test_empty_failure_workflow_starts_nothing_when_the_workflow_fails():
    def boom(n: int) -> dict:
        raise flowkit.NonRetryableError("no")

    ex = flowkit.run(SDK_JSON, {"n": 1}, workers={"fan_out": boom, "square": square})
    assert ex.status == "FAILED"
    assert "conductor.failure_workflow" not in ex.output


def test_builder_output_is_conductor_json_that_loads_back_identically():
    @flowkit.worker_task(task_definition_name="greet")
    def greet(name: str) -> dict:
        return {"greeting": f"Hello {name}"}

    wf = flowkit.WorkflowBuilder("hello").timeout_seconds(30).failure_workflow("cleanup")
    wf >> greet(task_ref_name="g", name=wf.input("name"))
    text = wf.to_workflow_def().to_json_text()
    again = flowkit.WorkflowDef.from_json(text)
    assert again.to_json() == wf.to_json()
    assert flowkit.run(again, {"name": "Ada"}, workers=[greet]).output == {"greeting": "Hello Ada"}
