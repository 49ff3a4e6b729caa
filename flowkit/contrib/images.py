"""Pillow image conversion for the tutorial's ``image_convert_resize`` workers.

:func:`convert_resize` reads an image from a local path, an http(s) URL or ``s3://bucket/key``,
resizes it (exactly, or to fit inside the box with ``maintain_aspect_ratio``), converts it to any
format Pillow writes (jpg/jpeg, png, webp, gif, bmp, tiff, ...) and writes it to the output folder:
:func:`configure`'s, else ``$FLOWKIT_IMAGES_DIR``, else ``$FLOWKIT_HOME/images``
(``~/.flowkit/images`` when ``FLOWKIT_HOME`` is unset). File names are
``<source stem>_<width>x<height>_<8 hex digits of the content's sha256>.<ext>``: the same output
always gets the same name, and different outputs never overwrite each other.

Inputs that can never work (an unsupported format, a size that is not a positive whole number, a
file that is not a readable image) raise :class:`ImageInputError`, a ``NonRetryableError``: the
task ends FAILED_WITH_TERMINAL_ERROR. Problems that may pass (a missing file, an unreachable URL or
S3 endpoint) raise :class:`ImageError` or :class:`~flowkit.contrib.s3.S3Error`: the task is FAILED
and retried as its task definition says.
"""

from __future__ import annotations

import hashlib
import io
import os
import socket
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from flowkit.errors import FlowkitError, NonRetryableError

if TYPE_CHECKING:
    from PIL import Image as PILImage

    from flowkit.contrib.s3 import S3Endpoint

__all__ = [
    "HTTP_TIMEOUT_SECONDS",
    "ImageError",
    "ImageInputError",
    "MAX_SIDE",
    "MAX_SOURCE_BYTES",
    "configure",
    "convert_resize",
    "default_output_dir",
    "image_format",
    "multiple_convert_resize",
    "read_source",
]

MAX_SIDE = 16384
"""The largest output width or height, in pixels."""
MAX_SOURCE_BYTES = 256 * 1024 * 1024
"""The largest image file read."""
HTTP_TIMEOUT_SECONDS = 30.0
"""Socket timeout for http(s) sources."""

_SETTINGS: dict[str, Any] = {}
_LOCK = threading.Lock()


class ImageError(FlowkitError):
    """An image could not be read or written; the task fails and is retried."""


class ImageInputError(ImageError, NonRetryableError):
    """An input that can never work (bad format, size or image data); the task fails without retries."""


# ---------------------------------------------------------------------------------------------- settings


def configure(*, output_dir: str | os.PathLike[str] | None) -> None:
    """Set the folder converted images are written to (None: back to the default)."""
    with _LOCK:
        if output_dir is None:
            _SETTINGS.pop("output_dir", None)
        else:
            _SETTINGS["output_dir"] = Path(output_dir).expanduser()


def default_output_dir() -> Path:
    """Return the folder converted images go to now (see the module doc); not created until something is written."""
    with _LOCK:
        configured = _SETTINGS.get("output_dir")
    if configured is not None:
        return Path(configured)
    env = os.environ.get("FLOWKIT_IMAGES_DIR")
    if env:
        return Path(env).expanduser()
    home = os.environ.get("FLOWKIT_HOME")
    return (Path(home).expanduser() if home else Path.home() / ".flowkit") / "images"


# ---------------------------------------------------------------------------------------------- formats


def image_format(name: Any) -> tuple[str, str]:
    """Return ``(Pillow format, file extension)`` for a requested output format such as ``"jpg"`` or ``"WEBP"``.

    Raises:
        ImageInputError: Pillow cannot write that format.

    """
    from PIL import Image

    if not isinstance(name, str) or not name.strip():
        raise ImageInputError(f"outputFormat must be a format name such as 'jpg', 'png' or 'webp'; got {name!r}.")
    wanted = name.strip().lower().lstrip(".")
    Image.init()
    extensions = Image.registered_extensions()
    pillow = extensions.get(f".{wanted}")
    if pillow is not None and pillow in Image.SAVE:
        return pillow, wanted
    if wanted.upper() in Image.SAVE:
        pillow = wanted.upper()
        ext = next((e for e, f in extensions.items() if f == pillow), f".{wanted}")
        return pillow, ext.lstrip(".")
    writable = sorted({e.lstrip(".") for e, f in extensions.items() if f in Image.SAVE})
    raise ImageInputError(
        f"outputFormat {name!r} is not a format Pillow can write. Use one of: jpg, png, webp, gif, bmp, tiff "
        f"(all: {', '.join(writable)})."
    )


