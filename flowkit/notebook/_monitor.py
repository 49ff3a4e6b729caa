"""The live run monitor: a view over one Execution that calls its operations.

The monitor owns no workflow state. It reads the execution (the engine's model) on a throttled
background thread woken by the runtime's hooks (task starts and ends, ended runs), and its buttons call the Execution's
operations; an operation that is not allowed leaves the execution as it was and its message is
shown in the monitor.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets  # type: ignore[import-untyped]
from ipywidgets.widgets.widget_string import HTMLStyle  # type: ignore[import-untyped]

from flowkit.errors import FlowkitError
from flowkit.notebook._diagram import Diagram
from flowkit.notebook._diagram_view import DiagramView, resolve_node
from flowkit.notebook._monitor_forms import ButtonLook, HumanForm, InspectForm, RerunForm
from flowkit.notebook._refresh import Refresher
from flowkit.notebook._snapshot import (
    FAILED,
    Reader,
    Snapshot,
    allowed_operations,
    attempt_label,
    counters_html,
    progress_text,
    progress_value,
    result_html,
    result_text,
    status_html,
    tasks_table_html,
    to_json_text,
)
from flowkit.runtime import RunEnded, TaskEnded, TaskStarted, Watched

__all__ = ["Monitor", "monitor"]

_MAX_ATTEMPTS = 500  # attempts offered in the rerun drop-down (failed ones always are)
_ERROR_BORDER = "2px solid #d62728"
_BAR_STYLES = {"COMPLETED": "success", "PAUSED": "warning", "RUNNING": "info"}
_SHARE = 40  # reading the run, and drawing its diagram, each get at most 1/_SHARE of the time while it runs


def monitor(execution: Any, **options: Any) -> Monitor:
    """Watch ``execution`` live: diagram, progress, counters, running and failed tasks, and controls.

    Args:
        execution: A :class:`flowkit.Execution` (``flowkit.start(...)`` for a live run).
        **options: See :class:`Monitor`.

    Returns:
        The widget (display it, or make it a cell's last expression).

    """
    return Monitor(execution, **options)


class Monitor(widgets.VBox):  # type: ignore[misc]
    """A live view of one execution with Pause, Resume, Terminate, Retry, Rerun and HUMAN controls.

    Refreshes come from a daemon thread, at most one per ``min_interval`` seconds however many
    engine events happen (a 10,000-task run costs a few dozen refreshes, not 10,000), and at least
    every ``poll_interval`` seconds while the workflow runs. Each refresh reads only the tasks that
    are new or not finished yet (see :class:`~flowkit.notebook._snapshot.Reader`), and a run so big
    that reading it still takes long is read less often: never more than a 40th of the time.
    While tasks move, the diagram is redrawn at most once per ``diagram_interval`` (and never more
    than a 40th of the time goes to drawing it), so a big diagram does not slow the run down;
    when the run stops or pauses it is redrawn at once. Building the monitor costs the caller's
    thread a few milliseconds (about 20 small widgets); the HUMAN and rerun forms are made when
    first needed, off that thread.

    Clicking a node of the diagram opens the inspector for that task below it (a sub-workflow's
    task: the child run's inspector); clicking a folded fan-out ("×N ...") unfolds it. When the
    run ends, the output where the monitor was shown also carries the static result (summary and
    final diagram, ``text/html``): a notebook saved by JupyterLab keeps only that (the diagram
    widget's front end drops the widget view from the saved file), so a reopened notebook, its
    nbconvert HTML and GitHub show the finished run instead of "Error displaying widget".

    Args:
        execution: The execution to watch.
        min_interval: Least seconds between refreshes (default 0.25: at most 4 a second).
        poll_interval: Refresh period while running, for changes that send no engine event.
        diagram: False to leave the diagram out.
        diagram_interval: Least seconds between two diagrams while the workflow runs (default 1;
            never less than 24 times the time a diagram takes to draw).
        renderers: Graphviz programs for the diagram (see :func:`flowkit.render.svg`).

    """

    def __init__(
        self,
        execution: Any,
        *,
        min_interval: float = 0.25,
        poll_interval: float = 1.0,
        diagram: bool = True,
        diagram_interval: float = 1.0,
        renderers: Any = None,
        **kwargs: Any,
    ) -> None:
        self.execution = execution
        self._model = execution.model
        self._lock = threading.RLock()
        self._draw_lock = threading.Lock()
        self._diagram = Diagram(renderers=renderers) if diagram else None
        self._diagram_key: Any = None
        self._diagram_due = 0.0
        self._refresher_interval = min_interval
        self._diagram_interval = max(min_interval, diagram_interval)
        self._attempts_key: Any = None
        self._human_refs: list[str] = []
        self._inputs: dict[str, Any] = {}
        self._read_cost = 0.0  # CPU seconds the last refresh took to read the run and update the widgets
        self.refresh_count = 1
        """Refreshes done (each one reads the execution once and updates the widgets that changed)."""

        # The first reading goes straight into the widgets' constructors (no update right after), and
        # widgets whose layout or style is never changed share one per monitor: building the monitor
        # is most of what watching a short run costs the caller's thread.
        self._reader = Reader()
        snap = self._last = self._reader.read(self._model)
        plain = widgets.Layout()
        html_style = HTMLStyle()
        self.status = widgets.HTML(status_html(snap), layout=plain, style=html_style)
        self.progress = widgets.IntProgress(
            value=progress_value(snap),
            min=0,
            max=max(snap.total, 1),
            description="progress",
            bar_style=_BAR_STYLES.get(snap.status, "danger"),
            layout=widgets.Layout(width="320px"),
        )
        self.progress_text = widgets.Label(progress_text(snap), layout=plain)
        self.counters = widgets.HTML(counters_html(snap), layout=plain, style=html_style)
        self.tasks = widgets.HTML(tasks_table_html(snap), layout=plain, style=html_style)
        # Always there (hidden without a diagram): its front end also keeps a saved notebook readable.
        self.diagram = DiagramView(
            "<i>drawing…</i>" if diagram else "", layout=widgets.Layout() if diagram else widgets.Layout(display="none")
        )
        self.diagram.on_node_click(self._node_clicked)
        self._expanded: set[str] = set()
        self.message = widgets.Label(value="", layout=plain, _dom_classes=("flowkit-message",))

        look = ButtonLook()
        self.pause_button = look.button("Pause", "pause", "Pause: running tasks finish, nothing new starts")
        self.resume_button = look.button("Resume", "play", "Resume a paused workflow")
        self.terminate_button = look.button("Terminate", "stop", "Terminate: running tasks are canceled", "danger")
        self.retry_button = look.button("Retry", "redo", "Retry a failed workflow from its failed tasks")
        self.pause_button.on_click(lambda _: self._act("Pause", self.execution.pause))
        self.resume_button.on_click(lambda _: self._act("Resume", self.execution.resume))
        self.terminate_button.on_click(
            lambda _: self._act("Terminate", lambda: self.execution.terminate("terminated from the notebook monitor"))
        )
        self.retry_button.on_click(lambda _: self._act("Retry", self.execution.retry))
        self._controls = widgets.HBox(
            [self.pause_button, self.resume_button, self.terminate_button, self.retry_button], layout=plain
        )
        self._progress_row = widgets.HBox([self.progress, self.progress_text], layout=plain)
        # Made when first needed, by the background refresh (a HUMAN task waits; the run stops, so it
        # can be rerun) or by a property below: never on the caller's thread while a run is going on.
        self._human: HumanForm | None = None
        self._rerun_form: RerunForm | None = None
        self._inspect_form: InspectForm | None = None
        self._refs_key: Any = None
        self._handles: list[Any] = []  # where IPython displayed the monitor (updated with the result)
        self._published: Any = None
        self._update_controls(snap)
        super().__init__(self._layout(), **{"_dom_classes": ("flowkit-monitor",), **kwargs})

        self._refresher = Refresher(
            self._background_refresh,
            active=self._active,
            min_interval=min_interval,
            poll_interval=poll_interval,
            name="flowkit-monitor",
        )
        self._unhook: list[Callable[[], None]] = []
        # Task starts and ends are heard only while no refresh is pending (see _arm): a run with no
        # start or end hooks takes the runner's fast path, so watching a run barely slows it down.
        self._hooks: Any = getattr(getattr(execution, "runtime", None), "hooks", None)
        self._arm_lock = threading.Lock()
        self._armed = False
        self._closed = False
        if self._hooks is not None:
            self._unhook.append(self._hooks.add(RunEnded, self._on_event))
        if isinstance(execution, Watched):  # state on a server: read it while the monitor is open
            self._unhook.append(execution.watch())
        self._refresher.poke()  # the diagram and the forms, made off the caller's thread

    # ------------------------------------------------------------------ parts made when needed
    def _layout(self) -> list[Any]:
        children = [self.status, self._progress_row, self.counters, self.diagram, self.tasks, self._controls]
        if self._inspect_form is not None:
            children.append(self._inspect_form.box)
        if self._human is not None:
            children.append(self._human.box)
        if self._rerun_form is not None:
            children.append(self._rerun_form.box)
        return [*children, self.message]

    @property
    def human_form(self) -> HumanForm:
        """The HUMAN task form (shown while a HUMAN task waits)."""
        with self._lock:
            if self._human is None:
                self._human = HumanForm(self)
                self.children = self._layout()
            return self._human

    @property
    def rerun_form(self) -> RerunForm:
        """The "Rerun from a task" section (a drop-down of attempts, their input, a Rerun button)."""
        with self._lock:
            if self._rerun_form is None:
                self._rerun_form = RerunForm(self)
                self.children = self._layout()
                self._attempts_key = None
                self._update_attempts(self._last)
            return self._rerun_form

    human_box = property(lambda self: self.human_form.box, doc="The HUMAN form's box.")
    human_task = property(lambda self: self.human_form.task, doc="Which HUMAN task the form completes.")
    human_output = property(lambda self: self.human_form.output, doc="The HUMAN task's output (JSON).")
    human_reason = property(lambda self: self.human_form.reason, doc="Why (for Fail).")
    complete_button = property(lambda self: self.human_form.complete, doc="Complete the HUMAN task.")
    fail_button = property(lambda self: self.human_form.fail, doc="Fail the HUMAN task.")
    rerun_task = property(lambda self: self.rerun_form.task, doc="The attempt to rerun from.")
    rerun_input = property(lambda self: self.rerun_form.input, doc="That task's input (JSON), editable.")
    rerun_button = property(lambda self: self.rerun_form.button, doc="Rerun from the chosen attempt.")

    # ------------------------------------------------------------------ refreshing
    @property
    def diagram_count(self) -> int:
        """How many times the diagram was drawn."""
        return self._diagram.renders if self._diagram is not None else 0

    def _active(self) -> bool:
        return str(self._model.status) in ("RUNNING", "PAUSED")

    def _on_event(self, event: TaskStarted | TaskEnded | RunEnded) -> None:
        # Runs on the runtime thread for every task start and end: keep it to a few attribute reads.
        workflow = event.workflow
        if type(event) is RunEnded and workflow is self._model and self._handles:
            # The final reading, diagram and static result before run.wait() returns (this hook runs
            # first): a cell that ends right after wait() keeps the finished run in the saved notebook.
            self._background_refresh()
            return
        if workflow is self._model or workflow.parent_workflow_id is not None:
            self._refresher.poke()
            self._disarm()  # the refresh reads whatever happens until then: no need to hear of it

    def _arm(self) -> None:
        """Hear of the next task start or end (called before each reading; the first event disarms)."""
        hooks = self._hooks
        if hooks is None or self._armed:
            return
        with self._arm_lock:
            if not self._armed and not self._closed:
                hooks.add(TaskStarted, self._on_event)
                hooks.add(TaskEnded, self._on_event)
                self._armed = True

    def _disarm(self) -> None:
        if self._armed:
            with self._arm_lock:
                if self._armed:
                    self._hooks.remove(TaskStarted, self._on_event)
                    self._hooks.remove(TaskEnded, self._on_event)
                    self._armed = False

    def _background_refresh(self) -> float | None:
        snap = self.refresh(diagram=None)
        with self._lock:
            self._update_refs(snap)
        self._publish()
        # Reading a very big run costs more: it is then read less often, never more than a 40th of the time.
        self._refresher.min_interval = max(self._refresher_interval, (_SHARE - 1) * self._read_cost)
        if self._diagram is not None and self._diagram_key != snap.key:
            return max(0.0, self._diagram_due - time.monotonic())  # the diagram is behind: catch up when allowed
        return None

    def refresh(self, *, diagram: bool | None = True) -> Snapshot:
        """Read the execution now and update the widgets (thread-safe).

        Args:
            diagram: True to redraw the diagram if anything changed, False to leave it, None to
                redraw it only when its own throttle allows.

        """
        with self._lock:
            began = time.thread_time()  # this thread's CPU: what the run loses to the GIL
            self._arm()  # before reading: a change after the reading pokes the next refresh
            snap = self._reader.read(self._model)
            self._last = snap
            self.refresh_count += 1
            with self.progress.hold_sync():  # one message for the three
                self.progress.max = max(snap.total, 1)
                self.progress.value = progress_value(snap)
                self.progress.bar_style = _BAR_STYLES.get(snap.status, "danger")
            self.progress_text.value = progress_text(snap)
            self._update_controls(snap)
            self.counters.value = counters_html(snap)
            self.tasks.value = tasks_table_html(snap)
            self.status.value = status_html(snap)  # last: a status shown means the rest of its reading is too
            self._read_cost = time.thread_time() - began
            self._show_human(snap)
            self._update_attempts(snap)
            draw = self._diagram is not None and diagram is not False and self._diagram_key != snap.key
            # While tasks move the diagram keeps its own, slower pace; once they stop it catches up at once.
            draw = draw and (diagram or snap.status != "RUNNING" or time.monotonic() >= self._diagram_due)
        if draw:
            self._draw(snap)
        return snap

    def _draw(self, snap: Snapshot) -> None:
        # Outside the widgets' lock: a button's refresh never waits for Graphviz.
        assert self._diagram is not None
        with self._draw_lock:
            if self._diagram_key == snap.key:
                return
            began = time.monotonic()
            try:
                self.diagram.value = self._diagram.html(self.execution, raise_errors=True)
            except Exception:  # noqa: BLE001 - read while the engine changed it: draw again soon
                self._diagram_due = began + self._refresher_interval
                return
            done = time.monotonic()
            # A big diagram is redrawn less often: drawing it gets at most a 40th of the time.
            self._diagram_due = done + max(self._diagram_interval, (_SHARE - 1) * (done - began))
            self._diagram_key = snap.key

    def _update_controls(self, snap: Snapshot) -> None:
        allowed = allowed_operations(snap.status)
        for button, operation in (
            (self.pause_button, "pause"),
            (self.resume_button, "resume"),
            (self.terminate_button, "terminate"),
            (self.retry_button, "retry"),
        ):
            if button.disabled == allowed[operation]:
                button.disabled = not allowed[operation]
        if self._rerun_form is not None and self._rerun_form.button.disabled == allowed["rerun"]:
            self._rerun_form.button.disabled = not allowed["rerun"]

    @property
    def inspect_form(self) -> InspectForm:
        """The "Inspect a task" section: choose a task, its inspector opens in place."""
        with self._lock:
            if self._inspect_form is None:
                self._inspect_form = InspectForm(self)
                self.children = self._layout()
                self._refs_key = None
                self._update_refs(self._last)
            return self._inspect_form

    inspect_task = property(lambda self: self.inspect_form.task, doc="The task whose inspector is shown.")

    @property
    def inspector(self) -> Any:
        """The inspector shown in place (None until a task is chosen)."""
        return self._inspect_form.inspector if self._inspect_form is not None else None

    def _update_refs(self, snap: Snapshot) -> None:
        # The task list is offered once the run stops, and while it is small enough to send at every change.
        form = self._inspect_form
        if form is None:
            if snap.total and (snap.terminal or snap.total <= _MAX_ATTEMPTS // 2):  # a big run's, once it stops
                self.inspect_form  # noqa: B018 - made, and filled, on first use
            return
        key = (snap.attempts, snap.status)
        if key == self._refs_key or (not snap.terminal and snap.total > _MAX_ATTEMPTS // 2 and self._refs_key):
            return
        self._refs_key = key
        refs = list(dict.fromkeys(t.ref for t in list(self._model.tasks)))[-_MAX_ATTEMPTS:]
        keep = form.task.value
        with form.task.hold_trait_notifications():
            form.task.options = [("(choose a task)", ""), *((ref, ref) for ref in refs)]
            form.task.value = keep if keep in refs else ""

    def inspect(self, ref: str, *, execution: Any = None) -> Any:
        """Open the inspector for task ``ref`` (its latest attempt) in the monitor; returns it.

        Args:
            ref: The task reference (or task id).
            execution: The execution the task belongs to, when not the monitored one (a
                sub-workflow's child run).

        """
        form = self.inspect_form
        if execution is not None and execution.workflow_id != self.execution.workflow_id:
            with form.task.hold_trait_notifications():
                form.task.value = ""  # the drop-down lists this run's tasks, not the child's
            self._show_inspector(execution, ref)
            return form.inspector
        if ref and form.task.value != ref:
            with self._lock:
                self._update_refs(self._last)
            if ref not in [value for _, value in form.task.options]:
                form.task.options = [*form.task.options, (ref, ref)]
            form.task.value = ref  # calls _inspect_chosen
        elif ref:
            self._show_inspector(self.execution, ref)
        return form.inspector

    def _inspect_chosen(self, change: Any) -> None:
        ref = change["new"] if isinstance(change, dict) else change.new
        if ref:
            self._show_inspector(self.execution, ref)

    def _show_inspector(self, execution: Any, ref: str) -> None:
        form = self.inspect_form
        current = form.inspector
        if current is not None and current.execution.workflow_id == execution.workflow_id:
            current.select(ref)
            return
        from flowkit.notebook._inspect import Inspector

        form.inspector = Inspector(execution, task=ref)
        form.box.children = (form.task, form.inspector)
        if current is not None:
            current.close()

    def _node_clicked(self, node_id: str) -> None:
        """A click on the diagram: a folded fan-out unfolds, a task opens its inspector below."""
        if node_id.endswith("/×"):
            fork = node_id[: -len("/×")]
            if self._diagram is None or fork in self._expanded:
                return
            self._expanded.add(fork)
            self._diagram.options["expand"] = frozenset(self._expanded)
            self._diagram_key = None
            self.say(f"{fork.rsplit('/', 1)[-1]}: every branch shown")
            self._draw(self._last)
            return
        found = resolve_node(self.execution, node_id)
        if found is None:
            self.say(f"{node_id}: no task ran there yet", error=True)
            return
        execution, ref = found
        self.inspect(ref, execution=execution)
        where = "" if execution is self.execution else f" (in sub-workflow {execution.workflow_id})"
        self.say(f"inspecting {ref}{where}")

    # ------------------------------------------------------------------ the static result
    def result_html(self) -> str:
        """The run as static HTML (summary and diagram): what the notebook keeps when the widget is gone."""
        snap = self._last
        if snap.terminal and self._diagram is not None and self._diagram_key != snap.key:
            self._draw(snap)  # a finished run: its final diagram, drawn now
        diagram = self.diagram.value if self._diagram is not None and "<i>drawing" not in self.diagram.value else ""
        return result_html(snap, diagram)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        # ipywidgets sets _repr_mimebundle_ to None on close(): a closed monitor displays nothing.
        data: dict[str, Any] | None = super()._repr_mimebundle_(**kwargs)
        if data is None:
            return None
        # Shown wherever the widget cannot be: a reopened (untrusted) notebook, nbconvert's HTML, GitHub.
        data["text/html"] = self.result_html()
        data["text/plain"] = result_text(self._last)
        return data

    def _ipython_display_(self) -> None:
        from IPython.display import display

        make = self._repr_mimebundle_  # None once closed (ipywidgets' close)
        bundle = make() if make is not None else None
        if bundle is None:
            return
        # With a display id the result can replace the bundle's text/html when the run ends.
        handle = display(bundle, raw=True, display_id=True)  # type: ignore[no-untyped-call]
        if handle is not None:
            self._handles.append(handle)
            self._published = (self._last.key, self._diagram_key)
            if not self._active() and not self._last.terminal:
                self._background_refresh()  # it ended while being shown: the result goes out now, not later

    def _publish(self) -> None:
        """Put the ended run's result (summary, final diagram) in the outputs where the monitor was shown."""
        snap = self._last
        if not self._handles or not snap.terminal or (self._diagram is not None and self._diagram_key != snap.key):
            return
        key = (snap.key, self._diagram_key)
        if key == self._published:
            return
        self._published = key
        make = self._repr_mimebundle_
        bundle = make() if make is not None else None
        if bundle is not None:
            for handle in self._handles:
                handle.update(bundle, raw=True)

    def _show_human(self, snap: Snapshot) -> None:
        if self._human is None and not snap.human:
            return
        if snap.human != self._human_refs:
            self._human_refs = list(snap.human)
            keep = self.human_task.value
            self.human_task.options = snap.human
            self.human_task.value = keep if keep in snap.human else (snap.human[0] if snap.human else None)
        self.human_box.layout.display = "" if snap.human else "none"

    def _update_attempts(self, snap: Snapshot) -> None:
        # The drop-down is rebuilt when the run stops (reruns need a finished workflow), not at every event.
        if self._rerun_form is None:
            if snap.terminal:
                self.rerun_form  # noqa: B018 - made, and filled, on first use
            return
        key = (snap.attempts, snap.status)
        if key == self._attempts_key or (self._attempts_key is not None and not snap.terminal):
            return
        self._attempts_key = key
        tasks = list(self._model.tasks)
        if len(tasks) > _MAX_ATTEMPTS:
            recent = {id(t) for t in tasks[-_MAX_ATTEMPTS:]}
            tasks = [t for t in tasks if id(t) in recent or str(t.status) in FAILED]
        self._inputs = {t.task_id: t.input for t in tasks}
        options = [(attempt_label(t), t.task_id) for t in tasks]
        keep = self.rerun_task.value
        failed = [t.task_id for t in tasks if str(t.status) in FAILED]
        self.rerun_task.options = options
        ids = {value for _, value in options}
        self.rerun_task.value = (
            keep if keep in ids else (failed[-1] if failed else (options[0][1] if options else None))
        )
        self._rerun_task_chosen({"new": self.rerun_task.value})

    def _rerun_task_chosen(self, change: Any) -> None:
        task_id = change["new"] if isinstance(change, dict) else change.new
        self.rerun_input.value = to_json_text(self._inputs.get(task_id, {})) if task_id else ""
        self.rerun_input.layout.border = None

    # ------------------------------------------------------------------ actions
    def say(self, text: str, *, error: bool = False) -> None:
        """Show ``text`` in the monitor's message line."""
        self.message.value = text
        self.message.style.text_color = "#d62728" if error else "#2a6f2a"

    def _act(self, label: str, operation: Any) -> bool:
        try:
            operation()
        except FlowkitError as exc:
            self.say(f"{label} not allowed: {exc}", error=True)
            return False
        self.say(f"{label}: done (workflow is {self._model.status})")
        self.refresh(diagram=False)
        self._refresher.poke()
        return True

    def _parse(self, field: widgets.Textarea, what: str) -> tuple[bool, Any]:
        text = field.value.strip()
        try:
            value = json.loads(text) if text else {}
        except json.JSONDecodeError as exc:
            field.layout.border = _ERROR_BORDER
            self.say(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", error=True)
            return False, None
        if not isinstance(value, dict):
            field.layout.border = _ERROR_BORDER
            self.say(f"{what} must be a JSON object, got {type(value).__name__}", error=True)
            return False, None
        field.layout.border = None
        return True, value

    def _rerun(self) -> None:
        task_id = self.rerun_task.value
        if not task_id:
            self.say("Rerun: choose a task first", error=True)
            return
        ok, value = self._parse(self.rerun_input, "the task input")
        if not ok:
            return
        changed = value if value != self._inputs.get(task_id) else None
        self._act("Rerun", lambda: self.execution.rerun(from_task_id=task_id, task_input=changed))

    def _complete(self) -> None:
        ref = self.human_task.value
        ok, value = self._parse(self.human_output, "the HUMAN task's output")
        if ok and ref:
            self._act(f"Complete {ref}", lambda: self.execution.complete_task(ref, value))

    def _fail(self) -> None:
        ref = self.human_task.value
        if ref:
            reason = self.human_reason.value.strip() or "failed from the notebook monitor"
            self._act(f"Fail {ref}", lambda: self.execution.fail_task(ref, reason))

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        """Stop watching (the execution goes on) and close the widgets."""
        refresher = getattr(self, "_refresher", None)
        if refresher is not None:
            refresher.stop()
        if hasattr(self, "_arm_lock"):
            with self._arm_lock:
                self._closed = True
            self._disarm()
        for unhook in getattr(self, "_unhook", ()):
            unhook()
        self._unhook = []
        super().close()
