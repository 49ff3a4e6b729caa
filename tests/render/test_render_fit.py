"""Diagrams that fit a notebook cell: every node drawn, text readable at 900 px, no inner scroll box.

Real Graphviz (both renderers CI installs). "Readable" is computed the way a browser shows the
fitted SVG: ``width:100%`` of a 900 px cell, never above natural size (1 pt = 4/3 px), so each text's
``font-size`` (viewBox units) times ``min(4/3, 900 / viewBox width)`` is its size in CSS px.
"""

from __future__ import annotations

import re

import pytest
from diagram_samples import SAMPLES, six_branch_fork
from test_render_svg import RENDERERS, need

from flowkit import render
from flowkit.render._fit import CELL_WIDTH, NATURAL, fit_scale, viewbox

SVG_NODE_TITLE = re.compile(r'<g id="[^"]*node\d+" class="node">\s*<title>([^<]*)</title>')
DOT_NODE = re.compile(r'^\s*"(?P<id>[^"]+)" \[', re.MULTILINE)
FONT_SIZE = re.compile(r'font-size="([\d.]+)"')
EXPECTED = {
    "six_branch_fork": ("COMPLETED", "LR"),
    "sub_workflows": ("COMPLETED", "TB"),
    "failed_run": ("FAILED", "TB"),
}


def dot_nodes(source: str) -> list[str]:
    return [m["id"] for m in DOT_NODE.finditer(source)]


@pytest.mark.parametrize("renderer", RENDERERS)
@pytest.mark.parametrize("name", list(SAMPLES))
def test_every_node_is_drawn_with_text_of_at_least_10px_in_a_900px_cell(name: str, renderer: str) -> None:
    execution = SAMPLES[name]()
    status, direction = EXPECTED[name]
    assert str(execution.status) == status
    figure = render.figure(execution, renderers=need(renderer))
    assert figure.svg is not None and figure.rankdir == direction
    # every node of the DOT is in the SVG (Graphviz escapes & < > in titles)
    drawn = [t.replace("&amp;", "&").replace("&#45;", "-") for t in SVG_NODE_TITLE.findall(figure.svg)]
    assert sorted(drawn) == sorted(dot_nodes(figure.source))
    refs = {t.ref for t in execution.tasks}
    assert {n.rsplit("/", 1)[-1] for n in drawn} >= refs  # every task the run made has its node
    scale = fit_scale(figure.svg, CELL_WIDTH)
    sizes = [float(s) for s in FONT_SIZE.findall(figure.svg)]
    assert sizes and min(sizes) * scale >= 10, (min(sizes), scale, viewbox(figure.svg))
    # fitted, not scrolled: width 100%, no fixed size, capped at natural size, never an overflow box
    w, h = viewbox(figure.svg)
    assert '<svg width="100%"' in figure.html and 'height="' not in figure.html.split(">", 2)[1]
    assert f"max-width:{w * NATURAL:.0f}px" in figure.html and "overflow" not in figure.html
    floor = re.search(r"max-height:(\d+)px", figure.html)
    assert floor is not None and int(floor[1]) >= h  # a height cap never shrinks text below 10 px


def test_a_failed_runs_title_holds_its_whole_reason() -> None:
    execution = SAMPLES["failed_run"]()
    drawn = render.svg(execution, renderers=need("dot"))
    assert drawn is not None
    text = re.sub(r"<[^>]+>", "", drawn).replace("&#39;", "'").replace("&#45;", "-")
    assert "does-not-exist-with-a-long-name.png'" in text  # the title is wrapped, not cut before it
    assert "optional" in text and "↻2 linear 2s · timeout 30s · resp 30s" in text


def test_a_wide_fan_out_folds_and_unfolds_in_place() -> None:
    execution = six_branch_fork()
    figure = render.figure(execution, renderers=need("dot"), collapse_over=5)
    assert figure.svg is not None and "×6 image_convert_resize: 6 ✔" in figure.svg
    assert sum(1 for n in dot_nodes(figure.source) if "/image_convert_resize_" in n) == 0
    unfold = figure.html[figure.html.index("<details") :]
    assert "show the 6 folded branches" in unfold
    assert unfold.count('class="node"') >= 6 and "image_convert_resize_webp_160x120_5" in unfold
    ids = set(re.findall(r'\bid="([^"]+)"', figure.html))
    assert len(ids) == len(re.findall(r'\bid="([^"]+)"', figure.html))  # the two SVGs share no id
    big = render.figure(execution, renderers=need("dot"), collapse_over=5, expand_up_to=5)
    assert "<details" not in big.html  # past expand_up_to: folded only (render.dot(collapse_over=...) unfolds)


def test_auto_direction_keeps_a_narrow_diagram_top_to_bottom_and_measures_only_then() -> None:
    execution = SAMPLES["failed_run"]()
    tb = render.svg(execution, renderers=need("dot"), rankdir="TB")
    assert tb is not None and fit_scale(tb) == NATURAL
    assert render.svg(execution, renderers=need("dot")) == tb
    wide = six_branch_fork()
    across = render.svg(wide, renderers=need("dot"))
    down = render.svg(wide, renderers=need("dot"), rankdir="TB")
    assert across is not None and down is not None and fit_scale(across) > fit_scale(down)


def test_the_pan_zoom_script_is_self_contained_and_optional() -> None:
    execution = SAMPLES["sub_workflows"]()
    with_script = render.html(execution, renderers=need("dot"))
    assert "<script>" in with_script and "viewBox" in with_script
    assert not re.search(r"https?://(?!www\.w3\.org)", with_script)  # nothing from the network
    assert "<script" not in render.html(execution, renderers=need("dot"), script=False)
