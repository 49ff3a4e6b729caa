"""Conformance cases written from Conductor's test-harness specs and source, with inline definitions.

Each one runs on every executor like the fixture cases (:mod:`flowkit.conformance._cases`); ``source``
names the spec or the Conductor class the expectation comes from.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flowkit.conformance._cases import Case, eq, integration_workers, ok, output_of, seq

__all__ = ["SPEC_CASES"]


def _wf(name: str, tasks: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"name": name, "version": 1, "schemaVersion": 2, "tasks": tasks, **extra}


def _simple(ref: str, name: str = "integration_task_1", **inputs: Any) -> dict[str, Any]:
    return {"name": name, "taskReferenceName": ref, "type": "SIMPLE", "inputParameters": inputs}


def _loop(ref: str, body: list[dict[str, Any]], condition: str | None, **inputs: Any) -> dict[str, Any]:
    loop: dict[str, Any] = {
        "name": ref,
        "taskReferenceName": ref,
        "type": "DO_WHILE",
        "inputParameters": inputs,
        "loopOver": body,
    }
    if condition is not None:
        loop["loopCondition"] = condition
    return loop


_SET_DONE = {"name": "set", "taskReferenceName": "set", "type": "SET_VARIABLE", "inputParameters": {"status": "done"}}
STATUS_LOOP = _wf(
    "status_loop",
    [
        _loop(
            "loop",
            [_SET_DONE, _simple("work")],
            "$.status != 'done' && $.loop['iteration'] < 3",
            status="${workflow.variables.status}",
        )
    ],
    variables={"status": "new"},
)
_INLINE = {
    "name": "inline",
    "taskReferenceName": "inline",
    "type": "INLINE",
    "inputParameters": {"evaluatorType": "graaljs", "expression": "1"},
}
KEEP_LAST = _wf("keep_last_2", [_loop("loop", [_INLINE, _simple("work")], "$.loop['iteration'] < 5", keepLastN=2)])
EMPTY_CONDITION = _wf("empty_condition", [_loop("loop", [_simple("work")], "")])
HIERARCHICAL = _wf(
    "hierarchical_fork_join_swf",
    [
        {
            "name": "fork",
            "taskReferenceName": "fanouttask",
            "type": "FORK_JOIN",
            "forkTasks": [
                [
                    {
                        "name": "sub_workflow_task",
                        "taskReferenceName": "st1",
                        "type": "SUB_WORKFLOW",
                        "inputParameters": {
                            "param1": "${workflow.input.param1}",
                            "param2": "${workflow.input.param2}",
                            "subwf": "${workflow.input.nextSubwf}",
                        },
                        "subWorkflowParam": {"name": "${workflow.input.subwf}", "version": 1},
                    }
                ],
                [_simple("t2", "integration_task_2", p1="${workflow.input.param1}", p2="${workflow.input.param2}")],
            ],
        },
        {"name": "join", "taskReferenceName": "fanouttask_join", "type": "JOIN", "joinOn": ["st1", "t2"]},
    ],
)
HIER_INPUT = {
    "param1": "p1 value",
    "param2": "p2 value",
    "subwf": "hierarchical_fork_join_swf",
    "nextSubwf": "integration_test_wf",
}
_HUMAN_CHILD = _wf("human_child", [{"name": "review", "taskReferenceName": "review", "type": "HUMAN"}])
TERMINATE_IN_FORK = _wf(
    "terminate_in_fork",
    [
        {
            "name": "f",
            "taskReferenceName": "f",
            "type": "FORK_JOIN",
            "forkTasks": [
                [
                    {
                        "name": "s",
                        "taskReferenceName": "s",
                        "type": "SUB_WORKFLOW",
                        "subWorkflowParam": {"name": "human_child"},
                    }
                ],
                [
                    {
                        "name": "t",
                        "taskReferenceName": "t",
                        "type": "TERMINATE",
                        "inputParameters": {"terminationStatus": "FAILED", "terminationReason": "stop here"},
                    }
                ],
            ],
        },
        {"name": "j", "taskReferenceName": "j", "type": "JOIN", "joinOn": ["s", "t"]},
    ],
)
# TH do_while_iteration_fix_test.json and do_while_set_variable_fix.json (DoWhileSpec): pins, flowkit matched already
ITERATION_FIX = _wf(
    "Do_While_Workflow_Iteration_Fix",
    [
        {
            "name": "loopTask",
            "taskReferenceName": "loopTask",
            "inputParameters": {"value": "${workflow.input.loop}"},
            "type": "DO_WHILE",
            "loopCondition": "if ($.loopTask['iteration'] < $.value) { true; } else { false;} ",
            "loopOver": [
                {
                    "name": "form_uri",
                    "taskReferenceName": "form_uri",
                    "type": "LAMBDA",
                    "inputParameters": {"index": "${loopTask['iteration']}", "scriptExpression": "return $.index - 1;"},
                }
            ],
        }
    ],
)
SET_VARIABLE_FIX = _wf(
    "do_while_Set_variable_fix",
    [
        {
            "name": "loopTask",
            "taskReferenceName": "loopTask",
            "inputParameters": {"value": "${workflow.variables.value}"},
            "type": "DO_WHILE",
            "loopCondition": "if ($.value > 0) { true; } else { false; } ",
            "loopOver": [
                {
                    "name": "set_variable",
                    "taskReferenceName": "set_variable",
                    "type": "SET_VARIABLE",
                    "inputParameters": {"value": "0"},
                }
            ],
        }
    ],
)
WAIT_TIMEOUT_DEF = {
    "name": "waitTimeout",
    "timeoutSeconds": 2,
    "responseTimeoutSeconds": 2,
    "retryCount": 1,
    "timeoutPolicy": "RETRY",
    "retryDelaySeconds": 10,
}  # WorkflowTestUtil.groovy
WAIT_TIMEOUT = _wf(
    "test_wait_timeout", [{"name": "waitTimeout", "taskReferenceName": "wait0", "type": "WAIT"}, _simple("t1")]
)


def _workers() -> Mapping[str, Any]:
    return integration_workers()


def _spec_cases() -> tuple[Case, ...]:
    c = "COMPLETED"
    # fmt: off
    return (
        Case("status_loop", c, "DoWhile.java evaluateCondition (inputs resolved again before each check; 3 is only a bound)",
             definition=STATUS_LOOP, workers=_workers,
             checks=(seq("DO_WHILE:COMPLETED", "SET_VARIABLE:COMPLETED", "integration_task_1:COMPLETED"),
                     output_of("loop", "iteration", 1))),
        Case("keep_last_2", c, "DoWhile.java removeIterations (keepLastN 2 of 5 iterations)",
             definition=KEEP_LAST, workers=_workers,
             checks=(seq("DO_WHILE:COMPLETED", "INLINE:COMPLETED", "integration_task_1:COMPLETED",
                         "INLINE:COMPLETED", "integration_task_1:COMPLETED"),
                     eq("refs", lambda e: [t.ref for t in e.tasks], ["loop", "inline__4", "work__4", "inline__5", "work__5"]),
                     eq("loop output keys", lambda e: sorted(e.task("loop").output), ["4", "5", "iteration"]))),
        Case("empty_condition", c, "WorkflowTaskTypeConstraint.java (only a missing loopCondition is invalid)",
             definition=EMPTY_CONDITION, workers=_workers,
             checks=(seq("DO_WHILE:COMPLETED", "integration_task_1:COMPLETED"),)),
        Case("hierarchical_fork_join_swf", c, "HierarchicalForkJoinSubworkflowRetrySpec setup; SubWorkflowTaskMapper.java",
             definition=HIERARCHICAL, input=HIER_INPUT, workers=_workers,
             workflows=(HIERARCHICAL, "simple_workflow_1_integration_test.json"),
             checks=(seq("FORK:COMPLETED", "SUB_WORKFLOW:COMPLETED", "integration_task_2:COMPLETED", "JOIN:COMPLETED"),
                     eq("levels", lambda e: [e.sub_workflow("st1").model.definition.name,
                                             e.sub_workflow("st1").sub_workflow("st1").model.definition.name],
                        ["hierarchical_fork_join_swf", "integration_test_wf"]))),
        Case("terminate_in_fork", "FAILED", "WorkflowExecutorOps.java endExecution (cancelNonTerminalTasks); SubWorkflow.java cancel",
             definition=TERMINATE_IN_FORK, workflows=(_HUMAN_CHILD,),
             checks=(seq("FORK:COMPLETED", "SUB_WORKFLOW:CANCELED", "TERMINATE:COMPLETED", "JOIN:CANCELED"),
                     eq("child", lambda e: (str(e.sub_workflow("s").status), e.sub_workflow("s").reason),
                        ("TERMINATED", "Parent workflow has been terminated with reason: stop here")))),
        Case("test_wait_timeout", "TIMED_OUT",
             "WorkflowAndTaskConfigurationSpec 'wait time out' (no outside completion: the retry times out too)",
             definition=WAIT_TIMEOUT, workers=_workers, task_defs=(WAIT_TIMEOUT_DEF,),
             checks=(seq("WAIT:TIMED_OUT", "WAIT:TIMED_OUT"),
                     ok("retried after 10 s", lambda e: e.tasks[1].start_time - e.tasks[0].end_time == 10_000))),
        Case("Do_While_Workflow_Iteration_Fix", c, "TH DoWhileSpec 'loop over task that use iteration in script expression'",
             definition=ITERATION_FIX, input={"loop": 2},
             checks=(seq("DO_WHILE:COMPLETED", "LAMBDA:COMPLETED", "LAMBDA:COMPLETED"),
                     eq("results", lambda e: [t.output.get("result") for t in e.tasks[1:]], [0, 1]))),
        Case("do_while_Set_variable_fix", c, "TH DoWhileSpec 'Do While task contains set variable task'",
             definition=SET_VARIABLE_FIX, input={"value": 2},
             checks=(seq("DO_WHILE:COMPLETED", "SET_VARIABLE:COMPLETED"),
                     eq("set_variable input", lambda e: e.tasks[1].input.get("value"), "0"))),
    )
    # fmt: on


SPEC_CASES = _spec_cases()
