"""Type checks of definition values, whatever built them, before the other checks read them.

JSON loading refuses wrong types while it reads; a definition built in Python (``WorkflowDef(...)``,
``evolve``, the builder) can still hold a list where a string belongs. The checks in
``_validate`` assume the declared types, so these run first, without recursion, and name the field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import fields
from operator import attrgetter, contains
from typing import Any

from flowkit._cache import IdentityCache
from flowkit.definitions._json import MAX_DEFINITION_DEPTH, definition_json_problem, whole_number_problem
from flowkit.definitions._model import SubWorkflowParam, TaskDef, WorkflowDef, WorkflowTask
from flowkit.errors import DefinitionIssue

__all__ = ["shape_issues", "task_def_shape_issues", "trust"]

_MAX_TASK_NESTING = MAX_DEFINITION_DEPTH // 2
_SKIP = frozenset({"extra", "wire_keys"})


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _tasks(value: Any) -> bool:
    return isinstance(value, tuple | list) and all(isinstance(t, WorkflowTask) for t in value)


def _json_map(value: Any) -> bool:
    return isinstance(value, Mapping) and all(isinstance(k, str) for k in value)


# annotation text -> (is the value acceptable, what to write instead)
_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "str": (lambda v: isinstance(v, str), "a string"),
    "str | None": (lambda v: v is None or isinstance(v, str), "a string"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "tuple[str, ...]": (
        lambda v: isinstance(v, tuple | list) and all(isinstance(x, str) for x in v),
        "a list of strings",
    ),
    "Mapping[str, JSON]": (_json_map, "an object with string keys"),
    "Mapping[str, str] | None": (lambda v: v is None or _json_map(v), "an object with string keys"),
    "TaskDef | None": (lambda v: v is None or isinstance(v, TaskDef), "a TaskDef"),
    "SubWorkflowParam | None": (lambda v: v is None or isinstance(v, SubWorkflowParam), "a SubWorkflowParam"),
    "WorkflowDef | str | None": (
        lambda v: v is None or isinstance(v, WorkflowDef | str),
        "a WorkflowDef or a ${...} expression",
    ),
    "tuple[WorkflowTask, ...]": (_tasks, "a list of WorkflowTask"),
    "tuple[tuple[WorkflowTask, ...], ...]": (
        lambda v: isinstance(v, tuple | list) and all(_tasks(b) for b in v),
        "a list of lists of WorkflowTask",
    ),
    "Mapping[str, tuple[WorkflowTask, ...]]": (
        lambda v: isinstance(v, Mapping) and all(isinstance(k, str) and _tasks(b) for k, b in v.items()),
        "an object of case -> list of WorkflowTask",
    ),
}
_FIELDS: dict[type, list[tuple[str, str, Any]]] = {
    cls: [(f.name, _camel(f.name), f.type) for f in fields(cls) if f.name not in _SKIP]
    for cls in (TaskDef, SubWorkflowParam, WorkflowTask, WorkflowDef)
}
# The fast path: the exact types each field may have without a closer look.
_NONE = type(None)
_EXACT: dict[str, frozenset[type]] = {
    "str": frozenset({str}),
    "str | None": frozenset({str, _NONE}),
    "bool": frozenset({bool}),
    "int": frozenset({int}),
    "int | None": frozenset({int, _NONE}),
    "TaskDef | None": frozenset({TaskDef, _NONE}),
    "SubWorkflowParam | None": frozenset({SubWorkflowParam, _NONE}),
    "WorkflowDef | str | None": frozenset({WorkflowDef, str, _NONE}),
    "Mapping[str, str] | None": frozenset({dict, _NONE}),
    "Mapping[str, JSON]": frozenset({dict}),
    "tuple[str, ...]": frozenset({tuple}),
    "tuple[WorkflowTask, ...]": frozenset({tuple}),
    "tuple[tuple[WorkflowTask, ...], ...]": frozenset({tuple}),
    "Mapping[str, tuple[WorkflowTask, ...]]": frozenset({dict}),
}
_INT_MAX = 2**31 - 1


class _Fast:
    """All of a class's field values in one C call, and their types checked against ``_EXACT``."""

    def __init__(self, cls: type) -> None:
        table = [(name, kind) for name, _, kind in _FIELDS[cls] if kind in _EXACT]
        self.values = attrgetter(*(name for name, _ in table))
        self.allowed = tuple(_EXACT[kind] for _, kind in table)
        self.ints = [i for i, (_, kind) in enumerate(table) if kind.startswith("int")]
        self.strings = [i for i, (_, kind) in enumerate(table) if kind == "tuple[str, ...]"]
        self.maps = [i for i, (_, kind) in enumerate(table) if kind == "Mapping[str, JSON]"]

    def ok(self, obj: Any) -> bool:
        values = self.values(obj)
        if not all(map(contains, self.allowed, map(type, values))):
            return False
        for i in self.ints:
            if values[i] is not None and not -_INT_MAX <= values[i] <= _INT_MAX:
                return False  # a long time limit may be larger: the slow path decides
        for i in self.strings:
            if values[i] and not all(type(x) is str for x in values[i]):
                return False
        for i in self.maps:
            if values[i] and not _flat_enough(values[i]):
                return False
        return True


