"""Counters, badges, controls and attempt numbers together, for a dynamic fork whose branch retried
and for a terminated run: the parts tests/notebook/test_notebook_monitor_views.py leaves out
(attempts inside a fork, the diagram's legend, the inspector a click opens)."""

from __future__ import annotations

import re

from nb_helpers import WORKERS, human_workflow, wait_until
from test_notebook_monitor_views import badges, enabled, fork_workflow

import flowkit
from flowkit.notebook import monitor


def legend(mon) -> dict[str, int]:
    """The diagram legend's counts: {status: tasks}."""
    wait_until(lambda: "<svg" in mon.diagram.value, what="the diagram")
    return {s: int(n) for s, n in re.findall(r"[✔✘⊘▶…↷⏱⚠] ([A-Z_]+) (\d+)(?:<|\s|&)", mon.diagram.value)}


def test_a_dynamic_fork_whose_branch_retried_counts_tasks_and_numbers_attempts_from_one():
    failures = {"left": 1}

    def gen() -> dict:
        return {
            "dynamicTasks": [{"name": "leaf", "taskReferenceName": f"leaf_{i}"} for i in range(6)],
            "dynamicTasksInput": {f"leaf_{i}": {"i": i} for i in range(6)},
        }

    def leaf(i: int) -> dict:
        if i == 2 and failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("thumbnail server busy")
        return {"i": i}

    defs = [{"name": "leaf", "retryCount": 2, "retryDelaySeconds": 0}]
    run = flowkit.run(fork_workflow(), {}, workers={"gen": gen, "leaf": leaf}, task_defs=defs, store="memory")
    mon = monitor(run, min_interval=0.05, poll_interval=0.1)
    try:
        assert run.status == "COMPLETED" and len(run.tasks) == 10  # gen, fork, 6 leaves (one twice), join
        assert badges(mon.counters.value) == {"COMPLETED": 9}  # tasks, not the 10 attempts
        assert "FAILED" not in mon.counters.value and "1 retry: leaf_2 (1 retry)" in mon.counters.value
        assert mon.progress_text.value == "9 tasks completed"
        assert mon.progress.value == mon.progress.max == 9 and mon.progress.bar_style == "success"
        assert legend(mon) == {"COMPLETED": 9}
        assert enabled(mon) == {"Pause": False, "Resume": False, "Terminate": False, "Retry": True}
        labels = [label for label, _ in mon.rerun_task.options if " leaf_2 " in label]
        assert [label.split("] ")[1] for label in labels] == ["FAILED attempt 1 of 3", "COMPLETED attempt 2 of 3"]
        assert [t.retry_count for t in run.tasks if t.ref == "leaf_2"] == [0, 1]  # Conductor's 0-based count
        mon.diagram.click("fork/leaf_2")
        assert "COMPLETED</b>, attempt 2 of 3 (retryCount 1)" in mon.inspector.summary.value
    finally:
        mon.close()
        run.runtime.close()


def test_a_terminated_run_numbers_its_canceled_attempt_and_its_diagram_agrees():
    run = flowkit.start(human_workflow(), {"order": "T-2"}, workers=WORKERS, store="memory")
    mon = monitor(run, min_interval=0.05, poll_interval=0.1)
    try:
        wait_until(lambda: run.tasks[-1].ref == "approve", what="the HUMAN task")
        assert "approve" in mon.refresh().human
        mon.terminate_button.click()
        assert run.status == "TERMINATED"
        wait_until(lambda: "TERMINATED" in mon.diagram.value, what="the final diagram")
        assert badges(mon.counters.value) == {"COMPLETED": 1, "CANCELED": 1}
        assert legend(mon) == {"COMPLETED": 1, "CANCELED": 1}
        assert enabled(mon) == {"Pause": False, "Resume": False, "Terminate": False, "Retry": True}
        assert not mon.rerun_button.disabled
        canceled = [label for label, _ in mon.rerun_task.options if " approve " in label]
        assert canceled == [canceled[0]] and canceled[0].endswith("[HUMAN] CANCELED")  # one attempt, none allowed more
        page = mon.result_html()
        assert "data-status='TERMINATED'" in page and "1 canceled" in page
        mon.diagram.click("approve")
        assert "<b>CANCELED</b>" in mon.inspector.summary.value and "retryCount 0" in mon.inspector.summary.value
    finally:
        mon.close()
        run.runtime.close()
