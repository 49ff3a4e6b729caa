"""What the monitor shows for a run that retried, one that was terminated and one with a dynamic fork:
counters by each task's latest attempt, retries noted, 1-based attempts, controls enabled only when
the operation is allowed, the inspector opened in place, and the static result (summary and inline
SVG diagram) carried in the widget's output bundle."""

from __future__ import annotations

import re

import pytest
from nb_helpers import WORKERS, human_workflow, wait_until

import flowkit
from flowkit.notebook import monitor
from flowkit.notebook._snapshot import attempt_label, snapshot

RETRY_DEFS = [{"name": "flaky", "retryCount": 3, "retryDelaySeconds": 0}]


def retried_workflow() -> dict:
    return {
        "name": "retried",
        "version": 1,
        "schemaVersion": 2,
        "tasks": [{"name": "flaky", "taskReferenceName": "fetch"}, {"name": "tick", "taskReferenceName": "after"}],
    }


def flaky_worker(fails: int):
    calls: list[int] = []

    def flaky() -> dict:
        calls.append(1)
        if len(calls) <= fails:
            raise RuntimeError(f"connection reset #{len(calls)}")
        return {"ok": True}

    return flaky


def tick() -> dict:
    return {}


def badges(html: str) -> dict[str, int]:
    """The counters' badges: {status: number of tasks}."""
    return {
        s: int(n)
        for s, n in re.findall(r"class='flowkit-badge' data-status='([A-Z_]+)'[^>]*>[^<]*?: (\d+)</span>", html)
    }


def enabled(mon) -> dict[str, bool]:
    return {
        b.description: not b.disabled
        for b in (mon.pause_button, mon.resume_button, mon.terminate_button, mon.retry_button)
    }


@pytest.fixture
def retried_run():
    run = flowkit.run(
        retried_workflow(), {}, workers={"flaky": flaky_worker(2), "tick": tick}, task_defs=RETRY_DEFS, store="memory"
    )
    assert run.status == "COMPLETED"
    mon = monitor(run, min_interval=0.05, poll_interval=0.1)
    yield run, mon
    mon.close()
    run.runtime.close()


def test_a_completed_run_whose_retries_succeeded_counts_tasks_not_attempts(retried_run):
    run, mon = retried_run
    assert len(run.tasks) == 4  # fetch failed twice, then passed; after passed
    assert badges(mon.counters.value) == {"COMPLETED": 2}  # no red FAILED: 2
    assert "FAILED" not in mon.counters.value
    assert "2 retries: fetch (2 retries)" in mon.counters.value
    assert mon.progress_text.value == "2 tasks completed"
    assert mon.progress.value == mon.progress.max == 2 and mon.progress.bar_style == "success"
    assert "no running or failed tasks" in mon.tasks.value
    # The execution JSON keeps Conductor's 0-based retryCount; the monitor says "attempt 3 of 4".
    last = run.task("fetch")
    assert last.retry_count == 2 and run.to_json()["tasks"][2]["retryCount"] == 2
    assert attempt_label(last).endswith("COMPLETED attempt 3 of 4")
    assert "try" not in attempt_label(last)
    labels = [label for label, _ in mon.rerun_task.options]
    assert [x.split("] ")[1] for x in labels[:3]] == [
        "FAILED attempt 1 of 4",
        "FAILED attempt 2 of 4",
        "COMPLETED attempt 3 of 4",
    ]
    # Ended: only Retry (and Rerun) are allowed.
    assert enabled(mon) == {"Pause": False, "Resume": False, "Terminate": False, "Retry": True}
    assert not mon.rerun_button.disabled


def test_a_scheduled_retry_shows_the_reason_it_retries_as_such():
    gate = {"fail": True}

    def flaky() -> dict:
        if gate["fail"]:
            raise RuntimeError("disk full")
        return {}

    defs = [{"name": "flaky", "retryCount": 2, "retryDelaySeconds": 30}]
    run = flowkit.start(retried_workflow(), {}, workers={"flaky": flaky, "tick": tick}, task_defs=defs, store="memory")
    try:
        wait_until(lambda: len(run.tasks) == 2, what="the retry scheduled")
        snap = snapshot(run.model)
        assert snap.counts == {"SCHEDULED": 1} and snap.total == 1 and snap.attempts == 2
        assert snap.retried == {"fetch": 1}
        mon = monitor(run, min_interval=0.05)
        try:
            row = mon.tasks.value
            assert "attempt 2 of 3" in row and "retry of: " in row
            assert "<span class='flowkit-retry-of'" in row and "retry of: disk full" in row
            assert "FAILED" not in mon.counters.value  # the failed attempt is history, the task waits
            assert mon.progress_text.value == "0 of 1 task done so far"
            assert enabled(mon) == {"Pause": True, "Resume": False, "Terminate": True, "Retry": False}
            mon.pause_button.click()
            assert enabled(mon) == {"Pause": False, "Resume": True, "Terminate": True, "Retry": False}
        finally:
            mon.close()
    finally:
        run.terminate("test over")
        run.runtime.close()


