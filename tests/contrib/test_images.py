"""image_convert_resize and image_multiple_convert_resize on real Pillow images (no mocks)."""
# ruff: noqa: F811 - pytest fixtures imported from contrib_fixtures are parameters here

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from contrib_fixtures import SAMPLES, MotoS3, bucket, clean_contrib, endpoint, http_images, moto, out_dir  # noqa: F401
from PIL import Image

from flowkit import NonRetryableError
from flowkit.contrib import ImageError, ImageInputError, S3Error, images
from flowkit.contrib.images import convert_resize, multiple_convert_resize

LANDSCAPE = SAMPLES / "landscape.jpg"  # 640x400
SHAPES = SAMPLES / "shapes.png"  # 400x300 RGBA
RINGS = SAMPLES / "rings.jpg"  # 300x450

FORMATS = [
    ("jpg", "JPEG", "jpg"),
    ("jpeg", "JPEG", "jpeg"),
    ("png", "PNG", "png"),
    ("webp", "WEBP", "webp"),
    ("gif", "GIF", "gif"),
    ("bmp", "BMP", "bmp"),
    ("tiff", "TIFF", "tiff"),
    ("TIF", "TIFF", "tif"),
    ("tga", "TGA", "tga"),
    ("ppm", "PPM", "ppm"),
]


@pytest.mark.parametrize("source", [LANDSCAPE, SHAPES], ids=["rgb-jpeg", "rgba-png"])
@pytest.mark.parametrize(("requested", "pillow_format", "extension"), FORMATS)
def test_convert_to_each_format_and_read_back(source, requested, pillow_format, extension, out_dir):
    out = convert_resize(str(source), requested, 120, 90, output_dir=out_dir)
    path = Path(out["fileLocation"])
    assert path.parent == out_dir.resolve() and path.suffix == f".{extension}"
    assert path.name.startswith(f"{source.stem}_120x90_")
    with Image.open(path) as image:
        assert image.format == pillow_format
        assert image.size == (120, 90)
    assert out["outputWidth"] == 120 and out["outputHeight"] == 90
    assert out["outputFormat"] == requested.lower()
    assert out["sizeBytes"] == path.stat().st_size


def test_transparent_png_to_jpeg_is_flattened_on_white(out_dir):
    out = convert_resize(str(SHAPES), "jpg", 400, 300, output_dir=out_dir)
    with Image.open(out["fileLocation"]) as image:
        assert image.mode == "RGB"
        corner = image.getpixel((0, 0))
    with Image.open(SHAPES) as original:
        assert original.getpixel((0, 0))[3] == 0  # really transparent there
    assert all(channel > 245 for channel in corner)


@pytest.mark.parametrize(
    ("source", "box", "expected"),
    [
        (LANDSCAPE, (300, 300), (300, 188)),  # wide into a square: width-bound
        (RINGS, (300, 300), (200, 300)),  # tall into a square: height-bound
        (SHAPES, (800, 800), (800, 600)),  # smaller than the box: scaled up to fit
        (LANDSCAPE, (640, 400), (640, 400)),  # same ratio: unchanged
    ],
)
def test_maintain_aspect_ratio_fits_inside_the_box(source, box, expected, out_dir):
    out = convert_resize(str(source), "png", *box, maintain_aspect_ratio=True, output_dir=out_dir)
    assert (out["outputWidth"], out["outputHeight"]) == expected
    with Image.open(out["fileLocation"]) as image:
        assert image.size == expected


def test_without_aspect_ratio_the_box_is_exact_and_flags_accept_strings(out_dir):
    stretched = convert_resize(str(LANDSCAPE), "png", 300, 300, maintain_aspect_ratio="false", output_dir=out_dir)
    assert (stretched["outputWidth"], stretched["outputHeight"]) == (300, 300)
    fitted = convert_resize(str(LANDSCAPE), "png", "300", "300", maintain_aspect_ratio="true", output_dir=out_dir)
    assert (fitted["outputWidth"], fitted["outputHeight"]) == (300, 188)


