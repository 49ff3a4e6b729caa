"""DOT text for a workflow definition (its shape) or an execution (its shape plus what happened).

The walker follows the definition: every task is a node, a sequence is a chain of edges, FORK_JOIN
and JOIN are bars, SWITCH/DECISION a diamond with one labelled edge per case, DO_WHILE and an
expanded SUB_WORKFLOW a cluster. An execution only colours and annotates that shape (and adds the
branches of dynamic forks), so a run and its definition always look alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from flowkit._palette import WORST_FIRST
from flowkit.definitions import WorkflowDef, WorkflowTask
from flowkit.render._inputs import definition_finder, run_finder, subject
from flowkit.render._labels import def_tooltip, loop_label, second_line, switch_on, title
from flowkit.render._run import Cell, Run, breakdown
from flowkit.render._style import (
    FONT,
    NOT_REACHED,
    STATUS_ORDER,
    STATUS_SYMBOLS,
    Html,
    Writer,
    fill,
    font_color,
    html_escape,
    short,
)

if TYPE_CHECKING:
    from flowkit.engine import TaskModel, WorkflowModel

__all__ = ["DEFAULT_COLLAPSE_OVER", "dot"]

DEFAULT_COLLAPSE_OVER = 50
_MAX_DEPTH = 8  # sub-workflows expanded inside each other at most this deep
_SHOWN_FAILURES = 10
_WORST_FIRST = WORST_FIRST

_BARS = frozenset({"FORK_JOIN", "FORK_JOIN_DYNAMIC", "JOIN", "EXCLUSIVE_JOIN"})
_SWITCHES = frozenset({"SWITCH", "DECISION"})
_WORKERS = frozenset({"SIMPLE", "USER_DEFINED", "DYNAMIC"})
_SYSTEM = frozenset(
    {
        "SET_VARIABLE",
        "TERMINATE",
        "NOOP",
        "INLINE",
        "LAMBDA",
        "JSON_JQ_TRANSFORM",
        "WAIT",
        "HUMAN",
        "HTTP",
        "EVENT",
        "START_WORKFLOW",
        "SUB_WORKFLOW",
        "DO_WHILE",
    }
)
_LOOP_SUFFIX = re.compile(r"__\d+$")

_DEF_FILL = "#ffffff"
_SYSTEM_FILL = "#f2f2f2"
_BAR_FILL = "#222222"
_FADED = "#9a9a9a"
_LOOP_COLOR = "#3b6ea5"
_SUB_BG = "#f7f9fc"

Pred = tuple[str, str | None, bool | None]  # (tail node id, edge label, case taken? None = not a run case edge)


# ---------------------------------------------------------------------------------------------- the walker
class _Level:
    """One workflow being drawn.

    Holds the node id prefix, its execution (None in a definition diagram) and the definitions
    above it (so a workflow never expands itself).
    """

    __slots__ = ("depth", "prefix", "run", "stack")

    def __init__(self, prefix: str, run: Run | None, stack: tuple[tuple[str, int], ...], depth: int) -> None:
        self.prefix = prefix
        self.run = run
        self.stack = stack
        self.depth = depth


class _Diagram:
    def __init__(self, writer: Writer, *, collapse_over: int, find_def: Any, find_run: Any, run_mode: bool) -> None:
        self.w = writer
        self.collapse_over = collapse_over
        self.find_def = find_def
        self.find_run = find_run
        self.run_mode = run_mode
        self.counts: dict[str, int] = {}
        self.not_reached = False
        self.unreached: set[str] = set()

    # ------------------------------------------------------------------ edges
    def connect(self, preds: list[Pred], head: str, reached: bool) -> None:
        for tail, label, taken in preds:
            attrs: dict[str, Any] = {"label": label}
            if self.run_mode and (not reached or taken is False or tail in self.unreached):
                attrs.update(style="dashed", color=_FADED, fontcolor=_FADED)
            elif taken:
                attrs["penwidth"] = 2
            self.w.edge(tail, head, attrs)

    # ------------------------------------------------------------------ node styling
    def _status_attrs(self, node_id: str, cell: Cell | None, attrs: dict[str, Any]) -> None:
        if not self.run_mode:
            return
        if cell is None:
            self.not_reached = True
            self.unreached.add(node_id)
            attrs.update(
                style=_with(attrs.get("style"), "dashed", drop="filled"),
                fillcolor=None,
                color=_FADED,
                fontcolor="#555555",
            )
            return
        self.counts[cell.status] = self.counts.get(cell.status, 0) + 1
        color = fill(cell.status)
        attrs.update(style=_with(attrs.get("style"), "filled"), fillcolor=color, fontcolor=font_color(color))

    def box(self, node_id: str, ref: str, kind: str, second: str, cell: Cell | None, tooltip: str) -> str:
        """Draw a task node (not a bar, not a switch)."""
        attrs: dict[str, Any] = {"shape": "box", "style": "filled", "fillcolor": _SYSTEM_FILL}
        if kind in _WORKERS or kind not in _SYSTEM:
            attrs.update(style="rounded,filled", fillcolor=_DEF_FILL)
        if kind == "SUB_WORKFLOW":
            attrs["shape"] = "box3d"
        elif kind == "TERMINATE":
            attrs["shape"] = "octagon"
        lines = [ref, second]
        if cell is not None:
            lines.append(cell.detail())
            tooltip = cell.tooltip(tooltip.split("\n", 1)[0])
        attrs.update(label="\n".join(line for line in lines if line), tooltip=tooltip)
        self._status_attrs(node_id, cell, attrs)
        self.w.node(node_id, attrs)
        return node_id

    def bar(self, node_id: str, ref: str, kind: str, cell: Cell | None, tooltip: str) -> str:
        attrs: dict[str, Any] = {
            "shape": "box",
            "style": "filled",
            "fillcolor": _BAR_FILL,
            "label": "",
            "height": 0.08,
            "width": 1.6,
            "fixedsize": True,
            "xlabel": ref,
            "tooltip": tooltip,
        }
        if cell is not None:
            attrs.update(xlabel=f"{cell.symbol} {ref}", tooltip=cell.tooltip(f"{ref} · {kind}"))
        self._status_attrs(node_id, cell, attrs)
        if self.run_mode and cell is not None:
            attrs["fontcolor"] = "black"  # the xlabel sits beside the bar, not on it
        elif self.run_mode:
            attrs["fontcolor"] = _FADED
        self.w.node(node_id, attrs)
        return node_id

    # ------------------------------------------------------------------ sequences
    def seq(self, tasks: Iterable[WorkflowTask], preds: list[Pred], level: _Level, in_loop: bool) -> list[Pred]:
        groups: list[tuple[str | None, list[Pred]]] | None = None
        for wt in tasks:
            if wt.type in ("JOIN", "EXCLUSIVE_JOIN") and groups is not None:
                preds = _joined(groups, wt.join_on)
            preds, groups = self.task(wt, preds, level, in_loop)
        return preds

    def task(self, wt: WorkflowTask, preds: list[Pred], level: _Level, in_loop: bool) -> tuple[list[Pred], Any]:
        ref = wt.task_reference_name
        node_id = level.prefix + ref
        kind = wt.type or "SIMPLE"
        cell = level.run.cell(ref, in_loop) if level.run is not None else None
        reached = cell is not None
        head = f"{ref} · {kind}" + (f" {wt.name}" if wt.name not in (ref, kind) else "")
        tooltip = def_tooltip(head, wt)

        if kind in _BARS:
            self.connect(preds, node_id, reached)
            self.bar(node_id, ref, kind, cell, tooltip)
            if kind == "FORK_JOIN":
                groups = []
                for branch in wt.fork_tasks:
                    ends = self.seq(branch, [(node_id, None, None)], level, in_loop)
                    groups.append((branch[-1].task_reference_name if branch else None, ends))
                return [p for _, ends in groups for p in ends], groups
            if kind == "FORK_JOIN_DYNAMIC":
                return self.dynamic(wt, node_id, cell, level, in_loop), None
            return [(node_id, None, None)], None

        if kind in _SWITCHES:
            self.connect(preds, node_id, reached)
            self.switch(wt, node_id, cell, tooltip)
            taken = _taken_case(wt, cell)
            exits: list[Pred] = []
            for case, tasks in wt.decision_cases.items():
                flag = None if taken is None else case == taken
                exits += self.seq(tasks, [(node_id, case, flag)], level, in_loop)
            flag = None if taken is None else taken == "default"
            exits += self.seq(wt.default_case, [(node_id, "default", flag)], level, in_loop)
            return exits, None

        if kind == "DO_WHILE":
            return self.loop(wt, node_id, preds, cell, level, tooltip), None

        if kind == "SUB_WORKFLOW":
            return self.sub_workflow(wt, node_id, preds, cell, level, tooltip, in_loop), None

        self.connect(preds, node_id, reached)
        self.box(node_id, ref, kind, second_line(wt), cell, tooltip)
        return [(node_id, None, None)], None

    def switch(self, wt: WorkflowTask, node_id: str, cell: Cell | None, tooltip: str) -> None:
        ref = wt.task_reference_name
        lines = [ref, f"{wt.type} {switch_on(wt)}".rstrip()]
        if cell is not None:
            lines.append(cell.detail())
            tooltip = cell.tooltip(tooltip.split("\n", 1)[0])
        attrs: dict[str, Any] = {
            "shape": "diamond",
            "style": "filled",
            "fillcolor": _SYSTEM_FILL,
            "label": "\n".join(lines),
            "tooltip": tooltip,
            "margin": 0.02,
        }
        self._status_attrs(node_id, cell, attrs)
        self.w.node(node_id, attrs)

    def loop(
        self, wt: WorkflowTask, node_id: str, preds: list[Pred], cell: Cell | None, level: _Level, tooltip: str
    ) -> list[Pred]:
        condition = wt.loop_condition or ""
        self.w.open_cluster(
            node_id,
            {
                "label": "↻ DO_WHILE" + (" (for each item)" if wt.items is not None else ""),
                "style": "rounded,dashed",
                "color": _LOOP_COLOR,
                "fontcolor": _LOOP_COLOR,
                "tooltip": f"while {short(condition, 300)}",
            },
        )
        self.connect(preds, node_id, cell is not None)
        self.box(node_id, wt.task_reference_name, "DO_WHILE", "DO_WHILE", cell, tooltip)
        exits = self.seq(wt.loop_over, [(node_id, None, None)], level, True)
        self.w.close_cluster()
        back = {
            "label": loop_label(condition),
            "tooltip": f"while {short(condition, 300)}",
            "style": "dashed",
            "color": _LOOP_COLOR,
            "fontcolor": _LOOP_COLOR,
            "constraint": False,
        }
        for tail, _label, _taken in exits:
            self.w.edge(tail, node_id, back)
        return exits

    def sub_workflow(
        self,
        wt: WorkflowTask,
        node_id: str,
        preds: list[Pred],
        cell: Cell | None,
        level: _Level,
        tooltip: str,
        in_loop: bool,
    ) -> list[Pred]:
        param = wt.sub_workflow_param
        child_def = None
        if param is not None:
            inline = param.workflow_definition
            if isinstance(inline, WorkflowDef):
                child_def = inline
            elif param.name:
                child_def = self.find_def(param.name, param.version)
        child_model = None
        if cell is not None and cell.final.sub_workflow_id:
            child_model = self.find_run(cell.final.sub_workflow_id)
            child_def = child_model.definition if child_model is not None else None
        return self.expand(
            node_id, wt.task_reference_name, second_line(wt), preds, cell, level, tooltip, child_def, child_model
        )

    def expand(
        self,
        node_id: str,
        ref: str,
        second: str,
        preds: list[Pred],
        cell: Cell | None,
        level: _Level,
        tooltip: str,
        child_def: WorkflowDef | None,
        child_model: WorkflowModel | None,
    ) -> list[Pred]:
        """Draw a SUB_WORKFLOW node, and its child's tasks in a cluster when the child is known."""
        key = (child_def.name, child_def.version) if child_def is not None else None
        if child_def is None or key in level.stack or level.depth >= _MAX_DEPTH:
            self.connect(preds, node_id, cell is not None)
            self.box(node_id, ref, "SUB_WORKFLOW", second, cell, tooltip)
            return [(node_id, None, None)]
        caption = f"{child_def.name} v{child_def.version}"
        if child_model is not None:
            caption += f" · {child_model.status}"
        self.w.open_cluster(
            node_id,
            {"label": caption, "style": "rounded,filled", "fillcolor": _SUB_BG, "color": "#8c9bb5", "tooltip": caption},
        )
        self.connect(preds, node_id, cell is not None)
        self.box(node_id, ref, "SUB_WORKFLOW", second, cell, tooltip)
        run = Run(child_model) if self.run_mode else None
        child = _Level(f"{node_id}/", run, (*level.stack, (child_def.name, child_def.version)), level.depth + 1)
        exits = self.seq(child_def.tasks, [(node_id, None, None)], child, False)
        self.w.close_cluster()
        return exits

    def dynamic(self, wt: WorkflowTask, node_id: str, cell: Cell | None, level: _Level, in_loop: bool) -> list[Pred]:
        """Draw the forked tasks.

        One "×N" node in a definition (or before the fork ran), one node per branch in an
        execution, or one "×N" node with a status breakdown past ``collapse_over`` branches.
        """
        ref = wt.task_reference_name
        many_id = f"{node_id}/×"
        source = wt.dynamic_fork_tasks_param or wt.dynamic_fork_join_tasks_param or "forkTaskInputs"
        if cell is None or level.run is None:
            attrs: dict[str, Any] = {
                "shape": "box",
                "style": "rounded,filled",
                "fillcolor": _DEF_FILL,
                "peripheries": 2,
                "label": "×N\ndynamic tasks",
                "tooltip": f"{ref}: tasks forked at run time from input '{source}'",
            }
            self._status_attrs(many_id, None, attrs)
            self.w.node(many_id, attrs)
            self.w.edge(node_id, many_id, _faded() if self.run_mode else {})
            return [(many_id, None, None)]
        branches = level.run.branches(ref, cell.final.iteration)
        if not branches:
            return [(node_id, None, None)]
        if len(branches) > self.collapse_over:
            self.collapsed(many_id, ref, branches)
            self.w.edge(node_id, many_id, {})
            return [(many_id, None, None)]
        exits: list[Pred] = []
        for full_ref, attempts in branches.items():
            branch_ref = _LOOP_SUFFIX.sub("", full_ref) if in_loop else full_ref
            branch = Cell(attempts, False)
            task = branch.final
            kind = str(task.node.wt.type or "SIMPLE") if task.node is not None else str(task.task_type)
            branch_id = f"{node_id}/{branch_ref}"
            head = f"{branch_ref} · {kind}" + (f" {task.task_def_name}" if task.task_def_name != kind else "")
            if kind == "SUB_WORKFLOW":
                child = self.find_run(task.sub_workflow_id) if task.sub_workflow_id else None
                exits += self.expand(
                    branch_id,
                    branch_ref,
                    f"→ {task.task_def_name}",
                    [(node_id, None, None)],
                    branch,
                    level,
                    head,
                    child.definition if child else None,
                    child,
                )
                continue
            second = task.task_def_name if kind in _WORKERS else kind
            self.connect([(node_id, None, None)], branch_id, True)
            self.box(branch_id, branch_ref, kind, second, branch, head)
            exits.append((branch_id, None, None))
        return exits

    def collapsed(self, node_id: str, ref: str, branches: Mapping[str, list[TaskModel]]) -> None:
        finals = {branch_ref: attempts[-1] for branch_ref, attempts in branches.items()}
        counts = breakdown([str(t.status) for t in finals.values()])
        total = len(finals)
        for status, n in counts:
            self.counts[status] = self.counts.get(status, 0) + n
        parts = [f"{n} {STATUS_SYMBOLS.get(s, '?')} {s}" for s, n in counts]
        rows = [", ".join(parts[i : i + 2]) for i in range(0, len(parts), 2)]
        stripes = ":".join(
            f"{fill(s)};{n / total:.4f}" if i < len(counts) - 1 else fill(s) for i, (s, n) in enumerate(counts)
        )
        main = fill(counts[0][0])
        tooltip = [f"{ref}: {total} dynamically forked tasks", *parts]
        failed = sorted(
            ((r, t) for r, t in finals.items() if str(t.status) in _WORST_FIRST),
            key=lambda item: _WORST_FIRST.index(str(item[1].status)),
        )
        for branch_ref, task in failed[:_SHOWN_FAILURES]:
            tooltip.append(f"{branch_ref}: {task.status}" + (f": {short(task.reason, 80)}" if task.reason else ""))
        if len(failed) > _SHOWN_FAILURES:
            tooltip.append(f"... {len(failed) - _SHOWN_FAILURES} more unsuccessful")
        self.w.node(
            node_id,
            {
                "shape": "box",
                "style": "striped" if len(counts) > 1 else "filled",
                "fillcolor": stripes,
                "fontcolor": font_color(main),
                "peripheries": 2,
                "tooltip": "\n".join(tooltip),
                "label": "\n".join([f"×{total} dynamic tasks", *rows]),
            },
        )

    # ------------------------------------------------------------------ legend
    def legend(self, anchor: str) -> None:
        rows = []
        for status in sorted(self.counts, key=lambda s: (STATUS_ORDER.index(s) if s in STATUS_ORDER else 99, s)):
            color = fill(status)
            rows.append(
                f'<tr><td bgcolor="{color}" width="14"><font color="{font_color(color)}">'
                f"{html_escape(STATUS_SYMBOLS.get(status, '?'))}</font></td>"
                f'<td align="left">{html_escape(status)}</td><td align="right">{self.counts[status]}</td></tr>'
            )
        if self.not_reached:
            rows.append(
                f'<tr><td border="1" color="{_FADED}" width="14"> </td>'
                f'<td align="left">{NOT_REACHED}</td><td></td></tr>'
            )
        if not rows:
            return
        table = Html(
            '<table border="0" cellborder="0" cellspacing="2" cellpadding="2">'
            '<tr><td colspan="3" align="left"><b>legend</b></td></tr>' + "".join(rows) + "</table>"
        )
        self.w.node("(legend)", {"shape": "plain", "label": table, "tooltip": "task statuses in this run"})
        self.w.edge(anchor, "(legend)", {"style": "invis"})


