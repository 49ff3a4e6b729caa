"""The workflow builder in real JupyterLab (Debian's chromium, driven by Playwright), used as the
review used it: the workflow of the image tutorial built BY CLICKING (resize with
``image_convert_resize``, then a FORK of ``upload_toS3`` and a thumbnail, a second
``image_convert_resize``), inputs filled with Insert, exported as JSON and as Python, and the
exports run to COMPLETED here with the tutorial's workers and the local S3 server. Run is clicked
in the page too, and its live monitor must reach COMPLETED.

The test FAILS (never skips) when chromium, JupyterLab or Playwright is missing. The server's
files (settings, runtime, the flowkit store, converted images) go to temporary directories.
Screenshots are written to tests/browser/artifacts/.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import urllib.error
from pathlib import Path

import pytest
from browser_support import ARTIFACTS, WAIT_MS, chromium, free_port, require, server, server_env, status_of
from test_browser_jupyterlab import SETTINGS, TOKEN, get_json

import flowkit
from flowkit.contrib import image_workers, s3

NOTEBOOK = "builder.ipynb"
LANDSCAPE = Path(__file__).resolve().parents[2] / "notebooks" / "images" / "landscape.jpg"


def write_notebook(path: Path, out_dir: Path) -> None:
    source = f"""from flowkit.contrib import image_workers
from flowkit.notebook import Builder

builder = Builder("review_images", workers=image_workers(output_dir={str(out_dir)!r}))
builder"""
    cell = {"cell_type": "code", "execution_count": None, "id": "cell-0", "metadata": {}, "outputs": []}
    kernelspec = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    notebook = {
        "cells": [{**cell, "source": source}],
        "metadata": {"kernelspec": kernelspec},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook, indent=1))


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """``jupyter lab`` serving the builder notebook (no AWS settings: the kernel uses the local S3)."""
    require("jupyterlab", "playwright")
    base = tmp_path_factory.mktemp("builder-lab")
    names = ("notebooks", "home", "config", "data", "runtime", "settings", "workspaces", "images")
    dirs = {name: base / name for name in names}
    for path in dirs.values():
        path.mkdir()
    (dirs["home"] / "flowkit").mkdir()
    write_notebook(dirs["notebooks"] / NOTEBOOK, dirs["images"])
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
        AWS_SHARED_CREDENTIALS_FILE=str(base / "no-aws-credentials"),
        AWS_CONFIG_FILE=str(base / "no-aws-config"),
    )
    env = {k: v for k, v in env.items() if not k.startswith(("AWS_ACCESS", "AWS_SECRET", "AWS_PROFILE", "FLOWKIT_S3_"))}
    env = {k: v for k, v in env.items() if not k.startswith("AWS_ENDPOINT_URL")}
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
        "--allow-root",
    ]
    url = f"http://127.0.0.1:{port}"
    with server("jupyterlab-builder", argv, env=env, cwd=dirs["notebooks"], probe=f"{url}/api/status", log_dir=base):
        yield url


def wait_for_attached_idle_kernel(url: str) -> None:
    """Wait until the page's kernel is idle with its websocket attached (Run All before that does nothing).

    The server may answer 500 while the kernel it lists is still starting: asked again until the deadline.
    """
    deadline = time.monotonic() + WAIT_MS / 1000
    seen: object = None
    while time.monotonic() < deadline:
        try:
            seen = kernels = get_json(f"{url}/api/kernels")
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                raise
            seen = exc
        else:
            if any(k.get("connections", 0) >= 1 and k.get("execution_state") == "idle" for k in kernels):
                return
        time.sleep(0.2)
    pytest.fail(f"no idle kernel with a connection after {WAIT_MS / 1000:.0f} s: {seen}", pytrace=False)


@pytest.fixture
def local_s3(monkeypatch, tmp_path):
    """The tutorial's local S3 in this process, for running the exports (no AWS settings from the machine)."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "FLOWKIT_S3_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    s3.reset()
    yield
    s3.reset()


