"""Notebook views over flowkit executions and definitions (ipywidgets).

    >>> from flowkit.notebook import monitor, inspect, Builder
    >>> run = flowkit.start(wf, {"x": 1}, workers=[...])         # doctest: +SKIP
    >>> monitor(run)          # live: diagram, progress, counters, Pause/Resume/Terminate/Retry/Rerun, HUMAN form
    >>> inspect(run)          # one task attempt at a time: input, output (images as thumbnails), logs, traceback
    >>> Builder("orders", workers=[check, ship])   # a workflow step by step, exported as JSON or Python
    >>> preview("out/landscape.webp")   # images as inline PNG: they survive saving and HTML export

The widgets are views: they read the execution and call its operations (``pause``, ``retry``,
``complete_task``...); they never hold workflow state of their own. The builder's state is a
:class:`BuilderModel` (plain Python, no widgets), which can be used and tested on its own.

ipywidgets is imported only when a widget is made: ``BuilderModel`` and ``Place`` work without it.
"""

from __future__ import annotations

from typing import Any

from flowkit.notebook._model import BuilderModel, JsonField, Place, Step, parse_json_object

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
    "Builder": "flowkit.notebook._builder",
    "Inspector": "flowkit.notebook._inspect",
    "inspect": "flowkit.notebook._inspect",
    "preview": "flowkit.notebook._images",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flowkit.notebook' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
