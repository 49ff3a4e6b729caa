"""flowkit.render.dot: golden DOT text for definitions and runs, structure checks, every shipped Conductor fixture.

Golden files live in tests/golden/. After an intended change to the drawing, regenerate them with
``FLOWKIT_UPDATE_GOLDEN=1 pytest tests/render`` and review the diff.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, REPO_ROOT

import flowkit
from flowkit import render
from flowkit.definitions._builder import (
    DoWhileTask,
    DynamicForkTask,
    HttpTask,
    InlineTask,
    SimpleTask,
    SubWorkflowTask,
    SwitchTask,
    TerminateTask,
)
from flowkit.render._style import STATUS_COLORS, STATUS_SYMBOLS
from flowkit.testing import VirtualClock

GOLDEN = REPO_ROOT / "tests" / "golden"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
NODE = re.compile(r'^\s*"(?P<id>[^"]+)" \[', re.MULTILINE)
EDGE = re.compile(r'^\s*"(?P<tail>[^"]+)" -> "(?P<head>[^"]+)"(?P<attrs>.*);$', re.MULTILINE)


def golden(name: str, text: str) -> None:
    """Compare with tests/golden/<name>.dot (ids normalised); rewrite it with FLOWKIT_UPDATE_GOLDEN=1."""
    text = UUID.sub("<id>", text)
    path = GOLDEN / f"{name}.dot"
    if os.environ.get("FLOWKIT_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"missing golden file {path}: run with FLOWKIT_UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8"), (
        f"{path.name} differs; regenerate with FLOWKIT_UPDATE_GOLDEN=1 if intended"
    )


def nodes(text: str) -> list[str]:
    return [m["id"] for m in NODE.finditer(text)]


def edges(text: str) -> list[tuple[str, str, str]]:
    return [(m["tail"], m["head"], m["attrs"]) for m in EDGE.finditer(text)]


def line_of(text: str, node_id: str) -> str:
    for line in text.splitlines():
        if line.strip().startswith(f'"{node_id}" ['):
            return line
    raise AssertionError(f"no node {node_id!r} in\n{text}")


def run(definition: Any, workflow_input: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    kwargs.setdefault("executor", "inline")
    kwargs.setdefault("store", "memory")
    return flowkit.run(definition, workflow_input or {}, **kwargs)


# ---------------------------------------------------------------------------------------------- definitions
def linear_def() -> flowkit.WorkflowBuilder:
    wf = flowkit.WorkflowBuilder("linear", description="three steps")
    return (
        wf
        >> SimpleTask("fetch", "fetch_ref", input_parameters={"id": wf.input("id")})
        >> SimpleTask("transform", "transform_ref")
        >> HttpTask("notify", {"uri": "http://example.invalid/hook", "method": "POST"})
    )


def fork_def() -> flowkit.WorkflowBuilder:
    wf = flowkit.WorkflowBuilder("fork_join")
    wf >> SimpleTask("prepare", "prepare")
    wf >> [[SimpleTask("resize", "resize"), SimpleTask("upload", "upload_jpg")], [SimpleTask("to_webp", "to_webp")], []]
    return wf >> SimpleTask("report", "report")


def switch_def() -> flowkit.WorkflowBuilder:
    wf = flowkit.WorkflowBuilder("switch")
    switch = (
        SwitchTask("route", wf.input("kind"))
        .switch_case("card", [SimpleTask("charge", "charge_card"), SimpleTask("receipt", "send_receipt")])
        .switch_case("invoice", [SimpleTask("invoice", "send_invoice")])
        .switch_case("free", [])
        .default_case([TerminateTask("reject", "FAILED", termination_reason="unknown kind")])
    )
    return wf >> switch >> SimpleTask("ship", "ship")


def do_while_def() -> flowkit.WorkflowBuilder:
    wf = flowkit.WorkflowBuilder("do_while")
    loop = DoWhileTask(
        "poll_loop",
        "if ( $.poll_loop['iteration'] < $.max && !$.check['done'] ) { true; } else { false; }",
        [SimpleTask("check", "check"), InlineTask("decide", "(function(){ return $.x; })()", bindings={"x": 1})],
        input_parameters={"max": 5, "check": "${check.output}"},
    )
    return wf >> SimpleTask("start", "begin") >> loop >> SimpleTask("finish", "finish")


def child_def() -> flowkit.WorkflowBuilder:
    return flowkit.WorkflowBuilder("child", version=3) >> SimpleTask("step", "c1") >> SimpleTask("step", "c2")


def sub_workflow_def() -> flowkit.WorkflowBuilder:
    wf = flowkit.WorkflowBuilder("parent")
    return (
        wf
        >> SimpleTask("step", "p1")
        >> SubWorkflowTask("sub", workflow=child_def())
        >> SubWorkflowTask("by_name", workflow_name="registered", version=1)
        >> SimpleTask("step", "p2")
    )


def dynamic_def() -> flowkit.WorkflowBuilder:
    wf = flowkit.WorkflowBuilder("dynamic_fork")
    return (
        wf
        >> SimpleTask("plan", "plan", input_parameters={"n": wf.input("n")})
        >> DynamicForkTask(
            "fan_out",
            input_parameters={"dynamicTasks": "${plan.output.tasks}", "dynamicTasksInput": "${plan.output.inputs}"},
        )
        >> SimpleTask("collect", "collect")
    )


DEFINITIONS = {
    "def_linear": linear_def,
    "def_fork_join": fork_def,
    "def_switch": switch_def,
    "def_do_while": do_while_def,
    "def_sub_workflow": sub_workflow_def,
    "def_dynamic_fork": dynamic_def,
}


@pytest.mark.parametrize("name", list(DEFINITIONS))
def test_definition_golden(name: str) -> None:
    golden(name, render.dot(DEFINITIONS[name]()))


def test_a_builder_a_def_and_its_json_draw_the_same() -> None:
    definition = switch_def().to_workflow_def()
    assert render.dot(switch_def()) == render.dot(definition) == render.dot(definition.to_json())
    assert render.dot(definition.to_json_text()) == render.dot(definition)


def test_linear_chain_runs_from_start_to_end() -> None:
    text = render.dot(linear_def())
    assert nodes(text) == ["(start)", "fetch_ref", "transform_ref", "notify", "(end)"]
    assert [(t, h) for t, h, _ in edges(text)] == [
        ("(start)", "fetch_ref"),
        ("fetch_ref", "transform_ref"),
        ("transform_ref", "notify"),
        ("notify", "(end)"),
    ]
    assert "rounded" in line_of(text, "fetch_ref")  # a worker task
    assert "rounded" not in line_of(text, "notify")  # a system task


def test_fork_and_join_are_bars_and_every_branch_reaches_the_join() -> None:
    text = render.dot(fork_def())
    for bar in ("fork_1", "join_fork_1"):
        line = line_of(text, bar)
        assert 'shape="plain"' in line and '<td port="b"' in line and 'bgcolor="#222222"' in line
        assert f">{bar}</font>" in line  # the label is in the node's table, beside the bar
    # Every edge meets a bar at its port, on the side facing the edge (never through the label).
    for tail, head, attrs in edges(text):
        if head in ("fork_1", "join_fork_1"):
            assert 'headport="b:n"' in attrs, (tail, head, attrs)
        if tail in ("fork_1", "join_fork_1"):
            assert 'tailport="b:s"' in attrs, (tail, head, attrs)
    across = render.dot(fork_def(), rankdir="LR")
    assert all('tailport="b:e"' in a for t, _, a in edges(across) if t == "fork_1")
    assert all('headport="b:w"' in a for _, h, a in edges(across) if h == "join_fork_1")
    pairs = {(t, h) for t, h, _ in edges(text)}
    assert {("fork_1", "resize"), ("resize", "upload_jpg"), ("fork_1", "to_webp")} <= pairs
    assert {("upload_jpg", "join_fork_1"), ("to_webp", "join_fork_1"), ("fork_1", "join_fork_1")} <= pairs


def test_a_join_draws_only_the_branches_it_waits_for() -> None:
    definition = {
        "name": "partial_join",
        "tasks": [
            {
                "name": "f",
                "taskReferenceName": "f",
                "type": "FORK_JOIN",
                "forkTasks": [[{"name": "a", "taskReferenceName": "a"}], [{"name": "b", "taskReferenceName": "b"}]],
            },
            {"name": "j", "taskReferenceName": "j", "type": "JOIN", "joinOn": ["a"]},
        ],
    }
    pairs = {(t, h) for t, h, _ in edges(render.dot(definition))}
    assert ("a", "j") in pairs and ("b", "j") not in pairs


def test_switch_is_a_diamond_with_a_labelled_edge_per_case_and_default() -> None:
    text = render.dot(switch_def())
    assert 'shape="diamond"' in line_of(text, "route")
    labelled = {(t, h, re.search(r'label="([^"]*)"', a)[1]) for t, h, a in edges(text) if "label=" in a}  # type: ignore[index]
    assert labelled == {
        ("route", "charge_card", "card"),
        ("route", "send_invoice", "invoice"),
        ("route", "ship", "free"),
        ("route", "reject", "default"),
    }
    assert 'shape="octagon"' in line_of(text, "reject")


def test_do_while_is_a_cluster_with_a_back_edge_labelled_with_the_condition() -> None:
    text = render.dot(do_while_def())
    assert 'subgraph "cluster_poll_loop" {' in text
    back = [(t, h, a) for t, h, a in edges(text) if h == "poll_loop" and "constraint=false" in a]
    assert [(t, h) for t, h, _ in back] == [("decide", "poll_loop")]
    label = re.search(r'label="([^"]*)"', back[0][2])[1]  # type: ignore[index]
    assert label.startswith("$.poll_loop.iteration < $.max") and label.endswith("…") and len(label) <= 36
    assert "tooltip=\"while if ( $.poll_loop['iteration'] < $.max && !$.check['done'] )" in back[0][2]


def test_sub_workflow_expands_inline_children_and_registered_ones_when_given() -> None:
    text = render.dot(sub_workflow_def())
    assert 'subgraph "cluster_sub" {' in text and '"sub/c1"' in text and "child v3" in text
    assert 'shape="box3d"' in line_of(text, "by_name") and "cluster_by_name" not in text
    registered = flowkit.WorkflowBuilder("registered") >> SimpleTask("x", "r1")
    for workflows in (
        [registered],
        {"registered": registered},
        {("registered", 1): registered},
        lambda name, version: registered if name == "registered" else None,
    ):
        expanded = render.dot(sub_workflow_def(), workflows=workflows)
        assert 'subgraph "cluster_by_name" {' in expanded and '"by_name/r1"' in expanded
    assert ("by_name/r1", "p2") in {(t, h) for t, h, _ in edges(render.dot(sub_workflow_def(), workflows=[registered]))}


def test_a_workflow_that_starts_itself_is_expanded_once() -> None:
    definition = {
        "name": "recursive",
        "tasks": [
            {
                "name": "recursive",
                "taskReferenceName": "again",
                "type": "SUB_WORKFLOW",
                "subWorkflowParam": {"name": "recursive"},
            },
        ],
    }
    text = render.dot(definition, workflows=[definition])
    assert nodes(text) == ["(start)", "again", "(end)"]


def test_dynamic_fork_definition_has_a_times_n_node() -> None:
    text = render.dot(dynamic_def())
    line = line_of(text, "fan_out/×")
    assert "label=<<b>×N</b><br/>" in line and "dynamic tasks</font>" in line and "dynamicTasks" in line
    assert [(t, h) for t, h, _ in edges(text)][2:4] == [("fan_out", "fan_out/×"), ("fan_out/×", "fan_out_join")]


def test_awkward_references_are_escaped() -> None:
    wf = flowkit.WorkflowBuilder('we"ird') >> SimpleTask("a\\b", 'x"y\\n', description="line1\nline2 <b>&</b>")
    text = render.dot(wf)
    assert 'digraph "we\\"ird" {' in text
    assert '"x\\"y\\\\n" [' in text  # the quote escaped, the backslash doubled (never a DOT line break)
    assert "line1 line2 <b>&</b>" in text  # descriptions are flattened to one line in the tooltip


# ---------------------------------------------------------------------------------------------- executions
class Workers:
    """Deterministic workers that take virtual time, fail on request and count calls."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.calls: Counter[str] = Counter()

    def step(self, ms: int = 250, fail_times: int = 0, key: str = "", terminal: bool = False) -> dict[str, Any]:
        self.calls[key] += 1
        self.clock.advance(ms)
        if self.calls[key] <= fail_times:
            if terminal:
                raise flowkit.NonRetryableError(f"{key}: bad input")
            raise ValueError(f"{key}: attempt {self.calls[key]} failed")
        return {"ms": ms}


