"""Property tests (Hypothesis): the expression resolver against direct lookup, and the engine's
invariants under random workflows and random worker outcomes."""

from __future__ import annotations

from typing import Any

from conftest import Harness
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowkit import TaskDef, WorkflowDef
from flowkit.expressions import compile_value, java_string

# ---------------------------------------------------------------------------------------------- (a) expressions
KEY = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True).filter(
    lambda k: k not in ("workflow", "CPEWF_TASK_ID")
)
SCALAR = (
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
JSON = st.recursive(
    SCALAR,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEY, inner, max_size=4),
    max_leaves=20,
)
DOC = st.dictionaries(KEY, JSON, min_size=1, max_size=5)

MISSING = object()


def lookup(doc: Any, steps: list[Any]) -> Any:
    cur = doc
    for step in steps:
        if isinstance(step, int):
            if not isinstance(cur, list) or step >= len(cur):
                return None
        elif not isinstance(cur, dict) or step not in cur:
            return None
        cur = cur[step]
    return cur


def path_text(steps: list[Any]) -> str:
    out = ""
    for step in steps:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else step)
    return out


@st.composite
def doc_and_path(draw: st.DrawFn) -> tuple[dict[str, Any], list[Any]]:
    """A document and a dotted/indexed path that mostly exists (and sometimes goes astray)."""
    doc = draw(DOC)
    steps: list[Any] = [draw(st.sampled_from(sorted(doc)))]
    cur = doc[steps[0]]
    while draw(st.booleans()):
        if isinstance(cur, dict) and cur and draw(st.integers(0, 4)):
            key = draw(st.sampled_from(sorted(cur)))
        elif isinstance(cur, list) and cur and draw(st.integers(0, 4)):
            key = draw(st.integers(0, len(cur) - 1))
        else:
            key = draw(KEY | st.integers(0, 5))  # a step that probably does not exist
        steps.append(key)
        cur = lookup(cur, [key])
    return doc, steps


@settings(max_examples=300, deadline=None)
@given(doc_and_path())
def test_whole_string_expression_equals_direct_lookup(case: tuple[dict[str, Any], list[Any]]) -> None:
    doc, steps = case
    path = path_text(steps)
    expected = lookup(doc, steps)
    assert compile_value("${" + path + "}")(doc, None) == expected
    assert compile_value("${$." + path + "}")(doc, None) == expected
    got = compile_value({"k": ["${" + path + "}"]})(doc, None)
    assert got == {"k": [expected]}


@settings(max_examples=200, deadline=None)
@given(doc_and_path(), st.text(alphabet="ab -/:", max_size=4))
def test_embedded_expression_equals_java_to_string_of_the_lookup(
    case: tuple[dict[str, Any], list[Any]], around: str
) -> None:
    doc, steps = case
    expected = (around + java_string(lookup(doc, steps)) + around + "!").replace("$${", "${")
    assert compile_value(around + "${" + path_text(steps) + "}" + around + "!")(doc, None) == expected


@settings(max_examples=100, deadline=None)
@given(DOC)
def test_resolution_never_mutates_the_document(doc: dict[str, Any]) -> None:
    import copy

    before = copy.deepcopy(doc)
    for key in doc:
        value = compile_value("${" + key + "}")(doc, None)
        if isinstance(value, dict):
            value["__mutated__"] = True
        elif isinstance(value, list):
            value.append("__mutated__")
    assert doc == before


# ---------------------------------------------------------------------------------------------- (b) engine invariants
@st.composite
def workflows(draw: st.DrawFn) -> tuple[WorkflowDef, dict[str, TaskDef]]:
    """A random linear sequence of SIMPLE tasks and FORK_JOIN/JOIN blocks."""
    counter = iter(range(1000))
    tasks: list[dict[str, Any]] = []

    def simple() -> dict[str, Any]:
        n = next(counter)
        task: dict[str, Any] = {
            "name": f"w{draw(st.integers(0, 2))}",
            "taskReferenceName": f"s{n}",
            "inputParameters": {"x": "${workflow.input.x}", "id": "${CPEWF_TASK_ID}"},
        }
        flag = draw(st.sampled_from(["", "", "", "optional", "permissive"]))
        if flag:
            task[flag] = True
        return task

    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            tasks.append(simple())
        else:
            n = next(counter)
            branches = [[simple() for _ in range(draw(st.integers(1, 3)))] for _ in range(draw(st.integers(1, 3)))]
            tasks.append({"name": "fork", "taskReferenceName": f"fork{n}", "type": "FORK_JOIN", "forkTasks": branches})
            tasks.append(
                {
                    "name": "join",
                    "taskReferenceName": f"join{n}",
                    "type": "JOIN",
                    "joinOn": [b[-1]["taskReferenceName"] for b in branches],
                }
            )
    defs = {
        f"w{i}": TaskDef(
            name=f"w{i}",
            retry_count=draw(st.integers(0, 2)),
            retry_delay_seconds=draw(st.sampled_from([0, 1, 5])),
            response_timeout_seconds=30,
            timeout_seconds=draw(st.sampled_from([0, 0, 45])),
            timeout_policy=draw(st.sampled_from(["RETRY", "TIME_OUT_WF", "ALERT_ONLY"])),
        )
        for i in range(3)
    }
    definition = WorkflowDef.from_json(
        {"name": "random", "tasks": tasks, "outputParameters": {"x": "${workflow.input.x}"}}
    )
    return definition, defs