# ---------------------------------------------------------------------------------------------- inputs


def _pixels(name: str, value: Any) -> int | None:
    if value is None or value == "":
        return None
    number: Any = value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = value
    if isinstance(number, bool) or not isinstance(number, int | float) or number != number or int(number) != number:
        raise ImageInputError(f"{name} must be a whole number of pixels; got {value!r}.")
    pixels = int(number)
    if pixels <= 0:
        raise ImageInputError(f"{name} must be a positive number of pixels; got {value!r}.")
    if pixels > MAX_SIDE:
        raise ImageInputError(f"{name} is {pixels} pixels; the most flowkit writes is {MAX_SIDE}.")
    return pixels


def _flag(name: str, value: Any) -> bool:
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no", "1", "0"):
        return value.strip().lower() in ("true", "yes", "1")
    raise ImageInputError(f"{name} must be true or false; got {value!r}.")


def read_source(location: Any, *, s3: S3Endpoint | None = None, what: str = "fileLocation") -> tuple[bytes, str]:
    """Read the bytes at ``location`` (a local path, ``file://``, ``http(s)://`` or ``s3://bucket/key``) and its file name.

    Args:
        location: Where the file is.
        s3: The endpoint for ``s3://`` locations (default: :func:`flowkit.contrib.s3.ensure_endpoint`).
        what: The input's name, for messages.

    Raises:
        ImageInputError: ``location`` is not a string.
        ImageError: the file is missing or unreadable, or the download failed.
        S3Error: the S3 request failed.

    """
    if not isinstance(location, str) or not location.strip():
        raise ImageInputError(f"{what} must be a local path, an http(s) URL or s3://bucket/key; got {location!r}.")
    location = location.strip()
    scheme = urlsplit(location).scheme.lower()
    if scheme == "s3":
        from flowkit.contrib import s3 as s3_module

        try:
            bucket, key = s3_module.parse_s3_uri(location)
        except ValueError as exc:
            raise ImageInputError(f"{what} {location!r} is not a valid s3://bucket/key URI.") from exc
        endpoint = s3 or s3_module.ensure_endpoint()
        return endpoint.get_bytes(key, bucket=bucket, max_bytes=MAX_SOURCE_BYTES), key.rsplit("/", 1)[-1]
    if scheme in ("http", "https"):
        return _download(location), unquote(urlsplit(location).path.rsplit("/", 1)[-1])
    if scheme == "file":
        path = Path(unquote(urlsplit(location).path))
    elif len(scheme) > 1:  # "c:" on Windows is a drive, not a scheme
        raise ImageInputError(f"{what} {location!r}: unsupported scheme {scheme!r}; use a path, http(s):// or s3://.")
    else:
        path = Path(location).expanduser()
    return _read_file(path, location, what), path.name


def _read_file(path: Path, location: str, what: str) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_SOURCE_BYTES:
            raise ImageInputError(f"{what} {location!r} is {size} bytes; the most flowkit reads is {MAX_SOURCE_BYTES}.")
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise ImageError(f"image file not found: {str(path.resolve())!r} ({what}={location!r}).") from exc
    except IsADirectoryError as exc:
        raise ImageInputError(f"{what} {location!r} is a folder, not an image file.") from exc
    except PermissionError as exc:
        raise ImageError(f"no permission to read {location!r} ({what}).") from exc
    except OSError as exc:
        if isinstance(exc, ImageError):
            raise
        raise ImageError(f"cannot read {location!r} ({what}): {exc.strerror or exc}.") from exc


