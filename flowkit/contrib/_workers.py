"""The tutorial's three workers as flowkit workers, and its task definitions."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from importlib import resources
from typing import Any

from flowkit.contrib import images
from flowkit.contrib import s3 as s3_module
from flowkit.contrib.images import ImageError
from flowkit.contrib.s3 import S3Endpoint
from flowkit.definitions import TaskDef
from flowkit.errors import FlowkitError, NonRetryableError
from flowkit.workers import Worker, worker_task

__all__ = ["image_task_defs", "image_workers"]


def _clear_failures(task_name: str) -> Callable[[Callable[..., dict[str, Any]]], Callable[..., dict[str, Any]]]:
    """Anything unexpected still fails the task with a sentence naming the task, not a bare library error."""

    def decorate(fn: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> dict[str, Any]:
            try:
                return fn(*args, **kwargs)
            except (FlowkitError, NonRetryableError):
                raise
            except Exception as exc:
                raise ImageError(f"{task_name} failed: {type(exc).__name__}: {exc}") from exc

        return wrapper

    return decorate


def image_workers(*, output_dir: str | os.PathLike[str] | None = None, s3: S3Endpoint | None = None) -> list[Worker]:
    """Make the tutorial's workers: ``image_convert_resize``, ``upload_toS3`` and ``image_multiple_convert_resize``.

    Args:
        output_dir: Where converted images are written (default:
            :func:`flowkit.contrib.images.default_output_dir`, ``~/.flowkit/images``).
        s3: The S3 endpoint for uploads and ``s3://`` sources (default:
            :func:`flowkit.contrib.s3.ensure_endpoint`, asked on each task's first S3 use).

    Example:
        >>> import flowkit, flowkit.contrib
        >>> execution = flowkit.run("image_convert_resize.json", {...},
        ...                         workers=flowkit.contrib.image_workers(),
        ...                         task_defs=flowkit.contrib.image_task_defs())  # doctest: +SKIP

    """

    @worker_task(task_definition_name="image_convert_resize")
    @_clear_failures("image_convert_resize")
    def image_convert_resize(
        fileLocation: Any,  # noqa: N803 - Conductor's input names; no default: required (the builder marks it)
        outputFormat: Any,  # noqa: N803
        outputWidth: Any = None,  # noqa: N803
        outputHeight: Any = None,  # noqa: N803
        maintainAspectRatio: Any = None,  # noqa: N803
    ) -> dict[str, Any]:
        """Convert and resize one image (Pillow); output ``fileLocation``, ``outputWidth``, ``outputHeight``, ``outputFormat``."""
        return images.convert_resize(
            fileLocation,
            outputFormat,
            outputWidth,
            outputHeight,
            maintain_aspect_ratio=maintainAspectRatio,
            output_dir=output_dir,
            s3=s3,
        )

    @worker_task(task_definition_name="upload_toS3")
    @_clear_failures("upload_toS3")
    def upload_toS3(fileLocation: Any, bucket: Any = None, key: Any = None) -> dict[str, Any]:  # noqa: N802, N803
        """Upload a file to S3; output ``fileLocation`` (``s3://bucket/key``) and ``url``."""
        return s3_module.upload(fileLocation, bucket=bucket, key=key, endpoint=s3)

    @worker_task(task_definition_name="image_multiple_convert_resize")
    @_clear_failures("image_multiple_convert_resize")
    def image_multiple_convert_resize(
        fileLocation: Any,  # noqa: N803
        outputFormats: Any,  # noqa: N803
        outputSizes: Any,  # noqa: N803
        maintainAspectRatio: Any = None,  # noqa: N803
    ) -> dict[str, Any]:
        """One ``image_convert_resize`` per format and size: output ``dynamicTasks`` and ``dynamicTasksInput``."""
        return images.multiple_convert_resize(fileLocation, outputFormats, outputSizes, maintainAspectRatio)

    return [image_convert_resize, upload_toS3, image_multiple_convert_resize]


@functools.cache
def _task_def_json() -> tuple[str, ...]:
    text = resources.files("flowkit.contrib").joinpath("taskdefs.json").read_text(encoding="utf-8")
    return tuple(json.dumps(item) for item in json.loads(text))


def image_task_defs(**changes: Any) -> list[TaskDef]:
    """Return the tutorial's task definitions for ``image_convert_resize`` and ``upload_toS3``.

    As published: 3 retries 30 s apart (FIXED), 30 s timeouts, TIME_OUT_WF, at most 100 at once
    and 50 per 30 s. ``changes`` (TaskDef field names) are applied to both, e.g.
    ``image_task_defs(retry_delay_seconds=1)`` for a notebook that should not wait.
    """
    defs = [TaskDef.from_json(json.loads(item)) for item in _task_def_json()]
    return [d.evolve(**changes) for d in defs] if changes else defs
