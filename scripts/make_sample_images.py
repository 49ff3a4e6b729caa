"""Draw the image tutorials' sample pictures into notebooks/images/ (deterministic, rights-free).

    python scripts/make_sample_images.py [--out DIR]

Everything is drawn here with Pillow from a fixed seed (gradients and shapes, no text, no photos),
so the files are the same on every run and free of third-party rights. Each is under 50 KB.
"""

from __future__ import annotations

import argparse
import math
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

SEED = 20240101
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "notebooks" / "images"
MAX_BYTES = 50 * 1024


def _lerp(a: tuple[int, ...], b: tuple[int, ...], t: float) -> tuple[int, ...]:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b, strict=True))


def gradient(width: int = 480, height: int = 320) -> Image.Image:
    """Draw a diagonal three-colour gradient (PNG)."""
    stops = [(24, 62, 140), (212, 92, 140), (250, 204, 92)]
    image = Image.new("RGB", (width, height))
    pixels = image.load()
    assert pixels is not None
    for y in range(height):
        for x in range(width):
            t = (x / (width - 1) + y / (height - 1)) / 2
            seg = 0 if t < 0.5 else 1
            pixels[x, y] = _lerp(stops[seg], stops[seg + 1], (t - 0.5 * seg) * 2)
    return image


def shapes(rng: random.Random, width: int = 400, height: int = 300) -> Image.Image:
    """Draw translucent circles, rectangles and triangles on a transparent background (RGBA PNG)."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image, "RGBA")
    palette = [(230, 57, 70), (69, 123, 157), (42, 157, 143), (233, 196, 106), (244, 162, 97), (29, 53, 87)]
    for i in range(14):
        colour = (*palette[i % len(palette)], rng.randint(150, 230))
        x, y = rng.randint(0, width), rng.randint(0, height)
        r = rng.randint(18, 70)
        kind = i % 3
        if kind == 0:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
        elif kind == 1:
            draw.rectangle((x - r, y - r // 2, x + r, y + r // 2), fill=colour)
        else:
            draw.polygon([(x, y - r), (x + r, y + r), (x - r, y + r)], fill=colour)
    return image


def landscape(rng: random.Random, width: int = 640, height: int = 400) -> Image.Image:
    """Draw a sky gradient, a sun and rolling hills (JPEG, 16:10)."""
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for y in range(height):
        draw.line([(0, y), (width, y)], fill=_lerp((70, 130, 200), (255, 214, 170), y / (height - 1)))
    draw.ellipse((430, 60, 530, 160), fill=(255, 236, 150))
    hills = [((96, 148, 88), 0.62, 38), ((64, 120, 72), 0.72, 30), ((40, 90, 60), 0.84, 22)]
    for colour, level, amplitude in hills:
        phase = rng.uniform(0, math.tau)
        wave = rng.uniform(1.2, 2.4)
        points = [(0, height)]
        for x in range(0, width + 8, 8):
            y = height * level + amplitude * math.sin(phase + wave * math.tau * x / width)
            points.append((x, round(y)))
        points.append((width, height))
        draw.polygon(points, fill=colour)
    return image.filter(ImageFilter.SMOOTH)


def rings(width: int = 300, height: int = 450) -> Image.Image:
    """Draw concentric coloured rings in a tall frame (JPEG, portrait 2:3)."""
    image = Image.new("RGB", (width, height), (250, 248, 240))
    draw = ImageDraw.Draw(image)
    cx, cy = width // 2, height // 2
    colours = [(38, 70, 83), (42, 157, 143), (233, 196, 106), (244, 162, 97), (231, 111, 81)]
    for i, radius in enumerate(range(140, 0, -14)):
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=colours[i % len(colours)])
    return image


def make(out: Path) -> list[Path]:
    """Write the sample images into ``out``; returns their paths."""
    rng = random.Random(SEED)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    jobs = [
        ("gradient.png", gradient(), {"optimize": True}),
        ("shapes.png", shapes(rng), {"optimize": True}),
        ("landscape.jpg", landscape(rng), {"quality": 82, "optimize": True}),
        ("rings.jpg", rings(), {"quality": 85, "optimize": True}),
    ]
    for name, image, options in jobs:
        path = out / name
        image.save(path, **options)
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise SystemExit(f"{path} is {size} bytes, more than {MAX_BYTES}: make it smaller")
        written.append(path)
    return written


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    args = parser.parse_args()
    for path in make(args.out):
        with Image.open(path) as image:
            print(f"{path}  {image.format} {image.size[0]}x{image.size[1]} {image.mode}  {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
