"""Conductor's execution JSON read into flowkit's engine models, updated in place on every read.

The views (monitor, diagram, tasks_df, inspector) read a :class:`~flowkit.engine.WorkflowModel`;
an execution on a server is one too, rebuilt from ``GET /api/workflow/{id}?includeTasks=true``.
Task attempts keep their identity between reads (a view holding one sees it change), and the task
list is only replaced when the server's list is not the old one plus new attempts (a retry, rerun
or restart), which is what the monitor's incremental reader expects of a local run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from flowkit.definitions import TaskDef, TaskStatus, WorkflowDef, WorkflowStatus
from flowkit.definitions._wire import workflow_task_from_json
from flowkit.engine import Engine, TaskModel, WorkflowModel
from flowkit.engine._execution_plan import Plan

__all__ = ["ModelReader"]

_LOOP_SUFFIX = re.compile(r"__\d+$")


class ModelReader:
    """Turns execution JSON into models, one plan per definition, keeping each execution's model object."""

    def __init__(self, engine: Engine, find_def: Callable[[str, int | None], WorkflowDef]) -> None:
        self.engine = engine
        self._find_def = find_def
        self._plans: dict[tuple[str, int], tuple[WorkflowDef, Plan]] = {}

    def read(self, raw: Mapping[str, Any]) -> WorkflowModel:
        """The model of ``raw`` (the same object as last time for the same execution), updated."""
        workflow_id = str(raw["workflowId"])
        model = self.engine.executions.get(workflow_id)
        definition, plan = self._plan(raw)
        if model is None or model.definition is not definition:
            old = model
            model = WorkflowModel(definition, plan, workflow_id, int(raw.get("createTime") or 0))
            if old is not None:
                model.tasks = old.tasks
            self.engine.executions[workflow_id] = model
        _update_workflow(model, raw)
        if "tasks" in raw:
            _update_tasks(model, raw["tasks"])
            self.engine.reindex(model)
        return model

    def _plan(self, raw: Mapping[str, Any]) -> tuple[WorkflowDef, Plan]:
        name = str(raw.get("workflowName") or raw.get("workflowType") or "")
        version = int(raw.get("workflowVersion") or raw.get("version") or 1)
        embedded = raw.get("workflowDefinition")
        hit = self._plans.get((name, version))
        if hit is not None and (not embedded or _same(hit[0], embedded)):
            return hit
        definition = WorkflowDef.from_json(embedded) if embedded else self._find_def(name, version)
        task_defs: dict[str, TaskDef] = {}
        for task in raw.get("tasks") or ():
            found = task.get("taskDefinition")
            if isinstance(found, Mapping) and found.get("name") and found["name"] not in task_defs:
                try:
                    task_defs[str(found["name"])] = TaskDef.from_json(found)
                except Exception:  # noqa: BLE001 - a server's odd task definition only loses retry counts
                    continue
        made = (definition, Plan(definition, task_defs))
        self._plans[(name, version)] = made
        return made


def _same(definition: WorkflowDef, embedded: Mapping[str, Any]) -> bool:
    # a definition changed under the same name and version (Conductor allows overwriting): read it again
    return len(definition.tasks) == len(embedded.get("tasks") or ()) and definition.name == embedded.get("name")


def _update_workflow(model: WorkflowModel, raw: Mapping[str, Any]) -> None:
    try:
        model.status = WorkflowStatus(str(raw.get("status") or "RUNNING"))
    except ValueError:
        model.status = WorkflowStatus.RUNNING
    model.input = raw.get("input") or {}
    model.output = raw.get("output") or {}
    model.variables = raw.get("variables") or {}
    model.reason = raw.get("reasonForIncompletion")
    model.correlation_id = raw.get("correlationId")
    model.create_time = int(raw.get("createTime") or raw.get("startTime") or 0)
    model.update_time = int(raw.get("updateTime") or 0)
    model.end_time = int(raw.get("endTime") or 0)
    model.last_retried_time = int(raw.get("lastRetriedTime") or 0)
    model.parent_workflow_id = raw.get("parentWorkflowId")
    model.parent_workflow_task_id = raw.get("parentWorkflowTaskId")
    model.priority = int(raw.get("priority") or 0)
    model.failed_refs = dict.fromkeys(raw.get("failedReferenceTaskNames") or ())
    model.failed_names = dict.fromkeys(raw.get("failedTaskNames") or ())
    model.re_run_from_workflow_id = raw.get("reRunFromWorkflowId")


