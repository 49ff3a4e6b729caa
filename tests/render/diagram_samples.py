"""The three runs the fitted-diagram tests draw: a six-branch dynamic fork, sub-workflows, a failed run.

Shaped like the tutorial's (same references and task names), run inline on a virtual clock so the
diagrams are the same every time. Shared by tests/render and tests/browser.
"""

from __future__ import annotations

from typing import Any

import flowkit
from flowkit.testing import VirtualClock

__all__ = ["SAMPLES", "failed_run", "six_branch_fork", "sub_workflows"]

FORMATS = ("png", "jpg", "webp")
SIZES = ((300, 200), (160, 120))


def _run(definition: Any, workflow_input: dict[str, Any], **kwargs: Any) -> Any:
    return flowkit.run(definition, workflow_input, executor="inline", store="memory", **kwargs)


def six_branch_fork() -> Any:
    """image_multiple_convert_resize: a planner, then one resize branch per format and size."""
    clock = VirtualClock()

    def plan() -> dict[str, Any]:
        tasks, inputs = [], {}
        for i, (fmt, (w, h)) in enumerate((f, s) for f in FORMATS for s in SIZES):
            ref = f"image_convert_resize_{fmt}_{w}x{h}_{i}"
            tasks.append({"name": "image_convert_resize", "taskReferenceName": ref})
            inputs[ref] = {"outputFormat": fmt}
        return {"dynamicTasks": tasks, "dynamicTasksInput": inputs}

    def resize(outputFormat: str) -> dict[str, Any]:
        clock.advance(90)
        return {"fileLocation": f"/tmp/out.{outputFormat}"}

    fork = "image_multiple_convert_resize_fork_ref"
    definition = {
        "name": "image_multiple_convert_resize",
        "tasks": [
            {"name": "image_multiple_convert_resize", "taskReferenceName": "image_multiple_convert_resize_ref"},
            {
                "name": "fork",
                "taskReferenceName": fork,
                "type": "FORK_JOIN_DYNAMIC",
                "dynamicForkTasksParam": "dynamicTasks",
                "dynamicForkTasksInputParamName": "dynamicTasksInput",
                "inputParameters": {
                    "dynamicTasks": "${image_multiple_convert_resize_ref.output.dynamicTasks}",
                    "dynamicTasksInput": "${image_multiple_convert_resize_ref.output.dynamicTasksInput}",
                },
            },
            {"name": "join", "taskReferenceName": f"{fork}_join", "type": "JOIN"},
        ],
    }
    task_defs = [
        {
            "name": "image_convert_resize",
            "retryCount": 3,
            "retryDelaySeconds": 1,
            "timeoutSeconds": 30,
            "responseTimeoutSeconds": 30,
        }
    ]
    return _run(
        definition,
        {},
        workers={"image_multiple_convert_resize": plan, "image_convert_resize": resize},
        task_defs=task_defs,
        clock=clock,
    )


def sub_workflows() -> Any:
    """Two SUB_WORKFLOW children (resize, then upload) in a FORK_JOIN, each expanded in its cluster."""
    clock = VirtualClock()

    def step() -> dict[str, Any]:
        clock.advance(120)
        return {}

    child = {
        "name": "image_convert_resize",
        "tasks": [
            {"name": "image_convert_resize", "taskReferenceName": "image_convert_resize_ref"},
            {"name": "upload_toS3", "taskReferenceName": "upload_toS3_ref"},
        ],
    }

    def sub(fmt: str) -> dict[str, Any]:
        return {
            "name": "image_convert_resize",
            "taskReferenceName": f"subworkflow_{fmt}_ref",
            "type": "SUB_WORKFLOW",
            "subWorkflowParam": {"name": "image_convert_resize", "version": 1},
        }

    parent = {
        "name": "image_convert_resize_multipleformat_subworkflow",
        "tasks": [
            {
                "name": "fork",
                "taskReferenceName": "fork_ref",
                "type": "FORK_JOIN",
                "forkTasks": [[sub("jpg")], [sub("png")]],
            },
            {
                "name": "join",
                "taskReferenceName": "join_ref",
                "type": "JOIN",
                "joinOn": ["subworkflow_jpg_ref", "subworkflow_png_ref"],
            },
        ],
    }
    return _run(parent, {}, workers={"image_convert_resize": step, "upload_toS3": step}, workflows=[child], clock=clock)


def failed_run() -> Any:
    """designing_for_failure on a missing file: the resize fails after its retries, the rest is not reached."""
    clock = VirtualClock()

    def resize(fileLocation: str) -> dict[str, Any]:
        clock.advance(80)
        raise FileNotFoundError(f"[Errno 2] No such file or directory: '{fileLocation}'")

    def nothing() -> dict[str, Any]:
        return {}

    definition = {
        "name": "designing_for_failure",
        "tasks": [
            {
                "name": "image_convert_resize",
                "taskReferenceName": "resize",
                "inputParameters": {"fileLocation": "${workflow.input.fileLocation}"},
            },
            {"name": "flaky_thumbnail", "taskReferenceName": "thumbnail"},
            {"name": "watermark", "taskReferenceName": "watermark", "optional": True},
            {"name": "upload_toS3", "taskReferenceName": "upload"},
        ],
    }
    task_defs = [
        {
            "name": "image_convert_resize",
            "retryCount": 2,
            "retryLogic": "LINEAR_BACKOFF",
            "retryDelaySeconds": 2,
            "timeoutSeconds": 30,
            "responseTimeoutSeconds": 30,
        },
        {"name": "flaky_thumbnail", "retryCount": 3, "retryLogic": "EXPONENTIAL_BACKOFF", "retryDelaySeconds": 5},
    ]
    workers = {"image_convert_resize": resize, "flaky_thumbnail": nothing, "watermark": nothing, "upload_toS3": nothing}
    return _run(
        definition,
        {"fileLocation": "/data/samples/does-not-exist-with-a-long-name.png"},
        workers=workers,
        task_defs=task_defs,
        clock=clock,
    )


SAMPLES = {"six_branch_fork": six_branch_fork, "sub_workflows": sub_workflows, "failed_run": failed_run}
"""name -> a function making the run; each run's status is checked by the tests that draw it."""
