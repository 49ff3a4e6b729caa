"""Conformance: every shipped Conductor definition round-trips exactly, and flowkit's execution JSON
matches Conductor's JSON Schemas (schema_Workflow.json / schema_Task.json) and real sample
(completed.json).

The four schemas are self-contained draft-07 documents (every ``$ref`` points into their own
``definitions``), so they are used whole; nothing had to be skipped.
"""

from __future__ import annotations

import json

import jsonschema
import pytest
from conftest import FIXTURES, Harness, fixture, fixture_json, load_def

import flowkit
from flowkit import TaskDef, WorkflowDef, conformance
from flowkit.definitions._wire import execution_to_json
from flowkit.testing import VirtualClock

NOT_DEFINITIONS = {"completed.json"}
ALL_JSON = sorted(p.name for p in FIXTURES.glob("*.json"))
TASK_DEF_FILES = [n for n in ALL_JSON if n.startswith("taskdef_")]
WORKFLOW_FILES = [n for n in ALL_JSON if not n.startswith(("schema_", "taskdef_")) and n not in NOT_DEFINITIONS]


def validator(name: str) -> jsonschema.Draft7Validator:
    schema = fixture_json(name)
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def errors(v: jsonschema.Draft7Validator, doc: object) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in v.iter_errors(doc)]


def test_the_fixture_folder_is_the_one_the_package_ships() -> None:
    assert FIXTURES.resolve() == conformance.SHIPPED.resolve()
    assert {"LICENSE", "NOTICE", "SOURCES.md"} <= {p.name for p in FIXTURES.iterdir()}
    assert len(WORKFLOW_FILES) >= 20 and len(TASK_DEF_FILES) == 2


# ------------------------------------------------------------------------------------ definitions
@pytest.mark.parametrize("name", WORKFLOW_FILES)
def test_workflow_definition_round_trips_exactly(name: str) -> None:
    raw = fixture_json(name)
    from_path = WorkflowDef.from_json(fixture(name))
    assert from_path.to_json() == raw
    assert WorkflowDef.from_json(raw) == from_path
    assert WorkflowDef.from_json(fixture(name).read_text(encoding="utf-8")) == from_path
    assert json.loads(from_path.to_json_text()) == raw
    assert WorkflowDef.from_json(from_path.to_json()) == from_path


@pytest.mark.parametrize("name", WORKFLOW_FILES)
def test_workflow_definition_json_matches_the_schema(name: str) -> None:
    assert errors(validator("schema_WorkflowDef.json"), WorkflowDef.from_json(fixture(name)).to_json()) == []


@pytest.mark.parametrize("name", TASK_DEF_FILES)
def test_task_definition_round_trips_exactly_and_matches_the_schema(name: str) -> None:
    raw = fixture_json(name)
    td = TaskDef.from_json(fixture(name))
    assert td.to_json() == raw
    assert TaskDef.from_json(raw) == td
    assert errors(validator("schema_TaskDef.json"), td.to_json()) == []


def test_task_definition_fields_are_read() -> None:
    td = TaskDef.from_json(fixture("taskdef_image_convert_resize.json"))
    assert (td.name, td.retry_count, td.retry_logic, td.retry_delay_seconds) == ("image_convert_resize", 3, "FIXED", 30)
    assert (td.timeout_seconds, td.poll_timeout_seconds, td.response_timeout_seconds) == (30, 30, 30)
    assert td.timeout_policy == "TIME_OUT_WF"
    assert (td.concurrent_exec_limit, td.rate_limit_per_frequency, td.rate_limit_frequency_in_seconds) == (100, 50, 30)


def test_workflow_definition_fields_are_read() -> None:
    d = load_def("kitchensink.json")
    types = {t.type for t in d.all_tasks()}
    assert {"SIMPLE", "EVENT", "DYNAMIC", "DECISION", "FORK_JOIN_DYNAMIC", "FORK_JOIN", "SUB_WORKFLOW", "HTTP"} <= types
    s1 = load_def("simple_workflow_1_integration_test.json")
    assert s1.failure_workflow == "$workflow.input.failureWfName"
    assert s1.timeout_policy == "ALERT_ONLY" and s1.schema_version == 2 and s1.restartable is True
    assert s1.tasks[0].input_parameters["someNullKey"] is None


