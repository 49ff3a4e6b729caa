"""Kill a real process part way through a run (SIGKILL), then recover the run with ``flowkit.open``.

Each case starts ``crash_child.py`` (``flowkit.run(..., store=<sqlite file>)``) in a subprocess,
kills it at one point, snapshots the store and the workers' log, recovers in this process and checks:

* the workflow COMPLETED with the right output (in the store and in the recovered execution);
* a task attempt that was terminal in the store before the kill never ran again (log);
* an attempt that was in flight (started, not terminal in the store) ran again;
* every task ran at least once, and each ref has exactly one COMPLETED attempt;
* the store's final records (read with sqlite3 directly and through SqliteStore) agree with the
  recovered models in ``runtime.engine.executions``.

Kill points are chosen without fixed sleeps where possible: the child's worker can hang right after
writing a given log line (``hang``), so "task X is in flight" or "X's work is done but not
reported" are exact; other points wait for a line count in the log or for a row in the store (read
read-only while the child writes), optionally plus a short delay (inside a retry backoff or a WAIT).
A late hang is added as a safety net so that no child can finish before it is killed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import flowkit
from flowkit.store import SqliteStore

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CHILD = HERE / "crash_child.py"
_spec = importlib.util.spec_from_file_location("flowkit_tests_crash_child", CHILD)
assert _spec is not None and _spec.loader is not None
cc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cc)

TERMINAL = {
    "COMPLETED",
    "FAILED",
    "FAILED_WITH_TERMINAL_ERROR",
    "TIMED_OUT",
    "CANCELED",
    "SKIPPED",
    "COMPLETED_WITH_ERRORS",
}
SLACK_MS = 600  # how late a timer may fire after recovery on a slow, busy machine (< the 1 s retry delay)
TRIGGER_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Kill:
    """When to kill the child.

    log: ``(event, ref or "*", n)``: once the log has n such lines. sql: once this query on the
    store returns a row. delay: then wait this long. hang: ``event:ref[:retry]`` makes the child's
    worker block after writing that line (exact kill point, and the child cannot finish).
    """

    id: str
    log: tuple[str, str, int] | None = None
    sql: str | None = None
    delay: float = 0.0
    hang: str | None = None

    @staticmethod
    def at(line: str, delay: float = 0.0) -> Kill:
        """Kill while the worker that wrote ``event:ref[:retry]`` hangs right after it."""
        event, ref, *rc = line.split(":")
        return Kill(line, log=(event, ref if not rc else f"{ref}:{rc[0]}", 1), delay=delay, hang=line)


@dataclass
class Crash:
    scenario: dict[str, Any]
    db: Path
    before_log: list[tuple[str, str, int, int]]
    after_log: list[tuple[str, str, int, int]]
    before_execs: dict[str, dict[str, Any]]
    before_tasks: list[dict[str, Any]]
    after_execs: dict[str, dict[str, Any]]
    after_tasks: list[dict[str, Any]]
    runtime: Any
    recovery_start: int
    root_id: str = ""
    notes: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------ helpers
def _parse_log(text: str) -> list[tuple[str, str, int, int]]:
    out = []
    for line in text.splitlines():
        event, ref, rc, at, _pid = line.split()
        out.append((event, ref, int(rc), int(at)))
    return out


def _read_log(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def _log_count(text: str, event: str, ref: str) -> int:
    n = 0
    for event_, ref_, rc, _at in _parse_log(text):
        if event_ == event and (ref == "*" or ref in (ref_, f"{ref_}:{rc}")):
            n += 1
    return n


def _sql_hit(db: Path, sql: str) -> bool:
    if not db.exists():
        return False
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return con.execute(sql).fetchone() is not None
        finally:
            con.close()
    except sqlite3.Error:  # not created yet / schema not there yet
        return False


def _dump(db: Path) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Every execution and task row of the store file, read with sqlite3 (no flowkit code)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        execs = {r["workflow_id"]: dict(r) for r in con.execute("SELECT * FROM executions")}
        tasks = [dict(r) for r in con.execute("SELECT * FROM tasks ORDER BY workflow_id, seq")]
    finally:
        con.close()
    for row in [*execs.values(), *tasks]:
        row["data"] = json.loads(row["data"])
    return execs, tasks


def crash_and_recover(tmp_path: Path, name: str, kill: Kill) -> Crash:
    db, log = tmp_path / "crash.db", tmp_path / "workers.log"
    out, err = tmp_path / "child.out", tmp_path / "child.err"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    with out.open("w") as fo, err.open("w") as fe:
        proc = subprocess.Popen(
            [sys.executable, str(CHILD), name, str(db), str(log), kill.hang or ""],
            stdout=fo,
            stderr=fe,
            env=env,
            cwd=tmp_path,
        )
    try:
        deadline = time.monotonic() + TRIGGER_TIMEOUT_S
        while True:
            hit = True
            if kill.log is not None:
                hit = _log_count(_read_log(log), *kill.log[:2]) >= kill.log[2]
            if hit and kill.sql is not None:
                hit = _sql_hit(db, kill.sql)
            if hit:
                break
            assert proc.poll() is None, (
                f"child ended before the kill point {kill}: rc={proc.returncode}\n{err.read_text()}"
            )
            assert time.monotonic() < deadline, (
                f"kill point {kill} not reached in {TRIGGER_TIMEOUT_S}s\n{err.read_text()}"
            )
            time.sleep(0.004)
        if kill.delay:
            time.sleep(kill.delay)
        assert proc.poll() is None, f"child ended before the kill {kill}: rc={proc.returncode}\n{err.read_text()}"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, err.read_text())

    before_text = _read_log(log)
    before_execs, before_tasks = _dump(db)
    scenario = cc.SCENARIOS[name.partition("+")[0]](cc.Log(str(log), work=0.0))
    recovery_start = int(time.time() * 1000)
    # Definitions (the retry policy, the sub-workflow) come from the store: none are passed here.
    runtime = flowkit.open(db, workers=scenario["workers"], background=False, executor=scenario["executor"])
    after_text = _read_log(log)
    assert after_text.startswith(before_text)
    after_execs, after_tasks = _dump(db)
    crash = Crash(
        scenario,
        db,
        _parse_log(before_text),
        _parse_log(after_text[len(before_text) :]),
        before_execs,
        before_tasks,
        after_execs,
        after_tasks,
        runtime,
        recovery_start,
    )
    try:
        check_common(crash)
    finally:
        from flowkit.store import _OPEN

        _OPEN.pop(str(db.resolve()), None)
        runtime.store.close()  # the models stay in runtime.engine for the scenario's own checks
    return crash


def _tasks_of(tasks: list[dict[str, Any]], wid: str) -> list[dict[str, Any]]:
    return [t for t in tasks if t["workflow_id"] == wid]


def check_common(c: Crash) -> None:
    sc = c.scenario
    root_name = sc["workflow"]["name"]
    assert [e["name"] for e in c.before_execs.values()].count(root_name) == 1, (
        f"the execution of {root_name} was not in the store when the child was killed: the run is lost"
    )
    roots = [e for e in c.after_execs.values() if e["name"] == root_name]
    assert len(roots) == 1, f"one execution of {root_name} expected, store has {len(roots)}"
    root = roots[0]
    c.root_id = root["workflow_id"]
    assert c.root_id in c.before_execs, "the child wrote its execution before the kill"
    assert c.before_execs[c.root_id]["status"] == "RUNNING", "the kill must land while the run is RUNNING"

    # 1. the workflow COMPLETED with the right output: store and recovered model
    assert root["status"] == "COMPLETED", (root["status"], root["reason"])
    assert root["data"]["output"] == sc["expected"]
    assert all(e["status"] == "COMPLETED" for e in c.after_execs.values()), {
        e["name"]: e["status"] for e in c.after_execs.values()
    }
    engine = c.runtime.engine
    model = engine.executions[c.root_id]
    assert str(model.status) == "COMPLETED" and model.output == sc["expected"]

    # 2. attempts terminal in the store before the kill never ran again; in-flight ones ran again
    terminal_before = {(t["ref"], t["retry_count"]) for t in c.before_tasks if t["status"] in TERMINAL}
    started_after = Counter((ref, rc) for ev, ref, rc, _ in c.after_log if ev == "start")
    for key in terminal_before:
        assert started_after[key] == 0, f"{key} was terminal in the store before the kill but ran again"
    in_flight = {(ref, rc) for ev, ref, rc, _ in c.before_log if ev == "start"} - terminal_before
    for key in in_flight:
        assert started_after[key] >= 1, f"{key} was in flight at the kill but did not run again"
    c.notes.update(terminal_before=terminal_before, in_flight=in_flight)

    # 3. every task ran at least once; exactly one COMPLETED attempt per ref (in the store and the models)
    done = Counter(ref for ev, ref, _rc, _ in [*c.before_log, *c.after_log] if ev == "done")
    for ref in sc["refs"]:
        assert done[ref] >= 1, f"task {ref} never ran"
    completed = Counter((t["workflow_id"], t["ref"]) for t in c.after_tasks if t["status"] == "COMPLETED")
    assert max(completed.values()) == 1, [k for k, n in completed.items() if n > 1]
    assert {ref for (_w, ref) in completed} >= set(sc["refs"])
    assert all(t["status"] in TERMINAL for t in c.after_tasks), [(t["ref"], t["status"]) for t in c.after_tasks]
    # executions already ended before the kill are not recovered and their records are untouched
    ended_before = {wid for wid, row in c.before_execs.items() if row["status"] != "RUNNING"}
    for wid in ended_before:
        assert wid not in engine.executions
        assert c.after_execs[wid] == c.before_execs[wid]
        assert _tasks_of(c.after_tasks, wid) == _tasks_of(c.before_tasks, wid)
    assert set(engine.executions) == set(c.after_execs) - ended_before
    for wid in engine.executions:
        assert (
            Counter(t.ref for t in engine.executions[wid].tasks if str(t.status) == "COMPLETED").most_common(1)[0][1]
            == 1
        )

    # 4. the store's final records agree with the recovered models (sqlite3 and SqliteStore views)
    reader = SqliteStore(c.db, readonly=True)
    for wid, wf in engine.executions.items():
        row = c.after_execs[wid]
        assert (row["status"], row["name"], row["version"]) == (
            str(wf.status),
            wf.definition.name,
            wf.definition.version,
        )
        assert (row["data"]["output"], row["data"]["input"]) == (wf.output, wf.input)
        assert (row["created"], row["ended"], row["parent_workflow_id"]) == (
            wf.create_time,
            wf.end_time,
            wf.parent_workflow_id,
        )
        stored = [
            (
                t["task_id"],
                t["seq"],
                t["ref"],
                t["status"],
                t["retry_count"],
                t["scheduled"],
                t["started"],
                t["ended"],
                t["data"]["output"],
            )
            for t in _tasks_of(c.after_tasks, wid)
        ]
        live = [
            (
                t.task_id,
                t.seq,
                t.ref,
                str(t.status),
                t.retry_count,
                t.scheduled_time,
                t.start_time,
                t.end_time,
                json.loads(json.dumps(t.output)),
            )
            for t in wf.tasks
        ]
        assert stored == live
        record = reader.execution(wid)
        assert record is not None
        assert record[0]["status"] == row["status"] and [t["task_id"] for t in record[1]] == [s[0] for s in stored]
        assert reader.events(wid)[-1]["kind"] == "workflow COMPLETED"
    assert {r["workflow_id"] for r in reader.execution_rows(status=["RUNNING", "PAUSED"])} == set()


def _attempts(c: Crash, ref: str, wid: str | None = None) -> list[dict[str, Any]]:
    return [t for t in c.after_tasks if t["ref"] == ref and (wid is None or t["workflow_id"] == wid)]


# ------------------------------------------------------------------------------------------ (a) chain
SAFE_CHAIN = "start:s7"
CHAIN_KILLS = [
    Kill.at("start:s0"),  # right after start: the first task in flight
    Kill.at("done:s0"),  # its work done, the result not reported yet
    Kill("2 done", log=("done", "*", 2), hang=SAFE_CHAIN),
    Kill.at("start:s3"),
    Kill("5 done", log=("done", "*", 5), hang=SAFE_CHAIN),
    Kill("s5 stored", sql="SELECT 1 FROM tasks WHERE ref='s5' AND status='COMPLETED'", hang=SAFE_CHAIN),
    Kill.at("start:s7"),  # near the end
    Kill.at("done:s7"),  # all work done, the last result not stored
]


@pytest.mark.parametrize("kill", CHAIN_KILLS, ids=lambda k: k.id)
def test_chain_of_eight(tmp_path: Path, kill: Kill) -> None:
    c = crash_and_recover(tmp_path, "chain", kill)
    root = c.after_execs[c.root_id]
    assert [t["ref"] for t in _tasks_of(c.after_tasks, c.root_id)] == [f"s{i}" for i in range(8)]
    assert [t["data"]["output"]["x"] for t in _tasks_of(c.after_tasks, c.root_id)] == list(range(1, 9))
    assert root["task_count"] == 8 and root["failed_count"] == 0
    if kill.hang == kill.id:  # a Kill.at point: the hung task re-ran
        assert (kill.hang.split(":")[1], 0) in c.notes["in_flight"]
    if kill.id == "s5 stored":
        assert {("s0", 0), ("s5", 0)} <= c.notes["terminal_before"]


def test_run_on_a_warm_store_killed_in_its_first_task(tmp_path: Path) -> None:
    """The store already holds a run and is open: the new execution must still be written before its
    first task starts, or a kill then loses the whole execution (nothing to recover, the in-flight
    task never runs again)."""
    c = crash_and_recover(tmp_path, "chain+warm", Kill.at("start:s0"))
    assert ("s0", 0) in c.notes["in_flight"]
    assert sorted(e["name"] for e in c.after_execs.values()) == ["crash_chain", "warmup"]


def test_an_execution_on_disk_without_attempts_carries_on_from_its_first_task(tmp_path: Path) -> None:
    """What a kill right after a run's first write leaves (the execution's row alone, its first
    attempt's start not written yet): recovery schedules the first task, and the run ends once."""
    from flowkit.definitions import WorkflowDef
    from flowkit.engine import Engine

    db = tmp_path / "row_only.db"
    definition = WorkflowDef.from_json(
        {
            "name": "row_only",
            "version": 1,
            "tasks": [{"name": "step", "taskReferenceName": f"s{i}", "inputParameters": {"x": i}} for i in range(3)],
            "outputParameters": {"last": "${s2.output.x}"},
        }
    )
    engine = Engine(new_id=lambda: str(uuid.uuid4()), track=True, track_tasks=True)
    wf, _ = engine.start(definition, {}, now=int(time.time() * 1000))
    store = SqliteStore(db)
    with store.session():
        store.save_definitions([definition])
        store.write([wf], [], ())
    store.close()
    from flowkit.store import _OPEN

    _OPEN.pop(str(db.resolve()), None)

    ran: list[int] = []
    runtime = flowkit.open(db, workers={"step": lambda x: ran.append(x) or {"x": x}}, background=False)
    try:
        assert ran == [0, 1, 2]
        (model,) = runtime.engine.executions.values()
        assert model.workflow_id == wf.workflow_id and model.status.value == "COMPLETED"
        assert model.output == {"last": 2}
    finally:
        _OPEN.pop(str(db.resolve()), None)
        runtime.store.close()
    reader = SqliteStore(db, readonly=True)
    record = reader.execution(wf.workflow_id)
    reader.close()
    assert record is not None and record[0]["status"] == "COMPLETED"
    assert [(t["ref"], t["status"]) for t in record[1]] == [(f"s{i}", "COMPLETED") for i in range(3)]


