"""Conductor's wire format: the one module that knows the camelCase JSON names.

Loading collects every structural problem before raising one :class:`DefinitionError`. Unknown
fields are kept in ``extra`` and the keys that were present are remembered, so
``from_json(x).to_json() == x`` for every Conductor definition.
"""

from __future__ import annotations

import json
import marshal
from collections.abc import Callable, Mapping
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

from flowkit._cache import BoundedCache
from flowkit.definitions._json import MAX_DEFINITION_DEPTH, definition_json_problem, whole_number_problem
from flowkit.definitions._model import SubWorkflowParam, TaskDef, WorkflowDef, WorkflowTask
from flowkit.definitions._shape import trust
from flowkit.errors import DefinitionError, DefinitionIssue

__all__ = [
    "execution_to_json",
    "task_node_json",
    "task_to_json",
    "load_json_source",
    "task_def_from_json",
    "task_def_to_json",
    "workflow_def_from_json",
    "workflow_def_to_json",
    "workflow_task_from_json",
]

_WIRE_EXCEPTIONS: dict[str, str] = {}
_NOT_WIRE = frozenset({"extra", "wire_keys"})


def _camel(name: str) -> str:
    if name in _WIRE_EXCEPTIONS:
        return _WIRE_EXCEPTIONS[name]
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _field_table(cls: type) -> list[tuple[str, str, Any]]:
    table = []
    for f in fields(cls):
        if f.name in _NOT_WIRE:
            continue
        if f.default is not MISSING:
            default: Any = f.default
        elif f.default_factory is not MISSING:
            default = f.default_factory()
        else:
            default = MISSING
        table.append((f.name, _camel(f.name), default))
    return table


_TABLES: dict[type, list[tuple[str, str, Any]]] = {
    cls: _field_table(cls) for cls in (TaskDef, SubWorkflowParam, WorkflowTask, WorkflowDef)
}
# Fields typed ``str`` or ``str | None`` (the annotations are text under ``from __future__ import annotations``).
_STR_FIELDS: dict[type, frozenset[str]] = {
    cls: frozenset(f.name for f in fields(cls) if f.type in ("str", "str | None")) for cls in _TABLES
}
_WIRE_TO_PY: dict[type, dict[str, tuple[str, Any]]] = {
    cls: {wire: (py, d) for py, wire, d in table} for cls, table in _TABLES.items()
}

_INT_FIELDS = {
    "retry_count",
    "retry_delay_seconds",
    "backoff_scale_factor",
    "max_retry_delay_seconds",
    "backoff_jitter_ms",
    "timeout_seconds",
    "response_timeout_seconds",
    "poll_timeout_seconds",
    "total_timeout_seconds",
    "concurrent_exec_limit",
    "rate_limit_per_frequency",
    "rate_limit_frequency_in_seconds",
    "start_delay",
    "version",
    "schema_version",
    "failure_workflow_version",
}
_BOOL_FIELDS = {"optional", "permissive", "async_complete", "restartable", "workflow_status_listener_enabled"}
_MAP_FIELDS = {"input_parameters_map", "input_template", "output_parameters", "variables", "task_to_domain"}
_STR_LIST_FIELDS = {"join_on", "default_exclusive_join_task", "input_keys", "output_keys"}