def _download(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "flowkit-image-worker"})
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:  # noqa: S310 - http(s) only
            data: bytes = response.read(MAX_SOURCE_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise ImageError(f"downloading {url} failed: HTTP {exc.code} {exc.reason}.") from exc
    except urllib.error.URLError as exc:
        reason = exc.reason
        text = "timed out" if isinstance(reason, socket.timeout | TimeoutError) else str(reason)
        raise ImageError(f"cannot download {url}: {text}.") from exc
    except TimeoutError as exc:
        raise ImageError(f"downloading {url} timed out after {HTTP_TIMEOUT_SECONDS:g} s.") from exc
    except OSError as exc:
        raise ImageError(f"downloading {url} failed: {exc}.") from exc
    if len(data) > MAX_SOURCE_BYTES:
        raise ImageInputError(f"{url} is larger than the {MAX_SOURCE_BYTES} bytes flowkit reads.")
    return data


def _open(data: bytes, location: str) -> PILImage.Image:
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        opened = Image.open(io.BytesIO(data))
        opened.load()
        image: PILImage.Image = ImageOps.exif_transpose(opened) or opened
    except UnidentifiedImageError as exc:
        raise ImageInputError(
            f"{location!r} is not an image Pillow can read (unknown format or corrupt data)."
        ) from exc
    except Image.DecompressionBombError as exc:
        raise ImageInputError(f"{location!r} has too many pixels to decode safely: {exc}") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageInputError(f"{location!r} is a corrupt or truncated image: {exc}.") from exc
    return image


# ---------------------------------------------------------------------------------------------- conversion


def _target_size(size: tuple[int, int], width: int | None, height: int | None, keep_ratio: bool) -> tuple[int, int]:
    w0, h0 = size
    if width is None and height is None:
        return size
    if width is None or height is None:  # one side given: the other follows the aspect ratio
        scale = (width / w0) if width is not None else (height or h0) / h0
    elif keep_ratio:
        scale = min(width / w0, height / h0)
    else:
        return width, height
    return max(1, min(MAX_SIDE, round(w0 * scale))), max(1, min(MAX_SIDE, round(h0 * scale)))


def _for_format(image: PILImage.Image, pillow_format: str) -> PILImage.Image:
    from PIL import Image

    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    if pillow_format == "JPEG":
        if has_alpha:  # JPEG has no alpha: flatten onto white, as browsers show it
            rgba = image.convert("RGBA")
            flat = Image.new("RGB", rgba.size, (255, 255, 255))
            flat.paste(rgba, mask=rgba.getchannel("A"))
            return flat
        return image if image.mode in ("L", "RGB", "CMYK") else image.convert("RGB")
    if image.mode in ("CMYK", "YCbCr", "LAB", "HSV", "I;16", "F") and pillow_format not in ("TIFF",):
        return image.convert("RGBA" if has_alpha else "RGB")
    return image


def _encode(image: PILImage.Image, pillow_format: str, location: str) -> bytes:
    options: dict[str, Any] = {"JPEG": {"quality": 90}, "WEBP": {"quality": 90}}.get(pillow_format, {})
    candidates = [image]
    for mode in ("RGBA", "RGB"):  # formats with few modes (ICO, PCX, XBM, ...): try the common ones
        if mode != image.mode and (mode == "RGB" or "A" in image.mode):
            candidates.append(image.convert(mode))
    first: Exception | None = None
    for candidate in candidates:
        buffer = io.BytesIO()
        try:
            candidate.save(buffer, format=pillow_format, **options)
            return buffer.getvalue()
        except (OSError, ValueError, KeyError, TypeError) as exc:
            first = first or exc
    raise ImageInputError(
        f"Pillow cannot write {location!r} ({image.mode}, {image.size[0]}x{image.size[1]}) as {pillow_format}: {first}."
    ) from first


def _write(folder: Path, name: str, data: bytes) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / name
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)  # atomic: parallel tasks writing the same output never see half a file
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ImageError(f"cannot write the converted image to {str(folder)!r}: {exc.strerror or exc}.") from exc
    return target


def _stem(name: str) -> str:
    stem = Path(name).stem or "image"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem).strip("._")
    return (safe or "image")[:80]


