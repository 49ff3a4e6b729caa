"""Conformance: what Conductor's test-harness specs and source assert, rule by rule (issue 14).

Each test names the upstream spec (``test-harness/src/test/groovy/.../integration/``) or source file
(``core/src/main/java/com/netflix/conductor/``) it is written from, and drives the engine the way the
spec does: start, poll, complete or fail, advance the clock, operate.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Harness, harness_task_defs, load_def

from flowkit import TaskDef, WorkflowDef
from flowkit.conformance._spec_cases import HIER_INPUT, HIERARCHICAL
from flowkit.definitions._validate import workflow_issues

S1 = "simple_workflow_1_integration_test.json"
P1 = {"param1": "p1 value", "param2": "p2 value"}


def wf(tasks: list[dict[str, Any]], name: str = "spec_wf", **extra: Any) -> WorkflowDef:
    return WorkflowDef.from_json({"name": name, "version": 1, "schemaVersion": 2, "tasks": tasks, **extra})


def simple(ref: str, name: str = "integration_task_1", **inputs: Any) -> dict[str, Any]:
    return {"name": name, "taskReferenceName": ref, "type": "SIMPLE", "inputParameters": inputs}


# ---------------------------------------------------------------------------------------------- DO_WHILE
def _status_loop() -> WorkflowDef:
    """SET_VARIABLE status=done inside a loop that runs while ``$.status != 'done'`` (inputs re-read)."""
    return wf(
        [
            {
                "name": "loop",
                "taskReferenceName": "loop",
                "type": "DO_WHILE",
                "inputParameters": {"status": "${workflow.variables.status}"},
                "loopCondition": "$.status != 'done'",
                "loopOver": [
                    {
                        "name": "set",
                        "taskReferenceName": "set",
                        "type": "SET_VARIABLE",
                        "inputParameters": {"status": "done"},
                    },
                    simple("work"),
                ],
            }
        ],
        variables={"status": "new"},
    )


def test_do_while_resolves_its_inputs_again_before_every_condition_check(harness: Harness) -> None:
    # DoWhile.java evaluateCondition: getTaskInputV2(inputParameters) on every check
    run = harness.start(_status_loop())
    harness.complete("work__1")
    assert run.status == "COMPLETED"
    assert harness.tasks() == [
        ("DO_WHILE", "COMPLETED"),
        ("SET_VARIABLE", "COMPLETED"),
        ("integration_task_1", "COMPLETED"),
    ]
    loop = harness.task("loop")
    assert loop.output["iteration"] == 1
    assert loop.input["status"] == "new"  # the task's own input keeps what it was scheduled with


def test_do_while_condition_sees_a_worker_output_through_its_inputs(harness: Harness) -> None:
    definition = wf(
        [
            {
                "name": "loop",
                "taskReferenceName": "loop",
                "type": "DO_WHILE",
                "inputParameters": {"last": "${work.output.n}"},
                "loopCondition": "$.last < 3",
                "loopOver": [simple("work")],
            }
        ]
    )
    run = harness.start(definition)
    for n in (1, 2, 3):
        harness.complete(f"work__{n}", {"n": n})
    assert run.status == "COMPLETED"
    assert harness.task("loop").output["iteration"] == 3


def _keep_last(n: int) -> WorkflowDef:
    return wf(
        [
            {
                "name": "loop",
                "taskReferenceName": "loop",
                "type": "DO_WHILE",
                "inputParameters": {"keepLastN": n, "value": 5},
                "loopCondition": "$.loop['iteration'] < $.value",
                "loopOver": [
                    {
                        "name": "inline",
                        "taskReferenceName": "inline",
                        "type": "INLINE",
                        "inputParameters": {"evaluatorType": "graaljs", "expression": "1"},
                    },
                    simple("work"),
                ],
            },
            simple("after", "integration_task_2"),
        ]
    )


def test_keep_last_n_removes_old_iterations_tasks(harness: Harness) -> None:
    # DoWhile.java removeIterations: five iterations, keepLastN 2 -> the DO_WHILE and iterations 4, 5
    run = harness.start(_keep_last(2))
    for i in range(1, 6):
        harness.complete(f"work__{i}")
    assert harness.task("loop").status == "COMPLETED"
    loop_tasks = [(t.ref, t.iteration) for t in run.tasks if t.node.loop is not None]
    assert loop_tasks == [("inline__4", 4), ("work__4", 4), ("inline__5", 5), ("work__5", 5)]
    assert [t.task_type for t in run.tasks] == [
        "DO_WHILE",
        "INLINE",
        "integration_task_1",
        "INLINE",
        "integration_task_1",
        "integration_task_2",
    ]
    assert sorted(harness.task("loop").output) == ["4", "5", "iteration"]
    assert run.task_by_id(harness.task("work__5").task_id) is not None
    assert all(run.task_at(f"work__{i}") is None for i in (1, 2, 3))
    harness.complete("after")
    assert run.status == "COMPLETED"


def test_keep_last_n_drops_the_removed_attempts_from_the_store(tmp_path: Any) -> None:
    import sqlite3

    import flowkit
    from flowkit.testing import VirtualClock

    db = tmp_path / "loop.db"
    ex = flowkit.run(
        _keep_last(2),
        {},
        workers={"integration_task_1": lambda: {}, "integration_task_2": lambda: {}},
        store=db,
        executor="inline",
        clock=VirtualClock(),
    )
    assert str(ex.status) == "COMPLETED"
    conn = sqlite3.connect(db)
    try:
        stored = [
            r[0] for r in conn.execute("SELECT task_id FROM tasks WHERE workflow_id=? ORDER BY seq", (ex.workflow_id,))
        ]
    finally:
        conn.close()
    assert stored == [t.task_id for t in ex.tasks] and len(stored) == 6


def test_empty_loop_condition_is_valid_and_runs_once(harness: Harness) -> None:
    # WorkflowTaskTypeConstraint.java rejects only a missing loopCondition
    definition = wf(
        [
            {
                "name": "loop",
                "taskReferenceName": "loop",
                "type": "DO_WHILE",
                "loopCondition": "",
                "loopOver": [{"name": "n", "taskReferenceName": "n", "type": "NOOP"}],
            }
        ]
    )
    assert workflow_issues(definition) == []
    run = harness.start(definition)
    assert run.status == "COMPLETED"
    assert harness.tasks() == [("DO_WHILE", "COMPLETED"), ("NOOP", "COMPLETED")]
    missing = wf(
        [
            {
                "name": "loop",
                "taskReferenceName": "loop",
                "type": "DO_WHILE",
                "loopOver": [{"name": "n", "taskReferenceName": "n", "type": "NOOP"}],
            }
        ]
    )
    assert [i.where for i in workflow_issues(missing)] == ["task 'loop' field 'loopCondition'"]


# ---------------------------------------------------------------------------------------------- SUB_WORKFLOW
def _hierarchical() -> WorkflowDef:
    """``hierarchical_fork_join_swf.json`` of the test-harness: the child's name comes from the input.

    The same definition the shipped spec cases run (flowkit.conformance._spec_cases), written once.
    """
    return WorkflowDef.from_json(HIERARCHICAL)


def test_sub_workflow_name_comes_from_an_expression() -> None:
    # SubWorkflowTaskMapper.java: subWorkflowParam is resolved with getTaskInputV2
    definition = _hierarchical()
    assert workflow_issues(definition) == []
    h = Harness(workflows=[definition, load_def(S1)])
    root = h.start(definition, HIER_INPUT)
    st1 = h.task("st1")
    assert st1.input["subWorkflowName"] == "hierarchical_fork_join_swf"
    assert st1.input["subWorkflowVersion"] == 1
    mid = h.engine.executions[st1.sub_workflow_id or ""]
    assert mid.definition.name == "hierarchical_fork_join_swf"
    leaf = h.engine.executions[h.task("st1", mid).sub_workflow_id or ""]
    assert leaf.definition.name == "integration_test_wf"
    assert root.status == "RUNNING"


def test_sub_workflow_task_to_domain_and_idempotency_key_are_resolved(harness: Harness) -> None:
    child = wf([{"name": "n", "taskReferenceName": "n", "type": "NOOP"}], name="child")
    h = Harness(workflows=[child])
    h.start(
        wf(
            [
                {
                    "name": "sub",
                    "taskReferenceName": "sub",
                    "type": "SUB_WORKFLOW",
                    "subWorkflowParam": {
                        "name": "${workflow.input.which}",
                        "taskToDomain": {"*": "${workflow.input.d}"},
                        "idempotencyKey": "${workflow.input.key}",
                    },
                }
            ]
        ),
        {"which": "child", "d": "blue", "key": "k-1"},
    )
    sub = h.task("sub")
    assert sub.status == "COMPLETED"
    assert sub.input["subWorkflowTaskToDomain"] == {"*": "blue"}
    assert sub.input["idempotencyKey"] == "k-1"
    assert sub.input["subWorkflowName"] == "child" and sub.input["subWorkflowVersion"] is None


def test_an_unknown_resolved_sub_workflow_name_fails_clearly(harness: Harness) -> None:
    run = harness.start(_hierarchical(), {**HIER_INPUT, "subwf": "nope"})
    st1 = harness.task("st1")
    assert st1.status == "FAILED"
    assert "No such workflow found by name: nope" in (st1.reason or "")
    assert "'${workflow.input.subwf}' resolved to 'nope'" in (st1.reason or "")
    assert run.status == "FAILED"


def test_a_cancelled_child_carries_the_parents_reason() -> None:
    # SubWorkflow.java cancel: "Parent workflow has been terminated with reason: <reason>"
    h = Harness(workflows=[load_def(S1)])
    root = h.start(
        wf(
            [
                {
                    "name": "s",
                    "taskReferenceName": "s",
                    "type": "SUB_WORKFLOW",
                    "subWorkflowParam": {"name": "integration_test_wf"},
                }
            ]
        ),
        P1,
    )
    child = h.engine.executions[h.task("s").sub_workflow_id or ""]
    h.handle(h.engine.terminate(root, "operator said stop", h.now))
    assert child.status == "TERMINATED"
    assert child.reason == "Parent workflow has been terminated with reason: operator said stop"
    h2 = Harness(workflows=[load_def(S1)])
    root2 = h2.start(
        wf(
            [
                {
                    "name": "s",
                    "taskReferenceName": "s",
                    "type": "SUB_WORKFLOW",
                    "subWorkflowParam": {"name": "integration_test_wf"},
                }
            ]
        ),
        P1,
    )
    child2 = h2.engine.executions[h2.task("s").sub_workflow_id or ""]
    h2.handle(h2.engine.terminate(root2, None, h2.now))
    assert child2.reason == "Parent workflow has been terminated with status TERMINATED"


# ---------------------------------------------------------------------------------------------- timeouts
WAIT_TIMEOUT = TaskDef(
    name="waitTimeout",
    timeout_seconds=2,
    response_timeout_seconds=2,
    retry_count=1,
    timeout_policy="RETRY",
    retry_delay_seconds=10,
)  # WorkflowTestUtil.groovy


def test_wait_times_out_and_is_retried_per_its_task_def() -> None:
    # WorkflowAndTaskConfigurationSpec "Test wait time out task based simple workflow"
    h = Harness(task_defs={**harness_task_defs(), "waitTimeout": WAIT_TIMEOUT})
    run = h.start(
        wf(
            [{"name": "waitTimeout", "taskReferenceName": "wait0", "type": "WAIT"}, simple("t1")],
            name="test_wait_timeout",
        )
    )
    assert h.tasks() == [("WAIT", "IN_PROGRESS")]
    h.advance(3)
    assert run.status == "RUNNING"
    assert h.tasks() == [("WAIT", "TIMED_OUT"), ("WAIT", "SCHEDULED")]
    assert run.tasks[0].reason == (
        "Task timed out after 3 seconds. Timeout configured as 2 seconds. Timeout policy configured to RETRY"
    )
    h.send(run.tasks[1], "COMPLETED")
    assert h.tasks() == [("WAIT", "TIMED_OUT"), ("WAIT", "COMPLETED"), ("integration_task_1", "SCHEDULED")]
    h.complete("t1", {"op": "task1.done"})
    assert run.status == "COMPLETED"


def test_human_with_a_task_def_timeout_times_the_workflow_out() -> None:
    # DeciderService.checkTaskTimeout applies to every task type; TIME_OUT_WF ends the workflow
    review = TaskDef(name="review", timeout_seconds=60, timeout_policy="TIME_OUT_WF")
    h = Harness(task_defs={"review": review})
    run = h.start(wf([{"name": "review", "taskReferenceName": "review", "type": "HUMAN"}]))
    h.advance(59)
    assert h.tasks() == [("HUMAN", "IN_PROGRESS")]
    h.advance(1)
    assert run.status == "TIMED_OUT"
    assert h.tasks() == [("HUMAN", "TIMED_OUT")]


# ---------------------------------------------------------------------------------------------- operations
def test_a_skipped_task_lists_first(harness: Harness) -> None:
    # WorkflowAndTaskConfigurationSpec "Test task skipping in simple workflows" (three tasks t1, t2, t3)
    definition = wf([simple("t1"), simple("t2", "integration_task_2"), simple("t3", "integration_task_3")])
    run = harness.start(definition, P1)
    harness.handle(harness.engine.skip_task(run, "t2", harness.now))
    assert harness.tasks() == [("integration_task_2", "SKIPPED"), ("integration_task_1", "SCHEDULED")]
    assert run.tasks[0].seq == 0
    harness.complete("t1", {"op": "task1.done"})
    assert harness.tasks() == [
        ("integration_task_2", "SKIPPED"),
        ("integration_task_1", "COMPLETED"),
        ("integration_task_3", "SCHEDULED"),
    ]
    harness.complete("t3")
    assert run.status == "COMPLETED" and len(run.tasks) == 3


def test_terminate_in_a_fork_cancels_the_join(harness: Harness) -> None:
    # WorkflowExecutorOps.endExecution: cancelNonTerminalTasks after a TERMINATE
    definition = wf(
        [
            {
                "name": "f",
                "taskReferenceName": "f",
                "type": "FORK_JOIN",
                "forkTasks": [
                    [simple("a")],
                    [
                        {
                            "name": "t",
                            "taskReferenceName": "t",
                            "type": "TERMINATE",
                            "inputParameters": {"terminationStatus": "COMPLETED"},
                        }
                    ],
                ],
            },
            {"name": "j", "taskReferenceName": "j", "type": "JOIN", "joinOn": ["a", "t"]},
        ]
    )
    run = harness.start(definition)
    assert run.status == "COMPLETED"
    assert harness.tasks() == [
        ("FORK", "COMPLETED"),
        ("integration_task_1", "CANCELED"),
        ("TERMINATE", "COMPLETED"),
        ("JOIN", "CANCELED"),
    ]
    assert run.active == 0


def _three_levels(h: Harness) -> tuple[Any, Any, Any]:
    """HierarchicalForkJoinSubworkflowRetrySpec setup: every level FAILED by integration_task_2 in the leaf."""
    root = h.start(_hierarchical(), HIER_INPUT)
    h.complete("t2", {"op": "task2.done"})
    mid = h.engine.executions[h.task("st1").sub_workflow_id or ""]
    h.complete("t2", {"op": "task2.done"}, wf=mid)
    leaf = h.engine.executions[h.task("st1", mid).sub_workflow_id or ""]
    h.complete("t1", {"op": "task1.done"}, wf=leaf)
    h.fail("t2", "failed", wf=leaf)
    assert [str(w.status) for w in (leaf, mid, root)] == ["FAILED"] * 3
    return root, mid, leaf


@pytest.mark.parametrize("level", ["root", "mid", "leaf"])
def test_retry_with_resume_goes_to_the_deepest_failed_workflow(level: str) -> None:
    # HierarchicalForkJoinSubworkflowRetrySpec "Test retry on the <level> with resume flag in a 3-level subworkflow"
    defs = harness_task_defs()
    defs["integration_task_2"] = defs["integration_task_2"].evolve(retry_count=0)
    h = Harness(task_defs=defs, workflows=[_hierarchical(), load_def(S1)])
    root, mid, leaf = _three_levels(h)
    leaf_id, mid_id = leaf.workflow_id, mid.workflow_id
    h.handle(h.engine.retry({"root": root, "mid": mid, "leaf": leaf}[level], h.now, resume_subworkflow_tasks=True))
    for parent in (root, mid):
        assert parent.status == "RUNNING"
        assert h.tasks(parent) == [
            ("FORK", "COMPLETED"),
            ("SUB_WORKFLOW", "IN_PROGRESS"),
            ("integration_task_2", "COMPLETED"),
            ("JOIN", "IN_PROGRESS"),
        ]
    assert h.task("st1").sub_workflow_id == mid_id and h.task("st1", mid).sub_workflow_id == leaf_id
    assert leaf.status == "RUNNING"
    assert h.tasks(leaf) == [
        ("integration_task_1", "COMPLETED"),
        ("integration_task_2", "FAILED"),
        ("integration_task_2", "SCHEDULED"),
    ]
    assert leaf.tasks[1].retried and leaf.tasks[2].retried_task_id == leaf.tasks[1].task_id
    h.complete("t2", {"op": "task1.done"}, wf=leaf)
    assert [str(w.status) for w in (leaf, mid, root)] == ["COMPLETED"] * 3


# ---------------------------------------------------------------------------------------------- outside updates
def _run(definition: WorkflowDef, **options: Any) -> Any:
    import flowkit
    from flowkit.testing import VirtualClock

    return flowkit.run(definition, {}, executor="inline", clock=VirtualClock(), **options)


def test_update_task_carries_output_reason_and_terminal_error() -> None:
    # TaskResult: status, outputData, reasonForIncompletion; FAILED_WITH_TERMINAL_ERROR skips retries
    review = TaskDef(name="review", retry_count=3)
    ex = _run(wf([{"name": "review", "taskReferenceName": "review", "type": "HUMAN"}]), task_defs=[review])
    ex.update_task("review", "FAILED_WITH_TERMINAL_ERROR", {"why": "bad"}, reason="rejected")
    assert str(ex.status) == "FAILED"
    assert [(t.task_type, str(t.status)) for t in ex.tasks] == [("HUMAN", "FAILED_WITH_TERMINAL_ERROR")]
    assert ex.tasks[0].output == {"why": "bad"} and ex.tasks[0].reason == "rejected"


def test_update_task_in_progress_with_callback_hands_a_worker_task_out_later() -> None:
    # TaskResult IN_PROGRESS + callbackAfterSeconds: a worker task goes back to SCHEDULED and is polled
    # again once the delay is over; an outside IN_PROGRESS on a HUMAN records its output and keeps waiting
    ex = _run(wf([{"name": "h", "taskReferenceName": "h", "type": "HUMAN"}]))
    ex.update_task("h", "IN_PROGRESS", {"progress": 50}, callback_after_seconds=30)
    assert str(ex.task("h").status) == "IN_PROGRESS" and ex.task("h").output == {"progress": 50}
    ex.update_task("h", "COMPLETED", {"progress": 100})
    assert str(ex.status) == "COMPLETED" and ex.output == {"progress": 100}
    h = Harness(task_defs={})
    run = h.start(wf([simple("t1", "slow")]))
    h.update("t1", "IN_PROGRESS", output={"progress": 50}, callback_after_seconds=30)
    assert h.tasks() == [("slow", "SCHEDULED")]
    assert run.tasks[0].callback_after_seconds == 30 and run.tasks[0].output == {"progress": 50}
    assert h.poll("t1") is None
    h.advance(30)
    assert h.poll("t1") is not None


def test_signal_completes_the_blocked_wait_and_descends_into_sub_workflows() -> None:
    # SignalTaskSpec: "Signal completes a blocked WAIT task", "no blocking task returns null", "descends"
    child = wf([{"name": "w", "taskReferenceName": "inner_wait", "type": "WAIT"}], name="child_wait")
    parent = wf(
        [
            {"name": "w", "taskReferenceName": "outer_wait", "type": "WAIT"},
            {"name": "s", "taskReferenceName": "s", "type": "SUB_WORKFLOW", "subWorkflowParam": {"name": "child_wait"}},
            {"name": "n", "taskReferenceName": "n", "type": "NOOP"},
        ]
    )
    ex = _run(parent, workflows=[child])
    first = ex.signal("COMPLETED", {"a": 1})
    assert first == ex.task("outer_wait").task_id and ex.task("outer_wait").output == {"a": 1}
    assert str(ex.task("s").status) == "IN_PROGRESS"
    second = ex.signal("COMPLETED", {"b": 2})
    assert second == ex.sub_workflow("s").task("inner_wait").task_id
    assert str(ex.status) == "COMPLETED"
    assert ex.signal("COMPLETED") is None


def test_update_task_rejects_a_status_a_task_result_cannot_carry() -> None:
    from flowkit import OperationNotAllowedError

    ex = _run(wf([{"name": "h", "taskReferenceName": "h", "type": "HUMAN"}]))
    with pytest.raises(OperationNotAllowedError, match="not a task result status"):
        ex.update_task("h", "SKIPPED")
    ex.complete_task("h", {"ok": True})  # the old methods stay
    assert str(ex.status) == "COMPLETED"
