"""Static script checks: JavaScript syntax errors found before a run, as validation issues."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flowkit.definitions import WorkflowDef, WorkflowTask
from flowkit.errors import DefinitionIssue, ScriptError

__all__ = ["script_issues"]


def _scripts(wt: WorkflowTask) -> Iterator[tuple[str, Any, str]]:
    """(field, source, mode) for every script field of ``wt``; a source may be any value (or None)."""
    params = wt.input_parameters
    if wt.type == "INLINE" and params.get("evaluatorType", "javascript") in ("javascript", "graaljs"):
        yield "inputParameters.expression", params.get("expression"), "expression"
    elif wt.type == "SWITCH" and wt.evaluator_type in ("javascript", "graaljs"):
        yield "expression", wt.expression, "expression"
    elif wt.type == "DECISION" and wt.case_expression:
        yield "caseExpression", wt.case_expression, "expression"
    elif wt.type == "DO_WHILE" and wt.loop_condition:
        yield "loopCondition", wt.loop_condition, "expression"
    elif wt.type == "LAMBDA":
        yield "inputParameters.scriptExpression", params.get("scriptExpression"), "lambda"


def script_issues(definition: WorkflowDef, scripts: Any) -> list[DefinitionIssue]:
    """A DefinitionIssue for every literal script (not built from ``${...}``) that does not compile.

    Literal jq programs that would read the environment or modules from disk are issues too.
    """
    from flowkit.scripting._jq import forbidden

    issues = []
    for wt in definition.all_tasks():
        program = wt.input_parameters.get("queryExpression") if wt.type == "JSON_JQ_TRANSFORM" else None
        if isinstance(program, str) and "${" not in program and (name := forbidden(program)) is not None:
            place = f"task '{wt.task_reference_name}' field 'inputParameters.queryExpression'"
            problem = f"jq's {name!r} is not available in flowkit: it would read the environment or files on disk"
            fix = "pass the values the program needs in the task's inputParameters."
            issues.append(DefinitionIssue(place, problem, fix, wt.task_reference_name))
        for field, source, mode in _scripts(wt):
            if not isinstance(source, str) or "${" in source:
                continue
            try:
                scripts.check_syntax(source, mode=mode)
            except ScriptError as exc:
                line = f" (line {exc.line})" if exc.line else ""
                issues.append(
                    DefinitionIssue(
                        f"task '{wt.task_reference_name}' field '{field}'",
                        f"JavaScript does not compile{line}: {exc}",
                        "fix the script's syntax.",
                        wt.task_reference_name,
                    )
                )
        param = wt.sub_workflow_param
        if param is not None and isinstance(param.workflow_definition, WorkflowDef):
            issues += script_issues(param.workflow_definition, scripts)
    return issues