def simple(ref: str, **inputs: Any) -> dict[str, Any]:
    return {"name": "step", "taskReferenceName": ref, "inputParameters": {"key": ref, **inputs}}


def run_linear_with_failures() -> Any:
    clock = VirtualClock()
    workers = Workers(clock)
    definition = {
        "name": "retries",
        "tasks": [
            simple("ok", ms=1200),
            simple("flaky", ms=300, fail_times=2),
            {
                "name": "f",
                "taskReferenceName": "fork",
                "type": "FORK_JOIN",
                "forkTasks": [
                    [{**simple("left", ms=100), "permissive": True}],
                    [{**simple("broken", ms=50, fail_times=9, terminal=True), "permissive": True}],
                    [
                        {
                            **simple("slow", ms=5000),
                            "permissive": True,
                            "taskDefinition": {
                                "name": "step",
                                "retryCount": 0,
                                "timeoutSeconds": 2,
                                "timeoutPolicy": "RETRY",
                            },
                        }
                    ],
                ],
            },
            {"name": "j", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["left", "broken", "slow"]},
            simple("never"),
        ],
    }
    task_defs = [{"name": "step", "retryCount": 2, "retryDelaySeconds": 1}]
    return run(definition, workers={"step": workers.step}, task_defs=task_defs, clock=clock)


