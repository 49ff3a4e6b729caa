"""Conformance: the outcomes Conductor's own test suites assert, restated one by one.

Each section (E1..E18) names the upstream test it restates: "TH" is a Spock spec of conductor-oss/conductor's
``test-harness/src/test/groovy/com/netflix/conductor/test/integration/``, "e2e" a test of its ``e2e/``
suite, others its ``core`` unit tests. The tests drive the engine like the test-harness: start, poll,
complete/fail, advance the clock. Fixtures are the Conductor files shipped in flowkit/conformance/conductor.
"""

from __future__ import annotations

import pytest
from conftest import Harness, harness_task_defs, load_def

from flowkit import OperationNotAllowedError, TaskDef, WorkflowDef
from flowkit.engine import retry_delay_ms
from flowkit.expressions import compile_value

S1 = "simple_workflow_1_integration_test.json"
P1 = {"param1": "p1 value", "param2": "p2 value"}


def defs(**changes: dict) -> dict[str, TaskDef]:
    """The harness task definitions with some of them changed."""
    out = harness_task_defs()
    for name, fields in changes.items():
        out[name] = out[name].evolve(**fields)
    return out


# --------------------------------------------------------- E1: TH SimpleWorkflowSpec "Test simple workflow completion"
def test_e1_linear_workflow_outputs_flow_between_tasks(harness: Harness) -> None:
    wf = harness.start(load_def(S1), P1, correlation_id="unit_test_1")
    assert wf.status == "RUNNING"
    assert wf.correlation_id == "unit_test_1"
    assert harness.tasks() == [("integration_task_1", "SCHEDULED")]

    harness.complete("t1", {"op": "task1.done"})
    assert harness.tasks() == [("integration_task_1", "COMPLETED"), ("integration_task_2", "SCHEDULED")]

    t2 = harness.poll("t2")
    assert t2 is not None
    assert t2.input["tp1"] == "p1 value"
    assert t2.input["tp2"] == "task1.done"

    harness.complete("t2", {})
    assert wf.status == "COMPLETED"
    assert len(wf.tasks) == 2
    assert wf.output["o3"] == "task1.done"
    assert "o2" in wf.output and wf.output["o2"] is None
    assert wf.output["o1"] == "p1 value"


def test_e1_null_inputs_and_null_output_keys_are_kept(harness: Harness) -> None:
    wf = harness.start(load_def(S1), {"param1": "p1 value", "param2": None})
    assert "param2" in wf.input and wf.input["param2"] is None
    t1 = harness.poll("t1")
    assert t1 is not None
    assert "someNullKey" in t1.input and t1.input["someNullKey"] is None
    assert "p2" in t1.input and t1.input["p2"] is None

    harness.complete("t1", {"someOtherKey": {"a": 1, "A": None}, "someKey": None})
    assert t1.output == {"someOtherKey": {"a": 1, "A": None}, "someKey": None}
    assert "someKey" in t1.output
    assert "A" in t1.output["someOtherKey"]


# ------------------------------------------- E2: TH SimpleWorkflowSpec "Test simple workflow terminal error condition"
def test_e2_terminal_error_skips_retries_and_still_computes_outputs() -> None:
    base = load_def(S1)
    definition = base.evolve(
        output_parameters={**base.output_parameters, "validationErrors": "${t1.output.ErrorMessage}"}
    )
    h = Harness()
    wf = h.start(definition, P1)

    with pytest.raises(OperationNotAllowedError):
        h.engine.restart(wf, h.now)
    assert wf.status == "RUNNING"
    assert h.tasks() == [("integration_task_1", "SCHEDULED")]

    reason = "NON TRANSIENT ERROR OCCURRED: An integration point required to complete the task is down"
    t1 = h.fail(
        "t1",
        reason,
        terminal=True,
        output={"TERMINAL_ERROR": "Integration endpoint down: FOOBAR", "ErrorMessage": "There was a terminal error"},
    )

    assert wf.status == "FAILED"
    assert wf.reason == f"Task {t1.task_id} failed with status: FAILED and reason: '{reason}'"
    assert wf.output["o1"] == "p1 value"
    assert wf.output["validationErrors"] == "There was a terminal error"
    assert h.tasks() == [("integration_task_1", "FAILED_WITH_TERMINAL_ERROR")]
    assert t1.retry_count == 0
    assert set(wf.failed_refs) == {"t1"}
    assert set(wf.failed_names) == {"integration_task_1"}


# -------------------------------------------------- E3: TH SimpleWorkflowSpec "Test simple workflow with task retries"
def test_e3_retries_are_new_instances_linked_by_retried_task_id() -> None:
    h = Harness(task_defs=defs(integration_task_2={"retry_count": 3, "retry_delay_seconds": 2}))
    wf = h.start(load_def(S1), P1)
    h.complete("t1", {"op": "task1.done"})

    seen_inputs = []
    for _ in range(2):
        task = h.fail("t2", "failed")
        seen_inputs.append((task.input["tp1"], task.input["tp2"]))
        assert wf.status == "RUNNING"
        assert h.poll("t2") is None  # the retry waits retryDelaySeconds = 2
        h.advance(2)
    last = h.complete("t2", {})
    seen_inputs.append((last.input["tp1"], last.input["tp2"]))

    assert seen_inputs == [("p1 value", "task1.done")] * 3
    assert wf.status == "COMPLETED"
    assert h.tasks() == [
        ("integration_task_1", "COMPLETED"),
        ("integration_task_2", "FAILED"),
        ("integration_task_2", "FAILED"),
        ("integration_task_2", "COMPLETED"),
    ]
    tasks = wf.tasks
    assert tasks[1].retried_task_id is None
    assert tasks[2].retried_task_id == tasks[1].task_id
    assert tasks[3].retried_task_id == tasks[2].task_id
    assert [t.retry_count for t in tasks[1:]] == [0, 1, 2]
    assert set(wf.failed_refs) == {"t2"}
    assert set(wf.failed_names) == {"integration_task_2"}


