"""The main job: run every tutorial notebook headless (nbclient) on embedded defaults and report.

Each notebook runs in a fresh kernel with its own flowkit home (``FLOWKIT_HOME``: the SQLite store
and the converted images) under ``out/tutorial/flowkit-home/<notebook>``, and its own bucket on one
local S3 server started here (``FLOWKIT_S3_ENDPOINT``, ``FLOWKIT_S3_BUCKET``), so what a notebook did
is read afterwards from the places it wrote to, not from code inside the notebook: the runs and
their statuses from its store, the uploaded objects from its bucket, the diagrams and image previews
from the HTML written from the executed notebook.

Writes to ``out/tutorial/``: the executed notebooks (.ipynb and .html), the flowkit homes, and
``report.json`` / ``report.md``; prints a short summary. Exit 1 if a notebook fails.
"""

from __future__ import annotations

import html.parser
import json
import os
import shutil
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"

# nbconvert's HTML prefers a widget's view (drawn by JavaScript from the saved widget state, when the
# page can fetch the widget manager) over the static HTML shown next to it; the report is read
# without a kernel, so an output's static HTML (the monitor's final diagram and summary) comes first.
_PRIORITY = [
    "text/html",
    "application/vnd.jupyter.widget-view+json",
    "application/javascript",
    "text/markdown",
    "image/svg+xml",
    "text/vnd.mermaid",
    "text/latex",
    "image/png",
    "image/jpeg",
    "text/plain",
]


class _Page(html.parser.HTMLParser):
    """Count what a reader sees in nbconvert's HTML (tags inside <script> are text, not counted)."""

    def __init__(self) -> None:
        super().__init__()
        self.diagrams = 0  # Graphviz drawings: workflow and run diagrams
        self.timelines = 0  # matplotlib figures drawn as SVG (the Gantt timeline)
        self.previews = 0  # image previews: <img> inside flowkit's preview figures
        self._in_preview = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        classes = (found.get("class") or "").split()
        if tag == "g" and "graph" in classes:
            self.diagrams += 1
        elif tag == "g" and found.get("id") == "figure_1":
            self.timelines += 1
        elif tag == "figure" and "flowkit-preview" in classes:
            self._in_preview += 1
        elif tag == "img" and self._in_preview and (found.get("src") or "").startswith("data:image/"):
            self.previews += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure" and self._in_preview:
            self._in_preview -= 1


def count_page(text: str) -> dict[str, int]:
    """Diagrams (Graphviz SVG), timelines (matplotlib SVG) and image previews (inline ``<img>``) in an HTML page."""
    page = _Page()
    page.feed(text)
    page.close()
    return {"diagrams": page.diagrams, "timelines": page.timelines, "previews": page.previews}


def read_store(home: Path) -> list[dict[str, Any]]:
    """The executions a notebook's flowkit home holds, oldest first (read-only)."""
    db = home / "flowkit.db"
    if not db.exists():
        return []
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT workflow_id, name, status, parent_workflow_id, task_count, reason FROM executions "
            "ORDER BY created, workflow_id"
        ).fetchall()
    return [
        {"workflow": name, "id": wid, "status": status, "parent": parent, "tasks": tasks, "reason": reason}
        for wid, name, status, parent, tasks, reason in rows
    ]


def read_outputs(nb: Any) -> dict[str, list[str]]:
    """Errors and stderr text in the executed notebook's outputs."""
    errors, stderr = [], []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                errors.append(f"{output.get('ename')}: {output.get('evalue')}")
            elif output.get("output_type") == "stream" and output.get("name") == "stderr":
                stderr.append(output.get("text", ""))
    return {"errors": errors, "stderr": stderr}


def _html_config() -> Any:
    from traitlets.config import Config

    return Config({"NbConvertBase": {"display_data_priority": _PRIORITY}})


