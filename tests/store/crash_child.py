"""Crash-test scenarios: the workflows, workers and expected outputs of tests/store/test_crash_recovery.py.

Run as a script, it runs one scenario with ``flowkit.run(..., store=STORE)`` so the parent test can
SIGKILL it part way; imported by path, the test builds the same workers to recover the run with
``flowkit.open``.

    python crash_child.py SCENARIO[+warm] STORE LOG [HANG]

Every worker appends ``<event> <ref> <retry_count> <epoch ms> <pid>`` lines to LOG (``start`` when it
is handed a task, ``done`` when its work is finished, ``fail`` before it raises). HANG, ``event:ref``,
makes the worker that writes that line block until it is killed (a kill point that does not depend
on timing: "the task is in flight" or "its work is done but not reported yet"). ``+warm`` runs a
one-task workflow on the same store first.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

EXPECTED: dict[str, dict[str, Any]] = {}


class Log:
    """The workers' shared log file (one short O_APPEND write per line, safe across threads)."""

    def __init__(self, path: str, *, work: float, hang: str | None = None) -> None:
        self.path = path
        self.work = work
        self.hang = hang
        self._lock = threading.Lock()

    def line(self, event: str, ref: str, retry_count: int) -> None:
        text = f"{event} {ref} {retry_count} {int(time.time() * 1000)} {os.getpid()}\n"
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, text.encode())
            finally:
                os.close(fd)
        if self.hang is not None and self.hang in (f"{event}:{ref}", f"{event}:{ref}:{retry_count}"):
            time.sleep(600)  # wait here for the SIGKILL


def worker(log: Log, compute: Callable[[dict[str, Any], Any], dict[str, Any]]) -> Callable[[Any], dict[str, Any]]:
    """A Conductor-SDK style worker (it gets the Task) that logs around ``compute(input, task)``."""

    def work(task):  # type: ignore[no-untyped-def]  # unannotated ``task``: flowkit passes the Task itself
        ref, rc = task.reference_task_name, task.retry_count
        log.line("start", ref, rc)
        time.sleep(log.work)
        try:
            out = compute(dict(task.input_data), task)
        except Exception:
            log.line("fail", ref, rc)
            raise
        log.line("done", ref, rc)
        return out

    return work


def _inc(data: dict[str, Any], task: Any) -> dict[str, Any]:
    return {"x": int(data.get("x") or 0) + 1}


# ---------------------------------------------------------------------------------------- scenarios
def chain(log: Log) -> dict[str, Any]:
    refs = [f"s{i}" for i in range(8)]
    tasks = [
        {
            "name": r,
            "taskReferenceName": r,
            "inputParameters": {"x": "${workflow.input.x}" if i == 0 else f"${{{refs[i - 1]}.output.x}}"},
        }
        for i, r in enumerate(refs)
    ]
    wf = {"name": "crash_chain", "version": 1, "tasks": tasks, "outputParameters": {"x": "${s7.output.x}"}}
    return {
        "workflow": wf,
        "input": {"x": 0},
        "workers": {r: worker(log, _inc) for r in refs},
        "expected": {"x": 8},
        "refs": refs,
        "executor": "inline",
    }


