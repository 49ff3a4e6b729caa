"""A diagram that fits the notebook cell: direction chosen by measuring, SVG scaled to the width, pan/zoom.

Graphviz writes ``width="Wpt" height="Hpt"``: a wide diagram in a fixed-size ``<svg>`` either
overflows into an inner scroll box (which hides nodes) or is shrunk until its text is unreadable.
Here the ``<svg>`` keeps its ``viewBox``, takes the cell's width (never more than its natural size)
and keeps its aspect ratio, so without any script every node is visible; the direction (top to
bottom, or left to right) is the one whose text stays larger at :data:`CELL_WIDTH`. A few lines of
self-contained JavaScript add zoom and pan where scripts run (a trusted notebook, nbconvert HTML);
nothing is loaded from the network.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from flowkit.render._labels import SMALL_SIZE

__all__ = ["CELL_WIDTH", "NATURAL", "choose", "fit_html", "fit_scale", "folded_branches", "viewbox"]

CELL_WIDTH = 900
"""The output width (CSS px) a direction is chosen for: a notebook cell on a laptop screen."""
NATURAL = 96 / 72
"""CSS px per Graphviz point at natural size (Graphviz's SVG is in points)."""
_ROOT = re.compile(r"<svg\b[^>]*>")
_VIEWBOX = re.compile(r'viewBox="\s*([-\d.]+)[\s,]+([-\d.]+)[\s,]+([-\d.]+)[\s,]+([-\d.]+)\s*"')
_SIZE = re.compile(r'\s(width|height)="[^"]*"')
_FOLDED = re.compile(r"<b>×(\d+) [^<]*</b><br/><font[^>]*>folded \(collapse_over=")
_IDS = re.compile(r'(\bid="|url\(#|href="#)')


def viewbox(svg: str) -> tuple[float, float]:
    """The width and height of an SVG's ``viewBox`` (Graphviz points)."""
    root = _ROOT.search(svg)
    match = _VIEWBOX.search(root.group(0)) if root else None
    if match is None:
        raise ValueError("the SVG has no viewBox")
    return float(match.group(3)), float(match.group(4))


def fit_scale(svg: str, width: float = CELL_WIDTH) -> float:
    """CSS px per point once the diagram is fitted to ``width`` px: natural size, or less when wider."""
    w, _ = viewbox(svg)
    return min(NATURAL, width / w) if w > 0 else NATURAL


def choose(
    draw: Callable[[str], tuple[str, str | None]], rankdir: str, *, width: float = CELL_WIDTH
) -> tuple[str, str, str | None]:
    """Pick the direction: ``rankdir`` itself, or for ``"auto"`` the one whose text is larger.

    ``draw(rankdir)`` returns ``(dot source, svg or None)``. Top to bottom is drawn first and kept
    when it fits at natural size; only a diagram too wide for that is drawn left to right too.

    Returns:
        ``(rankdir, source, svg)``.

    """
    if rankdir != "auto":
        return (rankdir, *draw(rankdir))
    source, svg = draw("TB")
    if svg is None or fit_scale(svg, width) >= NATURAL:
        return ("TB", source, svg)
    across, across_svg = draw("LR")
    if across_svg is not None and fit_scale(across_svg, width) > fit_scale(svg, width) * 1.05:
        return ("LR", across, across_svg)
    return ("TB", source, svg)


def folded_branches(source: str) -> int:
    """The largest folded dynamic fork in DOT ``source`` (0 when nothing is folded)."""
    return max((int(m.group(1)) for m in _FOLDED.finditer(source)), default=0)


_SCRIPT = """<script>(function(){var d=document.getElementById("%(id)s");if(!d||d.dataset.fk)return;
d.dataset.fk="1";var s=d.querySelector("svg");if(!s)return;
var v0=s.getAttribute("viewBox").split(/[\\s,]+/).map(Number),v=v0.slice(),drag=null;
function set(){s.setAttribute("viewBox",v.join(" "));}
function at(e){var p=s.createSVGPoint();p.x=e.clientX;p.y=e.clientY;return p.matrixTransform(s.getScreenCTM().inverse());}
function zoom(f,c){if(v[2]*f>=v0[2]){v=v0.slice();set();return;}if(v[2]*f<v0[2]/12)return;
c=c||{x:v[0]+v[2]/2,y:v[1]+v[3]/2};v=[c.x-(c.x-v[0])*f,c.y-(c.y-v[1])*f,v[2]*f,v[3]*f];set();}
var bar=document.createElement("div");bar.className="flowkit-zoom";
bar.style.cssText="position:absolute;bottom:2px;right:2px;display:flex;gap:2px;opacity:.75";
[["+",function(){zoom(0.8);}],["\\u2212",function(){zoom(1.25);}],["fit",function(){v=v0.slice();set();}]].forEach(function(b){
var k=document.createElement("button");k.type="button";k.textContent=b[0];k.title=b[0]=="fit"?"fit to width":"zoom";
k.style.cssText="font:12px sans-serif;padding:0 6px;cursor:pointer";k.onclick=b[1];bar.appendChild(k);});
d.appendChild(bar);
s.addEventListener("wheel",function(e){if(!(e.ctrlKey||e.metaKey))return;e.preventDefault();zoom(e.deltaY<0?0.85:1/0.85,at(e));},{passive:false});
s.addEventListener("dblclick",function(){v=v0.slice();set();});
s.addEventListener("pointerdown",function(e){if(v[2]>=v0[2])return;drag=at(e);s.setPointerCapture(e.pointerId);s.style.cursor="grabbing";});
s.addEventListener("pointermove",function(e){if(!drag)return;var p=at(e);v[0]-=p.x-drag.x;v[1]-=p.y-drag.y;set();});
s.addEventListener("pointerup",function(){drag=null;s.style.cursor="";});
})();</script>"""


def fit_html(svg: str, prefix: str, *, script: bool = True) -> str:
    """Wrap Graphviz's SVG so it fits its cell: ids prefixed with ``prefix``, width 100%, pan/zoom.

    Without scripts the SVG is still fitted: as wide as the cell, never wider than its natural
    size, and no taller than keeps the smallest text at 10 px (a tall diagram scrolls the page,
    never an inner box).
    """
    body = _IDS.sub(lambda m: m.group(1) + prefix, svg)
    w, h = viewbox(body)
    root = _ROOT.search(body)
    assert root is not None  # viewbox() found it
    # At 1 px per point the smallest text (SMALL_SIZE points) is SMALL_SIZE px: never shrink below that.
    floor = 10 / SMALL_SIZE
    style = (
        f"display:block;width:100%;max-width:{w * NATURAL:.0f}px;height:auto;"
        f"max-height:{max(h * floor, 480):.0f}px;margin:0 auto"
    )
    tag = _SIZE.sub("", root.group(0)).replace(
        "<svg", f'<svg width="100%" preserveAspectRatio="xMidYMin meet" style="{style}"', 1
    )
    body = body[: root.start()] + tag + body[root.end() :]
    box = f"{prefix}box"
    return (
        f'<div class="flowkit-diagram" id="{box}" style="position:relative;width:100%;max-width:100%">'
        f"{body}{_SCRIPT % {'id': box} if script else ''}</div>"
    )