class _Reader:
    """Collects issues while converting one document."""

    def __init__(self) -> None:
        self.issues: list[DefinitionIssue] = []

    def problem(self, where: str, problem: str, fix: str, ref: str | None = None) -> None:
        self.issues.append(DefinitionIssue(where, problem, fix, ref))

    def convert(
        self,
        cls: type,
        raw: Any,
        where: str,
        special: Mapping[str, Callable[[Any, str], Any]],
        ref: str | None = None,
    ) -> Any:
        if not isinstance(raw, Mapping):
            self.problem(where, f"expected a JSON object, got {type(raw).__name__}.", "write it as {...}.", ref)
            return None
        known = _WIRE_TO_PY[cls]
        kwargs: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in raw.items():
            if key not in known:
                extra[key] = value
                continue
            py, default = known[key]
            place = f"{where} field '{key}'"
            if value is None and default is not MISSING and default is not None:
                extra[key] = None  # an explicit null (SDK output): keep it for the round trip, use the default
                continue
            if py in special:
                value = special[py](value, place)
            elif value is None and default is MISSING:
                self.problem(place, "is null.", f'give "{key}" a value.', ref)
                value = ""
            elif value is None:
                value = default
            elif py in _INT_FIELDS:
                value = self._int(py, value, place, ref)
            elif py in _BOOL_FIELDS:
                if not isinstance(value, bool):
                    self.problem(place, f"expected true or false, got {value!r}.", "use a JSON boolean.", ref)
                    value = bool(default)
            elif py in _STR_LIST_FIELDS or (cls is WorkflowDef and py == "input_parameters"):
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    self.problem(place, f"expected a list of strings, got {value!r}.", 'use ["a", "b"].', ref)
                    value = ()
                else:
                    value = tuple(value)
            elif py in _MAP_FIELDS or py == "input_parameters":
                if not isinstance(value, Mapping):
                    self.problem(place, f"expected a JSON object, got {value!r}.", 'use {"key": value}.', ref)
                    value = {}
            elif py in _STR_FIELDS[cls] and not isinstance(value, str):
                self.problem(place, f"expected a string, got {_short_repr(value)}.", "write it as a JSON string.", ref)
                value = default if isinstance(default, str) else ""
            kwargs[py] = value
        for py, wire, default in _TABLES[cls]:
            if default is MISSING and py not in kwargs:
                self.problem(where, f"is missing the required field '{wire}'.", f'add "{wire}".', ref)
                kwargs[py] = "" if py != "tasks" else ()
            elif py in kwargs and kwargs[py] is None and default is not MISSING and default is not None:
                kwargs[py] = default
        return cls(**kwargs, extra=extra, wire_keys=tuple(raw.keys()))

    def _int(self, field: str, value: Any, place: str, ref: str | None) -> int:
        number = value
        if isinstance(value, str):  # Jackson reads "30" into an int field too
            try:
                number = float(value)
            except ValueError:
                number = value
        problem = whole_number_problem(field, number)
        if problem:
            self.problem(place, problem, "use a whole number.", ref)
            return 0
        return int(number)

    def task_def(self, raw: Any, where: str, ref: str | None = None) -> TaskDef | None:
        return self.convert(TaskDef, raw, where, {}, ref)  # type: ignore[no-any-return]

    def task_list(self, raw: Any, where: str) -> tuple[WorkflowTask, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.problem(where, f"expected a list of tasks, got {type(raw).__name__}.", "use [ {task}, ... ].")
            return ()
        out = []
        for i, item in enumerate(raw):
            task = self.workflow_task(item, f"{where}[{i}]")
            if task is not None:
                out.append(task)
        return tuple(out)

    def workflow_task(self, raw: Any, where: str) -> WorkflowTask | None:
        ref = raw.get("taskReferenceName") if isinstance(raw, Mapping) else None
        ref = ref if isinstance(ref, str) else None
        here = f"task '{ref}'" if ref else where

        def cases(value: Any, place: str) -> dict[str, tuple[WorkflowTask, ...]]:
            if value is None:
                return {}
            if not isinstance(value, Mapping):
                self.problem(place, "expected an object of case -> task list.", 'use {"case": [ ... ]}.', ref)
                return {}
            return {str(k): self.task_list(v, f"{place}['{k}']") for k, v in value.items()}

        def forks(value: Any, place: str) -> tuple[tuple[WorkflowTask, ...], ...]:
            if value is None:
                return ()
            if not isinstance(value, list):
                self.problem(place, "expected a list of task lists.", "use [[...], [...]].", ref)
                return ()
            return tuple(self.task_list(branch, f"{place}[{i}]") for i, branch in enumerate(value))

        special: dict[str, Callable[[Any, str], Any]] = {
            "decision_cases": cases,
            "default_case": lambda v, p: self.task_list(v, p),
            "loop_over": lambda v, p: self.task_list(v, p),
            "fork_tasks": forks,
            "task_definition": lambda v, p: None if v is None else self.task_def(v, p, ref),
            "sub_workflow_param": lambda v, p: None if v is None else self.sub_workflow_param(v, p, ref),
        }
        return self.convert(WorkflowTask, raw, here, special, ref)  # type: ignore[no-any-return]

    def sub_workflow_param(self, raw: Any, where: str, ref: str | None) -> SubWorkflowParam | None:
        def definition(value: Any, place: str) -> WorkflowDef | str | None:
            if value is None or isinstance(value, str):
                return value
            return self.workflow_def(value, place)

        return self.convert(  # type: ignore[no-any-return]
            SubWorkflowParam, raw, where, {"workflow_definition": definition}, ref
        )

    def workflow_def(self, raw: Any, where: str = "workflow") -> WorkflowDef | None:
        name = raw.get("name") if isinstance(raw, Mapping) else None
        here = f"workflow '{name}'" if isinstance(name, str) and where == "workflow" else where
        return self.convert(  # type: ignore[no-any-return]
            WorkflowDef, raw, here, {"tasks": lambda v, p: self.task_list(v, f"{here} tasks")}
        )


def _short_repr(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _NotANumber(ValueError):
    """``NaN``, ``Infinity`` or ``-Infinity`` in JSON text."""


def _refuse_constant(name: str) -> Any:
    raise _NotANumber(f"{name}, which is not a number in JSON (Conductor refuses it too)")


def _finite_float(text: str) -> float:
    value = float(text)
    if value - value != 0:  # 1e400 reads as Infinity
        raise _NotANumber(f"{text}, which is beyond the range of a double")
    return value


def _fail(where: str, problem: str, fix: str) -> DefinitionError:
    return DefinitionError([DefinitionIssue(where, problem, fix)])


def load_json_source(source: str | bytes | Path | Mapping[str, Any], what: str) -> Any:
    """Parse ``source``: a dict as is, a Path or an existing file path, or JSON text.

    Like Conductor's Jackson, ``NaN`` and ``Infinity`` are refused, and so is a document nested
    deeper than :data:`~flowkit.definitions._json.MAX_DEFINITION_DEPTH` levels.
    """
    if isinstance(source, Mapping):
        raw: Any = source
    else:
        raw = _parse(source, what)
    problem = definition_json_problem(raw)
    if problem is not None:
        fix = (
            "flatten the definition: move deep data into the workflow input or a task's output."
            if "nests" in problem
            else "write null, or a number, instead."
        )
        raise _fail(what, problem, fix)
    return raw


def _parse(source: str | bytes | Path, what: str) -> Any:
    where = what
    try:
        if isinstance(source, Path) or (
            isinstance(source, str) and not source.lstrip().startswith(("{", "[")) and len(source) < 4096
        ):
            path = Path(source)
            where = f"{what} file '{path}'"
            text: str | bytes = path.read_text(encoding="utf-8")
        else:
            text = source
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except FileNotFoundError as exc:
        raise DefinitionError(
            [DefinitionIssue(where, f"file not found ({exc.filename}).", "check the path.")]
        ) from None
    except UnicodeDecodeError as exc:
        raise _fail(
            where,
            f"is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}).",
            "save the file as UTF-8 JSON.",
        ) from None
    except RecursionError:
        raise _fail(
            where,
            f"nests deeper than {MAX_DEFINITION_DEPTH} levels.",
            "flatten the definition: move deep data into the workflow input or a task's output.",
        ) from None
    except OSError as exc:  # a folder, no permission, a device that fails
        raise _fail(where, f"cannot be read ({exc.strerror or exc}).", "check the path and its permissions.") from None
    except json.JSONDecodeError as exc:
        raise DefinitionError(
            [
                DefinitionIssue(
                    where,
                    f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}.",
                    "fix the JSON syntax there (a trailing comma or a missing quote is common).",
                )
            ]
        ) from None
    except _NotANumber as exc:
        raise _fail(
            where,
            f"contains {exc}.",
            "write null, or a number, instead.",
        ) from None
    except ValueError as exc:  # e.g. an integer literal longer than Python's int-conversion limit
        raise _fail(where, f"cannot be read as JSON: {exc}.", "shorten the number, or write it as a string.") from None


def _finish(reader: _Reader, value: Any, name: str | None = None) -> Any:
    if reader.issues:
        raise DefinitionError(reader.issues, workflow_name=name)
    return value


def workflow_def_from_json(source: str | bytes | Path | Mapping[str, Any]) -> WorkflowDef:
    """Load a WorkflowDef from Conductor JSON.

    A dict is fingerprinted first (its ``marshal`` bytes, about 0.3 µs per task, against ~20 µs per
    task to read and validate it): the same content gives back the same WorkflowDef, so the checks and
    the compiled plan keyed on it are reused by ``flowkit.run(dict)``. The definition is read from a
    private copy, so a dict edited afterwards (a notebook cell run again) can change nothing cached.
    """
    if type(source) is dict:
        try:
            key = marshal.dumps(source, 2)  # version 2: no back-references, so bytes depend on content only
        except ValueError:  # a value marshal does not know (not JSON): read it uncached
            return _load_workflow_def(source)
        hit = _PARSED.get(key)
        if hit is not None:
            return hit
        return _PARSED.put(key, _load_workflow_def(marshal.loads(key)))
    return _load_workflow_def(source)


# Definitions read from dicts, by content. WorkflowDefs are frozen, so one may serve every equal dict.
_PARSED: BoundedCache[bytes, WorkflowDef] = BoundedCache(64)


def _load_workflow_def(source: str | bytes | Path | Mapping[str, Any]) -> WorkflowDef:
    raw = load_json_source(source, "workflow definition")
    reader = _Reader()
    wf = reader.workflow_def(raw)
    name = raw.get("name") if isinstance(raw, Mapping) else None
    _finish(reader, wf, name if isinstance(name, str) else None)
    if wf is not None:
        trust(wf)
    return wf  # type: ignore[return-value]


def workflow_task_from_json(raw: Mapping[str, Any], where: str = "task") -> WorkflowTask:
    """Load one WorkflowTask (used for dynamic forks, whose tasks arrive at run time)."""
    reader = _Reader()
    task = reader.workflow_task(raw, where)
    return _finish(reader, task)  # type: ignore[no-any-return]


def task_def_from_json(source: str | bytes | Path | Mapping[str, Any]) -> TaskDef:
    """Load a TaskDef from Conductor JSON."""
    raw = load_json_source(source, "task definition")
    reader = _Reader()
    name = raw.get("name") if isinstance(raw, Mapping) else None
    td = reader.task_def(raw, f"task definition '{name}'" if isinstance(name, str) else "task definition")
    return _finish(reader, td)  # type: ignore[no-any-return]


def _emit(obj: Any, encode: Mapping[str, Callable[[Any], Any]]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for py, wire, default in _TABLES[type(obj)]:
        if wire in obj.extra:
            continue  # written as null in the source
        value = getattr(obj, py)
        if wire in obj.wire_keys or (value != default and not (value == () and default == ())):
            if py in encode and value is not None:
                value = encode[py](value)
            elif isinstance(value, tuple):
                value = list(value)
            values[wire] = value
    out: dict[str, Any] = {}
    for key in obj.wire_keys:
        if key in values:
            out[key] = values.pop(key)
        elif key in obj.extra:
            out[key] = obj.extra[key]
    out.update(values)
    for key, value in obj.extra.items():
        out.setdefault(key, value)
    return out


def task_def_to_json(td: TaskDef) -> dict[str, Any]:
    """Conductor JSON for a TaskDef."""
    return _emit(td, {})


def _task_to_json(task: WorkflowTask) -> dict[str, Any]:
    return _emit(
        task,
        {
            "decision_cases": lambda v: {k: [_task_to_json(t) for t in ts] for k, ts in v.items()},
            "default_case": lambda v: [_task_to_json(t) for t in v],
            "loop_over": lambda v: [_task_to_json(t) for t in v],
            "fork_tasks": lambda v: [[_task_to_json(t) for t in branch] for branch in v],
            "task_definition": task_def_to_json,
            "sub_workflow_param": lambda v: _emit(
                v, {"workflow_definition": lambda d: d if isinstance(d, str) else workflow_def_to_json(d)}
            ),
        },
    )


def workflow_def_to_json(wf: WorkflowDef) -> dict[str, Any]:
    """Conductor JSON for a WorkflowDef."""
    return _emit(wf, {"tasks": lambda v: [_task_to_json(t) for t in v]})


def task_node_json(node: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The parts of a task's JSON its plan node fixes: ``workflowTask`` and ``taskDefinition``."""
    workflow_task = _task_to_json(node.wt) if node.raw is None else {**node.raw, "inputParameters": node.params}
    return workflow_task, task_def_to_json(node.task_def)


def task_to_json(task: Any, node_json: tuple[dict[str, Any], dict[str, Any]] | None = None) -> dict[str, Any]:
    """Conductor's Task JSON for an attempt (``schema_Task.json``); times in epoch ms.

    ``node_json``: :func:`task_node_json` of ``task.node``, for a caller that keeps it (a server
    answering many polls of one task type); computed here when None.
    """
    wf = task.workflow
    workflow_task, task_definition = node_json or task_node_json(task.node)
    queue_wait = task.start_time - task.scheduled_time if task.start_time and task.scheduled_time else 0
    out = {
        "taskType": task.task_type,
        "status": str(task.status),
        "inputData": task.input,
        "referenceTaskName": task.ref,
        "retryCount": task.retry_count,
        "seq": task.seq,
        "correlationId": wf.correlation_id,
        "pollCount": task.poll_count,
        "taskDefName": task.task_def_name,
        "scheduledTime": task.scheduled_time,
        "startTime": task.start_time,
        "endTime": task.end_time,
        "updateTime": task.update_time,
        "startDelayInSeconds": task.start_delay,
        "retriedTaskId": task.retried_task_id,
        "retried": task.retried,
        "executed": task.executed,
        "callbackFromWorker": True,
        "responseTimeoutSeconds": task.response_timeout_seconds,
        "workflowInstanceId": wf.workflow_id,
        "workflowType": wf.definition.name,
        "taskId": task.task_id,
        "reasonForIncompletion": task.reason,
        "callbackAfterSeconds": task.callback_after_seconds,
        "workerId": task.worker_id,
        "outputData": task.output,
        "workflowTask": workflow_task,
        "rateLimitPerFrequency": task.node.task_def.rate_limit_per_frequency or 0,
        "rateLimitFrequencyInSeconds": task.node.task_def.rate_limit_frequency_in_seconds or 1,
        "workflowPriority": wf.priority,
        "iteration": task.iteration,
        "subWorkflowId": task.sub_workflow_id,
        "firstStartTime": task.start_time,
        "queueWaitTime": queue_wait,
        "loopOverTask": task.iteration > 0,
        "taskDefinition": task_definition,
    }
    return {k: v for k, v in out.items() if v is not None}  # Conductor's JSON omits null fields (NON_NULL)


def execution_to_json(wf: Any, *, include_tasks: bool = True) -> dict[str, Any]:
    """Conductor's Workflow (execution) JSON (``schema_Workflow.json``)."""
    out: dict[str, Any] = {
        "workflowId": wf.workflow_id,
        "workflowName": wf.definition.name,
        "workflowVersion": wf.definition.version,
        "status": str(wf.status),
        "input": wf.input,
        "output": wf.output,
        "variables": wf.variables,
        "correlationId": wf.correlation_id,
        "reasonForIncompletion": wf.reason,
        "failedReferenceTaskNames": list(wf.failed_refs),
        "failedTaskNames": list(wf.failed_names),
        "createTime": wf.create_time,
        "startTime": wf.create_time,
        "updateTime": wf.update_time,
        "endTime": wf.end_time,
        "lastRetriedTime": wf.last_retried_time,
        "parentWorkflowId": wf.parent_workflow_id,
        "parentWorkflowTaskId": wf.parent_workflow_task_id,
        "reRunFromWorkflowId": wf.re_run_from_workflow_id,
        "priority": wf.priority,
        "taskToDomain": {},
        "event": wf.event,
        "ownerApp": None,
        "workflowDefinition": workflow_def_to_json(wf.definition),
    }
    out = {k: v for k, v in out.items() if v is not None}  # Conductor's JSON omits null fields (NON_NULL)
    if include_tasks:
        out["tasks"] = [task_to_json(t) for t in wf.tasks]
    return out
