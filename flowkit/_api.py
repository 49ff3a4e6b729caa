"""``flowkit.run``: run a workflow to the end in this process."""

from __future__ import annotations

import os
import random
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from flowkit.definitions import TaskDef, WorkflowDef
from flowkit.engine import Engine, Registry
from flowkit.errors import InputError

__all__ = ["as_workflow_def", "new_id_factory", "run"]


def new_id_factory() -> Any:
    """Fast unique ids shaped like UUIDs: a random prefix per factory, then a counter."""
    prefix = os.urandom(10).hex()
    head = f"{prefix[:8]}-{prefix[8:12]}-4{prefix[13:16]}-a{prefix[17:20]}-"
    counter = iter(range(1, 1 << 48))
    return lambda: f"{head}{next(counter):012x}"


def as_workflow_def(workflow: Any) -> WorkflowDef:
    """A WorkflowDef from a WorkflowDef, a builder, a dict, JSON text or a path."""
    if isinstance(workflow, WorkflowDef):
        return workflow
    if hasattr(workflow, "to_workflow_def"):
        return workflow.to_workflow_def()  # type: ignore[no-any-return]
    if isinstance(workflow, Mapping | str | bytes | Path):
        return WorkflowDef.from_json(workflow)
    raise InputError(
        f"cannot run {type(workflow).__name__}: pass a flowkit.WorkflowDef, a builder, a dict or a JSON file path"
    )


def _as_task_defs(task_defs: Any) -> dict[str, TaskDef]:
    if task_defs is None:
        return {}
    if isinstance(task_defs, Mapping):
        items: Iterable[Any] = task_defs.values()
    else:
        items = task_defs
    out = {}
    for item in items:
        td = item if isinstance(item, TaskDef) else TaskDef.from_json(item)
        out[td.name] = td
    return out


def _simple_names(definition: WorkflowDef, registry: Registry, seen: set[str]) -> dict[str, list[str]]:
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
            for name, refs in _simple_names(child, registry, seen).items():
                need.setdefault(name, []).extend(refs)
    return need


def _scan(definition: WorkflowDef) -> tuple[dict[str, list[str]], list[Any]]:
    """The SIMPLE task names (with their refs) and sub-workflow params of one definition (cached)."""
    hit = _SCANS.get(id(definition))
    if hit is not None and hit[0] is definition:
        return hit[1], hit[2]
    from flowkit.definitions._types import SYSTEM_TASK_TYPES

    own: dict[str, list[str]] = {}
    subs = []
    for wt in definition.all_tasks():
        if wt.type not in SYSTEM_TASK_TYPES and wt.type != "DYNAMIC":
            own.setdefault(wt.name, []).append(wt.task_reference_name)
        if wt.type == "SUB_WORKFLOW" and wt.sub_workflow_param is not None:
            subs.append(wt.sub_workflow_param)
    if len(_SCANS) > 256:
        _SCANS.clear()
    _SCANS[id(definition)] = (definition, own, subs)
    return own, subs


_SCANS: dict[int, tuple[WorkflowDef, dict[str, list[str]], list[Any]]] = {}


def build_engine(
    *, task_defs: Any = None, workflows: Any = None, scripts: Any = None, seed: int | None = None
) -> Engine:
    """An Engine with fast ids, seeded jitter and lazily created scripting."""
    registry = workflows if isinstance(workflows, Registry) else Registry(as_workflow_def(w) for w in (workflows or ()))
    rng = random.Random(seed)
    if scripts is None:
        scripts = _default_scripts()
    defs = _as_task_defs(task_defs)
    key = tuple(sorted((name, id(td)) for name, td in defs.items()))
    plans = _PLANS.get(key)
    if plans is None:
        if len(_PLANS) > 64:
            _PLANS.clear()
        plans = _PLANS[key] = {}
    return Engine(
        new_id=new_id_factory(),
        workflows=registry,
        task_defs=defs,
        jitter=lambda n: rng.randint(0, n),
        scripts=scripts,
        plans=plans,
    )


