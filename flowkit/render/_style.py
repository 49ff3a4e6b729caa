"""The diagram's vocabulary (short texts; status colours and symbols from ``flowkit._palette``) and a deterministic DOT writer.

The writer sorts attributes by name, escapes values one way and keeps statements in the order the
walker emits them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from flowkit._palette import STATUS_COLORS, STATUS_ORDER, STATUS_SYMBOLS, UNKNOWN_COLOR

__all__ = [
    "FONT",
    "NOT_REACHED",
    "STATUS_COLORS",
    "STATUS_ORDER",
    "STATUS_SYMBOLS",
    "Html",
    "Writer",
    "duration",
    "fill",
    "font_color",
    "html_escape",
    "preview",
    "short",
]

NOT_REACHED = "not reached"
FONT = "Helvetica,Arial,sans-serif"


class Html(str):
    """An HTML-like label: written between ``<`` and ``>`` instead of quotes."""

    __slots__ = ()


def _quote(value: str) -> str:
    # Every backslash is doubled so graphviz's escString sequences (\N, \G, \l ...) never fire on
    # user text; real newlines become DOT's centred line break.
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _value(value: Any) -> str:
    if isinstance(value, Html):
        return f"<{value}>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return _quote(str(value))


def _attrs(attrs: Mapping[str, Any]) -> str:
    items = [f"{key}={_value(attrs[key])}" for key in sorted(attrs) if attrs[key] is not None]
    return f" [{', '.join(items)}]" if items else ""


class Writer:
    """Collects DOT statements; :meth:`text` writes nodes and clusters first, then every edge."""

    def __init__(self, name: str, graph: Mapping[str, Any], node: Mapping[str, Any], edge: Mapping[str, Any]) -> None:
        self._lines = [f"digraph {_quote(name)} {{"]
        self.graph = dict(graph)
        """The graph's attributes: written by :meth:`text`, so the walker can set them last (the title's legend)."""
        self._lines += ["", f"  node{_attrs(node)};", f"  edge{_attrs(edge)};"]
        self._edges: list[str] = []
        self._indent = "  "

    def node(self, node_id: str, attrs: Mapping[str, Any]) -> None:
        """Declare a node."""
        self._lines.append(f"{self._indent}{_quote(node_id)}{_attrs(attrs)};")

    def edge(self, tail: str, head: str, attrs: Mapping[str, Any]) -> None:
        """Add an edge (written after every node, so it never pulls a node into the wrong cluster)."""
        self._edges.append(f"  {_quote(tail)} -> {_quote(head)}{_attrs(attrs)};")

    def open_cluster(self, cluster_id: str, attrs: Mapping[str, Any]) -> None:
        """Start ``subgraph cluster_...``; close it with :meth:`close_cluster`."""
        self._lines.append(f"{self._indent}subgraph {_quote('cluster_' + cluster_id)} {{")
        self._indent += "  "
        self._lines.append(f"{self._indent}graph{_attrs(attrs)};")

    def close_cluster(self) -> None:
        """End the innermost cluster."""
        self._indent = self._indent[:-2]
        self._lines.append(f"{self._indent}}}")

    def text(self) -> str:
        """Return the DOT source."""
        self._lines[1] = f"  graph{_attrs(self.graph)};"
        return "\n".join([*self._lines, *self._edges, "}", ""])


# ---------------------------------------------------------------------------------------------- texts
_SPACE = re.compile(r"\s+")


def short(text: Any, limit: int = 40) -> str:
    """``text`` on one line, whitespace collapsed, cut to ``limit`` characters with an ellipsis."""
    flat = _SPACE.sub(" ", str(text)).strip()
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def duration(ms: int) -> str:
    """Format a duration the way people read it: ``350 ms``, ``1.2 s``, ``4.5 min``, ``2.0 h``."""
    if ms < 1000:
        return f"{ms} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    if ms < 3_600_000:
        return f"{ms / 60_000:.1f} min"
    return f"{ms / 3_600_000:.1f} h"


class _Full(Exception):
    pass


def preview(value: Any, limit: int = 240) -> str:
    """Write compact JSON of ``value``, cut at ``limit`` characters.

    It stops walking once it has enough: a loop's output with every iteration can be megabytes.
    """
    parts: list[str] = []
    size = 0

    def put(text: str) -> None:
        nonlocal size
        parts.append(text)
        size += len(text)
        if size > limit:
            raise _Full

    def walk(item: Any) -> None:
        if isinstance(item, Mapping):
            put("{")
            for i, key in enumerate(sorted(item, key=str)):
                put((", " if i else "") + json.dumps(str(key), ensure_ascii=False) + ": ")
                walk(item[key])
            put("}")
        elif isinstance(item, list | tuple):
            put("[")
            for i, element in enumerate(item):
                if i:
                    put(", ")
                walk(element)
            put("]")
        else:
            try:
                put(json.dumps(item, ensure_ascii=False))
            except (TypeError, ValueError):
                put(json.dumps(repr(item), ensure_ascii=False))

    try:
        walk(value)
    except _Full:
        return "".join(parts)[: limit - 1] + "…"
    return "".join(parts)


def html_escape(text: str) -> str:
    """Escape text for an HTML-like label or HTML output."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def font_color(fill: str) -> str:
    """Black or white, whichever reads better on ``fill`` (WCAG relative luminance)."""
    if not (fill.startswith("#") and len(fill) == 7):
        return "black"

    def linear(channel: str) -> float:
        c = int(channel, 16) / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(fill[i : i + 2]) for i in (1, 3, 5))
    return "black" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.179 else "white"


def fill(status: str) -> str:
    """Return the fill colour of ``status`` (white for a status Conductor does not define)."""
    return STATUS_COLORS.get(status, UNKNOWN_COLOR)
