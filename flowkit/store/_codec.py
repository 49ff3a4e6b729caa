"""Engine state to and from plain records (what a store keeps).

Also brings a loaded execution back to life in an engine. Record fields are the engine's; JSON
columns use Conductor's names where Conductor has them.
"""

from __future__ import annotations

import json
from typing import Any

from flowkit.definitions import WorkflowDef
from flowkit.definitions._types import TaskStatus, WorkflowStatus
from flowkit.engine import Engine, TaskModel, WorkflowModel
from flowkit.engine._execution_plan import Node

# Conductor's TaskDef default responseTimeoutSeconds (flowkit.definitions.TaskDef's too): a record (schema 5) leaves it out.
RESPONSE_TIMEOUT_DEFAULT = 3600

__all__ = ["RESPONSE_TIMEOUT_DEFAULT", "dumps", "loads", "restore_workflow", "task_entry", "workflow_record"]

_encode = json.JSONEncoder(default=str, separators=(",", ":")).encode
# The same encoder's C core, built once (JSONEncoder.encode builds it at every call: a third of a
# record's cost). It skips the circular-reference check; a cycle ends in RecursionError and is then
# encoded again the checked way, which names it.
_c_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)  # not in typeshed
_c_encode = (
    _c_make_encoder(None, str, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, True)
    if _c_make_encoder is not None
    else None
)

try:  # orjson encodes a task's record 8x faster than json's C encoder (most of what the store adds per task)
    import orjson

    _orjson_dumps: Any = orjson.dumps
    _orjson_loads: Any = orjson.loads
    # datetimes and dataclasses go to ``default`` (str), as json writes them
    _ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
except ImportError:  # pragma: no cover - a dependency; json alone gives the same text
    _orjson_dumps = _orjson_loads = None
    _ORJSON_OPTIONS = 0


def _default(value: Any) -> Any:
    # a float subclass (numpy.float64) is a number to json; orjson hands it here
    return float(value) if isinstance(value, float) else str(value)


def _json_dumps(value: Any) -> str:
    if _c_encode is not None:
        try:
            return "".join(_c_encode(value, 0))
        except RecursionError:
            pass
    return _encode(value)


def dumps(value: Any) -> str:
    """Compact JSON (``default=str``): orjson, else json's C encoder built once.

    What orjson refuses (keys that are not strings, integers beyond 64 bits, lone surrogates, nesting
    deeper than 254, cycles) is written by json, as before. Two values read back differently from
    json's text: NaN and infinities are written as ``null`` (json writes ``NaN``, which is not JSON),
    and a plain ``Enum`` member as its value (json: ``str(member)``).
    """
    if _orjson_dumps is not None:
        try:
            return _orjson_dumps(value, default=_default, option=_ORJSON_OPTIONS).decode()  # type: ignore[no-any-return]
        except TypeError:  # orjson.JSONEncodeError included
            pass
    return _json_dumps(value)


def loads(text: str | bytes) -> Any:
    """JSON text as Python values: orjson, else json (which also reads the ``NaN`` json writes)."""
    if _orjson_loads is not None:
        try:
            return _orjson_loads(text)
        except ValueError:  # orjson.JSONDecodeError
            pass
    return json.loads(text)


# The nodeSource of plain branches, one per (owner ref, type): a fork's thousand branches share one
# dict (read only: entries are encoded, never changed).
_PLAIN_SOURCES: dict[tuple[str | None, str | None], dict[str, Any]] = {}


def _plain_source(owner: str | None, kind: str | None) -> dict[str, Any]:
    found = _PLAIN_SOURCES.get((owner, kind))
    if found is None:
        if len(_PLAIN_SOURCES) > 4096:
            _PLAIN_SOURCES.clear()
        found = _PLAIN_SOURCES[(owner, kind)] = {"owner": owner, "plain": kind}
    return found


def _node_source(task: TaskModel, plan_node: Node | None) -> dict[str, Any] | None:
    """How to rebuild a node that is not in the definition's plan (dynamic fork branch, DYNAMIC task).

    ``plan_node``: the plan's node of the same ref (None when the plan has none).
    """
    node = task.node
    if plan_node is node:
        return None
    owner = node.owner.ref if node.owner is not None else None
    if node.raw is not None:
        raw, params = node.raw, node.params
        if params is task.input:  # plain-data branch input, shared as the task's input: written once
            size = len(raw)
            if (
                (size == 3 or size == 2)
                and raw.get("taskReferenceName") == node.ref
                and raw.get("name") == task.task_def_name
            ):  # a plain branch's task JSON is its name, ref and type (or no type): only the type is not in the record
                if size == 2:  # name and ref only: no type key (SIMPLE)
                    return _plain_source(owner, None)
                kind = raw.get("type")
                if type(kind) is str:
                    return _plain_source(owner, kind)
            return {"owner": owner, "task": raw, "inputFromTask": True}
        return {"owner": owner, "task": {**raw, "inputParameters": params}}
    if plan_node is not None:  # DYNAMIC: same ref, the task name came from the input
        return {"owner": owner, "dynamicOf": node.ref, "name": node.name}
    return {"owner": owner, "task": node.wt.to_json() if hasattr(node.wt, "to_json") else _wt_json(node)}


