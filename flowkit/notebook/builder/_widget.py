"""The step-by-step workflow builder widget: a view and editor over a :class:`BuilderModel`."""

from __future__ import annotations

import html
import json
from typing import Any

import ipywidgets as widgets  # type: ignore[import-untyped]

from flowkit.errors import FlowkitError
from flowkit.notebook._diagram import Diagram
from flowkit.notebook.builder._catalogue import setting_spec
from flowkit.notebook.builder._checks import HINT, issues_html
from flowkit.notebook.builder._choice import Choice
from flowkit.notebook.builder._fields import NEW_KEY, InputFields, new_key
from flowkit.notebook.builder._layout import arrange
from flowkit.notebook.builder._model import MODES, BuilderModel, JsonField, Place, parse_json_object
from flowkit.notebook.builder._run import run_placeholder, start_run

__all__ = ["Builder"]

_ERROR_BORDER = "2px solid #d62728"
_NEW_CASE = "new-case"


class Builder(widgets.VBox):  # type: ignore[misc]
    """Build a workflow one task at a time, see it drawn, and export it as Conductor JSON or Python.

    Pick a registered worker or a system task type (and its form: a SWITCH's evaluator, a DECISION's
    case source, a dynamic fork's input form), give its reference and input, choose where it goes
    (after a task, in a fork branch, in a switch case, in a loop), and press Add. A worker's
    parameters each get a field (``*``: required, no default); other input is JSON. The ``${...}``
    references available where the task goes (workflow inputs, earlier tasks' output fields) are
    offered under "use": Insert puts the one picked into the field chosen under "into", which
    follows the field last typed in. The next task goes after the last one placed at the current
    level (a task added into a fork branch picked from the list does not pull the next one in).
    Pick a placed task and press Edit to load its input and setting into the form, change them and
    press Save; Remove drops it. The workflow's outputs are a JSON object of their own, set with Set
    outputs. Undo drops the last step, whatever it was. Input that does not parse, or that a task type
    cannot use, is marked at its field; a step that is not allowed says why under the form and
    changes nothing. Nothing is raised. A drop-down choice reaches the kernel as the label the user
    saw (a :class:`~flowkit.notebook.builder._choice.Choice`): picked from a list the kernel has just
    replaced, it selects that entry or, when no longer offered, nothing. The problems area names each task and field that would fail
    (a required input unset included) before export. Run starts the draft with the builder's workers (on the default store, or
    ``store``) and shows its live monitor below.

    Args:
        name: The workflow's name.
        workers: ``@worker_task`` functions offered as SIMPLE tasks.
        model: An existing :class:`BuilderModel` to edit instead (``name`` and ``workers`` are ignored).
        renderers: Graphviz programs for the diagram (see :func:`flowkit.render.svg`).
        store: Where Run keeps its executions (see :func:`flowkit.start`; default: the default store).

    """

    def __init__(
        self,
        name: str = "workflow",
        workers: Any = None,
        *,
        model: BuilderModel | None = None,
        renderers: Any = None,
        store: Any = None,
        **kwargs: Any,
    ) -> None:
        self.model = model if model is not None else BuilderModel(name, workers)
        self.store = store
        self.execution: Any = None
        """The execution the last Run started (None before)."""
        self.level = Place()
        """The level new tasks go at: the place that adds at its end (see :meth:`BuilderModel.level_of`)."""
        self.editing: str | None = None
        self._setting_default = ""
        self._template_text = ""
        self._quiet = False
        self._diagram = Diagram(renderers=renderers)
        wide = widgets.Layout(width="520px")
        hidden = widgets.Layout(display="none")
        self.name = widgets.Text(value=self.model.name, description="workflow", continuous_update=False)
        self.workflow_inputs = widgets.Text(
            description="inputs",
            placeholder="input names, comma separated",
            value=", ".join(self.model.declared_inputs),
            continuous_update=False,
        )
        self.task_type = Choice(description="task", options=self.model.task_types)
        self.mode = Choice(description="form", layout=widgets.Layout(display="none"))
        self.ref = widgets.Text(description="ref", placeholder="taskReferenceName")
        self.setting = widgets.Text(description="setting", style={"description_width": "initial"})
        self.ref_error = widgets.HTML()
        self.setting_error = widgets.HTML()
        self.place = Choice(description="place", layout=wide)
        self.case = widgets.Text(
            description="case value", placeholder="the new case's value", layout=widgets.Layout(display="none")
        )
        self.fields = InputFields(self._field_typed)
        self.inputs = widgets.Textarea(description="input", layout=widgets.Layout(width="520px", height="110px"))
        self.inputs_error = widgets.HTML()
        self.reference = Choice(description="use", layout=wide)
        self.target = Choice(description="into")
        self.insert_button = widgets.Button(
            description="Insert", icon="plus", tooltip="Put this reference in the field chosen under 'into'"
        )
        self.add_button = widgets.Button(description="Add", icon="plus", button_style="primary")
        self.save_button = widgets.Button(description="Save", icon="check", button_style="primary", layout=hidden)
        self.cancel_button = widgets.Button(description="Cancel", icon="times", layout=widgets.Layout(display="none"))
        self.undo_button = widgets.Button(description="Undo", icon="undo")
        self.json_button = widgets.Button(description="Export JSON", icon="file-code-o")
        self.python_button = widgets.Button(description="Export Python", icon="file-code-o")
        self.task_pick = Choice(description="placed task")
        self.edit_button = widgets.Button(description="Edit", icon="pencil", tooltip="Load this task into the form")
        self.remove_button = widgets.Button(description="Remove", icon="trash", tooltip="Remove it and what it holds")
        self.outputs = widgets.Textarea(
            description="outputs",
            placeholder='{"key": "${task_ref.output.x}"}',
            layout=widgets.Layout(width="520px", height="80px"),
        )
        self.outputs_error = widgets.HTML()
        self.output_reference = Choice(description="use", layout=wide)
        self.output_insert_button = widgets.Button(
            description="Insert", icon="plus", tooltip="Put this reference in the outputs"
        )
        self.outputs_button = widgets.Button(description="Set outputs", icon="check")
        self.run_input = widgets.Textarea(
            description="run input",
            placeholder='{"name": "value"}: the workflow input for Run',
            layout=widgets.Layout(width="520px", height="60px"),
        )
        self.run_button = widgets.Button(
            description="Run", icon="play", button_style="success", tooltip="Run this draft and watch it"
        )
        self.run_error = widgets.HTML()
        self.run_area = widgets.VBox()
        self.run_area.add_class("flowkit-builder-run")
        self.message = widgets.Label()
        self.message.add_class("flowkit-builder-message")
        self.issues = widgets.HTML()
        self.diagram = widgets.HTML()
        self.export = widgets.Textarea(layout=widgets.Layout(width="100%", height="240px", display="none"))

        self.name.observe(self._renamed, names="value")
        self.workflow_inputs.observe(self._inputs_declared, names="value")
        self.task_type.observe(lambda _: self._type_chosen(), names="value")
        self.mode.observe(lambda _: self._mode_chosen(), names="value")
        self.ref.observe(lambda _: self._ref_typed(), names="value")
        self.setting.observe(lambda _: self.check_setting(), names="value")
        self.place.observe(lambda _: self._place_chosen(), names="value")
        self.inputs.observe(lambda _: self._inputs_typed(), names="value")
        self.outputs.observe(lambda _: self.check_outputs(), names="value")
        self.insert_button.on_click(lambda _: self.insert_reference())
        self.output_insert_button.on_click(lambda _: self.insert_output_reference())
        self.add_button.on_click(lambda _: self.add())
        self.save_button.on_click(lambda _: self.save())
        self.cancel_button.on_click(lambda _: self.stop_editing())
        self.edit_button.on_click(lambda _: self.start_editing())
        self.remove_button.on_click(lambda _: self.remove())
        self.outputs_button.on_click(lambda _: self.set_outputs())
        self.undo_button.on_click(lambda _: self.undo())
        self.json_button.on_click(lambda _: self.show_export("json"))
        self.python_button.on_click(lambda _: self.show_export("python"))
        self.run_button.on_click(lambda _: self.run())
        for choice in (self.task_type, self.mode, self.place, self.reference, self.target, self.task_pick):
            choice.on_stale(self._stale)
        self.output_reference.on_stale(self._stale)

        super().__init__(arrange(self), **kwargs)
        self.add_class("flowkit-builder")
        self._show_outputs()
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

    def _kind(self) -> str:
        kind = self.task_type.value or ""
        return kind if kind in self.model.workers else kind.upper()

    def _mode(self) -> str | None:
        return self.mode.value if self._kind() in MODES else None

    def _type_chosen(self) -> None:
        kind = self._kind()
        self._quiet = True
        try:
            if kind in MODES:
                label, choices = MODES[kind]
                self.mode.options, self.mode.value, self.mode.description = choices, choices[0], label
                self.mode.layout.display = ""
            else:
                self.mode.layout.display = "none"
        finally:
            self._quiet = False
        self.ref.placeholder = self.model.suggest_ref(kind) if kind else "taskReferenceName"
        self._fill_defaults(force=True)
        self.check_ref()

    def _mode_chosen(self) -> None:
        if not self._quiet:
            self._fill_defaults(force=False)

    def _fill_defaults(self, *, force: bool) -> None:
        """Offer the type's starting input and setting; without ``force`` only where the user has not typed."""
        kind, mode = self._kind(), self._mode()
        worker = kind in self.model.workers
        if force:
            self.fields.show(self.model.worker_fields(kind) if worker else [])
        self.inputs.description = "more input" if worker else "input"
        self.inputs.layout.height = "50px" if worker else "110px"  # a worker's inputs are its fields
        # A worker's parameters have their fields (an unset one is left out, never null): the JSON is for the rest.
        template = "" if worker else json.dumps(self.model.template(self.task_type.value or "", mode), indent=2)
        if force or self.inputs.value == self._template_text:
            self.inputs.value = template
        self._template_text = template
        self._offer_targets(reset=force)
        spec = setting_spec(kind, mode) if kind not in self.model.workers else None
        self.setting.layout.display = "" if spec else "none"
        if spec:
            self.setting.description = spec[0]
            self._follow_default(force=force)
        else:
            self.check_setting()

    def _follow_default(self, *, force: bool = False) -> None:
        # A default setting that names the task (a loop condition) or depends on the place (an
        # EXCLUSIVE_JOIN's cases) follows them until edited.
        if self.editing is not None:
            return
        kind = self._kind()
        default = self.model.default_setting(
            kind, self.ref.value.strip() or self.ref.placeholder, self._mode(), self.chosen_place()
        )
        if force or self.setting.value == self._setting_default:
            self._setting_default = default
            self.setting.value = default
        self.check_setting()

    def _ref_typed(self) -> None:
        self._follow_default()
        self.check_ref()

    def _place_chosen(self) -> None:
        value = self.place.value
        self.case.layout.display = "" if isinstance(value, tuple) and value[0] == _NEW_CASE else "none"
        if self.editing is None:
            self._offer_references()
            if setting_spec(self._kind(), self._mode()):
                self._follow_default()

    def chosen_place(self) -> Place:
        """Where the form says the next task goes."""
        value = self.place.value
        if isinstance(value, tuple) and value[0] == _NEW_CASE:
            return Place(switch=value[1], case=self.case.value.strip())
        return value if isinstance(value, Place) else Place()

    def _field_typed(self, name: str) -> None:
        # Insert fills the field being edited: the one typed in last.
        self._offer_targets()
        self.target.value = ("field", name)

    def _inputs_typed(self) -> None:
        self.check_inputs()
        self._offer_targets()

    def _offer_targets(self, *, reset: bool = False) -> None:
        self.fields.offer_targets(self.target, parse_json_object(self.inputs.value).value or {}, reset=reset)

    def check_inputs(self) -> JsonField:
        """Parse the input field; mark it and say where when it is not a JSON object. Returns the parsed field."""
        parsed = parse_json_object(self.inputs.value)
        _mark(self.inputs, self.inputs_error, None if parsed.ok else f"input is not valid: {parsed.error}")
        return parsed

    def check_outputs(self) -> JsonField:
        """Parse the workflow outputs field; mark it and say where when it is not a JSON object."""
        parsed = parse_json_object(self.outputs.value)
        _mark(self.outputs, self.outputs_error, None if parsed.ok else f"outputs are not valid: {parsed.error}")
        return parsed

    def check_setting(self) -> str | None:
        """Mark the setting field when the chosen type cannot use it; returns the problem (None: fine)."""
        kind = self._kind()
        problem = None
        if self.setting.layout.display != "none" and kind not in self.model.workers:
            problem = self.model.setting_problem(
                kind, self.setting.value, ref=self.ref.value.strip(), mode=self._mode(), place=self.chosen_place()
            )
        _mark(self.setting, self.setting_error, problem)
        return problem

    def check_ref(self) -> str | None:
        """Mark the reference field when a new task cannot take it; returns the problem (None: fine)."""
        ref = self.ref.value.strip()
        problem = self.model.ref_problem(ref, self._kind()) if ref and self.editing is None else None
        _mark(self.ref, self.ref_error, problem)
        return problem

    def _form(self) -> tuple[dict[str, Any], str | None, str | None] | None:
        """Return the form's input, setting and mode, or None after marking (and saying) what is wrong."""
        parsed = self.check_inputs()
        if not parsed.ok:
            self.say("the input is not a JSON object: fix the marked field", error=True)
            return None
        kind, mode = self._kind(), self._mode()
        setting = self.setting.value if self.setting.layout.display != "none" else None
        problem = self.check_setting()
        if problem:
            self.say(f"setting: {problem}", error=True)
            return None
        inputs = {**dict(parsed.value or {}), **self.fields.values()}
        problem = (
            None if kind in self.model.workers else self.model.input_problem(kind, inputs, setting=setting, mode=mode)
        )
        if problem:
            _mark(self.inputs, self.inputs_error, problem)
            self.say(f"input: {problem}", error=True)
            return None
        return inputs, setting, mode

    # ------------------------------------------------------------------ actions
    def insert_reference(self) -> None:
        """Put the chosen ``${...}`` reference into the field chosen under "into" (the one being edited)."""
        reference, target = self.reference.value, self.target.value
        if not reference:
            return
        if isinstance(target, tuple) and target[0] == "field" and target[1] in self.fields.fields:
            self.fields.fields[target[1]].value = reference
            self.say(f"{target[1]} = {reference}")
            return
        parsed = self.check_inputs()
        key = target[1] if isinstance(target, tuple) and target[0] == "key" else None
        if key is None and target == NEW_KEY:
            # A new key named like an empty field of the worker fills that field instead.
            name = new_key(reference, [])
            if name in self.fields.empty():
                self.target.value = ("field", name)
                self.insert_reference()
                return
            key = new_key(reference, [*(parsed.value or {}), *self.fields.fields])
        self._insert(self.inputs, parsed, reference, "input", key)
        self._offer_targets()

    def insert_output_reference(self) -> None:
        """Put the chosen ``${...}`` reference into the workflow outputs: its first empty value, else a new key."""
        self._insert(self.outputs, self.check_outputs(), self.output_reference.value, "outputs", None)

    def _insert(self, field: Any, parsed: JsonField, reference: str | None, what: str, key: str | None) -> None:
        if not reference:
            return
        if not parsed.ok:
            self.say(f"fix the {what} JSON first, then insert the reference", error=True)
            return
        value = dict(parsed.value or {})
        if key is None:
            key = next((k for k, v in value.items() if v == ""), None) or new_key(reference, list(value))
        value[key] = reference
        field.value = json.dumps(value, indent=2)
        self.say(f"{key} = {reference}")

    def add(self) -> bool:
        """Add the task the form describes; True when added (problems are shown, not raised)."""
        if self.editing is not None:
            self.say(f"editing {self.editing}: Save or Cancel first", error=True)
            return False
        form = self._form()
        if form is None:
            return False
        inputs, setting, mode = form
        place = self.chosen_place()
        if place.switch is not None and place.case == "":
            self.say("give the new case a value", error=True)
            return False
        problem = self.check_ref()
        if problem:
            self.say(problem, error=True)
            return False
        try:
            step = self.model.add(
                self.task_type.value or "",
                self.ref.value.strip() or None,
                inputs=inputs,
                setting=setting,
                place=place,
                mode=mode,
            )
        except FlowkitError as exc:
            self.say(str(exc), error=True)
            return False
        unset = [
            f.name
            for f in (self.model.worker_fields(step.name) if step.task_type == "SIMPLE" else [])
            if f.required and step.inputs.get(f.name) in ("", None)
        ]
        todo = f"; still to set: {', '.join(unset)}" if unset else ""
        self.say(f"added {step.ref} ({step.task_type}) {place.describe()}{todo}", error=bool(unset))
        self.ref.value = ""
        # Step by step: the next task goes after the last one at the level the user chose; a task put in
        # a branch (or case, or loop) picked from the list leaves the level at the branch's fork.
        self.level = self.model.level_of(place)
        self.redraw(place=self.model.next_place(self.level))
        self._type_chosen()
        return True

    def start_editing(self, ref: str | None = None) -> bool:
        """Load the placed task ``ref`` (default: the one picked) into the form, to change and Save."""
        ref = ref or self.task_pick.value
        try:
            step = self.model.task(ref or "")
        except FlowkitError as exc:
            self.say(str(exc) if ref else "there is no task to edit yet", error=True)
            return False
        shown = step.name if step.task_type == "SIMPLE" else step.task_type
        if shown in self.task_type.options:
            self.task_type.value = shown
        self.editing = ref
        if step.mode is not None:
            self.mode.value = step.mode
        self.setting.value = step.setting or ""
        inputs = dict(step.inputs)
        if step.task_type == "SIMPLE" and step.name in self.model.workers:
            self.fields.show(self.model.worker_fields(step.name), inputs)
            inputs = {k: v for k, v in inputs.items() if k not in self.fields.fields}
            self.inputs.value = json.dumps(inputs, indent=2) if inputs else ""
        else:
            self.inputs.value = json.dumps(inputs, indent=2)
        self._offer_targets(reset=True)
        self.ref.value = step.ref
        for field in (self.task_type, self.ref, self.place, self.case):
            field.disabled = True
        self.add_button.layout.display = "none"
        self.save_button.layout.display = self.cancel_button.layout.display = ""
        self._offer(self.reference, self.model.references(of=ref))
        self.check_ref()
        self.check_setting()
        self.say(f"editing {ref} ({step.task_type}): change its input or setting, then Save")
        return True

    def save(self) -> bool:
        """Save the edited task's input, setting and form; True when saved (problems are shown, not raised)."""
        ref = self.editing
        if ref is None:
            self.say("pick a placed task and press Edit first", error=True)
            return False
        form = self._form()
        if form is None:
            return False
        inputs, setting, mode = form
        try:
            self.model.edit(ref, inputs=inputs, setting=setting, mode=mode)
        except FlowkitError as exc:
            self.say(str(exc), error=True)
            return False
        self.stop_editing()
        self.say(f"edited {ref}")
        self.redraw()
        return True

    def stop_editing(self) -> None:
        """Leave the edit (unsaved changes are dropped); the form adds new tasks again."""
        if self.editing is None:
            return
        self.editing = None
        for field in (self.task_type, self.ref, self.place, self.case):
            field.disabled = False
        self.add_button.layout.display = ""
        self.save_button.layout.display = self.cancel_button.layout.display = "none"
        self.ref.value = ""
        self._type_chosen()
        self._place_chosen()
        self.say("")

    def remove(self, ref: str | None = None) -> bool:
        """Remove the placed task ``ref`` (default: the one picked) and what it holds. Undo brings it back."""
        ref = ref or self.task_pick.value
        try:
            self.model.remove(ref or "")
        except FlowkitError as exc:
            self.say(str(exc) if ref else "there is no task to remove", error=True)
            return False
        if self.editing == ref:
            self.stop_editing()
        self.say(f"removed {ref}")
        self.redraw()
        return True

    def set_outputs(self) -> bool:
        """Set the workflow's outputParameters from the outputs field; True when set."""
        parsed = self.check_outputs()
        if not parsed.ok:
            self.say("the outputs are not a JSON object: fix the marked field", error=True)
            return False
        if parsed.value == self.model.outputs:
            self.say("the workflow outputs are already these", error=True)
            return False
        self.model.set_outputs(parsed.value or {})
        self.say(f"workflow outputs: {', '.join(self.model.outputs) or 'none (the last task output)'}")
        self.redraw()
        return True

    def undo(self) -> None:
        """Undo the last step."""
        step = self.model.undo()
        self.say(f"undid: {step.action} {step.ref}".rstrip() if step else "nothing to undo", error=step is None)
        if step is not None and step.action == "outputs":
            self._show_outputs()
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
        count = len(self.model.issues())
        if count:
            self.say(f"exported with {count} problem(s), listed above: it will fail until they are fixed", error=True)
        else:
            self.say(f"exported as {'Conductor JSON' if what == 'json' else 'Python'}: no problems found")
        return text

    def run(self) -> Any:
        """Run the draft with the builder's workers and show its live monitor; returns the execution.

        A draft with problems, or a run input that is not a JSON object or lacks a declared workflow
        input, is not run: the message says why (None is returned).
        """
        started = start_run(self.model, self.run_input.value, self.store)
        _mark(self.run_input, self.run_error, started.field)
        if started.execution is None:
            self.say(started.problem or "cannot run", error=True)
            return None
        from flowkit.notebook import monitor

        self.execution = started.execution
        self.run_area.children = (monitor(self.execution),)
        self.say(f"running {self.model.name}: workflow {self.execution.workflow_id}")
        return self.execution

    def _stale(self, label: str) -> None:
        # The page chose from a list the kernel had already replaced: nothing was applied.
        self.say(f"{label!r} is no longer offered here: choose again", error=True)

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
        if keep not in values:
            keep = self.model.next_place(self.level)
            if keep not in values:
                self.level, keep = Place(), values[0]
        self.place.value = keep
        self._place_chosen()
        self._offer(self.task_pick, self.model.editable())
        self.run_input.placeholder = run_placeholder(self.model)
        self._offer(self.output_reference, self.model.references())
        self.issues.value = issues_html(self.model.issues()) if self.model.refs() else HINT
        try:
            self.diagram.value = self._diagram.html(self.model.definition())
        except Exception as exc:  # noqa: BLE001 - a view shows the problem instead of failing
            self.diagram.value = f"<i>no diagram: {html.escape(str(exc))}</i>"
        if self.export.layout.display != "none":
            self.export.layout.display = "none"

    def _show_outputs(self) -> None:
        outputs = self.model.outputs
        self.outputs.value = json.dumps(outputs, indent=2) if outputs else ""

    def _offer_references(self) -> None:
        self._offer(self.reference, self.model.references(self.chosen_place()))

    @staticmethod
    def _offer(dropdown: Any, options: list[str]) -> None:
        keep = dropdown.value
        dropdown.options = options
        dropdown.value = keep if keep in options else (options[0] if options else None)


def _mark(field: Any, note: Any, problem: str | None) -> None:
    """Mark ``field`` (a red border) and say ``problem`` in ``note``; clear both when there is none."""
    field.layout.border = _ERROR_BORDER if problem else None
    note.value = (
        f"<span class='flowkit-field-error' style='color:#d62728'>{html.escape(problem)}</span>" if problem else ""
    )
