"""flowkit.connect against a real `flowkit serve` subprocess: start, watch, views, operations, the monitor, errors."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import flowkit
from flowkit.client import AuthError, RemoteExecution, UnreachableError, WorkerService
from tests.server.serving import Server, free_port

pytestmark = pytest.mark.slow

CALLS: list[str] = []
FLAKY: dict[str, int] = {}


@flowkit.worker_task(task_definition_name="connect_greet")
def greet(name: str) -> dict[str, Any]:
    print(f"greeting {name}")
    CALLS.append(name)
    return {"greeting": f"Hello {name}"}


@flowkit.worker_task(task_definition_name="connect_flaky")
def flaky(key: str) -> dict[str, Any]:
    FLAKY[key] = FLAKY.get(key, 0) + 1
    if FLAKY[key] == 1:
        raise RuntimeError(f"first call for {key} fails")
    return {"calls": FLAKY[key]}


def greet_flow(name: str = "connect_hello") -> flowkit.WorkflowBuilder:
    wf = flowkit.WorkflowBuilder(name)
    first = greet(task_ref_name="greet_ref", name=wf.input("name"))
    wf >> first
    wf.output_parameter("greeting", first.output("greeting"))
    return wf


def waiting_flow() -> dict[str, Any]:
    """Two SIMPLE tasks nobody polls for: the execution stays RUNNING while the operations are tried."""
    return {
        "name": "connect_waiting",
        "version": 1,
        "schemaVersion": 2,
        "tasks": [
            {"name": "connect_nobody", "taskReferenceName": "first", "type": "SIMPLE"},
            {"name": "connect_nobody", "taskReferenceName": "second", "type": "SIMPLE"},
        ],
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = Server(tmp_path_factory.mktemp("connect") / "serve.db")
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def client(server: Server) -> flowkit.client.Client:
    c = flowkit.connect(server.url)
    c.register_task_defs(
        flowkit.TaskDef(name="connect_greet"),
        flowkit.TaskDef(name="connect_flaky", retry_count=2, retry_logic="FIXED", retry_delay_seconds=0),
        flowkit.TaskDef(name="connect_nobody", retry_count=0),
    )
    c.register(greet_flow(), waiting_flow())
    return c


@pytest.fixture(scope="module")
def workers(client: flowkit.client.Client) -> Iterator[WorkerService]:
    with WorkerService(client.url, [greet, flaky], threads=2, poll_timeout_ms=200, worker_id="test-worker") as service:
        yield service


def test_start_by_name_runs_on_the_server_and_reads_as_an_execution(client, workers) -> None:
    run = client.start("connect_hello", {"name": "Ada"})
    assert isinstance(run, RemoteExecution) and isinstance(run, flowkit.Execution)
    assert run.wait(30) is run
    assert run.status == "COMPLETED"
    assert run.output == {"greeting": "Hello Ada"}
    task = run.task("greet_ref")
    assert task.status == "COMPLETED" and task.worker_id == "test-worker" and task.input == {"name": "Ada"}
    df = run.tasks_df()
    assert list(df["ref"]) == ["greet_ref"] and list(df["status"]) == ["COMPLETED"]
    assert run.failures_df().empty
    assert run.timeline() is not None
    bundle = run._repr_mimebundle_()
    assert "<svg" in bundle["text/html"] and "greet_ref" in bundle["text/html"]
    assert run.to_json()["workflowId"] == run.workflow_id
    inspector = run.inspect(task="greet_ref")
    assert "Hello Ada" in inspector.output.value and "greet_ref" in inspector.summary.value
    # the same execution, found again by id and by search
    again = client.execution(run.workflow_id)
    assert again is run and again.status == "COMPLETED"
    found = client.search(name="connect_hello", limit=50)
    assert run.workflow_id in [r["workflowId"] for r in found]
    assert run.workflow_id in [e.workflow_id for e in client.recent(50, name="connect_hello")]


def test_an_inline_definition_starts_without_registering_and_a_failing_worker_is_retried(client, workers) -> None:
    wf = flowkit.WorkflowBuilder("connect_inline_flaky")
    wf >> flaky(task_ref_name="flaky_ref", key="inline")
    run = client.start(wf).wait(30)
    assert run.status == "COMPLETED", run.reason
    attempts = [(t.status, t.retry_count) for t in run.tasks]
    assert attempts == [("FAILED", 0), ("COMPLETED", 1)]
    assert "first call for inline fails" in run.tasks[0].reason
    failures = run.failures_df()
    assert list(failures["ref"]) == ["flaky_ref"]


def test_operations_are_conductors_rest_calls(client) -> None:
    run = client.start("connect_waiting", {"n": 1})
    assert run.status == "RUNNING" and run.task("first").status == "SCHEDULED"
    assert run.pause().status == "PAUSED"
    with pytest.raises(flowkit.OperationNotAllowedError):
        run.retry()  # Conductor: only a terminal execution is retried (409)
    assert run.resume().status == "RUNNING"
    run.skip_task("second", task_output={"skipped": True})
    assert run.task("second").status == "SKIPPED"
    run.complete_task("first", {"done": 1})
    run.wait(10)
    assert run.status == "COMPLETED" and run.task("first").output == {"done": 1}

    other = client.start("connect_waiting", {"n": 2})
    other.fail_task("first", "no worker today")
    assert other.wait(10).status == "FAILED"
    assert other.retry().status == "RUNNING"
    assert [t.ref for t in other.tasks] == ["first", "first"] and other.tasks[-1].status == "SCHEDULED"
    assert other.terminate("enough").status == "TERMINATED" and other.reason == "enough"
    assert other.restart().status == "RUNNING" and [t.ref for t in other.tasks] == ["first"]
    other.complete_task("first", {"a": 1})
    other.complete_task("second", {"b": 2})
    assert other.wait(10).status == "COMPLETED"
    first_id = other.task("first").task_id
    other.rerun(from_task_id=other.task("second").task_id, task_input={"again": True})
    assert other.status == "RUNNING"
    assert other.task("first").task_id == first_id and other.task("second").input == {"again": True}
    with pytest.raises(flowkit.OperationNotAllowedError):
        other.update_task("second", "SCHEDULED")


def test_the_monitor_polls_the_server_until_completed(client) -> None:
    from flowkit.notebook import monitor

    # its own task name: the module's `workers` service polls connect_greet and may still be running
    @flowkit.worker_task(task_definition_name="connect_watched_greet")
    def watched_greet(name: str) -> dict[str, Any]:
        return {"greeting": f"Hello {name}"}

    wf = flowkit.WorkflowBuilder("connect_watched")
    wf >> watched_greet(task_ref_name="greet_ref", name=wf.input("name"))
    client.register_task_defs(flowkit.TaskDef(name="connect_watched_greet"))
    client.register(wf)
    run = client.start("connect_watched", {"name": "Grace"})
    view = monitor(run, min_interval=0.05, poll_interval=0.1, diagram_interval=0.1)
    try:
        assert "RUNNING" in view.status.value  # nobody polls yet
        with WorkerService(client.url, [watched_greet], poll_timeout_ms=200):
            deadline = time.monotonic() + 30
            while "COMPLETED" not in view.status.value and time.monotonic() < deadline:
                time.sleep(0.05)
        assert "COMPLETED" in view.status.value, view.status.value
        assert view.progress.value == view.progress.max == 1
        deadline = time.monotonic() + 10
        while "<svg" not in view.diagram.value and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "<svg" in view.diagram.value
        assert view.refresh_count > 1
        assert "COMPLETED" in view.result_html()
    finally:
        view.close()
    assert run._watchers == 0  # closing the monitor stops reading the server


def test_hooks_report_what_polling_sees(client) -> None:
    seen: list[str] = []
    ended = threading.Event()
    client.hooks.add(flowkit.runtime.TaskEnded, lambda e: seen.append(f"{e.task.ref}:{e.task.status}"))
    client.hooks.add(flowkit.runtime.RunEnded, lambda e: ended.set())
    run = client.start("connect_waiting", {})
    stop = run.watch()
    try:
        client.execution(run.workflow_id).complete_task("first", {})
        run.complete_task("second", {})
        assert ended.wait(10)
    finally:
        stop()
    assert seen == ["first:COMPLETED", "second:COMPLETED"]


def test_errors_name_the_server_and_the_fix(client, server) -> None:
    port = free_port()
    with pytest.raises(UnreachableError) as info:
        flowkit.connect(f"http://127.0.0.1:{port}")
    assert f"http://127.0.0.1:{port}" in str(info.value) and "Fix: start it" in str(info.value)
    with pytest.raises(flowkit.NotFoundError) as missing:
        client.start("connect_no_such_workflow", {})
    assert "connect_no_such_workflow" in str(missing.value) and server.url in str(missing.value)
    with pytest.raises(flowkit.NotFoundError):
        client.execution("no-such-execution")
    with pytest.raises(flowkit.InputError, match="not an http"):
        flowkit.connect("127.0.0.1:8080")


def test_a_server_with_a_key_wants_a_token(tmp_path: Path) -> None:
    keyed = Server(tmp_path / "auth.db", env={"FLOWKIT_SERVER_KEY_ID": "k1", "FLOWKIT_SERVER_KEY_SECRET": "s3cret"})
    keyed.start()
    try:
        anonymous = flowkit.connect(keyed.url)  # the server answers; the API wants a token
        with pytest.raises(AuthError) as refused:
            anonymous.workflow_defs()
        assert refused.value.status == 401 and "key_id and key_secret" in str(refused.value)
        with pytest.raises(AuthError) as wrong:
            flowkit.connect(keyed.url, key_id="k1", key_secret="nope")
        assert "refused the key 'k1'" in str(wrong.value)
        good = flowkit.connect(keyed.url, key_id="k1", key_secret="s3cret")
        good.register_task_defs(flowkit.TaskDef(name="connect_greet"))
        good.register(greet_flow("connect_keyed"))
        with WorkerService(keyed.url, [greet], key_id="k1", key_secret="s3cret", poll_timeout_ms=200):
            run = good.start("connect_keyed", {"name": "Key"}).wait(30)
        assert run.status == "COMPLETED" and run.output == {"greeting": "Hello Key"}
    finally:
        keyed.stop()


def test_flowkit_worker_runs_module_attr_workers_in_another_process(client, server, tmp_path: Path) -> None:
    (tmp_path / "connect_service_workers.py").write_text(
        "import flowkit\n\n"
        "def make():\n"
        "    @flowkit.worker_task(task_definition_name='connect_cli_greet')\n"
        "    def greet(name: str) -> dict:\n"
        "        print(f'hi {name}')\n"
        "        return {'greeting': f'Hi {name}', 'pid': __import__('os').getpid()}\n"
        "    return [greet]\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flowkit",
            "worker",
            "--server",
            server.url,
            "--workers",
            "connect_service_workers:make",
            "--worker-id",
            "cli-worker",
            "--poll-timeout-ms",
            "200",
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()  # the service says it polls once the server answered
        assert first.startswith(f"flowkit worker: polling {server.url} for connect_cli_greet"), first
        wf = {
            "name": "connect_cli",
            "version": 1,
            "tasks": [
                {
                    "name": "connect_cli_greet",
                    "taskReferenceName": "greet_ref",
                    "type": "SIMPLE",
                    "inputParameters": {"name": "${workflow.input.name}"},
                }
            ],
            "outputParameters": {"greeting": "${greet_ref.output.greeting}"},
        }
        run = client.start(wf, {"name": "CLI"}).wait(60)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert run.status == "COMPLETED" and run.output == {"greeting": "Hi CLI"}
    assert run.task("greet_ref").worker_id == "cli-worker" and run.task("greet_ref").output["pid"] == proc.pid
    assert run.fetch_logs("greet_ref").task("greet_ref").logs == [
        "hi CLI"
    ]  # printed by the worker, sent with its result
    assert "stopped after 1 task(s)" in err and "Traceback" not in err


def test_flowkit_worker_says_what_is_wrong_with_its_arguments(tmp_path: Path) -> None:
    port = free_port()
    for spec, expected in (
        ("flowkit.contrib:nope", "has no attribute 'nope'"),
        ("no_such_module_xyz:make", "importing 'no_such_module_xyz'"),
        ("flowkit.contrib:image_workers", f"cannot reach the Conductor server at http://127.0.0.1:{port}"),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "flowkit", "worker", "--server", f"http://127.0.0.1:{port}", "--workers", spec],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2 and expected in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_sub_workflows_dynamic_forks_and_loops_read_back_as_models(client, workers) -> None:
    client.register(
        {
            "name": "connect_shapes",
            "version": 1,
            "tasks": [
                {
                    "name": "fork",
                    "taskReferenceName": "fork_ref",
                    "type": "FORK_JOIN_DYNAMIC",
                    "inputParameters": {
                        "dynamicTasks": "${workflow.input.tasks}",
                        "dynamicTasksInput": "${workflow.input.inputs}",
                    },
                    "dynamicForkTasksParam": "dynamicTasks",
                    "dynamicForkTasksInputParamName": "dynamicTasksInput",
                },
                {"name": "join", "taskReferenceName": "join_ref", "type": "JOIN"},
                {
                    "name": "loop",
                    "taskReferenceName": "loop_ref",
                    "type": "DO_WHILE",
                    "loopCondition": "$.loop_ref['iteration'] < 2",
                    "loopOver": [
                        {
                            "name": "inline",
                            "taskReferenceName": "inline_ref",
                            "type": "INLINE",
                            "inputParameters": {"evaluatorType": "javascript", "expression": "1 + 1"},
                        }
                    ],
                },
                {
                    "name": "child",
                    "taskReferenceName": "child_ref",
                    "type": "SUB_WORKFLOW",
                    "subWorkflowParam": {"name": "connect_hello", "version": 1},
                    "inputParameters": {"name": "child"},
                },
            ],
        }
    )
    branches = [{"name": "connect_greet", "taskReferenceName": f"g{i}", "type": "SIMPLE"} for i in (1, 2)]
    run = client.start(
        "connect_shapes", {"tasks": branches, "inputs": {"g1": {"name": "one"}, "g2": {"name": "two"}}}
    ).wait(60)
    assert run.status == "COMPLETED", run.reason
    assert run.task("g2").output == {"greeting": "Hello two"}
    assert run.task("inline_ref__2").output == {"result": 2}
    child = run.sub_workflow("child_ref")
    assert isinstance(child, RemoteExecution) and child.output == {"greeting": "Hello child"}
    assert child.parent is not None and child.parent.workflow_id == run.workflow_id
    df = run.tasks_df(include_children=True)
    assert {"g1", "g2", "inline_ref__1", "inline_ref__2", "child_ref"} <= set(df["ref"])
    assert set(df[df["depth"] == 1]["ref"]) == {"greet_ref"}
    html = run._repr_mimebundle_()["text/html"]
    assert "<svg" in html and "g2" in html and "loop_ref" in html


def test_the_monitors_buttons_steer_the_execution_on_the_server(client) -> None:
    from flowkit.notebook import monitor

    run = client.start("connect_waiting", {})
    view = monitor(run, diagram=False)
    try:
        assert not view.pause_button.disabled and view.resume_button.disabled
        view.pause_button.click()
        assert client.execution(run.workflow_id).refresh().status == "PAUSED"
        assert "PAUSED" in view.status.value and not view.resume_button.disabled
        view.resume_button.click()
        view.terminate_button.click()
        assert client.raw_execution(run.workflow_id, include_tasks=False)["status"] == "TERMINATED"
        assert "TERMINATED" in view.status.value and not view.retry_button.disabled
        view.retry_button.click()
        assert run.status == "RUNNING" and "Retry: done" in view.message.value
    finally:
        view.close()
        run.terminate()
