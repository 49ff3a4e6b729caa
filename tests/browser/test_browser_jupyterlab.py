"""A JupyterLab smoke test in a real browser: ``jupyter lab`` serves a small notebook, Debian's
chromium (driven by Playwright) runs it with Run All, checks the workflow diagram is inline SVG
(``text/html``, so the nodes' ``<title>`` tooltips work; JupyterLab would show ``image/svg+xml`` as an
``<img>``) and drives the live monitor: Pause, Resume, then the HUMAN task's form until COMPLETED.

The test FAILS (never skips) when chromium, JupyterLab or Playwright is missing. Everything the
server writes (settings, workspaces, runtime files, the flowkit store) goes to temporary directories;
the settings that keep a fresh JupyterLab from interrupting (the "Select Kernel" dialog, the news
toast) are user settings in a temporary JUPYTERLAB_SETTINGS_DIR, not files in the environment.
Screenshots are written to tests/browser/artifacts/.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.request

import pytest
from browser_support import ARTIFACTS, WAIT_MS, button, chromium, free_port, require, server, server_env, status_of

TOKEN = "flowkit-browser-test"
NOTEBOOK = "lab_smoke.ipynb"
CELLS = [
    """import flowkit
from flowkit.definitions._builder import HumanTask
from flowkit.notebook import monitor


@flowkit.worker_task(task_definition_name="prepare")
def prepare(order: str) -> dict:
    return {"order": order, "items": 3}


@flowkit.worker_task(task_definition_name="ship")
def ship(order: str, approved_by: str = "nobody") -> dict:
    return {"shipped": order, "approved_by": approved_by}


wf = flowkit.WorkflowBuilder("lab_smoke")
wf >> prepare(task_ref_name="prepare", order=wf.input("order"))
wf >> HumanTask("approve")
wf >> ship(task_ref_name="ship", order="${prepare.output.order}", approved_by="${approve.output.approved_by}")""",
    "wf",  # the diagram: text/html with an inline <svg>
    """run = flowkit.start(wf, {"order": "L-1"}, workers=[prepare, ship])
