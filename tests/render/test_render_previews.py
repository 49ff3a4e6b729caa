"""flowkit.notebook.preview: image previews carry a plain mimebundle (no widgets), so they survive a
saved notebook and nbconvert's HTML export (the kernel-and-nbconvert check is test_render_nbconvert.py)."""

from __future__ import annotations

import base64
import io
from pathlib import Path

from PIL import Image

from flowkit.notebook import preview
from flowkit.notebook._images import thumbnail


def test_a_webp_preview_is_a_png_with_its_width_and_an_img_tag(tmp_path: Path) -> None:
    path = tmp_path / "photo.webp"
    Image.new("RGB", (640, 400), (10, 20, 30)).save(path)
    bundle, metadata = preview(str(path), width=200)._repr_mimebundle_()
    png = base64.b64decode(bundle["image/png"])
    assert png.startswith(b"\x89PNG") and metadata == {"image/png": {"width": 200}}
    with Image.open(io.BytesIO(png)) as shown:
        assert shown.size == (400, 250)  # twice the display width, for sharp high-density screens
    assert "<img src='data:image/png;base64," in bundle["text/html"] and "width='200'" in bundle["text/html"]
    assert bundle["text/plain"].startswith("photo.webp: ") and "image/png" in bundle["text/plain"]


def test_several_images_and_outputs_are_found_and_a_bad_one_says_why(tmp_path: Path) -> None:
    good = tmp_path / "a.png"
    Image.new("RGB", (30, 20)).save(good)
    output = {"files": [str(good), str(tmp_path / "b.gif")], "note": "not an image"}
    Image.new("P", (10, 10)).save(tmp_path / "b.gif")
    shown = preview(output, str(tmp_path / "gone.jpg"), width=None)
    bundle, metadata = shown._repr_mimebundle_()
    assert [t.where for t in shown.thumbnails] == ["[0].files[0]", "[0].files[1]", "gone.jpg"]
    assert "image/png" not in bundle and metadata == {}  # a bundle holds one image: several are HTML
    assert bundle["text/html"].count("<img ") == 2 and "gone.jpg: FileNotFoundError" in bundle["text/html"]
    assert repr(shown) == bundle["text/plain"]
    alone = thumbnail("x", str(good))
    assert alone._repr_mimebundle_()[0]["image/png"] == base64.b64encode(alone.data or b"").decode()
