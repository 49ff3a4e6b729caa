"""Fuzzing: real Conductor definitions, mutated, with hostile inputs. Every case ends in a FlowkitError
or a result (an Execution in any status), never another exception and never a hang.

Each case takes one of Conductor's own fixture definitions, applies a few mutations at random JSON
places (a hostile value, a deleted key, an unexpected field, a duplicated task), then parses,
validates and runs it with the inline executor, the memory store and a virtual clock, with a
worker for every SIMPLE task and a random workflow input. Generation is cheap on purpose (Hypothesis
draws small integers; the mutation itself is plain Python), so 10,000 cases fit well inside a minute.
"""

from __future__ import annotations

import json
import math
import random
from typing import Any

from conftest import fixture
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flowkit
from flowkit import FlowkitError, WorkflowDef
from flowkit.definitions._types import SYSTEM_TASK_TYPES
from flowkit.testing import VirtualClock

CASES = 10_000


def _deep(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for i in range(depth):
        value = {"a": value} if i % 2 else [value]
    return value


def _no_http(value: Any) -> Any:
    """Fixtures with HTTP tasks call real servers: those tasks become SIMPLE ones (a worker answers)."""
    if isinstance(value, dict):
        out = {k: _no_http(v) for k, v in value.items()}
        if out.get("type") == "HTTP":
            out["type"] = "SIMPLE"
        return out
    if isinstance(value, list):
        return [_no_http(v) for v in value]
    return value


def _fixtures() -> list[tuple[str, str]]:
    out = []
    for path in sorted(fixture("kitchensink.json").parent.glob("*.json")):
        raw = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(raw, dict) and isinstance(raw.get("tasks"), list) and "workflowId" not in raw:
            out.append((path.name, json.dumps(_no_http(raw))))
    return out


FIXTURES = _fixtures()
REGISTRY = [WorkflowDef.from_json(text) for _, text in FIXTURES]

TASK = {"name": "fuzz_task", "taskReferenceName": "fuzz_ref"}
VALUES: list[Any] = [
    math.nan,
    math.inf,
    -math.inf,
    1e400,
    2**31,
    2**63,
    10**30,
    -1,
    0,
    1,
    2,
    3.5,
    -0.5,
    True,
    False,
    None,
    "",
    "x",
    "0",
    "30",
    "1e3",
    "NaN",
    "SIMPLE",
    "SWITCH",
    "DECISION",
    "DO_WHILE",
    "FORK_JOIN",
    "FORK_JOIN_DYNAMIC",
    "JOIN",
    "EXCLUSIVE_JOIN",
    "SUB_WORKFLOW",
    "INLINE",
    "LAMBDA",
    "SET_VARIABLE",
    "TERMINATE",
    "WAIT",
    "HUMAN",
    "DYNAMIC",
    "JSON_JQ_TRANSFORM",
    "EVENT",
    "START_WORKFLOW",
    "UNKNOWN_TYPE",
    "value-param",
    "javascript",
    "graaljs",
    "RETRY",
    "TIME_OUT_WF",
    "ALERT_ONLY",
    "EXPONENTIAL_BACKOFF",
    "LINEAR_BACKOFF",
    "COMPLETED",
    "FAILED",
    "${workflow.input.a}",
    "${workflow.input}",
    "${",
    "${x.output}",
    "${workflow.variables.v}",
    "$.a > 1",
    "$.missing.deep",
    "if ($.a) { 'x' } else { 'y' }",
    ".a | .b",
    "${workflow.input.a}${workflow.input.b}",
    "2s",
    "1 hour",
    "-5s",
    "a" * 5000,
    [],
    {},
    ["x"],
    ["fuzz_ref"],
    [1, 2],
    [[]],
    [None],
    {"a": 1},
    {"": None},
    {"name": "sub_flow_1"},
    {"name": "no_such_workflow"},
    {"name": "kitchensink", "version": 1},
    [TASK],
    [[TASK]],
    {"case": [TASK]},
    TASK,
    _deep(150),
    _deep(300),
    [_deep(60)],
    {"x": _deep(130)},
]
FIELDS = [
    "name",
    "taskReferenceName",
    "type",
    "inputParameters",
    "decisionCases",
    "defaultCase",
    "forkTasks",
    "joinOn",
    "loopCondition",
    "loopOver",
    "expression",
    "evaluatorType",
    "caseValueParam",
    "caseExpression",
    "startDelay",
    "optional",
    "retryCount",
    "taskDefinition",
    "subWorkflowParam",
    "dynamicForkTasksParam",
    "dynamicForkTasksInputParamName",
    "dynamicTaskNameParam",
    "sink",
    "timeoutSeconds",
    "version",
    "tasks",
    "outputParameters",
    "variables",
    "inputTemplate",
    "schemaVersion",
    "timeoutPolicy",
    "failureWorkflow",
    "responseTimeoutSeconds",
    "retryLogic",
    "backoffScaleFactor",
    "items",
    "permissive",
    "asyncComplete",
]
INPUT_VALUES: list[Any] = [
    0,
    1,
    -1,
    2**40,
    0.5,
    "",
    "x",
    "${workflow.input.a}",
    True,
    None,
    [],
    {},
    [1, "a"],
    {"b": {"c": [1]}},
    _deep(20),
    [_deep(40)],
    _deep(260),
    "z" * 2000,
]


def _places(doc: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) in the document, without recursion."""
    out: list[tuple[Any, Any]] = []
    stack = [doc]
    while stack:
        node = stack.pop()
        for key in node if type(node) is dict else range(len(node)):
            out.append((node, key))
            child = node[key]
            if type(child) is dict or type(child) is list:
                stack.append(child)
    return out


def _mutate(doc: dict[str, Any], rng: random.Random, places: list[tuple[Any, Any]]) -> None:
    node, key = rng.choice(places)
    op = rng.randrange(5)
    value = VALUES[rng.randrange(len(VALUES))]
    if op <= 1:  # a hostile value anywhere
        node[key] = json.loads(json.dumps(value))
    elif op == 2:  # a key or an element gone
        del node[key]
    elif op == 3:  # a known field, with a hostile value, in some object
        target = node if type(node) is dict else doc
        target[FIELDS[rng.randrange(len(FIELDS))]] = json.loads(json.dumps(value))
    elif type(node) is list:  # a task or list element copied next to itself (duplicate refs, extra joins)
        node.insert(key, json.loads(json.dumps(node[key])))


def _worker(task: Any) -> dict[str, Any]:
    rng = random.Random(task.task_id)
    choice = rng.randrange(12)
    if choice == 0:
        raise RuntimeError("worker failed")
    if choice == 1:
        return {
            "dynamicTasks": [{"name": "fuzz_leaf", "taskReferenceName": f"leaf_{rng.randrange(3)}"}],
            "dynamicTasksInput": {"leaf_0": {"a": 1}},
            "taskToExecute": rng.choice(["fuzz_leaf", "", None]),
        }
    if choice == 2:
        return {"echo": task.input_data, "n": rng.randrange(-2, 5)}
    return {"result": INPUT_VALUES[choice % len(INPUT_VALUES)], "items": [1, 2, 3]}


def _names(definition: WorkflowDef) -> set[str]:
    """The task names a worker must answer: SIMPLE (and unknown) tasks, inline sub-workflows included."""
    names = set()
    stack = [definition]
    while stack:
        current = stack.pop()
        for wt in current.all_tasks():
            if wt.type not in SYSTEM_TASK_TYPES and isinstance(wt.name, str):
                names.add(wt.name)
            param = wt.sub_workflow_param
            if param is not None and isinstance(param.workflow_definition, WorkflowDef):
                stack.append(param.workflow_definition)
    return names


REGISTRY_NAMES = {"fuzz_leaf"}.union(*(_names(d) for d in REGISTRY))


def run_case(index: int, seed: int, mutations: int, input_seed: int | None) -> str:
    """One case: the outcome's name (a FlowkitError subclass, or the execution's status)."""
    name, text = FIXTURES[index % len(FIXTURES)]
    rng = random.Random(seed)
    doc = json.loads(text)
    for _ in range(mutations):
        places = _places(doc)
        if places:
            _mutate(doc, rng, places)
    irng = random.Random(input_seed)
    keys = irng.sample(["a", "b", "x", "items", "n"], 3) if input_seed is not None else []
    workflow_input = {key: irng.choice(INPUT_VALUES) for key in keys}
    try:
        definition = WorkflowDef.from_json(doc)
        workers = dict.fromkeys(REGISTRY_NAMES | _names(definition), _worker)
        execution = flowkit.run(
            definition,
            workflow_input,
            workers=workers,
            workflows=REGISTRY,
            executor="inline",
            store="memory",
            clock=VirtualClock(),
        )
    except FlowkitError as exc:
        return type(exc).__name__
    json.dumps(execution.to_json(), default=str)  # the execution JSON can always be written
    return str(execution.status)


def test_the_unmutated_fixtures_run() -> None:
    outcomes = {name: run_case(i, 0, 0, None) for i, (name, _) in enumerate(FIXTURES)}
    assert len(outcomes) >= 20
    assert all(not o.endswith("Error") for o in outcomes.values()), outcomes


@settings(
    max_examples=CASES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)
@given(
    index=st.integers(0, 10_000),
    seed=st.integers(0, 2**32),
    mutations=st.integers(0, 3),
    input_seed=st.integers(0, 2**32),
)
def test_mutated_definitions_and_inputs_end_in_a_flowkit_error_or_a_result(
    index: int, seed: int, mutations: int, input_seed: int
) -> None:
    run_case(index, seed, mutations, input_seed)