def test_one_side_keeps_the_ratio_and_no_size_keeps_the_size(out_dir):
    assert convert_resize(str(LANDSCAPE), "png", 320, None, output_dir=out_dir)["outputHeight"] == 200
    assert convert_resize(str(LANDSCAPE), "png", None, 100, output_dir=out_dir)["outputWidth"] == 160
    same = convert_resize(str(LANDSCAPE), "webp", output_dir=out_dir)
    assert (same["outputWidth"], same["outputHeight"]) == (640, 400)


def test_outputs_are_content_named_and_repeatable(out_dir):
    first = convert_resize(str(RINGS), "webp", 100, 150, output_dir=out_dir)
    second = convert_resize(f"file://{RINGS}", "webp", 100, 150, output_dir=out_dir)
    assert first["fileLocation"] == second["fileLocation"]
    data = Path(first["fileLocation"]).read_bytes()
    assert hashlib.sha256(data).hexdigest()[:8] in first["fileLocation"]
    assert [p.name for p in out_dir.iterdir()] == [Path(first["fileLocation"]).name]  # no temp files left


def test_output_folder_configure_env_and_default(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWKIT_HOME", str(tmp_path / "home"))
    assert images.default_output_dir() == tmp_path / "home" / "images"
    out = convert_resize(str(LANDSCAPE), "png", 32, 20)
    assert Path(out["fileLocation"]).parent == (tmp_path / "home" / "images").resolve()
    monkeypatch.setenv("FLOWKIT_IMAGES_DIR", str(tmp_path / "env"))
    assert images.default_output_dir() == tmp_path / "env"
    images.configure(output_dir=tmp_path / "configured")
    assert images.default_output_dir() == tmp_path / "configured"
    out = convert_resize(str(LANDSCAPE), "png", 32, 20)
    assert Path(out["fileLocation"]).parent == (tmp_path / "configured").resolve()


def test_http_source(http_images, out_dir):
    out = convert_resize(f"{http_images}/rings.jpg", "png", 60, 90, output_dir=out_dir)
    assert Path(out["fileLocation"]).name.startswith("rings_60x90_")
    with Image.open(out["fileLocation"]) as image:
        assert (image.format, image.size) == ("PNG", (60, 90))


def test_http_source_missing_is_a_retryable_failure(http_images, out_dir):
    with pytest.raises(ImageError, match=r"HTTP 404") as info:
        convert_resize(f"{http_images}/nope.png", "png", 60, 90, output_dir=out_dir)
    assert not isinstance(info.value, NonRetryableError)


def test_s3_source_is_fetched_with_boto3(moto: MotoS3, bucket, endpoint, out_dir):
    moto.client.put_object(Bucket=bucket, Key="in/landscape.jpg", Body=LANDSCAPE.read_bytes())
    out = convert_resize(f"s3://{bucket}/in/landscape.jpg", "gif", 64, 40, output_dir=out_dir, s3=endpoint)
    assert Path(out["fileLocation"]).name.startswith("landscape_64x40_")
    with Image.open(out["fileLocation"]) as image:
        assert (image.format, image.size) == ("GIF", (64, 40))
    with pytest.raises(S3Error, match=rf"cannot download s3://{bucket}/in/missing.jpg: no such object"):
        convert_resize(f"s3://{bucket}/in/missing.jpg", "gif", 64, 40, output_dir=out_dir, s3=endpoint)


# ------------------------------------------------------------------------------------------ bad input


def test_missing_file_fails_retryably_with_the_path(out_dir):
    with pytest.raises(ImageError, match=r"image file not found: '.*no-such\.png'") as info:
        convert_resize("/no/such/dir/no-such.png", "png", 10, 10, output_dir=out_dir)
    assert not isinstance(info.value, NonRetryableError)


def test_corrupt_and_truncated_images_never_retry(tmp_path, out_dir):
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"\x89PNG not really" + bytes(range(256)) * 4)
    with pytest.raises(ImageInputError, match=r"not an image Pillow can read") as info:
        convert_resize(str(garbage), "png", 10, 10, output_dir=out_dir)
    assert isinstance(info.value, NonRetryableError)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(LANDSCAPE.read_bytes()[:3000])
    with pytest.raises(ImageInputError, match=r"corrupt or truncated image"):
        convert_resize(str(truncated), "png", 10, 10, output_dir=out_dir)


