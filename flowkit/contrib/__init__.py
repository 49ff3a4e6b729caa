"""Ready-made workers: the Orkes image-processing tutorial, with Pillow and S3.

    >>> import flowkit, flowkit.contrib
    >>> execution = flowkit.run(
    ...     "image_convert_resize.json",
    ...     {"fileLocation": "notebooks/images/landscape.jpg",
    ...      "recipeParameters": {"outputFormat": "webp", "outputSize": {"width": 300, "height": 200}}},
    ...     workers=flowkit.contrib.image_workers(),
    ...     task_defs=flowkit.contrib.image_task_defs(),
    ... )  # doctest: +SKIP

* ``image_convert_resize``: ``fileLocation`` (path, http(s) URL or ``s3://bucket/key``),
  ``outputFormat``, ``outputWidth``, ``outputHeight``, optional ``maintainAspectRatio`` ->
  ``fileLocation`` (the written file), ``outputWidth``, ``outputHeight``, ``outputFormat``.
  Files go to :func:`flowkit.contrib.images.default_output_dir` (``~/.flowkit/images``).
* ``upload_toS3``: ``fileLocation`` -> ``fileLocation`` (``s3://bucket/key``), ``url``.
  Where to: :func:`flowkit.contrib.s3.ensure_endpoint` (a local S3 server when nothing is configured).
* ``image_multiple_convert_resize``: ``fileLocation``, ``outputFormats``, ``outputSizes``,
  ``maintainAspectRatio`` -> the dynamic fork's ``dynamicTasks`` and ``dynamicTasksInput``.

Pillow and boto3 are imported only when a task runs (``pip install 'flowkit[images]'``); moto, for
the local S3 server, comes with ``pip install 'flowkit[tutorial]'``.
"""

from __future__ import annotations

from flowkit.contrib import images, s3
from flowkit.contrib._workers import image_task_defs, image_workers
from flowkit.contrib.images import ImageError, ImageInputError
from flowkit.contrib.s3 import S3Endpoint, S3Error, ensure_endpoint

__all__ = [
    "ImageError",
    "ImageInputError",
    "S3Endpoint",
    "S3Error",
    "ensure_endpoint",
    "image_convert_resize",
    "image_multiple_convert_resize",
    "image_task_defs",
    "image_workers",
    "images",
    "s3",
    "upload_toS3",
]

image_convert_resize, upload_toS3, image_multiple_convert_resize = image_workers()
"""The workers with the default output folder and S3 endpoint (``image_workers()`` makes others)."""
