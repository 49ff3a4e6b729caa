"""The engine's behaviour through ``flowkit.run`` on every executor: inline, threads, processes, Dask.

Workers used with processes and Dask are defined at module level here (shipped by reference: the
children import this module) or inside a test (lambdas/closures, shipped by value with cloudpickle).
One LocalCluster of 2 worker processes x 2 threads serves the whole module.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import flowkit
from flowkit.errors import NonRetryableError
from flowkit.testing import VirtualClock
from flowkit.workers import Task

EXECUTORS = ["inline", "threads", "processes", "dask"]
REMOTE = ("processes", "dask")  # worker calls leave this process: pickling and process death apply
WORKERS = 4  # threads / worker processes / Dask worker threads (2 processes x 2 threads)


# ---------------------------------------------------------------------------------------------- workers


def step(x: int) -> dict:
    return {"x": x + 1, "pid": os.getpid()}


def gen(n: int) -> dict:
    return {
        "dynamicTasks": [{"name": "leaf", "taskReferenceName": f"leaf_{i}"} for i in range(n)],
        "dynamicTasksInput": {f"leaf_{i}": {"i": i} for i in range(n)},
    }


def leaf(i: int) -> dict:
    return {"y": i * 2}


def nap(i: int, seconds: float = 0.25, marks: str | None = None) -> dict:
    if marks:
        Path(marks, f"started-{i}").touch()
    time.sleep(seconds)
    return {"y": i}


def flaky(task: Task) -> dict:
    """Fails its first two attempts (the retry count travels with the task, so this works in any process)."""
    if task.retry_count < 2:
        raise RuntimeError(f"flaky attempt {task.retry_count}")
    return {"attempt": task.retry_count}


def refuse(x: int) -> dict:
    raise NonRetryableError(f"card {x} declined")


def explode(x: int) -> dict:
    return _inner_explode(x)


def _inner_explode(x: int) -> dict:
    raise ValueError(f"bad value {x}")


def chatty(x: int) -> dict:
    print(f"printing {x}")
    logging.getLogger("flowkit.tests.chatty").warning("logging %s", x)
    return {"x": x}


class Handle(str):
    """A str (so it passes the JSON check) that carries something no pickle can send."""


def unpicklable_output(x: int) -> dict:
    handle = Handle("h")
    handle.lock = threading.Lock()  # type: ignore[attr-defined]
    return {"handles": [handle]}


def echo(x: Any) -> dict:
    return {"kind": type(x).__name__}


def die(x: int, how: str = "exit") -> dict:
    if how == "exit":
        os._exit(3)
    os.kill(os.getpid(), signal.SIGKILL)
    return {}


# ---------------------------------------------------------------------------------------------- definitions


def chain_def(n: int) -> dict:
    return {
        "name": f"chain_{n}",
        "version": 1,
        "tasks": [
            {
                "name": "step",
                "taskReferenceName": f"s{i}",
                "inputParameters": {"x": "${workflow.input.x}" if i == 0 else f"${{s{i - 1}.output.x}}"},
            }
            for i in range(n)
        ],
        "outputParameters": {"x": f"${{s{n - 1}.output.x}}"},
    }


FORK = {
    "name": "fanout",
    "version": 1,
    "tasks": [
        {"name": "gen", "taskReferenceName": "gen", "inputParameters": {"n": "${workflow.input.n}"}},
        {
            "name": "fork",
            "taskReferenceName": "fork",
            "type": "FORK_JOIN_DYNAMIC",
            "inputParameters": {
                "dynamicTasks": "${gen.output.dynamicTasks}",
                "dynamicTasksInput": "${gen.output.dynamicTasksInput}",
            },
            "dynamicForkTasksParam": "dynamicTasks",
            "dynamicForkTasksInputParamName": "dynamicTasksInput",
        },
        {"name": "join", "taskReferenceName": "join", "type": "JOIN"},
    ],
    "outputParameters": {"joined": "${join.output}"},
}


# A static fork of named branches (input per branch), for tasks that must all run side by side.
def branches_def(name: str, task_name: str, inputs: list[dict], optional: list[bool] | None = None) -> dict:
    optional = optional or [False] * len(inputs)
    return {
        "name": name,
        "version": 1,
        "tasks": [
            {
                "name": "fork",
                "taskReferenceName": "fork",
                "type": "FORK_JOIN",
                "forkTasks": [
                    [{"name": task_name, "taskReferenceName": f"b{i}", "inputParameters": inp, "optional": optional[i]}]
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


def one_def(task_name: str, inputs: dict | None = None) -> dict:
    return {
        "name": f"one_{task_name}",
        "version": 1,
        "tasks": [
            {
                "name": task_name,
                "taskReferenceName": "t",
                "inputParameters": inputs if inputs is not None else {"x": "${workflow.input.x}"},
            }
        ],
    }


# ---------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def dask_client() -> Any:
    from flowkit.executors._dask import _local_client  # dask.distributed is installed in CI: no skipping

    client = _local_client(2, 2)  # allowed-failures=0: a dying worker fails its task at once
    yield client


def _executor(request: pytest.FixtureRequest, name: str) -> Any:
    """What to pass as ``executor=``: a name, or for Dask an executor on the module's LocalCluster."""
    if name == "dask":
        from flowkit.executors import DaskExecutor

        return DaskExecutor(request.getfixturevalue("dask_client"))
    return name


