"""SUB_WORKFLOW and START_WORKFLOW (Conductor's ``SubWorkflowTaskMapper``, ``SubWorkflow.java``, ``StartWorkflow.java``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowkit.definitions._types import TaskStatus, WorkflowStatus
from flowkit.engine._tasks._common import _start
from flowkit.expressions._java import java_string

if TYPE_CHECKING:
    from flowkit.engine._engine import Engine
    from flowkit.engine._state import TaskModel, WorkflowModel

__all__ = ["MAX_SUB_WORKFLOW_DEPTH", "child_ended", "start_workflow", "sub_workflow"]

S = TaskStatus


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
    for key, value in (
        ("taskToDomain", params.task_to_domain),
        ("idempotencyKey", params.idempotency_key),
        ("idempotencyStrategy", params.idempotency_strategy),
    ):
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
                task,
                S.FAILED,
                now,
                f"No such workflow found by name: {name}, version: {version}{via}. "
                "Register it (workflows=[...]) or give subWorkflowParam.workflowDefinition inline.",
            )
            return
    child_input = data["workflowInput"] or data
    cycle = _sub_workflow_cycle(engine, wf, definition, child_input)
    if cycle:
        engine.finish(task, S.FAILED_WITH_TERMINAL_ERROR, now, cycle)
        return
    child = engine.start_execution(
        definition, child_input, now, correlation_id=wf.correlation_id, priority=wf.priority, parent=task
    )
    task.sub_workflow_id = child.workflow_id
    task.output = {"subWorkflowId": child.workflow_id}


MAX_SUB_WORKFLOW_DEPTH = 100  # children start in the same call: far below Python's recursion limit


def _sub_workflow_cycle(engine: Engine, wf: WorkflowModel, child: Any, child_input: Any) -> str | None:
    """Why starting ``child`` under ``wf`` would never end (None when it may start).

    Validation reports cycles it can see in the registry. At run time a workflow may start itself
    again (Conductor allows it: a name from an expression, a recursion that its input ends), so only
    a certain cycle fails here: an ancestor that is the same definition started with the same input
    would do exactly the same again. Anything else is bounded by the depth limit.
    """
    chain = [wf]
    while chain[-1].parent_workflow_id and len(chain) <= MAX_SUB_WORKFLOW_DEPTH:
        parent = engine.executions.get(chain[-1].parent_workflow_id)
        if parent is None:
            break
        chain.append(parent)
    for i, ancestor in enumerate(chain):
        # identity: nested inline definitions may share a name
        if ancestor.definition is child and ancestor.input == child_input:
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
        definition,
        request.get("input") or {},
        now,
        correlation_id=request.get("correlationId", wf.correlation_id),
        priority=int(request.get("priority") or 0),
    )
    task.output = {"workflowId": started.workflow_id}
    engine.finish(task, S.COMPLETED, now)
