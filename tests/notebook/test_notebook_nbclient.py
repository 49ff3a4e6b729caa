"""notebooks/widgets_demo.ipynb executed in a real kernel (nbclient), then driven by extra cells that
click the monitor's buttons as a user would; the widget models the kernel sent are checked."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "notebooks" / "widgets_demo.ipynb"

DRIVE = [
    # the HUMAN form appears once 'prepare' is done; Pause and Resume through the buttons
    """import time
deadline = time.monotonic() + 20
while run_monitor.human_box.layout.display == "none" and time.monotonic() < deadline:
    time.sleep(0.05)
assert run_monitor.human_task.value == "approve", run_monitor.human_task.options
run_monitor.pause_button.click()
assert run.status == "PAUSED", run.status
run_monitor.resume_button.click()
assert run.status == "RUNNING", run.status
run_monitor.human_output.value = '{"approved_by": "notebook"}'
run_monitor.complete_button.click()
assert run.wait(20).status == "COMPLETED", (run.status, run.reason)
time.sleep(0.5)  # the monitor's own (throttled) refresh, sent while this cell runs
run_monitor.refresh()
run.output""",
    # not allowed: retry a running workflow; then terminate it
    """run2_monitor.retry_button.click()
retry_message = run2_monitor.message.value
assert "only a terminal workflow can be retried" in retry_message, retry_message
assert run2.status == "RUNNING"
run2_monitor.terminate_button.click()
assert run2.status == "TERMINATED"
retry_message""",
    """from flowkit.notebook import Builder, inspect
inspect(run, task="ship")""",
    """builder = Builder("built", workers=[prepare, ship])
builder.workflow_inputs.value = "order"
builder.inputs.value = '{"order": "${workflow.input.order}"}'
builder.add_button.click()
builder""",
]


def widget_models(nb) -> list[dict]:
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    return [{"model": m["model_name"], **m["state"]} for m in state.values()]


def test_widgets_demo_runs_in_a_kernel_and_its_monitor_works(tmp_path, monkeypatch):
    # The kernel runs in tmp_path: make this checkout importable there whatever PYTHONPATH says.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p))
    monkeypatch.setenv("FLOWKIT_HOME", str(tmp_path / "home"))
    nb = nbformat.read(DEMO, as_version=4)
    nb.cells += [nbformat.v4.new_code_cell(source) for source in DRIVE]
    NotebookClient(
        nb, timeout=60, kernel_name="python3", store_widget_state=True, resources={"metadata": {"path": str(tmp_path)}}
    ).execute()

    code = [c for c in nb.cells if c.cell_type == "code"]
    views = [o for c in code for o in c.outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(views) == 4  # two monitors, the inspector, the builder
    assert code[3].outputs[-1]["data"]["text/plain"] == "{'shipped': 'A-1', 'approved_by': 'notebook'}"
    assert "Retry not allowed" in code[4].outputs[-1]["data"]["text/plain"]

    models = widget_models(nb)
    html = [m["value"] for m in models if m["model"] == "HTMLModel"]
    labels = [m["value"] for m in models if m["model"] == "LabelModel"]
    buttons = {m["description"] for m in models if m["model"] == "ButtonModel"}
    assert {"Pause", "Resume", "Terminate", "Retry", "Rerun", "Complete", "Fail"} <= buttons
    assert {"Timeline", "Tasks table", "Add", "Undo", "Export JSON", "Export Python"} <= buttons
    statuses = [v for v in html if "flowkit-workflow-status" in v]
    assert len(statuses) == 2
    assert any("data-status='COMPLETED'" in v and "widgets_demo" in v for v in statuses), statuses
    assert any("data-status='TERMINATED'" in v for v in statuses), statuses
    assert any(v.startswith("Complete approve: done") for v in labels), labels
    assert any(v.startswith("Terminate: done") for v in labels), labels
    assert any("<svg" in v and "flowkit-diagram" in v for v in html)  # diagrams drawn (Graphviz installed)
    assert any("flowkit-attempt" in v and "<b>ship</b>" in v for v in html)  # the inspector
    assert any("no problems" in v for v in html)  # the builder, after one step
    progress = [m for m in models if m["model"] == "IntProgressModel"]
    # the terminated run: 1 of its 2 tasks completed (not "2/2 done")
    assert sorted((m["value"], m["max"], m["bar_style"]) for m in progress) == [(1, 2, "danger"), (3, 3, "success")]


def test_timeline_shows_as_an_image_in_a_fresh_kernel_with_nothing_set_up(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p))
    monkeypatch.setenv("FLOWKIT_HOME", str(tmp_path / "home"))
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            """import flowkit
from flowkit.testing import VirtualClock
def add(a: int, b: int) -> dict:
    return {"sum": a + b}
wf = {"name": "adder", "tasks": [{"name": "add", "taskReferenceName": "add", "inputParameters": {"a": 1, "b": 2}},
                                 {"name": "v", "taskReferenceName": "v", "type": "SET_VARIABLE", "inputParameters": {"x": 1}}]}
ex = flowkit.run(wf, {}, workers={"add": add}, clock=VirtualClock())
assert ex.status == "COMPLETED", ex.reason"""
        ),
        nbformat.v4.new_code_cell("ex.timeline()"),
        nbformat.v4.new_code_cell("import sys; print(sorted(m for m in sys.modules if m == 'matplotlib.pyplot'))"),
    ]
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[1].outputs
    assert len(outputs) == 1, outputs  # shown once, not a second time by a pyplot backend
    data = outputs[0]["data"]
    assert "image/png" in data or "image/svg+xml" in data, data.keys()
    import base64

    assert base64.b64decode(data["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"
    assert data["text/plain"].startswith("<TimelineFigure size 1100x")
    assert nb.cells[2].outputs[0]["text"].strip() == "[]"  # no pyplot: nothing was set up behind the user's back