def test_chain_killed_inside_a_long_task_does_not_run_again_what_finished_before(tmp_path: Path) -> None:
    """s0 to s2 end within batch_ms of s3's start, then s3's worker hangs on the calling thread (the
    chain runs inline), where the runner's loop cannot write: the watch thread writes them once they
    waited batch_ms, so a kill 0.3 s in runs only s3 again."""
    c = crash_and_recover(tmp_path, "chain", Kill.at("start:s3", delay=0.3))
    assert {("s0", 0), ("s1", 0), ("s2", 0)} <= c.notes["terminal_before"]
    assert ("s3", 0) in c.notes["in_flight"]


# ------------------------------------------------------------------------------------------ (b) fork
SAFE_FORK = "start:total"
FORK_KILLS = [
    Kill.at("start:b0_1"),
    Kill("3 done", log=("done", "*", 3), hang=SAFE_FORK),
    Kill.at("start:b2_2", delay=0.3),  # the other branches finish and wait at the JOIN
    Kill("dynamic fork mapped", sql="SELECT 1 FROM tasks WHERE ref='dfork'", hang=SAFE_FORK),
    Kill.at("start:d2", delay=0.3),  # mid dynamic fork
    Kill.at("done:d3", delay=0.2),
    Kill.at("start:total"),
    Kill.at("done:total"),
]