# ---------------------------------------------------------------------------------------------- helpers
def _with(style: str | None, add: str, drop: str | None = None) -> str:
    parts = [p for p in (style or "").split(",") if p and p != drop and p != add]
    return ",".join([*parts, add])


def _faded() -> dict[str, Any]:
    return {"style": "dashed", "color": _FADED}


def _joined(groups: list[tuple[str | None, list[Pred]]], join_on: tuple[str, ...]) -> list[Pred]:
    """Return the branch ends a JOIN waits for; branches it does not name end where they are, as in Conductor."""
    wanted = [exits for last, exits in groups if last is None or last in join_on]
    if not join_on or len(wanted) == 0:
        wanted = [exits for _, exits in groups]
    return [p for exits in wanted for p in exits]


def _taken_case(wt: WorkflowTask, cell: Cell | None) -> str | None:
    if cell is None or cell.status != "COMPLETED":
        return None
    output = cell.final.output or {}
    selected = output.get("selectedCase")
    for key in ("evaluationResult", "caseOutput"):  # SWITCH, DECISION
        result = output.get(key)
        if selected is None and isinstance(result, list) and result:
            selected = result[0]
    return str(selected) if selected is not None and str(selected) in wt.decision_cases else "default"


def _end_attrs(model: WorkflowModel | None) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "shape": "doublecircle",
        "label": "end",
        "width": 0.35,
        "fixedsize": True,
        "style": "filled",
        "fillcolor": "#ffffff",
        "fontsize": 9,
    }
    if model is None:
        return attrs
    status = str(model.status)
    colors = {
        "COMPLETED": fill("COMPLETED"),
        "FAILED": fill("FAILED"),
        "TIMED_OUT": fill("TIMED_OUT"),
        "TERMINATED": fill("CANCELED"),
    }
    if status in colors:
        attrs.update(fillcolor=colors[status], fontcolor=font_color(colors[status]), tooltip=f"workflow {status}")
    else:
        attrs.update(style="dashed", color=_FADED, tooltip=f"workflow {status}")
    return attrs


