"""The live run monitor, in-process: real runs on flowkit.start's background thread, buttons clicked
with ``button.click()``, and the throttling of refreshes counted on a 10,000-task run."""

from __future__ import annotations

import time

import ipywidgets as widgets
import pytest
import traitlets
from nb_helpers import WORKERS, human_workflow, loop_workflow, tick, wait_until

import flowkit
from flowkit.notebook import Monitor, monitor


@pytest.fixture
def run():
    execution = flowkit.start(human_workflow(), {"order": "A-1"}, workers=WORKERS, store="memory")
    wait_until(lambda: execution.tasks and execution.tasks[-1].ref == "approve", what="the HUMAN task")
    yield execution
    if not execution.status.is_terminal:
        execution.terminate("test over")
    execution._runtime.close()


@pytest.fixture
def mon(run):
    made = monitor(run, min_interval=0.05, poll_interval=0.1)
    yield made
    made.close()


def shown_status(mon: Monitor) -> str:
    return mon.status.value.split("data-status='")[1].split("'")[0]


def test_monitor_shows_the_run(run, mon):
    assert isinstance(mon, widgets.Widget)
    wait_until(lambda: mon.human_box.layout.display == "", what="the HUMAN form")
    assert shown_status(mon) == "RUNNING" and "approval" in mon.status.value
    assert mon.progress.value == 1 and mon.progress.max == 2 and mon.progress_text.value == "1 / 2 tasks done"
    assert "data-status='COMPLETED'" in mon.counters.value and "IN_PROGRESS: 1" in mon.counters.value
    assert "data-ref='approve'" in mon.tasks.value  # the running task is listed
    assert mon.human_task.options == ("approve",) and mon.human_task.value == "approve"
    wait_until(lambda: "<svg" in mon.diagram.value or "digraph" in mon.diagram.value, what="the diagram")
    assert mon.diagram_count >= 1


def test_pause_resume_and_terminate_buttons_operate_the_execution(run, mon):
    mon.pause_button.click()
    assert run.status == "PAUSED" and shown_status(mon) == "PAUSED"
    assert mon.message.value.startswith("Pause: done")
    mon.resume_button.click()
    assert run.status == "RUNNING" and shown_status(mon) == "RUNNING"
    mon.terminate_button.click()
    assert run.status == "TERMINATED" and shown_status(mon) == "TERMINATED"
    assert run.reason == "terminated from the notebook monitor"
    assert mon.progress.bar_style == "danger"


def test_an_action_that_is_not_allowed_shows_why_and_changes_nothing(run, mon):
    before = [(t.task_id, t.status) for t in run.tasks]
    mon.retry_button.click()
    assert "Retry not allowed" in mon.message.value
    assert "only a terminal workflow can be retried" in mon.message.value
    assert mon.message.style.text_color == "#d62728"
    assert run.status == "RUNNING" and [(t.task_id, t.status) for t in run.tasks] == before
    mon.resume_button.click()  # resuming a running workflow is refused too
    assert "Resume not allowed" in mon.message.value and run.status == "RUNNING"


def test_human_form_completes_the_task_and_marks_bad_json(run, mon):
    wait_until(lambda: mon.human_box.layout.display == "", what="the HUMAN form")
    mon.human_output.value = '{"approved_by": "ada"'
    mon.complete_button.click()
    assert mon.human_output.layout.border and "not valid JSON" in mon.message.value
    assert run.task("approve").status == "IN_PROGRESS"
    mon.human_output.value = '{"approved_by": "ada"}'
    mon.complete_button.click()
    assert run.wait(10).status == "COMPLETED"
    assert run.output == {"shipped": "A-1", "approved_by": "ada"}
    wait_until(lambda: shown_status(mon) == "COMPLETED", what="COMPLETED shown")
    wait_until(lambda: mon.human_box.layout.display == "none", what="the form hidden")
    assert mon.progress.bar_style == "success" and mon.progress.value == mon.progress.max == 3


