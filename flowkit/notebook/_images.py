"""Finding images in task inputs and outputs, and making thumbnails of them (no widgets here).

An image is a PIL image, a path to an existing file ending .png/.jpg/.jpeg/.webp/.gif, or an
``s3://bucket/key`` URI with such an ending (fetched with boto3 when it is installed). Nothing here
raises for an image that cannot be read: the thumbnail carries the reason instead.

A :class:`Thumbnail`, and :func:`preview` of one or several images, display themselves with a
plain mimebundle (``image/png`` and an ``<img>`` with inline data), so they survive a saved
notebook and nbconvert's HTML export, where widgets and IPython's WebP/GIF images do not.
"""

from __future__ import annotations

import base64
import html
import io
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["IMAGE_EXTENSIONS", "Preview", "Thumbnail", "find_images", "preview", "thumbnail"]

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

    @property
    def mime(self) -> str:
        """The image's MIME type (``image/png``, ``image/jpeg``...)."""
        return f"image/{self.format}"

    def html(self, width: int | None = None) -> str:
        """An ``<img>`` with the image inline (a data URI) and its place as caption; the error instead."""
        caption = f"<figcaption style='font-size:80%;color:#555'>{html.escape(self.where)}</figcaption>"
        if self.data is None:
            reason = html.escape(f"{self.source}: {self.error}")
            return f"<figure class='flowkit-preview' style='margin:4px'><i>{reason}</i>{caption}</figure>"
        data = base64.b64encode(self.data).decode("ascii")
        size = f" width='{int(width)}'" if width else ""
        return (
            f"<figure class='flowkit-preview' style='margin:4px;display:inline-block;vertical-align:top'>"
            f"<img src='data:{self.mime};base64,{data}'{size} alt='{html.escape(self.where, quote=True)}' "
            f"title='{html.escape(self.source, quote=True)}' style='max-width:100%'/>{caption}</figure>"
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
        return _bundle([self], None)


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


class Preview:
    """Images shown in a row with their captions: what :func:`preview` returns.

    Its display is a plain mimebundle: ``text/html`` (``<img>`` tags with the data inline),
    ``image/png`` (or ``image/jpeg``) of the first image with its width, and ``text/plain``.
    """

    __slots__ = ("thumbnails", "width")

    def __init__(self, thumbnails: list[Thumbnail], width: int | None) -> None:
        self.thumbnails = thumbnails
        self.width = width

    def __repr__(self) -> str:
        return _text(self.thumbnails)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
        return _bundle(self.thumbnails, self.width)


def preview(*images: Any, width: int | None = 240, size: int | None = None, s3_client: Any = None) -> Preview:
    """Show images in a notebook so they survive saving and nbconvert's HTML export.

        >>> display(preview("out/landscape.webp", "out/landscape.png"))   # doctest: +SKIP
        >>> preview(run.task("resize").output)                           # images found in an output

    Args:
        *images: Paths, ``s3://`` URIs, PIL images, or task inputs/outputs (dicts and lists are
            searched for images, as the inspector does).
        width: Displayed width in pixels (None: the thumbnail's own size).
        size: Thumbnail size in pixels on the longer side (default: twice ``width``, for sharp
            display on high-density screens; 480 when ``width`` is None). WebP and GIF become PNG
            (with Pillow), which every notebook front end and nbconvert show.
        s3_client: A boto3 client for ``s3://`` images (default: flowkit's local S3 or boto3's).

    Returns:
        A :class:`Preview`; an image that cannot be read shows why instead.

    """
    pixels = size if size is not None else (2 * width if width else 480)
    found: list[tuple[str, Any]] = []
    for i, item in enumerate(images):
        if isinstance(item, Mapping | list | tuple):
            found += find_images(item, f"[{i}]" if len(images) > 1 else "images", limit=32)
        else:
            found.append((os.path.basename(item) if isinstance(item, str) else f"image {i + 1}", item))
    return Preview([thumbnail(where, image, size=pixels, s3_client=s3_client) for where, image in found], width)


def _text(thumbnails: Iterable[Thumbnail]) -> str:
    lines = [
        f"{t.where}: {t.source}" + (f" ({t.mime}, {len(t.data)} bytes)" if t.data else f" ({t.error})")
        for t in thumbnails
    ]
    return "\n".join(lines) or "(no images)"


def _bundle(thumbnails: list[Thumbnail], width: int | None) -> tuple[dict[str, Any], dict[str, Any]]:
    bundle: dict[str, Any] = {"text/plain": _text(thumbnails)}
    metadata: dict[str, Any] = {}
    if thumbnails:
        bundle["text/html"] = "<div class='flowkit-previews'>" + "".join(t.html(width) for t in thumbnails) + "</div>"
    first = thumbnails[0] if len(thumbnails) == 1 else None
    if first is not None and first.data is not None and first.format in ("png", "jpeg"):
        bundle[first.mime] = base64.b64encode(first.data).decode("ascii")
        if width:
            metadata[first.mime] = {"width": int(width)}
    return bundle, metadata


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