# ---------------------------------------------------------------------------------------------- entry point
def dot(
    obj: Any,
    *,
    collapse_over: int = DEFAULT_COLLAPSE_OVER,
    show_legend: bool = True,
    workflows: Any = None,
    lookup: Any = None,
    rankdir: str = "TB",
) -> str:
    """DOT source of a definition diagram or a run diagram (see :mod:`flowkit.render`).

    Args:
        obj: A WorkflowDef, a WorkflowBuilder, Conductor workflow JSON (dict, text or path), an
            Execution, a WorkflowModel, or Conductor *execution* JSON (a run from a server).
        collapse_over: A dynamic fork with more branches than this is drawn as one "×N" node
            with a status breakdown.
        show_legend: Add the legend of the statuses present (run diagrams only).
        workflows: Where SUB_WORKFLOW children are found by name: a mapping ``{name: def}`` or
            ``{(name, version): def}``, a flowkit Registry, a callable ``(name, version)``, or an
            iterable of definitions. Inline children need nothing.
        lookup: Where child executions are found by id: a mapping ``{workflow_id: model}`` or a
            callable such as ``execution.execution``; an Execution uses its own runtime by default.
        rankdir: Graphviz direction, ``"TB"`` (top to bottom) or ``"LR"``.

    Returns:
        DOT text. Node ids are task references, never workflow or task ids, so the same
        definition, or a run with the same outcome, timings and messages, gives the same text.

    Raises:
        TypeError: ``obj`` is not one of the above.
        DefinitionError: ``obj`` is JSON that is not a valid workflow definition.

    """
    definition, model, default_lookup = subject(obj, workflows)
    if collapse_over < 0:
        raise ValueError(f"collapse_over must be 0 or more, got {collapse_over}")
    heading = title(definition, model)
    writer = Writer(
        definition.name,
        graph={
            "label": heading,
            "labelloc": "t",
            "fontname": FONT,
            "fontsize": 12,
            "rankdir": rankdir,
            "nodesep": 0.3,
            "ranksep": 0.35,
            "forcelabels": True,
            "tooltip": heading,
        },
        node={"fontname": FONT, "fontsize": 10, "margin": "0.12,0.05", "penwidth": 1},
        edge={"fontname": FONT, "fontsize": 9, "arrowsize": 0.7},
    )
    run_mode = model is not None
    diagram = _Diagram(
        writer,
        collapse_over=collapse_over,
        find_def=definition_finder(workflows),
        find_run=run_finder(lookup if lookup is not None else default_lookup, workflows),
        run_mode=run_mode,
    )
    writer.node(
        "(start)",
        {
            "shape": "circle",
            "label": "",
            "width": 0.22,
            "fixedsize": True,
            "style": "filled",
            "fillcolor": "#222222",
            "tooltip": "start",
        },
    )
    level = _Level("", Run(model) if run_mode else None, ((definition.name, definition.version),), 0)
    exits = diagram.seq(definition.tasks, [("(start)", None, None)], level, False)
    ended = model is not None and str(model.status) in ("COMPLETED", "FAILED", "TIMED_OUT", "TERMINATED")
    writer.node("(end)", _end_attrs(model))
    diagram.connect(exits, "(end)", ended or not run_mode)
    if show_legend and run_mode:
        diagram.legend("(end)")
    return writer.text()