def test_programmatic_definitions_emit_only_what_was_set() -> None:
    d = WorkflowDef(name="w", tasks=(flowkit.WorkflowTask(name="a", task_reference_name="a_ref"),))
    assert d.to_json() == {"name": "w", "tasks": [{"name": "a", "taskReferenceName": "a_ref"}]}
    assert errors(validator("schema_WorkflowDef.json"), d.to_json()) == []
    assert TaskDef(name="t", retry_count=0).to_json() == {"name": "t", "retryCount": 0}


# ------------------------------------------------------------------------------------ executions
def _executions() -> list:
    """Executions that end in every terminal status and use many task types."""
    runs = []
    h = Harness()
    h.start(load_def("simple_workflow_1_integration_test.json"), {"param1": "a", "param2": None}, correlation_id="c1")
    h.complete("t1", {"op": "x"})
    h.complete("t2", {"uuid": "u"})
    runs.append(h.wf)

    h = Harness()
    h.start(load_def("simple_workflow_1_integration_test.json"), {"param1": "a"})
    h.fail("t1", "terminal", terminal=True)
    runs.append(h.wf)

    h = Harness()
    h.start(load_def("fork_join_integration_test.json"), {})
    for ref in ("t1", "t2", "t3", "t4"):
        h.complete(ref, {"r": ref})
    runs.append(h.wf)

    h = Harness()
    h.start(load_def("dynamic_fork_join_integration_test.json"), {})
    h.complete(
        "dt1",
        {
            "dynamicTasks": [{"name": "integration_task_2", "taskReferenceName": "x"}],
            "dynamicTasksInput": {"x": {"k": 1}},
        },
    )
    h.complete("x", {"v": [1, 2]})
    runs.append(h.wf)

    h = Harness()
    h.start(load_def("simple_switch_task_integration_test.json"), {"case": "c"})
    h.complete("t1")
    runs.append(h.wf)  # still RUNNING

    h = Harness()
    h.start(load_def("simple_workflow_with_resp_time_out_integration_test.json"), {})
    h.poll("t1")
    h.advance(11)
    h.advance(200)  # the retry is never polled: 120 s task timeout does not apply (not started), workflow waits
    runs.append(h.wf)

    h = Harness()
    h.start(
        WorkflowDef.from_json(
            {
                "name": "to",
                "timeoutSeconds": 5,
                "timeoutPolicy": "TIME_OUT_WF",
                "tasks": [{"name": "integration_task_1", "taskReferenceName": "s"}],
            }
        ),
        {},
    )
    h.poll("s")
    h.advance(5)
    assert h.wf.status == "TIMED_OUT"
    runs.append(h.wf)
    return runs


def test_engine_executions_match_the_workflow_and_task_schemas() -> None:
    wf_schema, task_schema = validator("schema_Workflow.json"), validator("schema_Task.json")
    statuses = set()
    for wf in _executions():
        doc = execution_to_json(wf)
        json.dumps(doc)  # plain JSON
        statuses.add(doc["status"])
        assert errors(wf_schema, doc) == [], wf
        assert doc["tasks"], wf
        for task in doc["tasks"]:
            assert errors(task_schema, task) == [], task["referenceTaskName"]
        assert [t["seq"] for t in doc["tasks"]] == list(range(1, len(doc["tasks"]) + 1))
        assert None not in doc.values()  # Conductor omits null fields
    assert statuses == {"COMPLETED", "FAILED", "RUNNING", "TIMED_OUT"}


