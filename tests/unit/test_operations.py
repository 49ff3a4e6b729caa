"""Conductor's workflow operations (WorkflowExecutorOps.java) on executions run in the foreground (run) and background (start)."""

import threading
import time
from itertools import pairwise

import pytest

import flowkit
from flowkit.testing import VirtualClock


def chain(*names, **extra):
    tasks = [{"name": n, "taskReferenceName": n, "inputParameters": {"x": "${workflow.input.x}"}} for n in names]
    return {"name": "ops", "tasks": tasks, **extra}


class Flaky:
    """A worker that fails until ``fixed`` is set."""

    def __init__(self):
        self.fixed = False
        self.calls = 0

    def __call__(self, x: int = 0) -> dict:
        self.calls += 1
        if not self.fixed:
            raise flowkit.NonRetryableError("service down")
        return {"ok": True, "x": x}


def ok(x: int = 0) -> dict:
    return {"x": x}


def test_start_returns_at_once_and_wait_blocks_until_the_end():
    gate = threading.Event()

    def slow(x: int = 0) -> dict:
        gate.wait(5)
        return {"done": True}

    ex = flowkit.start(chain("a", "b"), {"x": 1}, workers={"a": slow, "b": ok})
    assert ex.status == "RUNNING"
    assert ex.wait(timeout=0.05).status == "RUNNING"
    gate.set()
    assert ex.wait(timeout=5).status == "COMPLETED"
    assert [t.status for t in ex.tasks] == ["COMPLETED", "COMPLETED"]


def test_pause_lets_the_running_task_finish_but_starts_nothing_until_resume():
    started, release = threading.Event(), threading.Event()

    def first(x: int = 0) -> dict:
        started.set()
        release.wait(5)
        return {}

    ex = flowkit.start(chain("a", "b"), {}, workers={"a": first, "b": ok})
    assert started.wait(5)
    ex.pause()
    assert ex.status == "PAUSED"
    release.set()
    time.sleep(0.2)
    assert ex.status == "PAUSED"
    assert [t.ref for t in ex.tasks] == ["a"] and ex.task("a").status == "COMPLETED"
    ex.resume()
    assert ex.wait(5).status == "COMPLETED"
    assert ex.model.last_retried_time > 0
    with pytest.raises(flowkit.OperationNotAllowedError, match="not PAUSED"):
        ex.resume()
    with pytest.raises(flowkit.OperationNotAllowedError, match="terminal"):
        ex.pause()


def test_terminate_cancels_running_tasks_and_terminates_sub_workflows_without_failure_workflow():
    child = {"name": "child", "tasks": [{"name": "wait_here", "taskReferenceName": "h", "type": "HUMAN"}]}
    parent = {
        "name": "parent",
        "failureWorkflow": "cleanup",
        "tasks": [
            {"name": "child", "taskReferenceName": "sub", "type": "SUB_WORKFLOW", "subWorkflowParam": {"name": "child"}}
        ],
    }
    cleanup = {"name": "cleanup", "tasks": [{"name": "n", "taskReferenceName": "n", "type": "NOOP"}]}
    ex = flowkit.run(parent, workflows=[child, cleanup])
    assert ex.status == "RUNNING"
    kid = ex.sub_workflow("sub")
    assert kid.parent.workflow_id == ex.workflow_id
    ex.terminate("operator said stop")
    assert ex.status == "TERMINATED" and ex.reason == "operator said stop"
    assert ex.task("sub").status == "CANCELED"
    assert kid.status == "TERMINATED" and kid.task("h").status == "CANCELED"
    assert "conductor.failure_workflow" not in ex.output
    ex.terminate("again")  # already TERMINATED: a no-op
    assert ex.reason == "operator said stop"


def test_terminating_a_child_terminates_the_parent_through_its_canceled_task():
    child = {"name": "child", "tasks": [{"name": "wait_here", "taskReferenceName": "h", "type": "HUMAN"}]}
    parent = {
        "name": "parent",
        "tasks": [
            {"name": "child", "taskReferenceName": "sub", "type": "SUB_WORKFLOW", "subWorkflowParam": {"name": "child"}}
        ],
    }
    ex = flowkit.run(parent, workflows=[child])
    ex.sub_workflow("sub").terminate("child stopped")
    assert ex.task("sub").status == "CANCELED"
    assert ex.status == "TERMINATED"


