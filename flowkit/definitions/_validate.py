"""Definition checks (Conductor's ``WorkflowDef.java``, ``WorkflowTask.java``, ``TaskDef.java`` constraints). Every problem is collected before one DefinitionError."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flowkit._cache import IdentityCache
from flowkit.definitions._model import TaskDef, WorkflowDef, WorkflowTask
from flowkit.definitions._shape import is_trusted, shape_issues, task_def_shape_issues
from flowkit.definitions._types import SYSTEM_TASK_TYPES, RetryLogic, TimeoutPolicy, unsupported_reason
from flowkit.errors import DefinitionError, DefinitionIssue, ExpressionError

__all__ = ["sub_workflow_cycles", "task_def_issues", "validate_workflow", "workflow_issues"]

_SYSTEM_PARAMS = frozenset({"workflow", "CPEWF_TASK_ID", "NETFLIX_ENV", "NETFLIX_STACK"})
_KNOWN = SYSTEM_TASK_TYPES | {"SIMPLE", "DYNAMIC"}
_NEEDS_JOIN = ("FORK_JOIN", "FORK_JOIN_DYNAMIC")


def task_def_issues(td: TaskDef, where: str) -> list[DefinitionIssue]:
    """Problems with one TaskDef (Conductor's TaskTimeoutConstraint and field limits)."""
    out = []

    def add(problem: str, fix: str) -> None:
        out.append(DefinitionIssue(where, problem, fix))

    if not td.name:
        add("has an empty name.", "give the task definition a name.")
    if td.retry_count < 0:
        add(f"retryCount is {td.retry_count}.", "use 0 or more.")
    if td.retry_logic not in RetryLogic.__members__:
        add(f"retryLogic {td.retry_logic!r} is unknown.", "use FIXED, LINEAR_BACKOFF or EXPONENTIAL_BACKOFF.")
    if td.timeout_policy not in TimeoutPolicy.__members__:
        add(f"timeoutPolicy {td.timeout_policy!r} is unknown.", "use RETRY, TIME_OUT_WF or ALERT_ONLY.")
    if td.backoff_scale_factor < 1:
        add(f"backoffScaleFactor is {td.backoff_scale_factor}.", "use 1 or more.")
    if td.retry_delay_seconds < 0:
        add(f"retryDelaySeconds is {td.retry_delay_seconds}.", "use 0 or more.")
    if td.timeout_seconds > 0 and td.response_timeout_seconds > td.timeout_seconds:
        add(
            f"responseTimeoutSeconds ({td.response_timeout_seconds}) is greater than timeoutSeconds ({td.timeout_seconds}).",
            "make responseTimeoutSeconds at most timeoutSeconds.",
        )
    if td.timeout_seconds > 0 and td.total_timeout_seconds > 0 and td.timeout_seconds > td.total_timeout_seconds:
        add(
            f"timeoutSeconds ({td.timeout_seconds}) is greater than totalTimeoutSeconds ({td.total_timeout_seconds}).",
            "make timeoutSeconds at most totalTimeoutSeconds.",
        )
    return out


def _expression_issues(value: object, where: str, ref: str | None) -> list[DefinitionIssue]:
    from flowkit.expressions import compile_value

    try:
        compile_value(value)
    except ExpressionError as exc:
        return [
            DefinitionIssue(where, f"has an expression that does not parse: {exc}", "correct the ${...} syntax.", ref)
        ]
    return []


def _task_issues(
    wt: WorkflowTask,
    siblings: tuple[WorkflowTask, ...],
    index: int,
    in_loop: bool,
    all_refs: set[str],
    task_defs: Mapping[str, TaskDef],
) -> list[DefinitionIssue]:
    ref = wt.task_reference_name
    here = f"task '{ref}'"
    out: list[DefinitionIssue] = []

    def add(field: str | None, problem: str, fix: str) -> None:
        out.append(DefinitionIssue(f"{here} field '{field}'" if field else here, problem, fix, ref))

    kind = wt.type or "SIMPLE"
    if not wt.name:
        add("name", "is empty.", "set the task definition name.")
    why = unsupported_reason(kind)
    if why:
        add("type", f"type {kind} is not supported by flowkit: {why}.", "replace it with a supported task type.")
    elif kind not in _KNOWN and kind not in task_defs and wt.task_definition is None and kind != "USER_DEFINED":
        add(
            "type",
            f"unknown task type {kind!r}.",
            f"use one of {', '.join(sorted(_KNOWN))}, or register a TaskDef named {kind!r} for a USER_DEFINED task.",
        )
    if in_loop and "__" in ref:
        add(
            "taskReferenceName",
            "contains '__' inside a DO_WHILE; Conductor splits loop refs on the first '__'.",
            "rename it without '__'.",
        )
    out += _expression_issues(dict(wt.input_parameters), f"{here} field 'inputParameters'", ref)
    params = wt.input_parameters
    if kind == "SWITCH":
        if not wt.evaluator_type:
            add("evaluatorType", "is missing.", "set evaluatorType to value-param, javascript or graaljs.")
        elif wt.evaluator_type not in ("value-param", "javascript", "graaljs"):
            add("evaluatorType", f"{wt.evaluator_type!r} is not supported.", "use value-param, javascript or graaljs.")
        if not wt.expression:
            add("expression", "is missing.", "set expression (an input key for value-param, a script otherwise).")
        if not wt.decision_cases:
            add("decisionCases", "is empty.", "add at least one case.")
    elif kind == "DECISION":
        if not wt.case_value_param and not wt.case_expression:
            add("caseValueParam", "neither caseValueParam nor caseExpression is set.", "set one of them.")
    elif kind == "DO_WHILE":
        # only a missing condition is an error: "" is valid and ends after one pass (WorkflowTaskTypeConstraint.java)
        if wt.loop_condition is None and wt.items is None and "_items" not in params:
            add("loopCondition", "is missing.", "set loopCondition to a JavaScript condition.")
        if not wt.loop_over:
            add("loopOver", "is empty.", "add the tasks to repeat.")
    elif kind == "DYNAMIC":
        if not wt.dynamic_task_name_param:
            add("dynamicTaskNameParam", "is missing.", "name the input key that holds the task to run.")
    elif kind == "WAIT":
        if params.get("duration") and params.get("until"):
            add("inputParameters", "has both 'duration' and 'until'.", "keep only one.")
        duration = params.get("duration")
        if isinstance(duration, str) and "${" not in duration:
            from flowkit.engine._tasks.waits import parse_duration

            if parse_duration(duration) is None:
                add(
                    "inputParameters",
                    f"duration {duration!r} does not parse.",
                    "write it like '30s', '5m' or '2h 30m'.",
                )
    elif kind == "FORK_JOIN_DYNAMIC":
        if "forkTaskInputs" not in params:
            legacy = bool(wt.dynamic_fork_join_tasks_param)
            modern = bool(wt.dynamic_fork_tasks_param and wt.dynamic_fork_tasks_input_param_name)
            if legacy == modern:
                add(
                    "dynamicForkTasksParam",
                    "needs exactly one of dynamicForkJoinTasksParam (legacy) or dynamicForkTasksParam with "
                    "dynamicForkTasksInputParamName, or inputParameters.forkTaskInputs.",
                    "set dynamicForkTasksParam and dynamicForkTasksInputParamName.",
                )
    elif kind == "FORK_JOIN":
        if not wt.fork_tasks or not any(wt.fork_tasks):
            add("forkTasks", "is empty.", "add at least one branch of tasks.")
    elif kind in ("JOIN", "EXCLUSIVE_JOIN"):
        for joined in wt.join_on:
            if joined not in all_refs:
                add(
                    "joinOn",
                    f"names '{joined}', which is not a task of this workflow.",
                    "use an existing taskReferenceName.",
                )
    elif kind == "SUB_WORKFLOW":
        p = wt.sub_workflow_param
        if p is None or (not p.name and p.workflow_definition is None):
            add("subWorkflowParam", "has no workflow name or inline workflowDefinition.", "set subWorkflowParam.name.")
        elif isinstance(p.workflow_definition, WorkflowDef):
            out += [
                DefinitionIssue(f"{here} inline sub-workflow: {i.where}", i.problem, i.fix, i.task_ref_name)
                for i in workflow_issues(p.workflow_definition, task_defs, check_refs=False)
            ]
    elif kind == "TERMINATE":
        status = params.get("terminationStatus")
        if isinstance(status, str) and "${" not in status and status not in ("COMPLETED", "FAILED", "TERMINATED"):
            add(
                "inputParameters", f"terminationStatus {status!r} is not valid.", "use COMPLETED, FAILED or TERMINATED."
            )
    elif kind == "INLINE":
        if not params.get("expression"):
            add("inputParameters", "has no 'expression'.", "add inputParameters.expression with the script.")
        evaluator = params.get("evaluatorType", "javascript")
        if evaluator not in ("javascript", "graaljs", "value-param"):
            add("inputParameters", f"evaluatorType {evaluator!r} is not supported.", "use javascript or graaljs.")
    elif kind == "JSON_JQ_TRANSFORM":
        if not params.get("queryExpression"):
            add(
                "inputParameters",
                "has no 'queryExpression'.",
                "add inputParameters.queryExpression with the jq program.",
            )
    if kind in _NEEDS_JOIN:
        follower = siblings[index + 1] if index + 1 < len(siblings) else None
        if follower is None or follower.type != "JOIN":
            add("type", f"{kind} is not followed by a JOIN task.", "add a JOIN right after it.")
    return out


def workflow_issues(
    wf: WorkflowDef,
    task_defs: Mapping[str, TaskDef] = {},
    *,
    check_refs: bool = True,  # noqa: B006
) -> list[DefinitionIssue]:
    """Every problem with ``wf`` (empty when it is valid).

    Like Conductor, inline task definitions are not checked against TaskDef constraints (only
    registered ones are), and references are checked for top-level tasks of the outer workflow.
    """
    out = shape_issues(wf)
    if out:
        return out  # the checks below read the fields as their declared types
    here = f"workflow '{wf.name}'"
    if not wf.name:
        out.append(DefinitionIssue("workflow", "has an empty name.", 'set "name".'))
    if not wf.tasks:
        out.append(DefinitionIssue(here, "has no tasks.", 'add at least one task to "tasks".'))
    if wf.schema_version != 2:
        out.append(
            DefinitionIssue(
                f"{here} field 'schemaVersion'",
                f"is {wf.schema_version}; only 2 is supported.",
                "set schemaVersion to 2 and write expressions as ${...}.",
            )
        )
    if wf.timeout_policy not in ("TIME_OUT_WF", "ALERT_ONLY"):
        out.append(
            DefinitionIssue(
                f"{here} field 'timeoutPolicy'",
                f"{wf.timeout_policy!r} is not valid for a workflow.",
                "use TIME_OUT_WF or ALERT_ONLY.",
            )
        )
    if wf.timeout_seconds < 0:
        out.append(DefinitionIssue(f"{here} field 'timeoutSeconds'", "is negative.", "use 0 (no limit) or more."))
    out += _expression_issues(dict(wf.output_parameters), f"{here} field 'outputParameters'", None)

    seen: dict[str, int] = {}
    for wt in wf.all_tasks():
        seen[wt.task_reference_name] = seen.get(wt.task_reference_name, 0) + 1
    for ref, count in seen.items():
        if count > 1:
            out.append(
                DefinitionIssue(
                    f"task '{ref}'",
                    f"taskReferenceName: {ref} should be unique across tasks for a given workflowDefinition: {wf.name} (used {count} times).",
                    "give each task its own taskReferenceName.",
                    ref,
                )
            )
        if not ref:
            out.append(DefinitionIssue(here, "a task has an empty taskReferenceName.", "set taskReferenceName.", ref))
    all_refs = set(seen)

    def visit(tasks: tuple[WorkflowTask, ...], in_loop: bool) -> None:
        for i, wt in enumerate(tasks):
            out.extend(_task_issues(wt, tasks, i, in_loop, all_refs, task_defs))
            for branch in wt.fork_tasks:
                visit(branch, in_loop)
            for case in wt.decision_cases.values():
                visit(case, in_loop)
            visit(wt.default_case, in_loop)
            visit(wt.loop_over, in_loop or wt.type == "DO_WHILE")

    visit(wf.tasks, False)

    from flowkit.expressions import referenced_roots

    for wt in wf.tasks if check_refs else ():
        for root in sorted(referenced_roots(dict(wt.input_parameters))):
            if root not in _SYSTEM_PARAMS and root not in all_refs:
                out.append(
                    DefinitionIssue(
                        f"task '{wt.task_reference_name}' field 'inputParameters'",
                        f"taskReferenceName: {root} for given task: {wt.task_reference_name} is not defined in workflow definition.",
                        f"reference an existing task (one of: {', '.join(sorted(all_refs)[:8])}) or ${{workflow.input...}}.",
                        wt.task_reference_name,
                    )
                )
    return out


def sub_workflow_cycles(wf: WorkflowDef, workflows: Any = None) -> list[DefinitionIssue]:
    """SUB_WORKFLOW tasks of ``wf`` whose child starts (through its own sub-workflows) a workflow again.

    ``workflows`` is what the run resolves names against (a Registry, or WorkflowDefs); without it
    the only workflow known by name is ``wf`` itself. Conductor would start such a chain without end.
    """
    resolve = _resolver(wf, workflows)

    def children(d: WorkflowDef) -> list[WorkflowDef]:
        found = (_child(t, resolve) for t in d.all_tasks() if t.type == "SUB_WORKFLOW")
        return [c for c in found if c is not None]

    # Definitions are compared by identity: two inline definitions may share a name and version
    # (Conductor's own re-run test nests one in the other) without being the same workflow.
    out: list[DefinitionIssue] = []
    reported: set[tuple[int, ...]] = set()
    for top in wf.all_tasks():
        first = _child(top, resolve) if top.type == "SUB_WORKFLOW" else None
        if first is None:
            continue
        # depth-first from wf through this task, without recursion; a child already on the path closes a cycle
        path, iters, done = [wf, first], [iter(children(first))], set()
        cycle = [wf, wf] if first is wf else None
        while iters and cycle is None:
            child = next(iters[-1], None)
            if child is None:
                done.add(id(path.pop()))  # explored in full: no cycle through it from this path
                iters.pop()
            elif any(d is child for d in path):
                cycle = [*path[[id(d) for d in path].index(id(child)) :], child]
            elif id(child) not in done:
                path.append(child)
                iters.append(iter(children(child)))
        if cycle is not None and tuple(map(id, cycle)) not in reported:
            reported.add(tuple(map(id, cycle)))
            names = " -> ".join(f"'{d.name}' v{d.version}" for d in cycle)
            out.append(
                DefinitionIssue(
                    f"task '{top.task_reference_name}' field 'subWorkflowParam'",
                    f"starts a cycle of sub-workflows ({names}): each run would start the next without end.",
                    "remove the SUB_WORKFLOW task that closes the cycle, or repeat work with a DO_WHILE.",
                    top.task_reference_name,
                )
            )
    return out


def _resolver(wf: WorkflowDef, workflows: Any) -> Any:
    """``(name, version) -> WorkflowDef | None`` as a run would resolve a SUB_WORKFLOW's child.

    A registered definition with ``wf``'s name and version stands for ``wf`` itself.
    """
    if workflows is None:
        get: Any = lambda name, version: wf if name == wf.name and version in (None, wf.version) else None  # noqa: E731
    elif callable(getattr(workflows, "get", None)) and not isinstance(workflows, Mapping):
        get = workflows.get  # the engine's Registry
    else:
        by_key = {(d.name, d.version): d for d in workflows if isinstance(d, WorkflowDef)}
        latest: dict[str, WorkflowDef] = {}
        for d in by_key.values():
            if d.name not in latest or d.version > latest[d.name].version:
                latest[d.name] = d
        get = lambda name, version: latest.get(name) if version is None else by_key.get((name, version))  # noqa: E731

    def resolve(name: str, version: int | None) -> WorkflowDef | None:
        found = get(name, version)
        return wf if found is not None and (found.name, found.version) == (wf.name, wf.version) else found

    return resolve


def _child(wt: WorkflowTask, resolve: Any) -> WorkflowDef | None:
    param = wt.sub_workflow_param
    if param is None:
        return None
    if isinstance(param.workflow_definition, WorkflowDef):
        return param.workflow_definition
    if param.workflow_definition is not None or not param.name:
        return None  # an expression: only the run knows (the engine refuses a cycle it meets)
    return resolve(param.name, param.version)  # type: ignore[no-any-return]


def validate_workflow(
    wf: WorkflowDef,
    *,
    task_defs: Mapping[str, TaskDef] = {},
    workflows: Iterable[WorkflowDef] | None = None,  # noqa: B006
) -> None:
    """Raise DefinitionError listing every problem with ``wf``."""
    alone = not task_defs and workflows is None and is_trusted(wf)
    if alone and _VALID_ALONE.get(wf):
        return  # a definition read from JSON (frozen, often the one a dict's fingerprint gave back) passed before
    issues = task_def_shape_issues(task_defs)
    if not issues:
        issues = workflow_issues(wf, task_defs)
        for name, td in task_defs.items():
            issues += task_def_issues(td, f"task definition '{name}'")
        if not issues:
            issues = sub_workflow_cycles(wf, workflows)
    if issues:
        raise DefinitionError(issues, workflow_name=wf.name if isinstance(wf.name, str) else None)
    if alone:
        _VALID_ALONE.put(wf, True)


_VALID_ALONE: IdentityCache[WorkflowDef, bool] = IdentityCache(256)