run_monitor = monitor(run)
run_monitor""",
]
# Plain JSON is valid JSON5 (the .jupyterlab-settings format).
SETTINGS = {
    # no "Select Kernel" dialog on a fresh server; every cell in the DOM (no virtual scrolling)
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "autoStartDefaultKernel": True,
        "windowingMode": "none",
    },
    # no "Would you like to get notified about official Jupyter news?" toast over the page
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


def write_notebook(path) -> None:
    cells = [
        {"cell_type": "code", "execution_count": None, "id": f"cell-{i}", "metadata": {}, "outputs": [], "source": src}
        for i, src in enumerate(CELLS)
    ]
    kernelspec = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    notebook = {"cells": cells, "metadata": {"kernelspec": kernelspec}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(notebook, indent=1))


def get_json(url: str):
    request = urllib.request.Request(url, headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(request, timeout=5) as answer:
        return json.load(answer)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """``jupyter lab`` on a free port with a token; killed (its whole process group) at the end."""
    require("jupyterlab", "playwright")
    base = tmp_path_factory.mktemp("jupyterlab")
    dirs = {name: base / name for name in ("notebooks", "home", "config", "data", "runtime", "settings", "workspaces")}
    for path in dirs.values():
        path.mkdir()
    (dirs["home"] / "flowkit").mkdir()
    write_notebook(dirs["notebooks"] / NOTEBOOK)
    for relative, values in SETTINGS.items():
        (dirs["settings"] / relative).parent.mkdir(parents=True, exist_ok=True)
        (dirs["settings"] / relative).write_text(json.dumps(values, indent=1))
    env = server_env(
        HOME=str(dirs["home"]),
        FLOWKIT_HOME=str(dirs["home"] / "flowkit"),
        IPYTHONDIR=str(dirs["home"] / ".ipython"),
        JUPYTER_CONFIG_DIR=str(dirs["config"]),
        JUPYTER_DATA_DIR=str(dirs["data"]),
        JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
        JUPYTERLAB_SETTINGS_DIR=str(dirs["settings"]),
        JUPYTERLAB_WORKSPACES_DIR=str(dirs["workspaces"]),
    )
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={TOKEN}",
        f"--ServerApp.root_dir={dirs['notebooks']}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabServerApp.extension_manager=readonly",
        "--allow-root",  # --allow-root: CI may run as root
    ]
    url = f"http://127.0.0.1:{port}"
    with server("jupyterlab", argv, env=env, cwd=dirs["notebooks"], probe=f"{url}/api/status", log_dir=base):
        # The overrides are in effect (a setting that did not apply would bring back the dialog or toast).
        tracker = get_json(f"{url}/lab/api/settings/@jupyterlab/notebook-extension:tracker")
        assert tracker["settings"]["autoStartDefaultKernel"] is True, tracker
        assert tracker["settings"]["windowingMode"] == "none", tracker
        notification = get_json(f"{url}/lab/api/settings/@jupyterlab/apputils-extension:notification")
        assert notification["settings"]["fetchNews"] == "false", notification
        yield url


def wait_for_attached_idle_kernel(url: str) -> None:
    """Wait until the page's kernel is idle AND its websocket is attached: Run All fired any earlier
    (the toolbar already says idle) leaves the cells at ``[ ]:``."""
    deadline = time.monotonic() + WAIT_MS / 1000
    kernels: list = []
    while time.monotonic() < deadline:
        kernels = get_json(f"{url}/api/kernels")
        if any(k.get("connections", 0) >= 1 and k.get("execution_state") == "idle" for k in kernels):
            return
        time.sleep(0.2)
    pytest.fail(f"no idle kernel with a connection after {WAIT_MS / 1000:.0f} s: {kernels}", pytrace=False)


@pytest.fixture(scope="module")
def notebook(lab):
    """The notebook open in JupyterLab, run with Run All, its monitor drawn."""
    with chromium() as browser:
        tab = browser.new_page(viewport={"width": 1280, "height": 1600})
        tab.set_default_timeout(WAIT_MS)
        tab.goto(f"{lab}/lab/tree/{NOTEBOOK}?token={TOKEN}", timeout=WAIT_MS)
        tab.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=WAIT_MS)
        wait_for_attached_idle_kernel(lab)
        tab.locator("li.lm-MenuBar-item", has_text="Run").first.click()
        # runmenu:run-all (the menu's command), not notebook:run-all-cells
        tab.locator("li.lm-Menu-item[data-command='runmenu:run-all']").click()
        tab.locator(".jp-Notebook .flowkit-monitor").first.wait_for(timeout=WAIT_MS)
        yield tab  # the browser (and its page) closes on the way out


def test_the_diagram_is_inline_svg_with_tooltips(notebook):
    from playwright.sync_api import expect

    output = notebook.locator(".jp-Notebook .jp-CodeCell").nth(1).locator(".jp-OutputArea-output")
    expect(output).to_have_count(1)
    expect(output).to_have_attribute("data-mime-type", "text/html")
    svg = output.locator("svg")
    expect(svg).to_be_visible()
    expect(output.locator("img")).to_have_count(0)
    # Graphviz's <title> children are the hover tooltips: one per node and edge.
    titles = svg.locator("title")
    expect(titles.filter(has_text="approve").first).to_be_attached()
    assert titles.count() >= 5, titles.all_text_contents()
    svg.locator("g.node", has=notebook.locator("title", has_text="approve")).first.hover()
    output.screenshot(path=str(ARTIFACTS / "jupyterlab_diagram.png"))


def test_pause_resume_then_complete_the_human_task_in_jupyterlab(notebook):
    from playwright.sync_api import expect

    run = notebook.locator(".jp-Notebook .flowkit-monitor").first
    expect(status_of(run)).to_have_text("RUNNING")
    form = run.locator(".flowkit-human")
    expect(form).to_be_visible()  # the HUMAN task is waiting
    expect(run.locator(".flowkit-diagram svg title").first).to_be_attached()  # the monitor's diagram: inline too
    button(run, "Pause").click()
    expect(status_of(run)).to_have_text("PAUSED")
    button(run, "Resume").click()
    expect(status_of(run)).to_have_text("RUNNING")
    form.locator("textarea").fill('{"approved_by": "jupyterlab"}')
    button(form, "Complete").click()
    expect(status_of(run)).to_have_text("COMPLETED")
    expect(form).to_be_hidden()
    expect(run.locator(".flowkit-counters")).to_contain_text("COMPLETED: 3")
    expect(run.locator(".flowkit-diagram svg")).to_contain_text("lab_smoke v1 · COMPLETED")  # recoloured
    run.screenshot(path=str(ARTIFACTS / "jupyterlab_monitor_completed.png"))
    notebook.screenshot(path=str(ARTIFACTS / "jupyterlab_page.png"))