OUTCOMES = ["complete", "complete", "fail", "terminal", "heartbeat", "silence"]


def snapshot(h: Harness) -> tuple[Any, ...]:
    wf = h.wf
    return (
        wf.status,
        wf.reason,
        repr(wf.output),
        wf.end_time,
        len(wf.tasks),
        tuple((t.task_id, t.status, t.end_time, repr(t.output)) for t in wf.tasks),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(workflows(), st.data())
def test_engine_invariants_under_random_worker_outcomes(
    case: tuple[WorkflowDef, dict[str, TaskDef]], data: st.DataObject
) -> None:
    definition, defs = case
    h = Harness(task_defs=defs)
    wf = h.start(definition, {"x": 1})
    joins_done: dict[str, tuple[Any, int]] = {}

    def check_joins() -> None:
        for t in wf.tasks:
            if t.task_type == "JOIN" and t.status.is_terminal:
                seen = joins_done.setdefault(t.ref, (t.status, t.end_time))
                assert seen == (t.status, t.end_time), f"JOIN {t.ref} changed after it ended"
        refs = [t.ref for t in wf.tasks if t.task_type in ("JOIN", "FORK")]
        assert len(refs) == len(set(refs)), "a FORK or JOIN was scheduled twice"

    for step in range(300):
        if wf.status.is_terminal:
            break
        visible = [t for t in wf.tasks if t.status == "SCHEDULED" and h.queue.get(t.task_id, 1 << 62) <= h.now]
        running = [t for t in wf.tasks if t.status == "IN_PROGRESS" and t.task_type.startswith("w")]
        if not visible and not running:
            upcoming = [
                v
                for tid, v in h.queue.items()
                if wf.task_by_id(tid) is not None and wf.task_by_id(tid).status == "SCHEDULED"
            ]
            deadline = h.engine.next_deadline()
            candidates = [v for v in upcoming + ([deadline] if deadline is not None else []) if v > h.now]
            assert candidates, f"stalled: {h.tasks()}"
            h.advance((min(candidates) - h.now) / 1000)
            check_joins()
            continue
        task = data.draw(st.sampled_from(visible + running))
        if task.status == "SCHEDULED":
            assert h.poll(task.ref) is task
        outcome = "complete" if step > 200 else data.draw(st.sampled_from(OUTCOMES))
        if outcome == "complete":
            h.send(task, "COMPLETED", output={"by": task.task_id})
        elif outcome == "fail":
            h.send(task, "FAILED", reason="random failure")
        elif outcome == "terminal":
            h.send(task, "FAILED_WITH_TERMINAL_ERROR", reason="random terminal failure")
        elif outcome == "heartbeat":
            h.send(task, "IN_PROGRESS", callback_after_seconds=data.draw(st.sampled_from([0, 3])))
        else:
            h.advance(31)  # no answer: the response timeout (30 s) fires
        check_joins()
    assert wf.status.is_terminal, f"did not finish: {h.tasks()}"

    # every task reached a terminal status
    assert all(t.status.is_terminal for t in wf.tasks), h.tasks()
    # execution bookkeeping
    assert [t.seq for t in wf.tasks] == list(range(1, len(wf.tasks) + 1))
    ids = [t.task_id for t in wf.tasks]
    assert len(ids) == len(set(ids))
    position = {t.task_id: i for i, t in enumerate(wf.tasks)}
    for i, t in enumerate(wf.tasks):
        if t.retried_task_id is not None:
            assert position[t.retried_task_id] < i
    if wf.status == "COMPLETED":
        latest = {t.ref: t for t in wf.tasks}
        assert all(t.status in ("COMPLETED", "COMPLETED_WITH_ERRORS") for t in latest.values()), h.tasks()
        assert wf.output == {"x": 1}
    assert set(wf.failed_refs) <= {t.ref for t in wf.tasks}

    # a terminal workflow never changes again: late results, heartbeats and the clock are ignored
    before = snapshot(h)
    ended = len(h.ended)
    for t in wf.tasks:
        for status in ("COMPLETED", "FAILED", "IN_PROGRESS", "FAILED_WITH_TERMINAL_ERROR"):
            assert h.send(t, status, output={"late": True}, reason="late") == []
        assert h.engine.task_started(t, h.now) is False
    h.advance(10_000)
    assert snapshot(h) == before
    assert len(h.ended) == ended
    check_joins()


@settings(max_examples=60, deadline=None)
@given(workflows(), st.data())
def test_a_workflow_where_every_worker_succeeds_completes(
    case: tuple[WorkflowDef, dict[str, TaskDef]], data: st.DataObject
) -> None:
    definition, defs = case
    h = Harness(task_defs=defs)
    wf = h.start(definition, {"x": 1})
    while wf.status == "RUNNING":
        ready = [t for t in wf.tasks if t.status == "SCHEDULED" and t.task_type.startswith("w")]
        assert ready, h.tasks()
        h.complete(data.draw(st.sampled_from(ready)).ref, {"ok": True})
    assert wf.status == "COMPLETED"
    simple_refs = {t["taskReferenceName"] for t in definition.to_json()["tasks"] if t["name"].startswith("w")}
    assert simple_refs <= {t.ref for t in wf.tasks}
    assert [t.status for t in wf.tasks] == ["COMPLETED"] * len(wf.tasks)
    assert wf.failed_refs == {}