class Page:
    """The builder in the page: its parts by their ``flowkit-builder-*`` classes."""

    def __init__(self, tab) -> None:
        self.tab = tab
        self.root = tab.locator(".jp-Notebook .flowkit-builder").first

    def part(self, name: str):
        return self.root.locator(f".flowkit-builder-{name}").first

    def choose(self, name: str, label: str) -> None:
        """Pick ``label`` as soon as the page offers it (no pause: the kernel takes the label, not a position)."""
        from playwright.sync_api import expect

        self.part(name).locator("select").select_option(label=label)
        self.answered(name)
        expect(self.part(name).locator("select option:checked")).to_have_text(label)

    def choose_at_once(self, picks: list[tuple[str, str]]) -> None:
        """Pick in several drop-downs in one go, each from the list the page shows now: every choice leaves
        before the kernel answers the first (and before the lists it replaces reach the page)."""
        script = """(root, picks) => {
          for (const [part, label] of picks) {
            const select = root.querySelector(`.flowkit-builder-${part} select`);
            select.value = label;
            if (select.value !== label) throw new Error(`${label} is not shown under ${part}`);
            select.dispatchEvent(new Event("change", { bubbles: true }));
          }
        }"""
        self.root.evaluate(script, picks)
        for name, _ in picks:
            self.answered(name)

    def answered(self, name: str) -> None:
        """Wait until the kernel has answered the last choice made in drop-down ``name``."""
        from playwright.sync_api import expect

        expect(self.part(name)).not_to_have_attribute("data-flowkit-pending", re.compile(".*"))

    def type(self, name: str, text: str) -> None:
        box = self.part(name).locator("input, textarea").first
        box.fill(text)
        box.press("Tab")  # a field synced on change (continuous_update=False) sends its value on blur

    def field(self, name: str):
        return self.root.locator(f".flowkit-field-{name} input")

    def click(self, name: str) -> None:
        self.part(name).click()

    def expect_message(self, text: str) -> None:
        from playwright.sync_api import expect

        expect(self.root.locator(".flowkit-builder-message")).to_contain_text(text)


def build_by_clicking(page: Page) -> None:
    from playwright.sync_api import expect

    page.type("workflow-inputs", "fileLocation")
    expect(page.part("reference").locator("option", has_text="${workflow.input.fileLocation}")).to_have_count(1)
    # 1. resize: the worker's parameters are fields, the required ones marked
    page.choose("task-type", "image_convert_resize")
    expect(page.root.locator(".flowkit-field-fileLocation.flowkit-required")).to_be_visible()
    expect(page.field("fileLocation")).to_have_attribute("placeholder", "required")
    page.type("ref", "resize_ref")
    page.choose("reference", "${workflow.input.fileLocation}")
    page.choose("target", "fileLocation *")
    page.click("insert-button")
    expect(page.field("fileLocation")).to_have_value("${workflow.input.fileLocation}")
    page.field("outputFormat").fill("webp")
    page.field("outputWidth").fill("300")
    page.field("outputHeight").fill("200")
    page.click("add-button")
    page.expect_message("added resize_ref")
    expect(page.root.locator(".flowkit-issues")).to_contain_text("no problems")
    # 2. the fork, placed after resize by default
    page.choose("task-type", "FORK_JOIN")
    expect(page.part("place").locator("select option:checked")).to_have_text("after resize_ref")
    page.click("add-button")
    page.expect_message("added fork_1")
    # 3. an upload in branch 1 and a thumbnail in branch 2, each filled with Insert
    for ref, kind, branch, extra in [
        ("upload_ref", "upload_toS3", 1, "bucket"),
        ("thumbnail_ref", "image_convert_resize", 2, "outputHeight"),
    ]:
        page.choose("task-type", kind)
        expect(page.root.locator(f".flowkit-field-{extra}")).to_be_visible()
        page.type("ref", ref)
        if branch == 2:
            picked_from_a_replaced_list(page)
        page.choose("place", f"in branch {branch} of fork_1")
        reference = page.part("reference").locator("option", has_text="${resize_ref.output.fileLocation}")
        expect(reference).to_have_count(1)  # the upstream task's output fields, not only ${resize_ref.output}
        page.choose("reference", "${resize_ref.output.fileLocation}")
        page.choose("target", "fileLocation *")
        page.click("insert-button")
        expect(page.field("fileLocation")).to_have_value("${resize_ref.output.fileLocation}")
        if kind == "image_convert_resize":
            page.field("outputFormat").fill("png")
            page.field("outputWidth").fill("64")
        page.click("add-button")
        page.expect_message(f"added {ref}")
        # the next task goes after the fork, not into the branch again
        expect(page.part("place").locator("select option:checked")).to_have_text("after fork_1")
    # the workflow's outputs, filled with Insert too
    page.type("outputs", '{"url": "", "thumbnail": ""}')
    page.choose("output-reference", "${upload_ref.output.url}")
    page.click("output-insert-button")
    page.choose("output-reference", "${thumbnail_ref.output.fileLocation}")
    page.click("output-insert-button")
    expect(page.part("outputs").locator("textarea")).to_have_value(
        '{\n  "url": "${upload_ref.output.url}",\n  "thumbnail": "${thumbnail_ref.output.fileLocation}"\n}'
    )
    page.click("outputs-button")
    page.expect_message("workflow outputs: url, thumbnail")
    expect(page.root.locator(".flowkit-issues")).to_contain_text("no problems")


