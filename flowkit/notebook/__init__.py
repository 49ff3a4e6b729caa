"""Notebook views over flowkit executions and definitions (ipywidgets).

    >>> from flowkit.notebook import monitor, inspect, Builder
    >>> run = flowkit.start(wf, {"x": 1}, workers=[...])         # doctest: +SKIP
    >>> monitor(run)          # live: diagram, progress, counters, Pause/Resume/Terminate/Retry/Rerun, HUMAN form;
    ...                       # click a node: its inspector opens below the diagram
    >>> inspect(run)          # one task attempt at a time: input, output (images as thumbnails), logs, traceback
    >>> Builder("orders", workers=[check, ship])   # a workflow step by step, exported as JSON or Python
    >>> preview("out/landscape.webp")   # images as inline PNG: they survive saving and HTML export

The widgets are views: they read the execution and call its operations (``pause``, ``retry``,
``complete_task``...); they never hold workflow state of their own. The builder's state is a
:class:`BuilderModel` (plain Python, no widgets), which can be used and tested on its own.

ipywidgets is imported only when a widget is made: ``BuilderModel`` and ``Place`` work without it.
"""

from __future__ import annotations

from flowkit._lazy import lazy_attributes
from flowkit.notebook.builder import BuilderModel, JsonField, Place, Step, parse_json_object

__all__ = [
    "Builder",
    "BuilderModel",
    "Inspector",
    "JsonField",
    "Monitor",
    "Place",
    "Step",
    "inspect",
    "monitor",
    "parse_json_object",
    "preview",
]

_LAZY = {
    "Monitor": "flowkit.notebook._monitor",
    "monitor": "flowkit.notebook._monitor",
    "Builder": "flowkit.notebook.builder._widget",
    "Inspector": "flowkit.notebook._inspect",
    "inspect": "flowkit.notebook._inspect",
    "preview": "flowkit.notebook._images",
}


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())
