"""What a Runtime prepares before it runs: the engine, the definitions, the workers a workflow needs."""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowkit._cache import BoundedCache, IdentityCache
from flowkit.definitions import SubWorkflowParam, TaskDef, WorkflowDef
from flowkit.definitions._types import SYSTEM_TASK_TYPES
from flowkit.engine import Engine, Registry
from flowkit.errors import DefinitionError, InputError
from flowkit.runtime._protocols import Scripts, SyntaxChecking
from flowkit.scripting._check import script_issues
from flowkit.scripting._lazy import LazyScripts

if TYPE_CHECKING:
    from flowkit._types import TaskDefsLike, WorkflowLike, WorkflowsLike

__all__ = [
    "as_task_defs",
    "default_scripts",
    "as_workflow_def",
    "build_engine",
    "new_id_factory",
    "simple_names",
    "validate_once",
]


def new_id_factory() -> Callable[[], str]:
    """Fast unique ids shaped like UUIDs: a random prefix per factory, then a counter."""
    prefix = os.urandom(10).hex()
    head = f"{prefix[:8]}-{prefix[8:12]}-4{prefix[13:16]}-a{prefix[17:20]}-"
    # 2**48 + n in hex is "0x1" and n's 12 digits, zero-padded: a third cheaper than a format spec
    counter = iter(range((1 << 48) + 1, 1 << 49))
    return lambda: head + hex(next(counter))[3:]


def as_workflow_def(workflow: WorkflowLike) -> WorkflowDef:
    """A WorkflowDef from a WorkflowDef, a builder, a dict, JSON text or a path."""
    if isinstance(workflow, WorkflowDef):
        return workflow
    if type(workflow) is dict:  # the common case first: isinstance of an ABC costs more
        return WorkflowDef.from_json(workflow)
    if hasattr(workflow, "to_workflow_def"):
        return workflow.to_workflow_def()
    if isinstance(workflow, Mapping | str | bytes | Path):  # a dict read again is found by content (from_json)
        return WorkflowDef.from_json(workflow)
    raise InputError(
        f"cannot run {type(workflow).__name__}: pass a flowkit.WorkflowDef, a builder, a dict or a JSON file path"
    )


def as_workflow_defs(workflows: WorkflowsLike) -> list[WorkflowDef]:
    """WorkflowDefs from ``workflows=``: one workflow (a WorkflowDef, builder, dict, JSON text or path) or several."""
    if workflows is None:
        return []
    if isinstance(workflows, WorkflowDef | Mapping | str | bytes | Path) or hasattr(workflows, "to_workflow_def"):
        return [as_workflow_def(workflows)]  # type: ignore[arg-type]
    if not isinstance(workflows, Iterable):
        raise InputError(
            f"workflows must be workflow definitions (WorkflowDefs, builders, dicts, JSON text or paths), one "
            f"or a list, got {type(workflows).__name__}. Fix: pass workflows=[sub_workflow_definition, ...]."
        )
    return [as_workflow_def(w) for w in workflows]


def as_task_defs(task_defs: TaskDefsLike) -> dict[str, TaskDef]:
    """TaskDefs by name from TaskDef objects, dicts, JSON text or paths (a list, or keyed by name)."""
    if task_defs is None:
        return {}
    if isinstance(task_defs, Mapping):
        values = list(task_defs.values())
        # keyed by name (every value a definition), or one definition as a dict ({"name": ..., ...})
        items: Iterable[Any] = values if all(isinstance(v, TaskDef | Mapping) for v in values) else [task_defs]
    elif isinstance(task_defs, TaskDef | str | bytes | Path):  # one of them, not a list
        items = [task_defs]
    elif isinstance(task_defs, Iterable):
        items = task_defs
    else:
        raise InputError(
            f"task_defs must be TaskDefs (objects, dicts, JSON text or paths) in a list or keyed by name, got "
            f"{type(task_defs).__name__}. Fix: pass task_defs=[{{'name': ..., 'retryCount': ...}}, ...]."
        )
    out = {}
    for item in items:
        td = item if isinstance(item, TaskDef) else TaskDef.from_json(item)
        out[td.name] = td
    return out