def _update_tasks(model: WorkflowModel, raws: list[Mapping[str, Any]]) -> None:
    old = model.tasks
    ids = [str(t.get("taskId")) for t in raws]
    by_id = {t.task_id: t for t in old}
    keep = len(old) <= len(ids) and all(t.task_id == i for t, i in zip(old, ids, strict=False))
    tasks = old if keep else []
    for index, raw in enumerate(raws):
        task = by_id.get(ids[index])
        if task is None or task.workflow is not model:
            task = TaskModel(model, _node(model, raw), ids[index], str(raw.get("referenceTaskName") or ""), 0, 0)
            _update_task(task, raw)
        elif not (
            task.is_terminal
            and task.update_time == (raw.get("updateTime") or 0)
            and task.retried == bool(raw.get("retried"))
        ):
            _update_task(task, raw)  # an ended attempt the server has not touched since is read once
        if not keep:
            tasks.append(task)
        elif index >= len(old):
            old.append(task)
    model.tasks = tasks


def _node(model: WorkflowModel, raw: Mapping[str, Any]) -> Any:
    nodes = model.plan.nodes
    ref = str(raw.get("referenceTaskName") or "")
    found = raw.get("workflowTask")
    wt: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    for candidate in (ref, str(wt.get("taskReferenceName") or ""), _LOOP_SUFFIX.sub("", ref)):
        if candidate in nodes:
            return nodes[candidate]
    # made at run time (a dynamic fork's branch, a DYNAMIC task): its own node, as the store restores one
    source = dict(wt) if wt else {"name": raw.get("taskDefName") or ref, "taskReferenceName": ref, "type": "SIMPLE"}
    source.setdefault("taskReferenceName", ref)
    source.setdefault("name", raw.get("taskDefName") or ref)
    try:
        task = workflow_task_from_json(source)
    except Exception:  # noqa: BLE001 - a task type flowkit does not know: drawn as a plain task
        task = workflow_task_from_json({"name": source["name"], "taskReferenceName": ref, "type": "SIMPLE"})
    return model.plan.runtime_node(task, None, None)


def _update_task(task: TaskModel, raw: Mapping[str, Any]) -> None:
    try:
        task.status = TaskStatus(str(raw.get("status") or "SCHEDULED"))
    except ValueError:
        task.status = TaskStatus.SCHEDULED
    task.task_type = str(raw.get("taskType") or task.task_type)
    task.task_def_name = str(raw.get("taskDefName") or task.task_def_name)
    task.input = raw.get("inputData") or {}
    task.output = raw.get("outputData") or {}
    task.seq = int(raw.get("seq") or 0)
    task.retry_count = int(raw.get("retryCount") or 0)
    task.poll_count = int(raw.get("pollCount") or 0)
    task.iteration = int(raw.get("iteration") or 0)
    task.scheduled_time = int(raw.get("scheduledTime") or 0)
    task.first_scheduled_time = task.scheduled_time
    task.start_time = int(raw.get("startTime") or 0)
    task.end_time = int(raw.get("endTime") or 0)
    task.update_time = int(raw.get("updateTime") or 0)
    task.start_delay = int(raw.get("startDelayInSeconds") or 0)
    task.callback_after_seconds = int(raw.get("callbackAfterSeconds") or 0)
    task.response_timeout_seconds = int(raw.get("responseTimeoutSeconds") or task.response_timeout_seconds or 0)
    task.retried_task_id = raw.get("retriedTaskId")
    task.retried = bool(raw.get("retried"))
    task.executed = bool(raw.get("executed"))
    task.reason = raw.get("reasonForIncompletion")
    task.worker_id = raw.get("workerId")
    task.sub_workflow_id = raw.get("subWorkflowId")
