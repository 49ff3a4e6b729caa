"""The builder's drop-down lists: a choice travels between browser and kernel as its label, never an index.

An ``ipywidgets.Dropdown`` sends the browser's selection as a position in the list. When the kernel
changes the options (the references after a "place" choice, the "into" choices after typing in a
field) a click made before the new list reached the page picks a position in the OLD list, and the
kernel applies that position to the NEW one: the wrong reference is inserted, or nothing.

:class:`Choice` is an anywidget (a widget model whose front end is the small ES module below) that
shows a ``<select>`` and sends the label the user saw, as a custom message. The kernel alone writes
the selection: a label still offered selects that entry (whatever its position now); a label no
longer offered changes nothing, is answered as stale, and the page shows the kernel's selection
again. While a choice awaits the kernel's answer the widget carries ``data-flowkit-pending``.
Labels are unique in a list (as an ipywidgets drop-down's must be to be told apart).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import anywidget
import traitlets

__all__ = ["Choice"]

_ESM = """
function render({ model, el }) {
  // ipywidgets' own classes: the drop-down looks like the builder's other fields
  el.classList.add("widget-inline-hbox", "widget-dropdown", "flowkit-choice");
  const label = document.createElement("label");
  label.className = "widget-label";
  const select = document.createElement("select");
  el.append(label, select);
  let sent = 0;        // the number of the last choice sent
  let asked = null;    // its label, until the kernel answers it
  const show = () => {
    const description = model.get("description") || "";
    label.textContent = label.title = description;
    label.style.display = description ? "" : "none";
    select.disabled = !!model.get("disabled");
    const labels = model.get("labels") || [];
    const shown = Array.from(select.options, (o) => o.value);
    if (shown.length !== labels.length || shown.some((l, i) => l !== labels[i])) {
      select.replaceChildren(...labels.map((text) => {
        const option = document.createElement("option");
        option.value = option.textContent = text;
        return option;
      }));
    }
    const current = asked !== null && labels.includes(asked) ? asked : model.get("label");
    if (current === null || current === undefined || !labels.includes(current)) select.selectedIndex = -1;
    else select.value = current;
  };
  const choose = () => {
    sent += 1;
    asked = select.value;
    el.dataset.flowkitPending = "";
    model.send({ event: "choose", label: asked, seq: sent });
  };
  const answered = (msg) => {
    if (!msg || msg.event !== "chosen" || msg.seq !== sent) return;
    asked = null;
    delete el.dataset.flowkitPending;
    if (msg.accepted) delete el.dataset.flowkitStale;
    else el.dataset.flowkitStale = msg.asked;
    show();
    // the kernel's selection now (its state update may still be on its way)
    if (typeof msg.label === "string" && Array.from(select.options, (o) => o.value).includes(msg.label)) {
      select.value = msg.label;
    }
  };
  show();
  select.addEventListener("change", choose);
  model.on("change:labels", show);
  model.on("change:label", show);
  model.on("change:description", show);
  model.on("change:disabled", show);
  model.on("msg:custom", answered);
  return () => {
    select.removeEventListener("change", choose);
    model.off("change:labels", show);
    model.off("change:label", show);
    model.off("change:description", show);
    model.off("change:disabled", show);
    model.off("msg:custom", answered);
  };
}
export default { render };
"""

_FIRST: Any = object()


class Choice(anywidget.AnyWidget):
    """A drop-down list for the builder, used like ``ipywidgets.Dropdown`` from Python.

    ``options`` are labels, or ``(label, value)`` pairs; ``value`` is the chosen entry's value
    (None: none). Setting ``options`` keeps ``value`` when still offered, else selects the first.
    A choice from the page arrives as a label (see :meth:`choose`). ``on_stale(callback)`` calls
    ``callback(label)`` when the page chose a label no longer offered.
    """

    _esm = _ESM
    description = traitlets.Unicode("").tag(sync=True)
    disabled = traitlets.Bool(False).tag(sync=True)
    labels = traitlets.List(traitlets.Unicode()).tag(sync=True)
    """The labels shown, in order (follows ``options``)."""
    label = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    """The chosen entry's label (follows ``value``)."""
    options: Any = traitlets.Any(())
    value: Any = traitlets.Any(None, allow_none=True)

    def __init__(self, options: Sequence[Any] = (), value: Any = _FIRST, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stale: list[str] = []
        """The labels the page chose after they stopped being offered (each changed nothing)."""
        self._stale_callbacks: list[Callable[[str], None]] = []
        self.on_msg(self._received)
        self.options = options
        if value is not _FIRST:
            self.value = value

    @traitlets.validate("options")
    def _valid_options(self, proposal: Any) -> tuple[Any, ...]:
        return tuple(proposal["value"])

    def _pairs(self) -> list[tuple[str, Any]]:
        return [(o[0], o[1]) if isinstance(o, tuple) else (str(o), o) for o in self.options]

    @traitlets.observe("options")
    def _options_changed(self, _change: Any) -> None:
        pairs = self._pairs()
        values = [v for _, v in pairs]
        with self.hold_sync():  # the new list and its selection reach the page in one message
            self.labels = [label for label, _ in pairs]
            if self.value in values:
                self.label = self._label_of(self.value)
            else:
                self.value = values[0] if values else None

    @traitlets.validate("value")
    def _valid_value(self, proposal: Any) -> Any:
        value = proposal["value"]
        if value is not None and value not in [v for _, v in self._pairs()]:
            raise traitlets.TraitError(f"{value!r} is not one of the {self.description or 'choice'} options")
        return value

    @traitlets.observe("value")
    def _value_changed(self, change: Any) -> None:
        self.label = self._label_of(change["new"])

    def _label_of(self, value: Any) -> str | None:
        return next((label for label, v in self._pairs() if v == value), None) if value is not None else None

    def choose(self, label: str) -> bool:
        """Do what a choice in the page does: select the entry shown as ``label``.

        Returns:
            True when selected; False when ``label`` is no longer offered (or the list is disabled):
            then nothing changes (never another entry at the same position) and the stale callbacks
            are called.

        """
        pairs = self._pairs()
        found = [v for text, v in pairs if text == label]
        if not found or self.disabled:
            self.stale.append(label)
            for callback in list(self._stale_callbacks):
                callback(label)
            return False
        self.value = found[0]
        return True

    def on_stale(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(label)`` when the page chooses a label that is no longer offered."""
        self._stale_callbacks.append(callback)

    def _received(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if (
            not isinstance(content, dict)
            or content.get("event") != "choose"
            or not isinstance(content.get("label"), str)
        ):
            return
        accepted = self.choose(content["label"])
        answer = {"event": "chosen", "seq": content.get("seq"), "asked": content["label"], "accepted": accepted}
        self.send({**answer, "label": self.label})