def run_switch_and_loop() -> Any:
    clock = VirtualClock()
    workers = Workers(clock)
    definition = {
        "name": "switch_loop",
        "tasks": [
            {
                "name": "route",
                "taskReferenceName": "route",
                "type": "SWITCH",
                "evaluatorType": "value-param",
                "expression": "kind",
                "inputParameters": {"kind": "${workflow.input.kind}"},
                "decisionCases": {"card": [simple("charge")], "invoice": [simple("invoice")]},
                "defaultCase": [simple("fallback")],
            },
            {
                "name": "loop",
                "taskReferenceName": "loop",
                "type": "DO_WHILE",
                "inputParameters": {"loop": "${loop.output}"},
                "loopCondition": "if ( $.loop['iteration'] < 3 ) { true; } else { false; }",
                "loopOver": [simple("poll", ms=100)],
            },
            simple("done"),
        ],
    }
    return run(definition, {"kind": "invoice"}, workers={"step": workers.step}, clock=clock)


def dynamic_run(branches: int, *, human_every: int = 0, fail_every: int = 0) -> Any:
    clock = VirtualClock()

    def plan(n: int) -> dict[str, Any]:
        tasks = []
        for i in range(n):
            if human_every and i % human_every == human_every - 1:
                tasks.append({"name": "approve", "taskReferenceName": f"b{i}", "type": "HUMAN"})
            else:
                tasks.append({"name": "work", "taskReferenceName": f"b{i}", "permissive": True})
        return {"tasks": tasks, "inputs": {f"b{i}": {"i": i} for i in range(n)}}

    def work(i: int) -> dict[str, Any]:
        clock.advance(100 + 10 * (i % 3))
        if fail_every and i % fail_every == 1:
            raise ValueError(f"item {i} is broken")
        return {"i": i}

    definition = dynamic_def().to_workflow_def()
    return run(
        definition,
        {"n": branches},
        workers={"plan": plan, "work": work, "collect": lambda: {}},
        task_defs=[{"name": "work", "retryCount": 0}],
        clock=clock,
    )


