"""Bad input: malformed definitions fail early with one DefinitionError listing every problem (with
the task ref), a missing worker fails before the run starts, and ``run`` never hangs."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import fixture

import flowkit
from flowkit import DefinitionError, InputError, MissingWorkerError, TaskDef, WorkflowDef
from flowkit.testing import VirtualClock


def wf(*tasks: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"name": "bad", "tasks": list(tasks), **fields}


def issues_of(raw: Any, **kwargs: Any) -> DefinitionError:
    with pytest.raises(DefinitionError) as info:
        WorkflowDef.from_json(raw).validate(**kwargs)
    return info.value


# ---------------------------------------------------------------------------------------------- JSON
@pytest.mark.parametrize("text", ['{"name": "x", "tasks": [', '{"name": "x",}', "{'name': 'x'}", "[1, 2"])
def test_malformed_json_text(text: str) -> None:
    with pytest.raises(DefinitionError) as info:
        WorkflowDef.from_json(text)
    assert "is not valid JSON" in str(info.value)
    assert "line 1 column" in str(info.value)


def test_malformed_json_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "name": "x",\n  "tasks": [],\n}\n')
    with pytest.raises(DefinitionError) as info:
        WorkflowDef.from_json(path)
    assert "broken.json" in str(info.value)
    assert "line 4" in str(info.value)
    with pytest.raises(DefinitionError) as info:
        flowkit.run(path, {})
    assert "is not valid JSON" in str(info.value)


def test_missing_file() -> None:
    with pytest.raises(DefinitionError) as info:
        WorkflowDef.from_json(Path("/nonexistent/flowkit/wf.json"))
    assert "file not found" in str(info.value)


def test_structural_problems_are_all_collected_while_loading() -> None:
    with pytest.raises(DefinitionError) as info:
        WorkflowDef.from_json(
            wf(
                {"name": "a", "taskReferenceName": "a", "retryCount": "many"},
                {"name": "b", "taskReferenceName": "b", "optional": "yes", "joinOn": "a"},
                {"taskReferenceName": "c"},
            )
        )
    err = info.value
    assert len(err.issues) == 4
    text = str(err)
    assert "task 'a' field 'retryCount'" in text and "'many'" in text
    assert "task 'b' field 'optional'" in text
    assert "task 'b' field 'joinOn'" in text
    assert "task 'c'" in text and "'name'" in text
    assert err.task_ref_names == ("a", "b", "c")


# ---------------------------------------------------------------------------------------------- validation
def test_unknown_task_type() -> None:
    err = issues_of(wf({"name": "a", "taskReferenceName": "a_ref", "type": "NOT_A_TYPE"}))
    [issue] = err.issues
    assert issue.task_ref_name == "a_ref"
    assert "unknown task type 'NOT_A_TYPE'" in issue.problem
    # a registered TaskDef with that name makes it a valid USER_DEFINED task
    WorkflowDef.from_json(wf({"name": "a", "taskReferenceName": "a_ref", "type": "NOT_A_TYPE"})).validate(
        task_defs={"NOT_A_TYPE": TaskDef(name="NOT_A_TYPE")}
    )


def test_unsupported_conductor_task_type_names_the_reason() -> None:
    err = issues_of(wf({"name": "k", "taskReferenceName": "k", "type": "KAFKA_PUBLISH"}))
    assert "Kafka" in err.issues[0].problem


def test_duplicate_refs_including_nested_ones() -> None:
    err = issues_of(
        wf(
            {"name": "a", "taskReferenceName": "dup"},
            {
                "name": "s",
                "taskReferenceName": "s",
                "type": "SWITCH",
                "evaluatorType": "value-param",
                "expression": "k",
                "inputParameters": {"k": "x"},
                "decisionCases": {"x": [{"name": "b", "taskReferenceName": "dup"}]},
            },
        )
    )
    [issue] = err.issues
    assert issue.task_ref_name == "dup"
    assert "taskReferenceName: dup should be unique across tasks for a given workflowDefinition: bad" in issue.problem


def test_unknown_refs_in_inputs() -> None:
    err = issues_of(
        wf(
            {
                "name": "a",
                "taskReferenceName": "a",
                "inputParameters": {"v": "${nope.output.x}", "ok": "${workflow.input.y}"},
            },
            {
                "name": "b",
                "taskReferenceName": "b",
                "inputParameters": {"v": "${a.output.x}", "id": "${CPEWF_TASK_ID}"},
            },
        )
    )
    [issue] = err.issues
    assert issue.task_ref_name == "a"
    assert issue.problem == ("taskReferenceName: nope for given task: a is not defined in workflow definition.")


def test_unclosed_expression() -> None:
    err = issues_of(wf({"name": "a", "taskReferenceName": "a", "inputParameters": {"v": "${workflow.input.x"}}))
    [issue] = err.issues
    assert issue.task_ref_name == "a"
    assert "no closing '}'" in issue.problem
    assert "inputParameters" in issue.where


def test_unclosed_expression_in_output_parameters() -> None:
    err = issues_of(wf({"name": "a", "taskReferenceName": "a"}, outputParameters={"o": "${a.output"}))
    assert "outputParameters" in err.issues[0].where


def test_fork_without_join() -> None:
    err = issues_of(
        wf(
            {
                "name": "f",
                "taskReferenceName": "fork",
                "type": "FORK_JOIN",
                "forkTasks": [[{"name": "a", "taskReferenceName": "a"}], [{"name": "b", "taskReferenceName": "b"}]],
            },
            {"name": "c", "taskReferenceName": "c"},
        )
    )
    [issue] = err.issues
    assert issue.task_ref_name == "fork"
    assert "not followed by a JOIN" in issue.problem


def test_every_issue_is_reported_at_once_with_its_task_ref() -> None:
    err = issues_of(
        wf(
            {
                "name": "f",
                "taskReferenceName": "fork",
                "type": "FORK_JOIN",
                "forkTasks": [[{"name": "a", "taskReferenceName": "dup"}]],
            },
            {"name": "x", "taskReferenceName": "typo", "type": "SIMPLEX"},
            {"name": "y", "taskReferenceName": "dup"},
            {"name": "z", "taskReferenceName": "unclosed", "inputParameters": {"p": "${workflow.input.p"}},
            {"name": "u", "taskReferenceName": "unknown_ref", "inputParameters": {"p": "${ghost.output}"}},
            {"name": "j", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["missing"]},
            {"name": "sw", "taskReferenceName": "switch", "type": "SWITCH"},
        )
    )
    assert set(err.task_ref_names) == {"fork", "typo", "dup", "unclosed", "unknown_ref", "join", "switch"}
    text = str(err)
    assert f"has {len(err.issues)} problem(s)" in text
    assert len(err.issues) >= 9  # switch alone: evaluatorType, expression, decisionCases
    for issue in err.issues:
        assert str(issue) in text and "Fix:" in str(issue)


def test_task_def_constraints() -> None:
    with pytest.raises(DefinitionError) as info:
        WorkflowDef.from_json(wf({"name": "a", "taskReferenceName": "a"})).validate(
            task_defs={"a": TaskDef(name="a", timeout_seconds=10, response_timeout_seconds=20, retry_count=-1)}
        )
    text = str(info.value)
    assert "responseTimeoutSeconds (20) is greater than timeoutSeconds (10)" in text
    assert "retryCount is -1" in text


def test_every_shared_fixture_validates() -> None:
    for path in sorted(fixture("kitchensink.json").parent.glob("*.json")):
        if path.name.startswith(("schema_", "taskdef_")) or path.name == "completed.json":
            continue
        WorkflowDef.from_json(path).validate()


# ---------------------------------------------------------------------------------------------- run()
def test_missing_worker_is_reported_before_anything_runs() -> None:
    calls: list[str] = []

    @flowkit.worker_task(task_definition_name="present")
    def present() -> dict:
        calls.append("present")
        return {}

    definition = WorkflowDef.from_json(
        wf(
            {"name": "present", "taskReferenceName": "p"},
            {"name": "absent", "taskReferenceName": "a1"},
            {"name": "absent", "taskReferenceName": "a2"},
            {"name": "other", "taskReferenceName": "o"},
        )
    )
    with pytest.raises(MissingWorkerError) as info:
        flowkit.run(definition, {}, workers=[present])
    assert calls == []
    assert info.value.missing == {"absent": ["a1", "a2"], "other": ["o"]}
    assert "'absent' (task refs: a1, a2)" in str(info.value)


def test_missing_worker_inside_an_inline_sub_workflow() -> None:
    raw = json.loads(fixture("simple_workflow_with_sub_workflow_inline_def_integration_test.json").read_text())
    with pytest.raises(MissingWorkerError) as info:
        flowkit.run(raw, {}, workers={})
    names = set(info.value.missing)
    inner = {t["name"] for t in raw["tasks"][1]["subWorkflowParam"]["workflowDefinition"]["tasks"]}
    assert inner <= names


def test_invalid_definition_is_rejected_by_run_before_workers_are_checked() -> None:
    with pytest.raises(DefinitionError):
        flowkit.run(wf({"name": "a", "taskReferenceName": "a", "inputParameters": {"p": "${nope.output}"}}), {})


def test_input_must_be_a_mapping() -> None:
    @flowkit.worker_task(task_definition_name="a")
    def a() -> dict:
        return {}

    with pytest.raises(InputError):
        flowkit.run(wf({"name": "a", "taskReferenceName": "a"}), ["not", "a", "dict"], workers=[a])  # type: ignore[arg-type]
    with pytest.raises(InputError):
        flowkit.run(12, {})


def _run_with_deadline(fn: Any, seconds: float = 10.0) -> Any:
    """Run ``fn`` in a thread; fail (instead of hanging the suite) if it does not return in time."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # reported below
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "flowkit.run did not return"
    if "error" in box:
        raise box["error"]
    return box["value"]


