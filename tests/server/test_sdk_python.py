"""The Conductor Python SDK, unchanged, against `flowkit serve` in a subprocess, workers in processes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from conductor.client.configuration.configuration import Configuration
from conductor.client.http.models import SkipTaskRequest, StartWorkflowRequest, TaskDef
from conductor.client.http.models.rerun_workflow_request import RerunWorkflowRequest
from conductor.client.http.rest import ApiException
from conductor.client.orkes_clients import OrkesClients
from conductor.client.workflow.conductor_workflow import ConductorWorkflow
from conductor.client.workflow.task.simple_task import SimpleTask

from tests.server.serving import Server, sdk_workers_fixture, server_fixture  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow


def clients(server: Server) -> tuple[Any, Any]:
    orkes = OrkesClients(configuration=Configuration(server_api_url=server.api))
    return orkes.get_metadata_client(), orkes.get_workflow_client()


def wait_status(workflows: Any, workflow_id: str, status: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        wf = workflows.get_workflow(workflow_id, include_tasks=True)
        if wf.status == status or time.monotonic() > deadline:
            assert wf.status == status, (wf.status, wf.reason_for_incompletion)
            return wf
        time.sleep(0.05)


def register(
    metadata: Any, name: str, tasks: list[tuple[str, str, dict[str, Any]]], output: dict[str, Any], **task_def: Any
) -> None:
    for task_name, _, _ in tasks:
        metadata.register_task_def(
            TaskDef(
                name=task_name,
                retry_count=2,
                retry_logic="FIXED",
                retry_delay_seconds=0,
                response_timeout_seconds=10,
                timeout_seconds=60,
                **task_def,
            )
        )
    wf = ConductorWorkflow(executor=None, name=name, version=1)
    for task_name, ref, inputs in tasks:
        wf.add(
            SimpleTask(task_def_name=task_name, task_reference_name=ref).input_parameters.update(inputs)
            or SimpleTask(task_def_name=task_name, task_reference_name=ref)
        )
    definition = wf.to_workflow_def()
    for task, (_, _, inputs) in zip(definition.tasks, tasks, strict=True):
        task.input_parameters = inputs
    definition.output_parameters = output
    metadata.register_workflow_def(definition, overwrite=True)


def test_register_start_workers_complete(server: Server, sdk_workers: Path) -> None:
    metadata, workflows = clients(server)
    register(
        metadata,
        "sdk_hello",
        [
            ("sdk_greet", "greet", {"name": "${workflow.input.name}"}),
            ("sdk_shout", "shout", {"text": "${greet.output.greeting}"}),
        ],
        {"message": "${shout.output.text}"},
    )
    assert metadata.get_workflow_def("sdk_hello").name == "sdk_hello"
    ids = [
        workflows.start_workflow(StartWorkflowRequest(name="sdk_hello", version=1, input={"name": n}))
        for n in ("Ada", "Linus", "Grace")
    ]
    for workflow_id, n in zip(ids, ("Ada", "Linus", "Grace"), strict=True):
        wf = wait_status(workflows, workflow_id, "COMPLETED")
        assert wf.output == {"message": f"HELLO, {n.upper()}!"}
        greet = wf.tasks[0]
        assert greet.status == "COMPLETED" and greet.poll_count == 1 and greet.worker_id
    assert sorted((sdk_workers / "greet").read_text().split()) == ["Ada", "Grace", "Linus"]


def test_failing_worker_succeeds_on_retry(server: Server, sdk_workers: Path) -> None:
    metadata, workflows = clients(server)
    register(metadata, "sdk_flaky_wf", [("sdk_flaky", "flaky", {})], {"attempt": "${flaky.output.attempt}"})
    workflow_id = workflows.start_workflow(StartWorkflowRequest(name="sdk_flaky_wf", version=1, input={}))
    wf = wait_status(workflows, workflow_id, "COMPLETED")
    assert [t.status for t in wf.tasks] == ["FAILED", "COMPLETED"]
    assert wf.tasks[0].reason_for_incompletion == "first attempt fails"
    assert wf.output == {"attempt": 1}


def test_pause_resume_terminate_retry_rerun(server: Server, tmp_path: Path) -> None:
    metadata, workflows = clients(server)
    # Conductor's update-by-ref takes the body as outputData; the SDK sends {"result": output}
    register(
        metadata,
        "sdk_ops",
        [
            ("sdk_greet", "greet", {"name": "${workflow.input.name}"}),
            ("sdk_shout", "shout", {"text": "${greet.output.result.greeting}"}),
        ],
        {"message": "${shout.output.result.text}", "heard": "${shout.input.text}"},
    )
    workflow_id = workflows.start_workflow(StartWorkflowRequest(name="sdk_ops", version=1, input={"name": "Bo"}))
    workflows.pause_workflow(workflow_id)
    assert workflows.get_workflow(workflow_id).status == "PAUSED"
    workflows.resume_workflow(workflow_id)
    assert workflows.get_workflow(workflow_id).status == "RUNNING"
    workflows.terminate_workflow(workflow_id, reason="enough")
    wf = wait_status(workflows, workflow_id, "TERMINATED")
    assert wf.reason_for_incompletion == "enough"
    assert wf.tasks[0].status == "CANCELED"
    workflows.retry_workflow(workflow_id)
    assert workflows.get_workflow(workflow_id).status == "RUNNING"
    # no worker runs in this test: complete the tasks through the task API by reference name
    orkes = OrkesClients(configuration=Configuration(server_api_url=server.api))
    tasks = orkes.get_task_client()
    tasks.update_task_by_ref_name(workflow_id, "greet", "COMPLETED", {"greeting": "hi"})
    tasks.update_task_by_ref_name(workflow_id, "shout", "COMPLETED", {"text": "HI!"})
    wf = wait_status(workflows, workflow_id, "COMPLETED")
    assert wf.output == {"message": "HI!", "heard": "hi"}
    workflows.rerun_workflow(workflow_id, RerunWorkflowRequest(workflow_input={"name": "Cy"}))
    wf = workflows.get_workflow(workflow_id)
    assert wf.status == "RUNNING" and wf.input == {"name": "Cy"}
    workflows.terminate_workflow(workflow_id, reason="done")
    workflows.restart_workflow(workflow_id)
    assert workflows.get_workflow(workflow_id).status == "RUNNING"


def test_execute_status_search_correlated_skip_and_remove(server: Server, sdk_workers: Path) -> None:
    metadata, workflows = clients(server)
    register(
        metadata,
        "sdk_exec",
        [
            ("sdk_greet", "greet", {"name": "${workflow.input.name}"}),
            ("sdk_shout", "shout", {"text": "${greet.output.greeting}"}),
        ],
        {"message": "${shout.output.text}"},
    )
    run = workflows.execute_workflow(
        StartWorkflowRequest(name="sdk_exec", version=1, input={"name": "Eve"}, correlation_id="c-1"),
        request_id="r-1",
        wait_for_seconds=20,
    )
    assert run.status == "COMPLETED" and run.output == {"message": "HELLO, EVE!"}
    status = workflows.get_workflow_status(run.workflow_id, include_output=True)
    assert status.status == "COMPLETED" and status.output == {"message": "HELLO, EVE!"}
    found = workflows.search(query="workflowType IN (sdk_exec) AND status IN (COMPLETED)")
    assert [s.workflow_id for s in found.results] == [run.workflow_id]
    by_cid = workflows.get_by_correlation_ids("sdk_exec", ["c-1", "c-2"], include_completed=True)
    assert [w.workflow_id for w in by_cid["c-1"]] == [run.workflow_id] and by_cid["c-2"] == []
    # no worker polls sdk_idle: "later" is skipped before it is reached
    register(
        metadata, "sdk_skip", [("sdk_idle", "idle", {}), ("sdk_idle", "later", {})], {"seen": "${later.output.text}"}
    )
    workflow_id = workflows.start_workflow(StartWorkflowRequest(name="sdk_skip", version=1, input={}))
    workflows.skip_task_from_workflow(workflow_id, "later", SkipTaskRequest(task_output={"text": "skipped"}))
    OrkesClients(configuration=Configuration(server_api_url=server.api)).get_task_client().update_task_by_ref_name(
        workflow_id, "idle", "COMPLETED", {}
    )
    wf = wait_status(workflows, workflow_id, "COMPLETED")
    assert wf.output == {"seen": "skipped"}
    assert {t.reference_task_name: t.status for t in wf.tasks} == {"idle": "COMPLETED", "later": "SKIPPED"}
    workflows.remove_workflow(workflow_id)
    with pytest.raises(ApiException) as info:
        workflows.get_workflow(workflow_id)
    assert info.value.status == 404