def sub_workflow_run() -> Any:
    clock = VirtualClock()
    workers = Workers(clock)
    return run(
        sub_workflow_def(),
        workers={"step": workers.step},
        workflows=[flowkit.WorkflowBuilder("registered") >> SimpleTask("step", "r1")],
        clock=clock,
    )


RUNS = {
    "run_retries_and_failures": run_linear_with_failures,
    "run_switch_and_loop": run_switch_and_loop,
    "run_dynamic_fork_small": lambda: dynamic_run(4, fail_every=3),
    "run_dynamic_fork_collapsed": lambda: dynamic_run(200, human_every=50, fail_every=40),
    "run_sub_workflow": sub_workflow_run,
}


@pytest.mark.parametrize("name", list(RUNS))
def test_execution_golden(name: str) -> None:
    execution = RUNS[name]()
    text = render.dot(execution)
    golden(name, text)
    assert UUID.sub("<id>", render.dot(RUNS[name]())) == UUID.sub("<id>", text)  # a second run draws the same


def test_run_nodes_carry_status_colour_symbol_duration_and_attempts() -> None:
    execution = run_linear_with_failures()
    text = render.dot(execution)
    statuses = {t.ref: str(t.status) for t in execution.tasks}
    assert statuses["flaky"] == "COMPLETED" and statuses["broken"] == "FAILED_WITH_TERMINAL_ERROR"
    assert statuses["slow"] == "TIMED_OUT" and statuses["join"] == "FAILED"
    for ref, status in statuses.items():
        line = line_of(text, ref)
        color = STATUS_COLORS[status]
        assert f'fillcolor="{color}"' in line or f'bgcolor="{color}"' in line, (ref, line)  # box or bar
        assert STATUS_SYMBOLS[status] in line, (ref, line)
    assert '<font point-size="10">✔ 300 ms · 3 attempts</font>' in line_of(text, "flaky")
    assert "✔ 1.2 s" in line_of(text, "ok")
    assert "label=<<b>flaky</b><br/>" in line_of(text, "flaky")  # the ref first, in bold
    flaky_tooltip = re.search(r'tooltip="((?:[^"\\]|\\.)*)"', line_of(text, "flaky"))[1]  # type: ignore[index]
    assert "attempt 1: FAILED 300 ms: flaky: attempt 1 failed" in flaky_tooltip
    assert (
        '\\ninput: {\\"fail_times\\": 2, \\"key\\": \\"flaky\\", \\"ms\\": 300}\\noutput: {\\"ms\\": 300}'
        in flaky_tooltip
    )
    assert "reason: broken: bad input" in line_of(text, "broken")
    assert "<i>broken: bad input</i>" in line_of(text, "broken")  # the reason on the failed node too
    never = line_of(text, "never")
    assert "dashed" in never and "fillcolor" not in never  # not reached: white and dashed
    assert 'style="dashed"' in [a for t, h, a in edges(text) if h == "never"][0]
    assert 'fillcolor="#d62728"' in line_of(text, "(end)")  # the workflow FAILED