def test_completed_workflows_cannot_be_terminated_or_retried_and_running_ones_cannot_be_restarted():
    done = flowkit.run(chain("a"), workers={"a": ok})
    with pytest.raises(flowkit.OperationNotAllowedError, match="COMPLETED"):
        done.terminate()
    with pytest.raises(flowkit.OperationNotAllowedError, match="no retryable tasks"):
        done.retry()
    waiting = flowkit.run({"name": "h", "tasks": [{"name": "h", "taskReferenceName": "h", "type": "HUMAN"}]})
    with pytest.raises(flowkit.OperationNotAllowedError, match="only a terminal workflow can be restarted"):
        waiting.restart()
    with pytest.raises(flowkit.OperationNotAllowedError, match="only a terminal workflow can be retried"):
        waiting.retry()


def test_retry_after_fixing_the_worker_continues_from_the_failed_task():
    flaky = Flaky()
    ex = flowkit.run(chain("a", "b", "c"), {"x": 2}, workers={"a": ok, "b": flaky, "c": ok})
    assert ex.status == "FAILED"
    flaky.fixed = True
    ex.retry()
    assert ex.status == "COMPLETED"
    assert [(t.ref, t.status, t.retry_count) for t in ex.tasks] == [
        ("a", "COMPLETED", 0),
        ("b", "FAILED_WITH_TERMINAL_ERROR", 0),
        ("b", "COMPLETED", 1),
        ("c", "COMPLETED", 0),
    ]
    assert ex.failed_reference_task_names == ["b"]


def test_restart_runs_everything_again_with_the_same_id_unless_not_restartable():
    calls = []

    def count(x: int = 0) -> dict:
        calls.append(x)
        return {}

    ex = flowkit.run(chain("a"), {"x": 3}, workers={"a": count})
    first_id = ex.workflow_id
    ex.restart()
    assert ex.workflow_id == first_id and ex.status == "COMPLETED" and calls == [3, 3] and len(ex.tasks) == 1
    locked = flowkit.run(chain("a", restartable=False), workers={"a": count})
    with pytest.raises(flowkit.OperationNotAllowedError, match="not restartable"):
        locked.restart()


def test_rerun_from_a_task_with_new_input_removes_later_tasks():
    seen = []

    def b(x: int = 0) -> dict:
        seen.append(x)
        return {"x": x * 10}

    ex = flowkit.run(chain("a", "b", "c"), {"x": 1}, workers={"a": ok, "b": b, "c": ok})
    b_task = ex.task("b")
    ex.rerun(from_task_id=b_task.task_id, task_input={"x": 7})
    assert ex.status == "COMPLETED"
    assert seen == [1, 7]
    assert [t.ref for t in ex.tasks] == ["a", "b", "c"]
    assert ex.task("b").output == {"x": 70}
    with pytest.raises(flowkit.NotFoundError):
        ex.rerun(from_task_id="no-such-task")


def test_rerun_from_the_start_with_new_workflow_input():
    ex = flowkit.run(chain("a"), {"x": 1}, workers={"a": ok})
    ex.rerun(workflow_input={"x": 5}, correlation_id="again")
    assert ex.output == {"x": 5} and ex.correlation_id == "again"


def test_skip_task_inserts_a_skipped_task_whose_output_downstream_tasks_see():
    definition = {
        "name": "skip",
        "tasks": [
            {"name": "gate", "taskReferenceName": "gate", "type": "HUMAN"},
            {"name": "enrich", "taskReferenceName": "enrich"},
            {"name": "use", "taskReferenceName": "use", "inputParameters": {"x": "${enrich.output.value}"}},
        ],
    }
    ex = flowkit.run(definition, workers={"enrich": ok, "use": ok})
    ex.skip_task("enrich", task_output={"value": 42})
    with pytest.raises(flowkit.OperationNotAllowedError, match="already been scheduled"):
        ex.skip_task("gate")
    ex.complete_task("gate", {})
    assert ex.status == "COMPLETED"
    assert ex.task("enrich").status == "SKIPPED"
    assert ex.task("use").input == {"x": 42}
    with pytest.raises(flowkit.OperationNotAllowedError, match="only be skipped while it is RUNNING"):
        ex.skip_task("use")


def test_failure_workflow_gets_conductors_inputs():
    cleanup = {"name": "cleanup", "tasks": [{"name": "n", "taskReferenceName": "n", "type": "NOOP"}]}
    flaky = Flaky()
    ex = flowkit.run(
        chain("a", failureWorkflow="cleanup"),
        {"x": 9},
        workers={"a": flaky},
        workflows=[cleanup],
        correlation_id="corr-1",
    )
    assert ex.status == "FAILED"
    failure = ex.execution(ex.output["conductor.failure_workflow"])
    assert failure.status == "COMPLETED" and failure.correlation_id == "corr-1"
    assert failure.input["workflowId"] == ex.workflow_id
    assert failure.input["failureStatus"] == "FAILED"
    assert failure.input["failureTaskId"] == ex.task("a").task_id
    assert failure.input["reason"] == ex.reason
    assert failure.input["x"] == 9
    assert failure.input["failedWorkflow"]["workflowId"] == ex.workflow_id