@pytest.mark.parametrize("fmt", ["xyz", "", None, 7, "mp4"])
def test_unsupported_formats_never_retry(fmt, out_dir):
    with pytest.raises(ImageInputError, match=r"outputFormat") as info:
        convert_resize(str(LANDSCAPE), fmt, 10, 10, output_dir=out_dir)
    assert isinstance(info.value, NonRetryableError)
    assert not out_dir.exists()


@pytest.mark.parametrize(
    ("width", "height", "message"),
    [
        (0, 10, r"outputWidth must be a positive number of pixels; got 0"),
        (10, -5, r"outputHeight must be a positive number of pixels; got -5"),
        ("-3", 10, r"outputWidth must be a positive number of pixels"),
        (1.5, 10, r"outputWidth must be a whole number of pixels; got 1.5"),
        ("abc", 10, r"outputWidth must be a whole number"),
        (True, 10, r"outputWidth must be a whole number"),
        (10, 10**6, r"outputHeight is 1000000 pixels; the most flowkit writes is 16384"),
    ],
)
def test_bad_sizes_never_retry(width, height, message, out_dir):
    with pytest.raises(ImageInputError, match=message):
        convert_resize(str(LANDSCAPE), "png", width, height, output_dir=out_dir)


@pytest.mark.parametrize("location", [None, "", 42, "ftp://example.org/a.png"])
def test_bad_file_locations_never_retry(location, out_dir):
    with pytest.raises(ImageInputError, match=r"fileLocation"):
        convert_resize(location, "png", 10, 10, output_dir=out_dir)


# ------------------------------------------------------------------------------------------ the dynamic fork


def test_multiple_convert_resize_plans_one_task_per_format_and_size():
    sizes = [{"width": 1200, "height": 800}, {"width": 600, "height": 400}, {"width": 300, "height": 200}]
    plan = multiple_convert_resize("s3://b/cat.jpg", ["jpg", "png", "webp"], sizes, True)
    refs = [t["taskReferenceName"] for t in plan["dynamicTasks"]]
    assert refs == [
        "image_convert_resize_jpg_1200x800_0",
        "image_convert_resize_jpg_600x400_1",
        "image_convert_resize_jpg_300x200_2",
        "image_convert_resize_png_1200x800_3",
        "image_convert_resize_png_600x400_4",
        "image_convert_resize_png_300x200_5",
        "image_convert_resize_webp_1200x800_6",
        "image_convert_resize_webp_600x400_7",
        "image_convert_resize_webp_300x200_8",
    ]
    assert {t["name"] for t in plan["dynamicTasks"]} == {"image_convert_resize"}
    assert list(plan["dynamicTasksInput"]) == refs
    assert plan["dynamicTasksInput"]["image_convert_resize_png_1200x800_3"] == {
        "fileLocation": "s3://b/cat.jpg",
        "outputFormat": "png",
        "outputWidth": 1200,
        "outputHeight": 800,
        "maintainAspectRatio": True,
    }


@pytest.mark.parametrize(
    ("formats", "sizes", "message"),
    [
        ([], [{"width": 1, "height": 1}], r"outputFormats must be a non-empty list"),
        (["jpg"], [], r"outputSizes must be a non-empty list"),
        (["jpg", "nope"], [{"width": 1, "height": 1}], r"outputFormat 'nope' is not a format"),
        (["jpg"], [{"width": 0, "height": 1}], r"outputSizes\[0\].width must be a positive"),
        (["jpg"], [{"width": 5}], r"outputSizes\[0\] needs both width and height"),
        (["jpg"], ["5x5"], r"outputSizes\[0\] must be"),
    ],
)
def test_multiple_convert_resize_rejects_bad_plans(formats, sizes, message):
    with pytest.raises(ImageInputError, match=message):
        multiple_convert_resize("a.png", formats, sizes)