def test_fail_then_retry_then_rerun_from_a_task_with_edited_input(run, mon):
    wait_until(lambda: mon.human_box.layout.display == "", what="the HUMAN form")
    mon.human_reason.value = "not today"
    mon.fail_button.click()
    assert run.status == "FAILED" and run.reason and "not today" in run.reason
    wait_until(lambda: "not today" in mon.tasks.value, what="the failure listed")
    mon.retry_button.click()
    assert run.status == "RUNNING" and mon.message.value.startswith("Retry: done")
    run.complete_task("approve", {"approved_by": "bob"})
    assert run.wait(10).status == "COMPLETED"
    wait_until(lambda: shown_status(mon) == "COMPLETED", what="COMPLETED shown")
    # The rerun drop-down lists the attempts once the run has stopped; pick 'prepare', edit its input.
    prepare = next(t for t in run.tasks if t.ref == "prepare")
    wait_until(lambda: prepare.task_id in [v for _, v in mon.rerun_task.options], what="attempts offered")
    mon.rerun_task.value = prepare.task_id
    assert '"order": "A-1"' in mon.rerun_input.value
    mon.rerun_input.value = "{not json"
    mon.rerun_button.click()
    assert "not valid JSON" in mon.message.value and run.status == "COMPLETED"
    mon.rerun_input.value = '{"order": "Z-9"}'
    mon.rerun_button.click()
    assert mon.message.value.startswith("Rerun: done"), mon.message.value
    wait_until(lambda: run.tasks[-1].ref == "approve" and run.tasks[-1].status == "IN_PROGRESS", what="rerun waits")
    assert run.task("prepare").output["order"] == "Z-9"
    run.complete_task("approve", {"approved_by": "cy"})
    assert run.wait(10).output == {"shipped": "Z-9", "approved_by": "cy"}


def test_refreshes_are_throttled_on_a_10000_task_run_and_the_caller_stays_responsive():
    execution = flowkit.start(loop_workflow(10_000), {}, workers=[tick], store="memory")
    began = time.monotonic()
    mon = monitor(execution)  # defaults: at most 4 refreshes a second
    changes = []

    def count(change):
        changes.append(change["name"])

    def watch(widget):
        widget.observe(count, names=traitlets.All)
        for child in getattr(widget, "children", ()):
            watch(child)
        if hasattr(widget, "layout"):
            widget.layout.observe(count, names=traitlets.All)

    watch(mon)
    gaps = []
    while not execution.status.is_terminal:
        tick_at = time.perf_counter()
        time.sleep(0.005)
        gaps.append(time.perf_counter() - tick_at)
        assert time.monotonic() - began < 60
    elapsed = time.monotonic() - began
    wait_until(lambda: "COMPLETED" in mon.status.value, what="the end shown")
    try:
        assert len(execution.tasks) == 10_001 and execution.status == "COMPLETED"
        # One refresh at creation, then at most one per 0.25 s (+1 for the end and the diagram's catch-up).
        assert mon.refresh_count <= 4 * (time.monotonic() - began) + 3, (mon.refresh_count, elapsed)
        assert len(changes) < 40 * mon.refresh_count < 10_000 / 5, (len(changes), mon.refresh_count)
        assert max(gaps) < 1.0, f"the calling thread was held for {max(gaps):.3f} s"
        assert mon.progress.value == mon.progress.max == 10_001
    finally:
        mon.close()
        execution._runtime.close()


def test_monitor_of_a_finished_foreground_run_and_dot_fallback():
    execution = flowkit.run(loop_workflow(3), {}, workers=[tick], store="memory")
    mon = Monitor(execution, renderers=[])  # no Graphviz: the diagram is the DOT text
    try:
        wait_until(lambda: "digraph" in mon.diagram.value, what="the diagram")
        assert "<pre" in mon.diagram.value and mon.diagram_count == 1
        assert "No Graphviz renderer found" in mon.diagram.value
        assert shown_status(mon) == "COMPLETED" and mon.progress_text.value == "4 / 4 tasks done"
        assert len(mon.rerun_task.options) == 4
    finally:
        mon.close()
    assert mon._on_command not in execution._runtime.runner.listeners


def test_close_stops_watching_but_not_the_run(run):
    mon = monitor(run, min_interval=0.05, poll_interval=0.05)
    listeners = run._runtime.runner.listeners
    assert mon._on_command in listeners
    mon.close()
    assert mon._on_command not in listeners and not mon._refresher.alive
    count = mon.refresh_count
    run.complete_task("approve", {"approved_by": "x"})
    assert run.wait(10).status == "COMPLETED"
    time.sleep(0.15)
    assert mon.refresh_count == count
    mon._refresher._thread.join(2)
    assert not mon._refresher._thread.is_alive()