# --------------------------------------- E4: TH SimpleWorkflowSpec "Test simple workflow with retry at workflow level"
def test_e4_workflow_retry_after_exhausted_retries_with_cpewf_task_id() -> None:
    h = Harness(task_defs=defs(integration_task_1={"retry_count": 1, "retry_delay_seconds": 0}))
    wf = h.start(load_def(S1), P1)
    assert h.tasks() == [("integration_task_1", "SCHEDULED")]
    assert wf.tasks[0].input["p3"] == wf.tasks[0].task_id

    h.fail("t1", "first")
    assert wf.status == "RUNNING"
    assert h.tasks() == [("integration_task_1", "FAILED"), ("integration_task_1", "SCHEDULED")]
    assert wf.tasks[1].input["p3"] == wf.tasks[1].task_id
    assert wf.tasks[1].task_id != wf.tasks[0].task_id

    h.fail("t1", "second")
    assert wf.status == "FAILED"
    assert h.tasks() == [("integration_task_1", "FAILED"), ("integration_task_1", "FAILED")]

    h.handle(h.engine.retry(wf, h.now))
    assert wf.status == "RUNNING"
    assert h.tasks() == [
        ("integration_task_1", "FAILED"),
        ("integration_task_1", "FAILED"),
        ("integration_task_1", "SCHEDULED"),
    ]
    assert wf.tasks[2].input["p3"] == wf.tasks[2].task_id
    assert wf.tasks[2].retried_task_id == wf.tasks[1].task_id

    h.complete("t1", {"op": "task1.done"})
    assert len(wf.tasks) == 4
    assert h.tasks()[3] == ("integration_task_2", "SCHEDULED")
    h.complete("t2", {})
    assert wf.status == "COMPLETED"
    assert set(wf.failed_refs) == {"t1"}


def test_e4_retry_of_a_running_workflow_is_rejected(harness: Harness) -> None:
    wf = harness.start(load_def(S1), P1)
    with pytest.raises(OperationNotAllowedError):
        harness.engine.retry(wf, harness.now)


def test_e4_restart_of_a_terminal_workflow_starts_over_with_the_same_id() -> None:
    h = Harness(task_defs=defs(integration_task_1={"retry_count": 0}))
    wf = h.start(load_def(S1), P1)
    first_id = wf.workflow_id
    h.fail("t1", "boom")
    assert wf.status == "FAILED"
    h.advance(5)
    h.handle(h.engine.restart(wf, h.now))
    assert wf.workflow_id == first_id
    assert wf.status == "RUNNING" and wf.reason is None and wf.output == {}
    assert h.tasks() == [("integration_task_1", "SCHEDULED")]
    assert wf.tasks[0].seq == 1 and wf.create_time == h.now
    assert wf.failed_refs == {}
    h.complete("t1", {"op": "again"})
    h.complete("t2", {})
    assert wf.status == "COMPLETED"
    assert wf.output["o3"] == "again"
    frozen = load_def(S1, restartable=False)
    wf2 = h.start(frozen, P1)
    h.complete("t1", {"op": "x"})
    h.complete("t2", {})
    with pytest.raises(OperationNotAllowedError):
        h.engine.restart(wf2, h.now)  # COMPLETED and not restartable


def test_e4_retry_after_a_fork_failure_revives_the_join() -> None:
    h = Harness(task_defs=defs(integration_task_2={"retry_count": 0}))
    wf = h.start(load_def("fork_join_integration_test.json"), {})
    h.complete("t1", {})
    h.fail("t2", "boom")
    assert wf.status == "FAILED"
    h.handle(h.engine.retry(wf, h.now))
    assert wf.status == "RUNNING"
    assert h.tasks() == [
        ("FORK", "COMPLETED"),
        ("integration_task_1", "COMPLETED"),
        ("integration_task_2", "FAILED"),
        ("JOIN", "IN_PROGRESS"),
        ("integration_task_3", "CANCELED"),
        ("integration_task_2", "SCHEDULED"),
        ("integration_task_3", "SCHEDULED"),
    ]
    h.complete("t2", {"b": 2})
    assert h.task("fanouttask_join").status == "IN_PROGRESS"
    h.complete("t3", {"c": 3})
    join = h.task("fanouttask_join")
    assert join.status == "COMPLETED"
    assert join.output == {"t3": {"c": 3}, "t2": {"b": 2}}
    h.complete("t4", {})
    assert wf.status == "COMPLETED"
    assert [t.task_type for t in wf.tasks].count("JOIN") == 1


def test_e4_retry_with_nothing_to_retry_is_rejected(harness: Harness) -> None:
    wf = harness.start(load_def(S1), P1)
    harness.complete("t1", {"op": "x"})
    harness.complete("t2", {})
    with pytest.raises(OperationNotAllowedError) as info:
        harness.engine.retry(wf, harness.now)
    assert "There are no retryable tasks" in str(info.value)
    assert wf.status == "COMPLETED"