def _wt_json(node: Node) -> dict[str, Any]:
    from flowkit.definitions._wire import _task_to_json

    data = _task_to_json(node.wt)
    data["taskReferenceName"] = node.ref
    return data


def task_entry(task: TaskModel) -> list[Any]:
    """A task attempt as the store keeps it: an entry of a batch (see ``flowkit.store._sqlite_schema``).

    [task_id, seq, ref, status, type, name, iteration, retry_count, scheduled, started, ended,
    updated, data]; ``data`` holds only what differs from a new attempt's defaults (the restore starts
    from those): half the bytes of a full record.
    """
    node = task.node
    data: dict[str, Any] = {"input": task.input, "output": task.output}
    if task.reason is not None:
        data["reason"] = task.reason
    if task.worker_id is not None:
        data["workerId"] = task.worker_id
    if task.poll_count:
        data["pollCount"] = task.poll_count
    if task.callback_after_seconds:
        data["callbackAfterSeconds"] = task.callback_after_seconds
    if task.callback_after_ms:
        data["callbackAfterMs"] = task.callback_after_ms
    if task.start_delay:
        data["startDelay"] = task.start_delay
    if task.response_timeout_seconds != RESPONSE_TIMEOUT_DEFAULT:  # kept: the task definitions may differ on restore
        data["responseTimeoutSeconds"] = task.response_timeout_seconds
    if task.retried_task_id is not None:
        data["retriedTaskId"] = task.retried_task_id
    if task.retried:
        data["retried"] = True
    if task.executed:
        data["executed"] = True
    if task.first_scheduled_time != task.scheduled_time:
        data["firstScheduledTime"] = task.first_scheduled_time
    if task.sub_workflow_id is not None:
        data["subWorkflowId"] = task.sub_workflow_id
    if task.logs is not None:
        data["logs"] = task.logs
    if task.error is not None:
        data["error"] = task.error
    extra = task.extra
    if extra:
        kept = {k: v for k, v in extra.items() if k in ("items", "waitTimeout", "drove")}
        if kept:
            data["extra"] = kept
    if node.ref != task.ref:
        data["nodeRef"] = node.ref
    plan_node = task.workflow.plan.nodes.get(node.ref)
    if plan_node is not node:  # most nodes are the plan's: nothing to write
        source = _node_source(task, plan_node)
        if source is not None:
            data["nodeSource"] = source
    return [
        task.task_id,
        task.seq,
        task.ref,
        task.status,
        task.task_type,
        task.task_def_name,
        task.iteration,
        task.retry_count,
        task.scheduled_time,
        task.start_time,
        task.end_time,
        task.update_time,
        data,
    ]


def workflow_record(wf: WorkflowModel) -> tuple[Any, ...]:
    """The store row of an execution.

    (workflow_id, name, version, status, correlation_id, parent_workflow_id, created, updated, ended,
    task_count, failed_count, reason, data-json); the definition is written once, apart.
    """
    data = {
        "input": wf.input,
        "output": wf.output,
        "variables": wf.variables,
        "reason": wf.reason,
        "lastRetriedTime": wf.last_retried_time,
        "parentWorkflowTaskId": wf.parent_workflow_task_id,
        "failedReferenceTaskNames": list(wf.failed_refs),
        "failedTaskNames": list(wf.failed_names),
        "priority": wf.priority,
        "terminatedBy": wf.terminated_by.task_id if wf.terminated_by else None,
        "permissiveFailures": [t.task_id for t in wf.permissive_failures],
        "failureTaskId": wf.failure_task_id,
        "dynamicForks": wf.dynamic_forks,
        "deferred": [t.task_id for t in wf.deferred],
    }
    failed = len(wf.failed_refs)  # refs that failed at least once (O(1); the store writes this often)
    return (
        wf.workflow_id,
        wf.definition.name,
        wf.definition.version,
        str(wf.status),
        wf.correlation_id,
        wf.parent_workflow_id,
        wf.create_time,
        wf.update_time,
        wf.end_time,
        len(wf.tasks),
        failed,
        wf.reason,
        dumps(data),
    )