@pytest.mark.parametrize("kill", FORK_KILLS, ids=lambda k: k.id)
def test_fork_join_and_dynamic_fork(tmp_path: Path, kill: Kill) -> None:
    c = crash_and_recover(tmp_path, "fork", kill)
    tasks = _tasks_of(c.after_tasks, c.root_id)
    for ref in ("fork", "join", "dfork", "djoin"):
        assert [t["status"] for t in tasks if t["ref"] == ref] == ["COMPLETED"], ref
    join = next(t for t in tasks if t["ref"] == "join")
    assert join["data"]["output"] == {"b0_2": {"v": 1}, "b1_2": {"v": 11}, "b2_2": {"v": 21}}
    djoin = next(t for t in tasks if t["ref"] == "djoin")
    assert djoin["data"]["output"] == {f"d{k}": {"v": k * 100} for k in range(4)}
    total = next(t for t in tasks if t["ref"] == "total")
    assert total["data"]["output"] == {"total": 633, "count": 7}


# ------------------------------------------------------------------------------------------ (c) retry
SAFE_RETRY = "start:z"
_RETRY_ROW = "SELECT 1 FROM tasks WHERE ref='flaky' AND retry_count={} AND status='SCHEDULED'"
RETRY_KILLS = [
    Kill.at("start:a"),
    Kill.at("start:flaky:0"),  # first attempt in flight
    Kill.at("fail:flaky:0"),  # it failed but the failure is not stored
    Kill("early in backoff 1", sql=_RETRY_ROW.format(1), delay=0.1, hang=SAFE_RETRY),
    Kill("late in backoff 1", sql=_RETRY_ROW.format(1), delay=0.7, hang=SAFE_RETRY),
    Kill.at("start:flaky:1"),  # the retry in flight
    Kill.at("start:z"),
]


