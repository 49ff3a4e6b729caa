"""What a saved notebook keeps: diagrams and image previews executed in a real kernel (nbclient), then
exported by nbconvert's HTMLExporter, the way ``./dev main`` writes the tutorial's HTML.

The HTML must hold each diagram as inline ``<svg>`` (fitted, no scroll box) and each image preview
as an ``<img>`` with inline data, never ``<IPython.core.display.Image object>``.
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbconvert import HTMLExporter

pytestmark = pytest.mark.slow  # a kernel

ROOT = Path(__file__).resolve().parents[2]

CELLS = [
    """from diagram_samples import SAMPLES
from flowkit.notebook import preview
from PIL import Image
runs = {name: make() for name, make in SAMPLES.items()}""",
    "runs['six_branch_fork']",
    "runs['sub_workflows']",
    "runs['failed_run']",
    """Image.new("RGB", (320, 200), (40, 120, 200)).save("photo.webp")
Image.new("RGB", (200, 320), (200, 120, 40)).save("photo.gif")
Image.new("RGB", (300, 300), (10, 160, 60)).save("photo.png")
preview("photo.webp")""",
    """preview("photo.gif", "photo.png", "missing.png", width=120)""",
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[nbformat.NotebookNode, str]:
    folder = tmp_path_factory.mktemp("nbconvert")
    paths = [str(ROOT), str(ROOT / "tests" / "render"), os.environ.get("PYTHONPATH", "")]
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    try:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
        NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH")
        else:
            os.environ["PYTHONPATH"] = old
    body, _ = HTMLExporter().from_notebook_node(nb)
    (folder / "exported.html").write_text(body, encoding="utf-8")
    return nb, body


def test_the_exported_html_holds_every_diagram_as_fitted_inline_svg(exported) -> None:
    nb, body = exported
    for cell in nb.cells[1:4]:
        html = cell.outputs[0]["data"]["text/html"]
        assert html.startswith('<div class="flowkit-diagram"') and '<svg width="100%"' in html
    diagrams = re.findall(r'<div class="flowkit-diagram" id="[^"]+"', body)
    # nbconvert rewrites the markup (attributes sorted, names lower-cased as HTML parsers read them)
    svgs = re.findall(r"<svg [^>]*>", body, re.IGNORECASE)
    assert len(diagrams) == 3 and len(svgs) == 3
    assert all('width="100%"' in tag and "viewbox=" in tag.lower() and "max-width:" in tag for tag in svgs)
    for title in (
        "image_multiple_convert_resize v1",
        "image_convert_resize_multipleformat_subworkflow v1",
        "designing_for_failure v1 · FAILED",
    ):
        assert title in body
    assert "overflow:auto" not in body.split("<body", 1)[1].split("flowkit-diagram", 1)[1]  # no inner scroll box


def test_the_exported_html_shows_image_previews_as_img_tags(exported) -> None:
    nb, body = exported
    assert "IPython.core.display.Image object" not in body and "Preview object" not in body
    single = nb.cells[4].outputs[0]
    assert set(single["data"]) >= {"text/html", "image/png", "text/plain"}  # WebP became PNG
    assert single["metadata"]["image/png"] == {"width": 240}
    assert base64.b64decode(single["data"]["image/png"]).startswith(b"\x89PNG")
    images = re.findall(r'<img [^>]*src="data:image/png;base64,[A-Za-z0-9+/=]+"', body)
    assert len(images) == 3  # photo.webp, photo.gif and photo.png (the missing one says why)
    several = nb.cells[5].outputs[0]["data"]
    assert "image/png" not in several  # one image/png per output: several images are HTML only
    assert "missing.png: FileNotFoundError" in several["text/html"] and "width='120'" in several["text/html"]
