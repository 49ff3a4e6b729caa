"""Helpers the tutorial notebooks share: where the sample images are, and a run report.

Each notebook calls :func:`record` at its end; when ``FLOWKIT_TUTORIAL_OUT`` is set (the main job
sets it), a JSON report of the runs, tasks, images and S3 objects goes there.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["SAMPLES", "record", "s3_objects"]

SAMPLES = Path(__file__).resolve().parents[2] / "notebooks" / "images"
"""The sample images that ship with the repository (made by scripts/make_sample_images.py)."""


def s3_objects() -> list[dict[str, Any]]:
    """Objects in the tutorial's bucket (key, size), listed with boto3."""
    from flowkit.contrib.s3 import ensure_endpoint

    endpoint = ensure_endpoint()
    listed = endpoint.client().list_objects_v2(Bucket=endpoint.bucket)
    return [{"key": o["Key"], "size": o["Size"]} for o in listed.get("Contents", [])]


def record(notebook: str, executions: list[Any], images: list[str]) -> dict[str, Any]:
    """Summarise this notebook's runs; write it to ``$FLOWKIT_TUTORIAL_OUT/<notebook>.json`` when set."""
    report = {
        "notebook": notebook,
        "runs": [
            {"workflow": e.model.definition.name, "id": e.workflow_id, "status": str(e.status), "tasks": len(e.tasks)}
            for e in executions
        ],
        "tasks": sum(len(e.tasks) for e in executions),
        "images": images,
        "s3_objects": s3_objects(),
    }
    out = os.environ.get("FLOWKIT_TUTORIAL_OUT")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / f"{notebook}.json").write_text(json.dumps(report, indent=2))
    return report