def run(out: Path, names: list[str] | None = None, timeout: int = 300) -> dict[str, Any]:
    """Execute the tutorial notebooks (all, or those in ``names``) into ``out``; the summary (as in report.json)."""
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    from flowkit.contrib import s3

    out.mkdir(parents=True, exist_ok=True)
    homes = out / "flowkit-home"
    # one local server for every kernel, kept until this process ends: its objects outlive the kernels,
    # to be listed here (whatever S3 this process would otherwise use, the tutorial stays local)
    local = s3.start_local_server()
    # kernels import this checkout's flowkit even when it is not installed (PYTHONPATH may be relative)
    paths_env = [str(ROOT)] + [str(Path(p).resolve()) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    paths = sorted(NOTEBOOKS.glob("0*.ipynb"))
    if names:
        paths = [p for p in paths if p.stem in names]
    summary: dict[str, Any] = {"notebooks": [], "failed": []}
    started = time.perf_counter()
    for path in paths:
        entry = _run_one(
            path, out, homes / path.stem, local, paths_env, timeout, nbformat, NotebookClient, HTMLExporter
        )
        summary["notebooks"].append(entry)
        if entry["error"]:
            summary["failed"].append(path.stem)
        status = "FAILED " + entry["error"] if entry["error"] else "ok"
        print(
            f"  {path.stem:<28} {entry['seconds']:>6.1f} s  runs {len(entry['runs']):>2}  "
            f"tasks {entry['tasks']:>3}  S3 objects {len(entry['s3_objects']):>2}  "
            f"diagrams {entry['diagrams']:>2}  timelines {entry['timelines']}  previews {entry['previews']:>2}  {status}",
            flush=True,
        )
    summary["seconds"] = round(time.perf_counter() - started, 1)
    summary["runs"] = sum(len(n["runs"]) for n in summary["notebooks"])
    summary["tasks"] = sum(n["tasks"] for n in summary["notebooks"])
    summary["s3_objects"] = [o for n in summary["notebooks"] for o in n["s3_objects"]]
    (out / "report.json").write_text(json.dumps(summary, indent=2))
    _write_markdown(out / "report.md", summary)
    return summary


def _run_one(
    path: Path,
    out: Path,
    home: Path,
    local: Any,
    paths_env: list[str],
    timeout: int,
    nbformat: Any,
    client_class: Any,
    exporter_class: Any,
) -> dict[str, Any]:
    t0 = time.perf_counter()
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    bucket = "tutorial-" + path.stem.replace("_", "-").lower()
    local.create_bucket(bucket)
    client = local.client()
    for item in client.list_objects_v2(Bucket=bucket).get("Contents", []):
        client.delete_object(Bucket=bucket, Key=item["Key"])  # a second run in this process starts empty
    env = {
        **os.environ,
        "FLOWKIT_HOME": str(home),
        "FLOWKIT_S3_ENDPOINT": local.endpoint_url,
        "FLOWKIT_S3_BUCKET": bucket,
        "PYTHONPATH": os.pathsep.join(dict.fromkeys(paths_env)),
    }
    nb = nbformat.read(path, as_version=4)
    client_nb = client_class(
        nb,
        timeout=timeout,
        kernel_name="python3",
        store_widget_state=True,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
    )
    error = None
    try:
        client_nb.execute(env=env)
    except Exception as exc:  # a failing notebook is reported, the others still run
        text = str(exc).strip()
        error = f"{type(exc).__name__}: {text.splitlines()[-1] if text else ''}"
    nbformat.write(nb, out / path.name)
    page, _ = exporter_class(config=_html_config()).from_notebook_node(nb)
    (out / f"{path.stem}.html").write_text(page, encoding="utf-8")
    runs = read_store(home)
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    images_dir = home / "images"
    return {
        "notebook": path.stem,
        "seconds": round(time.perf_counter() - t0, 1),
        "error": error,
        "runs": runs,
        "tasks": sum(r["tasks"] for r in runs),
        "bucket": bucket,
        "s3_objects": [{"key": o["Key"], "size": o["Size"]} for o in listed],
        "images": sorted(str(p) for p in images_dir.iterdir()) if images_dir.is_dir() else [],
        **count_page(page),
        **read_outputs(nb),
    }


def _write_markdown(path: Path, summary: dict[str, Any]) -> None:
    lines = [
        "# flowkit tutorial run",
        "",
        f"{summary['runs']} runs, {summary['tasks']} tasks, "
        f"{len(summary['s3_objects'])} S3 objects, {summary['seconds']} s",
        "",
        "| notebook | seconds | runs (status) | tasks | S3 objects | diagrams | timelines | previews | result |",
        "|---|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for n in summary["notebooks"]:
        statuses: dict[str, int] = {}
        for r in n["runs"]:
            statuses[r["status"]] = statuses.get(r["status"], 0) + 1
        runs = ", ".join(f"{count} {status}" for status, count in statuses.items()) or "none"
        lines.append(
            f"| {n['notebook']} | {n['seconds']} | {len(n['runs'])} ({runs}) | {n['tasks']} | "
            f"{len(n['s3_objects'])} | {n['diagrams']} | {n['timelines']} | {n['previews']} | "
            f"{n['error'] or 'ok'} |"
        )
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str]) -> int:
    """Run the notebooks named in ``argv`` (default: all) and print a summary; the exit code."""
    out = ROOT / "out" / "tutorial"
    print(f"flowkit tutorial: running {len(list(NOTEBOOKS.glob('0*.ipynb')))} notebooks headless ...", flush=True)
    summary = run(out, argv or None)
    print(
        f"done: {summary['runs']} runs, {summary['tasks']} tasks, {len(summary['s3_objects'])} S3 objects written, "
        f"{summary['seconds']} s; executed notebooks (.ipynb, .html), flowkit homes and report in {out}"
    )
    return 1 if summary["failed"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