# ---------------------------------------------- E5: TH SimpleWorkflowSpec "Test Simple Workflow with response timeout"
def test_e5_response_timeout_reschedules_the_task() -> None:
    h = Harness()
    wf = h.start(load_def("simple_workflow_with_resp_time_out_integration_test.json"), P1)
    first = h.poll("t1")
    assert first is not None and first.status == "IN_PROGRESS"
    assert h.poll("t1") is None  # a second poll returns nothing

    h.advance(11)  # > responseTimeoutSeconds 10 without an update
    assert wf.status == "RUNNING"
    assert h.tasks() == [("task_rt", "TIMED_OUT"), ("task_rt", "SCHEDULED")]
    assert first.reason == (
        f"responseTimeout: 10 exceeded for the taskId: {first.task_id} with Task Definition: task_rt"
    )
    assert wf.tasks[1].retried_task_id == first.task_id

    h.update("t1", "IN_PROGRESS", callback_after_seconds=2)
    assert h.tasks()[1] == ("task_rt", "SCHEDULED")
    assert wf.tasks[1].callback_after_seconds == 2
    assert h.poll("t1") is None  # not visible for 2 s
    h.advance(2)
    again = h.poll("t1")
    assert again is wf.tasks[1]
    h.complete("t1", {"op": "done"})
    h.complete("t2", {})
    assert wf.status == "COMPLETED"
    assert h.tasks() == [("task_rt", "TIMED_OUT"), ("task_rt", "COMPLETED"), ("integration_task_2", "COMPLETED")]


def test_e5_response_timeout_ignores_alert_only_policy() -> None:
    h = Harness(task_defs=defs(task_rt={"timeout_policy": "ALERT_ONLY"}))
    wf = h.start(load_def("simple_workflow_with_resp_time_out_integration_test.json"), P1)
    assert h.poll("t1") is not None
    h.advance(10)
    assert h.tasks() == [("task_rt", "TIMED_OUT"), ("task_rt", "SCHEDULED")]
    assert wf.status == "RUNNING"


# -------------------------------------------- E6: TH ForkJoinSpec "Test a simple workflow with fork join success flow"
def test_e6_static_fork_join_order_and_join_completion(harness: Harness) -> None:
    wf = harness.start(load_def("fork_join_integration_test.json"), {})
    assert harness.tasks() == [
        ("FORK", "COMPLETED"),
        ("integration_task_1", "SCHEDULED"),
        ("integration_task_2", "SCHEDULED"),
        ("JOIN", "IN_PROGRESS"),
    ]
    t1 = harness.poll("t1")
    assert t1 is not None
    assert t1.input == {"p1": "workflow.input.param1", "p2": "workflow.input.param2"}  # literal, no ${}

    harness.complete("t1", {})
    assert len(wf.tasks) == 5
    assert harness.tasks()[4] == ("integration_task_3", "SCHEDULED")

    harness.complete("t3", {})
    assert harness.task("fanouttask_join").status == "IN_PROGRESS"

    harness.complete("t2", {})
    join = harness.task("fanouttask_join")
    assert join.status == "COMPLETED"
    assert join.input["joinOn"] == ["t3", "t2"]
    assert harness.tasks()[5] == ("integration_task_4", "SCHEDULED")
    assert harness.task("t4").input == {"tp1": "workflow.input.param1"}

    harness.complete("t4", {})
    assert wf.status == "COMPLETED"
    assert len(wf.tasks) == 6


# -------------------------------------------- E7: TH ForkJoinSpec "Test a simple workflow with fork join failure flow"
def test_e7_failed_fork_branch_fails_workflow_and_cancels_the_rest() -> None:
    h = Harness(task_defs=defs(integration_task_2={"retry_count": 0}))
    wf = h.start(load_def("fork_join_integration_test.json"), {})
    h.complete("t1", {})
    assert h.tasks()[4] == ("integration_task_3", "SCHEDULED")
    t2 = h.fail("t2", "boom")
    assert wf.status == "FAILED"
    assert h.tasks() == [
        ("FORK", "COMPLETED"),
        ("integration_task_1", "COMPLETED"),
        ("integration_task_2", "FAILED"),
        ("JOIN", "CANCELED"),
        ("integration_task_3", "CANCELED"),
    ]
    assert wf.reason == f"Task {t2.task_id} failed with status: FAILED and reason: 'boom'"


# ---------------------------------------------------- E8: TH DynamicForkJoinSpec "Test dynamic fork join success flow"
DYN = "dynamic_fork_join_integration_test.json"
DYN_TASKS = [
    {"name": "integration_task_2", "taskReferenceName": "xdt1"},
    {"name": "integration_task_3", "taskReferenceName": "xdt2"},
]


def test_e8_dynamic_fork_inputs_and_join_output_by_ref(harness: Harness) -> None:
    wf = harness.start(load_def(DYN), {})
    assert harness.tasks() == [("integration_task_1", "SCHEDULED")]
    assert wf.tasks[0].ref == "dt1"

    harness.complete(
        "dt1", {"dynamicTasks": DYN_TASKS, "dynamicTasksInput": {"xdt1": {"k1": "v1"}, "xdt2": {"k2": "v2"}}}
    )
    assert harness.tasks() == [
        ("integration_task_1", "COMPLETED"),
        ("FORK", "COMPLETED"),
        ("integration_task_2", "SCHEDULED"),
        ("integration_task_3", "SCHEDULED"),
        ("JOIN", "IN_PROGRESS"),
    ]
    assert wf.tasks[4].ref == "dynamicfanouttask_join"
    x1, x2 = harness.poll("xdt1"), harness.poll("xdt2")
    assert x1 is not None and x1.input["k1"] == "v1"
    assert x2 is not None and x2.input["k2"] == "v2"

    harness.complete("xdt1", {"ok1": "ov1"})
    assert harness.task("dynamicfanouttask_join").status == "IN_PROGRESS"
    harness.complete("xdt2", {"ok1": "ov1"})
    join = harness.task("dynamicfanouttask_join")
    assert join.status == "COMPLETED"
    assert join.input["joinOn"] == ["xdt1", "xdt2"]
    assert join.output["xdt1"]["ok1"] == "ov1"
    assert join.output["xdt2"]["ok1"] == "ov1"
    assert harness.tasks()[5] == ("integration_task_4", "SCHEDULED")
    harness.complete("task4", {})
    assert wf.status == "COMPLETED"
    assert len(wf.tasks) == 6


