"""DOT text for a workflow definition (its shape) or an execution (its shape plus what happened).

The walker follows the definition: every task is a node, a sequence is a chain of edges, FORK_JOIN
and JOIN are bars, SWITCH/DECISION a diamond with one labelled edge per case, DO_WHILE and an
expanded SUB_WORKFLOW a cluster. An execution only colours and annotates that shape (and adds the
branches of dynamic forks), so a run and its definition always look alike.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from flowkit._palette import WORST_FIRST
from flowkit.definitions import TaskDef, WorkflowDef, WorkflowTask
from flowkit.render._inputs import definition_finder, run_finder, subject, task_def_table
from flowkit.render._labels import (
    REF_SIZE,
    SMALL_SIZE,
    def_tooltip,
    loop_label,
    markers,
    node_label,
    policy_text,
    second_line,
    switch_on,
    title,
)
from flowkit.render._run import Cell, Run, breakdown
from flowkit.render._shapes import (
    BAR_FILL,
    DEF_FILL,
    FADED,
    SYSTEM_FILL,
    Pred,
    end_attrs,
    faded,
    joined,
    legend_row,
    muted,
    taken_case,
    with_style,
    wrap_ref,
)
from flowkit.render._style import (
    FONT,
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

DEFAULT_COLLAPSE_OVER = 10
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

_LOOP_COLOR = "#3b6ea5"
_SUB_BG = "#f7f9fc"
_BAR_LONG = 110  # points: a fork/join bar's length across the branches
_BAR_THICK = 5


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
    def __init__(
        self,
        writer: Writer,
        *,
        collapse_over: int,
        expand: Collection[str],
        find_def: Any,
        find_run: Any,
        run_mode: bool,
        task_defs: Mapping[str, TaskDef],
        rankdir: str,
    ) -> None:
        self.w = writer
        self.task_defs = task_defs
        self.across = rankdir in ("LR", "RL")  # bars stand upright when the flow goes sideways
        # Edges meet a bar on the side facing them, never behind its label.
        self.in_port, self.out_port = {"TB": ("b:n", "b:s"), "BT": ("b:s", "b:n"), "LR": ("b:w", "b:e")}.get(
            rankdir, ("b:e", "b:w")
        )
        self.collapse_over = collapse_over
        self.unfold = expand
        self.find_def = find_def
        self.find_run = find_run
        self.run_mode = run_mode
        self.counts: dict[str, int] = {}
        self.bars: set[str] = set()
        self.not_reached = False
        self.unreached: set[str] = set()

    # ------------------------------------------------------------------ edges
    def connect(self, preds: list[Pred], head: str, reached: bool) -> None:
        for tail, label, taken in preds:
            attrs: dict[str, Any] = {"label": label}
            if tail in self.bars:
                attrs["tailport"] = self.out_port
            if head in self.bars:
                attrs["headport"] = self.in_port
            if self.run_mode and (not reached or taken is False or tail in self.unreached):
                attrs.update(style="dashed", color=FADED, fontcolor=FADED)
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
                style=with_style(attrs.get("style"), "dashed", drop="filled"),
                fillcolor=None,
                color=FADED,
                fontcolor="#555555",
            )
            return
        self.counts[cell.status] = self.counts.get(cell.status, 0) + 1
        color = fill(cell.status)
        attrs.update(style=with_style(attrs.get("style"), "filled"), fillcolor=color, fontcolor=font_color(color))

    def policy(self, wt: WorkflowTask | None) -> tuple[str, str]:
        """The compact policy line of a task and its words for the tooltip."""
        if wt is None:
            return "", ""
        task_def = wt.task_definition or self.task_defs.get(wt.name)
        return markers(wt, task_def), policy_text(wt, task_def)

    def box(
        self,
        node_id: str,
        ref: str,
        kind: str,
        second: str,
        cell: Cell | None,
        tooltip: str,
        wt: WorkflowTask | None = None,
    ) -> str:
        """Draw a task node (not a bar, not a switch): the ref in bold, name, policy, outcome, reason."""
        attrs: dict[str, Any] = {"shape": "box", "style": "filled", "fillcolor": SYSTEM_FILL}
        if kind in _WORKERS or kind not in _SYSTEM:
            attrs.update(style="rounded,filled", fillcolor=DEF_FILL)
        if kind == "SUB_WORKFLOW":
            attrs["shape"] = "box3d"
        elif kind == "TERMINATE":
            attrs["shape"] = "octagon"
        marks, policy = self.policy(wt)
        if policy:
            head, _, rest = tooltip.partition("\n")
            tooltip = "\n".join(part for part in (head, policy, rest) if part)
        detail = reason = ""
        if cell is not None:
            detail = cell.detail()
            reason = cell.failure()
            tooltip = cell.tooltip(tooltip.split("\n", 1)[0]) + (f"\n{policy}" if policy else "")
        self._status_attrs(node_id, cell, attrs)
        attrs.update(label=node_label(ref, second, marks, detail, reason, muted=muted(attrs)), tooltip=tooltip)
        self.w.node(node_id, attrs)
        return node_id

    def bar(self, node_id: str, ref: str, kind: str, cell: Cell | None, tooltip: str) -> str:
        """Draw a FORK/JOIN bar: a plain node whose HTML table holds the bar (port ``b``) and its label.

        Edges attach to the bar's port, and the label sits in the corner no edge of this node
        passes: beside the bar's incoming side of a fork and its outgoing side of a join.
        """
        color, text_color = BAR_FILL, "black"
        text = ref
        if cell is not None:
            text = f"{cell.symbol} {ref}"
            tooltip = cell.tooltip(f"{ref} · {kind}")
            color = fill(cell.status)
            self.counts[cell.status] = self.counts.get(cell.status, 0) + 1
        elif self.run_mode:
            color, text_color = "#ffffff", FADED
            self.not_reached = True
            self.unreached.add(node_id)
        border = ' border="1" color="#222222"' if color != BAR_FILL else ""
        if self.run_mode and cell is None:
            border = f' border="1" color="{FADED}" style="dashed"'
        joining = kind in ("JOIN", "EXCLUSIVE_JOIN")
        lines = wrap_ref(text) if self.across else [text]
        shown = "<br/>".join(html_escape(line) for line in lines)
        words = f'<font point-size="{SMALL_SIZE}" color="{text_color}">{shown}</font>'
        if self.across:
            # Tall enough that the label, in its half, ends before the bar's middle, where edges meet it.
            tall = max(_BAR_LONG // 2, 2 * (len(lines) * (SMALL_SIZE + 2) + 6))
            bar = f'<td port="b" bgcolor="{color}" width="{_BAR_THICK}" height="{tall}" fixedsize="true"{border}></td>'
            side = "left" if joining else "right"
            label = f'<td cellpadding="3" valign="{"bottom" if joining else "top"}" align="{side}" balign="{side}">{words}</td>'
            row = f"<tr>{bar}{label}</tr>" if joining else f"<tr>{label}{bar}</tr>"
        else:
            # The label hangs off the bar's right end: clear of the edges, which meet the bar's middle.
            bar = f'<tr><td port="b" bgcolor="{color}" width="{_BAR_LONG}" height="{_BAR_THICK}" fixedsize="true"{border}></td><td></td></tr>'
            label = f'<tr><td></td><td cellpadding="3" align="left">{words}</td></tr>'
            row = bar + label if joining else label + bar
        table = Html(f'<table border="0" cellborder="0" cellspacing="0" cellpadding="1">{row}</table>')
        self.w.node(node_id, {"shape": "plain", "label": table, "tooltip": tooltip})
        return node_id

    # ------------------------------------------------------------------ sequences
    def seq(self, tasks: Iterable[WorkflowTask], preds: list[Pred], level: _Level, in_loop: bool) -> list[Pred]:
        groups: list[tuple[str | None, list[Pred]]] | None = None
        for wt in tasks:
            if wt.type in ("JOIN", "EXCLUSIVE_JOIN") and groups is not None:
                preds = joined(groups, wt.join_on)
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
            self.bars.add(node_id)
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
            taken = taken_case(wt, cell)
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
        self.box(node_id, ref, kind, second_line(wt), cell, tooltip, wt)
        return [(node_id, None, None)], None

    def switch(self, wt: WorkflowTask, node_id: str, cell: Cell | None, tooltip: str) -> None:
        ref = wt.task_reference_name
        detail = reason = ""
        if cell is not None:
            detail, reason = cell.detail(), cell.failure()
            tooltip = cell.tooltip(tooltip.split("\n", 1)[0])
        attrs: dict[str, Any] = {
            "shape": "diamond",
            "style": "filled",
            "fillcolor": SYSTEM_FILL,
            "tooltip": tooltip,
            "margin": 0.02,
        }
        self._status_attrs(node_id, cell, attrs)
        second = f"{wt.type} {switch_on(wt)}".rstrip()
        attrs["label"] = node_label(ref, second, "", detail, reason, muted=muted(attrs))
        self.w.node(node_id, attrs)

    def loop(
        self, wt: WorkflowTask, node_id: str, preds: list[Pred], cell: Cell | None, level: _Level, tooltip: str
    ) -> list[Pred]:
        condition = wt.loop_condition or ""
        self.w.open_cluster(
            node_id,
            {
                "label": "",
                "style": "rounded,dashed",
                "color": _LOOP_COLOR,
                "tooltip": f"while {short(condition, 300)}",
            },
        )
        self.connect(preds, node_id, cell is not None)
        kind = "↻ DO_WHILE" + (" for each item" if wt.items is not None else "")
        self.box(node_id, wt.task_reference_name, "DO_WHILE", kind, cell, tooltip, wt)
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
            self.w.edge(tail, node_id, {**back, "tailport": self.out_port} if tail in self.bars else back)
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
            node_id, wt.task_reference_name, second_line(wt), preds, cell, level, tooltip, child_def, child_model, wt
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
        wt: WorkflowTask | None = None,
    ) -> list[Pred]:
        """Draw a SUB_WORKFLOW node, and its child's tasks in a cluster when the child is known.

        The cluster has no title of its own (edges run through a cluster's title): the
        SUB_WORKFLOW node at its top names the child and, in a run, the child's status.
        """
        key = (child_def.name, child_def.version) if child_def is not None else None
        if child_def is None or key in level.stack or level.depth >= _MAX_DEPTH:
            self.connect(preds, node_id, cell is not None)
            self.box(node_id, ref, "SUB_WORKFLOW", second, cell, tooltip, wt)
            return [(node_id, None, None)]
        caption = f"{child_def.name} v{child_def.version}"
        if child_model is not None:
            caption += f" · {child_model.status}"
            second = f"→ {caption}"
        self.w.open_cluster(
            node_id,
            {"label": "", "style": "rounded,filled", "fillcolor": _SUB_BG, "color": "#8c9bb5", "tooltip": caption},
        )
        self.connect(preds, node_id, cell is not None)
        self.box(node_id, ref, "SUB_WORKFLOW", second, cell, tooltip, wt)
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
                "fillcolor": DEF_FILL,
                "peripheries": 2,
                "label": node_label("×N", "dynamic tasks"),
                "tooltip": f"{ref}: tasks forked at run time from input '{source}'",
            }
            self._status_attrs(many_id, None, attrs)
            self.w.node(many_id, attrs)
            self.w.edge(node_id, many_id, {"tailport": self.out_port, **(faded() if self.run_mode else {})})
            return [(many_id, None, None)]
        branches = level.run.branches(ref, cell.final.iteration)
        if not branches:
            return [(node_id, None, None)]
        if len(branches) > self.collapse_over and node_id not in self.unfold:
            self.collapsed(many_id, ref, branches)
            self.w.edge(node_id, many_id, {"tailport": self.out_port})
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
            if second == branch_ref:
                second = ""
            self.connect([(node_id, None, None)], branch_id, True)
            wt_branch = task.node.wt if task.node is not None else None
            self.box(branch_id, branch_ref, kind, second, branch, head, wt_branch)
            exits.append((branch_id, None, None))
        return exits

    def collapsed(self, node_id: str, ref: str, branches: Mapping[str, list[TaskModel]]) -> None:
        finals = {branch_ref: attempts[-1] for branch_ref, attempts in branches.items()}
        counts = breakdown([str(t.status) for t in finals.values()])
        total = len(finals)
        for status, n in counts:
            self.counts[status] = self.counts.get(status, 0) + n
        parts = [f"{n} {STATUS_SYMBOLS.get(s, '?')} {s}" for s, n in counts]
        names = {str(t.task_def_name) for t in finals.values()}
        what = names.pop() if len(names) == 1 else "dynamic tasks"
        tally = " · ".join(f"{n} {STATUS_SYMBOLS.get(s, '?')}" for s, n in counts)
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
                "label": node_label(
                    f"×{total} {what}: {tally}", f"folded (collapse_over={self.collapse_over})", muted=font_color(main)
                ),
            },
        )

    # ------------------------------------------------------------------ legend
    def legend(self) -> str:
        """The statuses present with their counts, as a row of the title's table ("" when none)."""
        return legend_row(self.counts, self.not_reached)


# ---------------------------------------------------------------------------------------------- entry point
def dot(
    obj: Any,
    *,
    collapse_over: int = DEFAULT_COLLAPSE_OVER,
    expand: Collection[str] = (),
    show_legend: bool = True,
    workflows: Any = None,
    lookup: Any = None,
    rankdir: str = "TB",
    task_defs: Any = None,
) -> str:
    """DOT source of a definition diagram or a run diagram (see :mod:`flowkit.render`).

    Args:
        obj: A WorkflowDef, a WorkflowBuilder, Conductor workflow JSON (dict, text or path), an
            Execution, a WorkflowModel, or Conductor *execution* JSON (a run from a server).
        collapse_over: A dynamic fork with more branches than this is drawn as one "×N" node
            with a status breakdown.
        expand: Dynamic forks drawn unfolded whatever their size, by node id: the fork's
            reference, ``"parent/ref"`` inside the SUB_WORKFLOW task ``parent`` (the folded
            node's id without its ``"/×"``).
        show_legend: Add the legend of the statuses present (run diagrams only).
        workflows: Where SUB_WORKFLOW children are found by name: a mapping ``{name: def}`` or
            ``{(name, version): def}``, a flowkit Registry, a callable ``(name, version)``, or an
            iterable of definitions. Inline children need nothing.
        lookup: Where child executions are found by id: a mapping ``{workflow_id: model}`` or a
            callable such as ``execution.execution``; an Execution uses its own runtime by default.
        rankdir: Graphviz direction, ``"TB"`` (top to bottom) or ``"LR"``.
        task_defs: Task definitions (TaskDef objects, Conductor JSON dicts, or a mapping by name)
            whose retry and timeout policies the nodes mark; a run uses the ones it ran with.

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
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(
            f"rankdir must be 'TB' or 'LR' (or 'BT', 'RL'), got {rankdir!r}; 'auto' needs a layout: "
            "render.svg and render.figure measure both directions"
        )
    heading = title(definition, model)
    writer = Writer(
        definition.name,
        graph={
            "label": heading,
            "labelloc": "t",
            "fontname": FONT,
            "fontsize": REF_SIZE,
            "rankdir": rankdir,
            "nodesep": 0.3,
            "ranksep": 0.3 if rankdir in ("LR", "RL") else 0.35,  # sideways, rank gaps cost width
            "forcelabels": True,
            "tooltip": heading,
        },
        node={"fontname": FONT, "fontsize": REF_SIZE, "margin": "0.14,0.08", "penwidth": 1},
        edge={"fontname": FONT, "fontsize": SMALL_SIZE, "arrowsize": 0.7},
    )
    run_mode = model is not None
    diagram = _Diagram(
        writer,
        collapse_over=collapse_over,
        expand=frozenset((expand,) if isinstance(expand, str) else expand),
        find_def=definition_finder(workflows),
        find_run=run_finder(lookup if lookup is not None else default_lookup, workflows),
        run_mode=run_mode,
        task_defs=task_def_table(task_defs, model),
        rankdir=rankdir,
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
    writer.node("(end)", end_attrs(model))
    diagram.connect(exits, "(end)", ended or not run_mode)
    legend = diagram.legend() if show_legend and run_mode else ""
    lines = "".join(f"<tr><td>{html_escape(line)}</td></tr>" for line in heading.split("\n"))
    lines = lines.replace("<td>", "<td><b>", 1).replace("</td>", "</b></td>", 1)
    writer.graph["label"] = Html(
        f'<table border="0" cellborder="0" cellspacing="0" cellpadding="1">{lines}{legend}</table>'
    )
    return writer.text()
