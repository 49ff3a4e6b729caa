"""Every tutorial notebook runs headless (nbclient) as ``./dev main`` runs it, and is checked from outside.

Nothing in the notebooks checks itself: ``scripts/run_tutorial.py`` gives each kernel its own
``FLOWKIT_HOME`` (the SQLite store, the converted images) and its own bucket on a local S3 server,
and these tests read what the notebook left behind: the runs and their statuses in its store, the
objects in its bucket, the executed notebook's outputs (no error, nothing on stderr) and the HTML
written from it (every diagram, timeline and image preview a reader should see).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sqlite3
from pathlib import Path

import nbformat
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("run_tutorial", ROOT / "scripts" / "run_tutorial.py")
assert spec is not None and spec.loader is not None
run_tutorial = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_tutorial)
spec = importlib.util.spec_from_file_location("make_notebooks", ROOT / "scripts" / "make_notebooks.py")
assert spec is not None and spec.loader is not None
make_notebooks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_notebooks)

# notebook -> the runs its store must hold (workflow name, status), in start order
RUNS = {
    "01_resize_and_upload": [("image_convert_resize", "COMPLETED")],
    "02_fork_two_formats": [("image_convert_resize_multipleformat", "COMPLETED")],
    "03_dynamic_fork": [("image_multiple_convert_resize_and_upload", "COMPLETED")],
    "04_sub_workflow": [
        ("image_convert_resize_multipleformat_subworkflow", "COMPLETED"),
        ("image_convert_resize", "COMPLETED"),
        ("image_convert_resize", "COMPLETED"),
    ],
    "05_designing_for_failure": [
        ("thumbnail_and_watermark", "COMPLETED"),
        ("filter_with_timeout", "TIMED_OUT"),
        ("resize_with_failure_workflow", "FAILED"),
        ("image_failure_handler", "COMPLETED"),
        ("six_sizes_rate_limited", "COMPLETED"),
    ],
    "06_conductor_interop": [
        ("image_convert_resize_multipleformat_subworkflow", "COMPLETED"),
        ("image_convert_resize", "COMPLETED"),
        ("image_multiple_convert_resize", "COMPLETED"),
        ("kitchensink", "COMPLETED"),
        ("sub_flow_1", "COMPLETED"),
        ("sub_flow_1", "COMPLETED"),
    ],
    # run by `flowkit serve`, which keeps its runs in the kernel's FLOWKIT_HOME like a local run
    "07_workers_as_services": [("image_convert_resize_service", "COMPLETED")],
}

# notebook -> the runs started as sub-workflows (a failure workflow is not one: it has no parent)
CHILDREN = {
    "04_sub_workflow": ["image_convert_resize", "image_convert_resize"],
    "06_conductor_interop": ["image_convert_resize", "sub_flow_1", "sub_flow_1"],
}

# notebook -> what its HTML shows: Graphviz diagrams (workflow drawings and each monitor's final run
# diagram), timelines (matplotlib SVG) and image previews (<img> in flowkit's preview figures)
PAGE = {
    "01_resize_and_upload": {"diagrams": 3, "timelines": 0, "previews": 3},
    "02_fork_two_formats": {"diagrams": 2, "timelines": 1, "previews": 2},
    "03_dynamic_fork": {"diagrams": 2, "timelines": 0, "previews": 6},
    "04_sub_workflow": {"diagrams": 4, "timelines": 0, "previews": 2},
    "05_designing_for_failure": {"diagrams": 5, "timelines": 2, "previews": 1},
    "06_conductor_interop": {"diagrams": 5, "timelines": 0, "previews": 5},
    "07_workers_as_services": {"diagrams": 2, "timelines": 0, "previews": 3},
}

# notebook -> the image formats of the objects uploaded to its bucket
UPLOADED = {
    "01_resize_and_upload": ["PNG"],
    "02_fork_two_formats": ["JPEG", "WEBP"],
    "03_dynamic_fork": ["JPEG", "JPEG", "PNG", "PNG", "WEBP", "WEBP"],
    "04_sub_workflow": ["JPEG", "PNG"],
    "05_designing_for_failure": ["JPEG"],
    "06_conductor_interop": ["JPEG", "WEBP"],
    "07_workers_as_services": ["PNG"],
}


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory):
    out = tmp_path_factory.mktemp("tutorial")
    return out, run_tutorial.run(out)


def test_the_notebooks_are_the_generated_ones():
    """notebooks/*.ipynb are written by scripts/make_notebooks.py: an edit there is not lost, nor one here."""
    for name, cells in make_notebooks.NOTEBOOKS.items():
        nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
        assert [(c.cell_type, c.source) for c in nb.cells] == list(cells), f"run scripts/make_notebooks.py ({name})"
    assert sorted(p.stem for p in (ROOT / "notebooks").glob("0*.ipynb")) == sorted(make_notebooks.NOTEBOOKS)


def test_the_notebooks_use_the_public_api_and_keep_checks_out_of_view():
    for name, cells in make_notebooks.NOTEBOOKS.items():
        source = "\n".join(text for kind, text in cells if kind == "code")
        for private in ("._", "assert ", "record(", "flowkit.testing", "import pytest"):
            assert private not in source, (name, private)
        prose = [text for kind, text in cells if kind == "markdown"]
        assert sum(len(text.split()) for text in prose) > 250, name  # it explains, not one line per notebook
        assert source.count("flowkit.contrib.ensure_endpoint()") == 1, name  # S3 started in the set-up cell


def test_every_notebook_runs_and_its_store_holds_the_intended_runs(tutorial):
    out, summary = tutorial
    by_name = {n["notebook"]: n for n in summary["notebooks"]}
    assert sorted(by_name) == sorted(RUNS)
    assert summary["failed"] == [], [(n["notebook"], n["error"]) for n in summary["notebooks"] if n["error"]]
    for name, expected in RUNS.items():
        entry = by_name[name]
        assert entry["errors"] == [], (name, entry["errors"])
        assert entry["stderr"] == [], (name, entry["stderr"])  # no pink boxes: notices are plain output
        runs = run_tutorial.read_store(out / "flowkit-home" / name)
        assert sorted((r["workflow"], r["status"]) for r in runs) == sorted(expected), (name, runs)
        children = sorted(r["workflow"] for r in runs if r["parent"] is not None)
        assert children == CHILDREN.get(name, []), (name, runs)
        assert all(r["tasks"] > 0 for r in runs), runs


def test_the_failure_notebook_fails_as_designed(tutorial):
    out, _ = tutorial
    runs = {r["workflow"]: r for r in run_tutorial.read_store(out / "flowkit-home" / "05_designing_for_failure")}
    assert "responseTimeout: 1 exceeded" in runs["filter_with_timeout"]["reason"]
    assert "image file not found" in runs["resize_with_failure_workflow"]["reason"]
    handler = runs["image_failure_handler"]
    assert handler["status"] == "COMPLETED" and handler["parent"] is None
    nb = nbformat.read(out / "05_designing_for_failure.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert f"workflow {runs['resize_with_failure_workflow']['id']} ended FAILED" in printed
    # the failing runs' final diagrams are in the page, their failed node marked
    page = (out / "05_designing_for_failure.html").read_text()
    assert page.count("data-status='TIMED_OUT'") >= 1 and page.count("data-status='FAILED'") >= 1


def test_the_services_notebook_ran_its_tasks_in_the_worker_process_and_stopped_both_services(tutorial):
    """Notebook 7: the server's store says who ran each task (the worker service), and both services exit 0."""
    out, summary = tutorial
    name = "07_workers_as_services"
    home = out / "flowkit-home" / name
    [run] = run_tutorial.read_store(home)
    with sqlite3.connect(f"file:{home / 'flowkit.db'}?mode=ro", uri=True) as conn:
        tasks = {
            ref: json.loads(data)
            for ref, data in conn.execute("SELECT ref, data FROM tasks WHERE workflow_id=?", (run["id"],))
        }
    nb = nbformat.read(out / f"{name}.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    pid = re.search(r"worker service started, pid (\d+)", printed)
    assert pid, printed
    assert sorted(tasks) == ["image_convert_resize_ref", "upload_toS3_ref"], tasks
    # the tasks were polled by the worker process (Conductor's workerId host-pid), not run in the kernel
    assert {t["workerId"].rsplit("-", 1)[1] for t in tasks.values()} == {pid.group(1)}, tasks
    assert "worker service exited with code 0\nflowkit worker: stopped after 2 task(s)\n" in printed, printed
    assert "server exited with code 0\n" in printed, printed
    [entry] = [n for n in summary["notebooks"] if n["notebook"] == name]
    [image] = entry["images"]  # written by the worker process under the kernel's FLOWKIT_HOME
    assert [o["key"] for o in entry["s3_objects"]] == [Path(image).name], entry["s3_objects"]


def test_the_uploaded_objects_are_in_each_notebooks_bucket(tutorial):
    out, summary = tutorial
    from flowkit.contrib import s3

    local = s3.start_local_server()
    for entry in summary["notebooks"]:
        name = entry["notebook"]
        formats = []
        for item in entry["s3_objects"]:
            data = local.get_bytes(item["key"], bucket=entry["bucket"])
            assert len(data) == item["size"] > 0
            path = out / f"{name}-{Path(item['key']).name}"
            path.write_bytes(data)
            with Image.open(path) as image:
                formats.append(image.format)
                assert 0 < image.width <= 320 and 0 < image.height <= 200, (name, item, image.size)
        assert sorted(formats) == UPLOADED[name], (name, entry["s3_objects"])
    assert f"{len(summary['s3_objects'])} S3 objects" in (out / "report.md").read_text()


def test_the_html_shows_every_diagram_timeline_and_image_preview(tutorial):
    out, summary = tutorial
    for name, expected in PAGE.items():
        page = (out / f"{name}.html").read_text(encoding="utf-8")
        counted = run_tutorial.count_page(page)
        assert counted == expected, (name, counted, _outputs_without_a_drawing(out / f"{name}.ipynb"))
        assert "<IPython.core.display" not in page, name
    report = json.loads((out / "report.json").read_text())
    assert {n["notebook"]: n["diagrams"] for n in report["notebooks"]} == {n: e["diagrams"] for n, e in PAGE.items()}


def _outputs_without_a_drawing(path: Path) -> list[tuple[int, str]]:
    """For a failure message: the HTML outputs with no diagram, by cell, and how they start."""
    nb = nbformat.read(path, as_version=4)
    found = []
    for i, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            text = output.get("data", {}).get("text/html", "")
            if text and 'class="graph"' not in text and "flowkit-preview" not in text:
                found.append((i, text[:300]))
    return found


def test_the_first_upload_is_not_charged_for_starting_s3(tutorial):
    """The set-up cell starts S3; the first upload task of notebook 1 takes the time of an upload."""
    out, _ = tutorial
    [run] = run_tutorial.read_store(out / "flowkit-home" / "01_resize_and_upload")

    with sqlite3.connect(out / "flowkit-home" / "01_resize_and_upload" / "flowkit.db") as conn:
        [(started, ended)] = conn.execute(
            "SELECT started, ended FROM tasks WHERE workflow_id=? AND ref='upload_toS3_ref'", (run["id"],)
        ).fetchall()
    assert 0 <= ended - started < 500, ended - started


def test_count_page_ignores_widget_state_and_counts_only_previews():
    page = (
        "<script type='application/vnd.jupyter.widget-state+json'>{\"value\": \"<svg><g class='graph'></g></svg>\"}</script>"
        "<svg><g id='g0' class='graph'><g class='node'></g></g></svg>"
        "<img alt='workflow diagram' src='data:image/png;base64,AA'/>"
        "<figure class='flowkit-preview'><img src='data:image/png;base64,AA'/><figcaption>a</figcaption></figure>"
        "<svg><g id='figure_1'></g></svg>"
    )
    assert run_tutorial.count_page(page) == {"diagrams": 1, "timelines": 1, "previews": 1}


def test_the_interop_notebook_stops_when_a_conductor_file_is_missing(tmp_path, monkeypatch):
    from flowkit.conformance import SHIPPED

    partial = tmp_path / "partial"
    partial.mkdir()
    for path in SHIPPED.glob("*.json"):
        if path.name != "kitchensink.json":
            (partial / path.name).write_bytes(path.read_bytes())
    monkeypatch.setenv("FLOWKIT_CONFORMANCE_DIR", str(partial))
    summary = run_tutorial.run(tmp_path / "missing", ["06_conductor_interop"])
    assert summary["failed"] == ["06_conductor_interop"], summary
    [entry] = summary["notebooks"]
    assert "NotFoundError" in entry["error"] and "kitchensink.json" in entry["error"], entry["error"]
    assert entry["runs"] == [] and entry["s3_objects"] == [], entry  # stopped before running anything


def test_in_a_kernel_the_local_s3_notice_is_plain_output_and_paid_in_the_set_up_cell(tmp_path):
    """No S3 configured: the set-up cell starts the local server; its notice is an output line, not stderr."""
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell, new_notebook

    setup = (
        "import time, flowkit, flowkit.contrib\n"
        "began = time.perf_counter()\n"
        "s3 = flowkit.contrib.ensure_endpoint()\n"
        "setup_ms = (time.perf_counter() - began) * 1000"
    )
    upload = (
        "from flowkit.contrib.tutorial import SAMPLES\n"
        "run = flowkit.run(flowkit.WorkflowBuilder('up') >> flowkit.contrib.upload_toS3(task_ref_name='up', "
        "fileLocation=str(SAMPLES / 'rings.jpg')), {}, workers=flowkit.contrib.image_workers())\n"
        "task = run.task('up')\n"
        "print(run.status, setup_ms, task.end_time - task.start_time)"
    )
    nb = new_notebook(cells=[new_code_cell(setup), new_code_cell(upload)])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FLOWKIT_S3"))}
    env.update(
        FLOWKIT_HOME=str(tmp_path),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        PYTHONPATH=str(ROOT),
    )
    NotebookClient(nb, timeout=120, kernel_name="python3").execute(env=env)
    [notice] = nb.cells[0].outputs
    assert notice["output_type"] == "display_data", notice
    assert notice["data"]["text/plain"].startswith(
        "flowkit: no S3 configured; using a local S3 server at http://127.0.0.1:"
    )
    [printed] = nb.cells[1].outputs
    assert printed["name"] == "stdout", printed
    status, setup_ms, upload_ms = printed["text"].split()
    assert status == "COMPLETED"
    assert float(upload_ms) < float(setup_ms), (upload_ms, setup_ms)  # the server's start was paid in set-up
