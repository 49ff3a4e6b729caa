"""Task timeouts and cancellation with worker processes (and Dask): hung calls are stopped, never applied.

The process executor kills the worker process of a call whose task ended while it ran (timed out,
workflow terminated or timed out, rerun) and starts a fresh one in its place; the Dask executor
cancels the call's future and ignores its late result (it cannot stop a running thread).

Every test uses a pool of 2 worker processes (shared by the whole module) and real time: Conductor's
timeouts are whole seconds, so each timeout costs at least one.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cloudpickle  # noqa: E402, F401 - the process executor ships workers with it (flowkit[dask])
import pytest

import flowkit
from flowkit.executors import _process
from flowkit.executors._executors import DROPPED
from flowkit.workers import Task

POOL = 2


# ---------------------------------------------------------------------------------------------- workers (module level: the
# worker processes import this module)


class _Stop(Exception):
    """Raised in a worker by its SIGTERM handler."""


def _mark(marks: str, name: str) -> None:
    Path(marks, name).write_text(str(time.time()))


def hang(marks: str, how: str = "sleep", i: int = 0) -> dict:
    """Never returns by itself; ``how`` says how it hangs (and how it takes SIGTERM)."""
    if how == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _mark(marks, f"{i}-{os.getpid()}")
    if how == "busy":
        while True:
            pass
    time.sleep(10**6)
    return {"never": True}


def late(marks: str) -> dict:
    """Hangs, and answers after all when SIGTERM comes (a late result that must be dropped)."""

    def on_term(signum: int, frame: Any) -> None:
        raise _Stop

    signal.signal(signal.SIGTERM, on_term)
    _mark(marks, f"0-{os.getpid()}")
    try:
        time.sleep(10**6)
    except _Stop:
        _mark(marks, "answered-late")
        return {"late": True}
    return {}


def hang_first(task: Task) -> dict:
    """The first attempt hangs; the retry answers at once."""
    marks = task.input_data["marks"]
    _mark(marks, f"{task.retry_count}-{os.getpid()}")
    if task.retry_count == 0:
        time.sleep(10**6)
    return {"attempt": task.retry_count, "pid": os.getpid()}


def first_then_second(marks: str) -> dict:
    """The first call answers "first" after 0.5 s; any later call answers "second" after 1 s."""
    first = Path(marks, "first-call")
    if first.exists():
        time.sleep(1.0)
        return {"run": "second", "pid": os.getpid()}
    first.touch()
    _mark(marks, f"0-{os.getpid()}")
    time.sleep(0.5)
    _mark(marks, "first-answered")
    return {"run": "first", "pid": os.getpid()}


def nap(seconds: float, marks: str | None = None) -> dict:
    time.sleep(seconds)
    if marks:
        _mark(marks, "finished")
    return {"slept": seconds, "pid": os.getpid()}


def step(x: int) -> dict:
    return {"x": x + 1, "pid": os.getpid()}


# ---------------------------------------------------------------------------------------------- helpers


def one_def(task_name: str, inputs: dict) -> dict:
    return {
        "name": f"one_{task_name}",
        "version": 1,
        "tasks": [{"name": task_name, "taskReferenceName": "t", "inputParameters": inputs}],
    }


def fork_def(task_name: str, inputs: list[dict]) -> dict:
    return {
        "name": f"fork_{task_name}",
        "version": 1,
        "tasks": [
            {
                "name": "fork",
                "taskReferenceName": "fork",
                "type": "FORK_JOIN",
                "forkTasks": [
                    [{"name": task_name, "taskReferenceName": f"b{i}", "inputParameters": inp}]
                    for i, inp in enumerate(inputs)
                ],
            },
            {
                "name": "join",
                "taskReferenceName": "join",
                "type": "JOIN",
                "joinOn": [f"b{i}" for i in range(len(inputs))],
            },
        ],
    }


CHAIN = {
    "name": "chain",
    "version": 1,
    "tasks": [
        {
            "name": "step",
            "taskReferenceName": f"s{i}",
            "inputParameters": {"x": "${workflow.input.x}" if i == 0 else f"${{s{i - 1}.output.x}}"},
        }
        for i in range(4)
    ],
    "outputParameters": {"x": "${s3.output.x}"},
}


def wait_until(predicate: Callable[[], Any], timeout: float = 3.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


def started_pids(marks: Path) -> dict[str, int]:
    """{attempt or branch: pid} from the files the workers wrote when they started."""
    found = {}
    for path in marks.iterdir():
        head, _, pid = path.name.partition("-")
        if pid.isdigit():
            found[head] = int(pid)
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def gone(pid: int, timeout: float = 3.0) -> bool:
    return bool(wait_until(lambda: not alive(pid), timeout))


@pytest.fixture
def processes() -> Any:
    """An executor on the module's pool of 2 worker processes, started and at full size."""
    executor = flowkit.executors.ProcessExecutor(POOL)
    ex = flowkit.run(CHAIN, {"x": 0}, workers={"step": step}, executor=executor, store="memory")  # warm-up
    assert ex.output == {"x": 4}, ex.reason
    assert wait_until(lambda: len(executor.worker_pids()) == POOL)
    return executor


