"""How each task type runs once mapped (Conductor's task mappers and ``core/execution/tasks/*.java``).

Control flow lives in ``_fork`` and ``_loop``; this module holds worker tasks, SWITCH/DECISION,
SUB_WORKFLOW and the small system tasks, plus the registry ``HANDLERS`` the engine dispatches on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flowkit.definitions._types import TaskStatus, WorkflowStatus
from flowkit.engine._fork import fork_join, fork_join_dynamic, join, notify_waiter, prepare_dynamic_fork
from flowkit.engine._loop import do_while
from flowkit.engine._plan import Node
from flowkit.engine._timers import arm_timeout
from flowkit.expressions._java import case_string, java_string

if TYPE_CHECKING:
    from flowkit.engine._engine import Engine
    from flowkit.engine._state import TaskModel, WorkflowModel

__all__ = ["HANDLERS", "PREPARERS", "child_ended", "fire", "notify_waiter"]

S = TaskStatus
Handler = Callable[["Engine", "WorkflowModel", "TaskModel", int, Any], None]
VARIABLES_LIMIT_BYTES = 256 * 1024


def _start(task: TaskModel, now: int) -> None:
    task.status = S.IN_PROGRESS
    task.start_time = now
    task.update_time = now


def simple(engine: Engine, wf: WorkflowModel, task: TaskModel, now: int, _: Any) -> None:
    engine.dispatch(task, now)


def prepare_dynamic(engine: Engine, wf: WorkflowModel, node: Node, task_id: str, now: int) -> Any:
    """DYNAMIC: the task name comes from the input (``dynamicTaskNameParam``)."""
    data = engine.resolve_input(wf, node, task_id)
    param = node.wt.dynamic_task_name_param or "taskToExecute"
    name = data.get(param)
    if not name:
        engine.end(
            wf, WorkflowStatus.FAILED,
            f"Cannot map a dynamic task based on the parameter and input. Parameter= {param}, input= {data}", now,
        )  # fmt: skip
        return None
    runtime = wf.plan.runtime_node(node.wt.evolve(name=str(name), type="SIMPLE"), node.owner, node.loop)
    runtime.ref, runtime.next, runtime.container = node.ref, node.next, node.container
    return runtime, data, None


def switch(engine: Engine, wf: WorkflowModel, task: TaskModel, now: int, _: Any) -> None:
    node = task.node
    wt = node.wt
    _start(task, now)
    if node.kind == "SWITCH":
        evaluator = wt.evaluator_type or "value-param"
        if evaluator == "value-param":
            case = case_string(task.input.get(wt.expression or ""), from_script=False)
        elif evaluator in ("javascript", "graaljs"):
            result = _script(engine, task, wt.expression or "", task.input, now)
            if result is _FAILED:
                return
            case = case_string(result, from_script=True)
        else:
            engine.finish(task, S.FAILED, now, f"No evaluator registered for type: {evaluator}")
            return
        task.input["case"] = case
        task.output = {"evaluationResult": [case], "selectedCase": case}
        first = node.nested[case] if case in wt.decision_cases else node.nested[None]
    else:
        if wt.case_expression:
            result = _script(engine, task, wt.case_expression, task.input, now)
            if result is _FAILED:
                return
            case = case_string(result, from_script=True)
        else:
            case = java_string(task.input.get(wt.case_value_param or ""))
        task.input["case"] = case
        task.output = {"caseOutput": [case]}
        branch = wt.decision_cases.get(case)
        first = node.nested[case] if branch else node.nested[None]
    engine.finish(task, S.COMPLETED, now)
    if first is not None:
        task.extra = {"drove": True}
        engine.schedule(wf, first, now)


_FAILED = object()
SCRIPT_LIMIT_KEYS = {"scriptTimeoutMs": "timeout_ms", "scriptMaxMemoryBytes": "max_memory_bytes"}


def script_limits(task: TaskModel) -> dict[str, int] | None:
    """Per-task script limits from the task input (``scriptTimeoutMs``, ``scriptMaxMemoryBytes``)."""
    data = task.input
    if "scriptTimeoutMs" not in data and "scriptMaxMemoryBytes" not in data:
        return None
    limits = {}
    for key, name in SCRIPT_LIMIT_KEYS.items():
        value = data.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            limits[name] = value
    return limits or None


def _script(engine: Engine, task: TaskModel, source: str, bindings: Any, now: int, *, mode: str = "expression") -> Any:
    """Run JavaScript for ``task``; on error fail it and return _FAILED.

    A script error is FAILED_WITH_TERMINAL_ERROR (FAILED for LAMBDA), as in Conductor; running out of
    time or memory is FAILED, so a task definition's retries apply.
    """
    from flowkit.errors import ScriptError, ScriptMemoryError, ScriptTimeoutError

    if engine.scripts is None:
        engine.finish(task, S.FAILED_WITH_TERMINAL_ERROR, now, "no JavaScript engine is configured for this run")
        return _FAILED
    try:
        # scope: each workflow execution's scripts get their own global state
        return engine.scripts.js(
            source, bindings, mode=mode, limits=script_limits(task), scope=task.workflow.workflow_id
        )
    except (ScriptTimeoutError, ScriptMemoryError) as exc:
        task.output = {"error": str(exc)}
        engine.finish(task, S.FAILED, now, str(exc))
    except ScriptError as exc:
        message = f"{exc} (line {exc.line})" if exc.line else str(exc)
        task.output = {"error": message}
        status = S.FAILED if mode == "lambda" else S.FAILED_WITH_TERMINAL_ERROR
        engine.finish(task, status, now, message)
    return _FAILED


def inline(engine: Engine, wf: WorkflowModel, task: TaskModel, now: int, _: Any) -> None:
    _start(task, now)
    evaluator = task.input.get("evaluatorType") or "javascript"
    expression = task.input.get("expression")
    if not isinstance(expression, str) or not expression.strip():
        task.output = {"error": "Empty 'expression' in INLINE task's input parameters."}
        engine.finish(task, S.FAILED_WITH_TERMINAL_ERROR, now, task.output["error"])
        return
    if evaluator == "value-param":
        result: Any = task.input.get(expression)
    elif evaluator in ("javascript", "graaljs"):
        result = _script(engine, task, expression, task.input, now)
        if result is _FAILED:
            return
    else:
        task.output = {
            "error": f"Evaluator of type {evaluator} is not supported (use javascript, graaljs or value-param)"
        }
        engine.finish(task, S.FAILED_WITH_TERMINAL_ERROR, now, task.output["error"])
        return
    task.output = {"result": result}
    _done(engine, task, now)


def lambda_(engine: Engine, wf: WorkflowModel, task: TaskModel, now: int, _: Any) -> None:
    _start(task, now)
    script = task.input.get("scriptExpression") or task.node.wt.script_expression
    if not isinstance(script, str) or not script.strip():
        task.output = {"error": "Empty 'scriptExpression' in LAMBDA task's input parameters."}
        engine.finish(task, S.FAILED, now, task.output["error"])
        return
    result = _script(engine, task, script, task.input, now, mode="lambda")
    if result is _FAILED:
        return
    task.output = {"result": result}
    engine.finish(task, S.COMPLETED, now)


def jq_transform(engine: Engine, wf: WorkflowModel, task: TaskModel, now: int, _: Any) -> None:
    from flowkit.errors import ScriptError

    _start(task, now)
    program = task.input.get("queryExpression")
    if not isinstance(program, str) or not program.strip():
        task.output = {"error": "Missing 'queryExpression' in JSON_JQ_TRANSFORM task's input parameters."}
        engine.finish(task, S.FAILED, now, task.output["error"])
        return
    if engine.scripts is None:
        engine.finish(task, S.FAILED, now, "no jq engine is configured for this run")
        return
    try:
        results = engine.scripts.jq(program, task.input)
    except ScriptError as exc:
        # A runtime error's reason is jq's message exactly, as on Conductor; a program that does
        # not compile also says whose program it is.
        message = str(exc)
        if "compile" in message.lower():
            message = f"{message} (jq program of JSON_JQ_TRANSFORM task '{task.ref}' does not compile)"
        task.output = {"error": str(exc)}
        engine.finish(task, S.FAILED, now, message)
        return
    task.output = {"result": results[0] if results else None, "resultList": results}
    engine.finish(task, S.COMPLETED, now)


def _done(engine: Engine, task: TaskModel, now: int) -> None:
    """Complete a system task, or leave it IN_PROGRESS when it completes asynchronously."""
    if task.node.wt.async_complete or task.input.get("asyncComplete") is True:
        return
    engine.finish(task, S.COMPLETED, now)


def noop(engine: Engine, wf: WorkflowModel, task: TaskModel, now: int, _: Any) -> None:
    _start(task, now)
    engine.finish(task, S.COMPLETED, now)


def set_variable(engine: Engine, wf: WorkflowModel, task: TaskModel, now: int, _: Any) -> None:
    _start(task, now)
    before = dict(wf.variables)
    wf.variables.update(task.input)
    size = len(json.dumps(wf.variables, default=str).encode())
    if size > VARIABLES_LIMIT_BYTES:
        wf.variables.clear()
        wf.variables.update(before)
        engine.finish(
            task, S.FAILED_WITH_TERMINAL_ERROR, now,
            f"The variables payload size: {size} of workflow: {wf.workflow_id} is greater than the permissible "
            f"limit: {VARIABLES_LIMIT_BYTES // 1024} kilobytes",
        )  # fmt: skip
        return
    engine.finish(task, S.COMPLETED, now)


def terminate(engine: Engine, wf: WorkflowModel, task: TaskModel, now: int, _: Any) -> None:
    _start(task, now)
    status = task.input.get("terminationStatus")
    if status not in ("COMPLETED", "FAILED", "TERMINATED"):
        engine.finish(task, S.FAILED, now, f"given termination status is not valid: {status!r}")
        return
    value = task.input.get("workflowOutput")
    task.output = value if isinstance(value, dict) else ({} if value is None else {"output": value})
    engine.finish(task, S.COMPLETED, now)
    wf.terminated_by = task
    reason = task.input.get("terminationReason") or f"Workflow is {status} by TERMINATE task: {task.task_id}"
    engine.end(wf, WorkflowStatus(status), reason, now, failed_task=None if status == "COMPLETED" else task)


def _sub_workflow_params(wf: WorkflowModel, params: Any) -> dict[str, Any]:
    """``subWorkflowParam`` resolved like task input (``SubWorkflowTaskMapper.getSubWorkflowInputParameters``).

    name, version, taskToDomain, idempotencyKey, idempotencyStrategy and priority may be ``${...}``
    expressions; an inline definition object is taken as it is, a string one is resolved.
    """
    from flowkit.definitions import WorkflowDef
    from flowkit.expressions import compile_value, mentions_expression

    if params is None:
        return {"name": None, "priority": None}
    raw: dict[str, Any] = {"name": params.name, "priority": params.priority}
    if params.version is not None:
        raw["version"] = params.version
    for key, value in (("taskToDomain", params.task_to_domain), ("idempotencyKey", params.idempotency_key),
                       ("idempotencyStrategy", params.idempotency_strategy)):  # fmt: skip
        if value is not None:
            raw[key] = dict(value) if key == "taskToDomain" else value
    inline = params.workflow_definition
    if isinstance(inline, str):
        raw["workflowDefinition"] = inline
    if mentions_expression(raw):
        raw = compile_value(raw)(wf.doc, None)
    if inline is not None and not isinstance(inline, str):
        raw["workflowDefinition"] = inline.to_json() if isinstance(inline, WorkflowDef) else inline
    return raw


def sub_workflow(engine: Engine, wf: WorkflowModel, task: TaskModel, now: int, _: Any) -> None:
    from flowkit.definitions import WorkflowDef
    from flowkit.errors import DefinitionError

    params = task.node.wt.sub_workflow_param
    resolved = task.input
    if "workflowInput" not in resolved or "subWorkflowName" not in resolved:
        sub = _sub_workflow_params(wf, params)
        domains = sub.get("taskToDomain")
        task.input = {
            "subWorkflowName": None if sub.get("name") is None else java_string(sub["name"]),
            "subWorkflowVersion": sub.get("version"),
            "subWorkflowTaskToDomain": domains if isinstance(domains, dict) else None,
            "subWorkflowDefinition": sub.get("workflowDefinition"),
            "priority": sub.get("priority"),
            "idempotencyKey": sub.get("idempotencyKey"),
            "idempotencyStrategy": sub.get("idempotencyStrategy"),
            "workflowInput": resolved,
        }
    _start(task, now)
    data = task.input
    definition: Any = params.workflow_definition if params else None
    if isinstance(definition, str):
        definition = data.get("subWorkflowDefinition")
    try:
        if isinstance(definition, dict):
            definition = WorkflowDef.from_json(definition)
    except DefinitionError as exc:
        engine.finish(task, S.FAILED, now, f"Inline sub workflow definition is invalid: {exc}")
        return
    if not isinstance(definition, WorkflowDef):
        name, version = data.get("subWorkflowName"), data.get("subWorkflowVersion")
        try:
            version = None if version is None else int(version)
        except (TypeError, ValueError):
            engine.finish(task, S.FAILED, now, f"subWorkflowParam.version {version!r} is not a whole number.")
            return
        definition = engine.workflows.get(name or "", version)
        if definition is None:
            given = params.name if params else None
            via = f" (subWorkflowParam.name {given!r} resolved to {name!r})" if given != name else ""
            engine.finish(
                task, S.FAILED, now,
                f"No such workflow found by name: {name}, version: {version}{via}. "
                "Register it (workflows=[...]) or give subWorkflowParam.workflowDefinition inline.",
            )  # fmt: skip
            return
    cycle = _sub_workflow_cycle(engine, wf, definition)
    if cycle:
        engine.finish(task, S.FAILED_WITH_TERMINAL_ERROR, now, cycle)
        return
    child_input = data["workflowInput"] or data
    child = engine.start_execution(
        definition, child_input, now, correlation_id=wf.correlation_id, priority=wf.priority, parent=task
    )
    task.sub_workflow_id = child.workflow_id
    task.output = {"subWorkflowId": child.workflow_id}


MAX_SUB_WORKFLOW_DEPTH = 100  # children start in the same call: far below Python's recursion limit


def _sub_workflow_cycle(engine: Engine, wf: WorkflowModel, child: Any) -> str | None:
    """Why starting ``child`` under ``wf`` would never end (None when it may start).

    Validation reports cycles it can see in the registry; this catches those only a run shows
    (a definition from an expression, or one registered after validation).
    """
    chain = [wf]
    while chain[-1].parent_workflow_id and len(chain) <= MAX_SUB_WORKFLOW_DEPTH:
        parent = engine.executions.get(chain[-1].parent_workflow_id)
        if parent is None:
            break
        chain.append(parent)
    for i, ancestor in enumerate(chain):
        if ancestor.definition is child:  # identity: nested inline definitions may share a name
            names = " -> ".join(f"'{w.definition.name}' v{w.definition.version}" for w in reversed(chain[: i + 1]))
            return (
                f"sub-workflow cycle: {names} -> '{child.name}' v{child.version} would start itself again "
                "without end. Fix: remove the SUB_WORKFLOW task that closes the cycle, or call a different workflow."
            )
    if len(chain) > MAX_SUB_WORKFLOW_DEPTH:
        return (
            f"sub-workflows nest more than {MAX_SUB_WORKFLOW_DEPTH} levels deep. Fix: flatten the chain of "
            "sub-workflows (use a DO_WHILE or a FORK_JOIN_DYNAMIC for repeated work)."
        )
    return None


def child_ended(engine: Engine, child: WorkflowModel, now: int) -> None:
    """A sub-workflow ended: its SUB_WORKFLOW task takes the matching status (``SubWorkflow.java``)."""
    parent = engine.executions.get(child.parent_workflow_id or "")
    task = parent.task_by_id(child.parent_workflow_task_id or "") if parent else None
    if task is None or task.status.is_terminal:
        return
    task.output = {"subWorkflowId": child.workflow_id, **child.output}
    status = {
        WorkflowStatus.COMPLETED: S.COMPLETED,
        WorkflowStatus.FAILED: S.FAILED,
        WorkflowStatus.TIMED_OUT: S.TIMED_OUT,
        WorkflowStatus.TERMINATED: S.CANCELED,
    }[child.status]
    reason = None
    if status is not S.COMPLETED:
        reason = f"Sub workflow {child.definition.name}.{child.workflow_id} failure reason: {child.reason}"
    engine.finish(task, status, now, reason)


def start_workflow(engine: Engine, wf: WorkflowModel, task: TaskModel, now: int, _: Any) -> None:
    _start(task, now)
    request = task.input.get("startWorkflow")
    if not isinstance(request, dict):
        engine.finish(task, S.FAILED, now, "Missing 'startWorkflow' in input data.")
        return
    definition = request.get("workflowDef")
    try:
        if isinstance(definition, dict):
            from flowkit.definitions import WorkflowDef

            definition = WorkflowDef.from_json(definition)
        else:
            version = request.get("version")
            definition = engine.workflows.get(str(request.get("name")), int(version) if version else None)
    except Exception as exc:  # a malformed request fails the task, as Conductor does
        engine.finish(task, S.FAILED, now, f"Unable to start workflow: {exc}")
        return
    if definition is None:
        engine.finish(
            task,
            S.FAILED,
            now,
            f"No such workflow found by name: {request.get('name')}, version: {request.get('version')}",
        )
        return
    started = engine.start_execution(
        definition, request.get("input") or {}, now,
        correlation_id=request.get("correlationId", wf.correlation_id), priority=int(request.get("priority") or 0),
    )  # fmt: skip
    task.output = {"workflowId": started.workflow_id}
    engine.finish(task, S.COMPLETED, now)


_DURATION = re.compile(
    r"\s*(?:(\d+)\s*(?:days?|d))?\s*(?:(\d+)\s*(?:hours?|hrs?|h))?\s*(?:(\d+)\s*(?:minutes?|mins?|m))?"
    r"\s*(?:(\d+)\s*(?:seconds?|secs?|s))?\s*",
    re.IGNORECASE,
)


def parse_duration(text: str) -> int | None:
    """Seconds in a Conductor WAIT ``duration`` ("30s", "2h 30m", "1 seconds"); None when invalid."""
    m = _DURATION.fullmatch(text)
    if not m or not any(m.groups()):
        return None
    d, h, mi, s = (int(g or 0) for g in m.groups())
    return ((d * 24 + h) * 60 + mi) * 60 + s


def parse_until(text: str) -> int | None:
    """Epoch ms for ``yyyy-MM-dd HH:mm``, ``yyyy-MM-dd HH:mm z`` or ``yyyy-MM-dd`` (UTC when no zone)."""
    from datetime import UTC, datetime

    for fmt in ("%Y-%m-%d %H:%M %Z", "%Y-%m-%d %H:%M %z", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            moment = datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)
    return None


def wait(engine: Engine, wf: WorkflowModel, task: TaskModel, now: int, _: Any) -> None:
    _start(task, now)
    duration, until = task.input.get("duration"), task.input.get("until")
    if duration and until:
        engine.finish(
            task,
            S.FAILED_WITH_TERMINAL_ERROR,
            now,
            "Both 'duration' and 'until' specified. Please provide only one input",
        )
        return
    due = None
    if duration:
        seconds = parse_duration(str(duration))
        if seconds is None:
            engine.finish(
                task,
                S.FAILED_WITH_TERMINAL_ERROR,
                now,
                f"Unable to parse duration {duration!r}: use e.g. '30s', '2h 30m'",
            )
            return
        due = now + seconds * 1000
    elif until:
        due = parse_until(str(until))
        if due is None:
            engine.finish(
                task, S.FAILED_WITH_TERMINAL_ERROR, now, f"Unable to parse date {until!r}: use 'yyyy-MM-dd HH:mm'"
            )
            return
    if due is not None:
        task.extra = {"waitTimeout": due}
        engine.timer(due, "wait", task)


def human(engine: Engine, wf: WorkflowModel, task: TaskModel, now: int, _: Any) -> None:
    _start(task, now)


def event(engine: Engine, wf: WorkflowModel, task: TaskModel, now: int, _: Any) -> None:
    from flowkit.engine._commands import Publish

    _start(task, now)
    sink = task.node.wt.sink or task.input.get("sink") or "conductor"
    if not isinstance(sink, str):
        task.output = {"error": f"EVENT task '{task.ref}' has a sink that is not a string: {sink!r}"}
        engine.finish(task, S.FAILED, now, task.output["error"])
        return
    # EventTaskMapper puts both into the task input, so they show in the input and the output
    task.input["sink"] = sink
    task.input["asyncComplete"] = bool(task.node.wt.async_complete)
    if sink == "conductor":
        queue = f"conductor:{wf.definition.name}:{task.ref}"
    elif sink.startswith("conductor:"):
        queue = f"conductor:{wf.definition.name}:{sink[len('conductor:') :]}"
    else:
        queue = sink
    payload = dict(task.input)
    payload.update(
        workflowInstanceId=wf.workflow_id, workflowType=wf.definition.name, workflowVersion=wf.definition.version,
        correlationId=wf.correlation_id, taskToDomain={}, event_produced=queue,
    )  # fmt: skip
    task.output = payload
    engine._out.append(Publish(task, queue, payload))
    _done(engine, task, now)


def exclusive_join(engine: Engine, wf: WorkflowModel, task: TaskModel, now: int, _: Any) -> None:
    _start(task, now)
    wt = task.node.wt
    suffix = f"__{task.iteration}" if task.node.loop is not None else ""
    join_on = [r + suffix for r in (task.input.get("joinOn") or wt.join_on)]
    defaults = [r + suffix for r in (task.input.get("defaultExclusiveJoinTask") or wt.default_exclusive_join_task)]
    found = next((t for t in map(wf.task_at, join_on) if t is not None and t.status is not S.SKIPPED), None)
    if found is None:
        found = next((t for t in map(wf.task_at, defaults) if t is not None), None)
    if found is None:
        return  # nothing to join yet: stays IN_PROGRESS, as on Conductor
    if not found.executed:
        task.extra = {"pending": engine.wait_for(task, [found.ref])}
        return
    task.output = dict(found.output)
    if found.status.is_successful:
        engine.finish(task, S.COMPLETED, now)
    else:
        engine.finish(task, S.FAILED, now, found.reason)


def http(engine: Engine, wf: WorkflowModel, task: TaskModel, now: int, _: Any) -> None:
    engine.dispatch(task, now)


def fire(engine: Engine, kind: str, task: TaskModel, now: int) -> None:
    """Timers owned by task types: a WAIT that is due, a delayed retry of a system task."""
    if kind == "wait":
        if task.status is S.IN_PROGRESS:
            engine.finish(task, S.COMPLETED, now)
    elif kind == "start":
        task.input = engine.resolve_input(task.workflow, task.node, task.task_id)
        HANDLERS[task.node.kind](engine, task.workflow, task, now, None)
        arm_timeout(engine, task)


HANDLERS: dict[str, Handler] = {
    "SIMPLE": simple,
    "DYNAMIC": simple,
    "SWITCH": switch,
    "DECISION": switch,
    "FORK_JOIN": fork_join,
    "FORK_JOIN_DYNAMIC": fork_join_dynamic,
    "JOIN": join,
    "EXCLUSIVE_JOIN": exclusive_join,
    "DO_WHILE": do_while,
    "SUB_WORKFLOW": sub_workflow,
    "START_WORKFLOW": start_workflow,
    "SET_VARIABLE": set_variable,
    "TERMINATE": terminate,
    "NOOP": noop,
    "INLINE": inline,
    "LAMBDA": lambda_,
    "JSON_JQ_TRANSFORM": jq_transform,
    "WAIT": wait,
    "HUMAN": human,
    "EVENT": event,
    "HTTP": http,
}
PREPARERS: dict[str, Callable[..., Any]] = {"DYNAMIC": prepare_dynamic, "FORK_JOIN_DYNAMIC": prepare_dynamic_fork}
