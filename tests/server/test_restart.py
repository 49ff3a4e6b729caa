"""`kill -9` of `flowkit serve` mid-run and a restart on the same store (raw HTTP, then the Python SDK's workers)."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from conductor.client.configuration.configuration import Configuration
from conductor.client.http.models import StartWorkflowRequest, TaskDef
from conductor.client.orkes_clients import OrkesClients

from tests.server.serving import Server, sdk_workers_fixture, server_fixture  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow


def call(server: Server, method: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        server.api + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        raw = response.read()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw.decode()


def poll(server: Server, task_type: str, worker: str) -> dict[str, Any] | None:
    result: dict[str, Any] | None = call(server, "GET", f"/tasks/poll/{task_type}?workerid={worker}")
    return result


def complete(server: Server, task: dict[str, Any], output: dict[str, Any]) -> None:
    call(
        server,
        "POST",
        "/tasks",
        {
            "taskId": task["taskId"],
            "workflowInstanceId": task["workflowInstanceId"],
            "status": "COMPLETED",
            "outputData": output,
        },
    )


def test_kill_9_and_restart_carries_on_every_execution(tmp_path: Path) -> None:
    server = Server(tmp_path / "serve.db")
    server.start()
    try:
        call(
            server,
            "POST",
            "/metadata/taskdefs",
            [
                {"name": "step_a", "responseTimeoutSeconds": 2, "timeoutSeconds": 60, "retryCount": 0},
                {"name": "step_b", "responseTimeoutSeconds": 10, "timeoutSeconds": 60, "retryCount": 0},
            ],
        )
        call(
            server,
            "POST",
            "/metadata/workflow",
            {
                "name": "two_steps",
                "version": 1,
                "schemaVersion": 2,
                "tasks": [
                    {
                        "name": "step_a",
                        "taskReferenceName": "a",
                        "type": "SIMPLE",
                        "inputParameters": {"n": "${workflow.input.n}"},
                    },
                    {
                        "name": "step_b",
                        "taskReferenceName": "b",
                        "type": "SIMPLE",
                        "inputParameters": {"m": "${a.output.m}"},
                    },
                ],
                "outputParameters": {"result": "${b.output.r}"},
            },
        )
        ids = [call(server, "POST", "/workflow/two_steps", {"n": n}) for n in range(3)]
        done = poll(server, "step_a", "w1")
        assert done is not None
        complete(server, done, {"m": done["inputData"]["n"] * 10})
        lost = poll(server, "step_a", "w2")  # polled, never answered: the server dies first
        assert lost is not None
        server.kill()
        killed_at = time.monotonic()
        server.start()

        handed: list[dict[str, Any]] = []
        deadline = time.monotonic() + 30
        while len(handed) < 2 and time.monotonic() < deadline:
            task = poll(server, "step_a", "w3")
            if task is None:
                time.sleep(0.1)
                continue
            assert task["taskId"] != done["taskId"], "a task recorded COMPLETED was handed out again"
            if task["taskId"] == lost["taskId"]:
                # handed out again only after its response timeout (2 s after the poll)
                assert time.monotonic() - killed_at >= 1.5
                assert task["pollCount"] == 2
            handed.append(task)
            complete(server, task, {"m": task["inputData"]["n"] * 10})
        assert {t["taskId"] for t in handed} >= {lost["taskId"]}
        for _ in range(3):
            task = None
            while task is None and time.monotonic() < deadline:
                task = poll(server, "step_b", "w3")
            assert task is not None
            call(
                server,
                "POST",
                "/tasks",
                {
                    "taskId": task["taskId"],
                    "workflowInstanceId": task["workflowInstanceId"],
                    "status": "COMPLETED",
                    "outputData": {"r": task["inputData"]["m"] + 1},
                },
            )
        for n, workflow_id in enumerate(ids):
            execution = call(server, "GET", f"/workflow/{workflow_id}")
            assert execution["status"] == "COMPLETED"
            assert execution["output"] == {"result": n * 10 + 1}
            a_tasks = [t for t in execution["tasks"] if t["referenceTaskName"] == "a"]
            assert [t["status"] for t in a_tasks] == ["COMPLETED"]
    finally:
        server.stop()


def test_sigterm_stops_the_server_through_its_shutdown_with_exit_code_0(tmp_path: Path) -> None:
    server = Server(tmp_path / "serve.db")
    server.start()
    assert server.proc is not None
    server.proc.terminate()  # a service manager's stop (systemd, docker stop, a notebook's terminate())
    # 0, not -15: serve() unwound (and closed the store) instead of dying by the signal uvicorn raises again
    assert server.proc.wait(20) == 0, (tmp_path / "serve.log").read_text()


def test_kill_9_mid_run_with_the_python_sdks_workers_every_execution_completes(
    server: Server, sdk_workers: Path
) -> None:
    """The SDK's TaskHandler keeps polling through the outage; nothing COMPLETED before the kill runs again."""
    orkes = OrkesClients(configuration=Configuration(server_api_url=server.api))
    metadata, workflows = orkes.get_metadata_client(), orkes.get_workflow_client()
    metadata.register_task_def(TaskDef(name="sdk_step", retry_count=2, response_timeout_seconds=2, timeout_seconds=120))
    length = 5
    call(
        server,
        "POST",
        "/metadata/workflow",
        {
            "name": "sdk_chain",
            "version": 1,
            "schemaVersion": 2,
            "tasks": [
                {
                    "name": "sdk_step",
                    "taskReferenceName": f"s{i}",
                    "type": "SIMPLE",
                    "inputParameters": {"n": "${workflow.input.n}" if i == 0 else f"${{s{i - 1}.output.n}}"},
                }
                for i in range(length)
            ],
            "outputParameters": {"n": f"${{s{length - 1}.output.n}}"},
        },
    )
    ids = [
        workflows.start_workflow(StartWorkflowRequest(name="sdk_chain", version=1, input={"n": n * 100}))
        for n in range(6)
    ]

    def completed_tasks() -> set[str]:
        return {
            t.task_id
            for workflow_id in ids
            for t in workflows.get_workflow(workflow_id, include_tasks=True).tasks
            if t.status == "COMPLETED"
        }

    deadline = time.monotonic() + 60
    done_before = completed_tasks()
    while len(done_before) < 8:  # mid-run: some tasks COMPLETED, most still to come
        assert time.monotonic() < deadline, "the SDK workers completed fewer than 8 tasks in 60 s"
        time.sleep(0.05)
        done_before = completed_tasks()
    server.kill()
    assert len(done_before) < len(ids) * length
    time.sleep(0.5)  # the workers' polls and updates fail meanwhile
    server.start()

    for n, workflow_id in enumerate(ids):
        wf = workflows.get_workflow(workflow_id, include_tasks=True)
        while wf.status != "COMPLETED" and time.monotonic() < deadline + 60:
            assert wf.status == "RUNNING", (wf.status, wf.reason_for_incompletion)
            time.sleep(0.1)
            wf = workflows.get_workflow(workflow_id, include_tasks=True)
        assert wf.status == "COMPLETED" and wf.output == {"n": n * 100 + length}
        assert sorted(t.reference_task_name for t in wf.tasks if t.status == "COMPLETED") == [
            f"s{i}" for i in range(length)
        ]
    runs = (sdk_workers / "step").read_text().split()
    again = sorted(task_id for task_id in done_before if runs.count(task_id) != 1)
    assert not again, f"tasks COMPLETED before the kill ran again after it: {again}"