def simple_names(definition: WorkflowDef, registry: Registry, seen: set[str]) -> dict[str, list[str]]:
    """Task definition names that need a worker, with the refs that use them (sub-workflows included)."""
    key = f"{definition.name}:{definition.version}"
    if key in seen:
        return {}
    seen.add(key)
    own, subs = _scan(definition)
    need = {name: list(refs) for name, refs in own.items()}
    for param in subs:
        child = (
            param.workflow_definition
            if isinstance(param.workflow_definition, WorkflowDef)
            else (registry.get(param.name or "", param.version) if param.name else None)
        )
        if child is not None:
            for name, refs in simple_names(child, registry, seen).items():
                need.setdefault(name, []).extend(refs)
    return need


def _scan(definition: WorkflowDef) -> tuple[dict[str, list[str]], list[SubWorkflowParam]]:
    """The SIMPLE task names (with their refs) and sub-workflow params of one definition (cached)."""
    hit = _SCANS.get(definition)
    if hit is not None:
        return hit
    own: dict[str, list[str]] = {}
    subs = []
    for wt in definition.all_tasks():
        if wt.type not in SYSTEM_TASK_TYPES and wt.type != "DYNAMIC":
            own.setdefault(wt.name, []).append(wt.task_reference_name)
        if wt.type == "SUB_WORKFLOW" and wt.sub_workflow_param is not None:
            subs.append(wt.sub_workflow_param)
    return _SCANS.put(definition, (own, subs))


_SCANS: IdentityCache[WorkflowDef, tuple[dict[str, list[str]], list[SubWorkflowParam]]] = IdentityCache(256)


def build_engine(
    *,
    task_defs: TaskDefsLike = None,
    workflows: WorkflowsLike = None,
    scripts: Scripts | None = None,
    seed: int | None = None,
    track: bool = False,
    track_tasks: bool = False,
) -> Engine:
    """An Engine with fast ids, seeded jitter and lazily created scripting.

    ``track`` / ``track_tasks``: the engine reports changed workflows / tasks for a store.
    """
    registry = workflows if isinstance(workflows, Registry) else Registry(as_workflow_defs(workflows))
    rng = random.Random(seed) if seed is not None else _RNG  # seeding from os.urandom costs a run ~10 µs
    if scripts is None:
        scripts = default_scripts()
    defs = as_task_defs(task_defs)
    key = tuple(sorted((name, id(td)) for name, td in defs.items()))
    plans = _PLANS.get(key)
    if plans is None:
        plans = _PLANS.put(key, {})
    return Engine(
        new_id=new_id_factory(),
        workflows=registry,
        task_defs=defs,
        jitter=lambda n: rng.randint(0, n),
        scripts=scripts,
        plans=plans,
        track=track,
        track_tasks=track_tasks,
    )


_RNG = random.Random()
# compiled plans shared by runs with the same task defs
_PLANS: BoundedCache[tuple[tuple[str, int], ...], dict[int, Any]] = BoundedCache(64)
_VALIDATED: BoundedCache[tuple[int, ...], WorkflowDef] = BoundedCache(1024)
_SCRIPTS: list[LazyScripts] = []


def default_scripts() -> LazyScripts:
    """One sandboxed JavaScript/jq service per process, created on first script (start-up is not free)."""
    if not _SCRIPTS:
        _SCRIPTS.append(LazyScripts())
    return _SCRIPTS[0]


def validate_once(definition: WorkflowDef, engine: Engine) -> None:
    """Validate ``definition`` (and its literal scripts) once per engine configuration."""
    # the result depends on the task defs (one plans dict per set), the other workflows (sub-workflow
    # cycles) and the script service (syntax checks)
    key = (id(definition), id(engine._plans), id(engine.scripts), *(id(w) for w in engine.workflows))
    if _VALIDATED.get(key) is definition:
        return
    definition.validate(task_defs=engine.task_defs, workflows=engine.workflows)
    if isinstance(engine.scripts, SyntaxChecking):
        issues = script_issues(definition, engine.scripts)
        if issues:
            raise DefinitionError(issues, workflow_name=definition.name)
    _VALIDATED.put(key, definition)