def picked_from_a_replaced_list(page: Page) -> None:
    """A fast user picks a reference before the list the last "place" choice brings has reached the page:
    the kernel takes the entry the user saw, wherever it now is, or nothing when it is no longer offered;
    never the entry now at the old position."""
    from playwright.sync_api import expect

    reference = page.part("reference")
    page.choose("place", "in branch 1 of fork_1")  # after upload_ref: its outputs come right after resize's
    expect(reference.locator("option", has_text="${upload_ref.output}")).not_to_have_count(0)
    labels = reference.locator("option").all_text_contents()
    position = labels.index("${upload_ref.output}")
    # after the fork the JOIN's output comes first: an index sync would take "${join_fork_1.output}" instead
    page.choose_at_once([("place", "after fork_1"), ("reference", "${upload_ref.output}")])
    expect(reference.locator("option").nth(position)).to_have_text("${join_fork_1.output}")
    expect(reference.locator("select option:checked")).to_have_text("${upload_ref.output}")
    # branch 2 cannot use branch 1's upload: the stale choice is refused, said, and nothing else is taken
    page.choose_at_once([("place", "in branch 2 of fork_1"), ("reference", "${upload_ref.output.url}")])
    expect(reference).to_have_attribute("data-flowkit-stale", "${upload_ref.output.url}")
    expect(reference.locator("option", has_text="${upload_ref.output.url}")).to_have_count(0)
    expect(reference.locator("select option:checked")).to_have_text("${workflow.input.fileLocation}")
    page.expect_message("'${upload_ref.output.url}' is no longer offered here: choose again")
    page.root.screenshot(path=str(ARTIFACTS / "builder_stale_choice.png"))


def export(page: Page, what: str) -> str:
    from playwright.sync_api import expect

    page.click(f"{what}-button")
    page.expect_message("no problems found")
    box = page.part("export").locator("textarea")
    expect(box).to_be_visible()
    marker = '"forkTasks"' if what == "json" else "flowkit.WorkflowBuilder("
    expect(box).to_have_value(re.compile(re.escape(marker)))
    return box.input_value()


def test_the_reviews_workflow_built_by_clicking_exports_and_runs(lab, local_s3, tmp_path):
    from playwright.sync_api import expect

    with chromium() as browser:
        tab = browser.new_page(viewport={"width": 1280, "height": 2200})
        tab.set_default_timeout(WAIT_MS)
        tab.goto(f"{lab}/lab/tree/{NOTEBOOK}?token={TOKEN}", timeout=WAIT_MS)
        tab.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=WAIT_MS)
        wait_for_attached_idle_kernel(lab)
        tab.locator("li.lm-MenuBar-item", has_text="Run").first.click()
        tab.locator("li.lm-Menu-item[data-command='runmenu:run-all']").click()
        page = Page(tab)
        page.root.wait_for(timeout=WAIT_MS)
        # 7. the empty builder starts neutral
        expect(page.root.locator(".flowkit-hint")).to_contain_text("Start with a task")
        expect(page.root.locator(".flowkit-issues")).not_to_contain_text("problem")
        page.root.screenshot(path=str(ARTIFACTS / "builder_empty.png"))

        build_by_clicking(page)
        page.root.screenshot(path=str(ARTIFACTS / "builder_review_workflow.png"))
        exported_json = json.loads(export(page, "json"))
        exported_python = export(page, "python")
        page.part("export").screenshot(path=str(ARTIFACTS / "builder_export_python.png"))

        # 6. Run in the page: the live monitor below the builder reaches COMPLETED
        expect(page.part("run-input").locator("textarea")).to_have_attribute(
            "placeholder", '{"fileLocation": "..."}: the workflow input for Run'
        )
        page.type("run-input", json.dumps({"fileLocation": str(LANDSCAPE)}))
        page.click("run-button")
        page.expect_message("running review_images")
        run = page.root.locator(".flowkit-builder-run .flowkit-monitor")
        expect(status_of(run)).to_have_text("COMPLETED", timeout=WAIT_MS)
        expect(run.locator(".flowkit-diagram svg")).to_contain_text("review_images v1 · COMPLETED")
        run.screenshot(path=str(ARTIFACTS / "builder_run_completed.png"))
        tab.screenshot(path=str(ARTIFACTS / "builder_page.png"), full_page=True)

    # the exports, run here: the JSON and the Python (public API only) make the same workflow
    assert [line for line in exported_python.splitlines() if "import" in line] == ["import flowkit"]
    assert "._" not in exported_python
    namespace: dict = {}
    exec(compile(exported_python, "<exported>", "exec"), namespace)
    assert namespace["definition"].to_json() == exported_json
    fork = exported_json["tasks"][1]
    assert fork["type"] == "FORK_JOIN"
    assert [[t["taskReferenceName"] for t in b] for b in fork["forkTasks"]] == [["upload_ref"], ["thumbnail_ref"]]
    for task in [exported_json["tasks"][0], *[b[0] for b in fork["forkTasks"]]]:
        assert None not in task["inputParameters"].values(), task  # never null
    workers = image_workers(output_dir=tmp_path / "out")
    for definition in (flowkit.WorkflowDef.from_json(exported_json), namespace["definition"]):
        execution = flowkit.run(definition, {"fileLocation": str(LANDSCAPE)}, workers=workers, store="memory")
        assert execution.status == "COMPLETED", execution.reason
        assert execution.output["url"].startswith("http://127.0.0.1:")
        thumbnail = execution.task("thumbnail_ref").output
        assert (thumbnail["outputFormat"], thumbnail["outputWidth"]) == ("png", 64)
