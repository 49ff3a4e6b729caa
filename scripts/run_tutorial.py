"""The main job: run every tutorial notebook headless (nbclient) on embedded defaults and report.

Writes to ``out/tutorial/``: the executed notebooks (.ipynb and .html), the images the workflows
produced, and ``report.json`` / ``report.md``; prints a short summary. Exit 1 if a notebook fails.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def run(out: Path, names: list[str] | None = None, timeout: int = 300) -> dict:
    """Execute the tutorial notebooks (all, or those in ``names``) into ``out``; the summary (as in report.json)."""
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    out.mkdir(parents=True, exist_ok=True)
    reports_dir = Path(tempfile.mkdtemp(prefix="flowkit-tutorial-"))
    os.environ["FLOWKIT_TUTORIAL_OUT"] = str(reports_dir)
    # kernels import this checkout's flowkit even when it is not installed (PYTHONPATH may be relative)
    paths_env = [str(ROOT)] + [str(Path(p).resolve()) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths_env))
    paths = sorted(NOTEBOOKS.glob("0*.ipynb"))
    if names:
        paths = [p for p in paths if p.stem in names]
    summary = {"notebooks": [], "failed": []}
    started = time.perf_counter()
    for path in paths:
        t0 = time.perf_counter()
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            store_widget_state=True,
            resources={"metadata": {"path": str(NOTEBOOKS)}},
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
        )
        error = None
        try:
            client.execute()
        except Exception as exc:  # a failing notebook is reported, the others still run
            error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"
        nbformat.write(nb, out / path.name)
        html, _ = HTMLExporter().from_notebook_node(nb)
        (out / f"{path.stem}.html").write_text(html, encoding="utf-8")
        entry = {"notebook": path.stem, "seconds": round(time.perf_counter() - t0, 1), "error": error}
        report_file = reports_dir / f"{path.stem}.json"
        if report_file.exists():
            entry.update(json.loads(report_file.read_text()))
            images_dir = out / "images" / path.stem
            images_dir.mkdir(parents=True, exist_ok=True)
            for image in entry.get("images", []):
                if Path(image).exists():
                    shutil.copy(image, images_dir / Path(image).name)
        elif error is None:
            entry["error"] = "the notebook did not write its report"
        summary["notebooks"].append(entry)
        if entry["error"]:
            summary["failed"].append(path.stem)
        status = "FAILED " + entry["error"] if entry["error"] else "ok"
        print(
            f"  {path.stem:<28} {entry['seconds']:>6.1f} s  runs {len(entry.get('runs', [])):>2}  "
            f"tasks {entry.get('tasks', 0):>3}  {status}",
            flush=True,
        )
    summary["seconds"] = round(time.perf_counter() - started, 1)
    summary["runs"] = sum(len(n.get("runs", [])) for n in summary["notebooks"])
    summary["tasks"] = sum(n.get("tasks", 0) for n in summary["notebooks"])
    # each notebook's kernel has its own local S3 server: the objects written are the sum of them
    summary["s3_objects"] = [o for n in summary["notebooks"] for o in n.get("s3_objects", [])]
    (out / "report.json").write_text(json.dumps(summary, indent=2))
    lines = [
        "# flowkit tutorial run",
        "",
        f"{summary['runs']} runs, {summary['tasks']} tasks, "
        f"{len(summary['s3_objects'])} S3 objects, {summary['seconds']} s",
        "",
        "| notebook | seconds | runs | tasks | result |",
        "|---|---:|---:|---:|---|",
    ]
    for n in summary["notebooks"]:
        lines.append(
            f"| {n['notebook']} | {n['seconds']} | {len(n.get('runs', []))} | {n.get('tasks', 0)} | "
            f"{n['error'] or 'ok'} |"
        )
    (out / "report.md").write_text("\n".join(lines) + "\n")
    return summary


def main(argv: list[str]) -> int:
    """Run the notebooks named in ``argv`` (default: all) and print a summary; the exit code."""
    out = ROOT / "out" / "tutorial"
    print(f"flowkit tutorial: running {len(list(NOTEBOOKS.glob('0*.ipynb')))} notebooks headless ...", flush=True)
    summary = run(out, argv or None)
    print(
        f"done: {summary['runs']} runs, {summary['tasks']} tasks, {len(summary['s3_objects'])} S3 objects written, "
        f"{summary['seconds']} s; executed notebooks (.ipynb, .html), images and report in {out}"
    )
    return 1 if summary["failed"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