def fork(log: Log) -> dict[str, Any]:
    branches = [
        [
            {"name": "branch_a", "taskReferenceName": f"b{i}_1", "inputParameters": {"n": i}},
            {"name": "branch_b", "taskReferenceName": f"b{i}_2", "inputParameters": {"v": f"${{b{i}_1.output.v}}"}},
        ]
        for i in range(3)
    ]
    dyn_tasks = [{"name": "dyn", "taskReferenceName": f"d{k}"} for k in range(4)]
    dyn_input = {f"d{k}": {"v": k} for k in range(4)}
    tasks = [
        {"name": "fork", "taskReferenceName": "fork", "type": "FORK_JOIN", "forkTasks": branches},
        {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": [f"b{i}_2" for i in range(3)]},
        {
            "name": "dfork",
            "taskReferenceName": "dfork",
            "type": "FORK_JOIN_DYNAMIC",
            "inputParameters": {
                "dynamicTasks": "${workflow.input.dynTasks}",
                "dynamicTasksInput": "${workflow.input.dynInput}",
            },
            "dynamicForkTasksParam": "dynamicTasks",
            "dynamicForkTasksInputParamName": "dynamicTasksInput",
        },
        {"name": "djoin", "taskReferenceName": "djoin", "type": "JOIN"},
        {
            "name": "total",
            "taskReferenceName": "total",
            "inputParameters": {"static": "${join.output}", "dynamic": "${djoin.output}"},
        },
    ]
    wf = {"name": "crash_fork", "version": 1, "tasks": tasks, "outputParameters": {"total": "${total.output.total}"}}

    def total(data: dict[str, Any], task: Any) -> dict[str, Any]:
        values = [o["v"] for part in ("static", "dynamic") for o in (data[part] or {}).values()]
        return {"total": sum(values), "count": len(values)}

    workers = {
        "branch_a": worker(log, lambda d, t: {"v": int(d["n"]) * 10}),
        "branch_b": worker(log, lambda d, t: {"v": int(d["v"]) + 1}),
        "dyn": worker(log, lambda d, t: {"v": int(d["v"]) * 100}),
        "total": worker(log, total),
    }
    refs = [f"b{i}_{j}" for i in range(3) for j in (1, 2)] + [f"d{k}" for k in range(4)] + ["total"]
    # b0_2 + b1_2 + b2_2 = 1 + 11 + 21; d0..d3 = 0 + 100 + 200 + 300
    return {
        "workflow": wf,
        "input": {"dynTasks": dyn_tasks, "dynInput": dyn_input},
        "workers": workers,
        "expected": {"total": 633},
        "refs": refs,
        "executor": "threads",
    }


RETRY_DELAY_S = 1


def retry(log: Log) -> dict[str, Any]:
    def flaky(data: dict[str, Any], task: Any) -> dict[str, Any]:
        if task.retry_count < 1:
            raise RuntimeError(f"attempt {task.retry_count} fails")
        return {"x": int(data["x"]) * 10, "attempt": task.retry_count}

    tasks = [
        {"name": "a", "taskReferenceName": "a", "inputParameters": {"x": "${workflow.input.x}"}},
        {"name": "flaky", "taskReferenceName": "flaky", "inputParameters": {"x": "${a.output.x}"}},
        {"name": "z", "taskReferenceName": "z", "inputParameters": {"x": "${flaky.output.x}"}},
    ]
    wf = {
        "name": "crash_retry",
        "version": 1,
        "tasks": tasks,
        "outputParameters": {"x": "${z.output.x}", "attempt": "${flaky.output.attempt}"},
    }
    task_defs = [
        {
            "name": "flaky",
            "retryCount": 2,
            "retryLogic": "FIXED",
            "retryDelaySeconds": RETRY_DELAY_S,
            "timeoutSeconds": 0,
            "responseTimeoutSeconds": 600,
        }
    ]
    workers = {"a": worker(log, _inc), "flaky": worker(log, flaky), "z": worker(log, _inc)}
    return {
        "workflow": wf,
        "input": {"x": 1},
        "workers": workers,
        "task_defs": task_defs,
        "expected": {"x": 21, "attempt": 1},
        "refs": ["a", "flaky", "z"],
        "executor": "threads",
    }


WAIT_S = 2


def wait(log: Log) -> dict[str, Any]:
    tasks = [
        {"name": "a", "taskReferenceName": "a", "inputParameters": {"x": "${workflow.input.x}"}},
        {"name": "pause", "taskReferenceName": "pause", "type": "WAIT", "inputParameters": {"duration": f"{WAIT_S}s"}},
        {"name": "b", "taskReferenceName": "b", "inputParameters": {"x": "${a.output.x}"}},
    ]
    wf = {"name": "crash_wait", "version": 1, "tasks": tasks, "outputParameters": {"x": "${b.output.x}"}}
    return {
        "workflow": wf,
        "input": {"x": 5},
        "workers": {"a": worker(log, _inc), "b": worker(log, _inc)},
        "expected": {"x": 7},
        "refs": ["a", "b"],
        "executor": "threads",
    }


def sub(log: Log) -> dict[str, Any]:
    kid_refs = ["c0", "c1", "c2"]
    kid = {
        "name": "crash_kid",
        "version": 1,
        "outputParameters": {"x": "${c2.output.x}"},
        "tasks": [
            {
                "name": "c",
                "taskReferenceName": r,
                "inputParameters": {"x": "${workflow.input.x}" if i == 0 else f"${{{kid_refs[i - 1]}.output.x}}"},
            }
            for i, r in enumerate(kid_refs)
        ],
    }
    tasks = [
        {"name": "p", "taskReferenceName": "a", "inputParameters": {"x": "${workflow.input.x}"}},
        {
            "name": "kid",
            "taskReferenceName": "kid",
            "type": "SUB_WORKFLOW",
            "subWorkflowParam": {"name": "crash_kid", "version": 1},
            "inputParameters": {"x": "${a.output.x}"},
        },
        {"name": "p", "taskReferenceName": "b", "inputParameters": {"x": "${kid.output.x}"}},
    ]
    wf = {"name": "crash_parent", "version": 1, "tasks": tasks, "outputParameters": {"x": "${b.output.x}"}}
    return {
        "workflow": wf,
        "input": {"x": 0},
        "workers": {"p": worker(log, _inc), "c": worker(log, _inc)},
        "workflows": [kid],
        "expected": {"x": 5},
        "refs": ["a", "b", *kid_refs],
        "executor": "threads",
    }


LOOPS = 3


def loop(log: Log) -> dict[str, Any]:
    body = [
        {"name": "l1", "taskReferenceName": "l1", "inputParameters": {"i": "${loop.output.iteration}"}},
        {"name": "l2", "taskReferenceName": "l2", "inputParameters": {"y": "${l1.output.y}"}},
    ]
    tasks = [
        {
            "name": "loop",
            "taskReferenceName": "loop",
            "type": "DO_WHILE",
            "loopOver": body,
            "loopCondition": f"if ($.loop['iteration'] < {LOOPS}) {{ true; }} else {{ false; }}",
        },
        {"name": "after", "taskReferenceName": "after", "inputParameters": {"loop": "${loop.output}"}},
    ]
    wf = {
        "name": "crash_loop",
        "version": 1,
        "tasks": tasks,
        "outputParameters": {"sum": "${after.output.sum}", "iterations": "${loop.output.iteration}"},
    }

    def after(data: dict[str, Any], task: Any) -> dict[str, Any]:
        out = data["loop"]
        return {"sum": sum(out[str(i)]["l2"]["z"] for i in range(1, out["iteration"] + 1))}

    workers = {
        "l1": worker(log, lambda d, t: {"y": int(d["i"]) * 10}),
        "l2": worker(log, lambda d, t: {"z": int(d["y"]) + 1}),
        "after": worker(log, after),
    }
    refs = [f"l{j}__{i}" for i in range(1, LOOPS + 1) for j in (1, 2)] + ["after"]
    # z per iteration: 11, 21, 31
    return {
        "workflow": wf,
        "input": {},
        "workers": workers,
        "expected": {"sum": 63, "iterations": LOOPS},
        "refs": refs,
        "executor": "inline",
    }


SCENARIOS: dict[str, Callable[[Log], dict[str, Any]]] = {
    "chain": chain,
    "fork": fork,
    "retry": retry,
    "wait": wait,
    "sub": sub,
    "loop": loop,
}


def many(store: str, log_path: str, k: int, steps: int, work: float) -> int:
    """Open the store (recovering what a killed predecessor left), start the runs it lacks, wait for all.

    ``k`` chains of ``steps`` tasks run at once on the threads executor; a worker logs its ref as
    ``w<n>.s<i>`` so the parent can tell the runs apart. ``<log>.ready`` appears once flowkit is open.
    """
    import flowkit

    log = Log(log_path, work=work)

    def step(task):  # type: ignore[no-untyped-def]
        ref, rc = f"w{task.input_data['w']}.{task.reference_task_name}", task.retry_count
        log.line("start", ref, rc)
        time.sleep(log.work)
        out = {"x": int(task.input_data["x"]) + 1}
        log.line("done", ref, rc)
        return out

    wf = many_workflow(steps)
    runtime = flowkit.open(store, workers={"step": step}, workflows=[wf])
    with open(log_path + ".ready", "w"):
        pass
    have = {row["correlation_id"] for row in runtime.store.execution_rows()}
    for n in range(k):
        if f"w{n}" not in have:
            runtime.start(wf, {"w": n, "x": 0}, correlation_id=f"w{n}")
    for model in list(runtime.engine.executions.values()):
        runtime.wait(model)
    print(json.dumps({str(m.correlation_id): str(m.status) for m in runtime.engine.executions.values()}))
    return 0


def many_workflow(steps: int) -> dict[str, Any]:
    """A chain of ``steps`` tasks, each adding one to ``x``."""
    tasks = [
        {
            "name": "step",
            "taskReferenceName": f"s{i}",
            "inputParameters": {
                "w": "${workflow.input.w}",
                "x": "${workflow.input.x}" if i == 0 else f"${{s{i - 1}.output.x}}",
            },
        }
        for i in range(steps)
    ]
    return {
        "name": "crash_many",
        "version": 1,
        "tasks": tasks,
        "outputParameters": {"x": f"${{s{steps - 1}.output.x}}"},
    }


def main(argv: list[str]) -> int:
    import flowkit

    if argv[1] == "many":
        return many(argv[2], argv[3], int(argv[4]), int(argv[5]), float(argv[6]))
    name, store, log_path = argv[1], argv[2], argv[3]
    hang = argv[4] if len(argv) > 4 and argv[4] else None
    name, _, warm = name.partition("+")
    if warm:  # another run on the store first: the store is open and warm when the scenario starts
        noop = {"name": "warmup", "version": 1, "tasks": [{"name": "warm", "taskReferenceName": "warm"}]}
        flowkit.run(noop, {}, workers={"warm": lambda: {}}, executor="inline", store=store)
    scenario = SCENARIOS[name](Log(log_path, work=0.06, hang=hang))
    ex = flowkit.run(
        scenario["workflow"],
        scenario["input"],
        workers=scenario["workers"],
        task_defs=scenario.get("task_defs"),
        workflows=scenario.get("workflows"),
        executor=scenario["executor"],
        store=store,
    )
    print(json.dumps({"status": str(ex.status), "output": ex.output}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
