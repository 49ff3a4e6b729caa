"""flowkit.contrib's public surface, and that importing it stays cheap."""

from __future__ import annotations

import subprocess
import sys

import flowkit.contrib
from flowkit.contrib import images, s3


def test_all_is_sorted_and_resolves():
    for module in (flowkit.contrib, images, s3):
        assert list(module.__all__) == sorted(module.__all__), module.__name__
        for name in module.__all__:
            assert getattr(module, name) is not None, f"{module.__name__}.{name}"
    assert [w.name for w in flowkit.contrib.image_workers()] == [
        "image_convert_resize",
        "upload_toS3",
        "image_multiple_convert_resize",
    ]
    assert flowkit.contrib.upload_toS3.name == "upload_toS3"


def test_importing_contrib_loads_no_pillow_boto3_or_moto():
    code = (
        "import sys, flowkit.contrib; flowkit.contrib.image_task_defs(); "
        "print(sorted({'PIL', 'boto3', 'botocore', 'moto'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