@pytest.fixture(params=EXECUTORS)
def executor(request: pytest.FixtureRequest) -> Any:
    """Every executor."""
    return _executor(request, request.param)


@pytest.fixture(params=[e for e in EXECUTORS if e != "inline"])
def concurrent_executor(request: pytest.FixtureRequest) -> Any:
    """Executors that run calls beside the runner (inline runs each call to its end in the runner's thread)."""
    return _executor(request, request.param)


def kind(executor: Any) -> str:
    return executor if isinstance(executor, str) else "dask"


def run(definition: Any, inp: dict | None, workers: Any, executor: Any, **options: Any) -> Any:
    return flowkit.run(
        definition, inp or {}, workers=workers, executor=executor, max_workers=WORKERS, store="memory", **options
    )


def statuses(execution: Any) -> list[tuple[str, str]]:
    return [(t.ref, t.status.value) for t in execution.tasks]


# ---------------------------------------------------------------------------------------------- the engine, per executor


def test_chain(executor: Any) -> None:
    ex = run(chain_def(6), {"x": 0}, {"step": step}, executor)
    assert ex.status.value == "COMPLETED", ex.reason
    assert ex.output == {"x": 6}
    pids = {t.output["pid"] for t in ex.tasks}
    if kind(executor) in REMOTE:
        assert os.getpid() not in pids  # the calls ran elsewhere; the engine stayed here
    else:
        assert pids == {os.getpid()}


def test_dynamic_fork(executor: Any) -> None:
    ex = run(FORK, {"n": 12}, {"gen": gen, "leaf": leaf}, executor)
    assert ex.status.value == "COMPLETED", ex.reason
    joined = ex.output["joined"]
    assert len(joined) == 12 and joined["leaf_11"] == {"y": 22}
    assert len(ex.tasks) == 15  # gen, fork, 12 leaves, join


def test_retries_with_a_failing_worker_on_a_virtual_clock(executor: Any) -> None:
    td = [{"name": "flaky", "retryCount": 3, "retryLogic": "FIXED", "retryDelaySeconds": 30}]
    ex = run(one_def("flaky", {}), {}, {"flaky": flaky}, executor, task_defs=td, clock=VirtualClock())
    assert ex.status.value == "COMPLETED", ex.reason
    attempts = ex.tasks
    assert [t.status.value for t in attempts] == ["FAILED", "FAILED", "COMPLETED"]
    assert [t.reason for t in attempts[:2]] == ["flaky attempt 0", "flaky attempt 1"]
    assert "RuntimeError: flaky attempt 0" in attempts[0].error["traceback"]
    assert attempts[2].output == {"attempt": 2}
    # the backoff passed in virtual time, exactly
    assert attempts[1].start_time - attempts[0].end_time == 30_000
    assert attempts[2].start_time - attempts[1].end_time == 30_000


def test_non_retryable_error_is_terminal(executor: Any) -> None:
    td = [{"name": "refuse", "retryCount": 3, "retryDelaySeconds": 0}]
    ex = run(one_def("refuse"), {"x": 7}, {"refuse": refuse}, executor, task_defs=td)
    assert ex.status.value == "FAILED"
    assert statuses(ex) == [("t", "FAILED_WITH_TERMINAL_ERROR")]
    assert ex.tasks[0].reason == "card 7 declined"


def test_exception_traceback_is_kept(executor: Any) -> None:
    td = [{"name": "explode", "retryCount": 0}]
    ex = run(one_def("explode"), {"x": 3}, {"explode": explode}, executor, task_defs=td)
    task = ex.tasks[0]
    assert task.status.value == "FAILED"
    assert task.reason == "bad value 3"
    assert task.error["type"] == "builtins.ValueError"
    tb = task.error["traceback"]
    assert "in explode" in tb and "in _inner_explode" in tb and "ValueError: bad value 3" in tb


def test_print_and_logging_are_captured(executor: Any) -> None:
    ex = run(one_def("chatty"), {"x": 5}, {"chatty": chatty}, executor)
    assert ex.status.value == "COMPLETED", ex.reason
    assert ex.tasks[0].logs == ["printing 5", "WARNING flowkit.tests.chatty: logging 5"]


