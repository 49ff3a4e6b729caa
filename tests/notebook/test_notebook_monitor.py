"""The live run monitor, in-process: real runs on flowkit.start's background thread, buttons clicked
with ``button.click()``, the throttling of refreshes counted on a 10,000-task run, and the incremental
Reader checked against a full read at every engine step. (Its speed is measured in bench/monitor_bench.py.)"""

from __future__ import annotations

import time

import ipywidgets as widgets
import pytest
import traitlets
from nb_helpers import WORKERS, human_workflow, loop_workflow, tick, wait_until

import flowkit
from flowkit.notebook import Monitor, monitor
from flowkit.notebook._snapshot import ACTIVE, FAILED, Reader, Snapshot, _row
from flowkit.runtime import RunEnded, TaskEnded, TaskStarted


@pytest.fixture
def run():
    execution = flowkit.start(human_workflow(), {"order": "A-1"}, workers=WORKERS, store="memory")
    wait_until(lambda: execution.tasks and execution.tasks[-1].ref == "approve", what="the HUMAN task")
    yield execution
    if not execution.status.is_terminal:
        execution.terminate("test over")
    execution.runtime.close()


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
    assert mon.progress.value == 1 and mon.progress.max == 2 and mon.progress_text.value == "1 of 2 tasks done so far"
    assert "data-status='COMPLETED'" in mon.counters.value and "IN_PROGRESS: 1" in mon.counters.value
    assert "data-ref='approve'" in mon.tasks.value  # the running task is listed
    assert mon.human_task.options == ("approve",) and mon.human_task.value == "approve"
    wait_until(lambda: "<svg" in mon.diagram.value or "digraph" in mon.diagram.value, what="the diagram")
    assert mon.diagram_count >= 1


def test_the_first_reading_is_shown_at_once_and_the_forms_are_made_off_the_callers_thread(run):
    made = monitor(run, min_interval=0.05, poll_interval=0.1)
    try:
        # The constructor's widgets hold the first reading; the caller's thread made nothing more.
        assert shown_status(made) == "RUNNING" and made.progress_text.value == "1 of 2 tasks done so far"
        assert made.progress.max == 2 and "data-status='COMPLETED'" in made.counters.value
        assert made._human is None and made._rerun_form is None and made.refresh_count == 1
        wait_until(lambda: made._human is not None and made._human.box.layout.display == "", what="HUMAN form")
        assert made._rerun_form is None  # only for a stopped run
    finally:
        made.close()


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
        execution.runtime.close()


def test_monitor_of_a_finished_foreground_run_and_dot_fallback():
    execution = flowkit.run(loop_workflow(3), {}, workers=[tick], store="memory")
    mon = Monitor(execution, renderers=[])  # no Graphviz: the diagram is the DOT text
    try:
        wait_until(lambda: "digraph" in mon.diagram.value, what="the diagram")
        assert "<pre" in mon.diagram.value and mon.diagram_count == 1
        assert "No Graphviz renderer found" in mon.diagram.value
        assert shown_status(mon) == "COMPLETED" and mon.progress_text.value == "4 tasks completed"
        assert len(mon.rerun_task.options) == 4
    finally:
        mon.close()
    assert mon._on_event not in execution.runtime.hooks.task_ended


def test_task_events_are_heard_only_while_no_refresh_is_pending(run):
    hooks = run.runtime.hooks
    mon = monitor(run, min_interval=0.05, poll_interval=60)
    try:
        # Built with its first background refresh due: nothing to hear until that refresh reads the run.
        assert mon._on_event not in hooks.task_started and mon._on_event in hooks.run_ended
        wait_until(lambda: mon._on_event in hooks.task_started, what="the first refresh arming the hooks")
        assert mon._on_event in hooks.task_ended
        count = mon.refresh_count
        run.complete_task("approve", {"approved_by": "x"})  # ends the HUMAN task: one event pokes, and disarms
        assert run.wait(10).status == "COMPLETED"
        wait_until(lambda: shown_status(mon) == "COMPLETED", what="the refresh after the task ended")
        assert mon.refresh_count > count
    finally:
        mon.close()
    assert mon._on_event not in hooks.task_started and mon._on_event not in hooks.run_ended


