"""The monitor in real JupyterLab and Voila (Debian's chromium through Playwright), for the three
runs the diagram tests draw (tests/render/diagram_samples.py): a six-branch dynamic fork,
sub-workflows and a failed run.

* every node of each monitor's diagram lies inside the cell's output area (no inner scroll box,
  nothing cut) and every text is at least 10 px; a screenshot of each monitor;
* clicking a node opens the inspector for that task in the monitor (a sub-workflow's task: the
  child run's); in Voila too;
* the notebook saved by JupyterLab itself (File > Save; widget state not saved, JupyterLab's
  default) and reopened in a fresh page after the kernel is gone shows each finished run's static
  result (diagram and summary), never "Error displaying widget: model not found".

FAILS (never skips) without chromium, JupyterLab, Voila or Playwright: see browser_support.py.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request

import nbformat
import pytest
from browser_support import ARTIFACTS, ROOT, WAIT_MS, chromium, free_port, require, server, server_env
from test_browser_jupyterlab import TOKEN, get_json, lab, wait_for_attached_idle_kernel  # noqa: F401
from test_browser_saved_notebook import save

NAME = "monitor_clicks.ipynb"
# A laptop screen with JupyterLab's file browser open: the output area is about 1,000 px wide. (At
# 1280 px it is about 850 px, and the six-branch fork, 880 pt wide across, shows its text at 9.6 px.)
VIEWPORT = {"width": 1440, "height": 1400}
VIEW = "application/vnd.jupyter.widget-view+json"
SETUP = f"""import sys
sys.path.insert(0, {str(ROOT / "tests" / "render")!r})
from diagram_samples import failed_run, six_branch_fork, sub_workflows
from flowkit.notebook import monitor"""
MONITORS = {"fork": "monitor(six_branch_fork())", "sub": "monitor(sub_workflows())", "failed": "monitor(failed_run())"}

MEASURE = """(monitor) => {
  const area = monitor.closest('.jp-OutputArea-output') || monitor.parentElement;
  const a = area.getBoundingClientRect();
  const svg = monitor.querySelector('.flowkit-diagram svg');
  const box = (el) => { const r = el.getBoundingClientRect(); return {x: r.left, y: r.top, r: r.right, b: r.bottom}; };
  return {
    area: {x: a.left, y: a.top, r: a.right, b: a.bottom},
    nodes: [...svg.querySelectorAll('g.node')].map(g => ({title: g.querySelector('title').textContent, ...box(g)})),
    texts: [...svg.querySelectorAll('text')].filter(t => t.textContent.trim()).map(t => ({
      text: t.textContent, px: parseFloat(t.getAttribute('font-size')) * t.getScreenCTM().a})),
    width: innerWidth,
  };
}"""


def notebook_json() -> dict:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nb.cells = [nbformat.v4.new_code_cell(SETUP)] + [
        nbformat.v4.new_code_cell(f"{name}_monitor = {code}\n{name}_monitor") for name, code in MONITORS.items()
    ]
    return json.loads(nbformat.writes(nb))


def node(scope, title: str):
    return scope.locator(".flowkit-diagram svg g.node").filter(has=scope.page.locator(f"title:text-is('{title}')"))


def check_readable(monitor, name: str) -> None:
    measured = monitor.evaluate(MEASURE)
    area = measured["area"]
    assert len(measured["nodes"]) >= 5, measured["nodes"]
    for n in measured["nodes"]:
        inside = (
            n["x"] >= area["x"] - 0.5
            and n["r"] <= area["r"] + 0.5
            and n["y"] >= area["y"] - 0.5
            and n["b"] <= area["b"] + 0.5
        )
        assert inside and n["r"] <= measured["width"], f"{name}: node {n['title']} is outside the cell {area}: {n}"
    small = [(t["text"], round(t["px"], 2)) for t in measured["texts"] if t["px"] < 9.99]
    assert not small, f"{name}: text below 10 px: {small}"


def run_all(page) -> None:
    page.locator("li.lm-MenuBar-item", has_text="Run").first.click()
    page.locator("li.lm-Menu-item[data-command='runmenu:run-all']").click()


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:  # one per module: Playwright's sync API runs one at a time
        yield launched


@pytest.fixture(scope="module")
def lab_page(lab, browser):  # noqa: F811
    save(lab, NAME, notebook_json())
    page = browser.new_page(viewport=VIEWPORT)
    page.set_default_timeout(WAIT_MS)
    page.goto(f"{lab}/lab/tree/{NAME}?token={TOKEN}", timeout=WAIT_MS)
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=WAIT_MS)
    wait_for_attached_idle_kernel(lab)
    run_all(page)
    page.locator(".jp-Notebook .flowkit-monitor").nth(len(MONITORS) - 1).wait_for(timeout=WAIT_MS)
    for i in range(len(MONITORS)):
        page.locator(".jp-Notebook .flowkit-monitor").nth(i).locator(".flowkit-diagram svg").wait_for()
    yield page
    if not page.is_closed():
        page.close()


def monitor_of(page, name: str):
    return page.locator(".jp-Notebook .flowkit-monitor").nth(list(MONITORS).index(name))


@pytest.mark.parametrize("name", list(MONITORS))
def test_every_node_of_the_monitors_diagram_is_in_the_cell_and_readable(lab_page, name):
    monitor = monitor_of(lab_page, name)
    monitor.scroll_into_view_if_needed()
    check_readable(monitor, name)
    monitor.screenshot(path=str(ARTIFACTS / f"jupyterlab_monitor_{name}.png"))


def test_clicking_a_node_opens_its_inspector_in_the_monitor(lab_page):
    from playwright.sync_api import expect

    failed = monitor_of(lab_page, "failed")
    expect(failed.locator(".flowkit-inspector")).to_have_count(0)
    node(failed, "resize").click()
    inspector = failed.locator(".flowkit-inspector")
    expect(inspector).to_be_visible()
    expect(inspector.locator(".flowkit-attempt")).to_contain_text("resize")
    expect(inspector.locator(".flowkit-attempt")).to_contain_text("FAILED")
    expect(inspector).to_contain_text("attempt 3 of 3")
    expect(failed.locator(".flowkit-message")).to_have_text("inspecting resize")
    failed.screenshot(path=str(ARTIFACTS / "jupyterlab_monitor_clicked.png"))

    sub = monitor_of(lab_page, "sub")
    node(sub, "subworkflow_png_ref/upload_toS3_ref").click()
    attempt = sub.locator(".flowkit-inspector .flowkit-attempt")
    expect(attempt).to_contain_text("upload_toS3_ref")
    expect(sub.locator(".flowkit-message")).to_contain_text("inspecting upload_toS3_ref (in sub-workflow ")
    node(sub, "fork_ref").locator("text").first.click()  # a bar: its label (the node's middle is empty)
    expect(attempt).to_contain_text("fork_ref")


def saved_outputs(url: str) -> list[list[dict]] | None:
    """Each cell's outputs as saved (None while the file is being written)."""
    request = urllib.request.Request(f"{url}/api/contents/{NAME}", headers={"Authorization": f"token {TOKEN}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            content = json.load(answer)["content"]
    except (urllib.error.HTTPError, json.JSONDecodeError):
        return None
    return [cell.get("outputs", []) for cell in content["cells"]]


def test_a_notebook_saved_by_jupyterlab_reopens_with_each_runs_static_result(lab, lab_page):  # noqa: F811
    from playwright.sync_api import expect

    # The live page keeps its widgets through the save. A menu click made while JupyterLab is still
    # settling can be lost (CI saw no file after 60 s): the save is asked again until a file appears,
    # but only 15 s after the last ask, since two saves that overlap on a loaded machine collide on
    # the server's temporary file ("File Save Error ... No such file or directory", a dialog that
    # then takes every click): such a dialog is dismissed and the save asked again.
    deadline = time.monotonic() + WAIT_MS / 1000
    asked = 0.0
    outputs = None
    dialog = lab_page.locator(".jp-Dialog")
    while time.monotonic() < deadline:
        if dialog.count():
            lab_page.keyboard.press("Escape")
            dialog.first.wait_for(state="detached", timeout=10_000)
            asked = 0.0
        if outputs is None and time.monotonic() - asked > 15:
            lab_page.locator("li.lm-MenuBar-item", has_text="File").first.click()
            lab_page.locator("li.lm-Menu-item[data-command='docmanager:save']").click()
            asked = time.monotonic()
        outputs = saved_outputs(lab)
        if outputs is not None and all(outputs[1:]):
            break
        time.sleep(0.3)
    assert outputs is not None
    for cell in outputs[1:]:
        (shown,) = [o for o in cell if o["output_type"] in ("display_data", "execute_result")]
        assert VIEW not in shown["data"], shown["data"].keys()  # no widget view left to go missing
        assert "flowkit-result" in "".join(shown["data"]["text/html"])
    expect(monitor_of(lab_page, "failed").locator(".flowkit-diagram svg")).to_be_visible()
    expect(lab_page.locator(".jp-Notebook .flowkit-monitor")).to_have_count(len(MONITORS))

    # The kernel that made the widgets is gone (a restarted server, the next day).
    browser = lab_page.context.browser
    lab_page.close()
    for session in get_json(f"{lab}/api/sessions"):
        request = urllib.request.Request(
            f"{lab}/api/sessions/{session['id']}", method="DELETE", headers={"Authorization": f"token {TOKEN}"}
        )
        urllib.request.urlopen(request, timeout=10).close()
    context = browser.new_context(viewport=VIEWPORT)  # a fresh page: nothing kept from the first
    try:
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(f"{lab}/lab/tree/{NAME}?token={TOKEN}", timeout=WAIT_MS)
        results = page.locator(".jp-Notebook .flowkit-result")
        expect(results).to_have_count(len(MONITORS), timeout=WAIT_MS)
        for i, status in enumerate(("COMPLETED", "COMPLETED", "FAILED")):
            result = results.nth(i)
            expect(result).to_be_visible()
            expect(result.locator(".flowkit-workflow-status")).to_have_text(status)
            diagram = result.locator("svg, img.flowkit-result-img").locator("visible=true").first
            expect(diagram).to_be_visible()
            assert diagram.bounding_box()["width"] > 200
        expect(results.nth(2)).to_contain_text("No such file or directory")
        page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=WAIT_MS)
        page.wait_for_timeout(1500)  # the widget manager has restored what it could by now
        expect(page.locator(".jp-Notebook")).not_to_contain_text("model not found")
        expect(page.locator(".jp-Notebook")).not_to_contain_text("Error displaying widget")
        page.screenshot(path=str(ARTIFACTS / "jupyterlab_saved_by_lab_reopened.png"), full_page=True)
    finally:
        context.close()


# ---------------------------------------------------------------------------------------------- Voila
@pytest.fixture(scope="module")
def voila_page(tmp_path_factory, browser):
    require("voila", "playwright")
    home = tmp_path_factory.mktemp("voila-clicks")
    path = home / NAME
    path.write_text(json.dumps(notebook_json()))
    port = free_port()
    argv = [sys.executable, "-m", "voila", str(path), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1"]
    url = f"http://127.0.0.1:{port}"
    env = server_env(FLOWKIT_HOME=str(home))
    with server("voila", argv, env=env, cwd=home, probe=f"{url}/api/status", log_dir=home):
        page = browser.new_page(viewport=VIEWPORT)
        page.set_default_timeout(WAIT_MS)
        page.goto(url, timeout=WAIT_MS)
        page.locator(".flowkit-monitor").nth(len(MONITORS) - 1).locator(".flowkit-diagram svg").wait_for()
        yield page
        page.close()


def test_in_voila_a_node_click_opens_the_inspector_and_every_node_is_readable(voila_page):
    from playwright.sync_api import expect

    for i, name in enumerate(MONITORS):
        monitor = voila_page.locator(".flowkit-monitor").nth(i)
        monitor.scroll_into_view_if_needed()
        check_readable(monitor, f"voila {name}")
    failed = voila_page.locator(".flowkit-monitor").nth(2)
    node(failed, "resize").click()
    expect(failed.locator(".flowkit-inspector .flowkit-attempt")).to_contain_text("resize")
    expect(failed.locator(".flowkit-inspector")).to_contain_text("attempt 3 of 3")
    failed.screenshot(path=str(ARTIFACTS / "voila_monitor_clicked.png"))