@pytest.mark.parametrize("kill", RETRY_KILLS, ids=lambda k: k.id)
def test_retry_with_backoff(tmp_path: Path, kill: Kill) -> None:
    c = crash_and_recover(tmp_path, "retry", kill)
    delay = cc.RETRY_DELAY_S * 1000
    attempts = _attempts(c, "flaky")
    assert [(t["retry_count"], t["status"]) for t in attempts] == [(0, "FAILED"), (1, "COMPLETED")]
    runs = [(ev, rc, at) for ev, ref, rc, at in [*c.before_log, *c.after_log] if ref == "flaky" and ev == "start"]
    for t in attempts[1:]:
        due = t["scheduled"] + delay
        # the retry waited out its backoff: recorded start and every actual run of that attempt
        assert t["started"] >= due, (t["retry_count"], t["started"] - due)
        run_times = [at for ev, rc, at in runs if rc == t["retry_count"]]
        assert run_times and min(run_times) >= due
        # ... and only the remainder of it when it was recovered: not a fresh full delay after recovery
        for ev, ref, rc, at in c.after_log:
            if ref == "flaky" and ev == "start" and rc == t["retry_count"]:
                assert at <= max(due, c.recovery_start) + SLACK_MS, (rc, at - due, at - c.recovery_start)
    if kill.id.startswith("early in backoff"):
        retry1 = attempts[1]
        stored = [t for t in c.before_tasks if t["ref"] == "flaky" and t["retry_count"] == 1]
        assert stored and stored[0]["task_id"] == retry1["task_id"]  # the stored retry attempt is carried on
        assert c.recovery_start < retry1["scheduled"] + delay  # recovered inside the backoff
    assert attempts[0]["data"]["reason"] == "attempt 0 fails"


