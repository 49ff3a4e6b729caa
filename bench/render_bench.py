"""Diagram benchmarks (issue "The notebook experience"), ``--only render``.

* the definition diagram of a 200-task workflow (a chain with a FORK_JOIN, a SWITCH and a DO_WHILE
  every 50 tasks): DOT text, then SVG through the renderer a notebook would use (``dot``, else the
  pip ``graphviz-pure``); target ≤ 0.5 s for DOT + SVG;
* the run diagram of an execution whose dynamic fork has 10,000 branches, collapsed to one "×N" node
  with its status breakdown: DOT, then SVG; target ≤ 1 s.

Best of N (render time only: the definition and the execution are made beforehand).
"""

from __future__ import annotations

import time
from typing import Any

import workloads as W

DEF_TARGET_S = 0.5
RUN_TARGET_S = 1.0


def _definition(n: int) -> dict[str, Any]:
    """A 200-task workflow that uses the shapes the diagram draws differently."""
    tasks: list[dict[str, Any]] = []
    made = 0
    i = 0
    while made < n:
        if i % 50 == 10:
            tasks.append(
                {
                    "name": "fork",
                    "taskReferenceName": f"fork_{i}",
                    "type": "FORK_JOIN",
                    "forkTasks": [
                        [{"name": "step", "taskReferenceName": f"a_{i}", "inputParameters": {"x": 1}}],
                        [{"name": "step", "taskReferenceName": f"b_{i}", "inputParameters": {"x": 2}}],
                    ],
                }
            )
            tasks.append(
                {"name": "join", "taskReferenceName": f"join_{i}", "type": "JOIN", "joinOn": [f"a_{i}", f"b_{i}"]}
            )
            made += 4
        elif i % 50 == 30:
            tasks.append(
                {
                    "name": "switch",
                    "taskReferenceName": f"switch_{i}",
                    "type": "SWITCH",
                    "evaluatorType": "value-param",
                    "expression": "case",
                    "inputParameters": {"case": "${workflow.input.case}"},
                    "decisionCases": {"a": [{"name": "step", "taskReferenceName": f"c_{i}"}]},
                    "defaultCase": [{"name": "step", "taskReferenceName": f"d_{i}"}],
                }
            )
            made += 3
        elif i % 50 == 40:
            tasks.append(
                {
                    "name": "loop",
                    "taskReferenceName": f"loop_{i}",
                    "type": "DO_WHILE",
                    "loopCondition": f"if ($.loop_{i}['iteration'] < 3) {{ true; }} else {{ false; }}",
                    "loopOver": [{"name": "step", "taskReferenceName": f"l_{i}"}],
                }
            )
            made += 2
        else:
            tasks.append({"name": "step", "taskReferenceName": f"s_{i}", "inputParameters": {"x": i}})
            made += 1
        i += 1
    return {"name": "diagram_200", "version": 1, "schemaVersion": 2, "tasks": tasks}


def _best(fn: Any, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def measure_render(quick: bool) -> dict[str, Any]:
    import flowkit
    from flowkit import render
    from flowkit.definitions import WorkflowDef
    from flowkit.render._svg import find_renderer

    repeats = 3 if quick else 7
    renderer = find_renderer()
    definition = WorkflowDef.from_json(_definition(200)).validate()
    tasks = sum(1 for _ in definition.all_tasks())
    run = flowkit.run(
        W.fk_fork_def("diagram_10k"), {"n": 10_000}, workers={"gen": W.fk_gen, "leaf": W.fk_leaf}, store="memory"
    )
    out: dict[str, Any] = {
        "renderer": renderer or "none (DOT text only)",
        "def_tasks": tasks,
        "run_tasks": len(run.tasks),
    }
    for key, obj in (("definition", definition), ("run", run)):
        source = render.dot(obj)
        out[key] = {
            "dot_s": _best(lambda obj=obj: render.dot(obj), repeats),
            "svg_s": _best(lambda source=source: render.svg(source), repeats) if renderer else None,
            "dot_bytes": len(source),
        }
    return out


def render_render(r: dict[str, Any]) -> list[str]:
    lines = [
        f"## Diagrams (renderer: {r['renderer']}; targets: definition ≤ {DEF_TARGET_S} s, 10k-branch run ≤ {RUN_TARGET_S} s)",
        "",
        "| diagram | tasks | DOT ms | SVG ms | total ms | verdict |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for key, label, tasks, target in (
        ("definition", "200-task definition", r["def_tasks"], DEF_TARGET_S),
        ("run", "run with a 10,000-branch dynamic fork (collapsed)", r["run_tasks"], RUN_TARGET_S),
    ):
        x = r[key]
        svg = x["svg_s"]
        total = x["dot_s"] + (svg or 0)
        verdict = ("PASS" if total <= target else "FAIL") if svg is not None else "no renderer"
        svg_ms = f"{svg * 1e3:.1f}" if svg is not None else "—"
        lines.append(f"| {label} | {tasks} | {x['dot_s'] * 1e3:.1f} | {svg_ms} | {total * 1e3:.1f} | {verdict} |")
    return [*lines, ""]