def test_close_stops_watching_but_not_the_run(run):
    mon = monitor(run, min_interval=0.05, poll_interval=0.05)
    hooks = run.runtime.hooks
    wait_until(lambda: mon._on_event in hooks.task_started, what="the first refresh arming the hooks")
    assert mon._on_event in hooks.task_ended
    mon.close()
    assert mon._on_event not in hooks.task_started
    assert mon._on_event not in hooks.task_ended and mon._on_event not in hooks.run_ended
    assert not mon._refresher.alive
    count = mon.refresh_count
    run.complete_task("approve", {"approved_by": "x"})
    assert run.wait(10).status == "COMPLETED"
    time.sleep(0.15)
    assert mon.refresh_count == count
    mon._refresher._thread.join(2)
    assert not mon._refresher._thread.is_alive()


# ---------------------------------------------------------------------------------------------- the Reader
def _full_read(model, now_ms):
    """The monitor's reading as one plain pass over every attempt: what a Reader must always give.

    Tasks are counted by their latest attempt (the last one of each ref in the list)."""
    tasks = list(model.tasks)
    latest = {}
    retried = {}
    for task in tasks:
        latest.pop(task.ref, None)  # a newer attempt moves the task to where it was scheduled last
        latest[task.ref] = task
        if task.retry_count:
            retried[task.ref] = task.retry_count
    counts, running, failed, human = {}, [], [], []
    more_running = more_failed = done = 0
    for task in latest.values():
        status = str(task.status)
        counts[status] = counts.get(status, 0) + 1
        if status in ACTIVE:
            if task.task_type == "HUMAN" and status == "IN_PROGRESS":
                human.append(task.ref)
            if len(running) < 30:
                running.append(_row(task, status, now_ms))
            else:
                more_running += 1
        else:
            done += 1
            if status in FAILED:
                if len(failed) >= 30:
                    failed.pop(0)
                    more_failed += 1
                failed.append(_row(task, status, now_ms))
    ended = model.end_time or now_ms
    return Snapshot(
        name=model.definition.name,
        workflow_id=model.workflow_id,
        status=str(model.status),
        reason=model.reason,
        total=len(latest),
        done=done,
        counts=counts,
        running=running,
        failed=failed,
        more_running=more_running,
        more_failed=more_failed,
        human=human,
        attempts=len(tasks),
        retried=retried,
        duration_ms=max(0, ended - model.create_time),
    )


def _checked_workflow():
    """first -> dynamic fork of 40 leaves (each fails twice: the workflow fails, and is retried) -> optional task that fails
    (COMPLETED_WITH_ERRORS) -> HUMAN approve -> boom (fails the workflow the first time it runs)."""
    return {
        "name": "reader_check",
        "version": 1,
        "schemaVersion": 2,
        "tasks": [
            {"name": "tick", "taskReferenceName": "first", "inputParameters": {"i": 1}},
            {"name": "gen", "taskReferenceName": "gen", "inputParameters": {"n": 40}},
            {
                "name": "fork",
                "taskReferenceName": "fork",
                "type": "FORK_JOIN_DYNAMIC",
                "inputParameters": {
                    "dynamicTasks": "${gen.output.dynamicTasks}",
                    "dynamicTasksInput": "${gen.output.dynamicTasksInput}",
                },
                "dynamicForkTasksParam": "dynamicTasks",
                "dynamicForkTasksInputParamName": "dynamicTasksInput",
            },
            {"name": "join", "taskReferenceName": "join", "type": "JOIN"},
            {"name": "opt", "taskReferenceName": "opt", "optional": True},
            {"name": "approve", "taskReferenceName": "approve", "type": "HUMAN"},
            {"name": "boom", "taskReferenceName": "boom"},
        ],
    }