# ------------------------------------------------------------------------------------------ (d) WAIT
SAFE_WAIT = "start:b"
_WAIT_ROW = "SELECT 1 FROM tasks WHERE ref='pause'"
WAIT_KILLS = [
    Kill.at("start:a"),  # the WAIT is created after recovery
    Kill("wait begun", sql=_WAIT_ROW, delay=0.1, hang=SAFE_WAIT),
    Kill("wait nearly due", sql=_WAIT_ROW, delay=1.7, hang=SAFE_WAIT),
    Kill.at("start:b"),  # the WAIT completed before the kill
]


@pytest.mark.parametrize("kill", WAIT_KILLS, ids=lambda k: k.id)
def test_wait_completes_at_its_original_due_time(tmp_path: Path, kill: Kill) -> None:
    c = crash_and_recover(tmp_path, "wait", kill)
    (pause,) = _attempts(c, "pause")  # one WAIT, not a second one after recovery
    due = pause["data"]["extra"]["waitTimeout"]
    assert due == pause["started"] + cc.WAIT_S * 1000
    assert pause["status"] == "COMPLETED"
    assert pause["ended"] >= due
    assert pause["ended"] <= max(due, c.recovery_start) + SLACK_MS, (
        pause["ended"] - due,
        pause["ended"] - c.recovery_start,
    )
    before = [t for t in c.before_tasks if t["ref"] == "pause"]
    if kill.id.startswith("wait "):
        assert before and before[0]["status"] == "IN_PROGRESS" and before[0]["task_id"] == pause["task_id"]
        assert c.recovery_start < due  # recovered while the WAIT was still pending
    (b,) = _attempts(c, "b")
    assert b["started"] >= pause["ended"]


