"""What can be drawn, and where sub-workflow definitions and child executions are found."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowkit._lookup import execution_finder
from flowkit.definitions import TaskDef, WorkflowDef
from flowkit.render._json import is_execution_json, json_execution

if TYPE_CHECKING:
    from flowkit.engine import WorkflowModel

__all__ = ["definition_finder", "run_finder", "subject", "task_def_table"]


def task_def_table(task_defs: Any, model: Any) -> Mapping[str, TaskDef]:
    """Task definitions by name: those given, else the ones a flowkit run was planned with."""
    if task_defs is None:
        registry = getattr(getattr(model, "plan", None), "registry", None)
        return registry if isinstance(registry, Mapping) else {}
    items = task_defs.values() if isinstance(task_defs, Mapping) else task_defs
    table: dict[str, TaskDef] = {}
    for item in items:
        task_def = item if isinstance(item, TaskDef) else TaskDef.from_json(item)
        table[task_def.name] = task_def
    return table


def _as_def(value: Any) -> WorkflowDef | None:
    if value is None or isinstance(value, WorkflowDef):
        return value
    if hasattr(value, "to_workflow_def"):
        return value.to_workflow_def()  # type: ignore[no-any-return]
    if isinstance(value, Mapping | str | bytes | Path):
        return WorkflowDef.from_json(value)
    raise TypeError(f"expected a WorkflowDef, a builder, a dict or a path, got {type(value).__name__}")


def definition_finder(workflows: Any) -> Callable[[str, int | None], WorkflowDef | None]:
    """``workflows`` as a function ``(name, version) -> WorkflowDef | None``.

    Accepts None, a mapping (``{name: def}`` or ``{(name, version): def}``), anything with
    ``get(name, version)`` (flowkit's Registry), a callable ``(name, version)``, or an iterable of
    definitions, builders or Conductor JSON dicts.
    """
    if workflows is None:
        return lambda _name, _version: None
    if isinstance(workflows, Mapping):
        table = workflows

        def from_mapping(name: str, version: int | None) -> WorkflowDef | None:
            found = table.get((name, version)) if version is not None else None
            return _as_def(found if found is not None else table.get(name))

        return from_mapping
    if callable(getattr(workflows, "get", None)):
        registry = workflows
        return lambda name, version: _as_def(registry.get(name, version))
    if callable(workflows):
        return lambda name, version: _as_def(workflows(name, version))
    if isinstance(workflows, Iterable) and not isinstance(workflows, str | bytes):
        by_name: dict[str, dict[int, WorkflowDef]] = {}
        for item in workflows:
            definition = _as_def(item)
            if definition is not None:
                by_name.setdefault(definition.name, {})[definition.version] = definition

        def from_list(name: str, version: int | None) -> WorkflowDef | None:
            versions = by_name.get(name)
            if not versions:
                return None
            return versions[max(versions)] if version is None else versions.get(version)

        return from_list
    raise TypeError(
        f"workflows must be a mapping, a registry, a callable or definitions, got {type(workflows).__name__}"
    )


def subject(obj: Any, workflows: Any = None) -> tuple[WorkflowDef, WorkflowModel | None, Any]:
    """Return what ``obj`` shows: its definition, its execution state (None for a definition).

    The third item is the default way to find child executions (an Execution knows its runtime).
    """
    if is_execution_json(obj):
        return _from_json(obj, workflows)
    model = getattr(obj, "model", None)
    if model is not None and hasattr(model, "plan") and hasattr(model, "tasks"):
        return model.definition, model, getattr(obj, "execution", None)
    if hasattr(obj, "plan") and hasattr(obj, "tasks") and hasattr(obj, "definition"):
        return obj.definition, obj, None
    if isinstance(obj, WorkflowDef):
        return obj, None, None
    if hasattr(obj, "to_workflow_def"):
        return obj.to_workflow_def(), None, None
    if isinstance(obj, Mapping | str | bytes | Path):
        parsed = _parsed(obj)
        if is_execution_json(parsed):
            return _from_json(parsed, workflows)
        return WorkflowDef.from_json(parsed if parsed is not None else obj), None, None
    raise TypeError(
        f"cannot draw {type(obj).__name__}: pass a WorkflowDef, a WorkflowBuilder, Conductor JSON, "
        "an Execution or a WorkflowModel"
    )


def _parsed(source: Any) -> Any:
    """JSON text, or a path to it, parsed; None when it is neither (WorkflowDef.from_json says why)."""
    if isinstance(source, Mapping):
        return source
    try:
        if isinstance(source, str | bytes) and source.lstrip()[:1] in ("{", b"{"):
            return json.loads(source)
        path = Path(os.fsdecode(source))
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (OSError, ValueError):
        return None


def _from_json(raw: Mapping[str, Any], workflows: Any) -> tuple[WorkflowDef, WorkflowModel, Any]:
    model: Any = json_execution(raw, definition_finder(workflows))
    return model.definition, model, None


def run_finder(lookup: Any, workflows: Any) -> Callable[[str], Any]:
    """Child executions by id; a lookup may answer with Conductor execution JSON too."""
    find = execution_finder(lookup)
    find_def = definition_finder(workflows)

    def run(workflow_id: str) -> Any:
        found: Any = find(workflow_id)
        return json_execution(found, find_def) if is_execution_json(found) else found

    return run
