"""A saved, executed notebook reopened in JupyterLab in a fresh browser page: where the live monitor was,
the finished run's static result shows (its diagram, its summary), not "Error displaying
widget: model not found".

The notebook is executed in a real kernel (nbclient, as ``jupyter nbconvert --execute`` or a CI run
would), saved through the server's contents API and opened in a new page of Debian's chromium. The
kernel that made the widgets is gone; the monitor's output bundle carries ``text/html`` next to the
widget view, and JupyterLab renders that (sanitized: the notebook is not trusted here) for an
output whose widget it cannot show. The sanitizer drops ``<svg>``: the diagram is shown from its
``<img>`` copy.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.request

import nbformat
from browser_support import ARTIFACTS, ROOT, WAIT_MS, chromium
from nbclient import NotebookClient
from test_browser_jupyterlab import TOKEN, lab  # noqa: F401 - the JupyterLab server fixture

SAVED = "saved_run.ipynb"
CELLS = [
    """import flowkit
from flowkit.notebook import monitor

def prepare(order: str) -> dict:
    return {"order": order}

def charge(order: str) -> dict:
    raise RuntimeError(f"card declined for {order}")

wf = {"name": "saved_in_lab", "version": 1, "schemaVersion": 2, "tasks": [
    {"name": "prepare", "taskReferenceName": "prepare_order", "inputParameters": {"order": "${workflow.input.order}"}},
    {"name": "charge", "taskReferenceName": "charge_card", "inputParameters": {"order": "${prepare_order.output.order}"}}]}
run = flowkit.run(wf, {"order": "S-1"}, workers={"prepare": prepare, "charge": charge},
                  task_defs=[{"name": "charge", "retryCount": 0}], store="memory")
monitor(run)""",
]


def executed_notebook(tmp_path, monkeypatch) -> dict:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p))
    monkeypatch.setenv("FLOWKIT_HOME", str(tmp_path / "home"))
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    NotebookClient(nb, timeout=90, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    return json.loads(nbformat.writes(nb))


def save(url: str, name: str, notebook: dict) -> None:
    body = json.dumps({"type": "notebook", "format": "json", "content": notebook}).encode()
    request = urllib.request.Request(
        f"{url}/api/contents/{name}",
        data=body,
        method="PUT",
        headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status in (200, 201)


def test_a_saved_notebook_reopened_shows_the_finished_runs_diagram(lab, tmp_path, monkeypatch):  # noqa: F811
    from playwright.sync_api import expect

    save(lab, SAVED, executed_notebook(tmp_path, monkeypatch))
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1400})  # a fresh page: no widget state
        page.set_default_timeout(WAIT_MS)
        page.goto(f"{lab}/lab/tree/{SAVED}?token={TOKEN}", timeout=WAIT_MS)
        cell = page.locator(".jp-Notebook .jp-CodeCell").first
        result = cell.locator(".flowkit-result")
        expect(result).to_be_visible(timeout=WAIT_MS)
        # An untrusted output is sanitized (data-* attributes dropped); the text and the <svg> stay.
        expect(result.locator(".flowkit-workflow-status")).to_have_text("FAILED")
        # Sanitized, the inline <svg> is gone (what is left of it stays hidden); its <img> copy shows.
        expect(result.locator(".flowkit-result-svg")).to_be_hidden()
        diagram = result.locator("img.flowkit-result-img")
        expect(diagram).to_be_visible()
        src = diagram.get_attribute("src") or ""
        assert src.startswith("data:image/svg+xml;base64,"), src[:80]
        drawn = base64.b64decode(src.split(",", 1)[1]).decode()
        assert "<svg" in drawn and "charge_card" in drawn and "prepare_order" in drawn
        assert diagram.evaluate("img => img.complete && img.naturalWidth") > 100  # decoded and drawn
        expect(result).to_contain_text("card declined for S-1")
        expect(result).to_contain_text("FAILED: 1 of 2 tasks completed (1 failed)")
        page.wait_for_timeout(1000)  # the widget manager has restored what it could by now
        expect(page.locator(".jp-Notebook")).not_to_contain_text("model not found")
        expect(page.locator(".jp-Notebook")).not_to_contain_text("Error displaying widget")
        ARTIFACTS.mkdir(exist_ok=True)
        cell.screenshot(path=str(ARTIFACTS / "jupyterlab_saved_notebook.png"))