def test_e8_empty_forked_outputs_are_not_copied_into_the_join(harness: Harness) -> None:
    wf = harness.start(load_def(DYN), {})
    harness.complete(
        "dt1", {"dynamicTasks": DYN_TASKS, "dynamicTasksInput": {"xdt1": {"k1": "v1"}, "xdt2": {"k2": "v2"}}}
    )
    harness.complete("xdt1")
    harness.complete("xdt2")
    join = harness.task("dynamicfanouttask_join")
    assert join.status == "COMPLETED"
    assert join.output == {}
    harness.complete("task4")
    assert wf.status == "COMPLETED"


def test_e8_invalid_dynamic_input_fails_without_persisting_fork_or_join(harness: Harness) -> None:
    wf = harness.start(load_def(DYN), {})
    harness.complete("dt1", {"dynamicTasks": DYN_TASKS, "dynamicTasksInput": {"xdt1": "v1", "xdt2": "v2"}})
    assert wf.status == "FAILED"
    assert harness.tasks() == [("integration_task_1", "COMPLETED")]
    assert wf.reason is not None and wf.reason.startswith("Tasks could not be dynamically forked due to invalid input")


# ----------------------------------------------------------------- E9: e2e DynamicForkTests.testCorrectTaskIdOnRetries
FAIL_ON_PURPOSE = {
    "name": "fail_on_purpose",
    "description": "test",
    "retryCount": 2,
    "timeoutSeconds": 20,
    "inputKeys": [],
    "outputKeys": [],
    "timeoutPolicy": "RETRY",
    "retryLogic": "FIXED",
    "retryDelaySeconds": 1,
    "responseTimeoutSeconds": 2,
    "concurrentExecLimit": 0,
    "inputTemplate": {},
    "rateLimitPerFrequency": 0,
    "rateLimitFrequencyInSeconds": 1,
    "pollTimeoutSeconds": 3600,
    "backoffScaleFactor": 1,
    "ownerEmail": "test@conductor.io",
}


def test_e9_dynamic_fork_cpewf_task_id_is_each_attempts_own_id() -> None:
    h = Harness(task_defs={"fail_on_purpose": TaskDef.from_json(FAIL_ON_PURPOSE)})
    wf = h.start(load_def("cpewf_task_id_dyn_fork_wf.json"), {})
    assert h.tasks()[:2] == [("INLINE", "COMPLETED"), ("FORK", "COMPLETED")]
    for attempt in range(3):
        h.fail("fail_on_purpose_ref", f"failing on purpose {attempt}")
        if attempt < 2:
            assert wf.status == "RUNNING"
            h.advance(1)  # FIXED 1 s
    assert wf.status == "FAILED"
    attempts = [t for t in wf.tasks if t.task_type == "fail_on_purpose"]
    assert len(attempts) == 3
    for task in attempts:
        assert task.status == "FAILED"
        assert task.input["task_id"] == task.task_id
    assert [t.retry_count for t in attempts] == [0, 1, 2]
    assert h.task("extracted_file_data_join_ref").status == "CANCELED"


# ------------------------------------------------- E10: TH DoWhileSpec "Test workflow with 2 iterations of five tasks"
def test_e10_do_while_with_system_and_worker_tasks_two_iterations(harness: Harness) -> None:
    wf = harness.start(load_def("do_while_five_loop_over_integration_test.json"), {"loop": 2})
    assert [(t, s, x.iteration) for (t, s), x in zip(harness.tasks(), wf.tasks, strict=True)] == [
        ("DO_WHILE", "IN_PROGRESS", 1),
        ("LAMBDA", "COMPLETED", 1),
        ("JSON_JQ_TRANSFORM", "COMPLETED", 1),
        ("integration_task_1", "SCHEDULED", 1),
    ]
    assert wf.tasks[2].output["result"] == {"out": {"locationId": "some location id"}}

    harness.complete("integration_task_1__1", {})
    assert len(wf.tasks) == 6
    assert harness.tasks()[4:] == [("JSON_JQ_TRANSFORM", "COMPLETED"), ("integration_task_2", "SCHEDULED")]

    harness.complete("integration_task_2__1", {})
    assert len(wf.tasks) == 9
    assert [(t.task_type, t.status, t.iteration) for t in wf.tasks[6:9]] == [
        ("LAMBDA", "COMPLETED", 2),
        ("JSON_JQ_TRANSFORM", "COMPLETED", 2),
        ("integration_task_1", "SCHEDULED", 2),
    ]
    harness.complete("integration_task_1__2", {})
    harness.complete("integration_task_2__2", {})
    assert len(wf.tasks) == 12
    loop = wf.tasks[0]
    assert loop.status == "COMPLETED"
    assert (wf.tasks[11].task_type, wf.tasks[11].status, wf.tasks[11].iteration) == (
        "integration_task_3",
        "SCHEDULED",
        0,
    )
    assert wf.tasks[11].ref == "integration_task_3"
    assert [t.ref for t in wf.tasks[1:6]] == [
        "lambda_locs__1",
        "jq_add_location__1",
        "integration_task_1__1",
        "jq_create_hydrus_input__1",
        "integration_task_2__1",
    ]
    assert all(t.ref.endswith("__2") for t in wf.tasks[6:11])
    assert loop.output["iteration"] == 2
    for it in ("1", "2"):
        assert set(loop.output[it]) == {
            "lambda_locs",
            "jq_add_location",
            "integration_task_1",
            "jq_create_hydrus_input",
            "integration_task_2",
        }
        assert loop.output[it]["lambda_locs"] == {"result": {"locationRanId": "some location id"}}
    harness.complete("integration_task_3", {})
    assert wf.status == "COMPLETED"