def graph_label(text: str) -> str:
    return re.search(r"^  graph \[.*label=<(<table.*</table>)>, labelloc", text, re.MULTILINE)[1]  # type: ignore[index]


def test_legend_lists_the_statuses_present_with_counts() -> None:
    text = render.dot(run_linear_with_failures())
    legend = graph_label(text)  # under the title: a legend node would widen a sideways diagram
    found = re.findall(r'<font color="(#[0-9a-f]{6})">■</font> \S+ ([A-Z_]+) (\d+)', legend)
    assert found == [
        (STATUS_COLORS["COMPLETED"], "COMPLETED", "4"),
        (STATUS_COLORS["FAILED"], "FAILED", "1"),
        (STATUS_COLORS["FAILED_WITH_TERMINAL_ERROR"], "FAILED_WITH_TERMINAL_ERROR", "1"),
        (STATUS_COLORS["TIMED_OUT"], "TIMED_OUT", "1"),
    ]
    assert "□</font> not reached" in legend
    assert "■" not in graph_label(render.dot(run_linear_with_failures(), show_legend=False))
    assert "■" not in graph_label(render.dot(linear_def()))  # definitions have no statuses


def test_switch_run_draws_the_taken_case_bold_and_the_others_faded() -> None:
    text = render.dot(run_switch_and_loop())
    by_head = {h: a for t, h, a in edges(text) if t == "route"}
    assert "penwidth=2" in by_head["invoice"]
    assert 'style="dashed"' in by_head["charge"] and 'style="dashed"' in by_head["fallback"]


def test_loop_tasks_show_the_latest_iteration_and_the_iteration_count() -> None:
    execution = run_switch_and_loop()
    text = render.dot(execution)
    assert "×3 iterations" in line_of(text, "loop") and "×3 iterations" in line_of(text, "poll")
    assert "(iteration 3)" in line_of(text, "poll")
    assert [t.ref for t in execution.tasks if t.node.ref == "poll"] == ["poll__1", "poll__2", "poll__3"]