def convert_resize(
    file_location: Any,
    output_format: Any,
    output_width: Any = None,
    output_height: Any = None,
    *,
    maintain_aspect_ratio: Any = False,
    output_dir: str | os.PathLike[str] | None = None,
    s3: S3Endpoint | None = None,
) -> dict[str, Any]:
    """Convert and resize one image; returns the ``image_convert_resize`` task output.

    Args:
        file_location: A local path, ``file://``/``http(s)://`` URL or ``s3://bucket/key``.
        output_format: ``jpg``/``jpeg``, ``png``, ``webp``, ``gif``, ``bmp``, ``tiff`` or another
            format Pillow writes (an extension or a Pillow format name).
        output_width: Width in pixels (a whole number; numeric strings are accepted).
        output_height: Height in pixels. With only one of the two, the other keeps the aspect ratio;
            with neither, the size is unchanged.
        maintain_aspect_ratio: Fit inside ``output_width`` x ``output_height`` keeping the aspect
            ratio (up or down), instead of stretching to exactly that size.
        output_dir: Where to write (default: :func:`default_output_dir`).
        s3: The endpoint for ``s3://`` sources (default: :func:`flowkit.contrib.s3.ensure_endpoint`).

    Returns:
        ``fileLocation`` (the written file's absolute path), ``outputWidth``, ``outputHeight``
        (the written size), ``outputFormat`` (as requested, lower case), ``sizeBytes``.

    """
    pillow_format, extension = image_format(output_format)
    width = _pixels("outputWidth", output_width)
    height = _pixels("outputHeight", output_height)
    keep = _flag("maintainAspectRatio", maintain_aspect_ratio)
    data, name = read_source(file_location, s3=s3)
    image = _open(data, str(file_location))
    size = _target_size(image.size, width, height, keep)
    if size != image.size:
        from PIL import Image

        if image.mode in ("P", "1"):
            image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        image = image.resize(size, Image.Resampling.LANCZOS)
    encoded = _encode(_for_format(image, pillow_format), pillow_format, str(file_location))
    digest = hashlib.sha256(encoded).hexdigest()[:8]
    folder = Path(output_dir).expanduser() if output_dir is not None else default_output_dir()
    path = _write(folder.resolve(), f"{_stem(name)}_{size[0]}x{size[1]}_{digest}.{extension}", encoded)
    return {
        "fileLocation": str(path),
        "outputWidth": size[0],
        "outputHeight": size[1],
        "outputFormat": str(output_format).strip().lower().lstrip("."),
        "sizeBytes": len(encoded),
    }


def multiple_convert_resize(
    file_location: Any, output_formats: Any, output_sizes: Any, maintain_aspect_ratio: Any = False
) -> dict[str, Any]:
    """Plan the dynamic fork of ``image_multiple_convert_resize``: one ``image_convert_resize`` task per format and size.

    References are ``image_convert_resize_<fmt>_<w>x<h>_<i>``, ``i`` counting from 0 over formats
    (outer) and sizes (inner), as in the tutorial's Java worker.

    Returns:
        ``{"dynamicTasks": [{"name", "taskReferenceName"}], "dynamicTasksInput": {ref: input}}``.

    Raises:
        ImageInputError: no formats or sizes, an unsupported format or a non-positive size.

    """
    if not isinstance(file_location, str) or not file_location.strip():
        raise ImageInputError(
            f"fileLocation must be a local path, an http(s) URL or s3://bucket/key; got {file_location!r}."
        )
    formats = [output_formats] if isinstance(output_formats, str) else output_formats
    sizes = [output_sizes] if isinstance(output_sizes, Mapping) else output_sizes
    if not isinstance(formats, list | tuple) or not formats:
        raise ImageInputError(
            f"outputFormats must be a non-empty list such as ['jpg', 'webp']; got {output_formats!r}."
        )
    if not isinstance(sizes, list | tuple) or not sizes:
        raise ImageInputError(
            f"outputSizes must be a non-empty list such as [{{'width': 300, 'height': 200}}]; got {output_sizes!r}."
        )
    keep = _flag("maintainAspectRatio", maintain_aspect_ratio)
    checked_sizes = []
    for i, size in enumerate(sizes):
        if not isinstance(size, Mapping):
            raise ImageInputError(f"outputSizes[{i}] must be {{'width': W, 'height': H}}; got {size!r}.")
        w = _pixels(f"outputSizes[{i}].width", size.get("width"))
        h = _pixels(f"outputSizes[{i}].height", size.get("height"))
        if w is None or h is None:
            raise ImageInputError(f"outputSizes[{i}] needs both width and height; got {dict(size)!r}.")
        checked_sizes.append((w, h))
    tasks: list[dict[str, Any]] = []
    inputs: dict[str, Any] = {}
    index = 0
    for fmt in formats:
        image_format(fmt)  # fail the whole fan-out now rather than one branch later
        label = "".join(c if c.isalnum() else "_" for c in str(fmt).strip().lower().lstrip("."))
        for w, h in checked_sizes:
            ref = f"image_convert_resize_{label}_{w}x{h}_{index}"
            tasks.append({"name": "image_convert_resize", "taskReferenceName": ref})
            inputs[ref] = {
                "fileLocation": file_location,
                "outputFormat": fmt,
                "outputWidth": w,
                "outputHeight": h,
                "maintainAspectRatio": keep,
            }
            index += 1
    return {"dynamicTasks": tasks, "dynamicTasksInput": inputs}
