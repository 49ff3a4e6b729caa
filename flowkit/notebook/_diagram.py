"""A diagram as an HTML fragment: inline SVG from :mod:`flowkit.render`, or the DOT text without Graphviz."""

from __future__ import annotations

import html
import itertools
import re
from typing import Any

__all__ = ["Diagram"]

_IDS = re.compile(r'(\bid="|url\(#|href="#)')
_PREFIXES = itertools.count(1)


class Diagram:
    """Draws a definition or an execution, and skips Graphviz when the DOT text has not changed.

    Each instance prefixes the SVG's ids with its own prefix, so several diagrams share a page.
    """

    def __init__(self, *, renderers: Any = None, max_height: str = "420px") -> None:
        self.renderers = renderers
        self.max_height = max_height
        self.renders = 0
        """How many times Graphviz was run."""
        self._prefix = f"fkn{next(_PREFIXES)}_"
        self._source: str | None = None
        self._html = ""

    def html(self, obj: Any, *, raise_errors: bool = False) -> str:
        """Return the diagram of ``obj`` (anything :func:`flowkit.render.dot` accepts) as HTML.

        A definition that cannot be drawn gives a line saying why, or, with ``raise_errors``, the
        exception (a live view retries later instead of showing a transient failure).
        """
        from flowkit import render

        try:
            source = render.dot(obj)
        except Exception as exc:  # noqa: BLE001 - a view shows the problem instead of failing
            if raise_errors:
                raise
            return (
                f"<div class='flowkit-diagram'><i>no diagram: {html.escape(f'{type(exc).__name__}: {exc}')}</i></div>"
            )
        if source == self._source:
            return self._html
        drawn = render.svg(source, renderers=self.renderers) if self.renderers is not None else render.svg(source)
        if drawn:
            body = _IDS.sub(lambda m: m.group(1) + self._prefix, drawn)
        else:
            body = (
                "<div style='color:#555'>No Graphviz renderer found (install Graphviz or "
                "<code>pip install graphviz-pure</code>); the diagram's DOT text:</div>"
                f"<pre style='font-size:80%;line-height:1.3'>{html.escape(source)}</pre>"
            )
        self._source = source
        self._html = f"<div class='flowkit-diagram' style='max-width:100%;max-height:{self.max_height};overflow:auto'>{body}</div>"
        self.renders += 1
        return self._html
