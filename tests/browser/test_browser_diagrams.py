"""Fitted diagrams in a real browser: Debian's chromium (through Playwright) opens a 900 px wide page
with one diagram, as a notebook cell shows it, and measures what a reader sees.

For a six-branch dynamic fork, sub-workflows and a failed run: every node's box lies inside the
viewport (no scrolling, no inner scroll box), every text is at least 10 px, and no edge runs through
any text (bar labels, titles, node labels); with JavaScript off the same holds (the fitted SVG is
the fallback), and with it on the zoom buttons change the view and "fit" restores it. Screenshots
go to tests/browser/artifacts/diagram_*.png.

FAILS (never skips) without chromium or Playwright: see browser_support.py.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from browser_support import ARTIFACTS, ROOT, chromium

sys.path.insert(0, str(ROOT / "tests" / "render"))  # the sample runs, shared with tests/render
from diagram_samples import SAMPLES  # noqa: E402

from flowkit import render  # noqa: E402

CELL = {"width": 900, "height": 800}

MEASURE = """() => {
  const svg = document.querySelector('.flowkit-diagram svg');
  const box = (el) => { const r = el.getBoundingClientRect(); return {x: r.left, y: r.top, r: r.right, b: r.bottom}; };
  const nodes = [...svg.querySelectorAll('g.node')].map(g => ({title: g.querySelector('title').textContent, ...box(g)}));
  const texts = [...svg.querySelectorAll('text')].filter(t => t.textContent.trim()).map(t => ({
    el: t, text: t.textContent, px: parseFloat(t.getAttribute('font-size')) * t.getScreenCTM().a, ...box(t)}));
  const crossings = [];
  for (const edge of svg.querySelectorAll('g.edge')) {
    const path = edge.querySelector('path');
    if (!path) continue;
    const m = path.getScreenCTM(), length = path.getTotalLength();
    for (let d = 0; d <= length; d += 1) {
      const p = path.getPointAtLength(d).matrixTransform(m);
      for (const t of texts) {
        if (edge.contains(t.el)) continue;  // an edge's own label sits on it
        if (p.x > t.x + 1 && p.x < t.r - 1 && p.y > t.y + 2 && p.y < t.b - 2) {
          crossings.push(edge.querySelector('title').textContent + ' crosses ' + JSON.stringify(t.text));
        }
      }
    }
  }
  return {nodes, texts: texts.map(({el, ...rest}) => rest), crossings: [...new Set(crossings)],
          width: innerWidth, height: innerHeight, viewBox: svg.getAttribute('viewBox')};
}"""


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, Path]:
    """One HTML page per sample run: its diagram (as the notebook's text/html shows it) in a 900 px body."""
    folder = tmp_path_factory.mktemp("diagrams")
    made = {}
    for name, make in SAMPLES.items():
        fragment = render.html(make())
        path = folder / f"{name}.html"
        path.write_text(
            f"<!doctype html><html><head><meta charset='utf-8'></head><body style='margin:0'>{fragment}</body></html>",
            encoding="utf-8",
        )
        made[name] = path
    return made


def numbers(view_box: str) -> list[float]:
    return [float(v) for v in view_box.replace(",", " ").split()]


def check(measured: dict[str, Any], name: str) -> None:
    width, height = measured["width"], measured["height"]
    assert len(measured["nodes"]) >= 5, measured["nodes"]
    for node in measured["nodes"]:
        inside = node["x"] >= 0 and node["y"] >= 0 and node["r"] <= width and node["b"] <= height
        assert inside, f"{name}: node {node['title']} is outside the {width}x{height} viewport: {node}"
    small = [(t["text"], round(t["px"], 2)) for t in measured["texts"] if t["px"] < 9.99]
    assert not small, f"{name}: text below 10 px: {small}"
    assert not measured["crossings"], f"{name}: {measured['crossings']}"


@pytest.mark.parametrize("name", list(SAMPLES))
def test_every_node_is_in_view_readable_and_uncrossed(browser, pages, name: str) -> None:
    page = browser.new_page(viewport=CELL)
    try:
        page.goto(pages[name].as_uri())
        page.wait_for_selector(".flowkit-zoom")  # the pan/zoom script ran
        measured = page.evaluate(MEASURE)
        check(measured, name)
        page.screenshot(path=str(ARTIFACTS / f"diagram_{name}.png"), full_page=True)
        # Zoom in with the button: the view changes and text grows; "fit" restores the fitted view.
        before = measured["viewBox"]
        page.locator(".flowkit-zoom button", has_text="+").click()
        zoomed = page.evaluate(MEASURE)
        assert zoomed["viewBox"] != before and max(t["px"] for t in zoomed["texts"]) > max(
            t["px"] for t in measured["texts"]
        )
        page.locator(".flowkit-zoom button", has_text="fit").click()
        assert numbers(page.evaluate(MEASURE)["viewBox"]) == numbers(before)
    finally:
        page.close()


@pytest.mark.parametrize("name", list(SAMPLES))
def test_without_javascript_the_fitted_svg_is_the_fallback(browser, pages, name: str) -> None:
    context = browser.new_context(viewport=CELL, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(pages[name].as_uri())
        assert page.locator(".flowkit-zoom").count() == 0  # no script ran
        check(page.evaluate(MEASURE), name)  # evaluate runs in Playwright's world, page scripts stay off
        page.screenshot(path=str(ARTIFACTS / f"diagram_{name}_noscript.png"), full_page=True)
    finally:
        context.close()


def test_a_folded_fan_out_unfolds_in_place_with_a_click(browser, tmp_path) -> None:
    path = tmp_path / "folded.html"
    fragment = render.html(SAMPLES["six_branch_fork"](), collapse_over=5)
    path.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'></head><body style='margin:0'>{fragment}</body></html>"
    )
    page = browser.new_page(viewport=CELL)
    try:
        page.goto(path.as_uri())
        folded = page.locator(".flowkit-diagram svg").first
        assert "×6 image_convert_resize: 6 ✔" in folded.text_content()
        unfolded = page.locator("details.flowkit-unfold .flowkit-diagram svg")
        assert not unfolded.is_visible()
        page.locator("details.flowkit-unfold summary").click()
        assert unfolded.is_visible() and "image_convert_resize_webp_160x120_5" in unfolded.text_content()
        box = unfolded.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= CELL["width"]
        page.screenshot(path=str(ARTIFACTS / "diagram_folded_then_unfolded.png"), full_page=True)
    finally:
        page.close()
