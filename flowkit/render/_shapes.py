"""The diagram's small parts: fills, the muted text colour, bar-label wrapping, the legend, the end node."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flowkit.definitions import WorkflowTask
from flowkit.render._labels import SMALL_SIZE
from flowkit.render._style import NOT_REACHED, STATUS_ORDER, STATUS_SYMBOLS, fill, font_color, html_escape

if TYPE_CHECKING:
    from flowkit.engine import WorkflowModel
    from flowkit.render._run import Cell

__all__ = [
    "BAR_FILL",
    "DEF_FILL",
    "FADED",
    "MUTED",
    "SYSTEM_FILL",
    "Pred",
    "end_attrs",
    "faded",
    "joined",
    "legend_row",
    "muted",
    "taken_case",
    "with_style",
    "wrap_ref",
]

DEF_FILL = "#ffffff"
SYSTEM_FILL = "#f2f2f2"
BAR_FILL = "#222222"
FADED = "#9a9a9a"
MUTED = "#555555"  # secondary text on a light fill
_LEGEND_ROW = 4  # statuses per row of the legend

Pred = tuple[str, str | None, bool | None]  # (tail node id, edge label, case taken? None = not a run case edge)


def legend_row(counts: Mapping[str, int], not_reached: bool) -> str:
    """The statuses present with their counts, as a row of the title's table ("" when none).

    It goes under the title, not into the graph: a legend node would widen a sideways diagram.
    Each status has its colour swatch and its symbol, so colour is never the only clue.
    """
    items = []
    for status in sorted(counts, key=lambda s: (STATUS_ORDER.index(s) if s in STATUS_ORDER else 99, s)):
        items.append(
            f'<font color="{fill(status)}">■</font> {html_escape(STATUS_SYMBOLS.get(status, "?"))} '
            f"{html_escape(status)} {counts[status]}"
        )
    if not_reached:
        items.append(f'<font color="{FADED}">□</font> {NOT_REACHED}')
    if not items:
        return ""
    rows = "<br/>".join("   ".join(items[i : i + _LEGEND_ROW]) for i in range(0, len(items), _LEGEND_ROW))
    return f'<tr><td><font point-size="{SMALL_SIZE}">{rows}</font></td></tr>'


def with_style(style: str | None, add: str, drop: str | None = None) -> str:
    parts = [p for p in (style or "").split(",") if p and p != drop and p != add]
    return ",".join([*parts, add])


def muted(attrs: Mapping[str, Any]) -> str:
    """The colour of a node's secondary lines: grey on a plain node, the text colour on a status fill."""
    if attrs.get("fontcolor") in ("white", "black") and attrs.get("fillcolor") not in (DEF_FILL, SYSTEM_FILL):
        return str(attrs["fontcolor"])
    return MUTED


def wrap_ref(text: str, width: int = 15) -> list[str]:
    """Break a long reference after underscores, so an upright bar's label stays narrow."""
    lines: list[str] = []
    line = ""
    for piece in re.findall(r"[^_]*_|[^_]+$", text):
        if line and len(line) + len(piece) > width:
            lines.append(line)
            line = ""
        line += piece
    return [*lines, line] if line else lines


def faded() -> dict[str, Any]:
    return {"style": "dashed", "color": FADED}


def joined(groups: list[tuple[str | None, list[Pred]]], join_on: tuple[str, ...]) -> list[Pred]:
    """Return the branch ends a JOIN waits for; branches it does not name end where they are, as in Conductor."""
    wanted = [exits for last, exits in groups if last is None or last in join_on]
    if not join_on or len(wanted) == 0:
        wanted = [exits for _, exits in groups]
    return [p for exits in wanted for p in exits]


def taken_case(wt: WorkflowTask, cell: Cell | None) -> str | None:
    if cell is None or cell.status != "COMPLETED":
        return None
    output = cell.final.output or {}
    selected = output.get("selectedCase")
    for key in ("evaluationResult", "caseOutput"):  # SWITCH, DECISION
        result = output.get(key)
        if selected is None and isinstance(result, list) and result:
            selected = result[0]
    return str(selected) if selected is not None and str(selected) in wt.decision_cases else "default"


def end_attrs(model: WorkflowModel | None) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "shape": "doublecircle",
        "label": "end",
        "width": 0.35,
        "fixedsize": True,
        "style": "filled",
        "fillcolor": "#ffffff",
        "fontsize": SMALL_SIZE,
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
        attrs.update(style="dashed", color=FADED, tooltip=f"workflow {status}")
    return attrs
