"""Where the builder's controls sit, and the stable CSS classes a page's styles and scripts use."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets  # type: ignore[import-untyped]

__all__ = ["PARTS", "arrange"]

PARTS = (  # each gets the class flowkit-builder-<part, with dashes>
    "name workflow_inputs task_type mode ref setting place case inputs reference target insert_button add_button "
    "undo_button json_button python_button task_pick edit_button remove_button outputs output_reference "
    "output_insert_button outputs_button run_input run_button export diagram"
).split()


def arrange(b: Any) -> list[Any]:
    """The builder ``b``'s children: the form, then its issues, diagram, export and run areas.

    Also gives each control in :data:`PARTS` its ``flowkit-builder-<part>`` class (the browser tests
    and a page's scripts find the controls by it).
    """
    form = widgets.VBox(
        [
            widgets.HBox([b.name, b.workflow_inputs]),
            widgets.HBox([b.task_pick, b.edit_button, b.remove_button]),
            widgets.HBox([b.task_type, b.mode, b.ref, b.setting]),
            widgets.HBox([b.ref_error, b.setting_error]),
            widgets.HBox([b.place, b.case]),
            b.fields,
            b.inputs,
            b.inputs_error,
            widgets.HBox([b.reference, b.target, b.insert_button]),
            widgets.HBox([b.add_button, b.save_button, b.cancel_button, b.undo_button, b.json_button, b.python_button]),
            b.message,
            b.outputs,
            b.outputs_error,
            widgets.HBox([b.output_reference, b.output_insert_button, b.outputs_button]),
            widgets.HBox([b.run_input, b.run_button]),
            b.run_error,
        ]
    )
    for part in PARTS:
        getattr(b, part).add_class(f"flowkit-builder-{part.replace('_', '-')}")
    return [form, b.issues, b.diagram, b.export, b.run_area]