# ---------------------------------------------------------------- E11: TH SwitchTaskSpec "Test simple switch workflow"
def test_e11_switch_value_param_case_then_continues(harness: Harness) -> None:
    wf = harness.start(
        load_def("simple_switch_task_integration_test.json"), {"param1": "p1", "param2": "p2", "case": "c"}
    )
    assert harness.tasks() == [("SWITCH", "COMPLETED"), ("integration_task_1", "SCHEDULED")]
    assert wf.tasks[0].output == {"evaluationResult": ["c"], "selectedCase": "c"}
    harness.complete("t1", {})
    assert harness.tasks()[-1] == ("integration_task_2", "SCHEDULED")
    harness.complete("t2", {})
    assert harness.tasks()[-1] == ("integration_task_20", "SCHEDULED")
    harness.complete("t20", {})
    assert wf.status == "COMPLETED"
    assert len(wf.tasks) == 4


def test_e11_switch_default_case(harness: Harness) -> None:
    wf = harness.start(
        load_def("simple_switch_task_integration_test.json"), {"param1": "p1", "param2": "p2", "case": "zz"}
    )
    assert harness.tasks() == [("SWITCH", "COMPLETED"), ("integration_task_5", "SCHEDULED")]
    harness.complete("t5", {})
    harness.complete("t20", {})
    assert wf.status == "COMPLETED"
    assert [t.task_type for t in wf.tasks] == ["SWITCH", "integration_task_5", "integration_task_20"]


# --------------------------------------------------- E12: TH ExclusiveJoinSpec "Test that the default decision is run"
def test_e12_exclusive_join_falls_back_to_default_task(harness: Harness) -> None:
    wf = harness.start(load_def("exclusive_join_integration_test.json"), {"decision_1": "null"})
    assert harness.tasks() == [("integration_task_1", "SCHEDULED")]
    harness.complete("task1", {"taskReferenceName": "task1"})
    assert wf.status == "COMPLETED"
    assert harness.tasks() == [
        ("integration_task_1", "COMPLETED"),
        ("DECISION", "COMPLETED"),
        ("EXCLUSIVE_JOIN", "COMPLETED"),
    ]
    assert wf.tasks[1].output == {"caseOutput": ["null"]}
    assert wf.tasks[2].output["taskReferenceName"] == "task1"


# ---------------------------------------------------- E13: TH LambdaAndTerminateTaskSpec (terminate, status completed)
def test_e13_terminate_completed_ends_early_with_terminate_output(harness: Harness) -> None:
    wf = harness.start(load_def("terminate_task_completed_workflow_integration_test.json"), {"a": 1})
    assert wf.status == "COMPLETED"
    assert harness.tasks() == [("LAMBDA", "COMPLETED"), ("TERMINATE", "COMPLETED")]
    assert [t.seq for t in wf.tasks] == [1, 2]
    assert "Workflow is COMPLETED by TERMINATE task" in (wf.reason or "")
    assert wf.output == {"result": {"testvalue": True}}
    assert harness.dispatches == []  # t2 was never scheduled


# ---------------------------------- E14: TH LambdaAndTerminateTaskSpec (terminate, status failed), FailureWorkflowSpec
def test_e14_terminate_failed_starts_the_failure_workflow() -> None:
    failure = load_def("failure_workflow_for_terminate_task_workflow.json")
    h = Harness(workflows=[failure])
    wf = h.start(load_def("terminate_task_failed_workflow_integration.json"), {"a": 1}, correlation_id="testId")
    assert wf.status == "FAILED"
    assert h.tasks() == [("LAMBDA", "COMPLETED"), ("TERMINATE", "COMPLETED")]
    assert [t.seq for t in wf.tasks] == [1, 2]
    assert wf.reason == "Early exit in terminate"

    child_id = wf.output["conductor.failure_workflow"]
    child = h.engine.executions[child_id]
    assert child.definition.name == "failure_workflow"
    assert child.status == "COMPLETED"
    assert child.correlation_id == "testId"
    assert child.input["workflowId"] == wf.workflow_id
    assert child.input["failureTaskId"] == wf.tasks[1].task_id
    assert "failedWorkflow" in child.input
    assert [(t.task_type, t.status) for t in child.tasks] == [("LAMBDA", "COMPLETED")]


