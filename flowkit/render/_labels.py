"""The words on the diagram: node labels, tooltips, the loop-condition label and the title."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from flowkit.definitions import WorkflowDef, WorkflowTask
from flowkit.render._style import duration, preview, short

if TYPE_CHECKING:
    from flowkit.engine import WorkflowModel

__all__ = ["def_tooltip", "loop_label", "second_line", "switch_on", "title"]

LOOP_CONDITION_RE = re.compile(r"^if\s*\((?P<cond>.*)\)\s*\{\s*true;?\s*\}\s*else\s*\{\s*false;?\s*\}$", re.DOTALL)
LOOP_KEY_RE = re.compile(r"""\$\.(\w+)\[\s*['"](\w+)['"]\s*\]""")


def switch_on(wt: WorkflowTask) -> str:
    """Return what a SWITCH/DECISION decides on, shortened: the input expression or the script."""
    if wt.type == "DECISION":
        if wt.case_value_param:
            return short(wt.input_parameters.get(wt.case_value_param, wt.case_value_param), 32)
        return short(wt.case_expression or "", 32)
    if (wt.evaluator_type or "value-param") == "value-param" and wt.expression:
        return short(wt.input_parameters.get(wt.expression, wt.expression), 32)
    return short(wt.expression or "", 32)


def second_line(wt: WorkflowTask) -> str:
    """Return the line under a task's reference: its worker name, or its type and what it points at."""
    kind = wt.type or "SIMPLE"
    if kind in ("SIMPLE", "USER_DEFINED"):
        return wt.name if wt.name != wt.task_reference_name else ""
    if kind == "SUB_WORKFLOW":
        param = wt.sub_workflow_param
        inline = param.workflow_definition if param is not None else None
        name = inline.name if isinstance(inline, WorkflowDef) else (param.name if param is not None else None)
        version = inline.version if isinstance(inline, WorkflowDef) else (param.version if param else None)
        return f"SUB_WORKFLOW → {name or '?'}" + (f" v{version}" if version is not None else "")
    if kind == "TERMINATE":
        status = wt.input_parameters.get("terminationStatus")
        return f"TERMINATE → {status}" if status else kind
    if kind == "DYNAMIC":
        key = wt.dynamic_task_name_param or "taskToExecute"
        return f"DYNAMIC {short(wt.input_parameters.get(key, key), 28)}"
    return kind


def def_tooltip(head: str, wt: WorkflowTask) -> str:
    """Return a definition node's tooltip: description, optional flag, input parameters."""
    lines = [head]
    if wt.description:
        lines.append(short(wt.description, 200))
    if wt.optional:
        lines.append("optional")
    if wt.input_parameters:
        lines.append(f"input: {preview(wt.input_parameters)}")
    return "\n".join(lines)


def loop_label(condition: str) -> str:
    """Shorten a DO_WHILE condition for its back edge: ``if (c) { true; } else { false; }`` becomes ``c``."""
    text = " ".join(condition.split())
    match = LOOP_CONDITION_RE.match(text)
    if match:
        text = match.group("cond").strip()
    text = LOOP_KEY_RE.sub(lambda m: f"$.{m.group(1)}.{m.group(2)}", text)
    return short(text, 36) if text else "loop"


def title(definition: WorkflowDef, model: WorkflowModel | None) -> str:
    """Return the diagram title: name and version, then status, duration and reason for a run."""
    title = f"{definition.name} v{definition.version}"
    if model is None:
        return title
    title += f" · {model.status}"
    if model.end_time and model.create_time and model.end_time >= model.create_time:
        title += f" · {duration(int(model.end_time - model.create_time))}"
    if model.reason:
        title += f"\n{short(model.reason, 80)}"
    return title
