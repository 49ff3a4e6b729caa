"""A diagram as an HTML fragment: inline SVG fitted to the cell, or the DOT text without Graphviz."""

from __future__ import annotations

import html
import itertools
from typing import Any

__all__ = ["Diagram"]

_PREFIXES = itertools.count(1)


class Diagram:
    """Draws a definition or an execution, and skips Graphviz when the DOT text has not changed.

    The SVG fits the widget's width (never an inner scroll box that hides nodes): the direction
    is chosen by :func:`flowkit.render.figure` and then kept, so a live diagram does not turn
    sideways and back while its run grows. Each instance prefixes the SVG's ids with its own
    prefix, so several diagrams share a page.
    """

    def __init__(self, *, renderers: Any = None, rankdir: str = "auto", **options: Any) -> None:
        """Args: renderers and rankdir as for :func:`flowkit.render.figure`; options go to :func:`flowkit.render.dot`."""
        self.renderers = renderers
        self.rankdir = rankdir
        self.options = options
        self.renders = 0
        """How many times the diagram was drawn (each may run Graphviz once or twice)."""
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
            source = render.dot(obj, **self.options)
        except Exception as exc:  # noqa: BLE001 - a view shows the problem instead of failing
            if raise_errors:
                raise
            return (
                f"<div class='flowkit-diagram'><i>no diagram: {html.escape(f'{type(exc).__name__}: {exc}')}</i></div>"
            )
        if source == self._source:
            return self._html
        # Widgets do not run scripts: no pan/zoom script, the fitted SVG alone.
        drawn = render.figure(
            obj,
            prefix=self._prefix,
            renderers=self.renderers,
            rankdir=self.rankdir,
            script=False,
            first=source,
            **self.options,
        )
        if self.rankdir == "auto" and drawn.rankdir != "TB":
            self.rankdir = drawn.rankdir  # once sideways, stays sideways
        self._source = source
        self._html = drawn.html
        self.renders += 1
        return self._html