def test_closures_and_lambdas_defined_in_a_test(executor: Any) -> None:
    offset = 100

    def add_offset(x: int) -> dict:
        return {"x": x + offset}

    ex = run(chain_def(2), {"x": 1}, {"step": add_offset}, executor)
    assert ex.output == {"x": 201}, ex.reason
    ex = run(chain_def(3), {"x": 1}, {"step": lambda x: {"x": x * 10 + offset}}, executor)
    assert ex.output == {"x": 12100}, ex.reason  # ((1 * 10 + 100) * 10 + 100) * 10 + 100


def test_unpicklable_input_fails_naming_the_type(executor: Any) -> None:
    ex = run(one_def("echo"), {"x": {"items": [1, threading.Lock()]}}, {"echo": echo}, executor)
    task = ex.tasks[0]
    if kind(executor) not in REMOTE:
        assert task.status.value == "COMPLETED"  # nothing is pickled in this process
        return
    assert task.status.value == "FAILED_WITH_TERMINAL_ERROR"
    assert "input cannot be pickled" in task.reason
    assert "input.x.items[1] is a _thread.lock" in task.reason


def test_unpicklable_output_fails_naming_the_type(executor: Any) -> None:
    ex = run(one_def("out"), {"x": 1}, {"out": unpicklable_output}, executor)
    task = ex.tasks[0]
    if kind(executor) not in REMOTE:
        assert task.status.value == "COMPLETED"
        return
    assert task.status.value == "FAILED_WITH_TERMINAL_ERROR"
    assert "output cannot be pickled" in task.reason
    assert f"output.handles[0] is a {__name__}.Handle" in task.reason
    assert "_thread.lock" in task.reason


def test_unpicklable_worker_fails_naming_what_it_captures(executor: Any) -> None:
    lock = threading.Lock()

    def locked(x: int) -> dict:
        with lock:
            return {"x": x}

    ex = run(one_def("locked"), {"x": 1}, {"locked": locked}, executor)
    task = ex.tasks[0]
    if kind(executor) not in REMOTE:
        assert task.status.value == "COMPLETED"
        return
    assert task.status.value == "FAILED_WITH_TERMINAL_ERROR"
    assert "cannot be pickled to send it to a worker process: it refers to lock, a _thread.lock" in task.reason


def test_timeout_maps_to_timed_out(concurrent_executor: Any) -> None:
    executor = concurrent_executor
    td = [{"name": "nap", "retryCount": 0, "timeoutSeconds": 1, "responseTimeoutSeconds": 1}]
    t0 = time.perf_counter()
    ex = run(one_def("nap", {"i": 1, "seconds": 1.6}), {}, {"nap": nap}, executor, task_defs=td)
    assert time.perf_counter() - t0 < 1.5  # the engine did not wait for the worker
    assert statuses(ex) == [("t", "TIMED_OUT")]
    assert ex.status.value in ("TIMED_OUT", "FAILED")


def test_terminate_cancels_and_queued_calls_do_not_run(concurrent_executor: Any, tmp_path: Path) -> None:
    executor = concurrent_executor
    inputs = [{"i": i, "seconds": 0.4, "marks": str(tmp_path)} for i in range(12)]
    ex = flowkit.start(
        branches_def("terminate_me", "nap", inputs),
        {},
        workers={"nap": nap},
        executor=executor,
        max_workers=WORKERS,
        store="memory",
    )
    time.sleep(0.25)
    ex.terminate("enough")
    assert ex.status.value == "TERMINATED"
    assert {s for ref, s in statuses(ex) if ref.startswith("b")} <= {"CANCELED"}
    if kind(executor) == "processes":
        time.sleep(0.6)  # the running calls end; the ones still queued in the executor must not start
        started = len(list(tmp_path.iterdir()))
        assert started <= WORKERS + 1, started


def test_parallel_efficiency(concurrent_executor: Any) -> None:
    executor = concurrent_executor
    n, seconds = 8, 0.25
    inputs = [{"i": i, "seconds": seconds} for i in range(n)]
    definition = branches_def("sleepy", "nap", inputs)
    run(definition, {}, {"nap": nap}, executor)  # warm-up: start processes, ship the worker
    t0 = time.perf_counter()
    ex = run(definition, {}, {"nap": nap}, executor)
    elapsed = time.perf_counter() - t0
    assert ex.status.value == "COMPLETED", ex.reason
    serial = n * seconds
    assert elapsed < 0.75 * serial, f"{elapsed:.2f} s for {n} x {seconds} s at {WORKERS} workers"


# ---------------------------------------------------------------------------------------------- worker processes that die