def restore_workflow(engine: Engine, row: dict[str, Any], task_rows: list[dict[str, Any]]) -> WorkflowModel:
    """Rebuild a WorkflowModel (and its TaskModels) from store records and register it with ``engine``."""
    data = json.loads(row["data"])
    definition = WorkflowDef.from_json(row["definition"])
    plan = engine.plan(definition)
    wf = WorkflowModel(definition, plan, row["workflow_id"], row["created"])
    wf.status = WorkflowStatus(row["status"])
    wf.input, wf.output, wf.variables = data["input"], data["output"], data["variables"]
    wf.reason = data["reason"]
    wf.correlation_id = row["correlation_id"]
    wf.parent_workflow_id = row["parent_workflow_id"]
    wf.parent_workflow_task_id = data["parentWorkflowTaskId"]
    wf.update_time, wf.end_time = row["updated"], row["ended"]
    wf.last_retried_time = data["lastRetriedTime"]
    wf.failed_refs = dict.fromkeys(data["failedReferenceTaskNames"])
    wf.failed_names = dict.fromkeys(data["failedTaskNames"])
    wf.priority = data["priority"]
    wf.failure_task_id = data["failureTaskId"]
    wf.dynamic_forks = data["dynamicForks"]
    for trow in task_rows:
        wf.tasks.append(_restore_task(wf, plan, trow))
    by_id = {t.task_id: t for t in wf.tasks}
    wf.terminated_by = by_id.get(data["terminatedBy"] or "")
    wf.permissive_failures = [by_id[i] for i in data["permissiveFailures"] if i in by_id]
    wf.deferred = [by_id[i] for i in data["deferred"] if i in by_id]
    engine.executions[wf.workflow_id] = wf
    engine.reindex(wf)
    return wf


def _restore_task(wf: WorkflowModel, plan: Any, row: dict[str, Any]) -> TaskModel:
    data = json.loads(row["data"])
    node = _restore_node(wf, plan, data, row["ref"], row["name"])
    task = TaskModel(wf, node, row["task_id"], row["ref"], row["iteration"], row["scheduled"])
    task.task_type = row["type"]
    task.task_def_name = row["name"]
    task.status = TaskStatus(row["status"])
    task.seq = row["seq"]
    task.retry_count = row["retry_count"]
    task.start_time, task.end_time, task.update_time = row["started"], row["ended"], row["updated"]
    # Records written before compact records carry every key; newer ones only what differs from a new attempt.
    get = data.get
    task.input, task.output = data["input"], data["output"]
    task.reason, task.worker_id = get("reason"), get("workerId")
    task.poll_count = get("pollCount", 0)
    task.callback_after_seconds, task.callback_after_ms = get("callbackAfterSeconds", 0), get("callbackAfterMs", 0)
    task.start_delay = get("startDelay", 0)
    # absent: Conductor's default (records of schema 4 and before always hold it)
    task.response_timeout_seconds = get("responseTimeoutSeconds", RESPONSE_TIMEOUT_DEFAULT)
    task.retried_task_id, task.retried, task.executed = (
        get("retriedTaskId"),
        get("retried", False),
        get("executed", False),
    )
    task.first_scheduled_time = get("firstScheduledTime", task.scheduled_time)
    task.sub_workflow_id, task.logs, task.error = get("subWorkflowId"), get("logs"), get("error")
    task.extra = dict(data["extra"]) if get("extra") else None
    return task


def _restore_node(wf: WorkflowModel, plan: Any, data: dict[str, Any], ref: str, name: str) -> Node:
    source = data.get("nodeSource")
    if source is None:
        return plan.nodes[data.get("nodeRef", ref)]  # type: ignore[no-any-return]
    owner = plan.nodes.get(source["owner"]) if source.get("owner") else None
    if "dynamicOf" in source:
        original = plan.nodes[source["dynamicOf"]]
        node = plan.runtime_node(original.wt.evolve(name=source["name"], type="SIMPLE"), original.owner, original.loop)
        node.ref, node.next, node.container = original.ref, original.next, original.container
        return node  # type: ignore[no-any-return]
    from flowkit.definitions._wire import workflow_task_from_json

    if "plain" in source:  # a dynamic fork's plain branch: {name, taskReferenceName[, type]}, input from the task
        task_json = {"name": name, "taskReferenceName": data.get("nodeRef", ref)}
        if source["plain"] is not None:
            task_json["type"] = source["plain"]
        task_json["inputParameters"] = data["input"]
    else:
        task_json = source["task"]
        if source.get("inputFromTask"):
            task_json = {**task_json, "inputParameters": data["input"]}
    wt = workflow_task_from_json(task_json)
    return plan.runtime_node(wt, owner, owner.loop if owner is not None else None)  # type: ignore[no-any-return]
