"""Diagrams of workflow definitions and executions: deterministic DOT text, SVG through Graphviz.

    >>> from flowkit import render
    >>> print(render.dot(workflow_def))                       # doctest: +SKIP
    >>> render.svg(execution)                                 # doctest: +SKIP  (None without Graphviz)
    >>> render.repr_mimebundle(execution)                     # doctest: +SKIP  (what a notebook shows)
    >>> render.html(execution, collapse_over=20)              # doctest: +SKIP  (fitted HTML fragment)

What you pass decides what you see:

* a ``WorkflowDef``, a ``WorkflowBuilder`` or Conductor JSON: the **definition diagram**. A black
  dot starts it and a double circle ends it; SIMPLE tasks are rounded boxes, system tasks square
  boxes, TERMINATE an octagon. FORK_JOIN and JOIN are bars, their label in the corner no edge of
  theirs passes (edges meet the bar at a port); SWITCH/DECISION a diamond with one edge per case,
  labelled with the case value ("default" for the default case); DO_WHILE a dashed cluster with a
  back edge labelled with the (shortened) loop condition; SUB_WORKFLOW a box3d node, expanded in a
  cluster when the child is inline or ``workflows=`` knows it (clusters carry no title for edges
  to cross: the node at their top names the child); FORK_JOIN_DYNAMIC a bar followed by a "×N
  dynamic tasks" node.
* every task's label leads with its **reference** in bold; smaller lines follow: the task name
  (left out when it equals the reference) or the system type, then its policy, compactly:
  ``optional``, ``↻3 exp 5s`` (retryCount, retryLogic, retryDelaySeconds), ``timeout 30s``
  (timeoutSeconds), ``resp 30s`` (responseTimeoutSeconds, when not the default), taken from the
  inline ``taskDefinition``, from ``task_defs=``, or in a run from the definitions it ran with. The
  tooltip says the same in Conductor's words.
* an ``Execution``, a ``WorkflowModel``, or Conductor's execution JSON (``Execution.to_json()``,
  or a run fetched from a Conductor server): the **run diagram**, the same shape with every task
  filled by its latest status, a status symbol (colour is never the only clue), the latest
  attempt's duration, the attempt count when retried and "×N iterations" inside loops. Tooltips
  hold the reason, the last attempts, the input and the output (truncated). Nodes not reached are
  white and dashed, as are the edges into them; the case a SWITCH took is drawn bold. A failed
  node shows its reason, shortened (whole in the tooltip), and a failed run's title wraps its
  reason instead of cutting it. A dynamic fork draws one node per branch, or past
  ``collapse_over`` branches (default 10) folds them into one summary node,
  "×6 image_convert_resize: 6 ✔" (or "×N dynamic tasks: ..." for mixed names); ``expand=``
  names forks drawn unfolded whatever their size, and the monitor unfolds one when it is clicked. A legend under the title lists the statuses present, with counts. An
  Execution finds its sub-workflow executions itself; for a WorkflowModel pass ``lookup=``.

====================================  ===========  ======
status                                colour       symbol
====================================  ===========  ======
COMPLETED                             green        ✔
COMPLETED_WITH_ERRORS                 olive        ⚠
FAILED                                red          ✘
FAILED_WITH_TERMINAL_ERROR            dark red     ✘!
TIMED_OUT                             orange       ⏱
CANCELED                              amber        ⊘
IN_PROGRESS                           blue         ▶
SCHEDULED                             light blue   …
SKIPPED                               grey         ↷
not reached                           white        (dashed outline)
====================================  ===========  ======

The colours are :data:`flowkit.history.STATUS_COLORS`, shared with the Gantt timeline (one palette: ``flowkit._palette``).

``dot`` output is deterministic: attributes sorted, node ids built from task references (never
workflow or task ids), so golden files compare exact text with no Graphviz installed. (Reasons,
inputs and outputs in labels and tooltips are shown as they are, ids included.) ``svg`` runs
the first of ``renderers`` it finds (default :data:`DEFAULT_RENDERERS`: ``dot``, then the
pip-installed ``graphviz-pure``) with a 10 s limit and returns None when none works; it never raises
because Graphviz is missing or failing. ``source`` gives the same diagram as a ``graphviz.Source``
(the graphviz package) to save as PDF, PNG or SVG files.

In a notebook (``repr_mimebundle``, ``html``, ``figure``) the diagram **fits the cell**: the SVG
keeps its viewBox, takes the cell's width (never more than its natural size) and is never put in a
scroll box, so every node stays visible; the direction is top to bottom unless the diagram is then
too wide for a 900 px cell and left to right keeps the text larger (``rankdir="auto"``), so text
stays at 10 px or more. A few lines of self-contained JavaScript add zoom buttons, ctrl+wheel zoom
and drag to pan where scripts run; where they do not (an untrusted notebook, a widget) the fitted
SVG is what shows.
"""

from flowkit.render._dot import DEFAULT_COLLAPSE_OVER, dot
from flowkit.render._style import STATUS_SYMBOLS
from flowkit.render._svg import (
    DEFAULT_RENDERERS,
    DEFAULT_TIMEOUT,
    Figure,
    figure,
    find_renderer,
    html,
    repr_mimebundle,
    source,
    summary,
    svg,
    svg_from_dot,
)

__all__ = [
    "DEFAULT_COLLAPSE_OVER",
    "DEFAULT_RENDERERS",
    "DEFAULT_TIMEOUT",
    "Figure",
    "STATUS_SYMBOLS",
    "dot",
    "figure",
    "find_renderer",
    "html",
    "repr_mimebundle",
    "source",
    "summary",
    "svg",
    "svg_from_dot",
]
