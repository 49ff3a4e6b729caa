"""Retries, backoff, task/workflow timeouts, optional/permissive tasks, rate and concurrency limits
(Conductor's DeciderService.retry and its timeout checks), through the pure engine (Harness) and through ``flowkit.run``."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from conftest import Harness

import flowkit
from flowkit import TaskDef, WorkflowDef
from flowkit.engine import retry_delay_ms
from flowkit.testing import VirtualClock


def one_task(name: str = "w", **task_fields: Any) -> WorkflowDef:
    return WorkflowDef.from_json({"name": "one", "tasks": [{"name": name, "taskReferenceName": "x", **task_fields}]})


def two_tasks(**first_fields: Any) -> WorkflowDef:
    return WorkflowDef.from_json(
        {
            "name": "two",
            "tasks": [
                {"name": "w", "taskReferenceName": "x", **first_fields},
                {"name": "next", "taskReferenceName": "y"},
            ],
        }
    )


# ---------------------------------------------------------------------------------------------- delay arithmetic
@pytest.mark.parametrize(
    ("fields", "retry_count", "expected_ms"),
    [
        ({}, 0, 60_000),  # Conductor's defaults: FIXED, 60 s
        ({}, 5, 60_000),
        ({"retry_delay_seconds": 0}, 3, 0),
        ({"retry_logic": "LINEAR_BACKOFF", "retry_delay_seconds": 10}, 0, 10_000),  # scale factor 1
        ({"retry_logic": "LINEAR_BACKOFF", "retry_delay_seconds": 10, "backoff_scale_factor": 3}, 0, 30_000),
        ({"retry_logic": "LINEAR_BACKOFF", "retry_delay_seconds": 10, "backoff_scale_factor": 3}, 2, 90_000),
        ({"retry_logic": "EXPONENTIAL_BACKOFF", "retry_delay_seconds": 5}, 0, 5_000),
        ({"retry_logic": "EXPONENTIAL_BACKOFF", "retry_delay_seconds": 5}, 4, 80_000),
        ({"retry_logic": "EXPONENTIAL_BACKOFF", "retry_delay_seconds": 5, "backoff_scale_factor": 9}, 1, 10_000),
        ({"retry_logic": "EXPONENTIAL_BACKOFF", "retry_delay_seconds": 5, "max_retry_delay_seconds": 30}, 4, 30_000),
        ({"max_retry_delay_seconds": 30}, 0, 30_000),  # the cap applies to FIXED too
        (
            {"retry_logic": "LINEAR_BACKOFF", "retry_delay_seconds": 60, "backoff_scale_factor": 2},
            2**31 - 101,
            2147483647_000,
        ),
        ({"retry_logic": "EXPONENTIAL_BACKOFF", "retry_delay_seconds": 60}, 2**31 - 101, 2147483647_000),
        ({"retry_logic": "EXPONENTIAL_BACKOFF", "retry_delay_seconds": 1}, 40, 2147483647_000),
        (
            {"retry_logic": "EXPONENTIAL_BACKOFF", "retry_delay_seconds": 60, "max_retry_delay_seconds": 600},
            2**31 - 101,
            600_000,
        ),
    ],
)
def test_retry_delay_ms(fields: dict, retry_count: int, expected_ms: int) -> None:
    td = TaskDef(name="t", **fields)
    assert retry_delay_ms(td, retry_count, lambda n: pytest.fail("no jitter configured")) == expected_ms


def test_retry_delay_jitter_is_drawn_from_zero_to_backoff_jitter_ms() -> None:
    td = TaskDef(name="t", retry_delay_seconds=10, backoff_jitter_ms=700)
    calls: list[int] = []
    assert retry_delay_ms(td, 0, lambda n: calls.append(n) or 321) == 10_321
    assert calls == [700]


def test_fixed_retry_through_the_engine_sets_callback_and_dispatch_time() -> None:
    h = Harness(task_defs={"w": TaskDef(name="w", retry_count=2, retry_delay_seconds=45)})
    wf = h.start(one_task(), {})
    h.advance(3)
    h.fail("x", "boom")
    retry = wf.tasks[1]
    assert (retry.status, retry.retry_count, retry.callback_after_seconds, retry.start_delay) == (
        "SCHEDULED",
        1,
        45,
        45,
    )
    assert retry.scheduled_time == h.now
    assert retry.reason == "boom"  # copied from the failed attempt
    assert h.dispatches[-1].task is retry and h.dispatches[-1].not_before == h.now + 45_000
    h.advance(44.999)
    assert h.poll("x") is None
    h.advance(0.001)
    assert h.poll("x") is retry
    assert retry.callback_after_seconds == 0  # a poll resets it, as in Conductor


def test_workflow_task_retry_count_zero_overrides_the_task_def() -> None:
    h = Harness(task_defs={"w": TaskDef(name="w", retry_count=5, retry_delay_seconds=0)})
    wf = h.start(one_task(retryCount=0), {})
    h.fail("x", "no retries")
    assert wf.status == "FAILED"
    assert len(wf.tasks) == 1


def test_unregistered_simple_task_gets_conductor_defaults() -> None:
    h = Harness(task_defs={})
    wf = h.start(one_task("unregistered"), {})
    task = wf.tasks[0]
    assert task.response_timeout_seconds == 3600
    for attempt in range(4):  # retryCount 3 => 4 attempts, 60 s apart
        h.fail("x", f"attempt {attempt}")
        if attempt < 3:
            assert wf.tasks[-1].callback_after_seconds == 60
            h.advance(60)
    assert wf.status == "FAILED"
    assert [t.retry_count for t in wf.tasks] == [0, 1, 2, 3]


def test_canceled_and_terminal_errors_are_never_retried() -> None:
    h = Harness(task_defs={"w": TaskDef(name="w", retry_count=3, retry_delay_seconds=0)})
    wf = h.start(one_task(), {})
    h.fail("x", "fatal", terminal=True)
    assert wf.status == "FAILED" and len(wf.tasks) == 1
    h = Harness(task_defs={"w": TaskDef(name="w", retry_count=3, retry_delay_seconds=0)})
    wf = h.start(one_task(), {})
    h.update("x", "CANCELED", reason="stop")
    assert wf.status == "TERMINATED"
    assert wf.reason == f"Task {wf.tasks[0].task_id} failed with status: TERMINATED and reason: 'stop'"


# ---------------------------------------------------------------------------------------------- response timeout
def test_response_timeout_counts_from_the_last_update() -> None:
    h = Harness(task_defs={"w": TaskDef(name="w", retry_count=1, retry_delay_seconds=0, response_timeout_seconds=10)})
    wf = h.start(one_task(), {})
    h.poll("x")
    h.advance(8)
    h.update("x", "IN_PROGRESS")  # heartbeat: back to the queue, visible at once
    assert wf.tasks[0].status == "SCHEDULED"
    assert h.poll("x") is wf.tasks[0]
    h.advance(9)  # 17 s since the first poll, 9 s since the last update
    assert wf.tasks[0].status == "IN_PROGRESS"
    h.advance(1)
    assert [(t.status, t.retry_count) for t in wf.tasks] == [("TIMED_OUT", 0), ("SCHEDULED", 1)]
    assert wf.tasks[0].poll_count == 2


def test_response_timeout_after_retries_exhausted_times_the_workflow_out() -> None:
    h = Harness(task_defs={"w": TaskDef(name="w", retry_count=0, response_timeout_seconds=5)})
    wf = h.start(one_task(), {})
    task = h.poll("x")
    h.advance(5)
    assert wf.status == "TIMED_OUT"  # TIMED_OUT task => TIMED_OUT workflow, not FAILED
    assert wf.reason == (
        f"Task {task.task_id} failed with status: TIMED_OUT and reason: "
        f"'responseTimeout: 5 exceeded for the taskId: {task.task_id} with Task Definition: w'"
    )


# ---------------------------------------------------------------------------------------------- timeoutSeconds
def _timeout_def(policy: str, **more: Any) -> dict[str, TaskDef]:
    fields = {"retry_count": 1, "retry_delay_seconds": 0, "timeout_seconds": 20, "response_timeout_seconds": 20}
    fields.update(more)
    return {"w": TaskDef(name="w", timeout_policy=policy, **fields)}


def test_timeout_policy_retry() -> None:
    h = Harness(task_defs=_timeout_def("RETRY", response_timeout_seconds=15))
    wf = h.start(one_task(), {})
    h.advance(100)  # waiting in the queue does not count: the clock starts at the poll
    assert wf.tasks[0].status == "SCHEDULED"
    h.poll("x")
    h.advance(10)
    h.update("x", "IN_PROGRESS")  # keeps the response timeout away, not the task timeout
    h.poll("x")
    h.advance(10)
    assert wf.status == "RUNNING"
    assert [t.status for t in wf.tasks] == ["TIMED_OUT", "SCHEDULED"]
    assert wf.tasks[0].reason == (
        "Task timed out after 20 seconds. Timeout configured as 20 seconds. Timeout policy configured to RETRY"
    )
    h.complete("x", {"ok": True})
    assert wf.status == "COMPLETED"


def test_timeout_policy_time_out_wf() -> None:
    h = Harness(task_defs=_timeout_def("TIME_OUT_WF"))
    wf = h.start(two_tasks(), {})
    h.poll("x")
    h.advance(20)
    assert wf.status == "TIMED_OUT"
    assert [t.status for t in wf.tasks] == ["TIMED_OUT"]  # no retry despite retryCount 1
    assert wf.reason == (
        "Task timed out after 20 seconds. Timeout configured as 20 seconds. Timeout policy configured to TIME_OUT_WF"
    )


def test_timeout_policy_time_out_wf_wins_over_a_simultaneous_response_timeout() -> None:
    h = Harness(task_defs=_timeout_def("TIME_OUT_WF"))  # timeoutSeconds == responseTimeoutSeconds == 20
    wf = h.start(two_tasks(), {})
    h.poll("x")
    h.advance(25)
    assert wf.status == "TIMED_OUT"
    assert len(wf.tasks) == 1


def test_timeout_policy_alert_only_keeps_the_task_running() -> None:
    h = Harness(task_defs=_timeout_def("ALERT_ONLY", response_timeout_seconds=1000))
    wf = h.start(one_task(), {})
    task = h.poll("x")
    h.advance(500)
    assert task.status == "IN_PROGRESS"
    assert wf.status == "RUNNING"
    h.complete("x", {})
    assert wf.status == "COMPLETED"


def test_timeout_clock_includes_the_start_delay() -> None:
    h = Harness(task_defs=_timeout_def("TIME_OUT_WF", response_timeout_seconds=1000))
    wf = h.start(one_task(startDelay=30), {})
    task = wf.tasks[0]
    assert task.callback_after_seconds == 30 and task.start_delay == 30
    assert h.dispatches[-1].not_before == h.now + 30_000
    assert h.poll("x") is None
    h.advance(30)
    assert h.poll("x") is task
    h.advance(49)  # start + (startDelay 30 + timeout 20) => 50 s after the poll
    assert wf.status == "RUNNING" and task.status == "IN_PROGRESS"
    h.advance(1)
    assert wf.status == "TIMED_OUT"
    assert task.status == "TIMED_OUT"
    assert task.reason == (  # elapsed = now - (startTime + startDelay)
        "Task timed out after 20 seconds. Timeout configured as 20 seconds. Timeout policy configured to TIME_OUT_WF"
    )


# ---------------------------------------------------------------------------------------------- pollTimeoutSeconds
def test_poll_timeout_time_out_wf() -> None:
    h = Harness(task_defs={"w": TaskDef(name="w", poll_timeout_seconds=30)})
    wf = h.start(one_task(), {})
    h.advance(29)
    assert wf.status == "RUNNING"
    h.advance(1)
    assert wf.status == "TIMED_OUT"
    assert wf.tasks[0].status == "TIMED_OUT"
    assert wf.tasks[0].reason == (
        "Task poll timed out after 30 seconds. Poll timeout configured as 30 seconds. Timeout policy configured to TIME_OUT_WF"
    )


def test_poll_timeout_retry_and_a_timely_poll() -> None:
    h = Harness(
        task_defs={"w": TaskDef(name="w", poll_timeout_seconds=30, timeout_policy="RETRY", retry_delay_seconds=0)}
    )
    wf = h.start(one_task(), {})
    h.advance(30)
    assert [t.status for t in wf.tasks] == ["TIMED_OUT", "SCHEDULED"]
    h.advance(10)
    h.poll("x")
    h.advance(100)  # polled: the poll timeout no longer applies
    assert [t.status for t in wf.tasks] == ["TIMED_OUT", "IN_PROGRESS"]


def test_poll_timeout_with_a_start_delay_counts_it_twice_as_conductor_does() -> None:
    h = Harness(task_defs={"w": TaskDef(name="w", poll_timeout_seconds=30)})
    wf = h.start(one_task(startDelay=10), {})
    h.advance(49.999)  # scheduled + startDelay 10 + (pollTimeout 30 + callbackAfterSeconds 10)
    assert wf.status == "RUNNING"
    h.advance(0.001)
    assert wf.status == "TIMED_OUT"
    assert wf.tasks[0].reason == (
        "Task poll timed out after 40 seconds. Poll timeout configured as 30 seconds. Timeout policy configured to TIME_OUT_WF"
    )


# ---------------------------------------------------------------------------------------------- totalTimeoutSeconds
def test_total_timeout_time_out_wf_across_attempts() -> None:
    td = TaskDef(name="w", retry_count=10, retry_delay_seconds=4, total_timeout_seconds=10)
    h = Harness(task_defs={"w": td})
    wf = h.start(one_task(), {})
    h.fail("x", "1")
    h.advance(4)
    h.fail("x", "2")
    h.advance(4)
    h.poll("x")
    assert wf.status == "RUNNING"
    h.advance(2)  # 10 s after the first attempt was scheduled
    assert wf.status == "TIMED_OUT"
    assert [t.status for t in wf.tasks] == ["FAILED", "FAILED", "TIMED_OUT"]
    assert all(t.first_scheduled_time == wf.tasks[0].scheduled_time for t in wf.tasks)


# ---------------------------------------------------------------------------------------------- workflow timeout
def test_workflow_timeout_time_out_wf_cancels_running_tasks() -> None:
    definition = two_tasks().evolve(timeout_seconds=10, timeout_policy="TIME_OUT_WF")
    h = Harness(task_defs={"w": TaskDef(name="w")})
    wf = h.start(definition, {})
    h.poll("x")
    h.advance(9.999)
    assert wf.status == "RUNNING"
    h.advance(0.001)
    assert wf.status == "TIMED_OUT"
    assert (
        wf.reason
        == "Workflow timed out after 10 seconds. Timeout configured as 10 seconds. Timeout policy configured to TIME_OUT_WF"
    )
    assert [t.status for t in wf.tasks] == ["CANCELED"]
    assert wf.end_time == h.now
    assert h.send(wf.tasks[0], "COMPLETED", output={"late": True}) == []  # a late result changes nothing
    assert wf.status == "TIMED_OUT" and [t.status for t in wf.tasks] == ["CANCELED"]
    assert wf.tasks[0].output == {}


def test_workflow_timeout_alert_only_keeps_running() -> None:
    definition = two_tasks().evolve(timeout_seconds=10, timeout_policy="ALERT_ONLY")
    h = Harness(task_defs={"w": TaskDef(name="w"), "next": TaskDef(name="next")})
    wf = h.start(definition, {})
    h.advance(60)
    assert wf.status == "RUNNING"
    h.complete("x", {})
    h.complete("y", {})
    assert wf.status == "COMPLETED"


# ---------------------------------------------------------------------------------------------- optional / permissive
def test_optional_task_ends_completed_with_errors_and_the_workflow_goes_on() -> None:
    h = Harness(task_defs={"w": TaskDef(name="w", retry_count=1, retry_delay_seconds=0), "next": TaskDef(name="next")})
    wf = h.start(two_tasks(optional=True), {})
    h.fail("x", "1")
    h.fail("x", "2")
    assert [(t.task_type, t.status) for t in wf.tasks] == [
        ("w", "FAILED"),
        ("w", "COMPLETED_WITH_ERRORS"),
        ("next", "SCHEDULED"),
    ]
    h.complete("y", {})
    assert wf.status == "COMPLETED"
    assert list(wf.failed_refs) == ["x"]


def test_optional_forked_task_makes_the_join_complete_with_errors() -> None:
    definition = WorkflowDef.from_json(
        {
            "name": "f",
            "tasks": [
                {
                    "name": "fork",
                    "taskReferenceName": "fork",
                    "type": "FORK_JOIN",
                    "forkTasks": [
                        [{"name": "w", "taskReferenceName": "a", "optional": True}],
                        [{"name": "w", "taskReferenceName": "b"}],
                    ],
                },
                {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["a", "b"]},
            ],
        }
    )
    h = Harness(task_defs={"w": TaskDef(name="w", retry_count=0)})
    wf = h.start(definition, {})
    h.fail("a", "optional failure")
    h.complete("b", {"v": 1})
    join = h.task("join")
    assert join.status == "COMPLETED_WITH_ERRORS"
    assert join.reason == f"w/{h.task('a').task_id} completed with errors"
    assert join.output == {"b": {"v": 1}}
    assert wf.status == "COMPLETED"


def test_permissive_task_fails_the_workflow_only_at_the_end() -> None:
    definition = WorkflowDef.from_json(
        {
            "name": "p",
            "tasks": [
                {"name": "w", "taskReferenceName": "x", "permissive": True},
                {"name": "next", "taskReferenceName": "y", "inputParameters": {"xStatus": "${x.status}"}},
            ],
        }
    )
    h = Harness(task_defs={"w": TaskDef(name="w", retry_count=0), "next": TaskDef(name="next")})
    wf = h.start(definition, {})
    failed = h.fail("x", "permissive failure")
    assert wf.status == "RUNNING"
    y = h.poll("y")
    assert y is not None and y.input == {"xStatus": "FAILED"}
    h.complete("y", {})
    assert wf.status == "FAILED"
    assert wf.reason == f"Task {failed.task_id} failed with status: FAILED and reason: 'permissive failure'"
    assert [t.status for t in wf.tasks] == ["FAILED", "COMPLETED"]


def test_permissive_forked_task_lets_siblings_finish_then_the_join_fails() -> None:
    definition = WorkflowDef.from_json(
        {
            "name": "pf",
            "tasks": [
                {
                    "name": "fork",
                    "taskReferenceName": "fork",
                    "type": "FORK_JOIN",
                    "forkTasks": [
                        [{"name": "w", "taskReferenceName": "a", "permissive": True}],
                        [{"name": "w", "taskReferenceName": "b"}, {"name": "w", "taskReferenceName": "c"}],
                    ],
                },
                {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["a", "c"]},
                {"name": "w", "taskReferenceName": "after"},
            ],
        }
    )
    h = Harness(task_defs={"w": TaskDef(name="w", retry_count=0)})
    wf = h.start(definition, {})
    h.fail("a", "first branch broke")
    assert wf.status == "RUNNING"
    h.complete("b", {})
    assert h.task("c").status == "SCHEDULED"  # the sibling branch keeps going
    assert h.task("join").status == "IN_PROGRESS"
    h.complete("c", {})
    assert h.task("join").status == "FAILED"
    assert h.task("join").reason == "first branch broke"
    assert wf.status == "FAILED"
    assert "after" not in [t.ref for t in wf.tasks]


def test_workflow_retry_after_a_permissive_join_failure() -> None:
    definition = WorkflowDef.from_json(
        {
            "name": "pr",
            "tasks": [
                {
                    "name": "fork",
                    "taskReferenceName": "fork",
                    "type": "FORK_JOIN",
                    "forkTasks": [
                        [{"name": "w", "taskReferenceName": "a", "permissive": True}],
                        [{"name": "w", "taskReferenceName": "b"}],
                    ],
                },
                {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["a", "b"]},
                {"name": "w", "taskReferenceName": "after"},
            ],
        }
    )
    h = Harness(task_defs={"w": TaskDef(name="w", retry_count=0)})
    wf = h.start(definition, {})
    h.fail("a", "broke")
    h.complete("b", {"b": 1})
    assert wf.status == "FAILED" and h.task("join").status == "FAILED"
    h.handle(h.engine.retry(wf, h.now))
    assert wf.status == "RUNNING"
    assert h.task("join").status == "IN_PROGRESS"
    assert [(t.ref, t.status) for t in wf.tasks][-1] == ("a", "SCHEDULED")
    h.complete("a", {"a": 1})
    assert h.task("join").status == "COMPLETED"
    assert h.task("join").output == {"a": {"a": 1}, "b": {"b": 1}}
    h.complete("after", {})
    assert wf.status == "COMPLETED"


# ---------------------------------------------------------------------------------------------- through flowkit.run
def fork_of(n: int, name: str) -> WorkflowDef:
    return WorkflowDef.from_json(
        {
            "name": f"fork_{n}",
            "tasks": [
                {
                    "name": "fork",
                    "taskReferenceName": "fork",
                    "type": "FORK_JOIN",
                    "forkTasks": [
                        [{"name": name, "taskReferenceName": f"t{i}", "inputParameters": {"i": i}}] for i in range(n)
                    ],
                },
                {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": [f"t{i}" for i in range(n)]},
            ],
        }
    )


def test_concurrent_exec_limit_caps_parallel_workers() -> None:
    lock = threading.Lock()
    state = {"now": 0, "max": 0, "calls": 0}

    @flowkit.worker_task(task_definition_name="limited")
    def limited(i: int) -> dict:
        with lock:
            state["now"] += 1
            state["calls"] += 1
            state["max"] = max(state["max"], state["now"])
        time.sleep(0.03)
        with lock:
            state["now"] -= 1
        return {"i": i}

    run = flowkit.run(
        fork_of(6, "limited"),
        {},
        workers=[limited],
        executor="threads",
        max_workers=8,
        task_defs=[TaskDef(name="limited", concurrent_exec_limit=2, retry_count=0)],
    )
    assert run.status == "COMPLETED"
    assert state["calls"] == 6
    assert state["max"] == 2
    assert run.task("join").output == {f"t{i}": {"i": i} for i in range(6)}


def test_unlimited_tasks_do_run_in_parallel_with_threads() -> None:
    barrier = threading.Barrier(3, timeout=5)

    @flowkit.worker_task(task_definition_name="free")
    def free(i: int) -> dict:
        barrier.wait()  # only returns when three workers run at the same time
        return {"i": i}

    run = flowkit.run(fork_of(3, "free"), {}, workers=[free], executor="threads", max_workers=4)
    assert run.status == "COMPLETED"


def test_rate_limit_per_frequency_spreads_starts_over_windows() -> None:
    @flowkit.worker_task(task_definition_name="rated")
    def rated(i: int) -> dict:
        return {"i": i}

    clock = VirtualClock()
    t0 = clock.now_ms()
    run = flowkit.run(
        fork_of(6, "rated"),
        {},
        workers=[rated],
        executor="threads",
        clock=clock,
        task_defs=[TaskDef(name="rated", rate_limit_per_frequency=2, rate_limit_frequency_in_seconds=1)],
    )
    assert run.status == "COMPLETED"
    starts = sorted(t.start_time for t in run.tasks if t.task_type == "rated")
    assert len(starts) == 6
    for s in starts:  # never more than 2 starts in any 1 s window
        assert sum(1 for x in starts if s <= x < s + 1000) <= 2
    assert starts[0] == t0
    assert starts[-1] - starts[0] >= 2000


def test_virtual_clock_skips_retry_backoff() -> None:
    calls: list[int] = []

    @flowkit.worker_task(task_definition_name="flaky")
    def flaky() -> dict:
        calls.append(1)
        if len(calls) <= 3:
            raise RuntimeError(f"failure {len(calls)}")
        return {"ok": True}

    clock = VirtualClock()
    t0 = clock.now_ms()
    began = time.perf_counter()
    run = flowkit.run(
        one_task("flaky"),
        {},
        workers=[flaky],
        clock=clock,
        executor="inline",
        task_defs=[TaskDef(name="flaky", retry_count=3, retry_logic="FIXED", retry_delay_seconds=60)],
    )
    assert time.perf_counter() - began < 1.0
    assert run.status == "COMPLETED"
    assert [t.status for t in run.tasks] == ["FAILED", "FAILED", "FAILED", "COMPLETED"]
    assert [t.scheduled_time - t0 for t in run.tasks] == [0, 0, 60_000, 120_000]
    assert [t.start_time - t0 for t in run.tasks] == [0, 60_000, 120_000, 180_000]
    assert [t.reason for t in run.tasks[:3]] == ["failure 1", "failure 2", "failure 3"]
    assert clock.now_ms() - t0 == 180_000


def test_virtual_clock_with_threads_and_exponential_backoff() -> None:
    attempts: list[int] = []

    @flowkit.worker_task(task_definition_name="flaky")
    def flaky() -> dict:
        attempts.append(1)
        if len(attempts) < 4:
            raise RuntimeError("again")
        return {}

    clock = VirtualClock()
    t0 = clock.now_ms()
    run = flowkit.run(
        one_task("flaky"),
        {},
        workers=[flaky],
        clock=clock,
        executor="threads",
        task_defs=[TaskDef(name="flaky", retry_count=5, retry_logic="EXPONENTIAL_BACKOFF", retry_delay_seconds=10)],
    )
    assert run.status == "COMPLETED"
    assert [t.start_time - t0 for t in run.tasks] == [0, 10_000, 30_000, 70_000]


def test_response_timers_of_a_big_fan_out_are_dropped_once_its_tasks_end() -> None:
    # Past 64 timers a completed task's response timer is not popped at once (a sift per task):
    # next_deadline drops the ended ones in one pass, and the live ones still fire.
    from flowkit.definitions import WorkflowDef
    from flowkit.runtime._prepare import build_engine

    n = 300
    definition = WorkflowDef.from_json(
        {
            "name": "wide",
            "tasks": [
                {
                    "name": "fork",
                    "taskReferenceName": "fork",
                    "type": "FORK_JOIN",
                    "forkTasks": [[{"name": "w", "taskReferenceName": f"b{i}"}] for i in range(n)],
                },
                {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": [f"b{i}" for i in range(n)]},
            ],
        }
    )
    engine = build_engine(task_defs=[TaskDef(name="w", retry_count=0, response_timeout_seconds=10)])
    wf, _ = engine.start(definition, {}, now=0)
    branches = [t for t in wf.tasks if t.task_def_name == "w"]
    for task in branches:
        assert engine.task_started(task, 1)
    for task in branches[:-1]:
        engine.task_completed(task, {"ok": True}, 2)
    assert engine.next_deadline() == 1 + 10_000  # the last branch's response timer, the ended ones dropped
    assert len(engine.timers) < 64
    engine.tick(1 + 10_000)
    assert branches[-1].status.value == "TIMED_OUT"
    assert wf.status.value == "TIMED_OUT"