_PLANS: dict[tuple[tuple[str, int], ...], dict[int, Any]] = {}  # compiled plans shared by runs with the same task defs
_VALIDATED: dict[tuple[int, int], WorkflowDef] = {}
_SCRIPTS: list[Any] = []


def _default_scripts() -> Any:
    """One sandboxed V8/jq service per process, created on first script (V8 start-up is not free)."""
    if not _SCRIPTS:
        from flowkit.scripting._lazy import LazyScripts

        _SCRIPTS.append(LazyScripts())
    return _SCRIPTS[0]


def _validate_once(definition: WorkflowDef, engine: Engine) -> None:
    key = (id(definition), id(engine._plans))
    if _VALIDATED.get(key) is definition:
        return
    definition.validate(task_defs=engine.task_defs, workflows=engine.workflows)
    check = getattr(engine.scripts, "check_syntax", None)
    if check is not None:
        from flowkit.errors import DefinitionError
        from flowkit.scripting._check import script_issues

        issues = script_issues(definition, engine.scripts)
        if issues:
            raise DefinitionError(issues, workflow_name=definition.name)
    if len(_VALIDATED) > 1024:
        _VALIDATED.clear()
    _VALIDATED[key] = definition


def run(
    workflow: Any,
    input: Mapping[str, Any] | None = None,  # noqa: A002 - Conductor's name for it
    *,
    workers: Any = None,
    task_defs: Any = None,
    workflows: Any = None,
    clock: Any = None,
    executor: Any = "threads",
    max_workers: int = 8,
    correlation_id: str | None = None,
    validate: bool = True,
    scripts: Any = None,
    script_limits: Any = None,
    event_bus: Any = None,
    store: Any = None,
    external: Any = (),
) -> Any:
    """Run ``workflow`` to the end and return its :class:`~flowkit.Execution`.

    Args:
        workflow: A WorkflowDef, a builder, a dict, JSON text or a path to Conductor JSON.
        input: The workflow input.
        workers: ``@worker_task`` functions, or a ``{task name: function}`` mapping.
        task_defs: TaskDefs (objects, dicts or paths) for retry, timeout and rate-limit policy.
        workflows: Other workflow definitions (sub-workflows, failure workflows).
        clock: ``flowkit.testing.VirtualClock()`` to skip waits; the system clock by default.
        executor: ``"threads"`` (parallel, default) or ``"inline"`` (calling thread, deterministic).
        max_workers: Thread pool size for ``"threads"``.
        correlation_id: Conductor's correlationId.
        validate: Check the definition first (raises DefinitionError listing every problem).
        scripts: A custom JavaScript/jq evaluator (default: sandboxed QuickJS and jq, created on first use).
        script_limits: A :class:`flowkit.scripting.ScriptLimits` for every script of this run (time
            and memory); a task's input ``scriptTimeoutMs`` / ``scriptMaxMemoryBytes`` overrides it.
        event_bus: Where EVENT tasks publish (default: ``flowkit.EventBus.default()``).
        external: Task definition names left for outside completion: their SIMPLE tasks wait
            IN_PROGRESS until ``execution.complete_task`` / ``fail_task`` (no worker needed).
        store: Where the execution is kept: None for the default SQLite file
            (``$FLOWKIT_HOME/flowkit.db``, ``~/.flowkit`` by default), ``"memory"``, a path, or a store.

    Returns:
        The Execution: ended, or RUNNING when it waits for outside completion (HUMAN, WAIT without a time).

    Raises:
        DefinitionError: the definition is malformed.
        MissingWorkerError: a SIMPLE task has no worker.
    """
    from flowkit._runtime import Runtime

    runtime = Runtime(workers=workers, task_defs=task_defs, workflows=workflows, clock=clock, executor=executor,
                      max_workers=max_workers, background=False, scripts=scripts, script_limits=script_limits,
                      event_bus=event_bus, store=store, external=external)  # fmt: skip
    return runtime.start(workflow, input, correlation_id=correlation_id, validate=validate)
