"""SWITCH and DECISION (Conductor's ``SwitchTaskMapper``, ``DecisionTaskMapper``, ``Switch.java``): pick a case, schedule its branch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowkit.definitions._types import TaskStatus
from flowkit.engine._tasks._common import _start
from flowkit.engine._tasks.scripts import _FAILED, _script
from flowkit.expressions._java import case_string, java_string

if TYPE_CHECKING:
    from flowkit.engine._engine import Engine
    from flowkit.engine._state import TaskModel, WorkflowModel

__all__ = ["switch"]

S = TaskStatus


def switch(engine: Engine, wf: WorkflowModel, task: TaskModel, now: int, _: Any) -> None:
    node = task.node
    wt = node.wt
    _start(task, now)
    if node.kind == "SWITCH":
        evaluator = wt.evaluator_type or "value-param"
        if evaluator == "value-param":
            case = case_string(task.input.get(wt.expression or ""), from_script=False)
        elif evaluator in ("javascript", "graaljs"):
            result = _script(engine, task, wt.expression or "", task.input, now)
            if result is _FAILED:
                return
            case = case_string(result, from_script=True)
        else:
            engine.finish(task, S.FAILED, now, f"No evaluator registered for type: {evaluator}")
            return
        task.input["case"] = case
        task.output = {"evaluationResult": [case], "selectedCase": case}
        first = node.nested[case] if case in wt.decision_cases else node.nested[None]
    else:
        if wt.case_expression:
            result = _script(engine, task, wt.case_expression, task.input, now)
            if result is _FAILED:
                return
            case = case_string(result, from_script=True)
        else:
            case = java_string(task.input.get(wt.case_value_param or ""))
        task.input["case"] = case
        task.output = {"caseOutput": [case]}
        branch = wt.decision_cases.get(case)
        first = node.nested[case] if branch else node.nested[None]
    engine.finish(task, S.COMPLETED, now)
    if first is not None:
        task.extra = {"drove": True}
        engine.schedule(wf, first, now)
