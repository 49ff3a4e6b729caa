"""Clicking the monitor's diagram: a task's node opens its inspector in place (a sub-workflow's
task opens the child run's inspector), a folded fan-out unfolds, the start and end do nothing.

A click arrives from the browser as the diagram widget's custom message ``{"event": "click",
"node": <node id>}``; here the same message is handed to the widget (tests/browser clicks for real).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from nb_helpers import wait_until

import flowkit
from flowkit import render
from flowkit.notebook import monitor
from flowkit.notebook._diagram_view import DiagramView, resolve_node

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "render"))
from diagram_samples import failed_run, six_branch_fork, sub_workflows  # noqa: E402


def click(mon, node_id: str) -> None:
    """What the browser sends when node ``node_id`` is clicked."""
    mon.diagram._received(mon.diagram, {"event": "click", "node": node_id}, [])


def drawn(mon) -> str:
    wait_until(lambda: "<svg" in mon.diagram.value, what="the diagram")
    return mon.diagram.value


@pytest.fixture
def closing():
    made = []
    yield made.append
    for mon in made:
        mon.close()


def test_the_diagram_is_a_clickable_widget_whose_node_titles_are_task_references(closing):
    run = failed_run()
    mon = monitor(run)
    closing(mon)
    assert isinstance(mon.diagram, DiagramView) and mon.diagram in mon.children
    page = drawn(mon)
    assert "<title>resize</title>" in page and "<title>thumbnail</title>" in page
    assert "g.node" in mon.diagram._esm and "model.send" in mon.diagram._esm


def test_clicking_a_failed_task_opens_its_inspector_in_the_monitor(closing):
    run = failed_run()
    mon = monitor(run)
    closing(mon)
    drawn(mon)
    assert mon.inspector is None
    click(mon, "resize")
    inspector = mon.inspector
    assert inspector is not None and inspector in mon.inspect_form.box.children
    assert mon.inspect_form.box in mon.children
    assert "<b>resize</b>" in inspector.summary.value and "FAILED" in inspector.summary.value
    assert "attempt 3 of 3" in inspector.summary.value
    assert "No such file or directory" in inspector.summary.value
    assert mon.inspect_task.value == "resize"
    assert mon.message.value == "inspecting resize"
    # Another node: the same inspector shows that task.
    click(mon, "(start)")  # not a task: the ESM never sends it, and Python ignores it too
    assert mon.inspector is inspector and "<b>resize</b>" in inspector.summary.value
    click(mon, "thumbnail")  # never reached: says so, changes nothing
    assert mon.message.value == "thumbnail: no task ran there yet"
    assert "<b>resize</b>" in inspector.summary.value


def test_clicking_a_sub_workflows_task_inspects_the_child_run(closing):
    run = sub_workflows()
    mon = monitor(run)
    closing(mon)
    page = drawn(mon)
    assert "<title>subworkflow_png_ref/upload_toS3_ref</title>" in page
    click(mon, "subworkflow_png_ref/upload_toS3_ref")
    inspector = mon.inspector
    child = run.sub_workflow("subworkflow_png_ref")
    assert inspector.execution.workflow_id == child.workflow_id != run.workflow_id
    assert "<b>upload_toS3_ref</b>" in inspector.summary.value and "COMPLETED" in inspector.summary.value
    assert mon.inspect_task.value == ""  # the drop-down lists the parent's tasks
    assert mon.message.value == f"inspecting upload_toS3_ref (in sub-workflow {child.workflow_id})"
    # Back to a task of the parent: a parent inspector again.
    click(mon, "subworkflow_jpg_ref")
    assert mon.inspector.execution.workflow_id == run.workflow_id
    assert "<b>subworkflow_jpg_ref</b>" in mon.inspector.summary.value


def test_a_dynamic_fork_branch_opens_its_task(closing):
    run = six_branch_fork()
    mon = monitor(run)
    closing(mon)
    fork = "image_multiple_convert_resize_fork_ref"
    branch = "image_convert_resize_webp_160x120_5"
    assert f"<title>{fork}/{branch}</title>" in drawn(mon)
    click(mon, f"{fork}/{branch}")
    assert f"<b>{branch}</b>" in mon.inspector.summary.value


def wide_fork(n: int):
    def plan() -> dict:
        return {
            "dynamicTasks": [{"name": "leaf", "taskReferenceName": f"leaf_{i}"} for i in range(n)],
            "dynamicTasksInput": {f"leaf_{i}": {"i": i} for i in range(n)},
        }

    def leaf(i: int) -> dict:
        return {"i": i}

    definition = {
        "name": "wide",
        "tasks": [
            {"name": "plan", "taskReferenceName": "plan"},
            {
                "name": "fork",
                "taskReferenceName": "fork",
                "type": "FORK_JOIN_DYNAMIC",
                "dynamicForkTasksParam": "dynamicTasks",
                "dynamicForkTasksInputParamName": "dynamicTasksInput",
                "inputParameters": {
                    "dynamicTasks": "${plan.output.dynamicTasks}",
                    "dynamicTasksInput": "${plan.output.dynamicTasksInput}",
                },
            },
            {"name": "join", "taskReferenceName": "join", "type": "JOIN"},
        ],
    }
    return flowkit.run(definition, {}, workers={"plan": plan, "leaf": leaf}, store="memory")


def test_clicking_a_folded_fan_out_unfolds_it_in_place(closing):
    run = wide_fork(14)
    mon = monitor(run)
    closing(mon)
    # Folded; the unfolded copy behind a "show the 14 folded branches" toggle is for the static result.
    page, toggle = drawn(mon).split("<details", 1)
    assert "<title>fork/×</title>" in page and "<title>fork/leaf_3</title>" not in page
    assert "show the 14 folded branches" in toggle
    before = mon.diagram_count
    click(mon, "fork/×")
    page = mon.diagram.value
    assert "<details" not in page
    assert mon.diagram_count == before + 1
    assert "<title>fork/×</title>" not in page
    assert all(f"<title>fork/leaf_{i}</title>" in page for i in range(14))
    assert mon.message.value == "fork: every branch shown"
    click(mon, "fork/leaf_13")  # a branch of the unfolded fork
    assert "<b>leaf_13</b>" in mon.inspector.summary.value
    # It stays unfolded when the diagram is drawn again (a retry, a rerun, a refresh).
    mon._diagram_key = None
    mon.refresh()
    assert "<title>fork/leaf_0</title>" in mon.diagram.value


def test_render_dot_unfolds_the_forks_it_is_told_to():
    run = wide_fork(12)
    assert "fork/×" in render.dot(run) and "fork/leaf_0" not in render.dot(run)
    unfolded = render.dot(run, expand=["fork"])
    assert "fork/×" not in unfolded and "fork/leaf_11" in unfolded
    assert render.dot(run, expand="fork") == unfolded  # one id alone, not its letters
    assert render.dot(run, expand=["elsewhere"]) == render.dot(run)


def test_resolve_node_maps_node_ids_to_the_execution_and_reference():
    run = sub_workflows()
    assert resolve_node(run, "fork_ref") == (run, "fork_ref")
    child, ref = resolve_node(run, "subworkflow_jpg_ref/image_convert_resize_ref")
    assert (
        ref == "image_convert_resize_ref" and child.workflow_id == run.sub_workflow("subworkflow_jpg_ref").workflow_id
    )
    assert resolve_node(run, "(end)") is None
    assert resolve_node(run, "nowhere/at_all") is None
