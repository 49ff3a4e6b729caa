"""Finding images in task inputs and outputs, and making thumbnails of them (no widgets here).

An image is a PIL image, a path to an existing file ending .png/.jpg/.jpeg/.webp/.gif, or an
``s3://bucket/key`` URI with such an ending (fetched with boto3 when it is installed). Nothing here
raises for an image that cannot be read: the thumbnail carries the reason instead.
"""

from __future__ import annotations

import io
import os
import sys
from dataclasses import dataclass
from typing import Any

__all__ = ["IMAGE_EXTENSIONS", "Thumbnail", "find_images", "thumbnail"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".gif")
_FORMATS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp", ".gif": "gif"}
_MAX_BYTES = 25 * 1024 * 1024  # larger objects are not fetched for a thumbnail
_MAX_DEPTH = 5


@dataclass(frozen=True, slots=True)
class Thumbnail:
    """An image found at ``where`` (e.g. ``output.files[0]``): its bytes and format, or why not."""

    where: str
    source: str
    data: bytes | None = None
    format: str = "png"
    error: str | None = None


def _is_pil(value: Any) -> bool:
    return type(value).__module__.startswith("PIL.") and hasattr(value, "save") and hasattr(value, "size")


def _image_path(text: str) -> bool:
    return text.split("?", 1)[0].lower().endswith(IMAGE_EXTENSIONS)


def find_images(value: Any, where: str = "output", *, limit: int = 8) -> list[tuple[str, Any]]:
    """``(where, image)`` for the images in ``value``, at most ``limit``, in the order met."""
    found: list[tuple[str, Any]] = []

    def walk(item: Any, at: str, depth: int) -> None:
        if len(found) >= limit or depth > _MAX_DEPTH:
            return
        if _is_pil(item):
            found.append((at, item))
        elif isinstance(item, str | os.PathLike):
            text = os.fspath(item)
            if isinstance(text, str) and _image_path(text) and (text.startswith("s3://") or os.path.isfile(text)):
                found.append((at, text))
        elif isinstance(item, dict):
            for key, inner in item.items():
                walk(inner, f"{at}.{key}", depth + 1)
        elif isinstance(item, list | tuple):
            for i, inner in enumerate(item):
                walk(inner, f"{at}[{i}]", depth + 1)

    walk(value, where, 0)
    return found


def thumbnail(where: str, image: Any, *, size: int = 160, s3_client: Any = None) -> Thumbnail:
    """Make a PNG thumbnail (``size`` px on the longer side) of ``image``; the original bytes without Pillow."""
    source = image if isinstance(image, str) else f"<{type(image).__name__} {getattr(image, 'size', '')}>"
    try:
        if _is_pil(image):
            return Thumbnail(where, source, _shrink_pil(image, size), "png")
        data = _fetch_s3(image, s3_client) if image.startswith("s3://") else _read_file(image)
        fmt = _FORMATS.get(os.path.splitext(image.split("?", 1)[0])[1].lower(), "png")
        return Thumbnail(where, source, *_shrink_bytes(data, fmt, size))
    except Exception as exc:  # noqa: BLE001 - the inspector shows why instead of failing
        return Thumbnail(where, source, error=f"{type(exc).__name__}: {exc}")


def _read_file(path: str) -> bytes:
    if os.path.getsize(path) > _MAX_BYTES:
        raise ValueError(f"{path} is larger than {_MAX_BYTES // (1024 * 1024)} MB")
    with open(path, "rb") as handle:
        return handle.read()


def _fetch_s3(uri: str, client: Any) -> bytes:
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket or not key:
        raise ValueError(f"{uri!r} is not an s3://bucket/key URI")
    client = client if client is not None else default_s3_client()
    head = client.head_object(Bucket=bucket, Key=key)
    if int(head.get("ContentLength", 0)) > _MAX_BYTES:
        raise ValueError(f"{uri} is larger than {_MAX_BYTES // (1024 * 1024)} MB")
    return bytes(client.get_object(Bucket=bucket, Key=key)["Body"].read())


def default_s3_client() -> Any:
    """Flowkit's S3 endpoint when the S3 workers were used in this process, else boto3's default client."""
    contrib = sys.modules.get("flowkit.contrib.s3")
    if contrib is not None:
        return contrib.ensure_endpoint().client()
    try:
        import boto3  # type: ignore[import-untyped]
    except ImportError as exc:
        raise RuntimeError("showing s3:// images needs boto3 (pip install boto3)") from exc
    return boto3.client("s3")


def _shrink_pil(image: Any, size: int) -> bytes:
    copy = image.copy()
    copy.thumbnail((size, size))
    if copy.mode not in ("RGB", "RGBA", "L", "LA", "P"):
        copy = copy.convert("RGBA")
    buffer = io.BytesIO()
    copy.save(buffer, format="PNG")
    return buffer.getvalue()


def _shrink_bytes(data: bytes, fmt: str, size: int) -> tuple[bytes, str]:
    try:
        from PIL import Image
    except ImportError:
        return data, fmt
    with Image.open(io.BytesIO(data)) as opened:
        return _shrink_pil(opened, size), "png"
