"""FORK_JOIN, FORK_JOIN_DYNAMIC (its three input forms), JOIN and EXCLUSIVE_JOIN (Conductor's ``ForkJoinTaskMapper``, ``ForkJoinDynamicTaskMapper``, ``Join.java``, ``ExclusiveJoin.java``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from flowkit.definitions import WorkflowTask
from flowkit.definitions._types import SYSTEM_TASK_TYPES, TaskStatus, WorkflowStatus
from flowkit.engine._execution_plan import Node
from flowkit.engine._tasks._common import _start

if TYPE_CHECKING:
    from flowkit.engine._engine import Engine
    from flowkit.engine._state import TaskModel, WorkflowModel

__all__ = ["exclusive_join", "fork_join", "fork_join_dynamic", "join", "notify_waiter", "prepare_dynamic_fork"]

S = TaskStatus
_COMPLETED, _COMPLETED_WITH_ERRORS = S.COMPLETED, S.COMPLETED_WITH_ERRORS  # read once per joined branch
_FAST_KEYS = frozenset({"name", "taskReferenceName", "type", "inputParameters"})
_FULL_KEYS = frozenset({"optional", "retryCount", "startDelay", "taskDefinition"})  # need a full WorkflowTask


def _schedule_join(engine: Engine, wf: WorkflowModel, fork: TaskModel, now: int, join_on: list[str] | None) -> None:
    join_node = fork.node.next
    if join_node is None or join_node.kind != "JOIN":
        return  # validation rejects this; a run-time definition gets the Conductor error below
    suffix = f"__{fork.iteration}" if join_node.loop is not None else ""
    refs = join_on if join_on is not None else [r + suffix for r in join_node.wt.join_on]
    engine.schedule(wf, join_node, now, task_input={"joinOn": refs})


def _as_one_batch(engine: Engine, schedule_all: Callable[[], None]) -> None:
    """Map a fork's tasks as one batch, as Conductor does (``ForkJoinTaskMapper``).

    The whole batch (branch heads, nested forks, the JOIN) is added first and only then do its DO_WHILEs
    run, so their first loop tasks follow the JOIN in the task list.
    """
    if engine._batch is not None:
        schedule_all()
        return
    held: list[Callable[[], None]] = []
    engine._batch = held
    try:
        schedule_all()
    finally:
        engine._batch = None
    for start in held:
        start()


def fork_join(engine: Engine, wf: WorkflowModel, task: TaskModel, now: int, _: Any) -> None:
    """FORK: COMPLETED at once; the first task of every branch and the JOIN are scheduled."""
    task.start_time = now
    if task.node.next is None or task.node.next.kind != "JOIN":
        engine.finish(task, S.FAILED, now, "Fork task definition is not followed by a join task.  Check the blueprint")
        return
    task.status = S.COMPLETED
    task.end_time = now
    wf.active -= 1
    task.executed = True
    task.extra = {"drove": True}

    def schedule_all() -> None:
        for first in task.node.nested:
            if first is not None:
                engine.schedule(wf, first, now)
        _schedule_join(engine, wf, task, now, None)

    _as_one_batch(engine, schedule_all)


def _fail(engine: Engine, wf: WorkflowModel, now: int, reason: str) -> None:
    engine.end(wf, WorkflowStatus.FAILED, reason, now)


def _merge(params: Any, extra_input: Mapping[str, Any] | None) -> dict[str, Any]:
    """A branch's inputParameters with ``extra_input`` put over them (Conductor's putAll)."""
    merged = dict(params) if type(params) is dict or isinstance(params, Mapping) else {}
    if extra_input:
        merged.update(extra_input)
    return merged


def _prototype(protos: dict[tuple[str, str], Node], wf: WorkflowModel, fork: Node, name: str, task_type: str) -> Node:
    """The plan node a dynamic fork's plain branches of one (task name, type) share, made on first use.

    The callers look ``protos`` up themselves (``protos.get(shape) or _prototype(...)``): once per branch.
    """
    shape = WorkflowTask(name=name, task_reference_name="", type=task_type, optional=fork.wt.optional)
    proto = protos[(name, task_type)] = wf.plan.runtime_node(shape, fork, fork.loop)
    return proto


def _to_task(raw: Any, where: str, extra_input: Mapping[str, Any] | None = None) -> WorkflowTask:
    """A forked task with more than a plain branch's keys; ``extra_input`` is merged into its inputParameters (Conductor's putAll)."""
    if isinstance(raw, WorkflowTask):
        task = raw
    else:
        from flowkit.definitions._wire import workflow_task_from_json

        task = workflow_task_from_json(raw, where)
    if extra_input:
        task = task.evolve(input_parameters={**task.input_parameters, **extra_input})
    return task


def _task_like(t: Any) -> bool:
    """A WorkflowTask, or a mapping with a taskReferenceName (form B's task list)."""
    return isinstance(t, WorkflowTask) or (isinstance(t, Mapping) and bool(t.get("taskReferenceName")))


def _ref_of(raw: Any) -> Any:
    return raw.task_reference_name if isinstance(raw, WorkflowTask) else raw.get("taskReferenceName")


def _form_b_param(wt: WorkflowTask, data: dict[str, Any]) -> str | None:
    """The input key holding form B's task list.

    Besides ``dynamicForkTasksParam``, the Conductor Python SDK writes the *legacy*
    ``dynamicForkJoinTasksParam`` together with ``dynamicForkTasksInputParamName`` for a plain task
    list. The OSS server rejects that combination; flowkit runs it as form B, which is what the SDK
    meant, when the value really is a list.
    """
    if wt.dynamic_fork_tasks_param and not wt.dynamic_fork_join_tasks_param:
        return wt.dynamic_fork_tasks_param
    legacy = wt.dynamic_fork_join_tasks_param
    if legacy and wt.dynamic_fork_tasks_input_param_name and isinstance(data.get(legacy), list):
        return legacy
    return None


def prepare_dynamic_fork(engine: Engine, wf: WorkflowModel, node: Node, task_id: str, now: int) -> Any:
    """Work out the forked tasks before anything is persisted; a bad input fails the workflow."""
    from flowkit.definitions._wire import workflow_task_from_json
    from flowkit.errors import DefinitionError

    data = engine.resolve_input(wf, node, task_id)
    wt = node.wt
    forks: list[WorkflowTask | Node] = []  # a Node: a plain branch, mapped here already
    mapped_before = wf.dynamic_forks > 0
    try:
        if isinstance(data.get("forkTaskInputs"), list):
            fork_type = data.get("forkTaskType") or "SIMPLE"
            workflow = data.get("forkTaskWorkflow")
            name = data.get("forkTaskName") or (fork_type if fork_type in SYSTEM_TASK_TYPES else wt.task_reference_name)
            name = str(name)
            prefix = f"_{wt.task_reference_name}_{name}_" if mapped_before else f"_{name}_"
            branch_type = str(fork_type)
            proto: Node | None = (
                None  # the plan node the plain branches share (fork_join_dynamic's for the other forms)
            )
            for i, item in enumerate(data["forkTaskInputs"]):
                is_map = type(item) is dict or isinstance(item, Mapping)
                params = dict(item) if is_map else {"input": item}
                params["__index"] = i
                ref = f"{prefix}{i}"
                if not workflow and not (is_map and not _FULL_KEYS.isdisjoint(item)):
                    # a plain branch: its node at once (a fork has thousands: no WorkflowTask for each)
                    if proto is None:
                        proto = _prototype({}, wf, node, name, branch_type)
                    raw = {"name": name, "taskReferenceName": ref, "type": branch_type}
                    forks.append(proto.branch(ref, params, raw))
                    continue
                # A full WorkflowTask: these keys are more than a plain branch node carries.
                base = (
                    workflow_task_from_json({**item, "taskReferenceName": ref, "name": name}, ref)
                    if isinstance(item, Mapping) and _FULL_KEYS.intersection(item)
                    else None
                )
                extra: dict[str, Any] = {}
                if workflow:
                    version = data.get("forkTaskWorkflowVersion")
                    from flowkit.definitions import SubWorkflowParam

                    extra["sub_workflow_param"] = SubWorkflowParam(
                        name=str(workflow), version=int(version) if version not in (None, "") else None
                    )
                task_type = "SUB_WORKFLOW" if workflow else fork_type
                fork = (base or WorkflowTask(name=name, task_reference_name=ref)).evolve(
                    name=str(workflow or name),
                    type=task_type,
                    input_parameters=params,
                    optional=wt.optional or (base.optional if base else False),
                    **extra,
                )
                forks.append(fork)
        elif tasks_param := _form_b_param(wt, data):
            tasks_raw = data.get(tasks_param)
            inputs = data.get(wt.dynamic_fork_tasks_input_param_name or "")
            if not isinstance(tasks_raw, list) or not all(
                (t.get("taskReferenceName") if type(t) is dict else _task_like(t)) for t in tasks_raw
            ):
                _fail(
                    engine,
                    wf,
                    now,
                    f"Input '{tasks_param}' is invalid. Cannot deserialize a list of Workflow Tasks from '{tasks_raw}'",
                )
                return None
            if inputs is None:
                inputs = {}
            if not isinstance(inputs, Mapping):
                _fail(
                    engine,
                    wf,
                    now,
                    f"Input to the dynamically forked tasks is not a map -> expecting a map of K,V  but found {inputs}",
                )
                return None
            where = f"task '{wt.task_reference_name}' input '{tasks_param}'"
            protos: dict[tuple[str, str], Node] = {}
            for raw in tasks_raw:
                branch_ref: Any = raw.get("taskReferenceName") if type(raw) is dict else _ref_of(raw)
                extra_input = inputs.get(branch_ref)
                if extra_input is not None and type(extra_input) is not dict and not isinstance(extra_input, Mapping):
                    _fail(
                        engine,
                        wf,
                        now,
                        f"Tasks could not be dynamically forked due to invalid input: input for "
                        f"'{branch_ref}' must be a map, found {extra_input!r}",
                    )
                    return None
                if type(raw) is dict and _FAST_KEYS.issuperset(raw) and type(branch_ref) is str:
                    # a plain branch: its node at once, as forkTaskName's
                    given = raw.get("inputParameters")
                    if not given and type(extra_input) is dict:
                        merged = extra_input  # read-only here: the engine copies it into each attempt's input
                    else:
                        merged = _merge(given, extra_input)
                    name, branch_type = str(raw.get("name") or branch_ref), str(raw.get("type") or "SIMPLE")
                    proto = protos.get((name, branch_type)) or _prototype(protos, wf, node, name, branch_type)
                    forks.append(proto.branch(branch_ref, merged, raw))
                    continue
                forks.append(_to_task(raw, where, extra_input))
        else:
            legacy = data.get(wt.dynamic_fork_join_tasks_param or "")
            items = legacy.get("dynamicTasks") if isinstance(legacy, Mapping) else None
            if not isinstance(items, list):
                _fail(
                    engine,
                    wf,
                    now,
                    f"Input '{wt.dynamic_fork_join_tasks_param}' is invalid: expected {{\"dynamicTasks\": [...]}}, found {legacy!r}",
                )
                return None
            protos = {}
            for item in items:
                wf_name = item.get("workflowName")
                if not wf_name:  # a plain branch: one shared plan node per fork, as for the other forms
                    name = str(item.get("taskName") or None)
                    ref = str(item["referenceName"])
                    branch_type = str(item.get("type") or "SIMPLE")
                    proto = protos.get((name, branch_type)) or _prototype(protos, wf, node, name, branch_type)
                    raw = {"name": name, "taskReferenceName": ref, "type": branch_type}
                    forks.append(proto.branch(ref, dict(item.get("input") or {}), raw))
                    continue
                from flowkit.definitions import SubWorkflowParam

                fork = WorkflowTask(
                    name=str(item.get("taskName") or wf_name),
                    task_reference_name=str(item["referenceName"]),
                    type=item.get("type") or ("SUB_WORKFLOW" if wf_name else "SIMPLE"),
                    sub_workflow_param=SubWorkflowParam(name=wf_name) if wf_name else None,
                )
                forks.append(_to_task(fork, "", dict(item.get("input") or {})))
    except DefinitionError as exc:
        _fail(engine, wf, now, f"Tasks could not be dynamically forked due to invalid input: {exc}")
        return None
    except (KeyError, TypeError, ValueError) as exc:
        _fail(engine, wf, now, f"Tasks could not be dynamically forked due to invalid input: {exc!r}")
        return None
    wf.dynamic_forks += 1
    return node, data, forks


def fork_join_dynamic(engine: Engine, wf: WorkflowModel, task: TaskModel, now: int, forks: Any) -> None:
    """FORK (COMPLETED), every forked task, then the JOIN on their refs."""
    node = task.node
    if node.next is None or node.next.kind != "JOIN":
        engine.finish(
            task,
            S.FAILED,
            now,
            "Dynamic join definition is not followed by a join task.  Check the workflow definition.",
        )
        return
    nodes = [fork if type(fork) is Node else _task_node(wf, node, fork) for fork in forks]
    suffix = f"__{task.iteration}" if node.loop is not None else ""
    refs = [child.ref + suffix for child in nodes]
    task.input["forkedTasks"] = refs
    # Each forked WorkflowTask as given: a plain branch dict is shared with the generator's output
    # (no copy per branch; a missing "type" means SIMPLE, as when Conductor reads it).
    task.input["forkedTaskDefs"] = [
        child.raw
        if child.raw is not None
        else {"name": child.name, "taskReferenceName": child.ref, "type": child.wt.type}
        for child in nodes
    ]
    task.start_time = now
    task.status = S.COMPLETED
    task.end_time = now
    wf.active -= 1
    task.executed = True
    task.extra = {"drove": True}

    def schedule_all() -> None:
        engine.schedule_branches(wf, nodes, now)
        _schedule_join(engine, wf, task, now, refs)

    _as_one_batch(engine, schedule_all)


def _task_node(wf: WorkflowModel, fork: Node, wt: WorkflowTask) -> Node:
    """The plan node of a forked task given as a WorkflowTask (optional when the fork is)."""
    if fork.wt.optional and not wt.optional:
        wt = wt.evolve(optional=True)
    return wf.plan.runtime_node(wt, fork, fork.loop)


def join(engine: Engine, wf: WorkflowModel, task: TaskModel, now: int, _: Any) -> None:
    """JOIN: IN_PROGRESS until every joined task is decided."""
    task.status = S.IN_PROGRESS
    task.start_time = now
    refs = list(task.input.get("joinOn") or ())
    pending = engine.wait_for(task, refs)
    task.extra = {"pending": pending}
    if not pending:
        _evaluate_join(engine, task, now)


def notify_waiter(engine: Engine, waiter: TaskModel, ref: str, now: int) -> None:
    """``ref`` was decided; re-evaluate ``waiter`` (a JOIN or EXCLUSIVE_JOIN) when nothing is pending."""
    if waiter.status.is_terminal or waiter.extra is None:
        return
    pending = waiter.extra["pending"]
    pending.discard(ref)
    if pending:
        return
    if waiter.node.kind == "JOIN":
        _evaluate_join(engine, waiter, now)
    else:
        exclusive_join(engine, waiter.workflow, waiter, now, None)


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


def _evaluate_join(engine: Engine, task: TaskModel, now: int) -> None:
    wf = task.workflow
    output: dict[str, Any] = {}
    failed: list[TaskModel] = []
    with_errors: list[TaskModel] = []
    full_refs, refs = wf.full_refs, wf.refs
    for ref in task.input.get("joinOn") or ():
        joined = full_refs.get(ref)  # wf.task_at(ref), inlined: it runs once per joined branch
        if joined is None:
            joined = refs.get(ref)
            if joined is None or joined.ref != ref:
                continue
        if joined.output:
            output[ref] = joined.output
        status = joined.status
        if status is _COMPLETED:
            continue
        if not status.is_successful:
            failed.append(joined)
        elif status is _COMPLETED_WITH_ERRORS:
            with_errors.append(joined)
    task.output = output
    if failed:
        status = S.CANCELED if all(t.status is S.CANCELED for t in failed) else S.FAILED
        engine.finish(task, status, now, " ".join(str(t.reason) for t in failed))
    elif with_errors:
        names = " ".join(f"{t.task_def_name}/{t.task_id}" for t in with_errors)
        engine.finish(task, S.COMPLETED_WITH_ERRORS, now, f"{names} completed with errors")
    else:
        engine.finish(task, S.COMPLETED, now)
