"""The monitor's forms: a row of buttons, the HUMAN task form, "inspect a task" and "rerun from a task"."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as widgets  # type: ignore[import-untyped]

if TYPE_CHECKING:
    from flowkit.notebook._monitor import Monitor

__all__ = ["ButtonLook", "HumanForm", "InspectForm", "RerunForm"]


class ButtonLook:
    """One layout and one style shared by a row of buttons (nothing ever changes either)."""

    def __init__(self) -> None:
        self.layout = widgets.Layout(width="auto")
        self.style = widgets.ButtonStyle()

    def button(self, text: str, icon: str, tip: str, kind: str = "") -> widgets.Button:
        return widgets.Button(
            description=text, icon=icon, tooltip=tip, button_style=kind, layout=self.layout, style=self.style
        )


class HumanForm:
    """Complete or fail a waiting HUMAN task: its output as JSON, or a reason."""

    def __init__(self, monitor: Monitor) -> None:
        self.task = widgets.Dropdown(description="HUMAN task", options=[], style={"description_width": "initial"})
        self.output = widgets.Textarea(
            value="{}", description="output", layout=widgets.Layout(width="420px", height="70px")
        )
        self.reason = widgets.Text(
            description="reason", placeholder="why (for Fail)", style={"description_width": "initial"}
        )
        look = ButtonLook()
        self.complete = look.button("Complete", "check", "Complete the HUMAN task with this output", "success")
        self.fail = look.button("Fail", "times", "Fail the HUMAN task with this reason", "warning")
        self.complete.on_click(lambda _: monitor._complete())
        self.fail.on_click(lambda _: monitor._fail())
        self.box = widgets.VBox(
            [
                widgets.HTML("<b>Waiting for you</b>"),
                self.task,
                self.output,
                self.reason,
                widgets.HBox([self.complete, self.fail]),
            ],
            layout=widgets.Layout(display="none", border="1px solid #ccc", padding="4px"),
        )
        self.box.add_class("flowkit-human")


class InspectForm:
    """Choose a task: its inspector (input, output, logs, traceback) opens below, in the monitor."""

    def __init__(self, monitor: Monitor) -> None:
        self.task = widgets.Dropdown(
            description="inspect task",
            options=[("(choose a task)", "")],
            value="",
            layout=widgets.Layout(width="420px"),
            style={"description_width": "initial"},
        )
        self.inspector: Any = None
        self.task.observe(monitor._inspect_chosen, names="value")
        self.box = widgets.VBox([self.task])
        self.box.add_class("flowkit-inspect")


class RerunForm:
    """Rerun from a task attempt, with its input as it was or edited."""

    def __init__(self, monitor: Monitor) -> None:
        self.task = widgets.Dropdown(
            description="rerun from",
            options=[],
            layout=widgets.Layout(width="520px"),
            style={"description_width": "initial"},
        )
        self.input = widgets.Textarea(
            placeholder="the task's input (JSON); edit it to rerun with another input",
            layout=widgets.Layout(width="420px", height="90px"),
        )
        self.button = ButtonLook().button("Rerun", "repeat", "Rerun the workflow from the chosen task")
        self.button.on_click(lambda _: monitor._rerun())
        self.task.observe(monitor._rerun_task_chosen, names="value")
        self.box = widgets.Accordion(
            [widgets.VBox([self.task, self.input, self.button])], titles=("Rerun from a task",)
        )
        self.box.add_class("flowkit-rerun")