def test_execution_json_fields_follow_conductor_shapes() -> None:
    h = Harness()
    wf = h.start(load_def("simple_workflow_1_integration_test.json"), {"param1": "a"}, correlation_id="corr")
    h.advance(1)
    h.complete("t1", {"op": "x"})
    h.advance(2)
    h.fail("t2", "nope", terminal=True)
    doc = execution_to_json(wf)
    assert doc["workflowId"] == wf.workflow_id
    assert doc["workflowName"] == "integration_test_wf" and doc["workflowVersion"] == 1
    assert doc["status"] == "FAILED"
    assert doc["correlationId"] == "corr"
    assert doc["failedReferenceTaskNames"] == ["t2"] and doc["failedTaskNames"] == ["integration_task_2"]
    assert doc["createTime"] == doc["startTime"] == h.now - 3000
    assert doc["endTime"] == h.now
    assert doc["workflowDefinition"] == fixture_json("simple_workflow_1_integration_test.json")
    t1, t2 = doc["tasks"]
    assert t1["taskType"] == "integration_task_1" and t1["taskDefName"] == "integration_task_1"
    assert t1["referenceTaskName"] == "t1" and t1["status"] == "COMPLETED"
    assert t1["inputData"]["p3"] == t1["taskId"]
    assert t1["outputData"] == {"op": "x"}
    assert t1["scheduledTime"] == h.now - 3000 and t1["startTime"] == h.now - 2000 and t1["endTime"] == h.now - 2000
    assert t1["workflowInstanceId"] == wf.workflow_id and t1["workflowType"] == "integration_test_wf"
    assert t1["correlationId"] == "corr"
    assert t1["workflowTask"] == fixture_json("simple_workflow_1_integration_test.json")["tasks"][0]
    assert t1["pollCount"] == 1 and t1["retryCount"] == 0 and t1["iteration"] == 0 and t1["loopOverTask"] is False
    assert t2["status"] == "FAILED_WITH_TERMINAL_ERROR" and t2["reasonForIncompletion"] == "nope"


def test_execution_json_has_the_keys_of_a_real_conductor_execution() -> None:
    sample = fixture_json("completed.json")
    assert errors(validator("schema_Workflow.json"), sample) == []
    h = Harness()
    wf = h.start(load_def("simple_workflow_1_integration_test.json"), {"param1": "a"}, correlation_id="c")
    h.complete("t1", {"op": "x"})
    h.complete("t2", {})
    doc = execution_to_json(wf)
    # old (2019, schemaVersion 1) top-level duplicates, and the Auditable ownerApp flowkit has no value for
    legacy = {"schemaVersion", "version", "workflowType", "ownerApp"}
    assert set(sample) - legacy <= set(doc)
    task_legacy = {"taskStatus", "logs"}  # deprecated in Conductor's Task
    assert set(sample["tasks"][0]) - task_legacy <= set(doc["tasks"][0])


def test_execution_to_json_through_run_and_the_blog_fixture() -> None:
    @flowkit.worker_task(task_definition_name="image_convert_resize")
    def convert(fileLocation: str, outputFormat: str, outputWidth: int, outputHeight: int) -> dict:  # noqa: N803
        return {
            "fileLocation": f"{fileLocation}.{outputFormat}",
            "outputWidth": outputWidth,
            "outputHeight": outputHeight,
        }

    @flowkit.worker_task(task_definition_name="upload_toS3")
    def upload(fileLocation: str) -> dict:  # noqa: N803
        return {"fileLocation": f"s3://bucket/{fileLocation}"}

    run = flowkit.run(
        fixture("image_convert_resize.json"),
        {"fileLocation": "img", "recipeParameters": {"outputFormat": "png", "outputSize": {"width": 30, "height": 20}}},
        workers=[convert, upload],
        task_defs=[fixture("taskdef_image_convert_resize.json"), fixture("taskdef_upload_toS3.json")],
        clock=VirtualClock(),
        executor="inline",
    )
    assert run.status == "COMPLETED"
    assert run.output == {"fileLocation": "s3://bucket/img.png"}
    assert run.task("image_convert_resize_ref").input == {
        "fileLocation": "img",
        "outputFormat": "png",
        "outputWidth": 30,
        "outputHeight": 20,
    }
    doc = run.to_json()
    assert errors(validator("schema_Workflow.json"), doc) == []
    for task in doc["tasks"]:
        assert errors(validator("schema_Task.json"), task) == []
    assert doc["tasks"][0]["taskDefinition"] == fixture_json("taskdef_image_convert_resize.json")
    assert "tasks" not in run.to_json(include_tasks=False)