def _flat_enough(value: Mapping[str, Any]) -> bool:
    """String keys at the top and no deeper than the limit (the common flat map costs one pass)."""
    if not all(type(k) is str for k in value):
        return False
    return definition_json_problem(value) is None


_SCALARS = frozenset({str, int, float, bool, _NONE})
_FAST = {cls: _Fast(cls) for cls in _FIELDS}


def _field_issues(obj: Any, where: str, ref: str | None, out: list[DefinitionIssue], fast: bool = True) -> bool:
    """Append a problem for each field of ``obj`` of the wrong type; True when there was none."""
    base = next(cls for cls in type(obj).__mro__ if cls in _FIELDS)  # a subclass is checked as its base
    if fast and _FAST[base].ok(obj):
        return True
    clean = True
    for name, wire, kind in _FIELDS[base]:
        value = getattr(obj, name)
        problem = None
        if kind in ("int", "int | None"):
            if value is not None or kind == "int":
                problem = whole_number_problem(name, value)
        elif kind in _RULES:
            ok, expected = _RULES[kind]
            if not ok(value):
                problem = f"expected {expected}, got {type(value).__name__} {_short(value)}."
        if problem is None and kind == "Mapping[str, JSON]":
            problem = definition_json_problem(value)
        if problem is not None:
            clean = False
            out.append(DefinitionIssue(f"{where} field '{wire}'", problem, "give it the documented type.", ref))
    return clean


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_TRUSTED: IdentityCache[WorkflowDef, bool] = IdentityCache(256)


def trust(wf: WorkflowDef) -> None:
    """Note that ``wf`` came from the JSON reader, which checked every type and the nesting as it read."""
    _TRUSTED.put(wf, True)


def is_trusted(wf: WorkflowDef) -> bool:
    """True when ``wf`` came from the JSON reader (see :func:`trust`)."""
    return _TRUSTED.get(wf) is True


def task_def_shape_issues(task_defs: Mapping[str, Any]) -> list[DefinitionIssue]:
    """A problem for every field of the registered task definitions whose value has the wrong type."""
    out: list[DefinitionIssue] = []
    for key, td in task_defs.items():
        if isinstance(td, TaskDef):
            _field_issues(td, f"task definition '{key}'", None, out)
        else:
            out.append(DefinitionIssue(f"task definition '{key}'", "is not a TaskDef.", "pass TaskDef values."))
    return out


def shape_issues(wf: Any) -> list[DefinitionIssue]:
    """A problem for every field of ``wf`` (nested tasks included) whose value has the wrong type."""
    if not isinstance(wf, WorkflowDef):
        return [DefinitionIssue("workflow", f"is a {type(wf).__name__}, not a WorkflowDef.", "pass a WorkflowDef.")]
    out: list[DefinitionIssue] = []
    if _TRUSTED.get(wf):
        return out
    # (object, place, its task ref, task nesting depth); an explicit stack: any depth, no recursion
    stack: list[tuple[Any, str, str | None, int]] = [(wf, f"workflow '{wf.name}'", None, 0)]
    while stack:
        obj, where, ref, depth = stack.pop()
        if not _field_issues(obj, where, ref, out):
            continue  # its nested values may be of any type: look no deeper
        if isinstance(obj, WorkflowDef):
            children: list[Any] = list(obj.tasks)
            if not all(isinstance(child, WorkflowTask) for child in children):
                _field_issues(obj, where, ref, out, fast=False)
                continue
        elif isinstance(obj, WorkflowTask):
            try:
                children = list(obj.children())
            except TypeError:  # a branch that is not a list
                children = [None]
            if not all(isinstance(child, WorkflowTask) for child in children):
                _field_issues(obj, where, ref, out, fast=False)  # the fast path saw the lists, not their items
                continue
            if obj.task_definition is not None:
                stack.append((obj.task_definition, f"{where} field 'taskDefinition'", ref, depth))
            param = obj.sub_workflow_param
            if param is not None:
                stack.append((param, f"{where} field 'subWorkflowParam'", ref, depth))
        elif isinstance(obj, SubWorkflowParam) and isinstance(obj.workflow_definition, WorkflowDef):
            inline = obj.workflow_definition
            stack.append((inline, f"{where} inline workflow '{inline.name}'", ref, depth + 1))
            continue
        else:
            continue
        if depth + 1 > _MAX_TASK_NESTING and children:
            out.append(
                DefinitionIssue(
                    where,
                    f"nests tasks more than {_MAX_TASK_NESTING} levels deep.",
                    "flatten it (a sub-workflow or a DO_WHILE keeps each level small).",
                    ref,
                )
            )
            continue
        for i, child in reversed(list(enumerate(children))):  # popped in definition order
            child_ref = child.task_reference_name if isinstance(child.task_reference_name, str) else None
            stack.append((child, f"task '{child_ref}'" if child_ref else f"{where} task [{i}]", child_ref, depth + 1))
    return out
