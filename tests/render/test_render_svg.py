"""flowkit.render.svg and repr_mimebundle: real Graphviz programs, and the fallbacks when there are none.

CI installs both renderers (Debian ``graphviz`` for ``dot``, pip ``graphviz-pure``); a test that
needs one FAILS when it is missing, so a broken install cannot pass as "skipped". The fallbacks are
tested by naming the renderers to use (missing, failing or hanging programs written to a temporary
folder), not by patching anything.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import flowkit
from flowkit import render
from flowkit.definitions._builder import SimpleTask
from flowkit.testing import VirtualClock

RENDERERS = ["dot", "graphviz-pure"]
INSTALL = {
    "dot": "apt-get install --no-install-recommends graphviz",
    "graphviz-pure": "pip install graphviz-pure",
}
SVG_NODE = re.compile(r'<g id="[^"]*node\d+" class="node">')
DOT_NODE = re.compile(r'^\s*"[^"]+" \[', re.MULTILINE)


def need(renderer: str) -> list[str]:
    assert render.find_renderer([renderer]) is not None, f"{renderer} not found: {INSTALL[renderer]}"
    return [renderer]


def failing_run() -> Any:
    clock = VirtualClock()
    calls = {"n": 0}

    def step(fail: bool = False) -> dict[str, Any]:
        calls["n"] += 1
        clock.advance(200)
        if fail:
            raise ValueError("no luck")
        return {"n": calls["n"]}

    definition = {
        "name": "svg_run",
        "tasks": [
            {"name": "step", "taskReferenceName": "first"},
            {"name": "step", "taskReferenceName": "second", "inputParameters": {"fail": True}},
            {"name": "step", "taskReferenceName": "third"},
        ],
    }
    return flowkit.run(
        definition,
        {},
        workers={"step": step},
        task_defs=[{"name": "step", "retryCount": 1, "retryDelaySeconds": 1}],
        clock=clock,
        executor="inline",
        store="memory",
    )


def big_definition(n: int = 200) -> flowkit.WorkflowBuilder:
    wf = flowkit.WorkflowBuilder("big")
    for i in range(0, n, 4):
        wf >> SimpleTask("step", f"s{i}") >> [[SimpleTask("step", f"s{i + 1}")], [SimpleTask("step", f"s{i + 2}")]]
    return wf


def dynamic_execution(n: int = 120) -> Any:
    """A dynamic fork of ``n`` permissive branches, every tenth one failing."""

    def plan() -> dict[str, Any]:
        tasks = [{"name": "work", "taskReferenceName": f"w{i}", "permissive": True} for i in range(n)]
        return {"tasks": tasks, "inputs": {f"w{i}": {"i": i} for i in range(n)}}

    def work(i: int) -> dict[str, Any]:
        if i % 10 == 9:
            raise ValueError("broken")
        return {}

    definition = {
        "name": "fan",
        "tasks": [
            {"name": "plan", "taskReferenceName": "plan"},
            {
                "name": "fork",
                "taskReferenceName": "fork",
                "type": "FORK_JOIN_DYNAMIC",
                "dynamicForkTasksParam": "tasks",
                "dynamicForkTasksInputParamName": "inputs",
                "inputParameters": {"tasks": "${plan.output.tasks}", "inputs": "${plan.output.inputs}"},
            },
            {"name": "join", "taskReferenceName": "join", "type": "JOIN"},
        ],
    }
    return flowkit.run(
        definition,
        {},
        workers={"plan": plan, "work": work},
        task_defs=[{"name": "work", "retryCount": 0}],
        clock=VirtualClock(),
        executor="inline",
        store="memory",
    )


def script(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body + "\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


# ---------------------------------------------------------------------------------------------- real renderers
@pytest.mark.parametrize("renderer", RENDERERS)
def test_run_svg_has_every_node_and_the_status_fills(renderer: str) -> None:
    execution = failing_run()
    source = render.dot(execution)
    drawn = render.svg(execution, renderers=need(renderer))
    assert drawn is not None and drawn.startswith("<svg") and drawn.rstrip().endswith("</svg>")
    assert len(SVG_NODE.findall(drawn)) == len(DOT_NODE.findall(source)) == 5  # start, 3 tasks, end
    fills = set(re.findall(r'fill="(#[0-9a-fA-F]{6})"', drawn))
    assert {"#2ca02c", "#d62728"} <= {f.lower() for f in fills}  # COMPLETED green, FAILED red
    assert "✘" in drawn and "✔" in drawn  # symbols, not colour alone
    assert "attempt 1: FAILED 200 ms: no luck" in drawn  # the tooltip (xlink:title)
    assert "stroke-dasharray" in drawn  # "third" was not reached: dashed


@pytest.mark.parametrize("renderer", RENDERERS)
def test_definition_svg_and_a_collapsed_fork(renderer: str) -> None:
    drawn = render.svg(big_definition(), renderers=need(renderer))
    assert drawn is not None and len(SVG_NODE.findall(drawn)) == len(DOT_NODE.findall(render.dot(big_definition())))
    collapsed = render.svg(dynamic_execution(), renderers=need(renderer))
    assert collapsed is not None and "×120 work: 108 ✔ · 12 ✘" in collapsed
    assert "#d62728" in collapsed and "#2ca02c" in collapsed  # striped fill: one band per status


@pytest.mark.parametrize("renderer", RENDERERS)
def test_awkward_text_survives_a_real_renderer(renderer: str) -> None:
    wf = flowkit.WorkflowBuilder('we"ird <wf>') >> SimpleTask("a\\b", 'x"y\\n&', description='say "hi" \\ <b>')
    drawn = render.svg(wf, renderers=need(renderer))
    assert drawn is not None
    assert "x&quot;y\\n&amp;" in drawn  # the reference as typed: one backslash, no line break


def test_svg_accepts_dot_text() -> None:
    drawn = render.svg('digraph "g" { "a" -> "b"; }', renderers=need(RENDERERS[1]))
    assert drawn is not None and len(SVG_NODE.findall(drawn)) == 2


def test_source_is_a_graphviz_source_that_writes_files(tmp_path: Path) -> None:
    need("dot")
    run = failing_run()
    diagram = render.source(run)
    assert type(diagram).__module__.startswith("graphviz") and diagram.source == render.dot(run)
    written = Path(diagram.render(tmp_path / "run", format="pdf"))
    assert written.suffix == ".pdf" and written.read_bytes().startswith(b"%PDF")
    png = render.source('digraph "g" { "a" -> "b"; }').pipe(format="png")
    assert png.startswith(b"\x89PNG")


def test_default_renderers_prefer_dot_then_graphviz_pure() -> None:
    assert render.DEFAULT_RENDERERS == ("dot", "graphviz-pure")
    assert render.find_renderer() == render.find_renderer(["dot"])


def test_graphviz_pure_is_found_beside_python_without_path() -> None:
    """A kernel started from an unactivated virtualenv has no venv bin/ on PATH."""
    need("graphviz-pure")
    code = "from flowkit import render; print(render.find_renderer(['graphviz-pure']))"
    env = {**os.environ, "PATH": "/nonexistent"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        cwd=Path(render.__file__).parents[2],
    ).stdout.strip()
    assert out != "None" and Path(out).name == "graphviz-pure"


# ---------------------------------------------------------------------------------------------- fallbacks
def test_no_renderer_means_none_not_an_error(tmp_path: Path) -> None:
    execution = failing_run()
    assert render.svg(execution, renderers=[]) is None
    assert render.svg(execution, renderers=[tmp_path / "missing-dot", "no-such-graphviz-program"]) is None
    assert render.find_renderer([tmp_path / "missing-dot"]) is None
    not_executable = tmp_path / "dot"
    not_executable.write_text("#!/bin/sh\n")
    assert render.svg(execution, renderers=[not_executable]) is None


def test_a_failing_renderer_is_skipped_for_the_next_one(tmp_path: Path) -> None:
    crashes = script(tmp_path, "crash", "echo 'Error: syntax error' >&2; exit 3")
    silent = script(tmp_path, "silent", "cat > /dev/null; echo not svg")
    assert render.svg(failing_run(), renderers=[crashes, silent]) is None
    drawn = render.svg(failing_run(), renderers=[crashes, silent, *need(RENDERERS[1])])
    assert drawn is not None and drawn.startswith("<svg")


def test_a_hanging_renderer_times_out(tmp_path: Path) -> None:
    hangs = script(tmp_path, "hang", "exec sleep 30")
    started = time.perf_counter()
    assert render.svg(failing_run(), renderers=[hangs], timeout=0.5) is None
    assert time.perf_counter() - started < 5
    assert render.DEFAULT_TIMEOUT == 10.0


def test_mimebundle_without_renderer_is_summary_and_dot_text() -> None:
    execution = failing_run()
    bundle = render.repr_mimebundle(execution, renderers=[])
    assert list(bundle) == ["text/plain"]
    summary, source = bundle["text/plain"].split("\n\n", 1)
    assert summary == render.summary(execution) and summary.startswith("Execution svg_run v1 ")
    assert (
        summary.splitlines()[0].endswith(" FAILED")
        and summary.splitlines()[1] == "3 task attempt(s): 1 COMPLETED, 2 FAILED"
    )
    assert source == render.dot(execution)


@pytest.mark.parametrize("renderer", RENDERERS)
def test_mimebundle_inlines_svg_in_html_for_tooltips(renderer: str) -> None:
    execution = failing_run()
    bundle = render.repr_mimebundle(execution, renderers=need(renderer))
    assert set(bundle) == {"text/html", "text/plain"}
    html = bundle["text/html"]
    assert html.startswith('<div class="flowkit-diagram"') and "<svg" in html and "<?xml" not in html
    assert "<!DOCTYPE" not in html and "xlink:title" in html
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert ids and all(i.startswith("fk") for i in ids)  # diagrams on one page do not share ids
    assert bundle["text/plain"] == render.summary(execution)
    only_text = render.repr_mimebundle(failing_run(), include=["text/plain"], renderers=need(renderer))
    assert list(only_text) == ["text/plain"]
    assert list(render.repr_mimebundle(failing_run(), exclude=["text/plain"], renderers=need(renderer))) == [
        "text/html"
    ]


def test_mimebundle_of_definitions_builders_and_task_defs() -> None:
    renderer = need(RENDERERS[1])
    for obj in (big_definition(20), big_definition(20).to_workflow_def()):
        bundle = render.repr_mimebundle(obj, renderers=renderer)
        assert bundle["text/plain"].startswith("WorkflowDef big v1: 25 task(s)") and "<svg" in bundle["text/html"]
    task_def = flowkit.TaskDef(name="charge", retry_count=5, timeout_seconds=30)
    bundle = render.repr_mimebundle(task_def)
    assert bundle["text/plain"].startswith("TaskDef charge: retries 5 (FIXED, 60 s), timeout 30 s")
    assert "<table>" in bundle["text/html"] and "retryCount" in bundle["text/html"]


def test_mimebundle_turns_a_drawing_error_into_text() -> None:
    bundle = render.repr_mimebundle(big_definition(8), renderers=[], collapse_over=-1)
    assert (
        list(bundle) == ["text/plain"]
        and "(no diagram: ValueError: collapse_over must be 0 or more" in bundle["text/plain"]
    )