def test_a_terminated_run_is_not_shown_as_done():
    run = flowkit.start(human_workflow(), {"order": "T-1"}, workers=WORKERS, store="memory")
    mon = monitor(run, min_interval=0.05, poll_interval=0.1)
    try:
        wait_until(lambda: run.tasks[-1].ref == "approve", what="the HUMAN task")
        wait_until(lambda: mon.human_box.layout.display == "", what="the HUMAN form")
        assert enabled(mon) == {"Pause": True, "Resume": False, "Terminate": True, "Retry": False}
        assert mon.human_form.task.style.description_width == "initial"  # "HUMAN task", not "HUMAN ta…"
        mon.terminate_button.click()
        assert run.status == "TERMINATED"
        assert mon.progress_text.value == "TERMINATED: 1 of 2 tasks completed (1 canceled)"
        assert mon.progress.value == 1 and mon.progress.max == 2 and mon.progress.bar_style == "danger"
        assert "2/2" not in mon.progress_text.value and "2 of 2" not in mon.progress_text.value
        assert badges(mon.counters.value) == {"COMPLETED": 1, "CANCELED": 1}
        assert enabled(mon) == {"Pause": False, "Resume": False, "Terminate": False, "Retry": True}
        wait_until(lambda: mon.human_box.layout.display == "none", what="the form hidden")
    finally:
        mon.close()
        run.runtime.close()


def fork_workflow() -> dict:
    return {
        "name": "fanout",
        "version": 1,
        "schemaVersion": 2,
        "tasks": [
            {"name": "gen", "taskReferenceName": "gen"},
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
        ],
    }


def test_a_dynamic_fork_states_its_total_as_growing_then_known():
    gate = {"open": False}

    def gen() -> dict:
        return {
            "dynamicTasks": [{"name": "leaf", "taskReferenceName": f"leaf_{i}"} for i in range(6)],
            "dynamicTasksInput": {f"leaf_{i}": {"i": i} for i in range(6)},
        }

    def leaf(i: int) -> dict:
        if i == 0:
            wait_until(lambda: gate["open"], what="the gate")
        return {"i": i}

    defs = [{"name": "leaf", "retryCount": 0}]
    run = flowkit.start(fork_workflow(), {}, workers={"gen": gen, "leaf": leaf}, task_defs=defs, store="memory")
    mon = monitor(run, min_interval=0.05, poll_interval=0.1)
    try:
        wait_until(lambda: len(run.tasks) == 9, what="the fork's 6 leaves and join")
        wait_until(
            lambda: "so far" in mon.progress_text.value and "of 9 tasks" in mon.progress_text.value,
            what="the growing total",
        )
        assert re.fullmatch(r"\d of 9 tasks done so far", mon.progress_text.value)
        assert enabled(mon)["Terminate"] and not enabled(mon)["Retry"]
        gate["open"] = True
        assert run.wait(10).status == "COMPLETED"
        wait_until(lambda: mon.progress_text.value == "9 tasks completed", what="the known total")
        assert badges(mon.counters.value) == {"COMPLETED": 9}
        assert mon.progress.value == mon.progress.max == 9
    finally:
        gate["open"] = True
        mon.close()
        run.runtime.close()


def test_choosing_a_task_opens_its_inspector_in_place(retried_run):
    run, mon = retried_run
    wait_until(lambda: mon._inspect_form is not None, what="the inspect drop-down")
    assert [v for _, v in mon.inspect_task.options] == ["", "fetch", "after"]
    assert mon.inspector is None
    mon.inspect_task.value = "fetch"
    inspector = mon.inspector
    assert inspector is not None and inspector in mon.inspect_form.box.children
    assert inspector.summary.value.count("fetch") and "attempt 3 of 4" in inspector.summary.value
    assert mon.inspect("after") is inspector and "<b>after</b>" in inspector.summary.value


def test_the_output_bundle_carries_a_static_result_with_the_final_diagram(retried_run):
    run, mon = retried_run
    bundle = mon._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    page = bundle["text/html"]
    assert page.startswith("<div class='flowkit-result'") and "data-status='COMPLETED'" in page
    assert "<svg" in page and "fetch" in page  # the final diagram, inline
    assert "2 tasks completed" in page and "4 attempts" in page and "took " in page
    assert "<script" not in page
    assert bundle["text/plain"].startswith(f"retried {run.workflow_id} COMPLETED: 2 tasks completed")


def test_a_failed_run_result_carries_its_reason_and_failed_tasks():
    run = flowkit.run(
        retried_workflow(), {}, workers={"flaky": flaky_worker(9), "tick": tick}, task_defs=RETRY_DEFS, store="memory"
    )
    mon = monitor(run)
    try:
        assert run.status == "FAILED"
        page = mon._repr_mimebundle_()["text/html"]
        assert "connection reset #4" in page and "data-ref='fetch'" in page and "attempt 4 of 4" in page
        assert "FAILED: 0 of 1 task completed (1 failed)" in page
        assert "3 retries: fetch (3 retries)" in page
    finally:
        mon.close()
        run.runtime.close()
