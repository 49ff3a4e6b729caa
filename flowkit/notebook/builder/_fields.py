"""The builder's input fields: one text field per worker parameter, and the "into" choice for Insert.

A field's text is read as JSON when it parses (``300``, ``true``, ``["a"]``, ``"300"`` for the
string) and as plain text otherwise (``webp``, ``${resize_ref.output.fileLocation}``); an empty
field is unset (left out of the task input, never ``null``). Required parameters (no default) are
marked with ``*`` and their placeholder says ``required``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ipywidgets as widgets  # type: ignore[import-untyped]

from flowkit.notebook.builder._catalogue import WorkerField

__all__ = ["NEW_KEY", "InputFields", "field_text", "field_value", "new_key"]

NEW_KEY = ("new", "")
"""The "into" choice that adds the reference under a new key (named after its last part)."""

_UNSET: Any = object()
_LAST_PART = re.compile(r"([A-Za-z_]\w*)\}$")


def field_value(text: str) -> Any:
    """Read a field's text: JSON when it parses, else the text itself; ``_UNSET`` when empty."""
    stripped = text.strip()
    if not stripped:
        return _UNSET
    try:
        return json.loads(stripped)
    except ValueError:
        return stripped


def field_text(value: Any) -> str:
    """Write ``value`` as a field shows it (the reverse of :func:`field_value`)."""
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            return value  # plain text reads back as itself
        return json.dumps(value)  # "300" stays a string
    return json.dumps(value)


def new_key(reference: str, taken: Sequence[str]) -> str:
    """A key for ``reference`` under "a new key": its last part, numbered when taken."""
    match = _LAST_PART.search(reference)
    base = key = match.group(1) if match else "value"
    n = 1
    while key in taken:
        n += 1
        key = f"{base}_{n}"
    return key


class InputFields(widgets.VBox):  # type: ignore[misc]
    """One text field per worker parameter; ``changed(name)`` is called when the user types in one."""

    def __init__(self, changed: Callable[[str], None]) -> None:
        super().__init__()
        self.add_class("flowkit-input-fields")
        self.specs: list[WorkerField] = []
        self.fields: dict[str, Any] = {}
        self._changed = changed
        self._loading = False

    def show(self, specs: Sequence[WorkerField], values: Mapping[str, Any] | None = None) -> None:
        """Show a field for each of ``specs`` (empty: none), filled from ``values``."""
        self.specs = list(specs)
        self.fields = {}
        rows = []
        for spec in self.specs:
            field = widgets.Text(
                description=f"{spec.name} *" if spec.required else spec.name,
                placeholder=spec.hint(),
                style={"description_width": "150px"},  # one column of labels, the longest names fit
                layout=widgets.Layout(width="520px"),
            )
            field.add_class(f"flowkit-field-{spec.name}")
            field.add_class("flowkit-required" if spec.required else "flowkit-optional")
            field.observe(lambda _, name=spec.name: self._typed(name), names="value")
            self.fields[spec.name] = field
            rows.append(field)
        self.children = rows
        self.load(values or {})

    def _typed(self, name: str) -> None:
        if not self._loading:
            self._changed(name)

    def load(self, values: Mapping[str, Any]) -> None:
        """Put ``values`` in the fields (a field not in ``values`` is emptied)."""
        self._loading = True
        try:
            for name, field in self.fields.items():
                field.value = field_text(values[name]) if name in values else ""
        finally:
            self._loading = False

    def values(self) -> dict[str, Any]:
        """The fields that are set, read (see :func:`field_value`)."""
        out = {}
        for name, field in self.fields.items():
            value = field_value(field.value)
            if value is not _UNSET:
                out[name] = value
        return out

    def empty(self) -> list[str]:
        """The names of the empty fields, required ones first."""
        blank = [s for s in self.specs if not self.fields[s.name].value.strip()]
        return [s.name for s in blank if s.required] + [s.name for s in blank if not s.required]

    def targets(self, keys: Sequence[str]) -> list[tuple[str, tuple[str, str]]]:
        """The "into" choices: each field, each other key of the JSON input, then a new key."""
        out = [(f"{s.name} *" if s.required else s.name, ("field", s.name)) for s in self.specs]
        out += [(f"{key} (JSON)", ("key", key)) for key in keys if key not in self.fields]
        return [*out, ("a new key", NEW_KEY)]

    def offer_targets(self, dropdown: Any, value: Mapping[str, Any], *, reset: bool = False) -> None:
        """Offer in ``dropdown`` the fields and the keys of ``value`` (the JSON input) Insert can fill.

        The choice is kept, else (or with ``reset``) the first empty field, required ones first, else
        the first key of ``value`` whose value is ``""``.
        """
        options = self.targets(list(value))
        keep = None if reset else dropdown.value
        choices = [v for _, v in options]
        if keep not in choices:
            empty = self.empty()
            blank = [k for k, v in value.items() if v == "" and k not in self.fields]
            keep = ("field", empty[0]) if empty else ("key", blank[0]) if blank else choices[0]
        if tuple(options) != tuple(dropdown.options):  # typing in a field must not resend them at each key
            dropdown.options = options
        dropdown.value = keep