# ------------------------------------------------------------------------------------------ (e) SUB_WORKFLOW
SAFE_SUB = "start:b"
SUB_KILLS = [
    Kill.at("start:a"),  # no child yet
    Kill.at("done:a"),
    Kill.at("start:c0"),  # child just started
    Kill("3 done", log=("done", "*", 3), hang=SAFE_SUB),
    Kill.at("start:c2"),
    Kill.at("done:c2"),  # the child's last result not stored
    Kill.at("start:b"),  # the child COMPLETED before the kill
]


@pytest.mark.parametrize("kill", SUB_KILLS, ids=lambda k: k.id)
def test_sub_workflow(tmp_path: Path, kill: Kill) -> None:
    c = crash_and_recover(tmp_path, "sub", kill)
    kids = [e for e in c.after_execs.values() if e["name"] == "crash_kid"]
    assert len(kids) == 1, "exactly one child execution (none started twice by recovery)"
    kid = kids[0]
    (kid_task,) = _attempts(c, "kid", c.root_id)
    assert kid["parent_workflow_id"] == c.root_id
    assert kid["data"]["parentWorkflowTaskId"] == kid_task["task_id"]
    assert kid_task["data"]["subWorkflowId"] == kid["workflow_id"]
    assert kid_task["status"] == "COMPLETED" and kid_task["data"]["output"] == {
        "subWorkflowId": kid["workflow_id"],
        "x": 4,
    }
    assert kid["data"]["output"] == {"x": 4}
    kid_before = [e for e in c.before_execs.values() if e["name"] == "crash_kid"]
    parent_model = c.runtime.engine.executions[c.root_id]
    assert parent_model.task_by_id(kid_task["task_id"]).sub_workflow_id == kid["workflow_id"]
    if kid_before and kid_before[0]["status"] == "COMPLETED":  # ended before the kill: left as it was
        assert kill.id == "start:b" and kid["workflow_id"] not in c.runtime.engine.executions
    else:
        kid_model = c.runtime.engine.executions[kid["workflow_id"]]
        assert kid_model.parent_workflow_id == parent_model.workflow_id
        assert parent_model.task_by_id(kid_model.parent_workflow_task_id).sub_workflow_id == kid_model.workflow_id
    if kill.id in ("start:c0", "start:c2", "done:c2", "3 done"):
        assert kid_before and kid_before[0]["workflow_id"] == kid["workflow_id"]  # the stored child carried on