SUB_PARENT = {
    "name": "test_task_failed_parent_wf",
    "version": 1,
    "schemaVersion": 2,
    "failureWorkflow": "failure_workflow",
    "tasks": [
        {
            "name": "test_lambda_task1",
            "taskReferenceName": "lambdaTask1",
            "type": "LAMBDA",
            "inputParameters": {
                "lambdaValue": "${workflow.input.lambdaValue}",
                "scriptExpression": "var i = 10; if ($.lambdaValue == 1){ return {testvalue: 'Lambda value was 1', iValue: i} } else { return {testvalue: 'Lambda value was NOT 1', iValue: i + 3} }",
            },
        },
        {
            "name": "test_task_failed_sub_wf",
            "taskReferenceName": "test_task_failed_sub_wf",
            "type": "SUB_WORKFLOW",
            "inputParameters": {},
            "subWorkflowParam": {"name": "test_task_failed_sub_wf"},
        },
        {
            "name": "test_lambda_task2",
            "taskReferenceName": "lambdaTask2",
            "type": "LAMBDA",
            "inputParameters": {"scriptExpression": "return 1"},
        },
    ],
}
SUB_CHILD = {
    "name": "test_task_failed_sub_wf",
    "version": 1,
    "schemaVersion": 2,
    "tasks": [
        {
            "name": "lambda",
            "taskReferenceName": "lambda0",
            "type": "LAMBDA",
            "inputParameters": {
                "input": "${workflow.input}",
                "scriptExpression": "if ($.input.a==1){return {testvalue: true}} else{return {testvalue: false}}",
            },
        },
        {
            "name": "terminate",
            "taskReferenceName": "terminate0",
            "type": "TERMINATE",
            "inputParameters": {"terminationStatus": "FAILED", "workflowOutput": "${lambda0.output}"},
        },
        {"name": "integration_task_2", "taskReferenceName": "t2", "type": "SIMPLE", "inputParameters": {}},
    ],
}


def test_e14_sub_workflow_terminated_failed_fails_parent_and_starts_its_failure_workflow() -> None:
    """OSS test_task_failed_parent_workflow.json / test_task_failed_sub_workflow.json (FailureWorkflowSpec)."""
    failure = load_def("failure_workflow_for_terminate_task_workflow.json")
    h = Harness(workflows=[failure, WorkflowDef.from_json(SUB_CHILD)])
    wf = h.start(WorkflowDef.from_json(SUB_PARENT), {"a": 1})
    sub_task = wf.tasks[1]
    child = h.engine.executions[sub_task.sub_workflow_id]
    assert child.status == "FAILED"
    assert "Workflow is FAILED by TERMINATE task" in (child.reason or "")
    assert [(t.task_type, t.status, t.seq) for t in child.tasks] == [
        ("LAMBDA", "COMPLETED", 1),
        ("TERMINATE", "COMPLETED", 2),
    ]

    assert wf.status == "FAILED"
    assert h.tasks() == [("LAMBDA", "COMPLETED"), ("SUB_WORKFLOW", "FAILED")]
    assert wf.tasks[0].ref == "lambdaTask1"
    failure_run = h.engine.executions[wf.output["conductor.failure_workflow"]]
    assert failure_run.status == "COMPLETED"
    assert failure_run.input["workflowId"] == wf.workflow_id
    assert failure_run.input["failureTaskId"] == sub_task.task_id
    assert [t.task_type for t in failure_run.tasks] == ["LAMBDA"]


# ------ E17: TestDeciderService (testLinearBackoff, testExponentialBackoff, testWorkflowTaskRetry), TH RetryPolicySpec
def _retries(td: TaskDef, failures: int, *, jitter=None) -> list[tuple[int, int]]:
    """Fail a one-task workflow ``failures`` times; (callbackAfterSeconds, callbackAfterMs) of each retry
    as scheduled (a poll resets callbackAfterSeconds, as in Conductor)."""
    h = Harness(task_defs={td.name: td}, jitter=jitter)
    wf = h.start(WorkflowDef.from_json({"name": "r", "tasks": [{"name": td.name, "taskReferenceName": "x"}]}), {})
    seen = []
    for _ in range(failures):
        h.fail("x", "again")
        retry = wf.tasks[-1]
        assert retry.status == "SCHEDULED" and retry.retry_count == len(seen) + 1
        seen.append((retry.callback_after_seconds, retry.callback_after_ms))
        assert h.dispatches[-1].task is retry
        assert h.dispatches[-1].not_before == h.now + retry.callback_after_ms
        if retry.callback_after_ms:
            assert h.poll("x") is None  # not visible before its delay
        h.advance(retry.callback_after_ms / 1000)
    return seen


def test_e17_linear_backoff() -> None:
    td = TaskDef(
        name="lin", retry_count=5, retry_logic="LINEAR_BACKOFF", retry_delay_seconds=60, backoff_scale_factor=2
    )
    assert [sec for sec, _ in _retries(td, 3)] == [120, 240, 360]
    assert retry_delay_ms(td, 2**31 - 101, lambda n: 0) == 2147483647 * 1000


def test_e17_exponential_backoff() -> None:
    td = TaskDef(
        name="exp", retry_count=5, retry_logic="EXPONENTIAL_BACKOFF", retry_delay_seconds=60, backoff_scale_factor=7
    )
    assert [sec for sec, _ in _retries(td, 3)] == [60, 120, 240]  # scale factor ignored
    assert retry_delay_ms(td, 2**31 - 101, lambda n: 0) == 2147483647 * 1000


def test_e17_backoff_caps() -> None:
    exp = TaskDef(
        name="e", retry_count=3, retry_logic="EXPONENTIAL_BACKOFF", retry_delay_seconds=2, max_retry_delay_seconds=3
    )
    assert _retries(exp, 2) == [(2, 2000), (3, 3000)]
    lin = TaskDef(
        name="l",
        retry_count=3,
        retry_logic="LINEAR_BACKOFF",
        retry_delay_seconds=2,
        backoff_scale_factor=2,
        max_retry_delay_seconds=5,
    )
    assert _retries(lin, 2) == [(4, 4000), (5, 5000)]