def test_the_incremental_reader_reads_what_a_full_read_does_through_retry_rerun_and_restart():
    failing = True
    booms: list[int] = []

    def gen(n: int) -> dict:
        return {
            "dynamicTasks": [{"name": "flaky", "taskReferenceName": f"leaf_{i}"} for i in range(n)],
            "dynamicTasksInput": {f"leaf_{i}": {"i": i} for i in range(n)},
        }

    def flaky(i: int) -> dict:
        # Until the workflow is retried every leaf fails, its retry too (the workflow fails with 40
        # failed or canceled leaves); once the workflow is retried they pass.
        if failing:
            raise RuntimeError(f"leaf {i} fails")
        return {"i": i}

    def opt() -> dict:
        raise RuntimeError("optional, always fails")

    def boom() -> dict:
        booms.append(1)
        if len(booms) == 1:
            raise RuntimeError("boom")
        return {}

    task_defs = [
        {"name": "flaky", "retryCount": 1, "retryDelaySeconds": 0},
        {"name": "opt", "retryCount": 0},
        {"name": "boom", "retryCount": 0},
    ]
    workers = {"tick": tick, "gen": gen, "flaky": flaky, "opt": opt, "boom": boom}
    run = flowkit.start(
        _checked_workflow(), {}, workers=workers, task_defs=task_defs, executor="inline", store="memory"
    )
    every, sparse = Reader(), Reader()
    seen: list[Snapshot] = []
    wrong: list[tuple[Snapshot, Snapshot]] = []
    calls = [0]

    def compare(_event=None):
        # On the runtime thread between two engine steps (or on this one once the run waits): the
        # model holds still while it is read three times.
        now_ms = int(time.time() * 1000)
        expected = _full_read(run.model, now_ms)
        calls[0] += 1
        readers = [every, sparse] if calls[0] % 7 == 0 else [every]
        for reader in readers:
            got = reader.read(run.model, now_ms=now_ms)
            if got != expected:
                wrong.append((got, expected))
        seen.append(expected)

    unhook = [run.runtime.hooks.add(event, compare) for event in (TaskStarted, TaskEnded, RunEnded)]
    try:
        assert run.wait(10).status == "FAILED"
        compare()
        failing = False
        run.retry()
        wait_until(lambda: run.tasks[-1].ref == "approve" or run.status.is_terminal, what="the HUMAN task")
        assert run.tasks[-1].ref == "approve", (run.status, run.reason, run.tasks[-3:])
        compare()
        run.complete_task("approve", {})
        assert run.wait(10).status == "FAILED"
        compare()
        run.retry()
        assert run.wait(10).status == "COMPLETED"
        compare()
        run.rerun(from_task_id=run.task("first").task_id)
        wait_until(lambda: run.tasks[-1].ref == "approve" and run.tasks[-1].status == "IN_PROGRESS", what="rerun")
        run.complete_task("approve", {})
        assert run.wait(10).status == "COMPLETED"
        compare()
        run.restart()
        wait_until(lambda: run.tasks[-1].ref == "approve" and run.tasks[-1].status == "IN_PROGRESS", what="restart")
        compare()
        run.complete_task("approve", {})
        assert run.wait(10).status == "COMPLETED"
        compare()
    finally:
        for remove in unhook:
            remove()
        run.runtime.close()
    assert not wrong, wrong[0]
    # What the comparisons went through: more than 30 rows of each kind, HUMAN waiting, every end.
    assert any(s.more_running for s in seen) and any(s.more_failed for s in seen)
    assert any(s.human == ["approve"] for s in seen)
    assert {"COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED", "SCHEDULED"} <= {k for s in seen for k in s.counts}
    assert {s.status for s in seen} >= {"RUNNING", "FAILED", "COMPLETED"}
