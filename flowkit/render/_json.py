"""Conductor's execution JSON read into the few attributes the run diagram uses.

The JSON of ``GET /workflow/{id}?includeTasks=true`` (or ``Execution.to_json()``), so a run from a
Conductor server draws like a flowkit run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from flowkit.definitions import WorkflowDef, WorkflowTask

__all__ = ["is_execution_json", "json_execution"]

_LOOP_SUFFIX = re.compile(r"__\d+$")


def is_execution_json(value: Any) -> bool:
    """Tell a Conductor workflow execution document from a definition."""
    return isinstance(value, Mapping) and "workflowId" in value and isinstance(value.get("tasks"), list)


class _Owner:
    __slots__ = ("ref",)

    def __init__(self, ref: str) -> None:
        self.ref = ref


class _Node:
    __slots__ = ("container", "owner", "ref", "wt")

    def __init__(self, ref: str, wt: WorkflowTask, owner: str | None) -> None:
        self.ref = ref
        self.wt = wt
        self.container = "dynamic" if owner is not None else "top"
        self.owner = _Owner(owner) if owner is not None else None


class _Task:
    __slots__ = (
        "end_time",
        "input",
        "iteration",
        "node",
        "output",
        "reason",
        "ref",
        "start_time",
        "status",
        "sub_workflow_id",
        "task_def_name",
        "task_type",
    )

    def __init__(self, raw: Mapping[str, Any], node: _Node) -> None:
        self.ref = str(raw.get("referenceTaskName") or "")
        self.status = str(raw.get("status") or "SCHEDULED")
        self.task_type = str(raw.get("taskType") or "SIMPLE")
        self.task_def_name = str(raw.get("taskDefName") or self.task_type)
        self.iteration = int(raw.get("iteration") or 0)
        self.start_time = int(raw.get("startTime") or 0)
        self.end_time = int(raw.get("endTime") or 0)
        self.reason = raw.get("reasonForIncompletion")
        self.input = raw.get("inputData") or {}
        self.output = raw.get("outputData") or {}
        sub = raw.get("subWorkflowId") or (
            self.output.get("subWorkflowId") if isinstance(self.output, Mapping) else None
        )
        self.sub_workflow_id = str(sub) if sub else None
        self.node = node


class _Execution:
    """The subset of :class:`flowkit.engine.WorkflowModel` that rendering reads."""

    __slots__ = ("create_time", "definition", "end_time", "plan", "reason", "status", "tasks", "workflow_id")

    def __init__(self, raw: Mapping[str, Any], definition: WorkflowDef) -> None:
        self.workflow_id = str(raw.get("workflowId"))
        self.definition = definition
        self.plan = None
        self.status = str(raw.get("status") or "RUNNING")
        self.reason = raw.get("reasonForIncompletion")
        self.create_time = int(raw.get("createTime") or raw.get("startTime") or 0)
        self.end_time = int(raw.get("endTime") or 0)
        self.tasks: list[_Task] = []


def _flat_definition(raw: Mapping[str, Any], dynamic: Mapping[str, str]) -> WorkflowDef:
    """No definition at hand: one task per reference, in order of first appearance."""
    seen: dict[str, WorkflowTask] = {}
    for task in raw["tasks"]:
        ref = _LOOP_SUFFIX.sub("", str(task.get("referenceTaskName") or ""))
        if ref in seen or ref in dynamic:
            continue
        kind = str(task.get("taskType") or "SIMPLE")
        name = str(task.get("taskDefName") or kind)
        from flowkit.definitions import TaskType

        known = kind in TaskType.__members__ and kind != "FORK"
        seen[ref] = WorkflowTask(name=name, task_reference_name=ref, type=kind if known else "SIMPLE")
    name = str(raw.get("workflowName") or raw.get("workflowType") or "workflow")
    return WorkflowDef(
        name=name, version=int(raw.get("workflowVersion") or raw.get("version") or 1), tasks=tuple(seen.values())
    )


def json_execution(raw: Mapping[str, Any], find_def: Callable[[str, int | None], WorkflowDef | None]) -> _Execution:
    """Read an execution document into a model the diagram can draw.

    The definition is the embedded ``workflowDefinition``, else ``find_def(workflowType, version)``,
    else a flat list of the references that ran. Dynamic-fork branches are recognised from the
    fork task's ``forkedTasks`` input, as Conductor records them.
    """
    dynamic: dict[str, str] = {}
    for task in raw["tasks"]:
        forked = (task.get("inputData") or {}).get("forkedTasks")
        if isinstance(forked, list):
            fork_ref = _LOOP_SUFFIX.sub("", str(task.get("referenceTaskName")))
            for ref in forked:
                dynamic[_LOOP_SUFFIX.sub("", str(ref))] = fork_ref
    definition = None
    embedded = raw.get("workflowDefinition")
    if isinstance(embedded, Mapping):
        definition = WorkflowDef.from_json(embedded)
    if definition is None:
        name = raw.get("workflowName") or raw.get("workflowType")
        version = raw.get("workflowVersion") or raw.get("version")
        definition = find_def(str(name), int(version) if version else None) if name else None
    if definition is None:
        definition = _flat_definition(raw, dynamic)
    known = {wt.task_reference_name: wt for wt in definition.all_tasks()}
    model = _Execution(raw, definition)
    for task in raw["tasks"]:
        ref = _LOOP_SUFFIX.sub("", str(task.get("referenceTaskName") or ""))
        wt = known.get(ref)
        owner: str | None = dynamic.get(ref) if wt is None else None
        if wt is None:
            embedded_task = task.get("workflowTask")
            kind = str(task.get("taskType") or "SIMPLE")
            if isinstance(embedded_task, Mapping) and embedded_task.get("type"):
                kind = str(embedded_task["type"])
            wt = WorkflowTask(name=str(task.get("taskDefName") or kind), task_reference_name=ref, type=kind)
        model.tasks.append(_Task(task, _Node(ref, wt, owner)))
    return model
