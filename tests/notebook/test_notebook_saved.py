"""The monitor survives the notebook: executed in a real kernel (nbclient), the saved outputs hold the
finished run's static result (summary and inline ``<svg>`` diagram) as ``text/html`` next to the
widget view, for a run that had ended when the monitor was shown and for one that ended later (the
monitor updates its output by display id); nbconvert's HTML shows it where the widget cannot be."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
WIDGET = "application/vnd.jupyter.widget-view+json"

CELLS = [
    """import time
import flowkit
from flowkit.notebook import monitor

def slow() -> dict:
    time.sleep(0.8)
    return {"ok": True}

def fails() -> dict:
    raise RuntimeError("the disk is full")

wf = {"name": "saved_demo", "version": 1, "schemaVersion": 2,
      "tasks": [{"name": "slow", "taskReferenceName": "slow_step"}, {"name": "fails", "taskReferenceName": "last_step"}]}
defs = [{"name": "fails", "retryCount": 1, "retryDelaySeconds": 0}]""",
    # a run that has ended when its monitor is shown
    """done = flowkit.run(wf, {}, workers={"slow": slow, "fails": fails}, task_defs=defs, store="memory")
monitor(done)""",
    # a live run: its monitor is shown while it runs and updated when it ends
    """live = flowkit.start(wf, {}, workers={"slow": slow, "fails": fails}, task_defs=defs, store="memory")
live_monitor = monitor(live)
live_monitor""",
    """live.wait(30)
deadline = time.monotonic() + 20
while live_monitor._published is None or live_monitor._published[0] != live_monitor._last.key:
    time.sleep(0.05)
    assert time.monotonic() < deadline, "the result was not published"
time.sleep(0.5)  # the update message reaches nbclient while this cell runs
live.status""",
]


def execute(tmp_path, monkeypatch, *, store_widget_state: bool):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p))
    monkeypatch.setenv("FLOWKIT_HOME", str(tmp_path / "home"))
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    NotebookClient(
        nb,
        timeout=90,
        kernel_name="python3",
        store_widget_state=store_widget_state,
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    path = tmp_path / "saved.ipynb"
    nbformat.write(nb, path)
    return nbformat.read(path, as_version=4)


def test_saved_outputs_hold_the_ended_runs_static_result(tmp_path, monkeypatch):
    nb = execute(tmp_path, monkeypatch, store_widget_state=True)
    for index in (1, 2):
        (output,) = [o for o in nb.cells[index].outputs if o["output_type"] == "display_data"]
        data = output["data"]
        assert WIDGET in data  # the live widget, for the session that made it
        page = data["text/html"]
        assert page.startswith("<div class='flowkit-result'"), page[:200]
        assert "data-status='FAILED'" in page and "the disk is full" in page
        assert "<svg" in page and "slow_step" in page and "last_step" in page  # the final diagram
        assert "FAILED: 1 of 2 tasks completed (1 failed)" in page and "took " in page
        assert data["text/plain"].startswith("saved_demo ") and " FAILED — " in data["text/plain"]
        assert "RUNNING" not in page  # the live run's output was updated when the run ended


def test_nbconvert_html_shows_the_static_result(tmp_path, monkeypatch):
    from nbconvert import HTMLExporter

    nb = execute(tmp_path, monkeypatch, store_widget_state=False)
    body, _ = HTMLExporter().from_notebook_node(nb)
    assert body.count('<div class="flowkit-result"') == 2  # nbconvert rewrites the quotes
    assert body.count("<svg") >= 2 and "the disk is full" in body
    assert "model not found" not in body
