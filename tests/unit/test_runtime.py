"""The runtime package: its options value, its hooks, and the protocols its parts follow."""

from __future__ import annotations

import dataclasses
import threading

import pytest

import flowkit
from flowkit.executors import InlineExecutor, ThreadExecutor
from flowkit.runtime import (
    Execution,
    RunEnded,
    RunOptions,
    RunStarted,
    Runtime,
    SyntaxChecking,
    SystemClock,
    TaskEnded,
    TaskStarted,
)
from flowkit.runtime._prepare import default_scripts
from flowkit.store import MemoryStore, SqliteStore
from flowkit.testing import VirtualClock


def _fan_out(n: int) -> flowkit.WorkflowDef:
    return flowkit.WorkflowDef.from_json(
        {
            "name": "fan",
            "version": 1,
            "tasks": [
                {
                    "name": "fork",
                    "taskReferenceName": "fork",
                    "type": "FORK_JOIN",
                    "forkTasks": [
                        [{"name": "leaf", "taskReferenceName": f"leaf{i}", "type": "SIMPLE"}] for i in range(n)
                    ],
                },
                {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": [f"leaf{i}" for i in range(n)]},
                {"name": "after", "taskReferenceName": "after", "type": "SIMPLE"},
            ],
        }
    )


WORKERS = {"leaf": lambda: {"ok": True}, "after": lambda: {"done": True}}


def test_run_options_are_one_frozen_value():
    options = RunOptions(executor="inline", store="memory")
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.executor = "threads"  # type: ignore[misc]
    with pytest.raises(TypeError):
        RunOptions("inline")  # type: ignore[misc]  # keywords only
    assert options.replace(max_workers=2) == RunOptions(executor="inline", store="memory", max_workers=2)
    assert options.background and options.store == "memory"


def test_a_runtime_from_options_runs_like_one_from_keywords():
    wf = _fan_out(3)
    by_options = Runtime(RunOptions(workers=WORKERS, executor="inline", store="memory", background=False))
    by_keywords = Runtime(workers=WORKERS, executor="inline", store="memory", background=False)
    a, b = by_options.start(wf), by_keywords.start(wf)
    assert isinstance(a, Execution) and a.status == b.status == "COMPLETED"
    assert [t.ref for t in a.tasks] == [t.ref for t in b.tasks]
    assert a.runtime is by_options and by_options.options.executor == "inline"
    with pytest.raises(TypeError):
        Runtime(no_such_option=1)


def test_hooks_drive_a_progress_bar_in_the_order_things_happen():
    events: list[tuple[str, str]] = []
    runtime = Runtime(workers=WORKERS, executor="inline", store="memory", background=False)
    runtime.hooks.add(RunStarted, lambda e: events.append(("run started", e.workflow.definition.name)))
    runtime.hooks.add(TaskStarted, lambda e: events.append(("started", e.task.ref)))
    runtime.hooks.add(TaskEnded, lambda e: events.append(("ended", f"{e.task.ref} {e.task.status}")))
    runtime.hooks.add(RunEnded, lambda e: events.append(("run ended", str(e.workflow.status))))
    execution = runtime.start(_fan_out(3))
    assert execution.status == "COMPLETED"
    assert events[0] == ("run started", "fan") and events[-1] == ("run ended", "COMPLETED")
    assert [e for e in events if e[0] == "started"] == [("started", r) for r in ("leaf0", "leaf1", "leaf2", "after")]
    assert events[-2] == ("ended", "after COMPLETED")
    for ref in ("leaf0", "leaf1", "leaf2", "after"):  # every start comes before its end
        assert events.index(("started", ref)) < events.index(("ended", f"{ref} COMPLETED"))


def test_a_removed_hook_hears_nothing_more_and_a_failing_task_is_reported():
    ended: list[str] = []
    runtime = Runtime(
        workers={"leaf": lambda: 1 / 0, "after": lambda: {}},
        executor="inline",
        store="memory",
        background=False,
        task_defs=[{"name": "leaf", "retryCount": 0}],
    )
    remove = runtime.hooks.add(TaskEnded, lambda e: ended.append(f"{e.task.ref} {e.task.status}"))
    assert runtime.start(_fan_out(1)).status == "FAILED"
    assert ended == ["leaf0 FAILED"]
    remove()
    remove()  # twice is harmless
    runtime.start(_fan_out(1))
    assert ended == ["leaf0 FAILED"]


def test_hooks_added_from_another_thread_while_a_run_goes_on():
    gate = threading.Event()
    seen: list[str] = []
    workers = {"leaf": lambda: gate.wait(10) and {"ok": True}, "after": lambda: {}}
    execution = flowkit.start(_fan_out(2), workers=workers, store="memory")
    try:
        execution.runtime.hooks.add(TaskEnded, lambda e: seen.append(e.task.ref))
        gate.set()
        assert execution.wait(10).status == "COMPLETED"
        assert "after" in seen
    finally:
        execution.runtime.close()


def test_the_parts_follow_the_runtime_protocols():
    # Structural types are checked by mypy (tests/test_tooling.py); here the runtime parts a Runtime
    # builds by default are the ones the protocols describe.
    runtime = Runtime(store="memory", background=False)
    assert isinstance(runtime.clock, SystemClock) and not runtime.clock.virtual
    assert isinstance(runtime.store, MemoryStore) and runtime.store.batch_ms == 0
    assert isinstance(default_scripts(), SyntaxChecking)
    assert isinstance(Runtime(executor="inline", store="memory").runner.executor, InlineExecutor)
    assert isinstance(Runtime(store="memory").runner.executor, ThreadExecutor)
    assert SqliteStore.durable and SqliteStore(":memory:").model("x") is None
    assert VirtualClock().virtual and not hasattr(flowkit.testing, "SystemClock")


def test_inline_branches_report_failures_logs_and_printed_output_as_the_general_path_does():
    """The inline executor's short path for unlimited SIMPLE tasks hands every other answer to the general one."""
    calls: dict[int, int] = {}

    def leaf(i: int) -> dict:
        calls[i] = calls.get(i, 0) + 1
        if i % 3 == 1 and calls[i] == 1:
            raise RuntimeError(f"branch {i} broke")  # retried once (retryCount 1), then completes
        if i % 3 == 2:
            print(f"branch {i} says hi")  # logs: an Outcome, not a plain dict
        return {"y": i * 2}

    definition = {
        "name": "fan_inline",
        "version": 1,
        "tasks": [
            {
                "name": "fork",
                "taskReferenceName": "fork",
                "type": "FORK_JOIN_DYNAMIC",
                "inputParameters": {"forkTaskName": "leaf", "forkTaskInputs": [{"i": i} for i in range(9)]},
            },
            {"name": "join", "taskReferenceName": "join", "type": "JOIN"},
        ],
    }
    task_defs = [{"name": "leaf", "retryCount": 1, "retryDelaySeconds": 0}]
    ex = flowkit.run(definition, {}, workers={"leaf": leaf}, executor="inline", store="memory", task_defs=task_defs)
    assert ex.status == "COMPLETED"
    assert ex.task("join").output == {f"_leaf_{i}": {"y": i * 2} for i in range(9)}
    assert calls == {i: 2 if i % 3 == 1 else 1 for i in range(9)}
    failed = [t for t in ex.tasks if t.status == "FAILED"]
    assert sorted(t.ref for t in failed) == ["_leaf_1", "_leaf_4", "_leaf_7"]
    assert all("broke" in (t.reason or "") for t in failed)
    assert ex.task("_leaf_2").logs == ["branch 2 says hi"]


FORK2 = {
    "name": "fork_two",
    "tasks": [
        {
            "name": "fork",
            "taskReferenceName": "fork",
            "type": "FORK_JOIN",
            "forkTasks": [[{"name": "a", "taskReferenceName": "a"}], [{"name": "a", "taskReferenceName": "b"}]],
        },
        {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["a", "b"]},
    ],
}


@pytest.mark.parametrize("max_workers", [0, -1, 1.5, True, "8"])
def test_a_thread_pool_without_threads_is_refused_not_waited_on(max_workers: object) -> None:
    # two branches with no worker thread to run them would wait forever
    with pytest.raises(flowkit.InputError, match="max_workers must be a whole number") as info:
        flowkit.run(FORK2, {}, workers={"a": lambda: {}}, max_workers=max_workers, store="memory")  # type: ignore[arg-type]
    assert "Fix:" in str(info.value)
    assert flowkit.run(FORK2, {}, workers={"a": lambda: {}}, max_workers=1, store="memory").status == "COMPLETED"


def test_task_defs_as_one_dict_one_path_or_a_mapping_all_apply(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    td = {"name": "look", "retryCount": 1, "retryDelaySeconds": 0}
    path = tmp_path / "look.json"
    path.write_text(json.dumps(td))
    wf = {"name": "flaky_once", "tasks": [{"name": "look", "taskReferenceName": "look"}]}
    for given in (td, str(path), path, {"look": td}, [td]):
        calls: list[int] = []

        def look(calls: list[int] = calls) -> dict:
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("flaky")
            return {}

        ex = flowkit.run(wf, {}, workers={"look": look}, task_defs=given, store="memory")  # type: ignore[arg-type]
        assert ex.status == "COMPLETED" and len(calls) == 2, given
    with pytest.raises(flowkit.InputError, match="task_defs must be TaskDefs"):
        flowkit.run(wf, {}, workers={"look": lambda: {}}, task_defs=5, store="memory")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "said"),
    [
        ({"store": 5}, "store must be None"),
        ({"clock": 5}, "clock must be a flowkit clock"),
        ({"workflows": 5}, "workflows must be workflow definitions"),
    ],
)
def test_a_run_option_of_the_wrong_kind_is_an_input_error_with_the_fix(options: dict, said: str) -> None:
    wf = {"name": "odd_option", "tasks": [{"name": "look", "taskReferenceName": "look"}]}
    with pytest.raises(flowkit.InputError, match=said) as info:
        flowkit.run(wf, {}, workers={"look": lambda: {}}, **options)
    assert "Fix:" in str(info.value)


def test_one_sub_workflow_and_one_external_name_need_no_list() -> None:
    child = {"name": "child", "version": 1, "tasks": [{"name": "look", "taskReferenceName": "look"}]}
    parent = {
        "name": "parent",
        "tasks": [
            {
                "name": "child",
                "taskReferenceName": "c",
                "type": "SUB_WORKFLOW",
                "subWorkflowParam": {"name": "child", "version": 1},
            }
        ],
    }
    ran = flowkit.run(parent, {}, workers={"look": lambda: {}}, workflows=child, store="memory")
    assert ran.status == "COMPLETED"
    waits = flowkit.run(child, {}, external="look", store="memory")  # the task waits for outside completion
    assert waits.status == "RUNNING"
    assert [t.status for t in waits.tasks] == ["IN_PROGRESS"]
