"""The monitor's diagram as a widget that tells Python which node was clicked.

A plain ``ipywidgets.HTML`` cannot report a click. This is an anywidget (a widget model whose
front end is the small ES module below, loaded by anywidget's JupyterLab, Notebook and Voila
extension): it shows the fitted SVG and, on a click on a Graphviz node (``g.node``), sends that
node's id (its ``<title>``, built from task references by :func:`flowkit.render.dot`) back to
the kernel as a custom message.

The same module keeps a saved notebook readable: see ``guardSaves`` (JupyterLab writes a monitor's
output as its static result, never as a widget view whose model a reopened page cannot find).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anywidget
import traitlets

from flowkit.errors import FlowkitError

__all__ = ["DiagramView", "resolve_node"]

_ESM = """
const VIEW = "application/vnd.jupyter.widget-view+json";

// JupyterLab saves a notebook without its widgets' state (the default): reopened, a widget view
// whose model is gone shows "Error displaying widget: model not found" and never falls back to the
// output's text/html. So when this notebook is saved, a monitor's output is written as its static
// result only (the summary and the diagram it carries as text/html); the page keeps the live widget.
function guardSaves(manager) {
  const context = manager && manager.context;
  const notebook = context && context.model;
  if (!notebook || typeof notebook.toJSON !== "function" || notebook.__flowkitSaves) return;
  notebook.__flowkitSaves = true;
  const toJSON = notebook.toJSON.bind(notebook);
  notebook.toJSON = () => {
    const json = toJSON();
    for (const cell of (json && json.cells) || []) {
      if (!Array.isArray(cell.outputs)) continue;
      cell.outputs = cell.outputs.map((output) => {
        const data = output && output.data;
        const html = data && data["text/html"];
        if (!data || !data[VIEW] || typeof html !== "string" && !Array.isArray(html)) return output;
        if (![].concat(html).join("").includes("flowkit-result")) return output;
        const kept = Object.assign({}, data);
        delete kept[VIEW];
        return Object.assign({}, output, { data: kept });
      });
    }
    return json;
  };
}

function render({ model, el }) {
  el.classList.add("flowkit-diagram-view");
  try { guardSaves(model.widget_manager); } catch (error) { console.warn("flowkit:", error); }
  const show = () => {
    el.innerHTML = model.get("value");
    for (const node of el.querySelectorAll("g.node")) {
      const title = node.querySelector("title");
      const id = title ? title.textContent : "";
      if (id === "(start)" || id === "(end)") continue;
      node.style.cursor = "pointer";
      node.dataset.flowkitNode = id;
    }
  };
  const click = (event) => {
    const node = event.target.closest && event.target.closest("g.node[data-flowkit-node]");
    if (!node || !el.contains(node)) return;
    event.preventDefault();
    model.send({ event: "click", node: node.dataset.flowkitNode });
  };
  show();
  model.on("change:value", show);
  el.addEventListener("click", click);
  return () => {
    model.off("change:value", show);
    el.removeEventListener("click", click);
  };
}
export default { render };
"""


class DiagramView(anywidget.AnyWidget):
    """An HTML fragment (the fitted diagram) whose Graphviz nodes can be clicked.

    ``on_node_click(callback)`` registers ``callback(node_id)``; :meth:`click` does what a click
    in the browser does (tests, scripts).
    """

    _esm = _ESM
    value = traitlets.Unicode("").tag(sync=True)
    """The HTML shown (like ``ipywidgets.HTML.value``)."""

    def __init__(self, value: str = "", **kwargs: Any) -> None:
        super().__init__(value=value, **kwargs)
        self._callbacks: list[Callable[[str], None]] = []
        self.on_msg(self._received)

    def on_node_click(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(node_id)`` when a node is clicked (node ids as :func:`flowkit.render.dot` writes them)."""
        self._callbacks.append(callback)

    def click(self, node_id: str) -> None:
        """Act as if the node ``node_id`` was clicked."""
        for callback in list(self._callbacks):
            callback(node_id)

    def _received(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("event") == "click" and isinstance(content.get("node"), str):
            self.click(content["node"])


def resolve_node(execution: Any, node_id: str) -> tuple[Any, str] | None:
    """The execution and task reference a diagram node stands for, or None (start, end, unknown).

    Node ids are paths of references (:func:`flowkit.render.dot`): ``ref``, ``fork/branch_ref``
    for a dynamic fork's branch (in the same execution), ``sub/ref`` for a task of the child run
    of SUB_WORKFLOW task ``sub``. A task inside a DO_WHILE is found by its latest iteration
    (``ref__N``).
    """
    *path, last = node_id.split("/")
    for part in path:
        task = _latest(execution, part)
        if task is not None and str(task.task_type) == "SUB_WORKFLOW" and task.sub_workflow_id:
            try:
                execution = execution.sub_workflow(task.ref)
            except FlowkitError:
                return None
    task = _latest(execution, last)
    return (execution, task.ref) if task is not None else None


def _latest(execution: Any, ref: str) -> Any:
    found = None
    for task in list(execution.tasks):
        if task.ref == ref or (task.ref.startswith(ref + "__") and task.ref[len(ref) + 2 :].isdigit()):
            found = task
    return found