def test_e17_jitter_is_added_after_the_cap() -> None:
    fixed = TaskDef(name="f", retry_count=1, retry_delay_seconds=60, backoff_jitter_ms=5000)
    for pick in (0, 1234, 5000):
        [(seconds, ms)] = _retries(fixed, 1, jitter=lambda n, pick=pick: min(pick, n))
        assert seconds == 60
        assert ms == 60000 + pick
        assert 60000 <= ms <= 65000
    no_jitter = TaskDef(name="f", retry_count=1, retry_delay_seconds=30)
    assert _retries(no_jitter, 1, jitter=lambda n: 999) == [(30, 30000)]  # jitter 0: never called
    capped = TaskDef(
        name="c",
        retry_count=3,
        retry_logic="EXPONENTIAL_BACKOFF",
        retry_delay_seconds=2,
        max_retry_delay_seconds=3,
        backoff_jitter_ms=2000,
    )
    first, second = _retries(capped, 2, jitter=lambda n: n)
    assert first == (2, 4000)
    assert second == (3, 5000)  # capped to 3 s, then the jitter


def test_e17_workflow_task_retry_count_overrides_task_def() -> None:
    td = TaskDef(name="w", retry_count=3, retry_delay_seconds=0)
    h = Harness(task_defs={"w": td})
    definition = WorkflowDef.from_json(
        {"name": "o", "tasks": [{"name": "w", "taskReferenceName": "x", "retryCount": 1}]}
    )
    wf = h.start(definition, {})
    h.fail("x", "one")
    assert wf.status == "RUNNING"
    h.fail("x", "two")
    assert wf.status == "FAILED"
    assert h.tasks() == [("w", "FAILED"), ("w", "FAILED")]


def test_e17_total_timeout_blocks_further_retries() -> None:
    td = TaskDef(name="tt", retry_count=5, retry_delay_seconds=0, total_timeout_seconds=5, timeout_policy="ALERT_ONLY")
    h = Harness(task_defs={"tt": td})
    wf = h.start(WorkflowDef.from_json({"name": "t", "tasks": [{"name": "tt", "taskReferenceName": "x"}]}), {})
    h.poll("x")
    h.advance(60)
    assert wf.status == "RUNNING"  # ALERT_ONLY: the total timeout only alerts
    h.fail("x", "late failure")
    assert wf.status in ("FAILED", "TIMED_OUT")
    assert h.tasks() == [("tt", "FAILED")]  # no retry


def test_e17_total_timeout_with_retry_policy_times_out_running_task() -> None:
    td = TaskDef(name="tt", retry_count=5, retry_delay_seconds=0, total_timeout_seconds=5, timeout_policy="RETRY")
    h = Harness(task_defs={"tt": td})
    wf = h.start(WorkflowDef.from_json({"name": "t", "tasks": [{"name": "tt", "taskReferenceName": "x"}]}), {})
    task = h.poll("x")
    assert task is not None
    h.advance(60)
    assert task.status == "TIMED_OUT"
    assert wf.status == "TIMED_OUT"  # the budget is spent, so no retry follows
    assert h.tasks() == [("tt", "TIMED_OUT")]


# ---------------------------------------------------- E18: ParametersUtilsTest, TestDeciderService.testGetTaskInputV2*
DOC = {"name": "conductor", "version": 2, "externalId": '{"taskRefName":"t001","workflowId":"w002"}'}


def resolve(value, doc, task_id=None):
    return compile_value(value)(doc, task_id)


def test_e18_basic_resolution_and_types() -> None:
    assert resolve("${$.externalId}", DOC) == '{"taskRefName":"t001","workflowId":"w002"}'
    assert resolve("${name}", DOC) == "conductor"
    version = resolve("${version}", DOC)
    assert version == 2 and isinstance(version, int)
    assert resolve("${}", DOC) == ""
    assert resolve("${    }", DOC) == ""


def test_e18_nested_maps_and_lists_resolved_element_wise_without_mutating_source() -> None:
    source = {"k1": "${name}", "k2": ["${version}", {"k3": "${$.name}", "k4": 7}], "k5": {"inner": "${version}"}}
    snapshot = {"k1": "${name}", "k2": ["${version}", {"k3": "${$.name}", "k4": 7}], "k5": {"inner": "${version}"}}
    out = resolve(source, DOC)
    assert out == {"k1": "conductor", "k2": [2, {"k3": "conductor", "k4": 7}], "k5": {"inner": 2}}
    assert source == snapshot


def test_e18_nested_path_expressions() -> None:
    doc = {"index": 1, "mapValue": "a", "recordIds": [1, 2, 3], "map": {"a": [1, 2, 3], "b": [2, 4, 5]}}
    assert resolve("${recordIds[${index}]}", doc) == 2
    assert resolve("${map.${mapValue}[${index}]}", doc) == 2
    assert resolve("${map.b[${map.${mapValue}[${index}]}]}", doc) == 5


@pytest.mark.parametrize("newline", ["\n", "\r", "\r\n"])
def test_e18_multiline_strings(newline: str) -> None:
    assert resolve(f"Name: ${{name}};{newline}Version: ${{version}};", DOC) == f"Name: conductor;{newline}Version: 2;"


def test_e18_escapes() -> None:
    doc = {"someString": "conductor", "someNumber": 2}
    expr = "${$.someString} $${$.someNumber}${$.someNumber} ${$.someNumber}$${$.someString}"
    assert resolve(expr, doc) == "conductor ${$.someNumber}2 2${$.someString}"
    assert resolve("$${$.someString}afterText", doc) == "${$.someString}afterText"