def pool_recovered(executor: Any, dead: set[int]) -> list[int]:
    """The pool is back at full size without the ``dead`` pids, and runs the next workflow there."""
    assert wait_until(lambda: len(executor.worker_pids()) == POOL and not dead & set(executor.worker_pids()))
    pids = executor.worker_pids()
    ex = flowkit.run(CHAIN, {"x": 10}, workers={"step": step}, executor=executor, store="memory")
    assert ex.status.value == "COMPLETED" and ex.output == {"x": 14}, ex.reason
    assert {t.output["pid"] for t in ex.tasks} <= set(pids)
    return pids


# ---------------------------------------------------------------------------------------------- processes: timeouts


def test_timed_out_call_is_killed_and_the_task_retried(processes: Any, tmp_path: Path) -> None:
    td = [
        {
            "name": "hang_first",
            "retryCount": 1,
            "retryDelaySeconds": 0,
            "timeoutSeconds": 1,
            "responseTimeoutSeconds": 1,
            "timeoutPolicy": "RETRY",
        }
    ]
    t0 = time.perf_counter()
    ex = flowkit.run(
        one_def("hang_first", {"marks": str(tmp_path)}),
        {},
        workers={"hang_first": hang_first},
        executor=processes,
        task_defs=td,
        store="memory",
    )
    elapsed = time.perf_counter() - t0
    assert ex.status.value == "COMPLETED", ex.reason
    first, retry = ex.tasks
    assert (first.status.value, first.retry_count) == ("TIMED_OUT", 0)
    assert (
        first.reason
        == "Task timed out after 1 seconds. Timeout configured as 1 seconds. Timeout policy configured to RETRY"
    )
    assert (retry.status.value, retry.retry_count, retry.output["attempt"]) == ("COMPLETED", 1, 1)
    assert elapsed < 2.5, elapsed
    hung = started_pids(tmp_path)["0"]
    assert retry.output["pid"] != hung
    assert gone(hung), f"the hung worker process {hung} is still there"
    pool_recovered(processes, {hung})


def test_busy_loop_hits_the_response_timeout_and_its_process_is_killed(processes: Any, tmp_path: Path) -> None:
    td = [{"name": "hang", "retryCount": 0, "responseTimeoutSeconds": 1}]
    ex = flowkit.run(
        one_def("hang", {"marks": str(tmp_path), "how": "busy"}),
        {},
        workers={"hang": hang},
        executor=processes,
        task_defs=td,
        store="memory",
    )
    task = ex.task("t")
    assert task.status.value == "TIMED_OUT"
    assert task.reason == f"responseTimeout: 1 exceeded for the taskId: {task.task_id} with Task Definition: hang"
    assert ex.status.value == "TIMED_OUT"  # retries exhausted on a TIMED_OUT task (DeciderService.retry)
    hung = started_pids(tmp_path)["0"]
    assert gone(hung)
    pool_recovered(processes, {hung})


def test_time_out_wf_kills_every_running_call_and_the_pool_keeps_its_size(processes: Any, tmp_path: Path) -> None:
    before = set(processes.worker_pids())
    td = [
        {
            "name": "hang",
            "retryCount": 3,
            "timeoutSeconds": 1,
            "responseTimeoutSeconds": 1,
            "timeoutPolicy": "TIME_OUT_WF",
        }
    ]
    inputs = [{"marks": str(tmp_path), "how": how, "i": i} for i, how in enumerate(("sleep", "busy"))]
    ex = flowkit.run(
        fork_def("hang", inputs), {}, workers={"hang": hang}, executor=processes, task_defs=td, store="memory"
    )
    assert ex.status.value == "TIMED_OUT"
    branches = sorted(ex.task(f"b{i}").status.value for i in range(2))
    assert branches in (["TIMED_OUT", "TIMED_OUT"], ["CANCELED", "TIMED_OUT"])
    assert len(ex.tasks) == 4  # fork, b0, b1, join: TIME_OUT_WF does not retry
    hung = set(started_pids(tmp_path).values())
    assert hung == before  # both processes of the pool were running a hung call
    assert all(gone(pid) for pid in hung)
    after = pool_recovered(processes, hung)
    assert len(after) == POOL and not set(after) & before