# In-process executors are left out (the worker would end the test process itself), and on Dask one way of
# dying is enough (each costs a worker restart).
@pytest.mark.parametrize("name, how, code", [("processes", "exit", 3), ("processes", "kill", -9), ("dask", "exit", 3)])
def test_worker_process_death_fails_its_task_and_the_pool_recovers(
    request: pytest.FixtureRequest, name: str, how: str, code: int
) -> None:
    executor = _executor(request, name)
    # b0 kills its process; it is optional, so the workflow goes on and its siblings must all complete.
    # Worker processes: siblings caught in the pool's restart are sent again by the executor. Dask: a sibling
    # that shared the dying worker process fails like b0 and is retried per its task definition.
    definition = {
        "name": "dying",
        "version": 1,
        "tasks": [
            {
                "name": "fork",
                "taskReferenceName": "fork",
                "type": "FORK_JOIN",
                "forkTasks": [
                    [
                        {
                            "name": "die",
                            "taskReferenceName": "b0",
                            "inputParameters": {"x": 1, "how": how},
                            "optional": True,
                        }
                    ],
                    *[
                        [{"name": "nap", "taskReferenceName": f"b{i}", "inputParameters": {"i": i, "seconds": 0.3}}]
                        for i in (1, 2, 3)
                    ],
                ],
            },
            {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["b0", "b1", "b2", "b3"]},
        ],
    }
    td = [{"name": "die", "retryCount": 0}, {"name": "nap", "retryCount": 2, "retryDelaySeconds": 0}]
    ex = run(definition, {}, {"die": die, "nap": nap}, executor, task_defs=td)
    dead = ex.task("b0")
    assert dead.status.value == "COMPLETED_WITH_ERRORS"  # FAILED, but optional
    assert dead.reason.startswith(f"worker process died (exit code {code}")
    assert "while running task 'b0'" in dead.reason
    assert [ex.task(f"b{i}").status.value for i in (1, 2, 3)] == ["COMPLETED"] * 3
    assert ex.status.value == "COMPLETED"
    if kind(executor) == "processes":
        assert len(ex.tasks) == 6  # fork, b0..b3, join: no sibling needed a retry
    # the pool (or the Dask worker) is back for the next run
    if kind(executor) == "dask":
        executor.client.wait_for_workers(2, timeout=30)
        executor = type(executor)(executor.client)
    ex = run(chain_def(3), {"x": 0}, {"step": step}, executor)
    assert ex.output == {"x": 3}, ex.reason


# ---------------------------------------------------------------------------------------------- executor plumbing


def test_make_executor_accepts_the_new_names(monkeypatch: pytest.MonkeyPatch, dask_client: Any) -> None:
    from flowkit.executors import DaskExecutor, ProcessExecutor, _dask, make_executor

    assert isinstance(make_executor("processes", 3), ProcessExecutor)
    assert make_executor("processes", 3).max_workers == 3
    monkeypatch.setattr(_dask, "_local_client", lambda n, t: dask_client)  # no second LocalCluster
    made = make_executor("dask")
    assert isinstance(made, DaskExecutor) and made.client is dask_client
    instance = ProcessExecutor(2)
    assert make_executor(instance) is instance
    with pytest.raises(flowkit.InputError, match="'processes' or 'dask'"):
        make_executor("gpu")


def test_dask_scheduler_loss_fails_in_flight_tasks_and_replace_resumes() -> None:
    import distributed

    from flowkit.executors import DaskExecutor

    first = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0")
    executor = DaskExecutor(distributed.Client(first, set_as_default=False))
    td = [{"name": "nap", "retryCount": 1, "retryDelaySeconds": 0}]
    ex = flowkit.start(
        one_def("nap", {"i": 1, "seconds": 1.0}),
        {},
        workers={"nap": nap},
        executor=executor,
        store="memory",
        task_defs=td,
    )
    second = None
    try:
        time.sleep(0.4)
        first.close()  # the scheduler goes away mid-run
        deadline = time.time() + 10
        while len(ex.tasks) < 2 and time.time() < deadline:
            time.sleep(0.05)
        failed = ex.tasks[0]
        assert failed.status.value == "FAILED"
        assert "the Dask scheduler at" in failed.reason and "went away while task 't' was running" in failed.reason
        assert ex.status.value == "RUNNING"  # the retry waits for a scheduler
        second = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0")
        executor.replace(distributed.Client(second, set_as_default=False))
        ex.wait(20)
        assert ex.status.value == "COMPLETED", ex.reason
        assert [t.status.value for t in ex.tasks] == ["FAILED", "COMPLETED"]
    finally:
        for cluster in (first, second):
            if cluster is not None:
                cluster.close()
