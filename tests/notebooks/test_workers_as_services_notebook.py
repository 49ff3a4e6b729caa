"""Notebook 07 runs headless: flowkit serve and a flowkit worker process, the notebook a client of both."""

import importlib.util
import json
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("run_tutorial", ROOT / "scripts" / "run_tutorial.py")
run_tutorial = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_tutorial)


def test_the_workers_as_services_notebook_completes_on_the_server_and_uploads(tmp_path):
    summary = run_tutorial.run(tmp_path / "out", ["07_workers_as_services"])
    assert summary["failed"] == [], summary
    [entry] = summary["notebooks"]
    assert [r["status"] for r in entry["runs"]] == ["COMPLETED"], entry
    assert entry["runs"][0]["workflow"] == "image_convert_resize_service"
    assert entry["runs"][0]["tasks"] == 2
    [path] = entry["images"]
    with Image.open(path) as image:
        assert image.format == "PNG" and 0 < image.width <= 320 and 0 < image.height <= 200
    # uploaded by the worker process, to the bucket the notebook lists
    assert [o["key"] for o in entry["s3_objects"]] == [Path(path).name], entry["s3_objects"]
    assert all(o["size"] > 0 for o in entry["s3_objects"])

    executed = json.loads((ROOT / "notebooks" / "07_workers_as_services.ipynb").read_text())  # the source, unrun
    assert any("flowkit.connect(url)" in "".join(c["source"]) for c in executed["cells"])
    html = (tmp_path / "out" / "07_workers_as_services.html").read_text()
    assert "COMPLETED" in html and "upload_toS3_ref" in html
    assert "worker service exit code 0 | server stopped: True" in html  # both services stopped
