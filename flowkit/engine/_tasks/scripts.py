"""Script tasks: INLINE, LAMBDA (JavaScript) and JSON_JQ_TRANSFORM (jq) (Conductor's ``Inline.java``, ``Lambda.java``, ``JsonJqTransform.java``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowkit.definitions._types import TaskStatus
from flowkit.engine._tasks._common import _done, _start

if TYPE_CHECKING:
    from flowkit.engine._engine import Engine
    from flowkit.engine._state import TaskModel, WorkflowModel

__all__ = ["SCRIPT_LIMIT_KEYS", "inline", "jq_transform", "lambda_", "script_limits"]

S = TaskStatus


_FAILED = object()
SCRIPT_LIMIT_KEYS = {"scriptTimeoutMs": "timeout_ms", "scriptMaxMemoryBytes": "max_memory_bytes"}


def script_limits(task: TaskModel) -> dict[str, int] | None:
    """Per-task script limits from the task input (``scriptTimeoutMs``, ``scriptMaxMemoryBytes``)."""
    data = task.input
    if "scriptTimeoutMs" not in data and "scriptMaxMemoryBytes" not in data:
        return None
    limits = {}
    for key, name in SCRIPT_LIMIT_KEYS.items():
        value = data.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            limits[name] = value
    return limits or None


def _script(engine: Engine, task: TaskModel, source: str, bindings: Any, now: int, *, mode: str = "expression") -> Any:
    """Run JavaScript for ``task``; on error fail it and return _FAILED.

    A script error is FAILED_WITH_TERMINAL_ERROR (FAILED for LAMBDA), as in Conductor; running out of
    time or memory is FAILED, so a task definition's retries apply.
    """
    from flowkit.errors import ScriptError, ScriptMemoryError, ScriptTimeoutError

    if engine.scripts is None:
        engine.finish(task, S.FAILED_WITH_TERMINAL_ERROR, now, "no JavaScript engine is configured for this run")
        return _FAILED
    try:
        # scope: each workflow execution's scripts get their own global state
        return engine.scripts.js(
            source, bindings, mode=mode, limits=script_limits(task), scope=task.workflow.workflow_id
        )
    except (ScriptTimeoutError, ScriptMemoryError) as exc:
        task.output = {"error": str(exc)}
        engine.finish(task, S.FAILED, now, str(exc))
    except ScriptError as exc:
        message = f"{exc} (line {exc.line})" if exc.line else str(exc)
        task.output = {"error": message}
        status = S.FAILED if mode == "lambda" else S.FAILED_WITH_TERMINAL_ERROR
        engine.finish(task, status, now, message)
    return _FAILED


def inline(engine: Engine, wf: WorkflowModel, task: TaskModel, now: int, _: Any) -> None:
    _start(task, now)
    evaluator = task.input.get("evaluatorType") or "javascript"
    expression = task.input.get("expression")
    if not isinstance(expression, str) or not expression.strip():
        task.output = {"error": "Empty 'expression' in INLINE task's input parameters."}
        engine.finish(task, S.FAILED_WITH_TERMINAL_ERROR, now, task.output["error"])
        return
    if evaluator == "value-param":
        result: Any = task.input.get(expression)
    elif evaluator in ("javascript", "graaljs"):
        result = _script(engine, task, expression, task.input, now)
        if result is _FAILED:
            return
    else:
        task.output = {
            "error": f"Evaluator of type {evaluator} is not supported (use javascript, graaljs or value-param)"
        }
        engine.finish(task, S.FAILED_WITH_TERMINAL_ERROR, now, task.output["error"])
        return
    task.output = {"result": result}
    _done(engine, task, now)


def lambda_(engine: Engine, wf: WorkflowModel, task: TaskModel, now: int, _: Any) -> None:
    _start(task, now)
    script = task.input.get("scriptExpression") or task.node.wt.script_expression
    if not isinstance(script, str) or not script.strip():
        task.output = {"error": "Empty 'scriptExpression' in LAMBDA task's input parameters."}
        engine.finish(task, S.FAILED, now, task.output["error"])
        return
    result = _script(engine, task, script, task.input, now, mode="lambda")
    if result is _FAILED:
        return
    task.output = {"result": result}
    engine.finish(task, S.COMPLETED, now)


def jq_transform(engine: Engine, wf: WorkflowModel, task: TaskModel, now: int, _: Any) -> None:
    from flowkit.errors import ScriptError

    _start(task, now)
    program = task.input.get("queryExpression")
    if not isinstance(program, str) or not program.strip():
        task.output = {"error": "Missing 'queryExpression' in JSON_JQ_TRANSFORM task's input parameters."}
        engine.finish(task, S.FAILED, now, task.output["error"])
        return
    if engine.scripts is None:
        engine.finish(task, S.FAILED, now, "no jq engine is configured for this run")
        return
    try:
        results = engine.scripts.jq(program, task.input)
    except ScriptError as exc:
        # A runtime error's reason is jq's message exactly, as on Conductor; a program that does
        # not compile also says whose program it is.
        message = str(exc)
        if "compile" in message.lower():
            message = f"{message} (jq program of JSON_JQ_TRANSFORM task '{task.ref}' does not compile)"
        task.output = {"error": str(exc)}
        engine.finish(task, S.FAILED, now, message)
        return
    task.output = {"result": results[0] if results else None, "resultList": results}
    engine.finish(task, S.COMPLETED, now)
