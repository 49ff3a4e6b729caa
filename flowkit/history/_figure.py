"""The timeline's Figure: a matplotlib Figure that Jupyter shows as a PNG with no set-up.

A Figure made without pyplot (as :func:`flowkit.history.timeline` makes it, so that it works
headless and is never drawn twice) has no display hook in a fresh kernel: without
``%matplotlib inline`` Jupyter prints ``<Figure size 1100x220 with 1 Axes>``. ``_repr_png_`` is
the hook IPython looks for; it renders the figure on demand. Imported only when a timeline is drawn
(it imports matplotlib).
"""

from __future__ import annotations

import io

from matplotlib.figure import Figure

__all__ = ["TimelineFigure"]


class TimelineFigure(Figure):
    """A matplotlib :class:`~matplotlib.figure.Figure` that displays itself as a PNG in Jupyter.

    Its HTML form (``_repr_html_``, preferred by JupyterLab and nbconvert) is the inline SVG of
    :func:`~flowkit.history._timeline.timeline_svg`, whose bars show their attempt and reason on
    hover. Everything else is the Figure's own: ``savefig``, ``axes``, drawing more on it.
    """

    def _repr_html_(self) -> str:
        # Inline SVG: hovering a bar shows its attempt and reason (a PNG cannot); the PNG stays in the bundle.
        from flowkit.history._timeline import timeline_svg

        return f"<div class='flowkit-timeline' style='max-width:100%;overflow-x:auto'>{timeline_svg(self)}</div>"

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
        return buffer.getvalue()