def test_alert_only_leaves_the_call_running(processes: Any) -> None:
    # ALERT_ONLY on the total timeout (responseTimeoutSeconds ignores the policy, as in Conductor, and
    # must not exceed timeoutSeconds: so neither is 1 s here)
    td = [
        {
            "name": "nap",
            "retryCount": 0,
            "totalTimeoutSeconds": 1,
            "responseTimeoutSeconds": 5,
            "timeoutPolicy": "ALERT_ONLY",
        }
    ]
    ex = flowkit.run(
        one_def("nap", {"seconds": 1.3}), {}, workers={"nap": nap}, executor=processes, task_defs=td, store="memory"
    )
    assert ex.status.value == "COMPLETED", ex.reason
    assert ex.task("t").output["slept"] == 1.3
    assert alive(ex.task("t").output["pid"])


def test_stubborn_worker_gets_sigkill_after_the_grace(
    processes: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_process, "_KILL_GRACE_S", 0.3)
    td = [{"name": "hang", "retryCount": 0, "timeoutSeconds": 1, "responseTimeoutSeconds": 1}]
    with caplog.at_level(logging.INFO, logger="flowkit.processes"):
        ex = flowkit.run(
            one_def("hang", {"marks": str(tmp_path), "how": "stubborn"}),
            {},
            workers={"hang": hang},
            executor=processes,
            task_defs=td,
            store="memory",
        )
        assert ex.task("t").status.value == "TIMED_OUT"
        hung = started_pids(tmp_path)["0"]
        time.sleep(0.15)
        assert alive(hung)  # SIGTERM is ignored...
        assert gone(hung, 2.0)  # ...SIGKILL is not
        pool_recovered(processes, {hung})
    assert any("ignored SIGTERM" in r.getMessage() and str(hung) in r.getMessage() for r in caplog.records)


def test_late_answer_of_a_killed_call_is_never_applied(
    processes: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_process, "_KILL_GRACE_S", 0.5)
    td = [{"name": "late", "retryCount": 0, "timeoutSeconds": 1, "responseTimeoutSeconds": 1}]
    ex = flowkit.run(
        one_def("late", {"marks": str(tmp_path)}),
        {},
        workers={"late": late},
        executor=processes,
        task_defs=td,
        store="memory",
    )
    hung = started_pids(tmp_path)["0"]
    assert wait_until(lambda: (tmp_path / "answered-late").exists())  # it did answer, after SIGTERM
    assert gone(hung)
    task = ex.task("t")
    assert (task.status.value, task.output) == ("TIMED_OUT", {})
    assert ex.status.value == "TIMED_OUT"
    pool_recovered(processes, {hung})


# ---------------------------------------------------------------------------------------------- processes: cancellation


def test_terminate_cancels_running_calls_and_kills_their_processes(processes: Any, tmp_path: Path) -> None:
    inputs = [{"marks": str(tmp_path), "how": how, "i": i} for i, how in enumerate(("sleep", "busy"))]
    ex = flowkit.start(fork_def("hang", inputs), {}, workers={"hang": hang}, executor=processes, store="memory")
    try:
        assert wait_until(lambda: len(started_pids(tmp_path)) == 2)
        t0 = time.perf_counter()
        ex.terminate("enough")
        assert ex.status.value == "TERMINATED" and ex.reason == "enough"
        assert [ex.task(f"b{i}").status.value for i in range(2)] == ["CANCELED", "CANCELED"]
        hung = set(started_pids(tmp_path).values())
        assert all(gone(pid) for pid in hung)
        assert time.perf_counter() - t0 < 1.0
        pool_recovered(processes, hung)
        # the Runner heard about both calls (answered DROPPED): nothing is left in flight
        assert wait_until(lambda: ex.runtime.runner.inflight == 0)
        assert [ex.task(f"b{i}").status.value for i in range(2)] == ["CANCELED", "CANCELED"]
    finally:
        ex.runtime.close()