def test_retry_with_resume_subworkflow_tasks_retries_inside_the_child():
    flaky = Flaky()
    child = {"name": "child", "tasks": [{"name": "work", "taskReferenceName": "w"}]}
    parent = {
        "name": "parent",
        "tasks": [
            {
                "name": "child",
                "taskReferenceName": "sub",
                "type": "SUB_WORKFLOW",
                "subWorkflowParam": {"name": "child"},
            },
            {"name": "after", "taskReferenceName": "after"},
        ],
    }
    ex = flowkit.run(parent, workers={"work": flaky, "after": ok}, workflows=[child])
    assert ex.status == "FAILED"
    kid_id = ex.task("sub").sub_workflow_id
    flaky.fixed = True
    ex.retry(resume_subworkflow_tasks=True)
    assert ex.status == "COMPLETED"
    assert ex.task("sub").sub_workflow_id == kid_id  # same child, retried in place
    assert ex.execution(kid_id).status == "COMPLETED"


def test_background_operations_and_human_completion():
    ex = flowkit.start(
        {
            "name": "h",
            "tasks": [
                {"name": "approve", "taskReferenceName": "approve", "type": "HUMAN"},
                {"name": "after", "taskReferenceName": "after", "inputParameters": {"ok": "${approve.output.ok}"}},
            ],
        },
        workers={"after": lambda ok=None: {"ok": ok}},
    )
    deadline = time.time() + 5
    while not ex.tasks and time.time() < deadline:
        time.sleep(0.01)
    ex.complete_task("approve", {"ok": True})
    assert ex.wait(5).status == "COMPLETED"
    assert ex.output == {"ok": True}


def test_virtual_clock_backoff_in_background_run():
    flaky = Flaky()
    ex = flowkit.start(
        chain("a"),
        {},
        workers={"a": lambda x=0: (_ for _ in ()).throw(RuntimeError("x"))},
        task_defs=[{"name": "a", "retryCount": 2, "retryDelaySeconds": 600}],
        clock=VirtualClock(),
    )
    assert ex.wait(5).status == "FAILED"
    times = [t.start_time for t in ex.tasks]
    assert [b - a for a, b in pairwise(times)] == [600_000, 600_000]
    del flaky


def test_terminating_a_failed_workflow_marks_it_terminated_as_conductor_does():
    flaky = Flaky()
    ex = flowkit.run(chain("a"), workers={"a": flaky})
    assert ex.status == "FAILED"
    ex.terminate("cleanup")
    assert ex.status == "TERMINATED" and ex.reason == "cleanup"


def test_cli_lists_shows_and_operates_on_stored_executions(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    store = str(tmp_path / "cli.db")

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "flowkit", *args], capture_output=True, text=True, cwd=root)

    base = ("--workers", "examples/orders/workers.py", "--defs", "examples/orders", "--virtual-clock", "--store", store)
    assert (
        cli(
            "run",
            "examples/orders/workflow.json",
            "--input",
            '{"items": ["unicorn"], "card": "4111", "address": "x"}',
            *base,
        ).returncode
        == 1
    )
    assert (
        cli(
            "run",
            "examples/orders/workflow.json",
            "--input",
            '{"items": ["book"], "card": "4111", "address": "x"}',
            *base,
        ).returncode
        == 0
    )
    listed = cli("list", "--store", store, "--json")
    rows = json.loads(listed.stdout)
    assert sorted(r["status"] for r in rows) == ["COMPLETED", "FAILED"]
    failed = next(r["workflow_id"] for r in rows if r["status"] == "FAILED")
    assert json.loads(cli("list", "--store", store, "--json", "--status", "FAILED").stdout)[0]["workflow_id"] == failed
    shown = json.loads(cli("show", failed, "--store", store).stdout)
    assert shown["reasonForIncompletion"] == "out of stock" and shown["tasks"][-1]["taskType"] == "TERMINATE"
    refused = cli("retry", failed, "--store", store)
    assert refused.returncode == 2 and "no retryable tasks" in refused.stderr and "Traceback" not in refused.stderr
    done = cli("terminate", failed, "--store", store, "--reason", "tidy up")
    assert done.returncode == 1 and "TERMINATED" in done.stdout
    assert json.loads(cli("show", failed, "--store", store, "--summary").stdout)["status"] == "TERMINATED"
    restarted = cli("restart", failed, "--store", store, "--workers", "examples/orders/workers.py")
    assert "FAILED (out of stock)" in restarted.stdout  # same input: out of stock again
    missing = cli("show", "no-such-id", "--store", store)
    assert missing.returncode == 2 and "no execution 'no-such-id'" in missing.stderr