@pytest.mark.parametrize("executor", ["inline", "threads"])
def test_run_returns_running_when_it_needs_outside_input(executor: str) -> None:
    @flowkit.worker_task(task_definition_name="after")
    def after(decision: str) -> dict:
        return {"decision": decision}

    definition = WorkflowDef.from_json(
        wf(
            {"name": "approve", "taskReferenceName": "approve", "type": "HUMAN"},
            {"name": "forever", "taskReferenceName": "wait", "type": "WAIT"},
            {
                "name": "after",
                "taskReferenceName": "after",
                "inputParameters": {"decision": "${approve.output.decision}"},
            },
        )
    )
    began = time.perf_counter()
    execution = _run_with_deadline(lambda: flowkit.run(definition, {}, workers=[after], executor=executor))
    assert time.perf_counter() - began < 5
    assert execution.status == "RUNNING"
    assert [(t.task_type, t.status) for t in execution.tasks] == [("HUMAN", "IN_PROGRESS")]
    execution.complete_task("approve", {"decision": "yes"})
    assert [(t.task_type, t.status) for t in execution.tasks] == [("HUMAN", "COMPLETED"), ("WAIT", "IN_PROGRESS")]
    assert execution.status == "RUNNING"
    execution.complete_task("wait")
    assert execution.status == "COMPLETED"
    assert execution.output == {"decision": "yes"}
    with pytest.raises(flowkit.OperationNotAllowedError):
        execution.complete_task("wait")


