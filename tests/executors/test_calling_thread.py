"""The rule for running a worker on the calling thread with the default threads executor (README,
"Durability and speed"): only in the foreground, only a lone task, only with no timer due within the hour."""

from __future__ import annotations

import threading
from typing import Any

import flowkit


def _where() -> dict[str, Any]:
    return {"main": threading.current_thread() is threading.main_thread()}


def _chain(n: int) -> dict[str, Any]:
    return {"name": "where", "version": 1, "tasks": [{"name": "where", "taskReferenceName": f"w{i}"} for i in range(n)]}


def test_a_lone_task_of_a_foreground_run_runs_on_the_calling_thread() -> None:
    ex = flowkit.run(_chain(3), {}, workers={"where": _where}, store="memory")
    assert [t.output["main"] for t in ex.tasks] == [True, True, True]


def test_a_task_with_a_timeout_under_an_hour_runs_on_a_worker_thread() -> None:
    for task_def in (
        {"name": "where", "responseTimeoutSeconds": 10},
        {"name": "where", "timeoutSeconds": 30, "responseTimeoutSeconds": 10},
    ):
        ex = flowkit.run(_chain(2), {}, workers={"where": _where}, store="memory", task_defs=[task_def])
        assert [t.output["main"] for t in ex.tasks] == [False, False], task_def


def test_a_workflow_timeout_or_parallel_branches_use_worker_threads() -> None:
    timed = {**_chain(2), "timeoutSeconds": 60}
    ex = flowkit.run(timed, {}, workers={"where": _where}, store="memory")
    assert [t.output["main"] for t in ex.tasks] == [False, False]
    fork = {
        "name": "fork",
        "version": 1,
        "tasks": [
            {
                "name": "f",
                "taskReferenceName": "f",
                "type": "FORK_JOIN",
                "forkTasks": [
                    [{"name": "where", "taskReferenceName": "a"}],
                    [{"name": "where", "taskReferenceName": "b"}],
                ],
            },
            {"name": "j", "taskReferenceName": "j", "type": "JOIN", "joinOn": ["a", "b"]},
        ],
    }
    ex = flowkit.run(fork, {}, workers={"where": _where}, store="memory")
    assert [ex.task(r).output["main"] for r in ("a", "b")] == [False, False]


def test_a_started_execution_never_runs_workers_on_the_caller() -> None:
    ex = flowkit.start(_chain(2), {}, workers={"where": _where}, store="memory").wait(30)
    assert [t.output["main"] for t in ex.tasks] == [False, False]


def test_a_worker_on_the_calling_thread_that_answers_after_its_response_timeout_times_out() -> None:
    # The inline executor arms no response timer at the start (Engine.task_started(watch=False)); a
    # result that comes too late must time the task out all the same, with Conductor's reason.
    from flowkit.testing import VirtualClock

    clock = VirtualClock()

    def slow(late_ms: int) -> dict[str, Any]:
        clock.advance(late_ms)
        return {"done": True}

    for executor in ("inline", "threads"):
        for late_ms, status in ((9_999, "COMPLETED"), (10_000, "TIMED_OUT")):
            ex = flowkit.run(
                {
                    **_chain(1),
                    "tasks": [{"name": "slow", "taskReferenceName": "s", "inputParameters": {"late_ms": late_ms}}],
                },
                {},
                workers={"slow": slow},
                executor=executor,
                clock=clock,
                store="memory",
                task_defs=[{"name": "slow", "retryCount": 0, "responseTimeoutSeconds": 10}],
            )
            task = ex.task("s")
            assert task.status.value == status, (executor, late_ms)
            if status == "TIMED_OUT":
                assert task.reason.startswith("responseTimeout: 10 exceeded for the taskId"), task.reason
                assert ex.status.value == "TIMED_OUT"
