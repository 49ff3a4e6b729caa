"""DO_WHILE (Conductor's ``DoWhile.java``, ``DoWhileTaskMapper``): iterations, ``__N`` refs, per-iteration output, list mode, keepLastN."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from flowkit.definitions._types import TaskStatus
from flowkit.expressions._java import truthy

if TYPE_CHECKING:
    from flowkit.engine._engine import Engine
    from flowkit.engine._execution_plan import Node
    from flowkit.engine._state import TaskModel, WorkflowModel

__all__ = ["do_while", "iteration_end"]

S = TaskStatus


def do_while(engine: Engine, wf: WorkflowModel, task: TaskModel, now: int, _: Any) -> None:
    task.status = S.IN_PROGRESS
    task.start_time = now
    wt = task.node.wt
    items = wt.items if wt.items is not None else task.input.get("_items")
    if isinstance(items, str):
        from flowkit.expressions import compile_value

        items = compile_value(items)(wf.doc, task.task_id)
    if items is not None and not isinstance(items, list):
        engine.finish(task, S.FAILED_WITH_TERMINAL_ERROR, now, f"DO_WHILE 'items' must be a list, found {items!r}")
        return
    task.extra = {"tasks": [], "items": items}
    if items is not None and not items:
        task.output = {"iteration": 0}
        engine.finish(task, S.COMPLETED, now)
        return
    if engine._batch is not None:  # mapped inside a fork: the loop starts once the fork's batch is in

        def start() -> None:
            if task.status is S.IN_PROGRESS and not wf.status.is_terminal:
                _begin(engine, wf, task, 1, now)

        engine._batch.append(start)
        return
    _begin(engine, wf, task, 1, now)


def _begin(engine: Engine, wf: WorkflowModel, task: TaskModel, iteration: int, now: int) -> None:
    engine.touch(task)
    task.iteration = iteration
    task.output["iteration"] = iteration
    items = task.extra["items"] if task.extra else None
    if items is not None:
        task.output["loopIndex"] = iteration - 1
        task.output["loopItem"] = items[iteration - 1]
    task.extra["tasks"] = []  # type: ignore[index]
    first = task.node.nested
    if first is None:
        iteration_end(engine, wf, task.node, now)
    else:
        engine.schedule(wf, first, now)


_ITERATION_ONLY = re.compile(r"""\s*(?:\.\s*iteration\b|\[\s*['"]iteration['"]\s*\])""")


def _condition_view(source: str, ref: str, output: dict[str, Any]) -> dict[str, Any]:
    """The DO_WHILE output as the condition sees it; only ``iteration`` when that is all it reads.

    Passing every iteration's output on each evaluation would make a long loop quadratic.
    """
    uses = [
        m.end()
        for m in re.finditer(
            r"\$\s*(?:\.\s*" + re.escape(ref) + r"\b|\[\s*['\"]" + re.escape(ref) + r"['\"]\s*\])", source
        )
    ]
    if uses and all(_ITERATION_ONLY.match(source, end) for end in uses):
        return {"iteration": output.get("iteration")}
    if not uses:
        return {"iteration": output.get("iteration")}
    return output


def iteration_end(engine: Engine, wf: WorkflowModel, loop: Node, now: int) -> None:
    """The loop body ran to its end: record the iteration, then loop again or complete."""
    task = wf.refs.get(loop.ref)
    if task is None or task.status.is_terminal or task.extra is None:
        return
    tasks: list[TaskModel] = task.extra["tasks"]
    if any(not t.is_terminal for t in tasks):
        return
    failed = [t for t in tasks if not t.retried and not t.status.is_successful]
    if failed:
        engine.finish(task, S.FAILED, now, " ".join(str(t.reason) for t in failed))
        return
    iteration = task.iteration
    engine.touch(task)
    outputs = {t.node.ref: t.output for t in tasks if not t.retried}
    task.output[str(iteration)] = outputs
    keep = task.input.get("keepLastN")
    if isinstance(keep, int) and not isinstance(keep, bool) and keep > 0 and iteration > keep:
        for old in range(1, iteration - keep + 1):
            task.output.pop(str(old), None)
        _remove_iterations(engine, wf, task, iteration - keep)
    items = task.extra["items"]
    condition = loop.wt.loop_condition
    more: bool | None  # None: the condition failed the task
    if items is not None:
        more = iteration < len(items)
        if more and condition:
            more = _evaluate(engine, task, condition, outputs, now)
            if more is None:
                return
    else:
        more = _evaluate(engine, task, condition or "false", outputs, now)
        if more is None:
            return
    if more:
        _begin(engine, wf, task, iteration + 1, now)
    else:
        engine.finish(task, S.COMPLETED, now)


def _remove_iterations(engine: Engine, wf: WorkflowModel, task: TaskModel, last: int) -> None:
    """keepLastN: the loop's tasks of iterations 1..``last`` leave the execution (``DoWhile.removeIterations``).

    The store deletes them too (``engine.dropped``), as Conductor's ``removeTask`` does.
    """
    loop = task.node

    def inside(node: Node) -> bool:
        owner = node.loop
        while owner is not None:
            if owner is loop:
                return True
            owner = owner.loop
        return False

    removed = [
        t for t in wf.tasks if t is not task and t.iteration <= last and t.node.loop is not None and inside(t.node)
    ]
    if not removed:
        return
    gone = {id(t) for t in removed}
    wf.tasks = [t for t in wf.tasks if id(t) not in gone]
    for t in removed:
        if wf.full_refs.get(t.ref) is t:
            del wf.full_refs[t.ref]
        t.retried = True  # stale timers find nothing to do
    if engine.track:
        if engine.dirty:  # in place: a caller may hold the list
            engine.dirty[:] = [t for t in engine.dirty if id(t) not in gone]
        engine.dropped.extend(t.task_id for t in removed)
        engine.touch_workflow(wf)


def _evaluate(engine: Engine, task: TaskModel, condition: str, outputs: dict[str, Any], now: int) -> bool | None:
    from flowkit.errors import ScriptError

    # The inputs are resolved again before every check, as Conductor's DoWhile.evaluateCondition does:
    # a condition on ${workflow.variables.x} sees what a SET_VARIABLE inside the loop just wrote.
    node = task.node
    bindings = (
        engine.resolve_input(task.workflow, node, task.task_id) if node.resolver is not None else dict(task.input)
    )
    bindings[task.node.ref] = _condition_view(condition, task.node.ref, task.output)
    bindings.update(outputs)
    if engine.scripts is None:
        engine.finish(task, S.FAILED_WITH_TERMINAL_ERROR, now, "no JavaScript engine is configured for this run")
        return None
    try:
        from flowkit.engine._tasks.scripts import script_limits

        scope = task.workflow.workflow_id
        return truthy(
            engine.scripts.js(condition, bindings, mode="expression", limits=script_limits(task), scope=scope)
        )
    except ScriptError as exc:
        engine.finish(
            task, S.FAILED_WITH_TERMINAL_ERROR, now, f"Unable to evaluate condition {condition}, exception {exc}"
        )
        return None
