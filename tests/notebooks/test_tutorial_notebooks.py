"""Every tutorial notebook runs headless (nbclient) and produces real images and S3 objects."""

import importlib.util
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("run_tutorial", ROOT / "scripts" / "run_tutorial.py")
run_tutorial = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_tutorial)

EXPECTED_FORMATS = {
    "01_resize_and_upload": {"PNG"},
    "02_fork_two_formats": {"JPEG", "WEBP"},
    "03_dynamic_fork": {"PNG", "JPEG", "WEBP"},
    "04_sub_workflow": {"JPEG", "PNG"},
    "05_designing_for_failure": {"JPEG"},
    "06_conductor_interop": {"WEBP"},
    "07_workers_as_services": {"PNG"},
}


def test_every_tutorial_notebook_runs_and_produces_images_and_s3_objects(tmp_path):
    summary = run_tutorial.run(tmp_path / "out")
    by_name = {n["notebook"]: n for n in summary["notebooks"]}
    assert sorted(by_name) == sorted(EXPECTED_FORMATS), by_name.keys()
    assert summary["failed"] == [], [(n["notebook"], n["error"]) for n in summary["notebooks"] if n["error"]]
    for name, formats in EXPECTED_FORMATS.items():
        entry = by_name[name]
        assert entry["runs"] and all(r["status"] == "COMPLETED" for r in entry["runs"]), entry
        seen = set()
        for path in entry["images"]:
            with Image.open(path) as image:
                seen.add(image.format)
                assert 0 < image.width <= 320 and 0 < image.height <= 200, (name, path, image.size)
        assert seen == formats, (name, seen)
        if name != "03_dynamic_fork":  # the dynamic-fork tutorial converts only; the others upload with boto3
            assert entry["s3_objects"] and all(o["size"] > 0 for o in entry["s3_objects"]), (name, entry)
        assert (tmp_path / "out" / f"{name}.html").stat().st_size > 10_000
    report = (tmp_path / "out" / "report.md").read_text()
    assert f"{summary['runs']} runs, {summary['tasks']} tasks" in report


def test_the_interop_notebook_runs_the_shipped_files_and_fails_when_one_is_missing(tmp_path, monkeypatch):
    from flowkit.conformance import SHIPPED

    summary = run_tutorial.run(tmp_path / "ok", ["06_conductor_interop"])
    assert summary["failed"] == [], summary
    [entry] = summary["notebooks"]
    assert [r["status"] for r in entry["runs"]] == ["COMPLETED"], entry

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
    assert not entry.get("runs"), entry  # stopped before running anything