# ------------------------------------------------------------------------------------------ (f) DO_WHILE
SAFE_LOOP = "start:after"
LOOP_KILLS = [
    Kill.at("start:l1__1"),
    Kill.at("done:l1__1"),
    Kill.at("start:l2__2"),
    Kill("3 done", log=("done", "*", 3), hang=SAFE_LOOP),
    Kill.at("done:l2__3"),  # last iteration's result not stored
    Kill.at("start:after"),
]


@pytest.mark.parametrize("kill", LOOP_KILLS, ids=lambda k: k.id)
def test_do_while(tmp_path: Path, kill: Kill) -> None:
    c = crash_and_recover(tmp_path, "loop", kill)
    tasks = _tasks_of(c.after_tasks, c.root_id)
    (loop,) = [t for t in tasks if t["ref"] == "loop"]
    assert loop["status"] == "COMPLETED"
    out = loop["data"]["output"]
    assert out["iteration"] == cc.LOOPS
    assert {k: out[k] for k in ("1", "2", "3")} == {
        str(i): {"l1": {"y": i * 10}, "l2": {"z": i * 10 + 1}} for i in range(1, cc.LOOPS + 1)
    }
    assert [t["ref"] for t in tasks if t["status"] == "COMPLETED" and t["ref"] != "loop"] == [
        "l1__1",
        "l2__1",
        "l1__2",
        "l2__2",
        "l1__3",
        "l2__3",
        "after",
    ]


# ------------------------------------------------------------------------------------------ (g) random kills
RANDOM_KILLS = 100  # kills that landed while runs were live, over every lane
MANY_RUNS, MANY_STEPS, MANY_WORK_S = 6, 5, 0.02
_TERMINAL_SQL = (
    "SELECT e.correlation_id, t.ref, t.retry_count FROM tasks t JOIN executions e USING (workflow_id) "
    f"WHERE t.status IN ({', '.join(repr(s) for s in sorted(TERMINAL))})"
)