def test_dynamic_fork_branches_are_drawn_up_to_collapse_over_then_collapsed() -> None:
    execution = dynamic_run(50)
    text = render.dot(execution, collapse_over=50)
    assert sum(1 for n in nodes(text) if n.startswith("fan_out/b")) == 50 and "fan_out/×" not in nodes(text)
    collapsed = render.dot(execution, collapse_over=49)
    assert [n for n in nodes(collapsed) if n.startswith("fan_out/")] == ["fan_out/×"]
    assert "<b>×50 work: 50 ✔</b>" in line_of(collapsed, "fan_out/×")  # one name: the summary says it
    assert "folded (collapse_over=49)" in line_of(collapsed, "fan_out/×")  # and how to unfold it
    assert render.DEFAULT_COLLAPSE_OVER == 10 and "fan_out/×" in nodes(render.dot(execution))
    six = render.dot(dynamic_run(6))
    assert sum(1 for n in nodes(six) if n.startswith("fan_out/b")) == 6  # six branches stay unfolded
    assert "<b>×6 work: 6 ✔</b>" in line_of(render.dot(dynamic_run(6), collapse_over=5), "fan_out/×")


def test_collapsed_fork_has_a_status_breakdown_and_striped_fill() -> None:
    execution = dynamic_run(200, human_every=50, fail_every=40)
    line = line_of(render.dot(execution), "fan_out/×")
    assert "<b>×200 dynamic tasks: 191 ✔ · 5 ✘ · 4 ▶</b>" in line  # two task names: "dynamic tasks"
    assert 'style="striped"' in line
    assert 'fillcolor="#2ca02c;0.9550:#d62728;0.0250:#1f77b4"' in line
    assert "b1: FAILED: item 1 is broken" in line  # failures listed in the tooltip


def test_sub_workflow_run_expands_the_child_execution() -> None:
    execution = sub_workflow_run()
    text = render.dot(execution)
    assert "child v3 · COMPLETED" in text and "✔" in line_of(text, "sub/c1")
    assert "registered v1 · COMPLETED" in text and "✔" in line_of(text, "by_name/r1")
    plain = render.dot(execution.model)  # a WorkflowModel has no runtime: children need lookup=
    assert "sub/c1" not in nodes(plain) and "✔" in line_of(plain, "sub")
    child = execution.sub_workflow("sub")
    with_lookup = render.dot(execution.model, lookup={child.workflow_id: child.model})
    assert "✔" in line_of(with_lookup, "sub/c1")


def test_a_run_from_conductor_json_draws_like_a_flowkit_run() -> None:
    execution = run_switch_and_loop()
    document = execution.to_json()
    assert render.dot(document) == render.dot(execution)  # the definition embedded in the JSON
    del document["workflowDefinition"]
    assert render.dot(document, workflows=[execution.model.definition]) == render.dot(execution)
    flat = render.dot(document)  # no definition at hand: the references that ran, in order
    assert nodes(flat) == ["(start)", "route", "invoice", "loop", "poll", "done", "(end)"]


def test_collapsing_ten_thousand_branches_keeps_the_graph_small() -> None:
    execution = dynamic_run(10_000, fail_every=1000)
    text = render.dot(execution)
    assert len(nodes(text)) < 12
    assert "<b>×10000 work: 9990 ✔ · 10 ✘</b>" in line_of(text, "fan_out/×")


# ---------------------------------------------------------------------------------------------- fixtures
def drawable_fixtures() -> list[Path]:
    """Every shipped Conductor fixture that is a workflow definition or an execution (not a schema or a TaskDef)."""
    found = []
    for path in sorted(FIXTURES.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("tasks"), list):
            found.append(path)
    return found


def test_the_shared_fixtures_are_there() -> None:
    assert len(drawable_fixtures()) >= 20  # a missing folder must not pass vacuously


@pytest.mark.parametrize("path", drawable_fixtures(), ids=lambda p: p.name)
def test_every_shared_fixture_draws(path: Path) -> None:
    definitions = [p for p in drawable_fixtures() if "workflowId" not in json.loads(p.read_text(encoding="utf-8"))]
    text = render.dot(path, workflows=definitions)
    assert text.startswith("digraph ") and text.endswith("}\n")
    assert nodes(text)[0] == "(start)" and "(end)" in nodes(text)
    data = json.loads(path.read_text(encoding="utf-8"))
    definition = data.get("workflowDefinition", data)
    refs = {t["taskReferenceName"] for t in _walk(definition["tasks"])}
    drawn = {n.rsplit("/", 1)[-1] for n in nodes(text)}
    assert refs <= drawn, sorted(refs - drawn)


