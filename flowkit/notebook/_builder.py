"""The step-by-step workflow builder widget: a view and editor over a :class:`BuilderModel`."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import ipywidgets as widgets  # type: ignore[import-untyped]

from flowkit.errors import FlowkitError
from flowkit.notebook._diagram import Diagram
from flowkit.notebook._model import SETTINGS, BuilderModel, Place, parse_json_object

__all__ = ["Builder"]

_ERROR_BORDER = "2px solid #d62728"
_NEW_CASE = "new-case"
_LAST_PART = re.compile(r"([A-Za-z_]\w*)\}$")


class Builder(widgets.VBox):  # type: ignore[misc]
    """Build a workflow one task at a time, see it drawn, and export it as Conductor JSON or Python.

    Pick a registered worker or a system task type, give its reference and input (JSON; the
    ``${...}`` references available where the task goes are offered), choose where it goes (after
    a task, in a fork branch, in a switch case, in a loop), and press Add. Undo drops the last step.
    Problems are listed under the form (the definition's validation issues; input that is not JSON
    is marked at the field) and never raised.

    Args:
        name: The workflow's name.
        workers: ``@worker_task`` functions offered as SIMPLE tasks.
        model: An existing :class:`BuilderModel` to edit instead (``name`` and ``workers`` are ignored).
        renderers: Graphviz programs for the diagram (see :func:`flowkit.render.svg`).

    """

    def __init__(self, name: str = "workflow", workers: Any = None, *, model: BuilderModel | None = None,
                 renderers: Any = None, **kwargs: Any) -> None:  # fmt: skip
        self.model = model if model is not None else BuilderModel(name, workers)
        self._setting_default = ""
        self._diagram = Diagram(renderers=renderers)
        wide = widgets.Layout(width="520px")
        self.name = widgets.Text(value=self.model.name, description="workflow", continuous_update=False)
        self.workflow_inputs = widgets.Text(description="inputs", placeholder="input names, comma separated",
                                            continuous_update=False)  # fmt: skip
        self.task_type = widgets.Dropdown(description="task", options=self.model.task_types)
        self.ref = widgets.Text(description="ref", placeholder="taskReferenceName")
        self.setting = widgets.Text(description="setting", style={"description_width": "initial"})
        self.place = widgets.Dropdown(description="place", layout=wide)
        self.case = widgets.Text(description="case value", placeholder="the new case's value",
                                 layout=widgets.Layout(display="none"))  # fmt: skip
        self.inputs = widgets.Textarea(description="input", layout=widgets.Layout(width="520px", height="110px"))
        self.inputs_error = widgets.HTML()
        self.reference = widgets.Dropdown(description="use", layout=wide)
        self.insert_button = widgets.Button(
            description="Insert", icon="plus", tooltip="Put this reference in the input"
        )
        self.add_button = widgets.Button(description="Add", icon="plus", button_style="primary")
        self.undo_button = widgets.Button(description="Undo", icon="undo")
        self.json_button = widgets.Button(description="Export JSON", icon="file-code-o")
        self.python_button = widgets.Button(description="Export Python", icon="file-code-o")
        self.message = widgets.Label()
        self.issues = widgets.HTML()
        self.diagram = widgets.HTML()
        self.export = widgets.Textarea(layout=widgets.Layout(width="100%", height="240px", display="none"))

        self.name.observe(self._renamed, names="value")
        self.workflow_inputs.observe(self._inputs_declared, names="value")
        self.task_type.observe(lambda _: self._type_chosen(), names="value")
        self.ref.observe(lambda _: self._ref_typed(), names="value")
        self.place.observe(lambda _: self._place_chosen(), names="value")
        self.inputs.observe(lambda _: self.check_inputs(), names="value")
        self.insert_button.on_click(lambda _: self.insert_reference())
        self.add_button.on_click(lambda _: self.add())
        self.undo_button.on_click(lambda _: self.undo())
        self.json_button.on_click(lambda _: self.show_export("json"))
        self.python_button.on_click(lambda _: self.show_export("python"))

        form = widgets.VBox([
            widgets.HBox([self.name, self.workflow_inputs]),
            widgets.HBox([self.task_type, self.ref, self.setting]),
            widgets.HBox([self.place, self.case]),
            self.inputs, self.inputs_error,
            widgets.HBox([self.reference, self.insert_button]),
            widgets.HBox([self.add_button, self.undo_button, self.json_button, self.python_button]),
            self.message,
        ])  # fmt: skip
        super().__init__([form, self.issues, self.diagram, self.export], **kwargs)
        self.add_class("flowkit-builder")
        self._type_chosen()
        self.redraw()

    # ------------------------------------------------------------------ reading the form
    def _renamed(self, change: Any) -> None:
        self.model.name = change["new"].strip() or self.model.name
        self.redraw()

    def _inputs_declared(self, change: Any) -> None:
        names = [n for n in change["new"].split(",") if n.strip()]
        if tuple(n.strip() for n in names) != self.model.declared_inputs:
            self.model.set_inputs(names)
            self.redraw()

    def _type_chosen(self) -> None:
        kind = self.task_type.value or ""
        self.inputs.value = json.dumps(self.model.template(kind), indent=2)
        self.ref.placeholder = self.model.suggest_ref(kind) if kind else "taskReferenceName"
        setting = SETTINGS.get(kind)
        self.setting.layout.display = "" if setting else "none"
        if setting:
            self.setting.description = setting[0]
            self._setting_default = setting[1].replace("{ref}", self.ref.value.strip() or self.ref.placeholder)
            self.setting.value = self._setting_default

    def _ref_typed(self) -> None:
        # A default setting that names the task (a loop condition) follows its reference until edited.
        setting = SETTINGS.get(self.task_type.value or "")
        if setting and self.setting.value == self._setting_default:
            self._setting_default = setting[1].replace("{ref}", self.ref.value.strip() or self.ref.placeholder)
            self.setting.value = self._setting_default

    def _place_chosen(self) -> None:
        value = self.place.value
        self.case.layout.display = "" if isinstance(value, tuple) and value[0] == _NEW_CASE else "none"
        self._offer_references()

    def chosen_place(self) -> Place:
        """Where the form says the next task goes."""
        value = self.place.value
        if isinstance(value, tuple) and value[0] == _NEW_CASE:
            return Place(switch=value[1], case=self.case.value.strip())
        return value if isinstance(value, Place) else Place()

    def check_inputs(self) -> Any:
        """Parse the input field; mark it and say where when it is not a JSON object. Returns the parsed field."""
        parsed = parse_json_object(self.inputs.value)
        if parsed.ok:
            self.inputs.layout.border = None
            self.inputs_error.value = ""
        else:
            self.inputs.layout.border = _ERROR_BORDER
            self.inputs_error.value = (
                f"<span class='flowkit-field-error' style='color:#d62728'>input is not valid: "
                f"{html.escape(parsed.error or '')}</span>"
            )
        return parsed

    # ------------------------------------------------------------------ actions
    def insert_reference(self) -> None:
        """Put the chosen ``${...}`` reference into the input: into the first empty value, else under a new key."""
        reference = self.reference.value
        parsed = self.check_inputs()
        if not reference:
            return
        if not parsed.ok:
            self.say("fix the input JSON first, then insert the reference", error=True)
            return
        value = dict(parsed.value or {})
        empty = next((k for k, v in value.items() if v == ""), None)
        if empty is None:
            match = _LAST_PART.search(reference)
            base = empty = match.group(1) if match else "value"
            n = 1
            while empty in value:
                n += 1
                empty = f"{base}_{n}"
        value[empty] = reference
        self.inputs.value = json.dumps(value, indent=2)
        self.say(f"{empty} = {reference}")

    def add(self) -> bool:
        """Add the task the form describes; True when added (problems are shown, not raised)."""
        parsed = self.check_inputs()
        if not parsed.ok:
            self.say("the input is not a JSON object: fix the marked field", error=True)
            return False
        place = self.chosen_place()
        if place.switch is not None and place.case == "":
            self.say("give the new case a value", error=True)
            return False
        kind = self.task_type.value or ""
        setting = self.setting.value if kind in SETTINGS else None
        try:
            step = self.model.add(
                kind, self.ref.value.strip() or None, inputs=parsed.value, setting=setting, place=place
            )
        except FlowkitError as exc:
            self.say(str(exc), error=True)
            return False
        self.say(f"added {step.ref} ({step.task_type}) {place.describe()}")
        self.ref.value = ""
        self._type_chosen()
        self.redraw(place=Place(after=step.ref))  # step by step: the next task goes after this one
        return True

    def undo(self) -> None:
        """Undo the last step."""
        step = self.model.undo()
        self.say(f"undid: {step.action} {step.ref}".rstrip() if step else "nothing to undo", error=step is None)
        self.redraw()

    def show_export(self, what: str) -> str:
        """Show (and return) the workflow as Conductor JSON (``"json"``) or Python builder code (``"python"``)."""
        try:
            text = json.dumps(self.model.to_json(), indent=2) if what == "json" else self.model.to_python()
        except Exception as exc:  # noqa: BLE001 - shown, not raised
            self.say(f"cannot export: {exc}", error=True)
            return ""
        self.export.value = text
        self.export.layout.display = ""
        return text

    def say(self, text: str, *, error: bool = False) -> None:
        """Show ``text`` under the form."""
        self.message.value = text
        self.message.style.text_color = "#d62728" if error else "#2a6f2a"

    # ------------------------------------------------------------------ drawing
    def redraw(self, *, place: Any = None) -> None:
        """Show the model as it is now: places, references, issues and the diagram (``place``: choose it)."""
        keep = self.place.value if place is None else place
        options: list[tuple[str, Any]] = list(self.model.places())
        options += [(f"in a new case of {ref}…", (_NEW_CASE, ref)) for ref in self.model.switches()]
        self.place.options = options
        values = [v for _, v in options]
        self.place.value = keep if keep in values else values[0]
        self._place_chosen()
        issues = self.model.issues()
        if issues:
            items = "".join(
                f"<li data-ref='{html.escape(i.task_ref_name or '')}'><b>{html.escape(i.where)}</b>: "
                f"{html.escape(i.problem)} <i>Fix: {html.escape(i.fix)}</i></li>"
                for i in issues
            )
            self.issues.value = (
                f"<div class='flowkit-issues' style='color:#8b0000'>{len(issues)} problem(s):<ul>{items}</ul></div>"
            )
        else:
            self.issues.value = "<div class='flowkit-issues' style='color:#2a6f2a'>no problems</div>"
        try:
            self.diagram.value = self._diagram.html(self.model.definition())
        except Exception as exc:  # noqa: BLE001 - a view shows the problem instead of failing
            self.diagram.value = f"<i>no diagram: {html.escape(str(exc))}</i>"
        if self.export.layout.display != "none":
            self.export.layout.display = "none"

    def _offer_references(self) -> None:
        refs = self.model.references(self.chosen_place())
        keep = self.reference.value
        self.reference.options = refs
        self.reference.value = keep if keep in refs else (refs[0] if refs else None)
