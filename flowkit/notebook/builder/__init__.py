"""The step-by-step workflow builder: a model (plain Python, no widgets) and the widget over it.

``_model`` (:class:`BuilderModel`: the steps, undo, checks), ``_steps`` (a step, where a new task goes,
a JSON field), ``_catalogue`` (the task types offered and the :class:`flowkit.WorkflowBuilder` calls
each makes) and ``_widget`` (:class:`Builder`, the ipywidgets view, imported on first use).
"""

from __future__ import annotations

from flowkit._lazy import lazy_attributes
from flowkit.notebook.builder._model import BuilderModel
from flowkit.notebook.builder._steps import JsonField, Place, Step, parse_json_object

__all__ = ["Builder", "BuilderModel", "JsonField", "Place", "Step", "parse_json_object"]

_LAZY = {"Builder": "flowkit.notebook.builder._widget"}

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())