def test_e18_missing_values_status_and_lists_through_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EC2_INSTANCE", "i-123abcdef990")
    definition = WorkflowDef.from_json(
        {
            "name": "e18",
            "outputParameters": {"names": "${task2.output.names}"},
            "tasks": [
                {"name": "integration_task_2", "taskReferenceName": "task2"},
                {
                    "name": "integration_task_4",
                    "taskReferenceName": "task4",
                    "inputParameters": {
                        "taskOutputParam": "${task2.output.location}",
                        "taskOutputParam2": "${task2.output.locationBad}",
                        "taskOutputParam3": "${task3.output.location}",
                        "status": "${task2.status}",
                        "years": "${task2.output.names[*].year}",
                        "second": "${task2.output.names[1].name}",
                        "url": "${task2.output.location}/something?host=${EC2_INSTANCE}",
                    },
                },
            ],
        }
    )
    h = Harness()
    h.start(definition, {})
    names = [{"name": "The Who", "year": 1964}, {"name": "The Doors", "year": 1965}]
    h.complete("task2", {"location": "http://location", "isPersonActive": True, "names": names})
    t4 = h.poll("task4")
    assert t4 is not None
    data = t4.input
    assert data["taskOutputParam"] == "http://location"
    assert "taskOutputParam2" in data and data["taskOutputParam2"] is None
    assert "taskOutputParam3" in data and data["taskOutputParam3"] is None
    assert data["status"] == "COMPLETED"
    assert data["years"] == [1964, 1965]
    assert data["second"] == "The Doors"
    # flowkit follows the semantics doc: only CPEWF_TASK_ID is a system parameter; the environment
    # never leaks into expressions (Conductor would print the EC2_INSTANCE variable here).
    assert data["url"] == "http://location/something?host=null"


def test_e18_task_input_template_fills_nulls_with_raw_template_values() -> None:
    td = TaskDef(
        name="templated",
        input_template={"url": "https://template_url", "default_url": "https://default_url", "someKey": "someValue"},
    )
    definition = WorkflowDef.from_json(
        {
            "name": "tpl",
            "tasks": [
                {
                    "name": "templated",
                    "taskReferenceName": "t",
                    "inputParameters": {
                        "url": "${workflow.input.some_new_url}",
                        "someKey": "${workflow.input.someKey}",
                        "someNowhereToBeFoundKey": "${workflow.input.some_ne_key}",
                    },
                }
            ],
        }
    )
    h = Harness(task_defs={"templated": td})
    wf = h.start(definition, {"some_new_url": "https://some_new_url"})
    data = wf.tasks[0].input
    assert data["url"] == "https://some_new_url"
    assert data["default_url"] == "https://default_url"
    assert data["someKey"] == "someValue"
    assert "someNowhereToBeFoundKey" in data and data["someNowhereToBeFoundKey"] is None


def test_e18_workflow_input_template_fills_missing_keys_only(harness: Harness) -> None:
    definition = load_def(S1, input_template={"other_key": "other_value", "param1": "template p1"})
    wf = harness.start(definition, P1)
    assert wf.input == {"param1": "p1 value", "param2": "p2 value", "other_key": "other_value"}


# ---------------------------------------------------------------------------------------------- end to end
def _integration_workers(log: list[str]) -> list:
    """Workers for integration_task_0..20: echo the input, and emit the dynamic fork for dt1."""
    import flowkit

    def make(n: int):
        def work(task):  # noqa: ANN001, ANN202 - SDK style: receives the Task
            log.append(task.reference_task_name)
            if task.reference_task_name == "dt1":
                return {"dynamicTasks": DYN_TASKS, "dynamicTasksInput": {"xdt1": {"k1": "v1"}, "xdt2": {"k2": "v2"}}}
            return {"op": f"{task.reference_task_name}.done", "echo": task.input_data}

        return flowkit.worker_task(task_definition_name=f"integration_task_{n}")(work)

    return [make(n) for n in range(21)]


@pytest.mark.parametrize("executor", ["inline", "threads"])
def test_fixtures_run_end_to_end_with_workers(executor: str) -> None:
    import flowkit
    from flowkit.testing import VirtualClock

    def go(name: str, data: dict) -> tuple:
        log: list[str] = []
        run = flowkit.run(
            load_def(name),
            data,
            workers=_integration_workers(log),
            task_defs=harness_task_defs(),
            clock=VirtualClock(),
            executor=executor,
        )
        return run, log

    run, log = go(S1, P1)
    assert run.status == "COMPLETED" and log == ["t1", "t2"]
    assert run.output == {"o1": "p1 value", "o2": None, "o3": "t1.done"}
    assert run.task("t2").input["tp2"] == "t1.done"

    run, log = go("fork_join_integration_test.json", {})
    assert run.status == "COMPLETED"
    assert [(t.task_type, t.status) for t in run.tasks] == [
        ("FORK", "COMPLETED"),
        ("integration_task_1", "COMPLETED"),
        ("integration_task_2", "COMPLETED"),
        ("JOIN", "COMPLETED"),
        ("integration_task_3", "COMPLETED"),
        ("integration_task_4", "COMPLETED"),
    ]
    assert sorted(run.task("fanouttask_join").output) == ["t2", "t3"]

    run, log = go(DYN, {})
    assert run.status == "COMPLETED"
    join = run.task("dynamicfanouttask_join")
    assert join.output["xdt1"]["echo"] == {"k1": "v1"} and join.output["xdt2"]["echo"] == {"k2": "v2"}

    run, log = go("simple_switch_task_integration_test.json", {"case": "c", "param1": "p1"})
    assert run.status == "COMPLETED" and log == ["t1", "t2", "t20"]

    run, log = go("do_while_five_loop_over_integration_test.json", {"loop": 3})
    assert run.status == "COMPLETED"
    assert run.task("loopTask").output["iteration"] == 3
    assert log == [
        "integration_task_1__1",
        "integration_task_2__1",
        "integration_task_1__2",
        "integration_task_2__2",
        "integration_task_1__3",
        "integration_task_2__3",
        "integration_task_3",
    ]