def test_rerun_right_after_terminate_never_gets_the_old_answer(
    processes: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The rerun resets the CANCELED task in place (same TaskModel) and starts it again while the first
    # call still runs (the pool's checks are made rare here, so nothing stops it first). The first call
    # then answers while the rerun attempt is IN_PROGRESS: its answer belongs to the earlier attempt.
    monkeypatch.setattr(_process, "_WATCH_S", 0.8)
    ex = flowkit.start(
        one_def("again", {"marks": str(tmp_path)}),
        {},
        workers={"again": first_then_second},
        executor=processes,
        store="memory",
    )
    try:
        assert wait_until(lambda: "0" in started_pids(tmp_path))
        task_id = ex.task("t").task_id
        ex.terminate("again")
        ex.rerun(from_task_id=task_id)
        assert wait_until(lambda: ex.task("t").status.value == "IN_PROGRESS")  # the rerun attempt runs
        ex.wait(5)
        assert (tmp_path / "first-answered").exists()
        assert ex.status.value == "COMPLETED", ex.reason
        assert len(ex.tasks) == 1 and ex.task("t").task_id == task_id
        assert ex.task("t").output["run"] == "second"
        assert ex.task("t").output["pid"] != started_pids(tmp_path)["0"]
    finally:
        ex.runtime.close()


# ---------------------------------------------------------------------------------------------- Dask


@pytest.fixture(scope="module")
def dask_client() -> Any:
    from flowkit.executors._dask import _local_client

    return _local_client(2, 2)  # the same LocalCluster as the executor matrix (one per session)


def _spy_calls(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    from flowkit.executors._dask import DaskExecutor

    calls: list[Any] = []
    sent = DaskExecutor._sent

    def spy(self: Any, client: Any, future: Any, call: Any) -> None:
        calls.append(call)
        sent(self, client, future, call)

    monkeypatch.setattr(DaskExecutor, "_sent", spy)
    return calls


def test_dask_timed_out_call_is_cancelled_and_its_late_result_ignored(
    dask_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flowkit.executors import DaskExecutor

    calls = _spy_calls(monkeypatch)
    executor = DaskExecutor(dask_client)
    td = [{"name": "nap", "retryCount": 0, "timeoutSeconds": 1, "responseTimeoutSeconds": 1}]
    t0 = time.perf_counter()
    ex = flowkit.run(
        one_def("nap", {"seconds": 1.4, "marks": str(tmp_path)}),
        {},
        workers={"nap": nap},
        executor=executor,
        task_defs=td,
        store="memory",
    )
    assert time.perf_counter() - t0 < 1.35  # did not wait for the call
    task = ex.task("t")
    assert (task.status.value, task.output) == ("TIMED_OUT", {})
    assert ex.status.value == "TIMED_OUT"
    (call,) = calls
    assert wait_until(lambda: call.future.status == "cancelled")
    assert call.answered and not executor._inflight
    # Dask cannot stop the thread: the call runs to its end, and what it returns goes nowhere
    assert wait_until(lambda: (tmp_path / "finished").exists())
    time.sleep(0.2)
    assert (task.status.value, task.output) == ("TIMED_OUT", {})
    # exactly one answer for the call: DROPPED (the run had ended before it came, so nobody took it)
    answers = []
    while not executor.results.empty():
        answers.append(executor.results.get_nowait())
    assert answers == [(call.key, DROPPED)]


def test_dask_terminate_cancels_the_future(dask_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flowkit.executors import DaskExecutor

    calls = _spy_calls(monkeypatch)
    executor = DaskExecutor(dask_client)
    ex = flowkit.start(one_def("nap", {"seconds": 1.0}), {}, workers={"nap": nap}, executor=executor, store="memory")
    try:
        assert wait_until(lambda: len(calls) == 1)
        time.sleep(0.2)
        ex.terminate("stop")
        assert ex.task("t").status.value == "CANCELED"
        (call,) = calls
        assert wait_until(lambda: call.future.status == "cancelled")
        assert wait_until(lambda: ex.runtime.runner.inflight == 0)
        time.sleep(1.0)  # the thread ends; its result is ignored
        assert (ex.task("t").status.value, ex.task("t").output) == ("CANCELED", {})
    finally:
        ex.runtime.close()
