"""The words on the diagram: node labels, tooltips, the loop-condition label and the title."""

from __future__ import annotations

import re
import textwrap
from typing import TYPE_CHECKING

from flowkit.definitions import TaskDef, WorkflowDef, WorkflowTask
from flowkit.render._style import Html, duration, html_escape, preview, short

if TYPE_CHECKING:
    from flowkit.engine import WorkflowModel

__all__ = [
    "REF_SIZE",
    "SMALL_SIZE",
    "def_tooltip",
    "loop_label",
    "markers",
    "node_label",
    "policy_text",
    "second_line",
    "switch_on",
    "title",
]

REF_SIZE = 12
"""Point size of a node's reference (bold), the line a reader looks for first."""
SMALL_SIZE = 10
"""Point size of everything else on a node: never below this, so a fitted diagram stays readable."""
_REASON_CHARS = 44  # a failed node's reason in its label; the tooltip has it whole
_TITLE_WIDTH = 72  # characters per line of the diagram title (a run's reason is wrapped, never cut short)
_TITLE_REASON = 400
_LOGIC = {"FIXED": "fixed", "LINEAR_BACKOFF": "linear", "EXPONENTIAL_BACKOFF": "exp"}
_DEFAULT_RESPONSE_TIMEOUT = TaskDef.__dataclass_fields__["response_timeout_seconds"].default

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
    """Return the line under a task's reference: its worker name, or its type and what it points at.

    A name equal to the reference is not repeated.
    """
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
    if wt.name and wt.name not in (wt.task_reference_name, kind):
        return f"{kind} · {wt.name}"
    return kind


def _seconds(value: int) -> str:
    if value >= 3600 and value % 3600 == 0:
        return f"{value // 3600}h"
    if value >= 60 and value % 60 == 0:
        return f"{value // 60}min"
    return f"{value}s"


def markers(wt: WorkflowTask, task_def: TaskDef | None) -> str:
    """Return the compact policy line of a node: ``optional · ↻3 exp 5s · timeout 30s · resp 30s``.

    Retries and timeouts come from the task's definition (inline ``taskDefinition``, else the
    registered one); a task without a known definition shows only what the workflow task says.
    """
    parts = ["optional"] if wt.optional else []
    retries = wt.retry_count if wt.retry_count is not None else (task_def.retry_count if task_def else 0)
    if retries > 0:
        text = f"↻{retries}"
        if task_def is not None:
            text += f" {_LOGIC.get(task_def.retry_logic, task_def.retry_logic.lower())}"
            text += f" {_seconds(task_def.retry_delay_seconds)}" if task_def.retry_delay_seconds else ""
        parts.append(text)
    if task_def is not None:
        if task_def.timeout_seconds > 0:
            parts.append(f"timeout {_seconds(task_def.timeout_seconds)}")
        response = task_def.response_timeout_seconds
        if response > 0 and response != _DEFAULT_RESPONSE_TIMEOUT:
            parts.append(f"resp {_seconds(response)}")
    return " · ".join(parts)


def policy_text(wt: WorkflowTask, task_def: TaskDef | None) -> str:
    """Return the retry and timeout policy in words, for a tooltip ("" when nothing is known)."""
    lines = []
    if wt.optional:
        lines.append("optional: a failure here does not fail the workflow")
    retries = wt.retry_count if wt.retry_count is not None else (task_def.retry_count if task_def else None)
    if task_def is not None:
        lines.append(
            f"retryCount {retries}, retryLogic {task_def.retry_logic}, retryDelaySeconds {task_def.retry_delay_seconds}"
        )
        lines.append(
            f"timeoutSeconds {task_def.timeout_seconds} ({task_def.timeout_policy}), "
            f"responseTimeoutSeconds {task_def.response_timeout_seconds}"
        )
    elif retries is not None:
        lines.append(f"retryCount {retries}")
    return "\n".join(lines)


def node_label(
    ref: str, second: str = "", marks: str = "", detail: str = "", reason: str = "", *, muted: str = "#555555"
) -> Html:
    """An HTML-like label: the reference in bold, then smaller lines (name, policy, run, reason).

    ``muted`` is the colour of the secondary lines: grey on a light fill, light on a dark one.
    """
    lines = [f"<b>{html_escape(ref)}</b>"]
    small = f'<font point-size="{SMALL_SIZE}" color="{muted}">'
    for line in (second, marks):
        if line:
            lines.append(f"{small}{html_escape(line)}</font>")
    if detail:
        lines.append(f'<font point-size="{SMALL_SIZE}">{html_escape(detail)}</font>')
    if reason:
        lines.append(f'<font point-size="{SMALL_SIZE}"><i>{html_escape(short(reason, _REASON_CHARS))}</i></font>')
    return Html("<br/>".join(lines))


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
        reason = short(model.reason, _TITLE_REASON)
        title += "\n" + "\n".join(textwrap.wrap(reason, _TITLE_WIDTH, break_long_words=True, break_on_hyphens=False))
    return title
