"""The tutorials' sample images: present, small, and exactly what scripts/make_sample_images.py draws."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from contrib_fixtures import REPO_ROOT, SAMPLES
from PIL import Image

EXPECTED = {
    "gradient.png": ("PNG", (480, 320)),
    "shapes.png": ("PNG", (400, 300)),
    "landscape.jpg": ("JPEG", (640, 400)),
    "rings.jpg": ("JPEG", (300, 450)),
}


def _script():
    spec = importlib.util.spec_from_file_location("make_sample_images", REPO_ROOT / "scripts" / "make_sample_images.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sample_images_are_committed_small_and_readable():
    assert sorted(p.name for p in SAMPLES.iterdir() if not p.name.startswith(".")) == sorted(EXPECTED)
    for name, (fmt, size) in EXPECTED.items():
        path = SAMPLES / name
        assert path.stat().st_size <= 50 * 1024, name
        with Image.open(path) as image:
            assert (image.format, image.size) == (fmt, size), name


def test_the_script_is_deterministic_and_matches_the_committed_pixels(tmp_path: Path):
    script = _script()
    first = script.make(tmp_path / "a")
    second = script.make(tmp_path / "b")
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    for path in first:
        if path.suffix == ".png":  # lossless: the committed file holds exactly these pixels
            with Image.open(path) as fresh, Image.open(SAMPLES / path.name) as committed:
                assert fresh.tobytes() == committed.tobytes()