def _walk(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for task in tasks:
        out.append(task)
        for branch in task.get("forkTasks") or []:
            out += _walk(branch)
        for case in (task.get("decisionCases") or {}).values():
            out += _walk(case)
        out += _walk(task.get("defaultCase") or [])
        out += _walk(task.get("loopOver") or [])
    return out


# ---------------------------------------------------------------------------------------------- surface
def test_module_surface_is_sorted_and_light() -> None:
    import subprocess
    import sys

    assert list(render.__all__) == sorted(render.__all__)
    for name in render.__all__:
        assert getattr(render, name) is not None, name
    code = (
        "import sys, flowkit.render; print(sorted({'pandas', 'matplotlib', 'numpy', 'graphviz', 'ipywidgets', "
        "'py_mini_racer', 'jq'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    assert out.stdout.strip() == "[]"


def test_every_status_has_its_own_colour_and_symbol() -> None:
    statuses = [s.value for s in flowkit.TaskStatus]
    assert set(STATUS_SYMBOLS) == set(statuses) == set(STATUS_COLORS)
    assert len(set(STATUS_SYMBOLS.values())) == len(statuses)
    assert len(set(STATUS_COLORS.values())) == len(statuses)
    assert STATUS_COLORS["CANCELED"] != STATUS_COLORS["FAILED"]  # Netflix/conductor#2712


def test_a_dynamic_fork_in_a_loop_shows_the_latest_iterations_branches() -> None:
    def plan(it: int = 0) -> dict[str, Any]:
        return {"tasks": [{"name": "work", "taskReferenceName": f"w{i}"} for i in range(2 + it)], "inputs": {}}

    definition = {
        "name": "loop_fork",
        "tasks": [
            {
                "name": "loop",
                "taskReferenceName": "loop",
                "type": "DO_WHILE",
                "inputParameters": {"loop": "${loop.output}"},
                "loopCondition": "$.loop['iteration'] < 2",
                "loopOver": [
                    {
                        "name": "plan",
                        "taskReferenceName": "plan",
                        "inputParameters": {"it": "${loop.output.iteration}"},
                    },
                    {
                        "name": "fj",
                        "taskReferenceName": "fj",
                        "type": "FORK_JOIN_DYNAMIC",
                        "dynamicForkTasksParam": "t",
                        "dynamicForkTasksInputParamName": "i",
                        "inputParameters": {"t": "${plan.output.tasks}", "i": "${plan.output.inputs}"},
                    },
                    {"name": "j", "taskReferenceName": "j", "type": "JOIN"},
                ],
            },
        ],
    }
    execution = run(definition, workers={"plan": plan, "work": lambda: {}}, clock=VirtualClock())
    text = render.dot(execution)
    assert [n for n in nodes(text) if n.startswith("fj/")] == ["fj/w0", "fj/w1", "fj/w2", "fj/w3"]
    assert "×2 iterations" in line_of(text, "plan") and "×2 iterations" in line_of(text, "loop")


# ---------------------------------------------------------------------------------------------- labels
def test_labels_lead_with_the_ref_in_bold_and_never_repeat_a_name_equal_to_it() -> None:
    wf = flowkit.WorkflowBuilder("names") >> SimpleTask("resize", "resize_ref") >> SimpleTask("upload", "upload")
    wf >> HttpTask("notify", {"uri": "http://example.invalid", "method": "POST"})
    text = render.dot(wf)
    assert 'label=<<b>resize_ref</b><br/><font point-size="10" color="#555555">resize</font>>' in line_of(
        text, "resize_ref"
    )
    assert "label=<<b>upload</b>>" in line_of(text, "upload")  # the name equals the ref: said once
    assert "<b>notify</b><br/>" in line_of(text, "notify") and ">HTTP</font>" in line_of(text, "notify")


def test_optional_retry_and_timeout_settings_are_marked_compactly() -> None:
    definition = {
        "name": "policies",
        "tasks": [
            {"name": "resize", "taskReferenceName": "resize"},
            {"name": "thumb", "taskReferenceName": "thumb", "optional": True, "retryCount": 0},
            {
                "name": "inline_def",
                "taskReferenceName": "inline_def",
                "taskDefinition": {
                    "name": "inline_def",
                    "retryCount": 3,
                    "retryLogic": "EXPONENTIAL_BACKOFF",
                    "retryDelaySeconds": 5,
                    "timeoutSeconds": 120,
                    "responseTimeoutSeconds": 30,
                    "timeoutPolicy": "RETRY",
                },
            },
        ],
    }
    plain = render.dot(definition)
    assert "↻" not in line_of(plain, "resize")  # no definition known: nothing claimed
    assert ">optional</font>" in line_of(plain, "thumb") and "optional: a failure here" in line_of(plain, "thumb")
    inline = line_of(plain, "inline_def")
    assert ">↻3 exp 5s · timeout 2min · resp 30s</font>" in inline
    assert "retryCount 3, retryLogic EXPONENTIAL_BACKOFF, retryDelaySeconds 5" in inline  # the tooltip in words
    assert "timeoutSeconds 120 (RETRY), responseTimeoutSeconds 30" in inline
    given = render.dot(definition, task_defs=[{"name": "resize", "retryCount": 2, "retryLogic": "LINEAR_BACKOFF"}])
    assert ">↻2 linear 1min</font>" in line_of(given, "resize")
    assert line_of(given, "resize") == line_of(
        render.dot(
            definition,
            task_defs={
                "x": flowkit.TaskDef.from_json({"name": "resize", "retryCount": 2, "retryLogic": "LINEAR_BACKOFF"})
            },
        ),
        "resize",
    )
    run_text = render.dot(run_linear_with_failures())  # a run marks the definitions it ran with
    assert ">↻2 fixed 1s</font>" in line_of(run_text, "flaky") and ">timeout 2s</font>" in line_of(run_text, "slow")


def test_a_failed_node_carries_a_short_reason_and_the_whole_one_on_hover() -> None:
    reason = "the storage service answered 503 Service Unavailable after a very long wait " * 3
    definition = {"name": "fails", "tasks": [{"name": "step", "taskReferenceName": "step"}]}

    def step() -> dict[str, Any]:
        raise ValueError(reason.strip())

    execution = run(definition, workers={"step": step}, task_defs=[{"name": "step", "retryCount": 0}])
    line = line_of(render.dot(execution), "step")
    shown = re.search(r"<i>([^<]*)</i>", line)[1]  # type: ignore[index]
    assert shown.startswith("the storage service answered 503") and shown.endswith("…") and len(shown) <= 44
    assert reason.strip() in line.replace("\\n", "\n")  # the tooltip has it whole


def test_a_failed_runs_title_is_wrapped_not_cut_before_its_reason() -> None:
    execution = run_linear_with_failures()
    title = graph_label(render.dot(execution))
    lines = re.findall(r"<tr><td>(?:<b>)?([^<]+)(?:</b>)?</td></tr>", title)
    assert lines[0].startswith("retries v1 · FAILED")
    assert all(len(line) <= 72 for line in lines)
    reason = " ".join(lines[1:])
    assert reason.endswith("Timeout policy configured to RETRY'") and "…" not in reason


def test_cluster_titles_are_left_to_the_nodes_so_edges_cross_no_title() -> None:
    text = render.dot(sub_workflow_def())
    cluster = text[text.index('subgraph "cluster_sub" {') :].splitlines()[1]
    assert 'label=""' in cluster  # an edge into a cluster would cross its title
    assert "child v3" in line_of(text, "sub")  # the SUB_WORKFLOW node names the child instead
    loop = render.dot(do_while_def())
    assert 'label=""' in loop[loop.index('subgraph "cluster_poll_loop" {') :].splitlines()[1]
    assert "↻ DO_WHILE" in line_of(loop, "poll_loop")


def test_upright_bars_wrap_long_references_and_auto_direction_is_for_svg() -> None:
    text = render.dot(dynamic_run(3), rankdir="LR")
    fork = line_of(text, "fan_out")
    assert "<br/>" not in fork  # short: one line
    long_ref = {
        "name": "fork",
        "tasks": [
            {
                "name": "f",
                "taskReferenceName": "image_multiple_convert_resize_fork_ref",
                "type": "FORK_JOIN",
                "forkTasks": [[{"name": "a", "taskReferenceName": "a"}]],
            },
            {"name": "j", "taskReferenceName": "j", "type": "JOIN"},
        ],
    }
    wrapped = line_of(render.dot(long_ref, rankdir="LR"), "image_multiple_convert_resize_fork_ref")
    assert "image_multiple_<br/>convert_resize_<br/>fork_ref" in wrapped
    with pytest.raises(ValueError, match="'auto' needs a layout"):
        render.dot(long_ref, rankdir="auto")