def _lane(tmp_path: Path, lane: int, rng: Any, kills: list[int], seed: int) -> None:
    """Fresh stores, one after another: each is run by children killed at random points until one ends by itself."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    store_n = 0
    while sum(kills) < RANDOM_KILLS:
        store_n += 1
        db, log = tmp_path / f"many{lane}_{store_n}.db", tmp_path / f"many{lane}_{store_n}.log"
        for _child in range(100):
            ready = Path(str(log) + ".ready")
            ready.unlink(missing_ok=True)
            proc = subprocess.Popen(
                [
                    sys.executable,
                    str(CHILD),
                    "many",
                    str(db),
                    str(log),
                    str(MANY_RUNS),
                    str(MANY_STEPS),
                    str(MANY_WORK_S),
                ],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            deadline = time.monotonic() + TRIGGER_TIMEOUT_S
            while not ready.exists() and proc.poll() is None:
                assert time.monotonic() < deadline, f"lane {lane}: the child never opened the store (seed {seed})"
                time.sleep(0.002)
            time.sleep(rng.uniform(0, 0.35))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            out, err = proc.communicate(timeout=60)
            if proc.returncode == 0:
                break  # ran to the end on its own
            assert proc.returncode == -signal.SIGKILL, (proc.returncode, err, seed)
            kills[lane] += 1
            terminal = {(f"{c}.{ref}", rc) for c, ref, rc in _sql_rows(db, _TERMINAL_SQL)}
            before = len(_read_log(log))
            # the next child must not run again an attempt the store already had as ended
            _check_no_rerun(db, log, terminal, before, seed)
        else:
            raise AssertionError(f"lane {lane}: 100 children and the runs never ended (seed {seed})")
        _check_many(db, log, out, seed)


def _sql_rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    if not db.exists():
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return con.execute(sql).fetchall()
    except sqlite3.OperationalError:  # killed before the schema was written
        return []
    finally:
        con.close()


_PENDING_CHECKS: dict[Path, list[tuple[set[tuple[str, int]], int, int]]] = {}


def _check_no_rerun(db: Path, log: Path, terminal: set[tuple[str, int]], offset: int, seed: int) -> None:
    _PENDING_CHECKS.setdefault(db, []).append((terminal, offset, seed))


def _check_many(db: Path, log: Path, out: str, seed: int) -> None:
    text = _read_log(log)
    for terminal, offset, seed_ in _PENDING_CHECKS.pop(db, []):
        again = {(ref, rc) for ev, ref, rc, _ in _parse_log(text[offset:]) if ev == "start"} & terminal
        assert not again, f"ended in the store before a kill, yet ran again: {sorted(again)} (seed {seed_})"
    assert set(json.loads(out).values()) <= {"COMPLETED"}, out  # {}: a killed child had finished them all
    execs = _sql_rows(db, "SELECT correlation_id, status, data FROM executions ORDER BY correlation_id")
    assert [(c, s) for c, s, _ in execs] == [(f"w{n}", "COMPLETED") for n in range(MANY_RUNS)], (execs, seed)
    assert all(json.loads(d)["output"] == {"x": MANY_STEPS} for _c, _s, d in execs)
    completed = _sql_rows(
        db,
        "SELECT e.correlation_id, t.ref, count(*) FROM tasks t JOIN executions e "
        "USING (workflow_id) WHERE t.status='COMPLETED' GROUP BY 1, 2",
    )
    assert len(completed) == MANY_RUNS * MANY_STEPS and {n for *_k, n in completed} == {1}, (completed, seed)
    done = Counter(ref for ev, ref, _rc, _ in _parse_log(text) if ev == "done")
    assert set(done) == {f"w{n}.s{i}" for n in range(MANY_RUNS) for i in range(MANY_STEPS)}, seed


def test_kill_nine_at_a_hundred_random_points_across_concurrent_runs(tmp_path: Path) -> None:
    """Six chains run at once on the threads executor; children are SIGKILLed at random moments and the
    next child recovers: every run ends COMPLETED with its output, each task has one COMPLETED attempt,
    and nothing the store had as ended before a kill ever ran again."""
    import random
    import threading

    seed = int(os.environ.get("FLOWKIT_KILL_SEED") or time.time_ns() % 1_000_000)
    lanes = 4
    kills = [0] * lanes
    errors: list[BaseException] = []

    def lane(n: int) -> None:
        try:
            _lane(tmp_path, n, random.Random(seed * 10 + n), kills, seed)
        except BaseException as exc:  # reported below with the seed
            errors.append(exc)
            kills[n] = RANDOM_KILLS  # stop the other lanes

    threads = [threading.Thread(target=lane, args=(n,)) for n in range(lanes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    assert sum(kills) >= RANDOM_KILLS, (kills, seed)