def test_run_with_a_long_wait_and_a_virtual_clock_returns_at_once() -> None:
    definition = WorkflowDef.from_json(
        wf({"name": "w", "taskReferenceName": "w", "type": "WAIT", "inputParameters": {"duration": "2h 30m"}})
    )
    clock = VirtualClock()
    t0 = clock.now_ms()
    execution = _run_with_deadline(lambda: flowkit.run(definition, {}, clock=clock, executor="inline"))
    assert execution.status == "COMPLETED"
    assert clock.now_ms() - t0 == 9_000_000


def test_a_worker_that_never_finishes_its_attempts_is_bounded_by_its_timeout() -> None:
    @flowkit.worker_task(task_definition_name="stuck")
    def stuck() -> flowkit.TaskResult:
        return flowkit.TaskResult(status="IN_PROGRESS", callback_after_seconds=10)

    execution = _run_with_deadline(
        lambda: flowkit.run(
            wf({"name": "stuck", "taskReferenceName": "s"}),
            {},
            workers=[stuck],
            clock=VirtualClock(),
            executor="inline",
            task_defs=[TaskDef(name="stuck", timeout_seconds=60, response_timeout_seconds=60, retry_count=0)],
        )
    )
    assert execution.status == "TIMED_OUT"
    assert execution.tasks[0].reason.startswith("Task timed out after 60 seconds")
